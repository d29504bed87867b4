/**
 * Usage Data that lasts (issue 13): kept per connection Key in the user directory, so a redeploy
 * with a changed secret, an unrelated deploy and a restart keep "sent" and the failure history.
 * Real runtime (node-red-node-test-helper), real sandbox over HTTPS; a restart is a new load of
 * the nodes (a new registration, a new store) on the same user directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { USAGE_FILE } from '../../nodes/lib/usage-store';
import { catchNode, connectionConfig, connectionNode, emailTaskNode, helper, redeploy, runtimeEvents, loadMailFlow, mailFlow, send, useSandboxAndRuntime, useTempUserDir, watchOutputs, logText, type FlowNode } from '../support/node-red';
import { expectNoLeaks } from '../support/leaks';

const WRONG_SECRET = 'wrong-secret-value-for-usage';

const currentSandbox = useSandboxAndRuntime();
const currentUserDir = useTempUserDir({ prefix: 'o365-usage-nodes-' });
let sandbox: Sandbox;
let userDir: string;
beforeEach(() => {
  sandbox = currentSandbox();
  userDir = currentUserDir();
});

type Usage = Record<string, unknown> & { key: string; sent: number; failed: number; removed: boolean; recentFailures: Array<Record<string, unknown>>; days: Array<Record<string, unknown>> };

async function usage(): Promise<Usage[]> {
  const res = await helper.request().get('/office365-mail/usage').expect(200);
  return (res.body as { connections: Usage[] }).connections;
}

async function sendOne(topic: string): Promise<ReturnType<typeof watchOutputs>> {
  const out = watchOutputs();
  send({ to: 'ada@example.com', topic, payload: 'x' });
  await out.settled(1);
  return out;
}

const today = (): string => new Date().toISOString().slice(0, 10);

describe('usage data across deploys and restarts', () => {
  it('a redeploy with a changed secret keeps "sent" and the failure history; an unrelated deploy marks the key removed; a restart reads it back', async () => {
    const flow = mailFlow(sandbox);
    await loadMailFlow(flow);
    expect((await sendOne('first')).sent).toHaveLength(1);

    // The secret changes: a full deploy makes a new connection node under the same Key.
    await redeploy(flow, 'full', { c1: { clientSecret: WRONG_SECRET } });
    const failed = await sendOne('with the wrong secret');
    expect(failed.failed[0].error).toMatchObject({ category: 'auth', aadsts: 7000215 });

    const [afterRedeploy] = await usage();
    expect(afterRedeploy).toMatchObject({ id: 'c1', key: 'sandbox', sent: 1, failed: 1, failedByCategory: { auth: 1 }, removed: false, lastSuccess: expect.any(String), lastFailure: expect.any(String) });
    expect(afterRedeploy.recentFailures[0]).toMatchObject({ category: 'auth', aadsts: 7000215, hint: expect.stringContaining('hints.invalidSecret'), node: { id: 'e1' } });
    // The editor renders the keys in its own language and folds Microsoft's text.
    expect(afterRedeploy.recentFailures[0]).toMatchObject({ keys: { hintKey: 'node-red-contrib-office365-mail/email-task:email-task.hints.invalidSecret' }, details: expect.stringContaining('AADSTS7000215') });
    expect(afterRedeploy.days).toEqual([{ date: today(), sent: 1, failed: 1, failedByCategory: { auth: 1 }, throttled: 0, retried: 0, mailboxes: { [SANDBOX.senderEmail.toLowerCase()]: { sent: 1, failed: 1 } } }]);
    expect(Date.parse(String(afterRedeploy.since))).not.toBeNaN();

    // An unrelated flow replaces everything: the evidence stays, marked removed.
    const unrelated: FlowNode[] = [{ id: 't2', type: 'tab', label: 'other' }, { id: 'h1', type: 'helper', z: 't2' }];
    await redeploy(unrelated, 'full', {});
    const [removed] = await usage();
    expect(removed).toMatchObject({ id: null, key: 'sandbox', name: 'Sandbox', senderEmail: SANDBOX.senderEmail, sent: 1, failed: 1, removed: true, removedAt: expect.any(String) });
    expect(removed.recentFailures[0]).toMatchObject({ category: 'auth', aadsts: 7000215 });

    // Restart: everything stops (the file is written at once), and a new runtime reads it back.
    await helper.unload();
    expect(fs.existsSync(path.join(userDir, USAGE_FILE))).toBe(true);
    await loadMailFlow(flow);
    const [restarted] = await usage();
    expect(restarted).toMatchObject({ id: 'c1', key: 'sandbox', sent: 1, failed: 1, removed: false, removedAt: null, since: afterRedeploy.since });
    expect(restarted.recentFailures).toEqual(afterRedeploy.recentFailures);
    expect((await sendOne('after the restart')).sent).toHaveLength(1);
    expect((await usage())[0]).toMatchObject({ sent: 2, failed: 1 });

    // Nothing stored or served holds a secret or a token.
    expectNoLeaks([fs.readFileSync(path.join(userDir, USAGE_FILE), 'utf8'), await usage(), logText()], sandbox, [WRONG_SECRET]);
  });

  it('a connection whose Key changes starts afresh; the old Key keeps its history, removed', async () => {
    const flow = mailFlow(sandbox);
    await loadMailFlow(flow);
    await sendOne('under the old key');
    await redeploy(mailFlow(sandbox, {}, { key: 'renamed' }), 'full', { c1: { clientSecret: SANDBOX.clientSecret } });
    const list = await usage();
    expect(list.map((c) => [c.key, c.sent, c.removed])).toEqual([
      ['renamed', 0, false],
      ['sandbox', 1, true],
    ]);
  });

  it('editors hear of a change over comms without the data itself (it is read through the permission-checked endpoint)', async () => {
    // Node-RED's runtime publishes RED.comms messages as "comms" events to every connected editor
    // (the bus of the runtime the helper loaded: a require of @node-red/util could be another copy).
    const events = runtimeEvents();
    const messages: Array<{ topic: string; data: unknown }> = [];
    let announced: () => void = () => undefined;
    const listen = (m: { topic: string; data: unknown }): void => {
      if (m.topic !== 'office365-mail/usage') return;
      messages.push(m);
      announced();
    };
    events.on('comms', listen);
    try {
      await loadMailFlow(mailFlow(sandbox));
      const heard = new Promise<void>((resolve) => (announced = resolve));
      await sendOne('announced');
      await heard;
      expect(messages.length).toBeGreaterThan(0);
      for (const m of messages) expect(m.data).toEqual({ changed: expect.any(String) });
      expect(JSON.stringify(messages)).not.toContain(SANDBOX.senderEmail);
    } finally {
      events.off('comms', listen);
    }
  });

  it('connections closing together write the usage file once, when the last has closed', async () => {
    // 20 connections with their own Keys; a deploy without them closes all 20 at once.
    const connections = Array.from({ length: 20 }, (_, i) => ({ ...connectionConfig(sandbox), id: `c${i + 1}`, key: `key-${i + 1}` }));
    const credentials = Object.fromEntries(connections.map((c) => [c.id, { clientSecret: SANDBOX.clientSecret }]));
    const flow: FlowNode[] = [{ id: 't1', type: 'tab', label: 'test' }, ...connections];
    await helper.load([connectionNode, emailTaskNode, catchNode], flow, credentials);
    const file = path.join(userDir, USAGE_FILE);
    const renames = jest.spyOn(fs, 'renameSync');
    try {
      // Node-RED starts the new flows once every old node's close is done: the write is behind us.
      await redeploy([{ id: 't1', type: 'tab', label: 'test' }], 'full');
      expect(renames.mock.calls.filter(([, to]) => to === file)).toHaveLength(1);
    } finally {
      renames.mockRestore();
    }
  });

  it('one key by query or path; clear forgets it (JSON only, a Key required)', async () => {
    await loadMailFlow(mailFlow(sandbox));
    await sendOne('to be cleared');
    const byQuery = await helper.request().get('/office365-mail/usage').query({ key: 'sandbox' }).expect(200);
    const byPath = await helper.request().get('/office365-mail/usage/sandbox').expect(200);
    expect(byQuery.body).toEqual(byPath.body);
    expect((byPath.body as { connections: Usage[] }).connections.map((c) => [c.key, c.sent])).toEqual([['sandbox', 1]]);
    await helper.request().get('/office365-mail/usage/nobody').expect(404, { connections: [] });
    await helper.request().get('/office365-mail/usage').query({ key: '' }).expect(404, { connections: [] });

    await helper.request().post('/office365-mail/usage/clear').type('form').send({ key: 'sandbox' }).expect(415);
    await helper.request().post('/office365-mail/usage/clear').send({}).expect(400);
    await helper.request().post('/office365-mail/usage/clear').send({ key: 'nobody' }).expect(404, { ok: false });
    await helper.request().post('/office365-mail/usage/clear').send({ key: 'sandbox' }).expect(200, { ok: true });
    const [cleared] = await usage();
    expect(cleared).toMatchObject({ key: 'sandbox', sent: 0, failed: 0, lastSuccess: null, recentFailures: [], days: [], removed: false });
    // The clearing is written as any change: a restart does not bring the history back.
    await helper.unload();
    await loadMailFlow(mailFlow(sandbox));
    expect((await usage())[0]).toMatchObject({ sent: 0, recentFailures: [] });
  });
});
