/**
 * Graph's and Exchange's limits are per app and mailbox, not per connection node: two connection
 * nodes with the same app and sender (one per flow tab is common) share the 4 requests in flight,
 * the pause after a 429, pacing and the daily recipient budget. Real runtime, real sandbox.
 */
import type { Node } from 'node-red';
import type { Sandbox } from '../../sandbox';
import { SANDBOX, defaultDirectory } from '../../sandbox/config';
import type { ConnectionNode } from '../../nodes/node-red-runtime';
import { EMAIL_TASK_DEFAULTS } from '../../scripts/local-node-red';
import { withEnglish } from '../support/english';
import { catchNode, connectionConfig, connectionNode, emailTaskNode, helper, redeploy, useSandboxAndRuntime, type FlowNode, type OutMsg } from '../support/node-red';

const REPORTS = 'reports@contoso.onmicrosoft.com';

// A tenant whose Exchange admin allows 1,000 recipients per message (the most Exchange allows).
const directory = defaultDirectory();
directory.tenants[0].maxRecipientsPerMessage = 1000;
const currentSandbox = useSandboxAndRuntime({ directory });
let sandbox: Sandbox;
beforeEach(() => {
  sandbox = currentSandbox();
});

interface Task {
  sent: OutMsg[];
  failed: OutMsg[];
  statuses: Array<{ fill?: string; shape?: string; text?: string }>;
  send(msg: Record<string, unknown>): void;
  /** Resolves when `count` messages have left this task by either output. */
  settled(count: number): Promise<void>;
}

/**
 * Connections `c<n>` (each with its own options) and for each an email task `e<n>` wired to
 * helper nodes; every connection uses the sandbox's main app.
 */
function flowWith(connections: Array<Record<string, unknown>>): FlowNode[] {
  const flow: FlowNode[] = [{ id: 't1', type: 'tab', label: 'limits' }];
  connections.forEach((options, i) => {
    const n = i + 1;
    flow.push(
      connectionConfig(sandbox, { id: `c${n}`, key: `conn-${n}`, name: `Connection ${n}`, ...options }),
      { id: `e${n}`, type: 'email-task', z: 't1', name: `mail ${n}`, ...EMAIL_TASK_DEFAULTS, connection: `c${n}`, wires: [[`ok${n}`], [`fail${n}`]] },
      { id: `ok${n}`, type: 'helper', z: 't1' },
      { id: `fail${n}`, type: 'helper', z: 't1' },
    );
  });
  flow.push({ id: 'catcher', type: 'catch', z: 't1', scope: null, uncaught: false, wires: [] });
  return flow;
}

function credentials(count: number): Record<string, { clientSecret: string }> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`c${i + 1}`, { clientSecret: SANDBOX.clientSecret }]));
}

/** `english`: the runtime translates texts, for tests that read them. */
async function load(connections: Array<Record<string, unknown>>, english = false): Promise<Task[]> {
  const nodes = english ? [withEnglish(connectionNode), withEnglish(emailTaskNode), catchNode] : [connectionNode, emailTaskNode, catchNode];
  await helper.load(nodes, flowWith(connections), credentials(connections.length));
  return connections.map((_, i) => watch(i + 1));
}

function watch(n: number): Task {
  const waiters: Array<() => void> = [];
  const wake = (): void => waiters.splice(0).forEach((w) => w());
  const task: Task = {
    sent: [],
    failed: [],
    statuses: [],
    send: (msg) => helper.getNode(`e${n}`).receive(msg),
    settled: (count) =>
      new Promise((resolve) => {
        const check = (): void => (task.sent.length + task.failed.length >= count ? resolve() : void waiters.push(check));
        check();
      }),
  };
  const node = (id: string): Node => helper.getNode(id);
  node(`ok${n}`).on('input', (msg: OutMsg) => (task.sent.push(msg), wake()));
  node(`fail${n}`).on('input', (msg: OutMsg) => (task.failed.push(msg), wake()));
  (node(`e${n}`) as unknown as NodeJS.EventEmitter).on('call:status', (call: { args: [Task['statuses'][number]] }) => task.statuses.push(call.args[0]));
  return task;
}

function graphSends(): number {
  return sandbox.requests().filter((r) => r.target === 'graph' && r.path.toLowerCase().endsWith('/sendmail')).length;
}

const appMailbox = (mailbox = SANDBOX.senderEmail): string => `${SANDBOX.applicationId}|${mailbox}`.toLowerCase();

describe('limits per app and mailbox, across connection nodes', () => {
  it('a burst through two connections with the same app and mailbox never has more than 4 requests in flight and gets no 429', async () => {
    // The latency keeps requests in flight long enough for the two connections to overlap.
    sandbox.setLatency(20);
    const [a, b] = await load([{}, {}]);
    for (let i = 0; i < 40; i++) {
      a.send({ to: 'ada@example.com', topic: `a ${i}`, payload: 'burst' });
      b.send({ to: 'bob@example.com', topic: `b ${i}`, payload: 'burst' });
    }
    await Promise.all([a.settled(40), b.settled(40)]);
    expect([...a.failed, ...b.failed].map((m) => m.error)).toEqual([]);
    expect(sandbox.mail(SANDBOX.senderEmail)).toHaveLength(80);
    const stats = sandbox.stats();
    expect(stats.maxConcurrentPerAppMailbox[appMailbox()]).toBe(4);
    expect(stats.throttled).toBe(0);
    expect(sandbox.requests().filter((r) => r.status === 429)).toEqual([]);
  });

  it('a 429 with Retry-After seen through one connection pauses the other connection of the same mailbox too', async () => {
    const [a, b] = await load([{}, {}]);
    sandbox.addFault({ target: 'sendMail', status: 429, code: 'ApplicationThrottled', retryAfter: '2', times: 1 });
    // Once the first connection shows its wait, it has seen the 429 and its Retry-After.
    const waiting = new Promise<void>((resolve) => {
      (helper.getNode('e1') as unknown as NodeJS.EventEmitter).on('call:status', (call: { args: [{ fill?: string }] }) => {
        if (call.args[0].fill === 'yellow') resolve();
      });
    });
    a.send({ to: 'ada@example.com', topic: 'first', payload: 'x' });
    await waiting;
    b.send({ to: 'bob@example.com', topic: 'second', payload: 'x' });
    await Promise.all([a.settled(1), b.settled(1)]);
    expect(a.sent).toHaveLength(1);
    expect(b.sent).toHaveLength(1);
    // The other connection's mail waited out the mailbox's pause instead of going straight to Graph.
    expect(b.statuses).toContainEqual({ fill: 'yellow', shape: 'ring', text: expect.stringContaining('status.throttled') });
    expect((b.sent[0].email as { attempts: number }).attempts).toBe(1);
    expect(sandbox.requests().filter((r) => r.status === 429)).toHaveLength(1);
    const usage = (await helper.request().get('/office365-mail/usage')).body as { connections: Array<{ key: string; throttled: number }> };
    expect(usage.connections.find((c) => c.key === 'conn-2')?.throttled).toBe(1);
  });

  it('redeploying one connection fails only its own queued mail; the other connection of the mailbox sends all of its own', async () => {
    sandbox.setLatency(50);
    const [a, b] = await load([{}, {}]);
    let arrived = 0;
    const fourArrived = new Promise<void>((resolve) => {
      sandbox.events.on('request', (r) => {
        if (r.target === 'graph' && ++arrived === 4) resolve();
      });
    });
    for (let i = 0; i < 30; i++) {
      a.send({ to: 'ada@example.com', topic: `a ${i}`, payload: 'x' });
      b.send({ to: 'bob@example.com', topic: `b ${i}`, payload: 'x' });
    }
    await fourArrived;
    // Only connection 1 (and so its email task) is redeployed; its queued mail is cancelled.
    const changed = flowWith([{ name: 'renamed' }, {}]);
    await redeploy(changed, 'nodes', credentials(2));
    await Promise.all([a.settled(30), b.settled(30)]);
    expect(b.failed.map((m) => m.error)).toEqual([]);
    expect(b.sent).toHaveLength(30);
    expect(a.failed.length).toBeGreaterThan(0);
    for (const m of a.failed) expect(m.error).toMatchObject({ category: 'cancelled', code: 'Cancelled' });
    const delivered = sandbox.mail(SANDBOX.senderEmail).map((m) => String(m.message.subject));
    expect(delivered.sort()).toEqual([...a.sent, ...b.sent].map((m) => String(m.topic)).sort());
    expect(sandbox.stats().maxConcurrentPerAppMailbox[appMailbox()]).toBe(4);
  });

  it('redeploys leave no mailbox entry behind: the registry holds only what the deployed connections use', async () => {
    await load([{}, {}]);
    for (let deploy = 0; deploy < 6; deploy++) {
      const sender = deploy % 2 === 0 ? REPORTS : SANDBOX.senderEmail;
      const flow = flowWith([{ senderEmail: sender, maxMailsPerMinute: 100 }, { senderEmail: sender }]);
      await redeploy(flow, 'full', credentials(2));
      const tasks = [watch(1), watch(2)];
      tasks.forEach((t, i) => t.send({ to: 'ada@example.com', topic: `deploy ${deploy} ${i}`, payload: 'x' }));
      await Promise.all(tasks.map((t) => t.settled(1)));
      expect(tasks.flatMap((t) => t.failed)).toEqual([]);
      const registry = (helper.getNode('c1') as ConnectionNode).runtime?.registry;
      expect((helper.getNode('c2') as ConnectionNode).runtime?.registry).toBe(registry);
      expect(registry?.mailboxes.size).toBe(1);
    }
  });
});

describe('Exchange guards on the connection', () => {
  it('Recipients per day: counted per mailbox across connections (the stricter holds); mail past it fails at once as throttled and never reaches Graph', async () => {
    const [a, b] = await load([{ maxRecipientsPerDay: 3 }, { maxRecipientsPerDay: 50 }]);
    a.send({ to: 'ada@example.com, bob@example.com', topic: 'two', payload: 'x' });
    await a.settled(1);
    expect(a.sent).toHaveLength(1);
    b.send({ to: 'cy@example.com', cc: 'dee@example.com', topic: 'two more', payload: 'x' });
    await b.settled(1);
    expect(b.failed).toHaveLength(1);
    const error = b.failed[0].error as Record<string, unknown>;
    expect(error).toMatchObject({ category: 'throttled', code: 'RecipientBudgetExceeded', retryable: false, attempts: 0, status: null });
    expect(error.hint).toContain('hints.recipientBudgetExceeded');
    expect(graphSends()).toBe(1);
    // One more recipient still fits the budget of 3.
    b.send({ to: 'eve@example.com', topic: 'one', payload: 'x' });
    await b.settled(2);
    expect(b.sent).toHaveLength(1);
    expect(graphSends()).toBe(2);
  });

  it('Recipients per day: the refusal says why (Exchange blocks past 10,000) and from when room frees up', async () => {
    const [a] = await load([{ maxRecipientsPerDay: 1 }], true);
    const before = Date.now();
    a.send({ to: 'ada@example.com', topic: 'one', payload: 'x' });
    a.send({ to: 'bob@example.com', topic: 'two', payload: 'x' });
    a.send({ to: 'cy@example.com, dee@example.com', topic: 'never fits', payload: 'x' });
    await a.settled(3);
    expect(a.sent.map((m) => m.topic)).toEqual(['one']);
    const [overBudget, tooLarge] = a.failed.map((m) => m.error as { message: string; hint: string });
    expect(overBudget.message).toContain('1 of 1 recipients');
    expect(overBudget.hint).toContain('10,000');
    const freeAt = /from (\S+) \(UTC\)/.exec(overBudget.hint)?.[1];
    // Room frees up 24 h after the first mail was accepted.
    expect(Date.parse(String(freeAt)) - before).toBeGreaterThanOrEqual(24 * 60 * 60 * 1000);
    expect(Date.parse(String(freeAt)) - Date.now()).toBeLessThanOrEqual(24 * 60 * 60 * 1000);
    expect(tooLarge.hint).toContain("more recipients (2) than the connection's Recipients per day (1)");
  });

  it('Recipients per day: a mail that failed without being sent gives its recipients back', async () => {
    const [a] = await load([{ maxRecipientsPerDay: 2 }]);
    sandbox.blockMailbox(SANDBOX.senderEmail);
    a.send({ to: 'ada@example.com, bob@example.com', topic: 'blocked', payload: 'x' });
    await a.settled(1);
    expect(a.failed).toHaveLength(1);
    sandbox.unblockMailbox();
    a.send({ to: 'ada@example.com, bob@example.com', topic: 'again', payload: 'x' });
    await a.settled(2);
    expect(a.sent).toHaveLength(1);
  });

  it('Mails per minute: mail past the rate is held in the queue, not refused, while other mailboxes go on', async () => {
    const [paced, other] = await load([{ maxMailsPerMinute: 2 }, { senderEmail: REPORTS }]);
    for (let i = 0; i < 4; i++) paced.send({ to: 'ada@example.com', topic: `paced ${i}`, payload: 'x' });
    await sandbox.waitForMail(2, SANDBOX.senderEmail);
    // A mail from another mailbox goes out meanwhile: the paced ones are still waiting, unrefused.
    other.send({ to: 'bob@example.com', topic: 'unpaced', payload: 'x' });
    await other.settled(1);
    expect(other.sent).toHaveLength(1);
    await paced.settled(2);
    expect(paced.sent.map((m) => m.topic)).toEqual(['paced 0', 'paced 1']);
    expect(paced.failed).toEqual([]);
    expect(sandbox.mail(SANDBOX.senderEmail).map((m) => m.message.subject)).toEqual(['paced 0', 'paced 1']);
  });
});

describe('Exchange-side limits Graph reports', () => {
  it.each([
    ['ErrorMessageSubmissionBlocked', 403, undefined],
    ['SubmissionQuotaExceeded', 429, '1'],
  ] as const)('%s (%i) fails as mailbox with its own hint, not as a permission problem, and is not retried', async (code, status, retryAfter) => {
    const [a] = await load([{}]);
    sandbox.blockMailbox(SANDBOX.senderEmail, { code, status, retryAfter });
    a.send({ to: 'ada@example.com', topic: 'blocked', payload: 'x' });
    await a.settled(1);
    expect(a.failed[0].error).toMatchObject({ category: 'mailbox', code, graphCode: code, status, retryable: false, attempts: 1 });
    expect((a.failed[0].error as { hint: string }).hint).toContain('hints.submissionBlocked');
    expect(graphSends()).toBe(1);
  });

  it('Max recipients up to 1,000 when the tenant allows it', async () => {
    const [a] = await load([{ maxRecipients: 1000 }]);
    const to = Array.from({ length: 1000 }, (_, i) => `r${i}@example.com`);
    a.send({ to, topic: 'a thousand', payload: 'x' });
    a.send({ to: [...to, 'one-more@example.com'], topic: 'too many', payload: 'x' });
    await a.settled(2);
    expect(a.sent.map((m) => m.topic)).toEqual(['a thousand']);
    expect(a.failed[0].error).toMatchObject({ category: 'validation', code: 'TooManyRecipients' });
    expect(graphSends()).toBe(1);
  });
});
