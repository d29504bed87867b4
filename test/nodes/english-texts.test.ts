/**
 * What users read, in English. The other node tests see i18n keys (the test helper's `RED._` returns
 * the key unchanged), so a key missing from the catalogue or a misspelt placeholder would pass them.
 * Here the nodes are loaded with a runtime that renders locales/en-US as Node-RED does, and every
 * text that reaches a status, msg.error, the log, the usage data or Test connection is checked.
 */
import type { Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { english, withEnglish } from '../support/english';
import path from 'node:path';
import type { Node } from 'node-red';
import { catchNode, connectionConfig, connectionNode, emailTaskNode, helper, logText, mailFlow, send, useSandboxAndRuntime, useTempUserDir, watchOutputs, type Outputs } from '../support/node-red';

const currentSandbox = useSandboxAndRuntime();
let sandbox: Sandbox;
beforeEach(() => {
  sandbox = currentSandbox();
});

/** A key the catalogue could not resolve (english() gives it back whole), or a placeholder left unfilled. */
const UNRENDERED = /node-red-contrib-office365-mail\/[\w-]+:|__[A-Za-z0-9_]+__/;

/**
 * A status as the editor shows it: a text that is a key (`email-task.…`) is rendered in the node's
 * catalogue, as Node-RED's editor does for core's `node-red:common.status.*`.
 */
function shown(status: { text?: string } | undefined): string {
  const text = String(status?.text);
  return /^email-task\.[\w.-]+$/.test(text) ? english(`node-red-contrib-office365-mail/email-task:${text}`) : text;
}

function expectRendered(texts: unknown[]): void {
  const strings = texts.map((t) => (typeof t === 'string' ? t : JSON.stringify(t)));
  expect(strings.filter((s) => UNRENDERED.test(s))).toEqual([]);
}

async function loadInEnglish(task: Record<string, unknown> = {}, connection: Record<string, unknown> = {}, clientSecret: string = SANDBOX.clientSecret): Promise<Outputs> {
  await helper.load([withEnglish(connectionNode), withEnglish(emailTaskNode), catchNode], mailFlow(sandbox, task, connection), { c1: { clientSecret } });
  return watchOutputs();
}

function errorOf(out: Outputs, i = 0): { message: string; hint: string } {
  return out.failed[i].error as { message: string; hint: string };
}

describe('texts users read are rendered English, never keys', () => {
  it('a sent mail: the status counts in words', async () => {
    const out = await loadInEnglish();
    send({ to: 'ada@example.com', topic: 'hello', payload: 'x' });
    await out.settled(1);
    expect(out.sent).toHaveLength(1);
    expect(out.statuses.map((s) => s.text)).toEqual(expect.arrayContaining(['sending (1)', 'sent: 1']));
    expectRendered([out.statuses, logText()]);
  });

  it('validation, auth and a full queue: message, hint and status in English', async () => {
    const invalid = await loadInEnglish();
    send({ topic: 'no recipient', payload: 'x' });
    await invalid.settled(1);
    expect(errorOf(invalid)).toEqual(expect.objectContaining({
      message: 'The mail has no recipient: to, cc and bcc are all empty.',
      hint: 'Set msg.to (or the node\'s To field), or cc / bcc.',
    }));
    expect(shown(invalid.statuses.at(-1))).toBe('invalid input');
    expectRendered([invalid.failed, invalid.statuses.map(shown)]);
    await helper.unload();

    const auth = await loadInEnglish({}, {}, SANDBOX.clientSecretId);
    send({ to: 'ada@example.com', topic: 'wrong secret', payload: 'x' });
    await auth.settled(1);
    expect(errorOf(auth).hint).toContain("Did you paste the secret's ID instead of its Value?");
    expect(shown(auth.statuses.at(-1))).toBe('authentication failed');
    const usage = await helper.request().get('/office365-mail/usage');
    // A failure's keys are for the sidebar to render in the editor's language; everything else is rendered.
    const [failure] = usage.body.connections[0].recentFailures as Array<{ keys: { hintKey: string; params: Record<string, unknown> }; hint: string }>;
    const { recentFailures: _failures, ...rest } = usage.body.connections[0] as Record<string, unknown>;
    const { keys, ...failureTexts } = failure;
    expectRendered([auth.failed, auth.statuses.map(shown), rest, failureTexts, logText()]);
    expect(english(keys.hintKey, keys.params)).toBe(failure.hint);
    await helper.unload();

    // The 30 messages enter the task before any request can finish: 14 are taken, 16 refused.
    const full = await loadInEnglish({}, { queueSize: 10 });
    for (let i = 0; i < 30; i++) send({ to: 'ada@example.com', topic: `full ${i}`, payload: 'x' });
    await full.settled(30);
    expect(full.failed.length).toBeGreaterThan(0);
    expect(errorOf(full).message).toContain('(10 mails waiting)');
    expectRendered([full.failed, full.statuses.map(shown)]);
  });

  it('waits on a 429 and a 503: the status says how long, in words', async () => {
    const out = await loadInEnglish();
    sandbox.addFault({ target: 'sendMail', status: 429, code: 'ApplicationThrottled', retryAfter: '1', times: 1 });
    sandbox.addFault({ target: 'sendMail', status: 503, code: 'ServiceUnavailable', retryAfter: '1', times: 1 });
    send({ to: 'ada@example.com', topic: 'waits', payload: 'x' });
    await out.settled(1);
    expect(out.sent).toHaveLength(1);
    const texts = out.statuses.map((s) => String(s.text));
    expect(texts).toContain('throttled, retry in 1s');
    expect(texts).toContain('ServiceUnavailable, retry in 1s');
    expectRendered([texts, logText()]);
  });

  it('a connection with a missing field: the log names the field, and a mail fails in words', async () => {
    const out = await loadInEnglish({}, { applicationId: '' });
    expect(logText()).toContain('Application ID is required.');
    send({ to: 'ada@example.com', topic: 'x', payload: 'y' });
    await out.settled(1);
    // The status the docs promise, not the generic "invalid input".
    expect(shown(out.statuses.at(-1))).toBe('connection not valid');
    expect(errorOf(out).message.length).toBeGreaterThan(0);
    expectRendered([out.failed, out.statuses.map(shown), logText()]);
  });

  describe('with a temporary user directory', () => {
    // The cursor goes under the user directory: a temporary one here.
    useTempUserDir({ prefix: 'mail-in-english-' });

    it('email in: status, a refused mailbox and a permission failure in words', async () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the built CommonJS node, as Node-RED loads it
      const mailInNode = require(path.join(__dirname, '..', '..', 'dist', 'nodes', 'office365-mail-in.js'));
      const flow = (node: Record<string, unknown>): Array<Record<string, unknown> & { id: string; type: string }> => [
        { id: 't1', type: 'tab', label: 'test' },
        connectionConfig(sandbox),
        { id: 'm1', type: 'office365-mail-in', z: 't1', connection: 'c1', wires: [[]], ...node },
        { id: 'catcher', type: 'catch', z: 't1', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper', z: 't1' },
      ];
      await helper.load([withEnglish(connectionNode), withEnglish(mailInNode), catchNode], flow({ mailbox: SANDBOX.outOfScopeMailbox }), { c1: { clientSecret: SANDBOX.clientSecret } });
      expect(logText()).toContain(`email in: the mailbox ${SANDBOX.outOfScopeMailbox} is not allowed by this connection.`);
      expectRendered([logText()]);
      await helper.unload();

      sandbox.setAppRoles(SANDBOX.applicationId, ['Mail.Send']);
      try {
        await helper.load([withEnglish(connectionNode), withEnglish(mailInNode), catchNode], flow({}), { c1: { clientSecret: SANDBOX.clientSecret } });
        const statuses: Array<{ text?: string }> = [];
        (helper.getNode('m1') as unknown as NodeJS.EventEmitter).on('call:status', (call: { args: [{ text?: string }] }) => statuses.push(call.args[0]));
        const caught = new Promise<Record<string, unknown>>((resolve) => helper.getNode('caught').once('input', resolve));
        const result = await (helper.getNode('m1') as Node & { pollNow: () => Promise<{ error?: unknown }> }).pollNow();
        expect(result.error).toBeDefined();
        const error = (await caught)._error as { message: string; hint: string };
        expect(error.message).toContain('Microsoft Graph refused to read the mailbox');
        expect(error.hint).toContain('Mail.Read');
        expectRendered([error, statuses, logText()]);
      } finally {
        sandbox.setAppRoles(SANDBOX.applicationId, ['Mail.Send', 'Mail.ReadWrite']);
      }
    });
  });

  it('Test connection answers a refused secret in English', async () => {
    await loadInEnglish();
    const { id: _id, type: _type, ...fields } = connectionConfig(sandbox);
    const res = await helper.request().post('/office365-mail/connections/test').send({ ...fields, clientSecret: SANDBOX.clientSecretId });
    expect(res.body).toMatchObject({ ok: false, error: { category: 'auth', aadsts: 7000215 } });
    expect(res.body.error.hint).toContain("Did you paste the secret's ID instead of its Value?");
    // The keys are for the editor to render; the texts beside them are rendered in the runtime's language.
    const { message, hint, details } = res.body.error as Record<string, string>;
    expectRendered([message, hint, details]);
    expect(english(res.body.error.hintKey, res.body.error.params)).toBe(hint);
  });
});
