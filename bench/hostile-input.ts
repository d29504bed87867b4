/**
 * bench:hostile — two parts (issue 11). "parsers": each parser's worst shapes (the ones that took
 * seconds before the linear rewrite) timed through the one function that reads them, without
 * Node-RED; the unit tests check the same shapes' results, never their time. "nodes": the event
 * loop's worst stall while Node-RED handles the worst input per entry point (finding 4): a 5 MB
 * body for bodyFormat auto, 1 MB recipient fields of the shapes that were quadratic, 100,000
 * attachments, and 1 MB of hostile upstream error text from Entra and Graph, each through a real
 * Node-RED runtime (node-red-node-test-helper) to the sandbox. The goal of both: under 100 ms.
 * Fails only when something broke (a parser throwing anything but a refusal, a crash).
 *
 *   npm run bench:hostile
 *   BENCH_HOSTILE_NODES=0 npm run bench:hostile      # the parsers part alone
 */
import fs from 'node:fs';
import path from 'node:path';
import { ensureCa } from '../sandbox/ca';
import { SANDBOX } from '../sandbox/config';
import { startSandbox, type Fault, type Sandbox } from '../sandbox';
import { MailError, entraDescription, entraError, graphError, redact } from '../nodes/lib/errors';
import { looksLikeHtml } from '../nodes/lib/compose';
import { htmlToText } from '../nodes/lib/mail-in-message';
import { parseRecipients, splitAddressList } from '../nodes/lib/recipients';
import { worstStall } from '../test/support/event-loop';
import {
  ENTRA_DESCRIPTION_SHAPES,
  HTML_HINT_SHAPES,
  HTML_TO_TEXT_SHAPES,
  RECIPIENT_PARSER_SHAPES,
  RECIPIENT_SHAPES,
  UPSTREAM_KEEP,
  UPSTREAM_SECRETS,
  UPSTREAM_SHAPES,
  hostileBody,
  hostileUpstreamText,
  manyAttachments,
  type TextShape,
} from '../test/support/hostile-shapes';
// The node tests' runtime set-up: the built nodes in node-red-node-test-helper, and their flow.
import { catchNode, connectionNode, emailTaskNode, helper, mailFlow } from '../test/support/node-red';
import { intFromEnv, median } from './lib/stats';

const GOAL_MS = 100;
/** Each parser on each shape: the linear code takes a few milliseconds, the old patterns seconds. */
const PARSER_GOAL_MS = 100;
/** Runs per parser and shape; the median is reported. */
const PARSER_RUNS = 3;

interface ParserCase {
  parser: string;
  shape: string;
  text: () => string;
  read: (text: string) => unknown;
}

/** The same calls as test/unit/hostile-regex.test.ts and mail-in.test.ts make on these shapes. */
const each = (shapes: readonly TextShape[], parser: string, read: (text: string) => unknown): ParserCase[] =>
  shapes.map(([shape, text]) => ({ parser, shape, text, read }));

const PARSER_CASES: ParserCase[] = [
  ...each(HTML_HINT_SHAPES, 'looksLikeHtml', looksLikeHtml),
  ...each(UPSTREAM_SHAPES, 'redact', (s) => redact(s, UPSTREAM_SECRETS, UPSTREAM_KEEP)),
  ...each(UPSTREAM_SHAPES, 'graphError', (s) => graphError({ status: 400, message: s }, UPSTREAM_SECRETS)),
  ...each(ENTRA_DESCRIPTION_SHAPES, 'entraDescription', entraDescription),
  ...each(ENTRA_DESCRIPTION_SHAPES, 'entraError', (s) => entraError({ aadsts: 7000215, description: s, status: 401 }, UPSTREAM_SECRETS)),
  ...each(RECIPIENT_PARSER_SHAPES, 'splitAddressList', splitAddressList),
  ...each(RECIPIENT_PARSER_SHAPES, 'parseRecipients', (s) => parseRecipients(s, 'to')),
  ...each(HTML_TO_TEXT_SHAPES, 'htmlToText', htmlToText),
];

interface ParserResult {
  parser: string;
  shape: string;
  /** What it gave: "answered", "refused <code>" (a MailError), or "BROKE <error>". */
  outcome: string;
  ms: number;
}

function timeParser(c: ParserCase): ParserResult {
  const text = c.text();
  const times: number[] = [];
  let outcome = 'answered';
  for (let run = 0; run < PARSER_RUNS; run++) {
    const started = performance.now();
    try {
      c.read(text);
    } catch (err) {
      // A refusal (a field over its cap) is an answer; anything else is a bug.
      outcome = err instanceof MailError ? `refused ${err.code}` : `BROKE ${String(err)}`;
    }
    times.push(performance.now() - started);
  }
  return { parser: c.parser, shape: c.shape, outcome, ms: median(times) };
}

function verdict(ms: number, goal: number): string {
  return ms < goal ? 'goal met' : 'GOAL MISSED';
}

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

async function runNodes(): Promise<Result[]> {
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
  return results;
}

async function main(): Promise<void> {
  const parsers = PARSER_CASES.map(timeParser);
  const parserLines = [`bench:hostile  parsers: each hostile shape through the function that reads it, median of ${PARSER_RUNS} runs (goal < ${PARSER_GOAL_MS} ms)`];
  for (const p of parsers) {
    parserLines.push(`${p.parser.padEnd(18)} ${p.shape.padEnd(36)} ${p.outcome.padEnd(30)} ${p.ms.toFixed(1).padStart(7)} ms  ${verdict(p.ms, PARSER_GOAL_MS)}`);
  }
  console.log(parserLines.join('\n'));
  const broken = parsers.filter((p) => p.outcome.startsWith('BROKE'));

  const results = intFromEnv('BENCH_HOSTILE_NODES', 1, 0) ? await runNodes() : [];
  if (results.length) {
    const lines = [`\nbench:hostile  nodes: worst event-loop stall per entry point (goal < ${GOAL_MS} ms)`];
    for (const r of results) {
      lines.push(`${r.entry.padEnd(18)} ${r.shape.padEnd(58)} ${r.output.padEnd(6)} ${String(r.code ?? '').padEnd(22)} stall ${r.maxLagMs.toFixed(0).padStart(4)} ms  total ${r.totalMs.toFixed(0).padStart(5)} ms  ${verdict(r.maxLagMs, GOAL_MS)}`);
    }
    console.log(lines.join('\n'));
  }
  const out = path.join(__dirname, 'results');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(
    path.join(out, 'hostile-input.json'),
    JSON.stringify({ goalMs: GOAL_MS, results, parserGoalMs: PARSER_GOAL_MS, parsers, at: new Date().toISOString() }, null, 2),
  );
  if (broken.length) {
    console.error(`bench:hostile: ${broken.length} parser run(s) broke: ${broken.map((p) => `${p.parser} on ${p.shape}`).join('; ')}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
