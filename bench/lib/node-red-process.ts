/**
 * A Node-RED child for the bench: its own temporary user dir, a settings file that exposes the
 * process's CPU clock to function nodes (`global.get('bench')`), the flow deployed through the
 * admin API, and runs started by one HTTP request that returns the run's figures.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnNodeRed } from '../../scripts/local-node-red';
import type { FlowNode } from './flows';
import { PROFILE_SESSION_JS } from './profile-session';
import { SANDBOX } from '../../sandbox/config';
import { SENDER, benchMessage, graphSendMailBody } from './workload';
import type { RunTotals } from '../floor-client';
import { SHARED_POOL_SOCKETS } from '../../nodes/lib/http';

export interface NodeRedRunResult extends RunTotals {
  /** CPU ticks of the whole process over the same request, from /proc/<pid>/stat (cross-check). */
  procStatCpuMs?: number;
}

export interface NodeRedOptions {
  name: string;
  /** Link this repo into the user dir's node_modules (as after `npm install`). */
  withPackage: boolean;
  env: NodeJS.ProcessEnv;
  logLevel: string;
}

const ROOT = path.join(__dirname, '..', '..');
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * The lean-axios floor of bench/floor-client.ts, but inside the Node-RED process: the same HTTP
 * client doing the same requests where the email task runs, so what the task adds can be told
 * apart from what the larger process costs any HTTP client. It takes its own token on first use.
 */
function leanFloorJs(): string {
  const credentials = { tenant: SANDBOX.tenantId, client_id: SANDBOX.applicationId, client_secret: SANDBOX.clientSecret };
  return `const benchLeanFloor = (() => {
  const axios = require(${JSON.stringify(require.resolve('axios'))});
  const https = require('node:https');
  const { randomUUID } = require('node:crypto');
  const base = process.env.BENCH_SANDBOX_URL;
  const lean = axios.create({ httpsAgent: new https.Agent({ keepAlive: true }), maxRedirects: 0, proxy: false });
  const credentials = ${JSON.stringify(credentials)};
  const payload = ${JSON.stringify(graphSendMailBody())};
  let token; // one request for the token, shared by the first posts
  async function getToken() {
    const form = new URLSearchParams({ client_id: credentials.client_id, client_secret: credentials.client_secret, scope: base + '/.default', grant_type: 'client_credentials' }).toString();
    const answer = await lean.post(base + '/' + credentials.tenant + '/oauth2/v2.0/token', form, { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    return answer.data.access_token;
  }
  /** One sendMail with the floor's headers on \`client\`, to the URL given (built once for the floor's own). */
  async function sendMail(client, url, body) {
    token = token || getToken();
    const headers = { Authorization: 'Bearer ' + (await token), 'Content-Type': 'application/json', 'client-request-id': randomUUID(), 'return-client-request-id': 'true' };
    const answer = await client.post(url, body, { headers });
    if (answer.status !== 202) throw new Error('sendMail answered ' + answer.status);
  }
  const floorUrl = base + ${JSON.stringify(`/v1.0/users/${SENDER}/sendMail`)};
  const post = () => sendMail(lean, floorUrl, payload);
  /**
   * bench:scale's yardstick: one mailbox's sendMail, over one agent of as many sockets as the
   * package's shared pool, all mailboxes sharing it and the token: the same mails by the lean
   * client where the email tasks would send them.
   */
  let shared;
  const postAs = (sender, body) => {
    shared = shared || axios.create({ httpsAgent: new https.Agent({ keepAlive: true, maxSockets: ${SHARED_POOL_SOCKETS} }), maxRedirects: 0, proxy: false });
    return sendMail(shared, base + '/v1.0/users/' + encodeURIComponent(sender).replace(/%40/g, '@') + '/sendMail', body);
  };
  return { post, postAs };
})();
`;
}

/**
 * bench:mailin's idle floor inside the Node-RED process: bench/lib/lean-polls.js (the same polls
 * as bench/poll-floor.ts makes in a plain process), started by a function node.
 */
function leanPollerJs(): string {
  const credentials = { tenant: SANDBOX.tenantId, client_id: SANDBOX.applicationId, client_secret: SANDBOX.clientSecret };
  return `const benchLeanPoll = (options) => require(${JSON.stringify(path.join(__dirname, 'lean-polls.js'))}).startLeanPolls({
  base: process.env.BENCH_SANDBOX_URL, credentials: ${JSON.stringify(credentials)}, mode: 'axios', ...options });
`;
}

function settingsJs(logLevel: string): string {
  return `// Written by bench/lib/node-red-process.ts for one bench run.
${PROFILE_SESSION_JS}
${leanFloorJs()}
${leanPollerJs()}
const { performance } = require('node:perf_hooks');
module.exports = {
  uiPort: 0,
  uiHost: '127.0.0.1',
  flowFile: 'flows.json',
  credentialSecret: 'bench-only',
  telemetry: { enabled: false },
  editorTheme: { tours: false },
  logging: { console: { level: ${JSON.stringify(logLevel)} } },
  // The bench's hook: the driver function reads the process's own CPU and clock around a run.
  functionGlobalContext: {
    bench: {
      cpu: (previous) => process.cpuUsage(previous),
      now: () => performance.now(),
      startProfile: (kind) => benchStartProfile(200, kind),
      leanPost: benchLeanFloor.post,
      leanPostAs: benchLeanFloor.postAs,
      leanPoll: benchLeanPoll,
      // Where the RSS goes: V8's heap by space (new space grows under allocation pressure).
      // A heap snapshot of this process (what is live at that moment), for BENCH_SCALE_SNAPSHOT.
      heapSnapshot: (file) => require('node:v8').writeHeapSnapshot(file),
      // With collect (and Node started with --expose-gc), after a full GC: live data apart from garbage.
      memory: (collect) => {
        if (collect && typeof global.gc === 'function') global.gc();
        return { ...process.memoryUsage(), spaces: Object.fromEntries(require('node:v8').getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size])) };
      },
    },
  },
};
`;
}

/** utime + stime of a process in ms, or undefined where /proc is not there. */
export function procStatCpuMs(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

export class NodeRedProcess {
  url = '';
  private readonly output: string[] = [];
  private pending = '';
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    private readonly userDir: string,
  ) {}

  get pid(): number {
    return this.child.pid ?? 0;
  }

  static async start(options: NodeRedOptions): Promise<NodeRedProcess> {
    const userDir = fs.mkdtempSync(path.join(os.tmpdir(), `o365-bench-${options.name}-`));
    fs.writeFileSync(path.join(userDir, 'settings.js'), settingsJs(options.logLevel));
    if (options.withPackage) {
      fs.mkdirSync(path.join(userDir, 'node_modules'));
      fs.symlinkSync(ROOT, path.join(userDir, 'node_modules', 'node-red-contrib-office365-mail'), 'dir');
      // bench:scale's yardstick node type (bench-lean-send).
      fs.symlinkSync(path.join(__dirname, 'lean-send-node'), path.join(userDir, 'node_modules', 'bench-lean-send'), 'dir');
    }
    const child = spawnNodeRed(userDir, options.env);
    const proc = new NodeRedProcess(options.name, child, userDir);
    child.stdout?.on('data', (chunk: Buffer) => proc.onOutput(chunk));
    child.stderr?.on('data', (chunk: Buffer) => proc.onOutput(chunk));
    try {
      // Both lines, in whichever order they come (waiting for one after the other hung once:
      // the first wait consumed the output holding the second).
      const [listening] = await Promise.all([proc.waitFor(/Server now running at (http:\/\/127\.0\.0\.1:\d+)\//, undefined, false), proc.waitFor(/Started flows/, undefined, false)]);
      proc.pending = '';
      proc.url = listening[1];
      return proc;
    } catch (err) {
      proc.killNow();
      throw err;
    }
  }

  private onOutput(chunk: Buffer): void {
    const text = chunk.toString();
    // The last lines only: enough to explain a failure, bounded however much a node logs.
    this.output.push(text);
    if (this.output.length > 40) this.output.splice(0, this.output.length - 40);
    this.pending = (this.pending + text).slice(-8192);
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Resolves with the match once Node-RED prints `pattern` (in output not yet matched; `consume`: later waits look only after it). */
  private waitFor(pattern: RegExp, failure = /Waiting for missing types/, consume = true): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const match = pattern.exec(this.pending);
        const failed = failure.exec(this.pending);
        if (!match && !failed) return;
        done();
        if (match) {
          if (consume) this.pending = this.pending.slice(match.index + match[0].length);
          resolve(match);
        }
        else reject(new Error(`Node-RED (${this.name}): ${failed?.[0]}\n${this.recentOutput()}`));
      };
      const onExit = (code: number | null): void => {
        done();
        reject(new Error(`Node-RED (${this.name}) exited with ${code}:\n${this.recentOutput()}`));
      };
      const done = (): void => {
        this.waiters.delete(check);
        this.child.off('exit', onExit);
      };
      this.waiters.add(check);
      this.child.once('exit', onExit);
      check();
    });
  }

  async deploy(flow: FlowNode[]): Promise<void> {
    // POST /flows can answer before the new flows have started (and their http in routes exist).
    this.pending = '';
    const started = this.waitFor(/Started flows/);
    const res = await fetch(`${this.url}/flows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
      body: JSON.stringify(flow),
    });
    if (!res.ok) throw new Error(`Deploying the ${this.name} flow failed: ${res.status} ${await res.text()}`);
    await started;
  }

  /** One run of n mails with `window` in flight; resolves when the n-th has left the mail node. */
  async run(n: number, window: number, profileFile?: string, runPath = '/bench/run'): Promise<NodeRedRunResult> {
    const before = procStatCpuMs(this.pid);
    const res = await fetch(`${this.url}${runPath}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ n, window, mail: benchMessage(), profileFile }),
    });
    const after = procStatCpuMs(this.pid);
    if (!res.ok) throw new Error(`The ${this.name} run answered ${res.status}: ${await res.text()}\n${this.recentOutput()}`);
    const result = (await res.json()) as NodeRedRunResult;
    if (before !== undefined && after !== undefined) result.procStatCpuMs = after - before;
    return result;
  }

  recentOutput(): string {
    return this.output.join('').slice(-3000);
  }

  /** Stops Node-RED (SIGINT: it closes its nodes and exits) and removes its user dir. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGINT');
      // Node-RED waits for its nodes to close; one that never does must not hang the bench.
      const stuck = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(stuck);
    }
    fs.rmSync(this.userDir, { recursive: true, force: true });
  }

  /** For exit handlers: no waiting. */
  killNow(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    fs.rmSync(this.userDir, { recursive: true, force: true });
  }
}
