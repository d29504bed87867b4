/**
 * bench:hostile — the event loop's worst stall while Node-RED handles the worst input per entry
 * point (issue 11, finding 4): a 5 MB body for bodyFormat auto, 1 MB recipient fields of the
 * shapes that were quadratic, 100,000 attachments, and 1 MB of hostile upstream error text from
 * Entra and Graph. Each goes through a real Node-RED runtime (node-red-node-test-helper) to the
 * sandbox; the goal is no stall over 100 ms.
 *
 *   npm run bench:hostile
 */
import fs from 'node:fs';
import path from 'node:path';
import { ensureCa } from '../sandbox/ca';
import { SANDBOX } from '../sandbox/config';
import { startSandbox, type Fault, type Sandbox } from '../sandbox';
import { worstStall } from '../test/support/event-loop';
import { RECIPIENT_SHAPES, hostileBody, hostileUpstreamText, manyAttachments } from '../test/support/hostile-shapes';
// The node tests' runtime set-up: the built nodes in node-red-node-test-helper, and their flow.
import { catchNode, connectionNode, emailTaskNode, helper, mailFlow } from '../test/support/node-red';

const GOAL_MS = 100;

interface Case {
  entry: string;
  shape: string;
  msg: () => Record<string, unknown>;
  fault?: Fault;
}

const plain = { to: 'ada@example.com', topic: 'x', payload: 'x' };
const CASES: Case[] = [
  { entry: 'body (auto)', shape: "5 MB of '<a '", msg: () => ({ ...plain, payload: hostileBody() }) },
  ...RECIPIENT_SHAPES.map(([shape, to]): Case => ({ entry: 'to', shape, msg: () => ({ ...plain, to: to() }) })),
  { entry: 'attachments', shape: '100,000 of one byte', msg: () => ({ ...plain, attachments: manyAttachments() }) },
  {
    entry: 'Entra error text',
    shape: '1 MB of eyJ runs and whitespace',
    msg: () => plain,
    fault: { target: 'token', status: 401, code: 'invalid_client', aadsts: 7000215, message: hostileUpstreamText() },
  },
  {
    entry: 'Graph error text',
    shape: '1 MB of eyJ runs and whitespace',
    msg: () => plain,
    fault: { target: 'sendMail', status: 400, code: 'ErrorInvalidRecipients', message: hostileUpstreamText() },
  },
];

interface Result {
  entry: string;
  shape: string;
  output: 'sent' | 'failed';
  code: string | null;
  maxLagMs: number;
  totalMs: number;
}

async function run(sandbox: Sandbox, c: Case): Promise<Result> {
  sandbox.reset();
  await helper.load([connectionNode, emailTaskNode, catchNode], mailFlow(sandbox), { c1: { clientSecret: SANDBOX.clientSecret } });
  if (c.fault) sandbox.addFault(c.fault);
  const msg = c.msg();
  const left = new Promise<{ output: 'sent' | 'failed'; code: string | null }>((resolve) => {
    helper.getNode('ok').once('input', () => resolve({ output: 'sent', code: null }));
    helper.getNode('fail').once('input', (m: { error?: { code?: string } }) => resolve({ output: 'failed', code: m.error?.code ?? null }));
  });
  const started = performance.now();
  const { result, maxLagMs } = await worstStall(async () => {
    helper.getNode('e1').receive(msg as never);
    return left;
  });
  const totalMs = performance.now() - started;
  await helper.unload();
  return { entry: c.entry, shape: c.shape, ...result, maxLagMs, totalMs };
}

async function main(): Promise<void> {
  const ca = ensureCa();
  if (!process.env.NODE_EXTRA_CA_CERTS) throw new Error(`run with NODE_EXTRA_CA_CERTS=${ca.caPath} (npm run bench:hostile does)`);
  await helper.startServer();
  const sandbox = await startSandbox({ port: 0 });
  const results: Result[] = [];
  try {
    for (const c of CASES) results.push(await run(sandbox, c));
  } finally {
    await sandbox.close();
    await helper.stopServer();
  }
  const lines = [`bench:hostile  worst event-loop stall per entry point (goal < ${GOAL_MS} ms)`];
  for (const r of results) {
    const verdict = r.maxLagMs < GOAL_MS ? 'met' : 'MISSED';
    lines.push(`${r.entry.padEnd(18)} ${r.shape.padEnd(58)} ${r.output.padEnd(6)} ${String(r.code ?? '').padEnd(22)} stall ${r.maxLagMs.toFixed(0).padStart(4)} ms  total ${r.totalMs.toFixed(0).padStart(5)} ms  ${verdict}`);
  }
  console.log(lines.join('\n'));
  const out = path.join(__dirname, 'results');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'hostile-input.json'), JSON.stringify({ goalMs: GOAL_MS, results, at: new Date().toISOString() }, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
