/**
 * `npm run bench:attachments`: one 100 MB attachment through the email task (a real Node-RED
 * runtime) to the sandbox on the upload-session path. Everything is measured in this one process
 * (the Node-RED side), in one run; the sandbox, standing in for Microsoft's servers, runs in a
 * child process so that its receive buffers are not counted as the node's memory
 * (`BENCH_SANDBOX=inprocess` runs it in this process instead, to see that difference).
 *
 * Prints
 * - peak RSS growth / attachment size, from before the caller's Buffer exists to the end of the
 *   send (goal ≤ 1.25: the caller's Buffer itself is 1.0, so no further full copy);
 * - upload throughput of the task relative to a plain loop of 4 MiB PUTs (node:https, keep-alive)
 *   to an upload URL of the same sandbox, measured in the same run, rounds interleaved
 *   (goal ≥ 0.9). The task's time includes its draft, upload-session and send requests; the
 *   loop's only its PUTs.
 * Not a test: figures depend on the machine; the ratios are what to compare.
 */
import { fork } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import https from 'node:https';
import path from 'node:path';
import { startSandbox } from '../sandbox';
import type { RecordedRequest, SentMail } from '../sandbox';
import { SANDBOX } from '../sandbox/config';
import { helper, loadMailFlow, mailFlow, send, watchOutputs } from '../test/support/node-red';

const MiB = 1024 * 1024;
const SIZE = 100 * MiB;
const CHUNK = 4 * MiB;
const ROUNDS = 7;

/** What the bench needs of the sandbox, wherever it runs. */
interface BenchSandbox {
  url: string;
  mail(): Promise<SentMail[]>;
  requests(): Promise<RecordedRequest[]>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

async function sandboxInProcess(): Promise<BenchSandbox> {
  const sandbox = await startSandbox({ port: 0, limits: { maxMessageBytes: 150 * MiB } });
  return {
    url: sandbox.url,
    mail: async () => sandbox.mail(SANDBOX.senderEmail),
    requests: async () => sandbox.requests(),
    reset: async () => sandbox.reset(),
    close: () => sandbox.close(),
  };
}

/** The sandbox in a child process, read through its /_sandbox/ control API. */
async function sandboxChild(): Promise<BenchSandbox> {
  const child = fork(path.join(__dirname, 'sandbox-process.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve(m.url));
    child.once('exit', (code) => reject(new Error(`the sandbox process ended (${code})`)));
  });
  const control = async <T>(method: string, route: string): Promise<T> => (await request(`${url}/_sandbox/${route}`, method, {})).body as T;
  return {
    url,
    mail: () => control<SentMail[]>('GET', `mail?mailbox=${encodeURIComponent(SANDBOX.senderEmail)}`),
    requests: () => control<RecordedRequest[]>('GET', 'requests'),
    reset: async () => void (await control('POST', 'reset')),
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.disconnect();
      }),
  };
}

interface JsonAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of several shapes, read by the caller
  body: any;
}

const agent = new https.Agent({ keepAlive: true });

function request(url: string, method: string, headers: Record<string, string>, body?: Buffer | string): Promise<JsonAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as unknown) : {} });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The baseline: an upload URL made by hand, then nothing but 4 MiB PUTs in a loop. */
async function plainPutLoop(sandbox: BenchSandbox, file: Buffer): Promise<number> {
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: SANDBOX.applicationId,
    client_secret: SANDBOX.clientSecret,
    scope: `${sandbox.url}/.default`,
  }).toString();
  const token = await request(`${sandbox.url}/${SANDBOX.tenantId}/oauth2/v2.0/token`, 'POST', { 'content-type': 'application/x-www-form-urlencoded' }, form);
  const auth = { authorization: `Bearer ${String(token.body.access_token)}`, 'content-type': 'application/json' };
  const messages = `${sandbox.url}/v1.0/users/${SANDBOX.senderEmail}/messages`;
  const draft = await request(messages, 'POST', auth, JSON.stringify({ subject: 'baseline', toRecipients: [{ emailAddress: { address: 'ada@example.com' } }] }));
  const draftUrl = `${messages}/${encodeURIComponent(String(draft.body.id))}`;
  const session = await request(`${draftUrl}/attachments/createUploadSession`, 'POST', auth, JSON.stringify({ AttachmentItem: { attachmentType: 'file', name: 'baseline.bin', size: file.length } }));
  const uploadUrl = String(session.body.uploadUrl);
  const started = process.hrtime.bigint();
  for (let start = 0; start < file.length; start += CHUNK) {
    const chunk = file.subarray(start, Math.min(start + CHUNK, file.length));
    const answer = await request(uploadUrl, 'PUT', { 'content-type': 'application/octet-stream', 'content-length': String(chunk.length), 'content-range': `bytes ${start}-${start + chunk.length - 1}/${file.length}` }, chunk);
    if (answer.status !== 200 && answer.status !== 201) throw new Error(`baseline PUT answered ${answer.status}`);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await request(draftUrl, 'DELETE', auth);
  return file.length / seconds;
}

/** One mail with `file` attached through the email task; resolves with bytes per second. */
async function throughTask(out: ReturnType<typeof watchOutputs>, file: Buffer, n: number): Promise<number> {
  const before = out.sent.length + out.failed.length;
  const started = process.hrtime.bigint();
  send({ to: 'ada@example.com', topic: `bench ${n}`, payload: 'big file', attachments: [{ filename: 'big.bin', content: file }] });
  await out.settled(before + 1);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const last = out.failed.length > 0 ? out.failed[out.failed.length - 1] : undefined;
  if (last) throw new Error(`the task failed: ${JSON.stringify(last.error)}`);
  const email = out.sent[out.sent.length - 1].email as { path: string };
  if (email.path !== 'uploadSession') throw new Error(`expected the upload-session path, got ${email.path}`);
  // Let the message (and its Buffer) go: only the caller's copy should stay.
  out.sent.length = 0;
  return file.length / seconds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const mb = (bytes: number): string => (bytes / MiB).toFixed(1);

async function main(): Promise<void> {
  const inProcess = process.env.BENCH_SANDBOX === 'inprocess';
  const sandbox = inProcess ? await sandboxInProcess() : await sandboxChild();
  await helper.startServer();
  try {
    // mailFlow needs only the sandbox's URL.
    await loadMailFlow(mailFlow({ url: sandbox.url } as Parameters<typeof mailFlow>[0]));
    const out = watchOutputs();
    // Warm up: token, sockets and the code of both paths, with a small upload.
    await throughTask(out, randomFillSync(Buffer.allocUnsafe(5 * MiB)), 0);
    await sandbox.reset();
    global.gc?.();

    // Memory: from before the caller's Buffer exists to the end of its send.
    const baseline = process.memoryUsage().rss;
    const peakBefore = process.resourceUsage().maxRSS * 1024;
    let sampled = baseline;
    const sampler = setInterval(() => {
      sampled = Math.max(sampled, process.memoryUsage().rss);
    }, 2);
    const file = randomFillSync(Buffer.allocUnsafe(SIZE));
    await throughTask(out, file, 0);
    clearInterval(sampler);
    sampled = Math.max(sampled, process.memoryUsage().rss);
    const peakAfter = process.resourceUsage().maxRSS * 1024;
    // maxRSS is the process's peak since start: it tells the run's peak only if it rose during it.
    const peak = peakAfter > peakBefore ? Math.max(peakAfter, sampled) : sampled;
    const growth = peak - baseline;

    // Throughput: task and plain loop in turns (which goes first alternates), same sandbox, same
    // Buffer, each after a full GC so neither pays for the other's garbage. The machine's load
    // drifts, so each round's pair gives a ratio and the median of those is the figure.
    const taskRates: number[] = [];
    const loopRates: number[] = [];
    const ratios: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const rates: Record<string, number> = {};
      for (const which of round % 2 === 0 ? ['loop', 'task'] : ['task', 'loop']) {
        global.gc?.();
        rates[which] = which === 'loop' ? await plainPutLoop(sandbox, file) : await throughTask(out, file, round + 1);
      }
      taskRates.push(rates.task);
      loopRates.push(rates.loop);
      ratios.push(rates.task / rates.loop);
    }
    const mails = await sandbox.mail();
    const uploads = (await sandbox.requests()).filter((r) => r.target === 'upload');
    if (mails.length !== ROUNDS + 1 || uploads.some((r) => (r.bodyBytes ?? 0) > CHUNK)) throw new Error('the sandbox did not get what was sent');

    const task = median(taskRates);
    const loop = median(loopRates);
    console.log(`sandbox                        ${inProcess ? 'in this process' : 'in a child process'}; global.gc ${global.gc ? 'exposed' : 'not exposed'}`);
    console.log(`attachment                     ${mb(SIZE)} MiB, ${uploads.length} PUTs of ≤ 4 MiB over ${ROUNDS * 2 + 1} uploads`);
    console.log(`RSS before the Buffer          ${mb(baseline)} MiB; peak during the send ${mb(peak)} MiB`);
    console.log(`peak RSS growth / size         ${(growth / SIZE).toFixed(2)}   (goal ≤ 1.25; the caller's Buffer alone is 1.00)`);
    console.log(`task upload                    ${mb(task)} MiB/s (median of ${taskRates.length}: ${taskRates.map((r) => mb(r)).join(', ')})`);
    console.log(`plain 4 MiB PUT loop           ${mb(loop)} MiB/s (median of ${loopRates.length}: ${loopRates.map((r) => mb(r)).join(', ')})`);
    console.log(`task / loop per round          ${ratios.map((r) => r.toFixed(2)).join(', ')}`);
    console.log(`throughput task / plain loop   ${median(ratios).toFixed(2)}   (median of the rounds' ratios; ratio of medians ${(task / loop).toFixed(2)}; goal ≥ 0.90)`);
  } finally {
    await helper.unload();
    await helper.stopServer();
    agent.destroy();
    await sandbox.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
