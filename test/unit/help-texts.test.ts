/**
 * The sidebar help follows core's form and length (http request's is 85 lines): what a user needs
 * while wiring the node, in <dl class="message-properties"> form, and the names of the package's
 * guides for the rest. (That every language documents the same is checked in i18n-keys.test.ts.)
 */
import fs from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const localesDir = path.join(root, 'locales');
const pages = fs
  .readdirSync(localesDir)
  .flatMap((lang) => fs.readdirSync(path.join(localesDir, lang)).filter((f) => f.endsWith('.html')).map((file) => [lang, file] as const));

describe('help texts', () => {
  it.each(pages)('%s/%s is about as long as core\'s, in message-properties form', (lang, file) => {
    const html = fs.readFileSync(path.join(localesDir, lang, file), 'utf8');
    expect(html.split('\n').length).toBeLessThanOrEqual(100);
    expect(html).toContain('<dl class="message-properties">');
    // The first paragraph is the palette tooltip: one sentence, no markup.
    expect(html).toMatch(/data-help-name="[\w-]+">\s*<p>[^<]+<\/p>/);
  });

  it.each(pages.filter(([, file]) => file === 'email-task.html'))('%s/%s has Inputs, both outputs as node ports, Details and References', (lang, file) => {
    const html = fs.readFileSync(path.join(localesDir, lang, file), 'utf8');
    expect((html.match(/<h3>/g) ?? []).length).toBe(4);
    expect(html).toMatch(/<ol class="node-ports">\s*<li>[\s\S]*<\/li>\s*<li>[\s\S]*<\/li>\s*<\/ol>/);
  });

  it.each(pages)('%s/%s names only guides the package ships', (lang, file) => {
    const html = fs.readFileSync(path.join(localesDir, lang, file), 'utf8');
    const guides = [...html.matchAll(/docs\/([\w.-]+\.md)/g)].map((m) => m[1]);
    expect(guides.length).toBeGreaterThan(0);
    expect(guides.filter((g) => !fs.existsSync(path.join(root, 'docs', g)))).toEqual([]);
  });
});
