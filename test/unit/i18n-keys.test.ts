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
    status: matches(code, /statusText\(RED\._, ([^)]*)\)/g).flatMap((args) => matches(args, /'([\w-]+)'/g)),
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

  it('connection deploy problems and the fields they name exist', () => {
    const settings = fs.readFileSync(path.join(root, 'nodes', 'lib', 'settings.ts'), 'utf8');
    const keys = matches(settings, /key: '([\w-]+)'/g);
    const fields = matches(settings, /field: '([\w-]+)'/g);
    expect(keys.length).toBeGreaterThan(5);
    expect([...new Set(keys)].filter((k) => !has(connection, `deploy.${k}`))).toEqual([]);
    expect([...new Set(fields)].filter((f) => !has(connection, `label.${f}`))).toEqual([]);
  });
});
