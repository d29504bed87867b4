/** The README is what palette users read on the Flow Library page: short, and every link it and the guides hold leads somewhere. */
import fs from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const docsDir = path.join(root, 'docs');
const pages = ['README.md', 'CONTRIBUTING.md', 'CHANGELOG.md', path.join('bench', 'README.md'), ...fs.readdirSync(docsDir).filter((f) => f.endsWith('.md')).map((f) => path.join('docs', f))];

/** Targets of Markdown links that point into the repository (no scheme, no bare anchor). */
function localLinks(markdown: string): string[] {
  return [...markdown.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((target) => !/^[a-z]+:/i.test(target) && !target.startsWith('#'));
}

describe('documentation', () => {
  it('keeps the README under 200 lines', () => {
    expect(fs.readFileSync(path.join(root, 'README.md'), 'utf8').split('\n').length).toBeLessThan(200);
  });

  it('links every guide in docs/ from the README', () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const linked = new Set(localLinks(readme));
    const guides = fs.readdirSync(docsDir).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
    expect(guides.filter((guide) => !linked.has(guide))).toEqual([]);
  });

  it.each(pages)('%s links only to files that exist', (page) => {
    const text = fs.readFileSync(path.join(root, page), 'utf8');
    const missing = localLinks(text).filter((target) => !fs.existsSync(path.join(root, path.dirname(page), target.split('#')[0])));
    expect(missing).toEqual([]);
  });
});
