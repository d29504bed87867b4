/**
 * The idle-polling floor of bench:mailin (a) in a plain process: bench/lib/lean-polls.js with
 * nothing else around it, `BENCH_FLOOR_MODE` `axios` (the lean instance of the other floors) or
 * `https` (Node's own https.request). Forked by bench/mailin.ts; sends `{ type: 'ready' }` once
 * every mailbox has its deltaLink, then polls until the parent disconnects. The parent reads this
 * process's CPU from /proc, as it does Node-RED's.
 */
import { SANDBOX, manySendersAddress } from '../sandbox/config';
import { MESSAGE_SELECT } from '../nodes/lib/mail-in-message';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- plain CommonJS, shared with the Node-RED settings file
const { startLeanPolls } = require('./lib/lean-polls.js') as { startLeanPolls: (options: Record<string, unknown>) => Promise<() => void> };

function fail(err: unknown): never {
  process.send?.({ type: 'error', message: String(err) });
  process.exit(1);
}

async function main(): Promise<void> {
  const mailboxes = Number(process.env.BENCH_POLL_MAILBOXES ?? 100);
  const stop = await startLeanPolls({
    base: process.env.BENCH_SANDBOX_URL ?? '',
    credentials: { tenant: SANDBOX.tenantId, client_id: SANDBOX.applicationId, client_secret: SANDBOX.clientSecret },
    mailboxes: Array.from({ length: mailboxes }, (_, i) => manySendersAddress(i + 1)),
    select: MESSAGE_SELECT.join(','),
    everyMs: Number(process.env.BENCH_POLL_SECONDS ?? 10) * 1000,
    mode: process.env.BENCH_FLOOR_MODE === 'https' ? 'https' : 'axios',
    onError: fail,
  });
  process.send?.({ type: 'ready' });
  process.on('disconnect', stop);
}

main().catch(fail);
