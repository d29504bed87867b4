/**
 * Usage data in a real Node-RED process with admin authentication: history written by an earlier
 * run is read back at start, reading it needs `read`, and clearing it needs the connection's write
 * permission (the same as Test connection). The package is linked into a fresh user dir, as
 * `npm start` does; users sign in with Node-RED's `adminAuth.tokens` (bearer tokens).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { spawnNodeRed } from '../../scripts/local-node-red';
import { SANDBOX } from '../../sandbox/config';
import { MailError } from '../../nodes/lib/errors';
import { UsageRecorder } from '../../nodes/lib/usage-recorder';
import { USAGE_FILE, UsageStore } from '../../nodes/lib/usage-store';
import { freePort } from '../support/ports';

jest.setTimeout(60_000);

const root = path.join(__dirname, '..', '..');
const ADMIN = 'admin-token-for-usage-test';
const READER = 'reader-token-for-usage-test';

let userDir: string;
let nodeRed: ChildProcess;
let url: string;
/** Node-RED's console output so far, and who waits for a line in what comes next. */
let log = '';
const logWaiters: Array<() => void> = [];

/** Resolves when `text` appears in Node-RED's output after this call. */
function nextLog(text: string): Promise<void> {
  const from = log.length;
  return new Promise((resolve) => {
    const check = (): void => (log.indexOf(text, from) !== -1 ? resolve() : void logWaiters.push(check));
    check();
  });
}

/** Node-RED's settings: no login users, two bearer tokens (full rights, read only). */
function settingsFile(port: number): string {
  return `module.exports = {
  uiPort: ${port},
  uiHost: '127.0.0.1',
  flowFile: 'flows.json',
  credentialSecret: 'usage-permission-test',
  telemetry: { enabled: false },
  editorTheme: { tours: false },
  logging: { console: { level: 'info' } },
  adminAuth: {
    type: 'credentials',
    users: [],
    tokens: function (token) {
      if (token === ${JSON.stringify(ADMIN)}) return Promise.resolve({ username: 'admin', permissions: '*' });
      if (token === ${JSON.stringify(READER)}) return Promise.resolve({ username: 'reader', permissions: 'read' });
      return Promise.resolve(null);
    },
  },
};
`;
}

beforeAll(async () => {
  userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'o365-usage-perm-'));
  fs.mkdirSync(path.join(userDir, 'node_modules'));
  fs.symlinkSync(root, path.join(userDir, 'node_modules', 'node-red-contrib-office365-mail'), 'dir');
  // What an earlier run left: one mail sent and one authentication failure under Key "kept".
  const earlier = new UsageStore({ file: path.join(userDir, USAGE_FILE) });
  earlier.attach('kept', { name: 'Kept', senderEmail: SANDBOX.senderEmail });
  const recorder = new UsageRecorder(earlier, 'kept');
  recorder.recordSent(new Date());
  recorder.recordFailure({ id: 'e1', type: 'email-task', name: 'mail' }, new MailError({ category: 'auth', code: 'invalid_client', messageKey: 'tokenFailed', hintKey: 'invalidSecret', aadsts: 7000215 }));
  earlier.detach('kept');
  earlier.flush();

  const port = await freePort();
  fs.writeFileSync(path.join(userDir, 'settings.js'), settingsFile(port));
  nodeRed = spawnNodeRed(userDir, { ...process.env });
  nodeRed.stdout?.on('data', (d: Buffer) => {
    log += d.toString();
    logWaiters.splice(0).forEach((w) => w());
  });
  await new Promise<void>((resolve, reject) => {
    void nextLog('Server now running').then(resolve);
    nodeRed.once('exit', () => reject(new Error(`Node-RED exited: ${log}`)));
  });
  url = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  if (nodeRed && nodeRed.exitCode === null) {
    const exited = new Promise((resolve) => nodeRed.once('exit', resolve));
    nodeRed.kill('SIGINT');
    await exited;
  }
  if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
});

function call(method: string, route: string, token?: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${url}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

type Usage = { key: string; id: string | null; sent: number; failed: number; removed: boolean; recentFailures: Array<Record<string, unknown>> };

async function usageOf(token: string): Promise<Usage[]> {
  const res = await call('GET', '/office365-mail/usage', token);
  expect(res.status).toBe(200);
  return ((await res.json()) as { connections: Usage[] }).connections;
}

test('history is read back at start; reading needs read permission, clearing needs write permission', async () => {
  expect((await call('GET', '/office365-mail/usage')).status).toBe(401);
  const [kept] = await usageOf(READER);
  expect(kept).toMatchObject({ key: 'kept', id: null, sent: 1, failed: 1, removed: true });
  expect(kept.recentFailures[0]).toMatchObject({ category: 'auth', aadsts: 7000215 });

  // Deploying a connection with that Key takes its history up again.
  const connection = {
    id: 'c1',
    type: 'office365-mail-connection',
    key: 'kept',
    name: 'Kept',
    tenantId: SANDBOX.tenantId,
    applicationId: SANDBOX.applicationId,
    senderEmail: SANDBOX.senderEmail,
    cloud: 'global',
    credentials: { clientSecret: 'not-used-in-this-test' },
  };
  const started = nextLog('Started flows');
  const deploy = await fetch(`${url}/flows`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', 'node-red-deployment-type': 'full' },
    body: JSON.stringify([{ id: 't1', type: 'tab', label: 'usage' }, connection]),
  });
  expect(deploy.status).toBe(204);
  await started;
  expect((await usageOf(READER))[0]).toMatchObject({ key: 'kept', id: 'c1', sent: 1, failed: 1, removed: false });

  // Someone who may only read cannot destroy the evidence.
  expect((await call('POST', '/office365-mail/usage/clear', READER, { key: 'kept' })).status).toBe(401);
  expect((await call('POST', '/office365-mail/usage/clear', undefined, { key: 'kept' })).status).toBe(401);
  expect((await usageOf(READER))[0]).toMatchObject({ sent: 1, failed: 1 });

  const cleared = await call('POST', '/office365-mail/usage/clear', ADMIN, { key: 'kept' });
  expect(cleared.status).toBe(200);
  expect(await cleared.json()).toEqual({ ok: true });
  expect((await usageOf(READER))[0]).toMatchObject({ key: 'kept', sent: 0, failed: 0, recentFailures: [] });
});
