/**
 * The sandbox in a process of its own for benchmarks: Microsoft's servers are not in Node-RED's
 * process either, so their receive buffers must not count in the node's memory. Sends
 * `{ url }` to its parent once listening; ends when the parent disconnects.
 */
import { startSandbox } from '../sandbox';
import { manySenders } from '../sandbox/config';

const MiB = 1024 * 1024;

async function main(): Promise<void> {
  // Graph's own per-message maximum, so a 100 MB mail is not refused by the default tenant limit.
  // bench/http2.ts: HTTP/2, latency and many senders, by environment.
  const senders = Number(process.env.BENCH_SANDBOX_SENDERS ?? 0);
  const sandbox = await startSandbox({
    port: 0,
    limits: { maxMessageBytes: 150 * MiB },
    http2: process.env.BENCH_SANDBOX_HTTP2 === '1',
    latencyMs: Number(process.env.BENCH_SANDBOX_LATENCY ?? 0),
    ...(senders > 0 ? { directory: manySenders(senders) } : {}),
  });
  process.send?.({ url: sandbox.url });
  process.on('disconnect', () => void sandbox.close().then(() => process.exit(0)));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
