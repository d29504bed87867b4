/**
 * The idle-polling floor for bench:mailin (a): a plain process making the polls 100 email-in nodes
 * make, with nothing else in it: each mailbox's delta GET on its saved deltaLink, the next one
 * `BENCH_POLL_SECONDS` after the previous answer, all mailboxes starting together (as a deploy
 * starts the nodes), over one keep-alive agent of 16 sockets (the package's shared pool size).
 * `BENCH_FLOOR_MODE`: `axios` (the lean instance of the other floors) or `https` (Node's own
 * https.request). Forked by bench/mailin.ts; sends `{ type: 'ready' }` once every mailbox has its
 * deltaLink, then polls until the parent disconnects. The parent reads this process's CPU from
 * /proc, as it does Node-RED's.
 */
import https from 'node:https';
import axios from 'axios';
import { SANDBOX, manySendersAddress } from '../sandbox/config';
import { SHARED_POOL_SOCKETS } from '../nodes/lib/http';
import { MESSAGE_SELECT } from '../nodes/lib/mail-in-message';

const baseUrl = process.env.BENCH_SANDBOX_URL ?? '';
const mode = process.env.BENCH_FLOOR_MODE === 'https' ? 'https' : 'axios';
const mailboxes = Number(process.env.BENCH_POLL_MAILBOXES ?? 100);
const everyMs = Number(process.env.BENCH_POLL_SECONDS ?? 10) * 1000;

const agent = new https.Agent({ keepAlive: true, maxSockets: SHARED_POOL_SOCKETS });
const lean = axios.create({ httpsAgent: agent, maxRedirects: 0, proxy: false });

interface DeltaPage {
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

function httpsGet(url: string, headers: Record<string, string>): Promise<DeltaPage> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`delta answered ${res.statusCode}`));
        else resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as DeltaPage);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function get(url: string, headers: Record<string, string>): Promise<DeltaPage> {
  if (mode === 'https') return httpsGet(url, headers);
  const res = await lean.get<DeltaPage>(url, { headers });
  if (res.status !== 200) throw new Error(`delta answered ${res.status}`);
  return res.data;
}

/** One delta round: pages until the deltaLink. */
async function round(link: string, headers: Record<string, string>): Promise<string> {
  let next = link;
  for (;;) {
    const page = await get(next, headers);
    if (page['@odata.nextLink']) next = page['@odata.nextLink'];
    else if (page['@odata.deltaLink']) return page['@odata.deltaLink'];
    else throw new Error('a delta page without a link');
  }
}

async function main(): Promise<void> {
  const form = new URLSearchParams({ client_id: SANDBOX.applicationId, client_secret: SANDBOX.clientSecret, scope: `${baseUrl}/.default`, grant_type: 'client_credentials' });
  const answer = await lean.post<{ access_token: string }>(`${baseUrl}/${SANDBOX.tenantId}/oauth2/v2.0/token`, form.toString(), { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  // The headers the node sends on a poll (nodes/lib/mail-in.ts, graph.ts), less the client-request-id.
  const headers = { Authorization: `Bearer ${answer.data.access_token}`, Prefer: 'odata.maxpagesize=50, IdType="ImmutableId"' };
  const links = await Promise.all(
    Array.from({ length: mailboxes }, (_, i) => round(`${baseUrl}/v1.0/users/${manySendersAddress(i + 1)}/mailFolders/Inbox/messages/delta?$select=${MESSAGE_SELECT.join(',')}`, headers)),
  );
  const timers = new Set<NodeJS.Timeout>();
  const poll = (i: number): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      round(links[i], headers).then(
        (link) => {
          links[i] = link;
          poll(i);
        },
        (err: unknown) => {
          process.send?.({ type: 'error', message: String(err) });
          process.exit(1);
        },
      );
    }, everyMs);
    timers.add(timer);
  };
  for (let i = 0; i < mailboxes; i++) poll(i);
  process.send?.({ type: 'ready' });
  process.on('disconnect', () => {
    for (const timer of timers) clearTimeout(timer);
    agent.destroy();
  });
}

main().catch((err: unknown) => {
  process.send?.({ type: 'error', message: String(err) });
  process.exit(1);
});
