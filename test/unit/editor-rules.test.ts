/**
 * The editor's shared code (resources/editor.js) under Node: its pure rules, and the dialogs'
 * validators as registered by the real .html scripts run against a tiny fake RED and jQuery.
 * Every row of the shared table of cases goes through the dialog and through the runtime's
 * readers, so the two cannot drift apart unnoticed.
 */
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { isConnectionKey, readConnectionSettings } from '../../nodes/lib/settings';
import { senderOf } from '../../nodes/lib/route';
import { parseRecipients } from '../../nodes/lib/recipients';
import { MAIL_IN_DEFAULTS, readMailInSettings } from '../../nodes/lib/mail-in';
import registerConnection from '../../nodes/office365-mail-connection';
import { noEnv, validConnection } from '../support/connection-config';
import { connectionCases, connectionKeyCases, recipientCases, senderCases } from '../support/validation-cases';

const root = path.join(__dirname, '..', '..');
const EDITOR_JS = path.join(root, 'resources', 'editor.js');

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the browser file, as CommonJS
const shared = require(EDITOR_JS) as {
  CREDENTIALS: string[];
  STORED_CREDENTIAL: string;
  text: (v: unknown) => string;
  isEnv: (v: unknown) => boolean;
  splitAddressList: (s: string) => string[];
  messages: (set: string, top: string, translate: Translate) => (key: string, args?: object) => string;
};

type Translate = (key: string, args?: object) => string;
type Validate = (this: Record<string, unknown>, value: unknown) => true | string;
interface Definition {
  defaults: Record<string, { value: unknown; validate?: Validate }>;
  credentials?: Record<string, { type: string }>;
}

/** A translation that shows its arguments, so a message carrying a value would be seen. */
const echo: Translate = (key, args) => (args ? `${key} ${JSON.stringify(args)}` : key);

/**
 * Runs editor.js and the inline scripts of the given .html files as the editor does (editor.js
 * first, then the inline scripts), with `window` the global object, and returns what they registered.
 */
function loadEditor(files: string[], configs: Array<Record<string, unknown>> = []): { types: Record<string, Definition>; plugins: string[] } {
  const types: Record<string, Definition> = {};
  const plugins: string[] = [];
  const RED = {
    _: echo,
    nodes: {
      registerType: (type: string, def: Definition) => (types[type] = def),
      eachConfig: (fn: (n: Record<string, unknown>) => boolean | void) => {
        for (const n of configs) if (fn(n) === false) break;
      },
      node: (id: unknown) => configs.find((n) => n.id === id) ?? null,
    },
    plugins: { registerPlugin: (name: string) => plugins.push(name) },
    validators: { typedInput: () => () => true },
  };
  // No dialog is open: jQuery finds nothing, so validators read the saved values.
  const $ = (): { length: number } => ({ length: 0 });
  const context = vm.createContext({ RED, $, URL });
  context.window = context;
  vm.runInContext(fs.readFileSync(EDITOR_JS, 'utf8'), context, { filename: EDITOR_JS });
  for (const file of files) {
    // The built file, as Node-RED serves it: the build writes lib's task defaults into it.
    const html = fs.readFileSync(path.join(root, 'dist', 'nodes', file), 'utf8');
    expect(html).toContain('<script type="text/javascript" src="resources/node-red-contrib-office365-mail/editor.js"></script>');
    expect(html).toContain('<link rel="stylesheet" href="resources/node-red-contrib-office365-mail/editor.css">');
    for (const [, script] of html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)) {
      vm.runInContext(script, context, { filename: file });
    }
  }
  return { types, plugins };
}

describe('resources/editor.js', () => {
  it('loads as a browser script once, however many node sets name it', () => {
    const context = vm.createContext({ URL });
    context.window = context;
    const source = fs.readFileSync(EDITOR_JS, 'utf8');
    vm.runInContext(source, context);
    const first = context.office365Mail as object;
    vm.runInContext(source, context);
    expect(context.office365Mail).toBe(first);
  });

  it('trims, and knows a ${NAME} reference', () => {
    expect(shared.text(undefined)).toBe('');
    expect(shared.text(' 5 ')).toBe('5');
    expect(shared.isEnv(' ${MAIL_SENDER} ')).toBe(true);
    expect(shared.isEnv('${1BAD}')).toBe(false);
    expect(shared.isEnv('x${A}')).toBe(false);
  });

  it('splits recipients as the runtime does: not inside quotes, brackets or comments', () => {
    expect(shared.splitAddressList('"Bob, Jr." <bob@example.com>; ada@example.com,, (a, b) c@example.com')).toEqual([
      '"Bob, Jr." <bob@example.com>',
      'ada@example.com',
      '(a, b) c@example.com',
    ]);
  });

  it('looks messages up in the node set\'s catalogue by full key', () => {
    const msg = shared.messages('email-task', 'email-task', echo);
    expect(msg('validation.address')).toBe('node-red-contrib-office365-mail/email-task:email-task.validation.address');
  });

  it('declares the connection\'s credentials as the runtime registers them, all password type', () => {
    const runtimeCredentials: Record<string, unknown>[] = [];
    const RED = {
      _: (k: string) => k,
      nodes: { registerType: (_type: string, _ctor: unknown, opts: { credentials: Record<string, unknown> }) => runtimeCredentials.push(opts.credentials) },
      httpAdmin: { get: () => undefined, post: () => undefined },
      auth: { needsPermission: () => () => undefined },
      comms: { publish: () => undefined },
      settings: {},
    };
    (registerConnection as unknown as (red: unknown) => void)(RED);
    const { types } = loadEditor(['office365-mail-connection.html']);
    const editorCredentials = types['office365-mail-connection'].credentials ?? {};
    expect(Object.keys(editorCredentials)).toEqual(shared.CREDENTIALS);
    // The editor adds validators (an empty required secret is marked); the types are the runtime's.
    const editorTypes = Object.fromEntries(Object.entries(editorCredentials).map(([name, c]) => [name, { type: c.type }]));
    expect(editorTypes).toEqual(runtimeCredentials[0]);
    const required = Object.entries(editorCredentials).filter(([, c]) => typeof (c as { validate?: unknown }).validate === 'function').map(([name]) => name);
    expect(required).toEqual(['clientSecret', 'certificate', 'certificatePrivateKey']);
    expect(Object.values(editorCredentials).every((c) => c.type === 'password')).toBe(true);
    // Node-RED's placeholder for a stored password, which the Test connection endpoint knows too.
    expect(shared.STORED_CREDENTIAL).toBe('__PWRD__');
  });

  it('registers both dialogs and the Usage Data sidebar from the real .html files', () => {
    const { types, plugins } = loadEditor(['office365-mail-connection.html', 'email-task.html', 'office365-mail-usage.html']);
    expect(Object.keys(types).sort()).toEqual(['email-task', 'office365-mail-connection']);
    expect(plugins).toEqual(['office365-mail-usage']);
  });

  it('gives every validator two parameters, or Node-RED takes its message for "valid"', () => {
    // Node-RED's validateNodeProperty uses a returned string as the message only when
    // validate.length === 2; from any other function a string is truthy, so the field passes.
    const { types } = loadEditor(['office365-mail-connection.html', 'email-task.html']);
    const oneParameter = Object.entries(types).flatMap(([type, def]) =>
      Object.entries(def.defaults)
        .filter(([, d]) => d.validate && d.validate.length !== 2)
        .map(([field]) => `${type}.${field}`),
    );
    expect(oneParameter).toEqual([]);
  });
});

describe('the dialogs agree with the runtime on the shared table of cases', () => {
  const { types } = loadEditor(['office365-mail-connection.html', 'email-task.html']);
  const connection = types['office365-mail-connection'];
  const task = types['email-task'];

  function editorVerdict(def: Definition, field: string, value: string, node: Record<string, unknown>): true | string {
    const validate = def.defaults[field].validate;
    if (!validate) throw new Error(`${field} has no validator`);
    return validate.call(node, value);
  }

  const connectionRows = connectionCases.map((c) => [c.field, c.value, c] as const);
  it.each(connectionRows)('connection %s = %j', (field, value, c) => {
    const { problems } = readConnectionSettings({ ...validConnection, [field]: value }, { clientSecret: 's' }, noEnv);
    expect(problems.filter((p) => p.field === field)).toHaveLength(c.valid ? 0 : 1);

    const verdict = editorVerdict(connection, field, value, { id: 'n1', ...validConnection });
    expect(verdict === true).toBe(c.valid && !c.editorRefuses);
    // The message names the problem, never the value (Node-RED may render it as HTML).
    if (verdict !== true && value !== '') expect(verdict).not.toContain(value);
  });

  const recipientRows = recipientCases.map((c) => [c.field, c.value, c] as const);
  it.each(recipientRows)('email task %s = %j', (field, value, c) => {
    let runtimeValid = true;
    try {
      parseRecipients(value, field);
    } catch {
      runtimeValid = false;
    }
    expect(runtimeValid).toBe(c.valid);

    const verdict = editorVerdict(task, field, value, { [`${field}Type`]: 'str' });
    expect(verdict === true).toBe(c.valid && !c.editorRefuses);
    if (verdict !== true) expect(verdict).not.toContain(value);
  });

  it.each(senderCases.map((c) => [c.field, c.value, c] as const))('email task %s = %j', (field, value, c) => {
    // The runtime's reading of From: one address by the recipients' parser, in the connection's list.
    let runtimeValid = true;
    try {
      senderOf({ senderEmail: 'alerts@contoso.com', allowedMailboxes: ['orders@contoso.com'] }, value);
    } catch {
      runtimeValid = false;
    }
    expect(runtimeValid).toBe(c.valid);
    const verdict = editorVerdict(task, field, value, { fromType: 'str' });
    expect(verdict === true).toBe(c.valid && !c.editorRefuses);
    if (verdict !== true) expect(verdict).not.toContain(value);
  });

  it.each(connectionKeyCases.map((c) => [c.field, c.value, c] as const))('email task %s = %j', (field, value, c) => {
    expect(isConnectionKey(value)).toBe(c.valid);
    const verdict = editorVerdict(task, field, value, { connectionKeyType: 'str', authType: 'connectionKey' });
    expect(verdict === true).toBe(c.valid && !c.editorRefuses);
    if (verdict !== true && value !== '') expect(verdict).not.toContain(value);
  });

  it('asks for a connection only when the task does not choose it by Key', () => {
    expect(editorVerdict(task, 'connection', '', { authType: 'connection' })).not.toBe(true);
    expect(editorVerdict(task, 'connection', '', { authType: 'connectionKey' })).toBe(true);
    expect(editorVerdict(task, 'action', 'forward', {})).toBe(true);
    expect(editorVerdict(task, 'action', 'delete', {})).not.toBe(true);
  });

  it('leaves ${NAME} references, templates and other types to the runtime', () => {
    expect(editorVerdict(connection, 'senderEmail', '${MAIL_SENDER}', {})).toBe(true);
    expect(editorVerdict(connection, 'allowedRecipientDomains', '${DOMAINS}', {})).toBe(true);
    expect(editorVerdict(task, 'to', '${MAIL_TO}', { toType: 'str' })).toBe(true);
    expect(editorVerdict(task, 'to', '{{payload.to}}', { toType: 'str' })).toBe(true);
    expect(editorVerdict(task, 'to', 'payload.to', { toType: 'msg' })).toBe(true);
  });

  it('names a clashing key only as "in use", never the other connection', () => {
    const other = { type: 'office365-mail-connection', id: 'n2', key: 'Clash', name: '<img src=x onerror=alert(1)>' };
    const { types: withOther } = loadEditor(['office365-mail-connection.html'], [other]);
    const verdict = editorVerdict(withOther['office365-mail-connection'], 'key', 'clash', { id: 'n1' });
    expect(verdict).toBe('node-red-contrib-office365-mail/office365-mail-connection:office365-mail-connection.validation.keyInUse');
  });
});

/**
 * Node-RED's own check of one property (validateNodeProperty in @node-red/editor-client): a
 * ${NAME} passes, `required` refuses exactly "", then the validator decides. A property missing
 * from a hand-written or imported flow reaches it as undefined.
 */
function nodeRedVerdict(def: Definition, field: string, value: unknown, node: Record<string, unknown>): true | string {
  const property = def.defaults[field] as { value: unknown; required?: boolean; validate?: Validate };
  if (typeof value === 'string' && /^\$\{[a-zA-Z_][a-zA-Z0-9_]*\}$/.test(value)) return true;
  if (property.required && value === '') return 'missing';
  if (property.required === false && value === '') return true;
  return property.validate ? property.validate.call(node, value) : true;
}

describe('a connection without the settings the runtime defaults (hand-written or imported flow JSON)', () => {
  const { types } = loadEditor(['office365-mail-connection.html']);
  const connection = types['office365-mail-connection'];
  const without = (field: string): Record<string, unknown> => Object.fromEntries(Object.entries(validConnection).filter(([k]) => k !== field));
  // Every property the runtime reads without a problem when it is missing: it has a default.
  const defaulted = Object.keys(connection.defaults).filter((field) =>
    readConnectionSettings(without(field), { clientSecret: 's' }, noEnv).problems.every((p) => p.field !== field),
  );

  it('covers every number of the Limits tab', () => {
    expect(defaulted).toEqual(expect.arrayContaining(['queueSize', 'maxRecipients', 'maxMailsPerMinute', 'maxRecipientsPerDay']));
  });

  it.each(defaulted)('%s: missing, or emptied in the dialog, is valid as the runtime takes it', (field) => {
    const node = { id: 'n1', ...without(field) };
    expect(nodeRedVerdict(connection, field, undefined, node)).toBe(true);
    expect(nodeRedVerdict(connection, field, '', node)).toBe(true);
  });

  it('still refuses a queue size the runtime refuses', () => {
    const node = { id: 'n1', ...validConnection };
    expect(nodeRedVerdict(connection, 'queueSize', '0', node)).not.toBe(true);
    expect(nodeRedVerdict(connection, 'queueSize', 'many', node)).not.toBe(true);
    expect(nodeRedVerdict(connection, 'queueSize', 1000, node)).toBe(true);
  });
});

describe('the email in dialog agrees with the runtime', () => {
  // The connection as the editor holds it (allowedMailboxes as typed) and as the runtime reads it.
  const { types } = loadEditor(['office365-mail-in.html'], [{ id: 'c1', type: 'office365-mail-connection', senderEmail: 'Alerts@contoso.com', allowedMailboxes: 'orders@contoso.com' }]);
  const def = types['office365-mail-in'];
  const connection = { senderEmail: 'alerts@contoso.com', allowedMailboxes: ['orders@contoso.com'] };

  it('registers with lib\'s defaults, and every validator has two parameters', () => {
    const defaults = Object.fromEntries(Object.entries(def.defaults).map(([k, d]) => [k, d.value]));
    expect(defaults).toMatchObject(MAIL_IN_DEFAULTS);
    expect(Object.entries(def.defaults).filter(([, d]) => d.validate && d.validate.length !== 2).map(([k]) => k)).toEqual([]);
  });

  const rows: Array<[string, string, boolean, Record<string, unknown>?]> = [
    ['mailbox', '', true],
    ['mailbox', 'orders@contoso.com', true],
    ['mailbox', 'not an address', false],
    ['mailbox', 'ORDERS@contoso.com', true, { connection: 'c1' }],
    ['mailbox', 'alerts@contoso.com', true, { connection: 'c1' }],
    ['mailbox', 'ceo@contoso.com', false, { connection: 'c1' }],
    ['pollInterval', '10', true],
    ['pollInterval', '9', false],
    ['pollInterval', 'soon', false],
    ['maxAttachmentSize', '0', true],
    ['maxAttachmentSize', '150', true],
    ['maxAttachmentSize', '151', false],
    ['afterRead', 'delete', true],
    ['afterRead', 'archive', false],
    ['attachments', 'metadata', true],
    ['attachments', 'all', false],
    ['start', 'all', true],
    ['start', 'old', false],
    ['moveTo', '', false, { afterRead: 'move' }],
    ['moveTo', 'Inbox/Done', true, { afterRead: 'move' }],
    ['moveTo', '', true, { afterRead: 'markRead' }],
  ];
  it.each(rows)('%s = %j', (field, value, valid, node = {}) => {
    const verdict = (def.defaults[field].validate as Validate).call(node, value);
    expect(verdict === true).toBe(valid);
    if (verdict !== true && value !== '') expect(verdict).not.toContain(value);
    // The runtime judges the same (a mailbox: on the connection whose allowed list has orders@).
    let runtime = true;
    try {
      readMailInSettings({ ...node, [field]: value }, connection);
    } catch {
      runtime = false;
    }
    expect(runtime).toBe(valid);
  });
});
