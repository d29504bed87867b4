/**
 * `npm run bench`: the email task in a real Node-RED against its floor (a lean axios loop and a
 * plain https.request loop) and against what users have today (node-red-node-email to a local
 * SMTP server), in one run, alternating rounds, medians. Then the attachment, throttle, scale and
 * mail-in benches when they exist. Ratios come last. Results: bench/results/latest.json.
 *
 * Knobs (environment): BENCH_N (mails per round, 5000), BENCH_ROUNDS (3), BENCH_WARMUP (1000),
 * BENCH_WINDOW (mails in flight in the email task's flow, 16), BENCH_SMTP_WINDOW (in the e-mail
 * node's flow, 128), BENCH_CONCURRENCY (floor clients, 4),
 * BENCH_PROFILE=1 (one extra profiled run of the email task and of the axios floor),
 * BENCH_EXTRAS=0 (skip bench:attachments / throttle / scale / mailin), BENCH_LAYERS=0 (skip bench/layers.ts),
 * BENCH_NODE_RED_LOG (info).
 *
 * Exit code: 0 when every figure was measured, goals met or not; 1 on a real error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSandbox, type Sandbox } from '../sandbox';
import { FloorProcess } from './lib/floor-process';
import { emailNodeFlow, emailTaskFlow } from './lib/flows';
import { NodeRedProcess } from './lib/node-red-process';
import { formatSummary, summarise, type ProfileSummary } from './lib/profile-summary';
import { startSmtp, type LocalSmtp } from './lib/smtp';
import { fixed, intFromEnv, median, table } from './lib/stats';

type ScenarioId = 'us' | 'flowOnly' | 'axiosInNodeRed' | 'emailNode' | 'axios' | 'https';

const LABELS: Record<ScenarioId, string> = {
  us: 'Us: email-task in Node-RED → sandbox (Graph, HTTPS)',
  flowOnly: 'Node-RED flow alone (driver → change node), same process',
  axiosInNodeRed: 'Lean axios inside Node-RED (function node), same process, 4 at a time',
  emailNode: 'node-red-node-email in Node-RED → local SMTP',
  axios: 'Floor: lean axios, keep-alive, 4 at a time',
  https: 'Floor: https.request, keep-alive, 4 at a time',
};
const CPU_SOURCE: Record<ScenarioId, string> = {
  us: 'Node-RED process',
  flowOnly: 'Node-RED process',
  axiosInNodeRed: 'Node-RED process',
  emailNode: 'Node-RED process',
  axios: 'client process',
  https: 'client process',
};

interface Sample {
  scenario: ScenarioId;
  round: number | 'warmup' | 'profile';
  n: number;
  sent: number;
  elapsedMs: number;
  msgsPerSec: number;
  cpuMs: number;
  cpuMsPerMsg: number;
  procStatCpuMs?: number;
  /** TLS connections the sandbox accepted, or SMTP connections the SMTP server accepted. */
  connections: number;
  tokenRequests: number;
}

interface Totals {
  mails: number;
  connections: number;
  tokenRequests: number;
}


const ROOT = path.join(__dirname, '..');
const RESULTS_DIR = path.join(__dirname, 'results');
const N = intFromEnv('BENCH_N', 5000, 1);
const ROUNDS = intFromEnv('BENCH_ROUNDS', 3, 1);
const WARMUP = intFromEnv('BENCH_WARMUP', Math.min(N, 1000), 0);
const WINDOW = intFromEnv('BENCH_WINDOW', 16, 1);
const CONCURRENCY = intFromEnv('BENCH_CONCURRENCY', 4, 1);
// smtp-server waits 100 ms before greeting each new connection (see bench/lib/smtp.ts).
const SMTP_WINDOW = intFromEnv('BENCH_SMTP_WINDOW', 128, 1);
const PROFILE = process.env.BENCH_PROFILE === '1';
const EXTRAS = process.env.BENCH_EXTRAS !== '0';
const LAYERS = process.env.BENCH_LAYERS !== '0';
const NODE_RED_LOG = process.env.BENCH_NODE_RED_LOG || 'info';
const SCENARIOS: ScenarioId[] = ['us', 'flowOnly', 'axiosInNodeRed', 'emailNode', 'axios', 'https'];

/** Everything started, so an error or a signal still stops it. */
const children: { killNow(): void }[] = [];
let sandbox: Sandbox | undefined;
let smtp: LocalSmtp | undefined;

function versionOf(pkg: string): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function log(line = ''): void {
  process.stdout.write(`${line}\n`);
}

class Bench {
  readonly samples: Sample[] = [];
  readonly totals: Record<ScenarioId, Totals> = {
    us: { mails: 0, connections: 0, tokenRequests: 0 },
    flowOnly: { mails: 0, connections: 0, tokenRequests: 0 },
    axiosInNodeRed: { mails: 0, connections: 0, tokenRequests: 0 },
    emailNode: { mails: 0, connections: 0, tokenRequests: 0 },
    axios: { mails: 0, connections: 0, tokenRequests: 0 },
    https: { mails: 0, connections: 0, tokenRequests: 0 },
  };
  readonly profiles: Record<string, ProfileSummary> = {};

  constructor(
    private readonly sb: Sandbox,
    private readonly mailServer: LocalSmtp,
    private readonly us: NodeRedProcess,
    private readonly emailNode: NodeRedProcess,
    private readonly floors: Record<'axios' | 'https', FloorProcess>,
  ) {}

  async runOne(scenario: ScenarioId, n: number, round: Sample['round'], profileFile?: string): Promise<Sample> {
    // Fresh counters per run (the sandbox forgets its recorded mail too, which keeps it small).
    this.sb.reset();
    this.mailServer.reset();
    let result: { sent: number; failed: number; cpuUserUs: number; cpuSystemUs: number; elapsedMs: number; firstError?: string; procStatCpuMs?: number };
    if (scenario === 'us') result = await this.us.run(n, WINDOW, profileFile);
    else if (scenario === 'flowOnly') result = await this.us.run(n, WINDOW, profileFile, '/bench/run-flow');
    else if (scenario === 'axiosInNodeRed') result = await this.us.run(n, CONCURRENCY, profileFile, '/bench/run-axios');
    else if (scenario === 'emailNode') result = await this.emailNode.run(n, SMTP_WINDOW, profileFile);
    else result = await this.floors[scenario].run(n, CONCURRENCY, profileFile);
    const stats = this.sb.stats();
    // The flow alone sends no mail: every message back at the driver counts.
    const delivered = scenario === 'emailNode' ? this.mailServer.stats().mails : scenario === 'flowOnly' ? result.sent : stats.mailsSent;
    if (result.failed > 0 || delivered !== n) {
      throw new Error(`${LABELS[scenario]}: ${result.failed} of ${n} failed, ${delivered} delivered (first error: ${result.firstError ?? 'none'}).`);
    }
    const cpuMs = (result.cpuUserUs + result.cpuSystemUs) / 1000;
    const sample: Sample = {
      scenario,
      round,
      n,
      sent: result.sent,
      elapsedMs: result.elapsedMs,
      msgsPerSec: (n * 1000) / result.elapsedMs,
      cpuMs,
      cpuMsPerMsg: cpuMs / n,
      procStatCpuMs: result.procStatCpuMs,
      connections: scenario === 'emailNode' ? this.mailServer.stats().connections : stats.tlsConnections,
      tokenRequests: stats.tokenRequests,
    };
    this.samples.push(sample);
    const total = this.totals[scenario];
    total.mails += n;
    total.connections += sample.connections;
    total.tokenRequests += sample.tokenRequests;
    log(
      `  ${String(round).padEnd(7)} ${scenario.padEnd(9)} ${String(n).padStart(6)} mails ${fixed(sample.msgsPerSec, 0).padStart(7)} msg/s ` +
        `${fixed(sample.cpuMsPerMsg, 3).padStart(7)} ms CPU/msg  ${String(sample.connections).padStart(5)} conn  ${sample.tokenRequests} token req`,
    );
    return sample;
  }
}

/** The package's own `bench:<name>` script when it has one (it may need flags), else the file with tsx. */
function extraCommand(name: string, file: string): [string, string[]] {
  const scripts = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
  if (scripts[`bench:${name}`]) return ['npm', ['run', '--silent', `bench:${name}`]];
  return [process.execPath, [require.resolve('tsx/cli'), file]];
}

async function runExtra(name: string, env: NodeJS.ProcessEnv = process.env): Promise<{ name: string; file: string; exitCode: number | null; output: string }> {
  const file = path.join(__dirname, `${name}.ts`);
  const [command, args] = name === 'layers' ? [process.execPath, [require.resolve('tsx/cli'), file]] : extraCommand(name, file);
  log(`\n── ${command === 'npm' ? `npm run bench:${name}` : path.relative(ROOT, file)} ──`);
  const child: ChildProcess = spawn(command, args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killer = { killNow: () => void child.kill('SIGTERM') };
  children.push(killer);
  let output = '';
  const tee = (stream: NodeJS.WriteStream) => (chunk: Buffer) => {
    output += chunk.toString();
    stream.write(chunk);
  };
  child.stdout?.on('data', tee(process.stdout));
  child.stderr?.on('data', tee(process.stderr));
  const exitCode = await new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  children.splice(children.indexOf(killer), 1);
  return { name, file: path.relative(ROOT, file), exitCode, output };
}

/** bench:scale's or bench:mailin's figures (they write them to results/<name>.json), when it ran. */
function readExtraResult(name: 'scale' | 'mailin'): unknown {
  try {
    return JSON.parse(fs.readFileSync(path.join(RESULTS_DIR, `${name}.json`), 'utf8'));
  } catch {
    return undefined;
  }
}

function goalLine(label: string, value: string, goal: string, met: boolean | undefined): string {
  const verdict = met === undefined ? '' : met ? '  goal met' : '  GOAL MISSED';
  return `${label}: ${value}${goal ? `  (goal ${goal})` : ''}${verdict}`;
}

async function main(): Promise<void> {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const started = new Date();
  const loadStart = os.loadavg();
  log(`Benchmark: ${N} mails per round (1 KB text, 2 recipients), ${ROUNDS} rounds + warm-up of ${WARMUP}, in flight: ${WINDOW} (email task), ${SMTP_WINDOW} (e-mail node), ${CONCURRENCY} (floor)`);
  log(
    `Node ${process.version}, Node-RED ${versionOf('node-red')}, node-red-node-email ${versionOf('node-red-node-email')}, axios ${versionOf('axios')}, ` +
      `${os.cpus().length} CPUs, load ${loadStart.map((l) => l.toFixed(2)).join(' ')}`,
  );

  sandbox = await startSandbox({ latencyMs: 0 });
  smtp = await startSmtp();
  const sb = sandbox;
  // Children trust the sandbox's CA; Node reads it only at start-up.
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: sb.caPath, BENCH_SANDBOX_URL: sb.url };
  delete env.NODE_OPTIONS;

  const tokenRequestsSinceReset = (): number => sb.stats().tokenRequests;
  log('Starting Node-RED (email task), Node-RED (e-mail node) and the floor clients ...');
  const us = await NodeRedProcess.start({ name: 'email-task', withPackage: true, env, logLevel: NODE_RED_LOG });
  children.push(us);
  await us.deploy(emailTaskFlow(sb.url));
  const emailNode = await NodeRedProcess.start({ name: 'e-mail-node', withPackage: false, env, logLevel: NODE_RED_LOG });
  children.push(emailNode);
  await emailNode.deploy(emailNodeFlow(smtp.port));
  // Each floor client takes its token at start-up: counted as that client's token request.
  const floorTokens: Record<'axios' | 'https', number> = { axios: 0, https: 0 };
  const floors = {} as Record<'axios' | 'https', FloorProcess>;
  for (const mode of ['axios', 'https'] as const) {
    sb.reset();
    floors[mode] = await FloorProcess.start(mode, env);
    children.push(floors[mode]);
    floorTokens[mode] = tokenRequestsSinceReset();
  }
  const bench = new Bench(sb, smtp, us, emailNode, floors);
  bench.totals.axios.tokenRequests += floorTokens.axios;
  bench.totals.https.tokenRequests += floorTokens.https;

  if (WARMUP > 0) {
    log('Warm-up (not counted in the medians; its connections and token requests are):');
    for (const scenario of SCENARIOS) await bench.runOne(scenario, WARMUP, 'warmup');
  }
  for (let round = 1; round <= ROUNDS; round++) {
    // Each round starts with a different scenario, so drift on a shared machine hits all alike.
    const order = SCENARIOS.map((_, i) => SCENARIOS[(i + round - 1) % SCENARIOS.length]);
    log(`Round ${round} of ${ROUNDS}:`);
    for (const scenario of order) await bench.runOne(scenario, N, round);
  }

  let profileText = '';
  if (PROFILE) {
    const dir = path.join(RESULTS_DIR, 'profiles');
    fs.mkdirSync(dir, { recursive: true });
    log('Profiled runs (not counted in the medians):');
    for (const scenario of ['us', 'axios', 'emailNode'] as const) {
      const file = path.join(dir, `${scenario}.cpuprofile`);
      await bench.runOne(scenario, N, 'profile', file);
      bench.profiles[scenario] = summarise(file);
      profileText += `\n${formatSummary(bench.profiles[scenario], LABELS[scenario])}\n`;
    }
  }

  // Stop the mail benches' processes before the other benches start theirs.
  for (const child of [us, emailNode]) await child.stop();
  for (const floor of Object.values(floors)) await floor.stop();
  children.length = 0;
  await smtp.close();
  await sb.close();
  smtp = undefined;
  sandbox = undefined;

  let layers: unknown;
  if (LAYERS) {
    const file = path.join(RESULTS_DIR, 'layers.json');
    fs.rmSync(file, { force: true });
    const layerRun = await runExtra('layers', { ...env, BENCH_LAYERS_JSON: file, BENCH_N: String(Math.min(N, 3000)) });
    if (layerRun.exitCode !== 0) throw new Error(`bench/layers.ts failed (exit ${layerRun.exitCode}).`);
    layers = JSON.parse(fs.readFileSync(file, 'utf8'));
  }

  const extras: Awaited<ReturnType<typeof runExtra>>[] = [];
  if (EXTRAS) {
    // A failed scale run must not leave an earlier run's figures to be copied in.
    for (const name of ['scale', 'mailin']) fs.rmSync(path.join(RESULTS_DIR, `${name}.json`), { force: true });
    for (const name of ['attachments', 'throttle', 'scale', 'mailin']) {
      if (fs.existsSync(path.join(__dirname, `${name}.ts`))) extras.push(await runExtra(name));
    }
  }

  // ── Figures ──
  const measured = (s: ScenarioId): Sample[] => bench.samples.filter((x) => x.scenario === s && typeof x.round === 'number');
  const med = (s: ScenarioId, key: 'msgsPerSec' | 'cpuMsPerMsg'): number => median(measured(s).map((x) => x[key]));
  const perRound = (a: ScenarioId, b: ScenarioId, key: 'msgsPerSec' | 'cpuMsPerMsg'): number[] => {
    const out: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const x = bench.samples.find((s) => s.scenario === a && s.round === round);
      const y = bench.samples.find((s) => s.scenario === b && s.round === round);
      if (x && y) out.push(x[key] / y[key]);
    }
    return out;
  };
  const rows = SCENARIOS.map((s) => {
    const t = bench.totals[s];
    return [
      LABELS[s],
      fixed(med(s, 'msgsPerSec'), 0),
      fixed(med(s, 'cpuMsPerMsg'), 3),
      CPU_SOURCE[s],
      String(t.connections),
      fixed((t.connections * 1000) / t.mails, 2),
      String(t.tokenRequests),
    ];
  });
  const header = ['scenario', 'msgs/s', 'CPU ms/msg', 'CPU of', 'connections', 'conn/1000 mails', 'token requests'];
  const cpuVsAxios = median(perRound('us', 'axios', 'cpuMsPerMsg'));
  const cpuVsAxiosInNodeRed = median(perRound('us', 'axiosInNodeRed', 'cpuMsPerMsg'));
  const cpuVsEmail = median(perRound('us', 'emailNode', 'cpuMsPerMsg'));
  const rateVsEmail = median(perRound('us', 'emailNode', 'msgsPerSec'));
  const cpuVsHttps = median(perRound('us', 'https', 'cpuMsPerMsg'));
  // The same lean client in the same Node-RED process: what the email task adds, apart from what
  // the larger process costs any HTTP client.
  const axiosInNodeRedVsAxios = median(perRound('axiosInNodeRed', 'axios', 'cpuMsPerMsg'));
  // What the email task and its HTTP client add to a Node-RED flow, against the client alone.
  const nodeOnlyVsAxios: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const at = (s: ScenarioId): Sample | undefined => bench.samples.find((x) => x.scenario === s && x.round === round);
    const [us, flow, axios] = [at('us'), at('flowOnly'), at('axios')];
    if (us && flow && axios) nodeOnlyVsAxios.push((us.cpuMsPerMsg - flow.cpuMsPerMsg) / axios.cpuMsPerMsg);
  }
  const usTotals = bench.totals.us;
  const connPer1000 = (usTotals.connections * 1000) / usTotals.mails;
  // Per run, not per whole bench: the pool closes a socket idle for 30 s, and with slow rounds the
  // other scenarios' turns between two of ours take longer than that (a new socket each round).
  const usConnectionsPerRun = Math.max(0, ...bench.samples.filter((x) => x.scenario === 'us').map((x) => x.connections));
  const goals = {
    // Issue 17: the same lean client in the same process is the yardstick; the out-of-process floor
    // and the e-mail node stay for orientation (their goals could not be met by any axios-based node).
    cpuVsAxiosInNodeRed: { value: cpuVsAxiosInNodeRed, goal: '≤ 1.15', met: cpuVsAxiosInNodeRed <= 1.15 },
    cpuVsAxios: { value: cpuVsAxios, goal: null, met: null },
    cpuVsEmailNode: { value: cpuVsEmail, goal: null, met: null },
    rateVsEmailNode: { value: rateVsEmail, goal: null, met: null },
    connectionsPer1000Mails: { value: connPer1000, connections: usTotals.connections, mails: usTotals.mails, goal: null, met: null },
    connectionsPerRun: { value: usConnectionsPerRun, goal: '≤ 4 new connections in any run (warm-up included)', met: usConnectionsPerRun <= 4 },
    tokenRequestsPerRun: { value: usTotals.tokenRequests, goal: '1', met: usTotals.tokenRequests === 1 },
  };

  const json = {
    started: started.toISOString(),
    finished: new Date().toISOString(),
    command: 'npm run bench',
    config: { n: N, rounds: ROUNDS, warmup: WARMUP, window: WINDOW, smtpWindow: SMTP_WINDOW, concurrency: CONCURRENCY, nodeRedLogLevel: NODE_RED_LOG, profile: PROFILE },
    environment: {
      node: process.version,
      nodeRed: versionOf('node-red'),
      nodeRedNodeEmail: versionOf('node-red-node-email'),
      axios: versionOf('axios'),
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      loadAverageAtStart: loadStart,
      loadAverageAtEnd: os.loadavg(),
    },
    cpuMeasurement:
      'process.cpuUsage() (user + system, all threads) of the measuring process, read just before the first mail and just after the last one left: inside Node-RED by the flow\'s driver through a settings-file hook, inside the floor clients by the client. procStatCpuMs is /proc/<pid>/stat over the same run request, as a cross-check.',
    medians: Object.fromEntries(SCENARIOS.map((s) => [s, { msgsPerSec: med(s, 'msgsPerSec'), cpuMsPerMsg: med(s, 'cpuMsPerMsg') }])),
    totals: bench.totals,
    ratios: { ...goals, cpuVsHttpsFloor: cpuVsHttps, cpuWithoutFlowVsAxios: median(nodeOnlyVsAxios), cpuVsAxiosInNodeRed, axiosInNodeRedVsAxios, perRound: { cpuVsAxios: perRound('us', 'axios', 'cpuMsPerMsg'), cpuVsEmailNode: perRound('us', 'emailNode', 'cpuMsPerMsg'), rateVsEmailNode: perRound('us', 'emailNode', 'msgsPerSec') } },
    samples: bench.samples,
    profiles: bench.profiles,
    layers,
    extras: extras.map((e) => ({ ...e, output: e.output.slice(-20_000) })),
    scale: readExtraResult('scale'),
    mailin: readExtraResult('mailin'),
  };
  const jsonFile = path.join(RESULTS_DIR, 'latest.json');
  fs.writeFileSync(jsonFile, `${JSON.stringify(json, null, 2)}\n`);

  if (profileText) log(profileText);
  log(`\nMedians of ${ROUNDS} rounds of ${N} mails; connections and token requests for the whole run (warm-up included):\n`);
  log(table(header, rows));
  log(`\nUs CPU/msg ÷ https.request floor CPU/msg: ${fixed(cpuVsHttps, 2)} (for orientation)`);
  log(`(Us − Node-RED flow alone) CPU/msg ÷ lean-axios floor CPU/msg: ${fixed(median(nodeOnlyVsAxios), 2)} (the email task and its HTTP client without Node-RED's own share)`);
  log(`Lean axios inside Node-RED CPU/msg ÷ lean-axios floor CPU/msg: ${fixed(axiosInNodeRedVsAxios, 2)} (the same client, only the process differs)`);
  log(`Us CPU/msg ÷ lean axios inside Node-RED CPU/msg: ${fixed(cpuVsAxiosInNodeRed, 2)} (what the email task adds to the same client in the same process)`);
  for (const extra of extras) log(`bench:${extra.name} exited with ${extra.exitCode}`);
  log(`Results: ${path.relative(ROOT, jsonFile)}\n`);
  log(goalLine('Us CPU/msg ÷ lean axios inside Node-RED CPU/msg', fixed(cpuVsAxiosInNodeRed, 2), '≤ 1.15', goals.cpuVsAxiosInNodeRed.met));
  log(goalLine('Us CPU/msg ÷ lean-axios floor CPU/msg', fixed(cpuVsAxios, 2), '', undefined));
  log(goalLine('Us CPU/msg ÷ e-mail node CPU/msg', fixed(cpuVsEmail, 2), '', undefined));
  log(goalLine('Us msgs/s ÷ e-mail node msgs/s', fixed(rateVsEmail, 2), '', undefined));
  log(goalLine('Us connections per 1,000 mails', `${fixed(connPer1000, 2)} (${usTotals.connections} for ${usTotals.mails} mails)`, '', undefined));
  log(goalLine('Us new connections in any one run', String(usConnectionsPerRun), '≤ 4 per run (idle sockets close after 30 s)', goals.connectionsPerRun.met));
  log(goalLine('Us token requests per run', String(usTotals.tokenRequests), '1', goals.tokenRequestsPerRun.met));

  const failedExtras = extras.filter((e) => e.exitCode !== 0);
  if (failedExtras.length) {
    throw new Error(`${failedExtras.map((e) => `bench:${e.name}`).join(', ')} failed (exit ${failedExtras.map((e) => e.exitCode).join(', ')}).`);
  }
}

function killAll(): void {
  for (const child of children.splice(0)) {
    try {
      child.killNow();
    } catch {
      // already gone
    }
  }
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    process.stderr.write(`\nBenchmark error: ${err instanceof Error ? err.message : String(err)}\n`);
    killAll();
    await Promise.allSettled([smtp?.close(), sandbox?.close()]);
    process.exit(1);
  },
);
