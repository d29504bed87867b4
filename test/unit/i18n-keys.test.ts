/** Every message key the runtime code uses exists in the en-US catalogues (a raw key is a bug users see). */
import fs from 'node:fs';
import path from 'node:path';
import { CATEGORIES } from '../../nodes/lib/errors';

const root = path.join(__dirname, '..', '..');
const catalogue = (node: string): Record<string, unknown> =>
  (JSON.parse(fs.readFileSync(path.join(root, 'locales', 'en-US', `${node}.json`), 'utf8')) as Record<string, Record<string, unknown>>)[node];

function sources(dir: string): string {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .map((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? fs.readFileSync(path.join(dir, e.name), 'utf8') : ''))
    .join('\n');
}

function matches(text: string, pattern: RegExp): string[] {
  return [...text.matchAll(pattern)].flatMap((m) => m.slice(1).filter((g): g is string => Boolean(g)));
}

function has(tree: Record<string, unknown>, dotted: string): boolean {
  let node: unknown = tree;
  for (const part of dotted.split('.')) {
    if (typeof node !== 'object' || node === null || !(part in node)) return false;
    node = (node as Record<string, unknown>)[part];
  }
  return typeof node === 'string';
}

const code = sources(path.join(root, 'nodes'));
const emailTask = catalogue('email-task');
const connection = catalogue('office365-mail-connection');

describe('i18n keys used by the runtime', () => {
  const used = {
    errors: matches(code, /messageKey: '([\w-]+)'/g).concat(matches(code, /validationError\(\s*'[^']+',\s*'([\w-]+)'/g)),
    hints: matches(code, /hintKey: '([\w-]+)'/g)
      .concat(matches(code, /hintKey = '([\w-]+)'/g))
      .concat(matches(code, /validationError\([^;]*?\}\s*,\s*'([\w-]+)'\)/g))
      .concat(matches(code, /withHint\([^)]*'([\w-]+)'\)/g))
      // noteKey: cond ? 'a' : 'b' (the keys are the ternary's results, not what it compares with)
      .concat(matches(code, /noteKey: ([^,}\n]*)/g).flatMap((expr) => matches(expr, /[?:]\s*'([\w-]+)'/g))),
    // statusText renders in the runtime (StatusTexts.counted through a cache); statusKey sends the key for the editor to render.
    status: matches(code, /statusText\(RED\._, ([^)]*)\)/g)
      .concat(matches(code, /\.counted\(([^)]*)\)/g))
      .concat(matches(code, /statusKey\(([^)]*)\)/g))
      .flatMap((args) => matches(args, /'([\w-]+)'/g)),
    category: [...CATEGORIES],
  };

  it('finds the keys it checks (the patterns still match the code)', () => {
    expect(used.errors.length).toBeGreaterThan(20);
    expect(used.hints.length).toBeGreaterThan(30);
    expect(used.status).toEqual(expect.arrayContaining(['sending', 'sent', 'noConnection', 'connectionInvalid', 'throttled', 'retrying']));
    expect(used.hints).toEqual(expect.arrayContaining(['retriesExhausted', 'waitBudgetExceeded']));
  });

  it.each(Object.keys(used) as Array<keyof typeof used>)('email-task.%s.* exist', (section) => {
    const missing = [...new Set(used[section])].filter((key) => !has(emailTask, `${section}.${key}`));
    expect(missing).toEqual([]);
  });

  it('the email in node\'s own keys and its reading hints exist', () => {
    const glue = fs.readFileSync(path.join(root, 'nodes', 'office365-mail-in.ts'), 'utf8');
    const mailIn = catalogue('office365-mail-in');
    const own = matches(glue, /\bt\('([\w.-]+)'/g).concat(matches(glue, /'(status\.[\w-]+)' : '(status\.[\w-]+)'/g));
    expect(own.length).toBeGreaterThan(8);
    expect([...new Set(own)].filter((k) => !has(mailIn, k))).toEqual([]);
    const lib = fs.readFileSync(path.join(root, 'nodes', 'lib', 'mail-in.ts'), 'utf8');
    const table = lib.slice(lib.indexOf('const READ_HINTS'));
    const readHints = matches(table.slice(0, table.indexOf('};')), /: '([\w-]+)',/g);
    expect(readHints).toContain('readAccessDenied');
    expect([...new Set(readHints)].filter((k) => !has(emailTask, `hints.${k}`))).toEqual([]);
    expect(has(emailTask, 'errors.graphRefusedRead')).toBe(true);
  });

  it('connection deploy problems and the fields they name exist', () => {
    const settings = fs.readFileSync(path.join(root, 'nodes', 'lib', 'settings.ts'), 'utf8');
    const keys = matches(settings, /key: '([\w-]+)'/g);
    const fields = matches(settings, /field: '([\w-]+)'/g);
    expect(keys.length).toBeGreaterThan(5);
    expect([...new Set(keys)].filter((k) => !has(connection, `deploy.${k}`))).toEqual([]);
    expect([...new Set(fields)].filter((f) => !has(connection, `label.${f}`))).toEqual([]);
  });
});

/** The editor files: every key their markup and scripts ask for exists in en-US. */
describe('i18n keys used by the editor', () => {
  const editors: Array<[file: string, catalogueName: string, top: string]> = [
    ['office365-mail-connection.html', 'office365-mail-connection', 'office365-mail-connection'],
    ['email-task.html', 'email-task', 'email-task'],
    ['office365-mail-in.html', 'office365-mail-in', 'office365-mail-in'],
    ['office365-mail-usage.html', 'office365-mail-usage', 'usage'],
  ];

  it.each(editors)('%s', (file, catalogueName, top) => {
    const html = fs.readFileSync(path.join(root, 'nodes', file), 'utf8');
    const tree = JSON.parse(fs.readFileSync(path.join(root, 'locales', 'en-US', `${catalogueName}.json`), 'utf8')) as Record<string, unknown>;
    const keys = [
      ...matches(html, /data-i18n="(?:\[[a-z]+\])?([\w.-]+)"/g),
      // msg("x") and t("x") prefix the node's (or the sidebar's) top-level key; this._ / node._ use full keys.
      ...matches(html, /\bmsg\("([\w.-]+)"/g).filter((k) => !k.endsWith(".")).map((k) => `${top}.${k}`),
      ...matches(html, /\bt\("([\w.-]+)"/g).map((k) => `${top}.${k}`),
      ...matches(html, /(?:this|node)\._\("([\w.-]+)"/g),
      ...matches(html, /msg\("label\." \+ name\)/g).length ? ['to', 'cc', 'bcc', 'replyTo', 'subject', 'body', 'attachments'].map((p) => `${top}.label.${p}`) : [],
    ];
    expect(keys.length).toBeGreaterThan(5);
    expect([...new Set(keys)].filter((k) => !has(tree, k))).toEqual([]);
  });
});

/** Every language has every key and every help page the others have. */
describe('translations are complete', () => {
  const localesDir = path.join(root, 'locales');
  const languages = fs.readdirSync(localesDir).sort();
  const files = [...new Set(languages.flatMap((lang) => fs.readdirSync(path.join(localesDir, lang))))].sort();

  function leaves(tree: unknown, prefix = ''): string[] {
    if (typeof tree === 'string') return [prefix];
    if (typeof tree !== 'object' || tree === null) return [`${prefix} (not text)`];
    return Object.entries(tree).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
  }

  /** __name__ placeholders of one message: a translation keeps them all. */
  function placeholders(tree: unknown, dotted: string): string[] {
    let node: unknown = tree;
    for (const part of dotted.split('.')) node = (node as Record<string, unknown>)[part];
    return matches(String(node), /__(\w+)__/g).sort();
  }

  /** The shape of a help page: which nodes it documents and the property names and sections it lists. */
  function helpShape(html: string): Record<string, unknown> {
    return {
      nodes: matches(html, /data-help-name="([\w-]+)"/g),
      sections: (html.match(/<h3>/g) ?? []).length,
      subsections: (html.match(/<h4>/g) ?? []).length,
      properties: (html.match(/<dt[ >]/g) ?? []).length,
      ports: (html.match(/class="node-ports"/g) ?? []).length,
      links: matches(html, /href="([^"]+)"/g),
    };
  }

  it('has the languages the package promises', () => {
    expect(languages).toEqual(['de', 'en-US', 'ja']);
  });

  it.each(languages)('%s has every catalogue and help file', (lang) => {
    expect(fs.readdirSync(path.join(localesDir, lang)).sort()).toEqual(files);
  });

  const jsonFiles = files.filter((f) => f.endsWith('.json'));
  const pairs = languages.filter((l) => l !== 'en-US').flatMap((lang) => jsonFiles.map((file) => [lang, file] as const));

  it.each(pairs)('%s/%s has exactly the keys of en-US, with the same placeholders', (lang, file) => {
    const read = (l: string): unknown => JSON.parse(fs.readFileSync(path.join(localesDir, l, file), 'utf8'));
    const en = read('en-US');
    const other = read(lang);
    expect(leaves(other).sort()).toEqual(leaves(en).sort());
    const differing = leaves(en).filter((k) => JSON.stringify(placeholders(en, k)) !== JSON.stringify(placeholders(other, k)));
    expect(differing).toEqual([]);
  });

  const helpPairs = languages
    .filter((l) => l !== 'en-US')
    .flatMap((lang) => files.filter((f) => f.endsWith('.html')).map((file) => [lang, file] as const));

  it.each(helpPairs)('%s/%s documents what en-US documents', (lang, file) => {
    const read = (l: string): string => fs.readFileSync(path.join(localesDir, l, file), 'utf8');
    expect(helpShape(read(lang))).toEqual(helpShape(read('en-US')));
  });
});
