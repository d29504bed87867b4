/**
 * Where the email task's CPU per mail goes, layer by layer, without Node-RED: the same mails to a
 * sandbox in another process, in this process, alternating rounds, medians of CPU per mail.
 *
 *   floor     a lean axios instance posting the Graph JSON (as bench/floor-client.ts)
 *   graph     our GraphClient.sendMail on our connection's HTTP client (axios, keep-alive agent)
 *   mailer    Mailer.send: the FIFO limiter, the cached token, usage counters, the result
 *   compose   sendMessage, the email task's entry point: composeMail (recipients, body, subject)
 *             + Mailer.send, all of nodes/lib per mail
 *
 * The email task in Node-RED (npm run bench) adds the glue (typedInput evaluation, status) and
 * Node-RED's routing to the last line. npm run bench runs it; alone:
 *   NODE_EXTRA_CA_CERTS=.sandbox/ca.pem npx tsx bench/layers.ts   (BENCH_N, BENCH_ROUNDS)
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import axios from 'axios';
import { ensureCa } from '../sandbox/ca';
import { SANDBOX } from '../sandbox/config';
import { composeMail } from '../nodes/lib/compose';
import { ConnectionRuntime } from '../nodes/lib/connection';
import { sendMessage } from '../nodes/lib/send-message';
import { readTaskSettings } from '../nodes/lib/settings';
import type { ComposedMail } from '../nodes/lib/types';
import { median, fixed, table } from './lib/stats';
import { BODY_1KB, RECIPIENTS, SENDER, SUBJECT, graphSendMailBody } from './lib/workload';

const N = Number(process.env.BENCH_N || 3000);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const ROOT = path.join(__dirname, '..');

type Layer = 'floor' | 'graph' | 'mailer' | 'compose';
const LAYERS: Layer[] = ['floor', 'graph', 'mailer', 'compose'];

async function startSandboxProcess(): Promise<{ url: string; stop: () => void }> {
  // tsx's hook in the sandbox's own process (not tsx's CLI, whose child would outlive a kill).
  const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(ROOT, 'sandbox', 'cli.ts'), 'start', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.on('exit', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(text);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`the sandbox exited (${code})`)));
  });
  return { url, stop: () => child.kill('SIGINT') };
}

/** Keeps `window` calls of `one` in flight until n have finished; resolves with the CPU ms per call. */
async function measure(n: number, window: number, one: () => Promise<unknown>): Promise<number> {
  let issued = 0;
  const worker = async (): Promise<void> => {
    while (issued < n) {
      issued++;
      await one();
    }
  };
  const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: window }, worker));
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / 1000 / n;
}

async function main(): Promise<void> {
  const sandbox = await startSandboxProcess();
  const settings = {
    key: 'bench',
    name: '',
    tenantId: SANDBOX.tenantId,
    applicationId: SANDBOX.applicationId,
    senderEmail: SENDER,
    cloud: 'custom' as const,
    loginUrl: sandbox.url,
    graphUrl: sandbox.url,
    clientSecret: SANDBOX.clientSecret,
    queueSize: 1000,
    allowedRecipientDomains: [],
    allowedMailboxes: [],
    maxRecipients: 500,
  };
  const runtime = new ConnectionRuntime(settings);
  const token = (await runtime.tokens.getToken()).token;
  // GraphClient is private to the runtime; the same class on the same kind of client.
  const { GraphClient } = await import('../nodes/lib/graph');
  const { createHttpClient } = await import('../nodes/lib/http');
  const http = createHttpClient();
  const graph = new GraphClient(http.axios, sandbox.url, [SANDBOX.clientSecret]);
  const lean = axios.create({ httpsAgent: new https.Agent({ keepAlive: true }), maxRedirects: 0, proxy: false });
  const payload = graphSendMailBody();
  const rules = { bodyFormat: 'auto' as const, importance: 'normal' as const, allowedRecipientDomains: [], maxRecipients: 500 };
  const composed: ComposedMail = composeMail({ to: RECIPIENTS.join(', '), subject: SUBJECT, body: BODY_1KB }, rules);
  const node = { id: 'bench', type: 'email-task', name: '' };
  const retry = { maxAttempts: 5, maxWaitMs: 300_000, retryUnknownOutcome: false };
  const task = { settings: readTaskSettings({}), node };

  const calls: Record<Layer, { window: number; one: () => Promise<unknown> }> = {
    floor: {
      window: 4,
      one: () =>
        lean.post(`${sandbox.url}/v1.0/users/${SENDER}/sendMail`, payload, {
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'client-request-id': randomUUID(), 'return-client-request-id': 'true' },
        }),
    },
    graph: { window: 4, one: () => graph.sendMail(SENDER, composed.fields, true, token, 30_000) },
    mailer: { window: 16, one: () => runtime.mailer.send({ mail: composed, saveToSentItems: true, timeoutMs: 30_000, node, retry }) },
    compose: {
      window: 16,
      one: () => sendMessage(runtime, async () => ({ to: RECIPIENTS.join(', '), subject: SUBJECT, body: BODY_1KB }), task),
    },
  };

  const results: Record<Layer, number[]> = { floor: [], graph: [], mailer: [], compose: [] };
  for (const layer of LAYERS) await measure(Math.min(N, 500), calls[layer].window, calls[layer].one); // warm-up
  for (let round = 1; round <= ROUNDS; round++) {
    const order = LAYERS.map((_, i) => LAYERS[(i + round - 1) % LAYERS.length]);
    for (const layer of order) results[layer].push(await measure(N, calls[layer].window, calls[layer].one));
  }
  const floor = median(results.floor);
  if (process.env.BENCH_LAYERS_JSON) {
    const medians = Object.fromEntries(LAYERS.map((l) => [l, { cpuMsPerMail: median(results[l]), perRound: results[l] }]));
    fs.writeFileSync(process.env.BENCH_LAYERS_JSON, JSON.stringify({ n: N, rounds: ROUNDS, layers: medians }));
  }
  process.stdout.write(
    `${table(
      ['layer (no Node-RED)', 'CPU ms/mail', '÷ floor'],
      LAYERS.map((l) => [l, fixed(median(results[l]), 3), fixed(median(results[l]) / floor, 2)]),
    )}\n`,
  );
  await runtime.close();
  http.destroy();
  sandbox.stop();
}

if (!process.env.NODE_EXTRA_CA_CERTS) {
  // Node reads extra CAs only at start-up, so this process must be started trusting the sandbox's.
  process.stderr.write(`Run with NODE_EXTRA_CA_CERTS=${ensureCa().caPath} (npm run bench does).\n`);
  process.exit(1);
}
main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
