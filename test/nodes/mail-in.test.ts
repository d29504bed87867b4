/**
 * The "email in" node in a real Node-RED runtime against the sandbox over real HTTPS with real
 * MSAL and axios: one message per new mail, paging, delta changes, restarts, start new / all,
 * each afterRead, attachments, permission failure and recovery, a stale delta token, folder
 * paths, and a mailbox the connection does not allow. Polls are started with the node's
 * pollNow() and awaited: no timers in the tests.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Node } from 'node-red';
import type { Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { EMAIL_TASK_DEFAULTS } from '../../scripts/local-node-red';
import { catchNode, connectionConfig, connectionNode, emailTaskNode, helper, logText, useSandboxAndRuntime, useTempUserDir, type FlowNode, type OutMsg } from '../support/node-red';
import { expectNoLeaks } from '../support/leaks';
import { clientFor, tokenFor } from '../sandbox/helpers';
import type { PollOutcome } from '../../nodes/lib/mail-in';

/* eslint-disable @typescript-eslint/no-require-imports -- the built CommonJS node, as Node-RED loads it */
const mailInNode = require(path.join(__dirname, '..', '..', 'dist', 'nodes', 'office365-mail-in.js'));
/* eslint-enable @typescript-eslint/no-require-imports */

const ME: string = SANDBOX.senderEmail;
const REPORTS = 'reports@contoso.onmicrosoft.com';

const currentSandbox = useSandboxAndRuntime();
const currentUserDir = useTempUserDir({ prefix: 'mail-in-' });
let sandbox: Sandbox;
let userDir: string;
beforeEach(() => {
  sandbox = currentSandbox();
  userDir = currentUserDir();
});

interface Watch {
  out: OutMsg[];
  caught: OutMsg[];
  /** Resolves once the catch node has received `count` messages (woken by arrivals). */
  caughtAtLeast(count: number): Promise<void>;
  /** Resolves once the node has shown a status like `expected` (woken by status calls). */
  statusSeen(expected: Record<string, string>): Promise<void>;
  statuses: Array<{ fill?: string; shape?: string; text?: string }>;
  poll(): Promise<PollOutcome>;
}

function flow(node: Record<string, unknown> = {}, connection: Record<string, unknown> = {}): FlowNode[] {
  return [
    // An email task on the same connection: the two share the mailbox's limits.
    { id: 'e1', type: 'email-task', z: 't1', ...EMAIL_TASK_DEFAULTS, connection: 'c1', wires: [['sent'], []] },
    { id: 'sent', type: 'helper', z: 't1' },
    { id: 't1', type: 'tab', label: 'test' },
    connectionConfig(sandbox, connection),
    { id: 'm1', type: 'office365-mail-in', z: 't1', name: 'in', connection: 'c1', wires: [['out']], ...node },
    { id: 'out', type: 'helper', z: 't1' },
    { id: 'catcher', type: 'catch', z: 't1', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 't1' },
  ];
}

/** Deploys the flow and waits for the node's first poll (the one every deploy starts with). */
async function deploy(node: Record<string, unknown> = {}, connection: Record<string, unknown> = {}): Promise<Watch> {
  await helper.load([connectionNode, mailInNode, emailTaskNode, catchNode], flow(node, connection), { c1: { clientSecret: SANDBOX.clientSecret } });
  const waiters: Array<() => void> = [];
  const watch: Watch = {
    out: [],
    caught: [],
    statuses: [],
    poll: () => pollNow(),
    caughtAtLeast: (count) => until(() => watch.caught.length >= count),
    statusSeen: (expected) => until(() => watch.statuses.some((st) => Object.entries(expected).every(([k, v]) => (st as Record<string, unknown>)[k] === v))),
  };
  function until(done: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => (done() ? resolve() : void waiters.push(check));
      check();
    });
  }
  helper.getNode('out').on('input', (msg: OutMsg) => watch.out.push(msg));
  helper.getNode('caught').on('input', (msg: OutMsg) => {
    watch.caught.push(msg);
    waiters.splice(0).forEach((w) => w());
  });
  (helper.getNode('m1') as unknown as NodeJS.EventEmitter).on('call:status', (call: { args: [Watch['statuses'][number]] }) => {
    watch.statuses.push(call.args[0]);
    waiters.splice(0).forEach((w) => w());
  });
  return watch;
}

function pollNow(): Promise<PollOutcome> {
  const node = helper.getNode('m1') as Node & { pollNow?: () => Promise<PollOutcome> };
  if (!node.pollNow) throw new Error('the node did not start');
  return node.pollNow();
}

function inject(subject: string, extra: Record<string, unknown> = {}, mailbox: string = ME): string {
  return sandbox.injectMail(mailbox, { subject, from: 'customer@example.com', fromName: 'Customer', text: `body of ${subject}`, ...extra }).immutableId;
}

async function createFolder(parent: string, name: string, mailbox: string = ME): Promise<string> {
  const c = clientFor(sandbox);
  try {
    const token = await tokenFor(c, sandbox);
    const res = await c.http.post(`/v1.0/users/${mailbox}/mailFolders/${parent}/childFolders`, { displayName: name }, { headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
    expect(res.status).toBe(201);
    return (res.data as { id: string }).id;
  } finally {
    c.agent.destroy();
  }
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('email in: new mail', () => {
  it('start new: emits only mail arriving after the deploy, once, in the e-mail in shape, and marks it read', async () => {
    inject('was there before');
    const w = await deploy();
    await w.poll();
    expect(w.out).toEqual([]);

    inject('order 1', { to: [ME, 'team@contoso.com'], cc: ['boss@contoso.com'] });
    inject('order 2', { html: '<p>Hello <b>world</b></p><style>p{}</style>' });
    const outcome = await w.poll();
    expect(outcome).toEqual({ emitted: 2 });
    expect(w.out.map((m) => m.topic)).toEqual(['order 1', 'order 2']);
    const [first, second] = w.out;
    expect(first).toMatchObject({ payload: 'body of order 1', from: 'customer@example.com', to: `${ME}, team@contoso.com`, cc: 'boss@contoso.com', attachments: [] });
    expect(first.html).toBeUndefined();
    expect(first.date).toBeInstanceOf(Date);
    expect(first.mail).toMatchObject({ mailbox: ME, folder: 'Inbox', isRead: false, hasAttachments: false, from: { address: 'customer@example.com', name: 'Customer' } });
    const mail = first.mail as Record<string, unknown>;
    expect(typeof mail.id).toBe('string');
    expect(String(mail.internetMessageId)).toMatch(/^<.+>$/);
    expect(second).toMatchObject({ html: '<p>Hello <b>world</b></p><style>p{}</style>', payload: 'Hello world' });

    // markRead (the default) changed both: the delta returns them again, and they are not emitted again.
    expect(sandbox.messages(ME, 'inbox').filter((m) => m.isRead).map((m) => m.subject).sort()).toEqual(['order 1', 'order 2']);
    expect(await w.poll()).toEqual({ emitted: 0 });
    expect(w.out).toHaveLength(2);
    expect(w.statuses).toContainEqual({ fill: 'green', shape: 'dot', text: 'node-red-contrib-office365-mail/office365-mail-in:office365-mail-in.status.watching' });
    expect(w.statuses).toContainEqual({ fill: 'green', shape: 'dot', text: 'node-red-contrib-office365-mail/office365-mail-in:office365-mail-in.status.new' });
    expectNoLeaks([w.out, w.statuses, logText(), fs.readdirSync(path.join(userDir, 'office365-mail-in')).map((f) => fs.readFileSync(path.join(userDir, 'office365-mail-in', f), 'utf8'))], sandbox);
  });

  it('start all: also the mail there now, over several delta pages, each once; onlyUnread skips read mail', async () => {
    for (let i = 0; i < 60; i++) inject(`mail ${i}`);
    inject('already read', { isRead: true });
    const w = await deploy({ start: 'all', afterRead: 'none' });
    await w.poll();
    expect(w.out).toHaveLength(60);
    expect(new Set(w.out.map((m) => (m.mail as { id: string }).id)).size).toBe(60);
    expect(w.out.map((m) => m.topic)).not.toContain('already read');
    // 61 messages at 50 per page: the first round took two pages.
    const deltaGets = sandbox.requests().filter((r) => r.method === 'GET' && r.path.includes('/messages/delta'));
    expect(deltaGets.length).toBeGreaterThanOrEqual(2);
    expect(await w.poll()).toEqual({ emitted: 0 });
    inject('one more');
    await w.poll();
    expect(w.out.map((m) => m.topic).slice(60)).toEqual(['one more']);
  });

  it('a redeploy (close + new node) does not emit again; the cursor is one file under the user directory', async () => {
    const w = await deploy({ afterRead: 'none', onlyUnread: false });
    await w.poll();
    inject('before restart');
    await w.poll();
    expect(w.out.map((m) => m.topic)).toEqual(['before restart']);
    await helper.unload();

    inject('during the restart');
    const again = await deploy({ afterRead: 'none', onlyUnread: false });
    await again.poll();
    expect(again.out.map((m) => m.topic)).toEqual(['during the restart']);
    expect(fs.readdirSync(path.join(userDir, 'office365-mail-in')).filter((f) => f.endsWith('.json'))).toHaveLength(1);
  });

  it('a stale delta token (410): re-syncs and emits only what it had not emitted', async () => {
    const w = await deploy({ afterRead: 'none', onlyUnread: false });
    await w.poll();
    inject('first');
    await w.poll();
    sandbox.expireDeltaTokens(ME);
    inject('second');
    await w.poll();
    expect(w.out.map((m) => m.topic)).toEqual(['first', 'second']);
    expect(sandbox.requests().some((r) => r.status === 410)).toBe(true);
    expect(w.caught).toEqual([]);
  });
});

describe('email in: after reading', () => {
  it('move puts the mail into moveTo (a path), delete into Deleted Items', async () => {
    await createFolder('inbox', 'Done');
    const w = await deploy({ afterRead: 'move', moveTo: 'Inbox/Done' });
    await w.poll();
    inject('to be moved');
    await w.poll();
    expect(w.out).toHaveLength(1);
    expect(sandbox.messages(ME, 'Inbox/Done').map((m) => m.subject)).toEqual(['to be moved']);
    // The next round reports the moved mail as @removed: nothing is emitted, nothing fails.
    expect(await w.poll()).toEqual({ emitted: 0 });
    expect(w.out).toHaveLength(1);
    expect(w.caught).toEqual([]);
    await helper.unload();

    const d = await deploy({ afterRead: 'delete' }, { key: 'other-key' });
    await d.poll();
    inject('to be deleted');
    await d.poll();
    expect(d.out.map((m) => m.topic)).toEqual(['to be deleted']);
    expect(sandbox.messages(ME, 'deleteditems').map((m) => m.subject)).toEqual(['to be deleted']);
  });

  it('none leaves the mail unread', async () => {
    const w = await deploy({ afterRead: 'none' });
    await w.poll();
    inject('stays unread');
    await w.poll();
    expect(w.out).toHaveLength(1);
    expect(sandbox.messages(ME, 'inbox')[0].isRead).toBe(false);
  });
});

describe('email in: attachments', () => {
  const small = randomBytes(3000);
  const large = randomBytes(2 * 1024 * 1024);
  const attachments = [
    { name: 'order.csv', contentType: 'text/csv', contentBytes: small.toString('base64') },
    { name: 'scan.pdf', contentType: 'application/pdf', contentBytes: large.toString('base64') },
    { name: 'logo.png', contentType: 'image/png', contentBytes: small.toString('base64'), isInline: true, contentId: 'logo1' },
  ];

  it('content: bytes intact up to maxAttachmentSize per mail, larger ones as metadata with a note', async () => {
    const w = await deploy({ maxAttachmentSize: 1 });
    await w.poll();
    inject('with files', { html: '<p><img src="cid:logo1"></p>', attachments });
    await w.poll();
    const got = w.out[0].attachments as Array<{ filename: string; content?: Buffer; size: number; note?: string; cid?: string; contentType: string; inline: boolean }>;
    expect(got.map((a) => a.filename)).toEqual(['order.csv', 'scan.pdf', 'logo.png']);
    expect(sha(got[0].content as Buffer)).toBe(sha(small));
    expect(got[0]).toMatchObject({ contentType: 'text/csv', size: 3000, inline: false });
    expect(got[1].content).toBeUndefined();
    expect(got[1].note).toBe('tooLarge');
    expect(got[2]).toMatchObject({ cid: 'logo1', inline: true });
    expect(sha(got[2].content as Buffer)).toBe(sha(small));
    // Bytes come by $value, one request per file fetched; the file over the limit is never downloaded.
    expect(sandbox.requests().filter((r) => r.path.endsWith('/$value'))).toHaveLength(2);
  });

  it('content with room: the large file comes whole; metadata: no bytes', async () => {
    const w = await deploy({ maxAttachmentSize: 25 });
    await w.poll();
    inject('large', { attachments: attachments.slice(0, 2) });
    await w.poll();
    const got = w.out[0].attachments as Array<{ content?: Buffer }>;
    expect(sha(got[1].content as Buffer)).toBe(sha(large));
    await helper.unload();

    const m = await deploy({ attachments: 'metadata' }, { key: 'metadata-key' });
    await m.poll();
    inject('metadata only', { attachments: attachments.slice(0, 1) });
    await m.poll();
    expect(m.out[0].attachments).toEqual([expect.objectContaining({ filename: 'order.csv', contentType: 'text/csv' })]);
    expect((m.out[0].attachments as Array<{ content?: Buffer }>)[0].content).toBeUndefined();
  });
});

describe('email in: failures', () => {
  it('a permission failure goes to Catch, status and usage; polling recovers once the role is granted', async () => {
    sandbox.setAppRoles(SANDBOX.applicationId, ['Mail.Send']);
    try {
      await failThenRecover();
    } finally {
      sandbox.setAppRoles(SANDBOX.applicationId, ['Mail.Send', 'Mail.ReadWrite']);
    }
  });

  async function failThenRecover(): Promise<void> {
    const w = await deploy();
    const failed = await w.poll();
    expect(failed.error).toMatchObject({ category: 'permission' });
    await w.caughtAtLeast(1);
    expect(w.caught[0]._error).toMatchObject({ category: 'permission', code: expect.any(String), hint: 'node-red-contrib-office365-mail/email-task:email-task.hints.readAccessDenied', source: { id: 'm1' } });
    await w.statusSeen({ fill: 'red', shape: 'ring', text: 'node-red-contrib-office365-mail/office365-mail-in:office365-mail-in.status.failed' });
    // The connection's Usage Data counts it, with the node it came from.
    const usage = await helper.request().get('/office365-mail/usage');
    const [entry] = usage.body.connections as Array<{ failedByCategory: Record<string, number>; recentFailures: Array<{ node: { id: string } }> }>;
    expect(entry.failedByCategory.permission).toBeGreaterThanOrEqual(1);
    expect(entry.recentFailures[0].node.id).toBe('m1');

    sandbox.setAppRoles(SANDBOX.applicationId, ['Mail.Send', 'Mail.ReadWrite']);
    await w.poll();
    inject('after consent');
    await w.poll();
    expect(w.out.map((m) => m.topic)).toEqual(['after consent']);
    await w.statusSeen({ fill: 'green', text: 'node-red-contrib-office365-mail/office365-mail-in:office365-mail-in.status.new' });
    expectNoLeaks([w.out, w.caught, w.statuses, logText()], sandbox);
  }

  it('a 429 from Graph: yellow status, Catch, and the mailbox pause holds the email task on the same mailbox too', async () => {
    const w = await deploy();
    await w.poll();
    sandbox.addFault({ target: 'graph', status: 429, code: 'ApplicationThrottled', retryAfter: '1', times: 1, mailbox: ME });
    const throttled = await w.poll();
    expect(throttled.error).toMatchObject({ category: 'throttled', status: 429 });
    await w.statusSeen({ fill: 'yellow', shape: 'ring', text: 'node-red-contrib-office365-mail/office365-mail-in:office365-mail-in.status.throttled' });
    await w.caughtAtLeast(1);
    expect(w.caught[0]._error).toMatchObject({ category: 'throttled' });

    // The email task sends from the same app and mailbox: it waits out the pause the read got.
    const taskStatuses: Array<{ fill?: string; text?: string }> = [];
    (helper.getNode('e1') as unknown as NodeJS.EventEmitter).on('call:status', (call: { args: [{ fill?: string; text?: string }] }) => taskStatuses.push(call.args[0]));
    const sent = new Promise<OutMsg>((resolve) => helper.getNode('sent').once('input', resolve));
    helper.getNode('e1').receive({ to: 'ada@example.com', topic: 'while throttled', payload: 'x' } as never);
    expect((await sent).email).toMatchObject({ status: 'sent', attempts: 1 });
    expect(taskStatuses.map((s) => s.text)).toContain('node-red-contrib-office365-mail/email-task:email-task.status.throttled');

    inject('after the pause');
    await w.poll();
    expect(w.out.map((m) => m.topic)).toEqual(['after the pause']);
  });

  it('closes tidily: a poll hanging on Graph is ended at close, and no connection is left open', async () => {
    const w = await deploy();
    await w.poll();
    sandbox.addFault({ target: 'graph', action: 'hang', times: 1, mailbox: ME });
    const arrived = new Promise<void>((resolve) => sandbox.events.once('request', () => resolve()));
    const hanging = w.poll();
    await arrived;
    await helper.unload();
    expect(await hanging).toEqual({ emitted: 0 });
    await sandbox.waitForOpenConnections(0);
    expect(w.caught).toEqual([]);
  });

  it('a mailbox the connection does not allow is refused at deploy: status, log, no request', async () => {
    await deploy({ mailbox: SANDBOX.outOfScopeMailbox });
    const node = helper.getNode('m1') as Node & { pollNow?: unknown };
    expect(node.pollNow).toBeUndefined();
    expect(logText()).toContain('errors.mailboxNotAllowed');
    expect(sandbox.requests().filter((r) => r.path.includes('/mailFolders'))).toEqual([]);
  });

  it('another mailbox listed in allowedMailboxes is read', async () => {
    const w = await deploy({ mailbox: REPORTS, folder: 'Inbox/Orders' }, { allowedMailboxes: REPORTS });
    // The folder does not exist yet: a mailbox failure, and polling goes on.
    expect((await w.poll()).error).toMatchObject({ category: 'mailbox', code: 'FolderNotFound' });
    await createFolder('inbox', 'Orders', REPORTS);
    await w.poll();
    inject('order by mail', { folder: 'Inbox/Orders' }, REPORTS);
    inject('not in that folder', {}, REPORTS);
    await w.poll();
    expect(w.out.map((m) => m.topic)).toEqual(['order by mail']);
    expect(w.out[0].mail).toMatchObject({ mailbox: REPORTS, folder: 'Inbox/Orders' });
  });
});
