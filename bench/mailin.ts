/**
 * bench:mailin — the "email in" node (issue 15):
 *
 *   (a) idle: 100 email-in nodes (100 connections of one app, a mailbox each) in a real Node-RED
 *       child process, polling an idle sandbox every 10 s. CPU of the Node-RED process
 *       (/proc/<pid>/stat) per second of wall time over several poll rounds, as a % of one core
 *       (goal < 1%); Graph requests per node per poll counted by the sandbox (goal exactly 1).
 *       Polls are counted from the sandbox's request log independently of the requests: a node's
 *       requests closer together than half the interval belong to one poll.
 *   (b) burst: 1,000 new mails injected into one mailbox, then one poll of one node (in-process
 *       Node-RED, node-red-node-test-helper): the time until all 1,000 messages are out, against
 *       the same Graph requests (delta pages of 50, then a PATCH isRead per mail, one after the
 *       other as the node makes them) made with the same axios client set-up (the package's
 *       shared pool) in the same process, rounds alternating, medians. Goal < 2 ×.
 *
 *   npm run bench:mailin   (BENCH_MAILIN_NODES=100, BENCH_MAILIN_ROUNDS=6 poll rounds,
 *                           BENCH_MAILIN_N=1000, BENCH_MAILIN_BURSTS=3, BENCH_MAILIN_PROFILE=1)
 *
 * Figures: the `mailin` entry of bench/results/latest.json (and bench/results/mailin.json).
 * Exit code 1 only when something broke (a message missing, a process that did not start).
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Node } from 'node-red';
import { startSandbox, type Sandbox } from '../sandbox';
import { manySenders, manySendersAddress, SANDBOX } from '../sandbox/config';
import type { RecordedRequest } from '../sandbox/state';
import { sandboxConnectionFields } from '../scripts/local-node-red';
import type { FlowNode } from './lib/flows';
import { NodeRedProcess, procStatCpuMs } from './lib/node-red-process';
import { fixed, intFromEnv, median, saveResult } from './lib/stats';
import { formatHeapSummary, formatSummary, summariseHeap, summarise } from './lib/profile-summary';
import { startProfile } from './lib/profile-session';
import { connectionConfig, connectionNode, helper } from '../test/support/node-red';
import { SHARED_POOL_SOCKETS, createHttpPool } from '../nodes/lib/http';
import { MESSAGE_SELECT } from '../nodes/lib/mail-in-message';

/* eslint-disable @typescript-eslint/no-require-imports -- the built CommonJS node, as Node-RED loads it */
const mailInNode = require(path.join(__dirname, '..', 'dist', 'nodes', 'office365-mail-in.js'));
/* eslint-enable @typescript-eslint/no-require-imports */


const NODES = intFromEnv('BENCH_MAILIN_NODES', 100);
const POLL_ROUNDS = intFromEnv('BENCH_MAILIN_ROUNDS', 6);
const N = intFromEnv('BENCH_MAILIN_N', 1000);
const BURSTS = intFromEnv('BENCH_MAILIN_BURSTS', 3);
const POLL_SECONDS = 10;
/**
 * Idle CPU against the same polls by the lean axios client inside the same Node-RED: the goal this
 * bench proposes in place of "< 1% of a core", which Node's own https.request misses here at this
 * cadence (bench/README.md).
 */
const IDLE_FLOOR_GOAL = 1.25;
const POLL_FLOOR_LABELS: Record<PollFloorResult['mode'], string> = {
  'axios in Node-RED': 'lean axios inside the same Node-RED (nodes removed, connections kept; mean of the windows before and after)',
  axios: 'lean axios in a plain process',
  https: 'https.request in a plain process',
};
/** What the node asks for (nodes/lib/mail-in.ts): pages of 50, immutable ids. */
const PAGE_PREFER = 'odata.maxpagesize=50, IdType="ImmutableId"';
const RESULTS_DIR = path.join(__dirname, 'results');
const TAB = 'ma11e000000000001';
/** BENCH_MAILIN_PROFILE=1: after each measured window, a CPU profile of Node-RED over 3 more poll rounds (bench/results/profiles/mailin-idle.cpuprofile, and mailin-idle-lean for the lean axios polls); `heap`: their allocations instead (.heapprofile). */
const PROFILE = process.env.BENCH_MAILIN_PROFILE === '1' || process.env.BENCH_MAILIN_PROFILE === 'heap';
const PROFILE_EXT = process.env.BENCH_MAILIN_PROFILE === 'heap' ? 'heapprofile' : 'cpuprofile';

/** Profiles the process for msg.payload.ms, then answers (after the measured window, never during it). */
const PROFILE_JS = `
const bench = global.get('bench');
const profiler = bench.startProfile(msg.payload.file.endsWith('.heapprofile') ? 'heap' : 'cpu');
profiler.started.then(() => setTimeout(() => profiler.stop(msg.payload.file).then(() => node.send(msg)), Number(msg.payload.ms)));
return null;
`;

function verdict(met: boolean): string {
  return met ? 'goal met' : 'GOAL MISSED';
}

function waitMs(ms: number): Promise<void> {
  // The bench measures over wall time: waiting is the measurement here, not a synchronisation.
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The mailbox a Graph request was for (`/v1.0/users/{mailbox}/…`), lower-case. */
function mailboxOf(entry: RecordedRequest): string | undefined {
  const m = /^\/v1\.0\/users\/([^/]{1,320})\//.exec(entry.path);
  return m ? decodeURIComponent(m[1]).toLowerCase() : undefined;
}

// ── (a) idle polling ──

/** POST /bench/profile {ms, file}: a CPU or allocation profile (by the file's extension) of the process over ms (both idle flows have it). */
function profileNodes(): FlowNode[] {
  return [
    { id: 'ma11e000000000002', type: 'http in', z: TAB, name: '', url: '/bench/profile', method: 'post', upload: false, swaggerDoc: '', x: 120, y: 80, wires: [['ma11e000000000003']] },
    { id: 'ma11e000000000003', type: 'function', z: TAB, name: 'profile', func: PROFILE_JS, outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [], x: 300, y: 80, wires: [['ma11e000000000004']] },
    { id: 'ma11e000000000004', type: 'http response', z: TAB, name: '', statusCode: '', headers: {}, x: 480, y: 80, wires: [] },
  ];
}

/** After the measured window, never during it: 3 poll rounds under the profiler, summarised. */
async function profileIdle(nr: NodeRedProcess, name: string, title: string): Promise<void> {
  fs.mkdirSync(path.join(RESULTS_DIR, 'profiles'), { recursive: true });
  const file = path.join(RESULTS_DIR, 'profiles', `${name}.${PROFILE_EXT}`);
  const res = await fetch(`${nr.url}/bench/profile`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ms: 3 * POLL_SECONDS * 1000, file }) });
  if (!res.ok) throw new Error(`the profile answered ${res.status}`);
  const summary = PROFILE_EXT === 'heapprofile' ? formatHeapSummary(summariseHeap(file), title) : formatSummary(summarise(file), title);
  process.stdout.write(`\n${summary}\n\n`);
}

/** The nodes and their connections; `mailIn: false`: the connections only (the lean polls' flow keeps them deployed). */
function idleFlow(sandboxUrl: string, nodes: number, mailIn = true): FlowNode[] {
  const flow: FlowNode[] = [{ id: TAB, type: 'tab', label: 'Mail-in benchmark', disabled: false, info: '' }, ...profileNodes()];
  for (let i = 0; i < nodes; i++) {
    const connection = `ma11e2${String(i).padStart(11, '0')}`;
    flow.push({ id: connection, type: 'office365-mail-connection', ...sandboxConnectionFields(sandboxUrl), key: `mailin-${i + 1}`, name: `Mailbox ${i + 1}`, senderEmail: manySendersAddress(i + 1) });
    if (!mailIn) continue;
    flow.push(
      {
        id: `ma11e1${String(i).padStart(11, '0')}`,
        type: 'office365-mail-in',
        z: TAB,
        name: '',
        connection,
        mailbox: '',
        folder: 'Inbox',
        pollInterval: POLL_SECONDS,
        onlyUnread: true,
        attachments: 'content',
        maxAttachmentSize: 25,
        afterRead: 'markRead',
        moveTo: '',
        start: 'new',
        x: 200,
        y: 40 + (i % 50) * 10,
        wires: [[]],
      },
    );
  }
  return flow;
}

/** The same polls without the node: by the lean axios client in Node-RED, or from a plain process (bench/poll-floor.ts). */
interface PollFloorResult {
  mode: 'axios in Node-RED' | 'axios' | 'https';
  cpuPercent: number;
  graphRequests: number;
  /** In Node-RED: the windows before and after the nodes' (cpuPercent is their mean). */
  before?: number;
  after?: number;
}

/** Starts the lean pollers of the bench's settings hook (global `bench.leanPoll`) and answers when each mailbox has its deltaLink. */
const LEAN_POLL_JS = `
global.get('bench').leanPoll(msg.payload).then(
  (stop) => { context.set('stop', stop); msg.payload = { ok: true }; node.send(msg); },
  (err) => { msg.statusCode = 500; msg.payload = { error: String(err) }; node.send(msg); },
);
return null;
`;

/** The lean pollers' starter, beside the same connections, idle: the heap Node-RED has to collect is the same. */
function leanPollFlow(sandboxUrl: string): FlowNode[] {
  return [
    ...idleFlow(sandboxUrl, NODES, false),
    { id: 'ma11e000000000005', type: 'http in', z: TAB, name: '', url: '/bench/lean-poll', method: 'post', upload: false, swaggerDoc: '', x: 120, y: 20, wires: [['ma11e000000000006']] },
    // Redeployed away (the nodes' turn), the pollers stop with it.
    { id: 'ma11e000000000006', type: 'function', z: TAB, name: 'lean polls', func: LEAN_POLL_JS, outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: "const stop = context.get('stop'); if (stop) stop();", libs: [], x: 300, y: 20, wires: [['ma11e000000000007']] },
    { id: 'ma11e000000000007', type: 'http response', z: TAB, name: '', statusCode: '', headers: {}, x: 480, y: 20, wires: [] },
  ];
}

/** The nodes' polls made by the lean axios client inside the same Node-RED (the email-in nodes gone, their connections kept): CPU over a window as long. */
async function leanPollsInNodeRed(nr: NodeRedProcess, sandbox: Sandbox, windowMs: number): Promise<PollFloorResult> {
  await nr.deploy(leanPollFlow(sandbox.url));
  const mailboxes = Array.from({ length: NODES }, (_, i) => manySendersAddress(i + 1));
  const res = await fetch(`${nr.url}/bench/lean-poll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mailboxes, select: MESSAGE_SELECT.join(','), everyMs: POLL_SECONDS * 1000 }) });
  if (!res.ok) throw new Error(`the lean polls did not start: ${res.status} ${await res.text()}`);
  const from = sandbox.requests().length;
  const cpuPercent = await cpuPercentOver(nr.pid, windowMs);
  const graphRequests = sandbox.requests().slice(from).filter((e) => e.target === 'graph' && e.status === 200).length;
  return { mode: 'axios in Node-RED', cpuPercent, graphRequests };
}

interface IdleResult {
  nodes: number;
  pollSeconds: number;
  windowSeconds: number;
  /** Node-RED with no flow, same process, before the deploy: what the runtime costs by itself. */
  emptyCpuPercent: number;
  cpuPercent: number;
  graphRequests: number;
  tokenRequests: number;
  polls: number;
  expectedPolls: number;
  requestsPerPoll: number;
  /** Mailboxes whose polls made more or fewer than one request each. */
  nodesNotOnePerPoll: number;
  failedRequests: number;
  floors: PollFloorResult[];
  /** Node-RED's CPU ÷ the same polls by the lean axios client in the same Node-RED, windows as long. */
  ratioToLeanInNodeRed: number;
}

/** The floor client polling the sandbox over a window as long as the node's; its CPU from /proc. */
async function pollFloor(sandbox: Sandbox, mode: 'axios' | 'https', windowMs: number): Promise<PollFloorResult> {
  const child = fork(path.join(__dirname, 'poll-floor.ts'), [], {
    execArgv: ['--require', require.resolve('tsx/cjs')],
    env: { ...process.env, BENCH_SANDBOX_URL: sandbox.url, BENCH_FLOOR_MODE: mode, BENCH_POLL_MAILBOXES: String(NODES), BENCH_POLL_SECONDS: String(POLL_SECONDS) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const kill = (): void => void child.kill('SIGKILL');
  process.once('exit', kill);
  try {
    const failed = new Promise<never>((_, reject) => {
      child.on('message', (m: { type: string; message?: string }) => m.type === 'error' && reject(new Error(`${mode} poll floor: ${m.message}`)));
      child.once('exit', (code) => reject(new Error(`the ${mode} poll floor exited (${code})`)));
    });
    await Promise.race([new Promise<void>((resolve) => child.on('message', (m: { type: string }) => m.type === 'ready' && resolve())), failed]);
    // Its first polls come one interval after "ready": the window holds POLL_ROUNDS of them, as the node's does.
    const from = sandbox.requests().length;
    const cpuPercent = await Promise.race([cpuPercentOver(child.pid ?? 0, windowMs), failed]);
    const graphRequests = sandbox.requests().slice(from).filter((e) => e.target === 'graph' && e.status === 200).length;
    return { mode, cpuPercent, graphRequests };
  } finally {
    child.disconnect();
    kill();
    process.off('exit', kill);
  }
}

async function cpuPercentOver(pid: number, ms: number): Promise<number> {
  const cpu0 = procStatCpuMs(pid);
  const t0 = performance.now();
  await waitMs(ms);
  const cpu1 = procStatCpuMs(pid);
  const wall = performance.now() - t0;
  if (cpu0 === undefined || cpu1 === undefined) return Number.NaN;
  return ((cpu1 - cpu0) / wall) * 100;
}

async function idle(): Promise<IdleResult> {
  const sandbox = await startSandbox({ directory: manySenders(NODES) });
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: sandbox.caPath, BENCH_SANDBOX_URL: sandbox.url };
  delete env.NODE_OPTIONS;
  let nr: NodeRedProcess | undefined;
  const stop = (): void => nr?.killNow();
  process.once('exit', stop);
  try {
    nr = await NodeRedProcess.start({ name: 'mailin', withPackage: true, env, logLevel: 'info' });
    await nr.deploy([{ id: TAB, type: 'tab', label: 'Mail-in benchmark', disabled: false, info: '' }]);
    const emptyCpuPercent = await cpuPercentOver(nr.pid, 2 * POLL_SECONDS * 1000);

    // The lean polls before and after the nodes' window, in the same process: the process's own
    // drift after start-up (an empty Node-RED still takes about 0.9% of a core in its first 20 s)
    // falls on both sides of the comparison alike.
    const windowMs = (POLL_ROUNDS + 0.5) * POLL_SECONDS * 1000;
    const leanBefore = await leanPollsInNodeRed(nr, sandbox, windowMs);

    // Every node's first poll (its baseline round) done: one delta answer per mailbox (the node's
    // requests carry a client-request-id; the stopped lean pollers' never did).
    const firstPolls = new Set<string>();
    const allPolled = new Promise<void>((resolve) => {
      const onDone = (entry: RecordedRequest): void => {
        const box = mailboxOf(entry);
        if (box && entry.clientRequestId && entry.path.endsWith('/delta') && entry.status === 200) firstPolls.add(box);
        if (firstPolls.size === NODES) {
          sandbox.events.off('request-done', onDone);
          resolve();
        }
      };
      sandbox.events.on('request-done', onDone);
    });
    await nr.deploy(idleFlow(sandbox.url, NODES));
    await allPolled;

    // The window: POLL_ROUNDS rounds, ending half an interval after the last (polls are set from
    // the end of the previous one, so no round straddles the edges).
    const from = sandbox.requests().length;
    const cpuPercent = await cpuPercentOver(nr.pid, windowMs);
    const log = sandbox.requests().slice(from);
    if (PROFILE) await profileIdle(nr, 'mailin-idle', `Node-RED process, ${NODES} email-in nodes idle, 3 poll rounds`);
    // The same polls by the lean axios client inside the same Node-RED process, the email-in nodes removed.
    const leanAfter = await leanPollsInNodeRed(nr, sandbox, windowMs);
    if (PROFILE) await profileIdle(nr, 'mailin-idle-lean', `Node-RED process, the same polls by lean axios, 3 poll rounds`);
    const inProcess: PollFloorResult = {
      mode: 'axios in Node-RED',
      cpuPercent: (leanBefore.cpuPercent + leanAfter.cpuPercent) / 2,
      graphRequests: (leanBefore.graphRequests + leanAfter.graphRequests) / 2,
      before: leanBefore.cpuPercent,
      after: leanAfter.cpuPercent,
    };
    // Node-RED stopped first: the floors measure their polls alone on the machine.
    await nr.stop();
    nr = undefined;
    const floors: PollFloorResult[] = [];
    for (const mode of ['axios', 'https'] as const) floors.push(await pollFloor(sandbox, mode, windowMs));
    const graph = log.filter((e) => e.target === 'graph');
    const byBox = new Map<string, number[]>();
    for (const e of graph) {
      const box = mailboxOf(e) ?? '?';
      const times = byBox.get(box) ?? [];
      times.push(e.time.getTime());
      byBox.set(box, times);
    }
    let polls = 0;
    let nodesNotOnePerPoll = 0;
    for (const times of byBox.values()) {
      times.sort((a, b) => a - b);
      let own = 1;
      for (let i = 1; i < times.length; i++) if (times[i] - times[i - 1] > (POLL_SECONDS * 1000) / 2) own++;
      polls += own;
      if (own !== times.length) nodesNotOnePerPoll++;
    }
    return {
      nodes: NODES,
      pollSeconds: POLL_SECONDS,
      windowSeconds: windowMs / 1000,
      emptyCpuPercent,
      cpuPercent,
      graphRequests: graph.length,
      tokenRequests: log.filter((e) => e.target === 'token').length,
      polls,
      expectedPolls: NODES * POLL_ROUNDS,
      requestsPerPoll: graph.length / polls,
      nodesNotOnePerPoll: nodesNotOnePerPoll + (NODES - byBox.size),
      failedRequests: graph.filter((e) => e.status !== 200).length,
      floors: [inProcess, ...floors],
      ratioToLeanInNodeRed: cpuPercent / inProcess.cpuPercent,
    };
  } finally {
    await nr?.stop();
    await sandbox.close();
    process.off('exit', stop);
  }
}

// ── (b) a burst of 1,000 new mails ──

/** The Node methods node-red-node-test-helper spies on (its PROXY_METHODS). */
const HELPER_SPIED = ['log', 'status', 'warn', 'error', 'debug', 'trace', 'send'];

interface BurstRound {
  round: number;
  nodeMs: number;
  baselineMs: number;
  ratio: number;
  emitted: number;
  nodeRequests: number;
  baselineRequests: number;
}

function injectMany(sandbox: Sandbox, mailbox: string, round: number): void {
  for (let i = 0; i < N; i++) sandbox.injectMail(mailbox, { subject: `burst ${round} mail ${i}`, from: 'customer@example.com', text: `Order ${i}: 1 × widget.` });
}

/**
 * The node's requests for a burst, without the node: the delta pages (a full round on a mailbox
 * holding just the burst: the same pages the node's deltaLink round gets) and a PATCH isRead per
 * mail, one after the other, on an axios client set up as the connection's shared pool is.
 */
async function baseline(sandbox: Sandbox, mailbox: string, token: string, http: ReturnType<typeof createHttpPool>['axios']): Promise<number> {
  const headers = { Authorization: `Bearer ${token}`, Prefer: PAGE_PREFER };
  let link: string | undefined = `${sandbox.url}/v1.0/users/${mailbox}/mailFolders/inbox/messages/delta?$select=${MESSAGE_SELECT.join(',')}`;
  let patched = 0;
  while (link) {
    const page = await http.get(link, { headers });
    if (page.status !== 200) throw new Error(`baseline delta answered ${page.status}`);
    const data = page.data as { value: Array<{ id: string }>; '@odata.nextLink'?: string };
    for (const item of data.value) {
      const res = await http.patch(`${sandbox.url}/v1.0/users/${mailbox}/messages/${encodeURIComponent(item.id)}`, { isRead: true }, { headers: { Authorization: headers.Authorization, Prefer: 'IdType="ImmutableId"', 'content-type': 'application/json' } });
      if (res.status !== 200) throw new Error(`baseline PATCH answered ${res.status}`);
      patched++;
    }
    link = data['@odata.nextLink'];
  }
  return patched;
}

async function burst(): Promise<{ rounds: BurstRound[]; medianRatio: number; medianNodeMs: number; medianBaselineMs: number }> {
  const sandbox = await startSandbox({ directory: manySenders(BURSTS + 1) });
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'o365-bench-mailin-'));
  const pool = createHttpPool({ maxSockets: SHARED_POOL_SOCKETS });
  let restoreSpies = (): void => undefined;
  try {
    helper.settings({ userDir });
    await helper.startServer();
    // pollInterval long: the timer never polls during a round; the round's poll is pollNow().
    const flow: FlowNode[] = [
      { id: 't1', type: 'tab', label: 'bench' },
      connectionConfig(sandbox),
      { id: 'm1', type: 'office365-mail-in', z: 't1', name: 'in', connection: 'c1', pollInterval: 86400, start: 'new', afterRead: 'markRead', attachments: 'content', wires: [['out']] },
      { id: 'out', type: 'helper', z: 't1' },
    ];
    // node-red-node-test-helper wraps Node's send, status and log methods in sinon spies, which a
    // Node-RED outside tests does not have (7% of the burst's CPU): the originals while measuring.
    const proto = (helper as unknown as { _NodePrototype: Record<string, unknown> })._NodePrototype;
    const originals = HELPER_SPIED.map((name) => [name, proto[name]] as const);
    await helper.load([connectionNode, mailInNode], flow, { c1: { clientSecret: SANDBOX.clientSecret } });
    const spied = HELPER_SPIED.map((name) => [name, proto[name]] as const);
    for (const [name, fn] of originals) proto[name] = fn;
    restoreSpies = () => {
      for (const [name, fn] of spied) proto[name] = fn;
    };
    const node = helper.getNode('m1') as Node & { pollNow?: () => Promise<{ emitted: number; error?: unknown }> };
    if (!node.pollNow) throw new Error('the email in node did not start');
    await node.pollNow(); // after the deploy's own first poll: the baseline round is done
    let out = 0;
    let waiter: (() => void) | undefined;
    helper.getNode('out').on('input', () => {
      out++;
      if (out === N) waiter?.();
    });
    const tokenAnswer = await pool.axios.post(
      `${sandbox.url}/${SANDBOX.tenantId}/oauth2/v2.0/token`,
      new URLSearchParams({ client_id: SANDBOX.applicationId, client_secret: SANDBOX.clientSecret, scope: `${sandbox.url}/.default`, grant_type: 'client_credentials' }).toString(),
      { headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    );
    const token = (tokenAnswer.data as { access_token: string }).access_token;
    const rounds: BurstRound[] = [];
    // Round 0 warms up both sides (sockets, JIT) and is not counted.
    // With BENCH_MAILIN_PROFILE=1 one more round, not counted, runs the node's poll under the profiler.
    const lastRound = PROFILE ? BURSTS + 1 : BURSTS;
    for (let round = 0; round <= lastRound; round++) {
      const profiled = round > BURSTS;
      // The node's burst.
      out = 0;
      injectMany(sandbox, SANDBOX.senderEmail, round);
      let from = sandbox.requests().length;
      const allOut = new Promise<void>((resolve) => (waiter = resolve));
      const profiler = profiled ? await startProfile() : undefined;
      const t0 = performance.now();
      const outcome = await node.pollNow();
      await allOut;
      const nodeMs = performance.now() - t0;
      if (profiler) {
        const file = path.join(RESULTS_DIR, 'profiles', 'mailin-burst.cpuprofile');
        fs.mkdirSync(path.dirname(file), { recursive: true });
        await profiler.stop(file);
        process.stdout.write(`\n${formatSummary(summarise(file), `${N} mails through one email-in node (sandbox in the same process)`)}\n\n`);
        break;
      }
      if (outcome.error || outcome.emitted !== N) throw new Error(`round ${round}: the node emitted ${outcome.emitted} of ${N}${outcome.error ? ' and failed' : ''}`);
      const nodeRequests = sandbox.requests().slice(from).filter((e) => e.target === 'graph').length;
      // The same requests, alone, on a mailbox holding just this burst.
      const box = manySendersAddress(round + 1);
      injectMany(sandbox, box, round);
      from = sandbox.requests().length;
      const t1 = performance.now();
      const patched = await baseline(sandbox, box, token, pool.axios);
      const baselineMs = performance.now() - t1;
      if (patched !== N) throw new Error(`round ${round}: the baseline saw ${patched} of ${N} mails`);
      const baselineRequests = sandbox.requests().slice(from).filter((e) => e.target === 'graph').length;
      if (round > 0) rounds.push({ round, nodeMs, baselineMs, ratio: nodeMs / baselineMs, emitted: out, nodeRequests, baselineRequests });
    }
    return {
      rounds,
      medianRatio: median(rounds.map((r) => r.ratio)),
      medianNodeMs: median(rounds.map((r) => r.nodeMs)),
      medianBaselineMs: median(rounds.map((r) => r.baselineMs)),
    };
  } finally {
    pool.destroy();
    // Back as the helper left them, so its unload restores them itself.
    restoreSpies();
    await helper.unload();
    await helper.stopServer();
    await sandbox.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const started = new Date();
  const load0 = os.loadavg();
  const burstResult = await burst();
  const idleResult = await idle();
  const load1 = os.loadavg();
  const goals = {
    idleCpuPercent: { value: idleResult.cpuPercent, goal: '< 1', met: idleResult.cpuPercent < 1 },
    idleCpuToLeanInNodeRed: { value: idleResult.ratioToLeanInNodeRed, goal: `≤ ${IDLE_FLOOR_GOAL}`, met: idleResult.ratioToLeanInNodeRed <= IDLE_FLOOR_GOAL },
    requestsPerPoll: { value: idleResult.requestsPerPoll, goal: '1', met: idleResult.requestsPerPoll === 1 && idleResult.nodesNotOnePerPoll === 0 },
    burstRatio: { value: burstResult.medianRatio, goal: '< 2', met: burstResult.medianRatio < 2 },
  };
  const lines = [
    `bench:mailin  Node ${process.version}, ${os.cpus().length} CPUs, load ${load0.map((l) => l.toFixed(2)).join(' ')} → ${load1.map((l) => l.toFixed(2)).join(' ')}`,
    `(a) ${NODES} email-in nodes polling an idle sandbox every ${POLL_SECONDS} s, ${idleResult.windowSeconds} s window:`,
    `  Node-RED CPU           ${fixed(idleResult.cpuPercent, 2)} % of a core  (goal < 1)  ${verdict(goals.idleCpuPercent.met)}   (empty flow: ${fixed(idleResult.emptyCpuPercent, 2)} %)`,
    ...idleResult.floors.map((f) => `  the same polls, ${POLL_FLOOR_LABELS[f.mode]}: ${fixed(f.cpuPercent, 2)} % of a core${f.before !== undefined && f.after !== undefined ? ` (${fixed(f.before, 2)}, ${fixed(f.after, 2)})` : ''} (${f.graphRequests} requests)`),
    `  Node-RED ÷ lean axios in Node-RED  ${fixed(idleResult.ratioToLeanInNodeRed, 2)}  (proposed goal ≤ ${IDLE_FLOOR_GOAL})  ${verdict(goals.idleCpuToLeanInNodeRed.met)}`,
    `  requests per poll      ${fixed(idleResult.requestsPerPoll, 3)}  (${idleResult.graphRequests} Graph requests, ${idleResult.polls} polls, ${idleResult.expectedPolls} expected, ${idleResult.nodesNotOnePerPoll} nodes off 1, ${idleResult.tokenRequests} token requests, ${idleResult.failedRequests} failed)  (goal 1)  ${verdict(goals.requestsPerPoll.met)}`,
    `(b) ${N} new mails, one poll, all messages out; the same Graph requests alone (medians of ${BURSTS} rounds):`,
    ...burstResult.rounds.map((r) => `  round ${r.round}: node ${fixed(r.nodeMs, 0)} ms (${r.nodeRequests} requests), requests alone ${fixed(r.baselineMs, 0)} ms (${r.baselineRequests} requests), ratio ${fixed(r.ratio, 2)}`),
    `  node ÷ requests alone  ${fixed(burstResult.medianRatio, 2)}  (goal < 2)  ${verdict(goals.burstRatio.met)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const result = {
    started: started.toISOString(),
    finished: new Date().toISOString(),
    command: 'npm run bench:mailin',
    load: { before: load0, after: load1 },
    config: { nodes: NODES, pollSeconds: POLL_SECONDS, pollRounds: POLL_ROUNDS, mails: N, bursts: BURSTS },
    idle: idleResult,
    burst: burstResult,
    goals,
  };
  // Run alone, it updates latest.json's `mailin` entry.
  saveResult(RESULTS_DIR, 'mailin', result);
  if (idleResult.failedRequests > 0) throw new Error(`${idleResult.failedRequests} poll requests failed`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:mailin: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
