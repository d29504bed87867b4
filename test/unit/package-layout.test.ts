/** Node-RED only finds a node's .html, locales/ and icons/ beside its .js: check the build put them there. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { EMAIL_TASK_DEFAULTS } from '../../nodes/lib/settings';

const root = path.join(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  name: string;
  files: string[];
  keywords: string[];
  'node-red': { version: string; nodes: Record<string, string>; plugins?: Record<string, string> };
};

describe('package layout', () => {
  const nodes = Object.entries(pkg['node-red'].nodes);

  it('declares the three nodes', () => {
    expect(pkg['node-red'].nodes).toEqual({
      'office365-mail-connection': 'dist/nodes/office365-mail-connection.js',
      'email-task': 'dist/nodes/email-task.js',
      'office365-mail-in': 'dist/nodes/office365-mail-in.js',
    });
    expect(pkg.keywords).toContain('node-red');
    expect(pkg.files).toEqual(expect.arrayContaining(['dist/', 'resources/', 'examples/', 'docs/', 'README.md', 'LICENSE', 'CHANGELOG.md']));
  });

  // Node-RED serves a module's top-level resources/ folder to the editor. A script an .html names
  // there that is missing stalls the editor's loading, so each one must exist and be packed.
  it.each(fs.readdirSync(path.join(root, 'nodes')).filter((f) => f.endsWith('.html')))('%s loads the shared editor code and CSS from resources/', (file) => {
    const html = fs.readFileSync(path.join(root, 'nodes', file), 'utf8');
    const prefix = `resources/${pkg.name}/`;
    const used = [...html.matchAll(/(?:src|href)="(resources\/[^"]+)"/g)].map((m) => m[1]);
    expect(used.sort()).toEqual([`${prefix}editor.css`, `${prefix}editor.js`]);
    for (const url of used) expect(fs.existsSync(path.join(root, 'resources', url.slice(prefix.length)))).toBe(true);
    // The rows take their widths from editor.css, not one style attribute per label.
    expect(html).not.toMatch(/<label[^>]*style="width/);
    expect(html).not.toMatch(/<style>/);
  });

  it('packs resources/ with the editor code', () => {
    const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' })) as Array<{ files: Array<{ path: string }> }>;
    const files = packed.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['resources/editor.js', 'resources/editor.css']));
  });

  it.each(nodes)('%s has its .js, .html, locales and icon side by side in dist', (name, file) => {
    const js = path.join(root, file);
    const dir = path.dirname(js);
    const base = path.basename(js, '.js');
    expect(base).toBe(name);
    expect(fs.existsSync(js)).toBe(true);
    const html = fs.readFileSync(path.join(dir, `${base}.html`), 'utf8');
    expect(html).toContain(`data-template-name="${name}"`);
    for (const lang of fs.readdirSync(path.join(dir, 'locales'))) {
      expect(fs.existsSync(path.join(dir, 'locales', lang, `${base}.json`))).toBe(true);
      expect(fs.existsSync(path.join(dir, 'locales', lang, `${base}.html`))).toBe(true);
    }
    for (const [, icon] of html.matchAll(/icon:\s*["']([^"']+)["']/g)) {
      expect(fs.existsSync(path.join(dir, 'icons', icon))).toBe(true);
    }
  });

  it("the email task's editor defaults are lib's EMAIL_TASK_DEFAULTS, written in by the build", () => {
    const html = fs.readFileSync(path.join(root, 'dist', 'nodes', 'email-task.html'), 'utf8');
    const written = /defaults: \(function\(d\) \{[^]*?\}\)\((\{[^\n]*\})\),\n/.exec(html);
    expect(written).not.toBeNull();
    expect(JSON.parse(written![1])).toEqual(EMAIL_TASK_DEFAULTS);
    // Every property the dialog saves reads its value from them (name and connection start empty).
    const properties = [...html.matchAll(/^ {16}(\w+): (?:typed\("\w+", d\.(\w+)|\{ value: (d\.(\w+)|""))/gm)];
    for (const [, name, typedFrom, value, valueFrom] of properties) {
      if (value === '""') expect(['name', 'connection']).toContain(name);
      else expect(typedFrom ?? valueFrom).toBe(name);
    }
    expect(properties.map((p) => p[1]).sort()).toEqual(['connection', 'name', ...Object.keys(EMAIL_TASK_DEFAULTS)].sort());
  });

  it.each(Object.entries(pkg['node-red'].plugins ?? {}))('plugin %s: the file package.json names is in dist, with its locales', (name, file) => {
    const dir = path.dirname(path.join(root, file));
    const base = path.basename(file, path.extname(file));
    expect(base).toBe(name);
    expect(fs.existsSync(path.join(root, file))).toBe(true);
    const html = fs.readFileSync(path.join(dir, `${base}.html`), 'utf8');
    expect(html).toContain(`RED.plugins.registerPlugin("${name}"`);
    for (const lang of fs.readdirSync(path.join(dir, 'locales'))) {
      expect(fs.existsSync(path.join(dir, 'locales', lang, `${base}.json`))).toBe(true);
    }
  });
});
