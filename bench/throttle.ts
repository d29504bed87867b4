/**
 * bench:throttle — how close the email task gets to Graph's per-mailbox limit, and what a 429 storm
 * costs. The sandbox admits 4 concurrent requests per mailbox and answers each after 100 ms, so
 * the theoretical ceiling is 40 mails/s. 1,000 mails go through the node in a real Node-RED
 * runtime (node-red-node-test-helper), first in steady state, then with a storm of 429s injected.
 *
 *   npm run bench:throttle            (BENCH_THROTTLE_N=200 for a quick run)
 */
import path from 'node:path';
import fs from 'node:fs';
import type { Node } from 'node-red';
import { ensureCa } from '../sandbox/ca';
import { SANDBOX } from '../sandbox/config';
import { startSandbox, type Sandbox } from '../sandbox';
// The node tests' runtime set-up: the built nodes in node-red-node-test-helper, and their flow.
import { catchNode, connectionNode, emailTaskNode, helper, mailFlow, type FlowNode } from '../test/support/node-red';

const N = Number(process.env.BENCH_THROTTLE_N ?? 1000);
const LATENCY_MS = 100;
const CONCURRENCY = 4;
const CEILING = (CONCURRENCY * 1000) / LATENCY_MS;
const STORM_MS = 3000;


interface Round {
  label: string;
  seconds: number;
  rate: number;
  sent: number;
  failed: number;
  /** Left by no output at all. */
  lost: number;
  /** Neither delivered nor lost: reported on the failed output. */
  undelivered: number;
  duplicates: number;
  provoked429: number;
  injected429: number;
}

async function round(sandbox: Sandbox, label: string, storm: boolean): Promise<Round> {
  sandbox.reset();
  sandbox.setLatency(LATENCY_MS);
  await helper.load([connectionNode, emailTaskNode, catchNode], flow(sandbox), { c1: { clientSecret: SANDBOX.clientSecret } });
  const task = helper.getNode('e1');
  let sent = 0;
  let failed = 0;
  const finished = new Promise<void>((resolve) => {
    // Only the round's own mails count: the warm-up mail's output arrives while the round runs.
    const count = (kind: 'sent' | 'failed') => (msg: { topic?: unknown }) => {
      if (typeof msg.topic !== 'string' || !msg.topic.startsWith(`${label} `)) return;
      if (kind === 'sent') sent++;
      else failed++;
      if (sent + failed === N) resolve();
    };
    helper.getNode('ok').on('input', count('sent'));
    helper.getNode('fail').on('input', count('failed'));
  });
  let stormEnd: NodeJS.Timeout | undefined;
  if (storm) {
    // A quarter of the way in, Graph throttles the mailbox: every request is answered 429 with
    // Retry-After 1 for STORM_MS, as Graph does when the mailbox's budget is spent.
    let delivered = 0;
    sandbox.events.on('mail', () => {
      if (++delivered !== Math.floor(N / 4)) return;
      sandbox.addFault({ target: 'sendMail', status: 429, code: 'ApplicationThrottled', retryAfter: '1', times: Infinity });
      stormEnd = setTimeout(() => sandbox.clearFaults(), STORM_MS);
    });
  }
  // The token is fetched before the clock starts: the bench is about the mailbox limit.
  await warmToken(task);
  const started = process.hrtime.bigint();
  for (let i = 0; i < N; i++) task.receive({ to: 'ada@example.com', topic: `${label} ${i}`, payload: 'x'.repeat(1024) } as never);
  await finished;
  clearTimeout(stormEnd);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const subjects = sandbox.mail(SANDBOX.senderEmail).map((m) => String(m.message.subject)).filter((s) => s.startsWith(`${label} `));
  const unique = new Set(subjects);
  const stats = sandbox.stats();
  await helper.unload();
  sandbox.events.removeAllListeners('mail');
  return {
    label,
    seconds,
    rate: N / seconds,
    sent,
    failed,
    lost: N - sent - failed,
    undelivered: N - unique.size,
    duplicates: subjects.length - unique.size,
    provoked429: stats.throttled,
    injected429: stats.faultsTriggered,
  };
}

/** One mail outside the measurement so the token request and the first TLS handshakes are done. */
async function warmToken(task: Node): Promise<void> {
  const ok = helper.getNode('ok');
  const done = new Promise<void>((resolve) => ok.once('input', () => resolve()));
  task.receive({ to: 'ada@example.com', topic: 'warm-up', payload: 'x' } as never);
  await done;
}

/** The tests' flow (connection c1, email task e1 → helper nodes ok / fail), with room in the queue for every mail. */
function flow(sandbox: Sandbox): FlowNode[] {
  return mailFlow(sandbox, {}, { key: 'bench', queueSize: N + 10 });
}

async function main(): Promise<void> {
  const ca = ensureCa();
  if (!process.env.NODE_EXTRA_CA_CERTS) throw new Error(`run with NODE_EXTRA_CA_CERTS=${ca.caPath} (npm run bench:throttle does)`);
  await helper.startServer();
  const sandbox = await startSandbox({ port: 0 });
  try {
    const steady = await round(sandbox, 'steady', false);
    const storm = await round(sandbox, 'storm', true);
    const lines = [
      `bench:throttle  ${N} mails, sandbox: ${CONCURRENCY} concurrent per mailbox, ${LATENCY_MS} ms per request (ceiling ${CEILING} mails/s)`,
      `steady: ${steady.rate.toFixed(1)} mails/s in ${steady.seconds.toFixed(1)} s, sent ${steady.sent}, failed ${steady.failed}`,
      `storm:  ${storm.rate.toFixed(1)} mails/s in ${storm.seconds.toFixed(1)} s, sent ${storm.sent}, failed ${storm.failed}, 429s answered during the ${STORM_MS / 1000} s storm ${storm.injected429}`,
      `rate / ceiling (steady)          ${(steady.rate / CEILING).toFixed(3)}  goal >= 0.95  ${steady.rate / CEILING >= 0.95 ? 'met' : 'MISSED'}`,
      `429s provoked (steady)           ${steady.provoked429}  goal 0  ${steady.provoked429 === 0 ? 'met' : 'MISSED'}`,
      `messages lost (storm)            ${storm.lost}  goal 0  ${storm.lost === 0 ? 'met' : 'MISSED'}`,
      `messages not delivered (storm)   ${storm.undelivered}  goal 0  ${storm.undelivered === 0 ? 'met' : 'MISSED'}`,
      `duplicates (storm)               ${storm.duplicates}  goal 0  ${storm.duplicates === 0 ? 'met' : 'MISSED'}`,
    ];
    console.log(lines.join('\n'));
    const results = path.join(__dirname, 'results');
    fs.mkdirSync(results, { recursive: true });
    fs.writeFileSync(path.join(results, 'throttle.json'), JSON.stringify({ n: N, latencyMs: LATENCY_MS, ceiling: CEILING, steady, storm, at: new Date().toISOString() }, null, 2));
  } finally {
    await sandbox.close();
    await helper.stopServer();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
