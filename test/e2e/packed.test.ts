/**
 * The packed tarball installed into a fresh Node-RED 4.1 user dir, driven only through the admin
 * API and an `http in` endpoint, as a user (or an outside conformance suite) would.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import axios from 'axios';
import { startSandbox, type Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { expectNoLeaks } from '../support/leaks';
import { endpointPath, sandboxStartFlow, spawnNodeRed, writeSettings, type FlowNode } from '../../scripts/local-node-red';
import { freePort } from '../support/ports';

jest.setTimeout(180_000);

const root = path.join(__dirname, '..', '..');
let sandbox: Sandbox;
let userDir: string;
let nodeRed: ChildProcess;
let baseUrl: string;
let log = '';

function waitForLog(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (log.includes(text)) resolve();
      else if (nodeRed.exitCode !== null) reject(new Error(`Node-RED exited: ${log}`));
      else setTimeout(check, 100);
    };
    check();
  });
}

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
  userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'o365-nr-'));
  const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', userDir], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop() as string;
  fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-user', private: true }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', path.join(userDir, tarball)], { cwd: userDir, stdio: 'inherit' });
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  writeSettings(userDir, { port, credentialSecret: 'e2e-credential-key', logLevel: 'debug' });
  nodeRed = spawnNodeRed(userDir, { ...process.env });
  nodeRed.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  nodeRed.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  await waitForLog('Server now running');
});

afterAll(async () => {
  if (nodeRed && nodeRed.exitCode === null) {
    const exited = new Promise((resolve) => nodeRed.once('exit', resolve));
    nodeRed.kill('SIGINT');
    await exited;
  }
  await sandbox?.close();
  if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
});

async function deploy(flow: FlowNode[]): Promise<void> {
  await axios.post(`${baseUrl}/flows`, flow, { headers: { 'Node-RED-Deployment-Type': 'full' } });
}

test('runs the Node-RED it was asked to (this project\'s 4.1, or NODE_RED_JS)', () => {
  const redJs = process.env.NODE_RED_JS || require.resolve('node-red/red.js');
  const { version } = JSON.parse(fs.readFileSync(path.join(path.dirname(redJs), 'package.json'), 'utf8')) as { version: string };
  expect(log).toContain(`Node-RED version: v${version}`);
});

test('the palette shows the three nodes from the package', async () => {
  const res = await axios.get(`${baseUrl}/nodes`, { headers: { Accept: 'application/json' } });
  const sets = res.data as Array<{ module: string; types: string[]; enabled: boolean; err?: string }>;
  const ours = sets.filter((s) => s.module === 'node-red-contrib-office365-mail');
  expect(ours.flatMap((s) => s.types).sort()).toEqual(['email-task', 'office365-mail-connection', 'office365-mail-in']);
  expect(ours.every((s) => s.enabled && !s.err)).toBe(true);
  const html = await axios.get(`${baseUrl}/nodes`, { headers: { Accept: 'text/html' } });
  expect(html.data).toContain('data-template-name="email-task"');
  expect(html.data).toContain('data-template-name="office365-mail-in"');
  for (const file of ['office365-mail.svg', 'office365-mail-in.svg']) {
    const icon = await axios.get(`${baseUrl}/icons/node-red-contrib-office365-mail/${file}`);
    expect(icon.status).toBe(200);
  }
  // The editor code the dialogs load from resources/: without it the editor never finishes loading.
  for (const [file, type] of [['editor.js', 'javascript'], ['editor.css', 'text/css']]) {
    const served = await axios.get(`${baseUrl}/resources/node-red-contrib-office365-mail/${file}`, { responseType: 'text' });
    expect(served.status).toBe(200);
    expect(served.headers['content-type']).toContain(type);
    expect(served.data).toBe(fs.readFileSync(path.join(root, 'resources', file), 'utf8'));
  }
});

test('the example flow sends a mail from its http endpoint; a wrong secret explains itself; nothing leaks', async () => {
  const flow = sandboxStartFlow(sandbox.url);
  log = '';
  await deploy(flow);
  await waitForLog('Started flows');
  const url = `${baseUrl}${endpointPath(flow)}`;

  const ok = await axios.post(url, { to: 'ada@example.com', subject: 'Hello', body: 'Hi from Node-RED' }, { validateStatus: () => true });
  expect({ status: ok.status, log }).toMatchObject({ status: 202 });
  expect(ok.data).toMatchObject({ status: 'sent', to: ['ada@example.com'], subject: 'Hello', path: 'sendMail' });
  expect(sandbox.mail(SANDBOX.senderEmail).map((m) => m.message.subject)).toEqual(['Hello']);

  log = '';
  await deploy(sandboxStartFlow(sandbox.url, 'not-the-secret-value'));
  await waitForLog('Started flows');
  const bad = await axios.post(url, { to: 'ada@example.com', subject: 'Hello', body: 'x' }, { validateStatus: () => true });
  expect(bad.status).toBe(502);
  expect(bad.data).toMatchObject({ category: 'auth', aadsts: 7000215, code: 'AADSTS7000215' });
  expect(String(bad.data.hint)).toMatch(/secret's ID instead of its Value/);

  const usage = await axios.get(`${baseUrl}/office365-mail/usage`);
  const [connection] = usage.data.connections as Array<Record<string, unknown>>;
  expect(connection).toMatchObject({ failedByCategory: { auth: 1 } });

  const flows = await axios.get(`${baseUrl}/flows`);
  const stored = fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8');
  expectNoLeaks([flows.data, usage.data, ok.data, bad.data, log, stored], sandbox, ['not-the-secret-value']);
});

test('faults through the packed package: retried 429 and 503, a reset after acceptance, a hung request; nothing leaks', async () => {
  // A short request timeout so the hung request ends quickly.
  const flow = sandboxStartFlow(sandbox.url).map((n) => (n.type === 'email-task' ? { ...n, timeout: 1 } : n));
  log = '';
  await deploy(flow);
  await waitForLog('Started flows');
  const url = `${baseUrl}${endpointPath(flow)}`;
  const post = (subject: string): Promise<{ status: number; data: Record<string, unknown> }> =>
    axios.post(url, { to: 'ada@example.com', subject, body: 'fault' }, { validateStatus: () => true });
  const deliveries = (subject: string): number => sandbox.mail(SANDBOX.senderEmail).filter((m) => m.message.subject === subject).length;

  sandbox.addFault({ target: 'sendMail', status: 429, code: 'ApplicationThrottled', retryAfter: '1' });
  const throttled = await post('after a 429');
  expect(throttled).toMatchObject({ status: 202, data: { status: 'sent', attempts: 2 } });

  sandbox.addFault({ target: 'sendMail', status: 503, code: 'ServiceUnavailable' });
  const unavailable = await post('after a 503');
  expect(unavailable).toMatchObject({ status: 202, data: { status: 'sent', attempts: 2 } });

  sandbox.addFault({ target: 'sendMail', action: 'reset-after' });
  const reset = await post('reset after acceptance');
  expect(reset).toMatchObject({ status: 502, data: { category: 'unknown-outcome', attempts: 1 } });
  expect(String(reset.data.hint)).toMatch(/Sent Items/);

  sandbox.addFault({ target: 'sendMail', action: 'hang' });
  const hung = await post('hung');
  expect(hung).toMatchObject({ status: 502, data: { category: 'unknown-outcome', code: 'ETIMEDOUT', attempts: 1 } });

  expect([deliveries('after a 429'), deliveries('after a 503'), deliveries('reset after acceptance'), deliveries('hung')]).toEqual([1, 1, 1, 0]);

  const usage = await axios.get(`${baseUrl}/office365-mail/usage`);
  const flows = await axios.get(`${baseUrl}/flows`);
  const stored = fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8');
  const seen = [flows.data, usage.data, throttled.data, unavailable.data, reset.data, hung.data, log, stored];
  expectNoLeaks(seen, sandbox);
});
