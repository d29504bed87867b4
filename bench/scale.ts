/**
 * bench:scale — one Node-RED runtime, many connection nodes (issue 17). A real Node-RED child
 * process (this package linked into its user dir), the sandbox in this process with 100 ms latency:
 *
 *   1. 1,000 connection nodes (one tenant, one app, one secret, 1,000 sender mailboxes), each with
 *      an email task, deployed at once, then one mail through every task at once. Goals: 1 token
 *      request, ≤ 16 TLS connections to the Graph host, RSS growth of the Node-RED process for the
 *      deploy plus the mails ≤ 40 MB, every mail delivered once, no 429, deploy under 1 s.
 *   2. 100 connection nodes of 100 different apps (multi-tenant style), one mail each. Goals: 100
 *      token requests, ≤ 16 TLS connections.
 *   3. Yardsticks, each in a fresh Node-RED with the same 1,000 connections deployed: the same mails
 *      by a minimal node with the lean axios client in place of each task, and the flow alone.
 *
 *   npm run bench:scale     (BENCH_SCALE_N=1000, BENCH_SCALE_APPS=100, BENCH_SCALE_LATENCY=100)
 *
 * Figures: bench/results/scale.json, and the `scale` entry of bench/results/latest.json.
 * Exit code 1 only when something broke (a mail not delivered, a process that did not start).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSandbox, type Sandbox } from '../sandbox';
import { manyAppsId, manyAppsSecret, manySenders, manySendersAddress, SANDBOX } from '../sandbox/config';
import { SHARED_POOL_SOCKETS } from '../nodes/lib/http';
import { EMAIL_TASK_DEFAULTS, sandboxConnectionFields } from '../scripts/local-node-red';
import type { FlowNode } from './lib/flows';
import { NodeRedProcess } from './lib/node-red-process';
import { formatHeapSummary, formatSummary, summarise, summariseHeap } from './lib/profile-summary';
import { fixed, intFromEnv, saveResult } from './lib/stats';


const N = intFromEnv('BENCH_SCALE_N', 1000);
const APPS = intFromEnv('BENCH_SCALE_APPS', 100);
const LATENCY_MS = intFromEnv('BENCH_SCALE_LATENCY', 100);
const RESULTS_DIR = path.join(__dirname, 'results');
/**
 * BENCH_SCALE_PROFILE=1: a CPU profile of the Node-RED process over the 1,000 mails
 * (bench/results/profiles/scale.cpuprofile); `heap`: where their allocations go instead
 * (scale.heapprofile, every allocation sampled including what GC freed); the yardsticks' runs too
 * (scale-leanAxios.…, scale-flowOnly.…).
 */
const PROFILE = process.env.BENCH_SCALE_PROFILE === '1' || process.env.BENCH_SCALE_PROFILE === 'heap';
const HEAP_PROFILE = process.env.BENCH_SCALE_PROFILE === 'heap';
/** BENCH_SCALE_GC=1: every memory figure after a full GC (not the goal's figure: Node-RED runs without --expose-gc). */
const AFTER_GC = process.env.BENCH_SCALE_GC === '1';
/** Live heap growth for deploy plus mails, the goal bench/README.md proposes in place of RSS (read with BENCH_SCALE_GC=1). */
const LIVE_HEAP_GOAL_MB = 40;
const MB = 1024 * 1024;
/**
 * BENCH_SCALE_SNAPSHOT=ms: a heap snapshot of Node-RED that long after the mails start (while they
 * are in flight), bench/results/profiles/scale.heapsnapshot, to see what each mail holds meanwhile.
 */
const SNAPSHOT = process.env.BENCH_SCALE_SNAPSHOT
  ? { snapshotFile: path.join(__dirname, 'results', 'profiles', 'scale.heapsnapshot'), snapshotAfterMs: Number(process.env.BENCH_SCALE_SNAPSHOT) }
  : {};

const TAB = 'sca1e000000000001';
const TRIGGER = 'sca1e000000000002';
const FAN = 'sca1e000000000003';
const COLLECT = 'sca1e000000000004';
const RESPONSE = 'sca1e000000000005';
const MEMORY_IN = 'sca1e000000000006';
const MEMORY_FN = 'sca1e000000000007';

/** Starts a run: remembers the HTTP request, then one message to every task (one output wired to all). */
const FAN_JS = `
const bench = global.get('bench');
const run = { req: msg.req, res: msg.res, n: Number(msg.payload.n), done: 0, failed: 0, codes: {}, profile: msg.payload.profileFile };
flow.set('run', run);
const go = () => {
  run.t0 = bench.now();
  run.cpu0 = bench.cpu();
  node.send({ to: 'ada@example.com', topic: 'scale', payload: 'One mail from every mailbox at once.' });
};
if (msg.payload.snapshotFile) setTimeout(() => bench.heapSnapshot(msg.payload.snapshotFile), Number(msg.payload.snapshotAfterMs));
if (run.profile) {
  run.profiler = bench.startProfile(msg.payload.profileFile.endsWith('.heapprofile') ? 'heap' : 'cpu');
  run.profiler.started.then(go);
} else go();
return null;
`;

/** Counts what leaves the tasks (both outputs); answers the HTTP request when all have. */
const COLLECT_JS = `
const bench = global.get('bench');
const run = flow.get('run');
if (!run) return null;
run.done++;
if (msg.error) {
  run.failed++;
  const code = String(msg.error.code);
  run.codes[code] = (run.codes[code] || 0) + 1;
  if (run.firstError === undefined) run.firstError = code + ': ' + msg.error.message;
}
if (run.done < run.n) return null;
const cpu = bench.cpu(run.cpu0);
flow.set('run', undefined);
const answer = { req: run.req, res: run.res, payload: { sent: run.n - run.failed, failed: run.failed, codes: run.codes, firstError: run.firstError,
  elapsedMs: bench.now() - run.t0, cpuUserUs: cpu.user, cpuSystemUs: cpu.system } };
if (!run.profiler) return answer;
run.profiler.stop(run.profile).then(() => node.send(answer));
return null;
`;

/** What the email task composes from the fan's message (to, topic, payload): the yardstick posts the same. */
const SCALE_MAIL_BODY = { message: { subject: 'scale', body: { contentType: 'text', content: 'One mail from every mailbox at once.' }, toRecipients: [{ emailAddress: { address: 'ada@example.com' } }] } };

interface Connection {
  applicationId: string;
  clientSecret: string;
  sender: string;
}

/**
 * Who sends each mailbox's mail: its email task, or (the yardsticks, each connection still
 * deployed) a minimal node posting the same Graph JSON with the lean axios client of the bench's
 * settings file (bench/lib/lean-send-node), or a rule-less change node (Node-RED's own share: the
 * fan-out and the collecting).
 */
type Sender = 'task' | 'leanAxios' | 'flowOnly';

/** http in → fan (wired to every sender) ; every sender's outputs → collect → http response. */
function scaleFlow(sandboxUrl: string, connections: readonly Connection[], sender: Sender = 'task'): FlowNode[] {
  const tasks = connections.map((_, i) => `sca1e1${String(i).padStart(11, '0')}`);
  const flow: FlowNode[] = [
    { id: TAB, type: 'tab', label: 'Scale benchmark', disabled: false, info: '' },
    { id: TRIGGER, type: 'http in', z: TAB, name: '', url: '/bench/scale', method: 'post', upload: false, swaggerDoc: '', x: 120, y: 40, wires: [[FAN]] },
    { id: FAN, type: 'function', z: TAB, name: 'fan out', func: FAN_JS, outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [], x: 300, y: 40, wires: [tasks] },
    { id: COLLECT, type: 'function', z: TAB, name: 'collect', func: COLLECT_JS, outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [], x: 700, y: 40, wires: [[RESPONSE]] },
    { id: RESPONSE, type: 'http response', z: TAB, name: '', statusCode: '', headers: {}, x: 880, y: 40, wires: [] },
    { id: MEMORY_IN, type: 'http in', z: TAB, name: '', url: '/bench/memory', method: 'get', upload: false, swaggerDoc: '', x: 120, y: 100, wires: [[MEMORY_FN]] },
    { id: MEMORY_FN, type: 'function', z: TAB, name: 'memory', func: "msg.payload = global.get('bench').memory(msg.req.query.collect === '1'); return msg;", outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [], x: 300, y: 100, wires: [[RESPONSE]] },
  ];
  connections.forEach((c, i) => {
    const connection = `sca1e2${String(i).padStart(11, '0')}`;
    // Where every sender sits; only its type and settings differ.
    const placed = { id: tasks[i], z: TAB, name: '', x: 500, y: 40 + (i % 50) * 10 };
    flow.push(
      {
        id: connection,
        type: 'office365-mail-connection',
        ...sandboxConnectionFields(sandboxUrl, c.clientSecret),
        key: `scale-${i + 1}`,
        name: `Mailbox ${i + 1}`,
        applicationId: c.applicationId,
        senderEmail: c.sender,
      },
      sender === 'task'
        ? { ...placed, type: 'email-task', ...EMAIL_TASK_DEFAULTS, connection, timeout: 60, wires: [[COLLECT], [COLLECT]] }
        : sender === 'leanAxios'
          ? { ...placed, type: 'bench-lean-send', sender: c.sender, body: SCALE_MAIL_BODY, wires: [[COLLECT]] }
          : { ...placed, type: 'change', rules: [], wires: [[COLLECT]] },
    );
  });
  return flow;
}

/** Resident set of a process from /proc (what `ps` calls RSS), in bytes. */
function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  if (!kb) throw new Error('no VmRSS in /proc/<pid>/status');
  return Number(kb[1]) * 1024;
}

interface RunAnswer {
  sent: number;
  failed: number;
  codes: Record<string, number>;
  firstError?: string;
  elapsedMs: number;
  cpuUserUs: number;
  cpuSystemUs: number;
}

interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  spaces: Record<string, number>;
}

async function memoryOf(nr: NodeRedProcess): Promise<Memory> {
  const res = await fetch(`${nr.url}/bench/memory${AFTER_GC ? '?collect=1' : ''}`);
  if (!res.ok) throw new Error(`GET /bench/memory answered ${res.status}`);
  return (await res.json()) as Memory;
}

/** MB, rounded to 0.1, of the difference of each figure. */
function growth(before: Memory, after: Memory): Record<string, number> {
  const mb = (n: number): number => Math.round((n / MB) * 10) / 10;
  const out: Record<string, number> = {
    rss: mb(after.rss - before.rss),
    heapUsed: mb(after.heapUsed - before.heapUsed),
    heapTotal: mb(after.heapTotal - before.heapTotal),
    external: mb(after.external - before.external),
  };
  for (const [space, size] of Object.entries(after.spaces)) out[`space ${space}`] = mb(size - (before.spaces[space] ?? 0));
  return out;
}

interface PartResult {
  connections: number;
  apps: number;
  deployMs: number;
  sendMs: number;
  sent: number;
  failed: number;
  failureCodes: Record<string, number>;
  delivered: number;
  deliveredTwice: number;
  notDelivered: number;
  tokenRequests: number;
  tlsConnections: number;
  graphRequests: number;
  provoked429: number;
  cpuMsPerMail: number;
  rssBeforeMb: number;
  rssAfterDeployMb: number;
  rssAfterMailsMb: number;
  /** What grew, in MB, for the deploy and for the mails: RSS, V8's heap (used, reserved, by space), buffers. */
  deployGrowth: Record<string, number>;
  mailsGrowth: Record<string, number>;
}

/**
 * Deploys the connections and their senders (email tasks, or a yardstick's nodes), then one
 * message to every sender at once.
 */
async function part(nr: NodeRedProcess, sandbox: Sandbox, connections: readonly Connection[], options: { sender?: Sender; profileFile?: string; snapshot?: typeof SNAPSHOT } = {}): Promise<PartResult> {
  const memBefore = await memoryOf(nr);
  const rssBefore = rssOf(nr.pid);
  const t0 = performance.now();
  await nr.deploy(scaleFlow(sandbox.url, connections, options.sender));
  const deployMs = performance.now() - t0;
  const rssAfterDeploy = rssOf(nr.pid);
  const memDeployed = await memoryOf(nr);
  // Counters from here: the previous deploy's closed connections are not this part's.
  sandbox.reset();
  const res = await fetch(`${nr.url}/bench/scale`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: connections.length, profileFile: options.profileFile, ...options.snapshot }) });
  if (!res.ok) throw new Error(`The scale run answered ${res.status}: ${await res.text()}\n${nr.recentOutput()}`);
  const answer = (await res.json()) as RunAnswer;
  const rssAfterMails = rssOf(nr.pid);
  const memAfter = await memoryOf(nr);
  const stats = sandbox.stats();
  const perSender = new Map<string, number>();
  for (const mail of sandbox.mail()) perSender.set(mail.sender.toLowerCase(), (perSender.get(mail.sender.toLowerCase()) ?? 0) + 1);
  let delivered = 0;
  let deliveredTwice = 0;
  for (const c of connections) {
    const count = perSender.get(c.sender.toLowerCase()) ?? 0;
    if (count >= 1) delivered++;
    if (count > 1) deliveredTwice++;
  }
  return {
    connections: connections.length,
    apps: new Set(connections.map((c) => c.applicationId)).size,
    deployMs,
    sendMs: answer.elapsedMs,
    sent: answer.sent,
    failed: answer.failed,
    failureCodes: answer.codes,
    delivered,
    deliveredTwice,
    notDelivered: connections.length - delivered,
    tokenRequests: stats.tokenRequests,
    tlsConnections: stats.tlsConnections,
    graphRequests: stats.graphRequests,
    provoked429: stats.throttled,
    cpuMsPerMail: (answer.cpuUserUs + answer.cpuSystemUs) / 1000 / connections.length,
    rssBeforeMb: rssBefore / MB,
    rssAfterDeployMb: rssAfterDeploy / MB,
    rssAfterMailsMb: rssAfterMails / MB,
    deployGrowth: growth(memBefore, memDeployed),
    mailsGrowth: growth(memDeployed, memAfter),
  };
}

function verdict(met: boolean): string {
  return met ? 'goal met' : 'GOAL MISSED';
}

async function main(): Promise<void> {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const started = new Date();
  const sandbox = await startSandbox({ latencyMs: LATENCY_MS, directory: manySenders(N, APPS) });
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: sandbox.caPath, BENCH_SANDBOX_URL: sandbox.url };
  delete env.NODE_OPTIONS;
  // BENCH_SCALE_GC=1: memory read after a full GC (Node-RED started with --expose-gc), to tell live data from garbage.
  if (AFTER_GC) env.NODE_OPTIONS = '--expose-gc';
  let nr: NodeRedProcess | undefined;
  const stop = (): void => nr?.killNow();
  process.once('exit', stop);
  try {
    nr = await NodeRedProcess.start({ name: 'scale', withPackage: true, env, logLevel: 'info' });
    // Node-RED loads this package's node types at start; a small deploy first, so the measured
    // deploy is the connections' own.
    await nr.deploy(scaleFlow(sandbox.url, []));
    const oneApp = Array.from({ length: N }, (_, i) => ({ applicationId: SANDBOX.applicationId, clientSecret: SANDBOX.clientSecret, sender: manySendersAddress(i + 1) }));
    let profileFile: string | undefined;
    if (PROFILE) {
      fs.mkdirSync(path.join(RESULTS_DIR, 'profiles'), { recursive: true });
      profileFile = path.join(RESULTS_DIR, 'profiles', HEAP_PROFILE ? 'scale.heapprofile' : 'scale.cpuprofile');
    }
    const many = await part(nr, sandbox, oneApp, { profileFile, snapshot: SNAPSHOT });
    const manyApps = Array.from({ length: APPS }, (_, i) => ({ applicationId: manyAppsId(i + 1), clientSecret: manyAppsSecret(i + 1), sender: manySendersAddress(i + 1) }));
    const multi = await part(nr, sandbox, manyApps);
    await nr.stop();

    // The yardsticks, each in a fresh Node-RED of the same set-up with the same connections
    // deployed: the same mails through the same flow, sent by the lean axios client over as many
    // sockets, and the flow alone.
    const yardstick = async (sender: Sender): Promise<PartResult> => {
      nr = await NodeRedProcess.start({ name: `scale-${sender}`, withPackage: true, env, logLevel: 'info' });
      await nr.deploy(scaleFlow(sandbox.url, []));
      // Profiled and snapshotted as the tasks' run is, to compare the two (scale-leanAxios.cpuprofile …).
      const own = (file: string): string => file.replace(/scale\./, `scale-${sender}.`);
      const snapshot = SNAPSHOT.snapshotFile ? { ...SNAPSHOT, snapshotFile: own(SNAPSHOT.snapshotFile) } : {};
      const result = await part(nr, sandbox, oneApp, { sender, profileFile: profileFile && own(profileFile), snapshot });
      await nr.stop();
      nr = undefined;
      return result;
    };
    const lean = await yardstick('leanAxios');
    const flowOnly = await yardstick('flowOnly');

    const rssGrowthMb = many.rssAfterMailsMb - many.rssBeforeMb;
    // With BENCH_SCALE_GC=1 the heap figures are live data: the goal proposed in place of RSS.
    const liveHeapGrowthMb = many.deployGrowth.heapUsed + many.mailsGrowth.heapUsed;
    const leanLiveHeapGrowthMb = lean.deployGrowth.heapUsed + lean.mailsGrowth.heapUsed;
    const liveHeapMet = liveHeapGrowthMb <= LIVE_HEAP_GOAL_MB;
    const goals = {
      tokenRequests: { value: many.tokenRequests, goal: '1', met: many.tokenRequests === 1 },
      tlsConnections: { value: many.tlsConnections, goal: `≤ ${SHARED_POOL_SOCKETS}`, met: many.tlsConnections <= SHARED_POOL_SOCKETS },
      rssGrowthMb: { value: rssGrowthMb, goal: '≤ 40', met: rssGrowthMb <= 40 },
      deliveredOnce: { value: many.delivered - many.deliveredTwice, goal: String(N), met: many.delivered === N && many.deliveredTwice === 0 && many.failed === 0 },
      provoked429: { value: many.provoked429, goal: '0', met: many.provoked429 === 0 },
      deployMs: { value: many.deployMs, goal: '< 1000', met: many.deployMs < 1000 },
      ...(AFTER_GC ? { liveHeapGrowthMb: { value: liveHeapGrowthMb, goal: `≤ ${LIVE_HEAP_GOAL_MB} (proposed)`, met: liveHeapMet } } : {}),
      appsTokenRequests: { value: multi.tokenRequests, goal: String(APPS), met: multi.tokenRequests === APPS },
      appsTlsConnections: { value: multi.tlsConnections, goal: `≤ ${SHARED_POOL_SOCKETS}`, met: multi.tlsConnections <= SHARED_POOL_SOCKETS },
    };
    const lines = [
      `bench:scale  sandbox latency ${LATENCY_MS} ms; Node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
      `${N} connections, one app, ${N} mailboxes, one mail each at once:`,
      `  deploy ${fixed(many.deployMs, 0)} ms, all mails out in ${fixed(many.sendMs, 0)} ms, ${fixed(many.cpuMsPerMail, 3)} ms CPU per mail (Node-RED)`,
      `  RSS ${fixed(many.rssBeforeMb, 1)} MB → ${fixed(many.rssAfterDeployMb, 1)} MB deployed (+${fixed(many.rssAfterDeployMb - many.rssBeforeMb, 1)}) → ${fixed(many.rssAfterMailsMb, 1)} MB after the mails`,
      `  grew for the deploy: ${JSON.stringify(many.deployGrowth)}`,
      `  grew for the mails:  ${JSON.stringify(many.mailsGrowth)}`,
      `  token requests        ${many.tokenRequests}  (goal 1)  ${verdict(goals.tokenRequests.met)}`,
      `  TLS connections       ${many.tlsConnections}  (goal ≤ ${SHARED_POOL_SOCKETS})  ${verdict(goals.tlsConnections.met)}`,
      `  RSS growth            ${fixed(rssGrowthMb, 1)} MB  (goal ≤ 40)  ${verdict(goals.rssGrowthMb.met)}`,
      ...(AFTER_GC ? [`  live heap growth      ${fixed(liveHeapGrowthMb, 1)} MB after a full GC (proposed goal ≤ ${LIVE_HEAP_GOAL_MB}; lean node ${fixed(leanLiveHeapGrowthMb, 1)} MB)  ${verdict(liveHeapMet)}`] : []),
      `  delivered once        ${many.delivered - many.deliveredTwice} of ${N} (twice: ${many.deliveredTwice}, failed: ${many.failed}${many.failed ? ` ${JSON.stringify(many.failureCodes)}` : ''})  ${verdict(goals.deliveredOnce.met)}`,
      `  429 provoked          ${many.provoked429}  (goal 0)  ${verdict(goals.provoked429.met)}`,
      `  deploy                ${fixed(many.deployMs, 0)} ms  (goal < 1000)  ${verdict(goals.deployMs.met)}`,
      `The same flow in a fresh Node-RED, the ${N} connections deployed, a minimal node instead of each task:`,
      `  lean axios (${SHARED_POOL_SOCKETS} sockets): mails out in ${fixed(lean.sendMs, 0)} ms, ${fixed(lean.cpuMsPerMail, 3)} ms CPU per mail, delivered ${lean.delivered} of ${N}; RSS +${fixed(lean.rssAfterDeployMb - lean.rssBeforeMb, 1)} MB deploy, +${fixed(lean.mailsGrowth.rss, 1)} MB mails, +${fixed(lean.rssAfterMailsMb - lean.rssBeforeMb, 1)} MB in all`,
      `  grew for the mails:  ${JSON.stringify(lean.mailsGrowth)}`,
      `  flow alone (change nodes): ${fixed(flowOnly.cpuMsPerMail, 3)} ms CPU per mail; RSS +${fixed(flowOnly.mailsGrowth.rss, 1)} MB`,
      `  email tasks ÷ lean axios: CPU per mail ${fixed(many.cpuMsPerMail / lean.cpuMsPerMail, 2)} ×, RSS growth for the mails ${fixed(many.mailsGrowth.rss / lean.mailsGrowth.rss, 2)} ×`,
      `${APPS} connections of ${APPS} apps, one mail each at once (deploy ${fixed(multi.deployMs, 0)} ms, mails out in ${fixed(multi.sendMs, 0)} ms):`,
      `  token requests        ${multi.tokenRequests}  (goal ${APPS})  ${verdict(goals.appsTokenRequests.met)}`,
      `  TLS connections       ${multi.tlsConnections}  (goal ≤ ${SHARED_POOL_SOCKETS})  ${verdict(goals.appsTlsConnections.met)}`,
      `  delivered             ${multi.delivered} of ${APPS} (failed: ${multi.failed})`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (profileFile && HEAP_PROFILE) process.stdout.write(`\n${formatHeapSummary(summariseHeap(profileFile), `Node-RED process, ${N} connections sending at once`)}\n`);
    else if (profileFile) process.stdout.write(`\n${formatSummary(summarise(profileFile), `Node-RED process, ${N} connections sending at once`)}\n`);
    const result = { started: started.toISOString(), finished: new Date().toISOString(), command: 'npm run bench:scale', config: { n: N, apps: APPS, latencyMs: LATENCY_MS, poolSockets: SHARED_POOL_SOCKETS }, oneApp: many, manyApps: multi, yardsticks: { leanAxios: lean, flowOnly }, goals };
    // Run alone, it updates latest.json's `scale` entry.
    saveResult(RESULTS_DIR, 'scale', result);
    if (many.notDelivered || multi.notDelivered || lean.notDelivered) throw new Error(`${many.notDelivered + multi.notDelivered + lean.notDelivered} mails not delivered (first error: ${many.failureCodes ? JSON.stringify(many.failureCodes) : 'none'})`);
  } finally {
    await nr?.stop();
    await sandbox.close();
    process.off('exit', stop);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:scale: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
