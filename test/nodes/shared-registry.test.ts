/**
 * One runtime, many connection nodes: every connection with the same cloud, tenant, app and
 * credential shares one token, and every connection with the same network setup shares one HTTP
 * pool. Redeploys release both: no registry entry, socket or timer is left behind. Real runtime,
 * real sandbox; counts, not timings.
 */
import type { Node } from 'node-red';
import type { Sandbox } from '../../sandbox';
import { SANDBOX, manyAppsId, manyAppsSecret, manySenders, manySendersAddress } from '../../sandbox/config';
import type { ConnectionNode } from '../../nodes/node-red-runtime';
import type { Registry } from '../../nodes/lib/registry';
import { SHARED_POOL_SOCKETS } from '../../nodes/lib/http';
import { EMAIL_TASK_DEFAULTS } from '../../scripts/local-node-red';
import { connectionConfig, connectionNode, emailTaskNode, helper, redeploy, useSandboxAndRuntime, type FlowNode, type OutMsg } from '../support/node-red';

const CONNECTIONS = 20;
const REDEPLOYS = 20;

const currentSandbox = useSandboxAndRuntime({ directory: manySenders(CONNECTIONS, 2) });
let sandbox: Sandbox;
beforeEach(() => {
  sandbox = currentSandbox();
});

interface App {
  applicationId: string;
  clientSecret: string;
}
const MAIN_APP: App = { applicationId: SANDBOX.applicationId, clientSecret: SANDBOX.clientSecret };

/** Connections `c<n>` (sender n of the directory) with email tasks `e<n>` wired to helper nodes. */
function flowWith(apps: readonly App[], round = 0): { flow: FlowNode[]; credentials: Record<string, { clientSecret: string }> } {
  const flow: FlowNode[] = [{ id: 't1', type: 'tab', label: 'many' }];
  const credentials: Record<string, { clientSecret: string }> = {};
  apps.forEach((app, i) => {
    const n = i + 1;
    flow.push(
      // The name changes each round, so a redeploy replaces every connection (and its task).
      connectionConfig(sandbox, { id: `c${n}`, key: `conn-${n}`, name: `Connection ${n} round ${round}`, applicationId: app.applicationId, senderEmail: manySendersAddress(n) }),
      { id: `e${n}`, type: 'email-task', z: 't1', name: `mail ${n}`, ...EMAIL_TASK_DEFAULTS, connection: `c${n}`, wires: [[`ok${n}`], [`fail${n}`]] },
      { id: `ok${n}`, type: 'helper', z: 't1' },
      { id: `fail${n}`, type: 'helper', z: 't1' },
    );
    credentials[`c${n}`] = { clientSecret: app.clientSecret };
  });
  return { flow, credentials };
}

/** Sends one mail through each task and resolves with every output once all have left. */
function sendOneEach(count: number, topic: string): Promise<{ sent: OutMsg[]; failed: OutMsg[] }> {
  const sent: OutMsg[] = [];
  const failed: OutMsg[] = [];
  return new Promise((resolve) => {
    const check = (): void => {
      if (sent.length + failed.length === count) resolve({ sent, failed });
    };
    for (let n = 1; n <= count; n++) {
      const node = (id: string): Node => helper.getNode(id);
      node(`ok${n}`).on('input', (msg: OutMsg) => (sent.push(msg), check()));
      node(`fail${n}`).on('input', (msg: OutMsg) => (failed.push(msg), check()));
    }
    for (let n = 1; n <= count; n++) helper.getNode(`e${n}`).receive({ to: 'ada@example.com', topic: `${topic} ${n}`, payload: 'x' });
  });
}

function registryOf(id = 'c1'): Registry {
  const registry = (helper.getNode(id) as ConnectionNode).runtime?.registry;
  if (!registry) throw new Error(`connection ${id} has no runtime`);
  return registry;
}

/** Handles the process keeps open, by kind (timers, sockets), as Node reports them. */
function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

const EMPTY_FLOW: FlowNode[] = [{ id: 't1', type: 'tab', label: 'many' }];

describe('tokens and HTTP pools shared across connection nodes', () => {
  it(`${CONNECTIONS} connections of one app: one token request, at most ${SHARED_POOL_SOCKETS} TLS connections, one entry each in the registry`, async () => {
    const apps = Array.from({ length: CONNECTIONS }, () => MAIN_APP);
    const { flow, credentials } = flowWith(apps);
    await helper.load([connectionNode, emailTaskNode], flow, credentials);
    const registry = registryOf();
    expect(registry.tokens.size).toBe(1);
    expect(registry.pools.size).toBe(1);

    const { sent, failed } = await sendOneEach(CONNECTIONS, 'first');
    expect(failed.map((m) => m.error)).toEqual([]);
    expect(sent).toHaveLength(CONNECTIONS);
    for (let n = 1; n <= CONNECTIONS; n++) expect(sandbox.mail(manySendersAddress(n))).toHaveLength(1);
    const stats = sandbox.stats();
    expect(stats.tokenRequests).toBe(1);
    expect(stats.tlsConnections).toBeLessThanOrEqual(SHARED_POOL_SOCKETS);
    expect(registry.mailboxes.size).toBe(CONNECTIONS);
  });

  it(`${REDEPLOYS} redeploys of ${CONNECTIONS} connections: one token per deploy, the registry holds only what is deployed, and an empty deploy leaves no entry, socket or timer`, async () => {
    const before = activeResources();
    const apps = Array.from({ length: CONNECTIONS }, () => MAIN_APP);
    const first = flowWith(apps);
    await helper.load([connectionNode, emailTaskNode], first.flow, first.credentials);
    const registry = registryOf();
    for (let round = 1; round <= REDEPLOYS; round++) {
      const { flow, credentials } = flowWith(apps, round);
      await redeploy(flow, 'full', credentials);
      // The same registry: one per runtime, whatever is deployed.
      expect(registryOf(`c${CONNECTIONS}`)).toBe(registry);
      const { sent, failed } = await sendOneEach(CONNECTIONS, `round ${round}`);
      expect(failed.map((m) => m.error)).toEqual([]);
      expect(sent).toHaveLength(CONNECTIONS);
      expect(registry.tokens.size).toBe(1);
      expect(registry.pools.size).toBe(1);
      expect(registry.mailboxes.size).toBe(CONNECTIONS);
      // The old connections released their token: the new ones asked once, together.
      expect(sandbox.stats().tokenRequests).toBe(round);
    }
    expect(sandbox.mail()).toHaveLength(CONNECTIONS * REDEPLOYS);

    await redeploy(EMPTY_FLOW, 'full', {});
    expect(registry.tokens.size).toBe(0);
    expect(registry.pools.size).toBe(0);
    expect(registry.mailboxes.size).toBe(0);
    // The last release destroyed the pool's sockets: the sandbox sees every connection close.
    await sandbox.waitForOpenConnections(0);
    expect(sandbox.openConnections()).toBe(0);
    // Handles close a few event-loop turns after the sockets end (more under a loaded full run): let
    // them settle, a bounded number of turns, then the counts must be back where they started.
    const kinds = ['Timeout', 'TLSWRAP', 'TCPSocketWrap', 'TCPWRAP'];
    const leftover = (): string[] => kinds.filter((kind) => (activeResources()[kind] ?? 0) > (before[kind] ?? 0));
    for (let turn = 0; turn < 50 && leftover().length; turn++) await new Promise((resolve) => setTimeout(resolve, 20));
    const after = activeResources();
    for (const kind of kinds) expect({ kind, count: after[kind] ?? 0 }).toEqual({ kind, count: Math.min(after[kind] ?? 0, before[kind] ?? 0) });
  });

  it('another app (or a changed secret) is another entry: each app asks for its own token, mails go out as that app, and the pool stays shared', async () => {
    const other: App = { applicationId: manyAppsId(1), clientSecret: manyAppsSecret(1) };
    const mixed = flowWith([MAIN_APP, other, MAIN_APP, other]);
    await helper.load([connectionNode, emailTaskNode], mixed.flow, mixed.credentials);
    const registry = registryOf();
    expect(registry.tokens.size).toBe(2);
    expect(registry.pools.size).toBe(1);
    await sendOneEach(4, 'mixed');
    expect(sandbox.stats().tokenRequests).toBe(2);
    expect(sandbox.mail(manySendersAddress(2))[0].appId).toBe(other.applicationId);
    expect(sandbox.mail(manySendersAddress(3))[0].appId).toBe(SANDBOX.applicationId);

    // Every connection moves to a third app's credential: a new entry, never the old token.
    const third: App = { applicationId: manyAppsId(2), clientSecret: manyAppsSecret(2) };
    const moved = flowWith([third, third, third, third], 1);
    await redeploy(moved.flow, 'full', moved.credentials);
    expect(registry.tokens.size).toBe(1);
    const { failed } = await sendOneEach(4, 'moved');
    expect(failed.map((m) => m.error)).toEqual([]);
    expect(sandbox.stats().tokenRequests).toBe(3);
    for (let n = 1; n <= 4; n++) expect(sandbox.mail(manySendersAddress(n)).at(-1)?.appId).toBe(third.applicationId);
  });

  it('a token Graph revokes is refreshed once for every connection that shares it', async () => {
    const apps = Array.from({ length: 5 }, () => MAIN_APP);
    const { flow, credentials } = flowWith(apps);
    await helper.load([connectionNode, emailTaskNode], flow, credentials);
    await sendOneEach(5, 'before');
    sandbox.revokeTokens();
    const { sent, failed } = await sendOneEach(5, 'after');
    expect(failed.map((m) => m.error)).toEqual([]);
    expect(sent).toHaveLength(5);
    // One token at first, one refresh after the revocation: not one per connection.
    expect(sandbox.stats().tokenRequests).toBe(2);
  });

  it("closing one connection leaves the shared sockets to the others: another connection's mail in flight on them is delivered", async () => {
    const { flow, credentials } = flowWith([MAIN_APP, MAIN_APP]);
    await helper.load([connectionNode, emailTaskNode], flow, credentials);
    const registry = registryOf();
    // Connection 2's mail stays in flight while connection 1 closes (its own close is immediate: nothing in flight).
    sandbox.addFault({ target: 'sendMail', mailbox: manySendersAddress(2), delayMs: 1500, times: 1 });
    const arrived = new Promise<void>((resolve) => {
      sandbox.events.on('request', (r) => {
        if (r.target === 'graph' && r.path.includes(manySendersAddress(2))) resolve();
      });
    });
    const outcome = new Promise<{ sent?: OutMsg; failed?: OutMsg }>((resolve) => {
      helper.getNode('ok2').on('input', (msg: OutMsg) => resolve({ sent: msg }));
      helper.getNode('fail2').on('input', (msg: OutMsg) => resolve({ failed: msg }));
    });
    helper.getNode('e2').receive({ to: 'ada@example.com', topic: 'in flight', payload: 'x' });
    await arrived;
    const replaced = flowWith([MAIN_APP, MAIN_APP]).flow.map((n) => (n.id === 'c1' ? { ...n, name: 'renamed' } : n));
    await redeploy(replaced, 'nodes', credentials);
    expect(registry.pools.size).toBe(1);
    const { sent, failed } = await outcome;
    expect(failed?.error).toBeUndefined();
    expect(sent?.topic).toBe('in flight');
    expect(sandbox.mail(manySendersAddress(2))).toHaveLength(1);
  });
});
