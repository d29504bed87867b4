/**
 * The floor: a plain client posting the email task's Graph JSON to the sandbox, 4 at a time, with
 * nothing else in the process. Forked by bench/index.ts (IPC), one process per client kind:
 *   axios: a lean instance (maxRedirects 0, keep-alive agent), the HTTP client our design uses
 *   https: Node's own https.request on a keep-alive agent
 * It takes one token at start-up (its own token request), then answers `run` messages with the
 * CPU this process used (process.cpuUsage, all threads) between the first request and the last
 * answer.
 */
import { randomUUID } from 'node:crypto';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import axios from 'axios';
import { SANDBOX } from '../sandbox/config';
import { SENDER, graphSendMailBody } from './lib/workload';
import { startProfile, type ProfileHandle } from './lib/profile-session';

type Mode = 'axios' | 'https';

export interface FloorRunRequest {
  type: 'run';
  n: number;
  concurrency: number;
  /** Where to write a CPU profile of this run (V8's sampling profiler, this run only). */
  profileFile?: string;
}

/** What one measured run reports, whoever sent the mails. */
export interface RunTotals {
  sent: number;
  failed: number;
  cpuUserUs: number;
  cpuSystemUs: number;
  elapsedMs: number;
  firstError?: string;
}

export interface FloorRunResult extends RunTotals {
  type: 'result';
}

const mode = process.env.BENCH_FLOOR_MODE as Mode;
const baseUrl = process.env.BENCH_SANDBOX_URL ?? '';
const agent = new https.Agent({ keepAlive: true });
const sendMailPath = `/v1.0/users/${SENDER}/sendMail`;
const payload = graphSendMailBody();

const lean = axios.create({ httpsAgent: agent, maxRedirects: 0, proxy: false });

function send(message: RunMessage): void {
  process.send?.(message);
}

type RunMessage = FloorRunResult | { type: 'ready' } | { type: 'error'; message: string };

/** One request with https.request; resolves with the status once the body is read. */
function httpsRequest(method: string, path: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = https.request(
      { agent, host: url.hostname, port: url.port, path, method, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function fetchToken(): Promise<string> {
  const form = new URLSearchParams({
    client_id: SANDBOX.applicationId,
    client_secret: SANDBOX.clientSecret,
    scope: `${baseUrl}/.default`,
    grant_type: 'client_credentials',
  }).toString();
  const path = `/${SANDBOX.tenantId}/oauth2/v2.0/token`;
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  const answer =
    mode === 'axios'
      ? await lean.post<{ access_token: string }>(`${baseUrl}${path}`, form, { headers }).then((r) => r.data)
      : await httpsRequest('POST', path, headers, form).then((r) => JSON.parse(r.body) as { access_token: string });
  if (!answer.access_token) throw new Error('the token endpoint gave no access_token');
  return answer.access_token;
}

function postMail(token: string): Promise<number> {
  const headers = {
    Authorization: `Bearer ${token}`,
    'Content-Type': 'application/json',
    'client-request-id': randomUUID(),
    'return-client-request-id': 'true',
  };
  if (mode === 'axios') {
    // As a plain script would: axios serialises the object itself.
    return lean.post(`${baseUrl}${sendMailPath}`, payload, { headers }).then((r) => r.status);
  }
  return httpsRequest('POST', sendMailPath, headers, JSON.stringify(payload)).then((r) => r.status);
}

async function run(token: string, request: FloorRunRequest): Promise<FloorRunResult> {
  let issued = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async (): Promise<void> => {
    while (issued < request.n) {
      issued++;
      try {
        const status = await postMail(token);
        if (status !== 202) throw new Error(`sendMail answered ${status}`);
      } catch (err) {
        failed++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  let profile: ProfileHandle | undefined;
  if (request.profileFile) profile = await startProfile();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: request.concurrency }, worker));
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (profile && request.profileFile) await profile.stop(request.profileFile);
  return { type: 'result', sent: request.n - failed, failed, cpuUserUs: cpu.user, cpuSystemUs: cpu.system, elapsedMs, firstError };
}

async function main(): Promise<void> {
  if (mode !== 'axios' && mode !== 'https') throw new Error(`BENCH_FLOOR_MODE must be axios or https, not ${String(mode)}`);
  const token = await fetchToken();
  process.on('message', (message: FloorRunRequest | { type: 'stop' }) => {
    if (message.type === 'stop') {
      agent.destroy();
      process.disconnect();
      return;
    }
    run(token, message).then(send, (err: unknown) => send({ type: 'error', message: err instanceof Error ? err.message : String(err) }));
  });
  send({ type: 'ready' });
}

main().catch((err: unknown) => {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exitCode = 1;
  process.disconnect?.();
});
