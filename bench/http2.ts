/**
 * bench/http2.ts — one multiplexed HTTP/2 session against the HTTP/1.1 pool of 16 sockets, for the
 * scale case: 1,000 mailboxes sending one mail each at once to a sandbox (own process, HTTP/2 on,
 * 100 ms latency). The same lean axios client either way (`httpVersion: 2` or a keep-alive agent
 * with maxSockets 16); rounds alternate; medians of wall time and of this process's CPU per mail.
 *
 *   NODE_EXTRA_CA_CERTS=.sandbox/ca.pem npx tsx bench/http2.ts   (BENCH_N=1000, BENCH_ROUNDS=3)
 */
import { fork } from 'node:child_process';
import https from 'node:https';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import axios, { type AxiosInstance } from 'axios';
import { SANDBOX, manySendersAddress } from '../sandbox/config';
import { graphSendMailBody } from './lib/workload';
import { fixed, median } from './lib/stats';

const N = Number(process.env.BENCH_N ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function main(): Promise<void> {
  const child = fork(path.join(__dirname, 'sandbox-process.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, BENCH_SANDBOX_HTTP2: '1', BENCH_SANDBOX_LATENCY: '100', BENCH_SANDBOX_SENDERS: String(N) },
  });
  const url = await new Promise<string>((resolve) => child.once('message', (m: { url: string }) => resolve(m.url)));
  try {
    const h1 = axios.create({ httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 16 }), maxRedirects: 0, proxy: false });
    const h2 = axios.create({ httpVersion: 2, maxRedirects: 0, proxy: false } as Parameters<typeof axios.create>[0]);
    const form = new URLSearchParams({ client_id: SANDBOX.applicationId, client_secret: SANDBOX.clientSecret, scope: `${url}/.default`, grant_type: 'client_credentials' }).toString();
    const token = ((await h1.post(`${url}/${SANDBOX.tenantId}/oauth2/v2.0/token`, form, { headers: { 'content-type': 'application/x-www-form-urlencoded' } })).data as { access_token: string }).access_token;
    const body = graphSendMailBody();
    const run = async (client: AxiosInstance): Promise<{ ms: number; cpuMsPerMail: number }> => {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: N }, async (_, i) => {
          const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'client-request-id': randomUUID() };
          const answer = await client.post(`${url}/v1.0/users/${manySendersAddress(i + 1)}/sendMail`, body, { headers });
          if (answer.status !== 202) throw new Error(`sendMail answered ${answer.status}`);
        }),
      );
      const cpu = process.cpuUsage(cpu0);
      return { ms: performance.now() - t0, cpuMsPerMail: (cpu.user + cpu.system) / 1000 / N };
    };
    await run(h1);
    await run(h2);
    const results: Record<'http1' | 'http2', Array<{ ms: number; cpuMsPerMail: number }>> = { http1: [], http2: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of round % 2 ? (['http2', 'http1'] as const) : (['http1', 'http2'] as const)) results[kind].push(await run(kind === 'http1' ? h1 : h2));
    }
    for (const kind of ['http1', 'http2'] as const) {
      const r = results[kind];
      process.stdout.write(
        `${kind === 'http1' ? 'HTTP/1.1, 16 sockets ' : 'HTTP/2, one session  '}  ${N} mails at once: ${fixed(median(r.map((x) => x.ms)), 0)} ms, ` +
          `${fixed(median(r.map((x) => x.cpuMsPerMail)), 3)} ms CPU per mail (client), rounds ${r.map((x) => fixed(x.cpuMsPerMail, 3)).join(' ')}\n`,
      );
    }
  } finally {
    child.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench/http2.ts: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
