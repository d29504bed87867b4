/**
 * Senders and conversations (issue 16), in a real runtime against the sandbox: From per message
 * within the connection's allowedMailboxes, limits per mailbox, the connection chosen by its Key,
 * reply / replyAll / forward, and the ids of what went out. Every refusal is checked in the
 * sandbox's store too: nothing was sent.
 */
import path from 'node:path';
import type { Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { expectNoLeaks } from '../support/leaks';
import { catchNode, connectionConfig, connectionNode, emailTaskNode, helper, loadMailFlow, logText, mailFlow, redeploy, send, useSandboxAndRuntime, useTempUserDir, watchOutputs, type FlowNode, type OutMsg } from '../support/node-red';

/* eslint-disable @typescript-eslint/no-require-imports -- built CommonJS nodes, as Node-RED loads them */
const mailInNode = require(path.join(__dirname, '..', '..', 'dist', 'nodes', 'office365-mail-in.js'));
/* eslint-enable @typescript-eslint/no-require-imports */

const REPORTS = 'reports@contoso.onmicrosoft.com';
const CEO = SANDBOX.outOfScopeMailbox;

const currentSandbox = useSandboxAndRuntime();
let sandbox: Sandbox;
beforeEach(() => {
  sandbox = currentSandbox();
});

function graphRequests(): Array<{ method: string; path: string }> {
  return sandbox.requests().filter((r) => r.target === 'graph');
}

function emailOf(msg: OutMsg): Record<string, unknown> {
  return msg.email as Record<string, unknown>;
}

function errorOf(msg: OutMsg): Record<string, unknown> {
  return msg.error as Record<string, unknown>;
}

describe('From per message', () => {
  it('without allowedMailboxes a hostile msg.from is ignored: the mail comes from senderEmail', async () => {
    await loadMailFlow(mailFlow(sandbox));
    const out = watchOutputs();
    send({ to: 'ada@example.com', topic: 'hi', payload: 'x', from: 'ceo@contoso.onmicrosoft.com' });
    await out.settled(1);
    expect(out.failed.map((m) => m.error)).toEqual([]);
    expect(emailOf(out.sent[0]).sender).toBe(SANDBOX.senderEmail);
    expect(sandbox.mail(SANDBOX.senderEmail)).toHaveLength(1);
    expect(sandbox.mail(CEO)).toHaveLength(0);
    expect(graphRequests().map((r) => r.path)).toEqual([`/v1.0/users/${SANDBOX.senderEmail}/sendMail`]);
  });

  it('a sender outside the list fails with validation naming it, and nothing is sent', async () => {
    await loadMailFlow(mailFlow(sandbox, {}, { allowedMailboxes: REPORTS }));
    const out = watchOutputs();
    send({ to: 'ada@example.com', topic: 'hi', payload: 'x', from: 'Boss <ceo@contoso.onmicrosoft.com>' });
    await out.settled(1);
    expect(out.sent).toHaveLength(0);
    expect(errorOf(out.failed[0])).toMatchObject({ category: 'validation', code: 'SenderNotAllowed', message: expect.stringContaining('errors.senderNotAllowed'), hint: expect.stringContaining('hints.senderNotAllowed') });
    expect(sandbox.mail()).toHaveLength(0);
    expect(graphRequests()).toEqual([]);
    const usage = (await helper.request().get('/office365-mail/usage')).body as { connections: Array<{ failedByCategory: Record<string, number> }> };
    expect(usage.connections[0].failedByCategory.validation).toBe(1);
  });

  it('a listed mailbox (display-name form accepted) sends from that mailbox: URL, store and msg.email', async () => {
    await loadMailFlow(mailFlow(sandbox, {}, { allowedMailboxes: REPORTS }));
    const out = watchOutputs();
    send({ to: 'ada@example.com', topic: 'from reports', payload: 'x', from: 'Reports Team <Reports@contoso.onmicrosoft.com>' });
    send({ to: 'ada@example.com', topic: 'from the sender', payload: 'x', from: SANDBOX.senderEmail.toUpperCase() });
    await out.settled(2);
    expect(out.failed.map((m) => m.error)).toEqual([]);
    const bySubject = Object.fromEntries(out.sent.map((m) => [String(m.topic), emailOf(m).sender]));
    expect(bySubject).toEqual({ 'from reports': REPORTS, 'from the sender': SANDBOX.senderEmail });
    expect(sandbox.mail(REPORTS).map((m) => m.message.subject)).toEqual(['from reports']);
    expect(sandbox.mail(SANDBOX.senderEmail).map((m) => m.message.subject)).toEqual(['from the sender']);
    expect(graphRequests().map((r) => r.path).sort()).toEqual([`/v1.0/users/${REPORTS}/sendMail`, `/v1.0/users/${SANDBOX.senderEmail}/sendMail`].sort());
  });

  it('From typed into the node (str) chooses the mailbox for every message', async () => {
    await loadMailFlow(mailFlow(sandbox, { from: REPORTS, fromType: 'str' }, { allowedMailboxes: REPORTS }));
    const out = watchOutputs();
    send({ to: 'ada@example.com', topic: 'fixed', payload: 'x', from: 'someone@else.example' });
    await out.settled(1);
    expect(emailOf(out.sent[0]).sender).toBe(REPORTS);
  });

  it('a burst from two mailboxes of one connection has 4 + 4 requests in flight, each mailbox its own limiter', async () => {
    sandbox.setLatency(20);
    await loadMailFlow(mailFlow(sandbox, {}, { allowedMailboxes: REPORTS }));
    const out = watchOutputs();
    for (let i = 0; i < 24; i++) {
      send({ to: 'ada@example.com', topic: `a ${i}`, payload: 'x' });
      send({ to: 'ada@example.com', topic: `b ${i}`, payload: 'x', from: REPORTS });
    }
    await out.settled(48);
    expect(out.failed.map((m) => m.error)).toEqual([]);
    expect(sandbox.mail(SANDBOX.senderEmail)).toHaveLength(24);
    expect(sandbox.mail(REPORTS)).toHaveLength(24);
    const stats = sandbox.stats();
    const key = (mailbox: string): string => `${SANDBOX.applicationId}|${mailbox}`.toLowerCase();
    expect(stats.maxConcurrentPerAppMailbox[key(SANDBOX.senderEmail)]).toBe(4);
    expect(stats.maxConcurrentPerAppMailbox[key(REPORTS)]).toBe(4);
    expect(stats.throttled).toBe(0);
    // Usage Data counts per mailbox within the connection.
    const usage = (await helper.request().get('/office365-mail/usage')).body as { connections: Array<{ sent: number; mailboxes: Record<string, { sent: number; failed: number }> }> };
    expect(usage.connections[0].sent).toBe(48);
    expect(usage.connections[0].mailboxes).toEqual({ [SANDBOX.senderEmail.toLowerCase()]: { sent: 24, failed: 0 }, [REPORTS.toLowerCase()]: { sent: 24, failed: 0 } });
  });

  it('a listed mailbox outside the app\'s RBAC scope fails as permission with a hint naming the mailbox', async () => {
    await loadMailFlow(mailFlow(sandbox, {}, { allowedMailboxes: CEO }));
    const out = watchOutputs();
    send({ to: 'ada@example.com', topic: 'hi', payload: 'x', from: CEO });
    await out.settled(1);
    expect(errorOf(out.failed[0])).toMatchObject({ category: 'permission', status: 403, graphCode: 'ErrorAccessDenied', hint: expect.stringContaining('hints.mailboxOutOfScope') });
    expect(sandbox.mail()).toHaveLength(0);
    expectNoLeaks([out.failed, out.caught, out.statuses, logText()], sandbox);
  });
});

/** Two connections (keys `first`, `second`) and a task choosing by Key, wired like mailFlow. */
function keyedFlow(connections: Array<Record<string, unknown>>, task: Record<string, unknown> = {}): FlowNode[] {
  const flow = mailFlow(sandbox, { authType: 'connectionKey', connection: '', ...task });
  const first = flow.findIndex((n) => n.id === 'c1');
  flow.splice(first, 1, ...connections.map((c, i) => connectionConfig(sandbox, { id: `c${i + 1}`, key: `conn-${i + 1}`, ...c })));
  return flow;
}

async function loadKeyed(flow: FlowNode[], count: number): Promise<void> {
  const credentials = Object.fromEntries(Array.from({ length: count }, (_, i) => [`c${i + 1}`, { clientSecret: SANDBOX.clientSecret }]));
  await helper.load([connectionNode, emailTaskNode, catchNode], flow, credentials);
}

describe('the connection chosen by its Key', () => {
  it('msg.connection picks the deployed connection; its sender and usage data are that connection\'s', async () => {
    await loadKeyed(keyedFlow([{ key: 'first' }, { key: 'second', senderEmail: REPORTS }]), 2);
    const out = watchOutputs();
    send({ to: 'ada@example.com', topic: 'one', payload: 'x', connection: 'second' });
    send({ to: 'ada@example.com', topic: 'two', payload: 'x', connection: 'first' });
    await out.settled(2);
    expect(out.failed.map((m) => m.error)).toEqual([]);
    expect(Object.fromEntries(out.sent.map((m) => [String(m.topic), emailOf(m).sender]))).toEqual({ one: REPORTS, two: SANDBOX.senderEmail });
    expect(sandbox.mail(REPORTS)).toHaveLength(1);
    // No red "no connection" status for a task that chooses its connection per message.
    expect(out.statuses.filter((s) => s.fill === 'red')).toEqual([]);
    expectNoLeaks([out.sent, out.statuses, logText()], sandbox);
  });

  it('an unknown key fails with validation naming it; an invalid one too; nothing is sent', async () => {
    await loadKeyed(keyedFlow([{ key: 'first' }]), 1);
    const out = watchOutputs();
    send({ to: 'ada@example.com', topic: 'one', payload: 'x', connection: 'nope' });
    send({ to: 'ada@example.com', topic: 'two', payload: 'x', connection: '<img src=x>' });
    send({ to: 'ada@example.com', topic: 'three', payload: 'x' });
    await out.settled(3);
    expect(out.sent).toHaveLength(0);
    const byTopic = Object.fromEntries(out.failed.map((m) => [String(m.topic), errorOf(m)]));
    expect(byTopic.one).toMatchObject({ category: 'validation', code: 'UnknownConnectionKey', message: expect.stringContaining('errors.unknownConnectionKey') });
    expect(byTopic.two).toMatchObject({ category: 'validation', code: 'InvalidConnectionKey' });
    expect(byTopic.three).toMatchObject({ category: 'validation', code: 'InvalidConnectionKey' });
    expect(sandbox.mail()).toHaveLength(0);
  });

  it('a key two deployed connections share is logged at deploy and refused by tasks that choose by Key', async () => {
    await loadKeyed(keyedFlow([{ key: 'twin' }, { key: 'twin', senderEmail: REPORTS }]), 2);
    const out = watchOutputs();
    send({ to: 'ada@example.com', topic: 'one', payload: 'x', connection: 'twin' });
    await out.settled(1);
    expect(errorOf(out.failed[0])).toMatchObject({ category: 'validation', code: 'DuplicateConnectionKey' });
    expect(logText()).toContain('deploy.duplicateKey');
    expect(sandbox.mail()).toHaveLength(0);
  });
});

describe('the Key index follows deploys', () => {
  it('a duplicate deployed later is refused at once, and once it is gone the Key works again', async () => {
    const credentials = (count: number): Record<string, { clientSecret: string }> =>
      Object.fromEntries(Array.from({ length: count }, (_, i) => [`c${i + 1}`, { clientSecret: SANDBOX.clientSecret }]));
    await loadKeyed(keyedFlow([{ key: 'solo' }]), 1);
    let out = watchOutputs();
    send({ to: 'ada@example.com', topic: 'one', payload: 'x', connection: 'solo' });
    await out.settled(1);
    expect(out.sent).toHaveLength(1);
    // Only the new connection starts (a "modified nodes" deploy): the old one is not restarted.
    await redeploy(keyedFlow([{ key: 'solo' }, { key: 'solo', senderEmail: REPORTS }]), 'nodes', credentials(2));
    out = watchOutputs();
    send({ to: 'ada@example.com', topic: 'two', payload: 'x', connection: 'solo' });
    await out.settled(1);
    expect(errorOf(out.failed[0])).toMatchObject({ code: 'DuplicateConnectionKey' });
    await redeploy(keyedFlow([{ key: 'solo' }]), 'nodes', credentials(1));
    out = watchOutputs();
    send({ to: 'ada@example.com', topic: 'three', payload: 'x', connection: 'solo' });
    await out.settled(1);
    expect(emailOf(out.sent[0]).sender).toBe(SANDBOX.senderEmail);
    expect(sandbox.mail(SANDBOX.senderEmail)).toHaveLength(2);
    expect(sandbox.mail(REPORTS)).toHaveLength(0);
  });
});

describe('reply, reply all and forward', () => {
  /** A mail from reports@ (a sandbox mailbox) in the sender's Inbox, as office365-mail-in gives it. */
  function incoming(extra: Record<string, unknown> = {}): { id: string; conversationId: string } {
    const m = sandbox.injectMail(SANDBOX.senderEmail, { from: REPORTS, to: [SANDBOX.senderEmail], cc: ['ada@example.com'], subject: 'Order 42', text: 'Where is it?', ...extra });
    return { id: m.id, conversationId: m.conversationId };
  }

  it('reply lands in the original sender\'s Inbox, in the same conversation, with the RE: prefix', async () => {
    const original = incoming();
    await loadMailFlow(mailFlow(sandbox, { action: 'reply' }));
    const out = watchOutputs();
    // As office365-mail-in leaves it: msg.from and msg.to are the original's, not the answer's.
    send({ payload: 'On its way.', topic: 'Order 42', from: REPORTS, to: SANDBOX.senderEmail, mail: { id: original.id, mailbox: SANDBOX.senderEmail } });
    await out.settled(1);
    expect(out.failed.map((m) => m.error)).toEqual([]);
    expect(emailOf(out.sent[0])).toMatchObject({ status: 'sent', path: 'reply', sender: SANDBOX.senderEmail });
    const inbox = sandbox.messages(REPORTS, 'inbox');
    expect(inbox).toHaveLength(1);
    expect(inbox[0]).toMatchObject({ subject: 'RE: Order 42', conversationId: original.conversationId, from: SANDBOX.senderEmail });
    expect(graphRequests().map((r) => r.path)).toEqual([`/v1.0/users/${SANDBOX.senderEmail}/messages/${encodeURIComponent(original.id)}/reply`]);
    // Only the original's sender: reply does not use msg.to / msg.cc.
    expect(sandbox.mail(SANDBOX.senderEmail)[0].path).toBe('reply');
  });

  it('forward goes to To with the FW: prefix', async () => {
    const original = incoming();
    await loadMailFlow(mailFlow(sandbox, { action: 'forward' }));
    const out = watchOutputs();
    send({ to: REPORTS, payload: 'FYI', mail: { id: original.id } });
    await out.settled(1);
    expect(out.failed.map((m) => m.error)).toEqual([]);
    expect(emailOf(out.sent[0])).toMatchObject({ path: 'forward', to: [REPORTS] });
    expect(sandbox.messages(REPORTS, 'inbox').map((m) => m.subject)).toEqual(['FW: Order 42']);
  });

  it('a reply to a message in a mailbox the connection does not list is refused before any request', async () => {
    const m = sandbox.injectMail(CEO, { from: REPORTS, subject: 'Private' });
    await loadMailFlow(mailFlow(sandbox, { action: 'reply' }));
    const out = watchOutputs();
    send({ payload: 'x', mail: { id: m.id, mailbox: CEO } });
    await out.settled(1);
    expect(errorOf(out.failed[0])).toMatchObject({ category: 'validation', code: 'MailboxNotAllowed' });
    expect(graphRequests()).toEqual([]);
    expect(sandbox.mail()).toHaveLength(0);
  });

  it('a missing message id fails with validation and an unknown one as Graph\'s 404: never a new mail', async () => {
    await loadMailFlow(mailFlow(sandbox, { action: 'replyAll' }));
    const out = watchOutputs();
    send({ topic: 'none', payload: 'x', to: 'ada@example.com' });
    send({ topic: 'unknown', payload: 'x', to: 'ada@example.com', mail: { id: 'AAMkAGI2TG93AAA=' } });
    await out.settled(2);
    const byTopic = Object.fromEntries(out.failed.map((m) => [String(m.topic), errorOf(m)]));
    expect(byTopic.none).toMatchObject({ category: 'validation', code: 'MissingMessageId' });
    expect(byTopic.unknown).toMatchObject({ category: 'mailbox', status: 404, graphCode: 'ErrorItemNotFound', hint: expect.stringContaining('hints.messageNotFound') });
    expect(sandbox.mail()).toHaveLength(0);
  });

  it('with allowed recipient domains a reply goes through its draft, and one to another domain is refused unsent', async () => {
    const inside = incoming();
    const outside = sandbox.injectMail(SANDBOX.senderEmail, { from: 'stranger@example.com', subject: 'Spam?' });
    await loadMailFlow(mailFlow(sandbox, { action: 'reply' }, { allowedRecipientDomains: 'contoso.onmicrosoft.com' }));
    const out = watchOutputs();
    send({ topic: 'inside', payload: 'ok', mail: { id: inside.id } });
    await out.settled(1);
    send({ topic: 'outside', payload: 'no', mail: { id: outside.id } });
    await out.settled(2);
    expect(emailOf(out.sent[0])).toMatchObject({ path: 'reply', conversationId: inside.conversationId });
    expect(errorOf(out.failed[0])).toMatchObject({ category: 'validation', code: 'RecipientDomainNotAllowed' });
    expect(sandbox.mail().map((m) => m.message.subject)).toEqual(['RE: Order 42']);
    expect(sandbox.openItems()).toEqual({ drafts: 0, uploadSessions: 0 });
  });

  it('a reply with a 6 MB attachment goes through createReply, an upload session and send', async () => {
    const original = incoming();
    await loadMailFlow(mailFlow(sandbox, { action: 'reply' }));
    const out = watchOutputs();
    const big = Buffer.alloc(6 * 1024 * 1024, 7);
    send({ payload: 'The file.', attachments: [{ filename: 'big.bin', content: big }], mail: { id: original.id, mailbox: SANDBOX.senderEmail } });
    await out.settled(1);
    expect(out.failed.map((m) => m.error)).toEqual([]);
    const email = emailOf(out.sent[0]);
    expect(email).toMatchObject({ path: 'reply', attachments: 1, conversationId: original.conversationId });
    const paths = graphRequests().map((r) => `${r.method} ${r.path}`);
    expect(paths[0]).toBe(`POST /v1.0/users/${SANDBOX.senderEmail}/messages/${encodeURIComponent(original.id)}/createReply`);
    expect(paths.some((p) => p.endsWith('/attachments/createUploadSession'))).toBe(true);
    expect(paths[paths.length - 1]).toMatch(/\/send$/);
    const inbox = sandbox.messages(REPORTS, 'inbox');
    expect(inbox[0]).toMatchObject({ subject: 'RE: Order 42', conversationId: original.conversationId, internetMessageId: email.internetMessageId });
    expect(inbox[0].attachments.find((a) => a.name === 'big.bin')?.bytes).toBe(big.length);
    expect(sandbox.openItems()).toEqual({ drafts: 0, uploadSessions: 0 });
    expectNoLeaks([out.sent.map((m) => m.email), out.statuses, logText()], sandbox);
  });
});

describe('email in → reply', () => {
  // email in keeps its cursor under the user directory: a temporary one here.
  useTempUserDir({ prefix: 'senders-' });

  it('a mail that email in delivers is answered in its thread; msg.from (the outside sender) is not read as the sender', async () => {
    const original = sandbox.injectMail(SANDBOX.senderEmail, { from: REPORTS, subject: 'Question', text: 'Can you help?' });
    const flow: FlowNode[] = [
      { id: 't1', type: 'tab', label: 'answer incoming mail' },
      connectionConfig(sandbox, { allowedMailboxes: 'orders@contoso.onmicrosoft.com' }),
      // The answer's text is a fixed template here; email in's msg.payload is the original's text.
      { id: 'm1', type: 'office365-mail-in', z: 't1', connection: 'c1', start: 'all', afterRead: 'none', wires: [['e1']] },
      { id: 'e1', type: 'email-task', z: 't1', name: 'reply', ...mailFlow(sandbox).find((n) => n.id === 'e1'), action: 'reply', body: 'Thanks, we are on it.', bodyType: 'str', wires: [['ok'], ['fail']] },
      { id: 'ok', type: 'helper', z: 't1' },
      { id: 'fail', type: 'helper', z: 't1' },
      { id: 'catcher', type: 'catch', z: 't1', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 't1' },
    ];
    await helper.load([connectionNode, mailInNode, emailTaskNode, catchNode], flow, { c1: { clientSecret: SANDBOX.clientSecret } });
    const out = watchOutputs();
    await out.settled(1);
    expect(out.failed.map((m) => m.error)).toEqual([]);
    expect(out.sent[0].from).toBe(REPORTS);
    expect(emailOf(out.sent[0])).toMatchObject({ path: 'reply', sender: SANDBOX.senderEmail });
    const [answer] = sandbox.messages(REPORTS, 'inbox');
    expect(answer).toMatchObject({ subject: 'RE: Question', conversationId: original.conversationId });
  });
});

describe('which mail went out', () => {
  it('returnMessageIds sends through a draft, and msg.email carries the ids the recipient\'s copy has', async () => {
    await loadMailFlow(mailFlow(sandbox, { returnMessageIds: true }));
    const out = watchOutputs();
    send({ to: REPORTS, topic: 'tracked', payload: 'x' });
    await out.settled(1);
    expect(out.failed.map((m) => m.error)).toEqual([]);
    const email = emailOf(out.sent[0]);
    expect(email).toMatchObject({ path: 'uploadSession', messageId: expect.any(String), internetMessageId: expect.any(String), conversationId: expect.any(String) });
    const copy = sandbox.messages(REPORTS, 'inbox')[0];
    expect(copy).toMatchObject({ subject: 'tracked', internetMessageId: email.internetMessageId, conversationId: email.conversationId });
    // messageId is an immutable id: the sender's Sent Items copy keeps it.
    const sentItems = sandbox.messages(SANDBOX.senderEmail, 'sentitems');
    expect(sentItems.map((m) => m.immutableId)).toEqual([email.messageId]);
    expect(graphRequests().find((r) => r.path.endsWith('/messages'))).toBeDefined();
  });

  it('without it a small mail goes by sendMail, whose 202 carries no ids', async () => {
    await loadMailFlow(mailFlow(sandbox));
    const out = watchOutputs();
    send({ to: REPORTS, topic: 'plain', payload: 'x' });
    await out.settled(1);
    expect(emailOf(out.sent[0]).path).toBe('sendMail');
    expect(emailOf(out.sent[0])).not.toHaveProperty('internetMessageId');
  });
});
