/**
 * Extra trusted CAs per connection (caBundle), as for a TLS-inspecting proxy: Node reads
 * NODE_EXTRA_CA_CERTS only at start-up, so the proof runs in a child process started WITHOUT it,
 * where the sandbox's CA is trusted only if the connection's bundle says so.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { ensureCa } from '../../sandbox/ca';
import { catchNode, connectionNode, emailTaskNode, helper, mailFlow, send, useSandboxAndRuntime, watchOutputs } from '../support/node-red';
import { startConnectProxy, type ConnectProxy } from '../support/connect-proxy';

const currentSandbox = useSandboxAndRuntime();
let sandbox: Sandbox;
let proxy: ConnectProxy;
beforeEach(async () => {
  sandbox = currentSandbox();
  proxy = await startConnectProxy();
});
afterEach(async () => {
  await proxy.close();
});

const dist = path.join(__dirname, '..', '..', 'dist', 'nodes', 'lib');

/** Runs Test connection in a fresh Node without NODE_EXTRA_CA_CERTS, once per case. */
const CHILD = `
const { readConnectionSettings } = require(${JSON.stringify(path.join(dist, 'settings.js'))});
const { testConnection } = require(${JSON.stringify(path.join(dist, 'connection.js'))});
const input = JSON.parse(process.argv[1]);
(async () => {
  const results = [];
  for (const c of input.cases) {
    const { settings, problems } = readConnectionSettings({ ...input.base, ...c }, { clientSecret: input.secret }, () => undefined);
    if (!settings) { results.push({ problems }); continue; }
    try {
      const r = await testConnection(settings);
      results.push({ ok: r.ok, proxy: r.proxy });
    } catch (e) {
      results.push({ ok: false, category: e.category, code: e.code, hintKey: e.hintKey });
    }
  }
  process.stdout.write(JSON.stringify({ extraCerts: process.env.NODE_EXTRA_CA_CERTS ?? null, results }));
})();
`;

function runChild(cases: Array<Record<string, unknown>>): Promise<{ extraCerts: string | null; results: Array<Record<string, unknown>> }> {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  for (const name of ['https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY']) delete env[name];
  const base = { key: 'ca', tenantId: SANDBOX.tenantId, applicationId: SANDBOX.applicationId, senderEmail: SANDBOX.senderEmail, cloud: 'custom', loginUrl: sandbox.url, graphUrl: sandbox.url };
  const input = JSON.stringify({ base, secret: SANDBOX.clientSecret, cases });
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', CHILD, input], { env }, (err, stdout, stderr) => {
      if (err) reject(new Error(`child failed: ${stderr}`));
      else resolve(JSON.parse(stdout) as { extraCerts: string | null; results: Array<Record<string, unknown>> });
    });
  });
}

describe('caBundle', () => {
  it('makes the sandbox trusted in a process that did not get NODE_EXTRA_CA_CERTS, direct and through a proxy', async () => {
    const { extraCerts, results } = await runChild([{}, { caBundle: sandbox.caPem }, { caBundle: sandbox.caPem, proxyUrl: proxy.url }, { proxyUrl: proxy.url }]);
    expect(extraCerts).toBeNull();
    const [untrusted, direct, proxied, proxiedUntrusted] = results;
    // Without the bundle the child cannot verify the sandbox: the control that gives the rest meaning.
    expect(untrusted).toMatchObject({ ok: false, category: 'network', hintKey: 'tlsTrust' });
    expect(String(untrusted.code)).toMatch(/^(UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_)/);
    expect(direct).toEqual({ ok: true, proxy: null });
    expect(proxied).toEqual({ ok: true, proxy: `127.0.0.1:${proxy.port}` });
    expect(proxiedUntrusted).toMatchObject({ ok: false, hintKey: 'tlsTrust' });
    expect(proxy.tunnels().map((t) => t.target)).toEqual([`127.0.0.1:${sandbox.port}`, `127.0.0.1:${sandbox.port}`]);
  });

  it('adds to the trusted CAs: with an unrelated bundle, NODE_EXTRA_CA_CERTS still counts', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'o365-ca-'));
    try {
      const unrelated = ensureCa(tmp).caPem;
      await helper.load([connectionNode, emailTaskNode, catchNode], mailFlow(sandbox, {}, { caBundle: unrelated }), { c1: { clientSecret: SANDBOX.clientSecret } });
      const out = watchOutputs();
      send({ to: 'ada@example.com', topic: 'trusted', payload: 'x' });
      await out.settled(1);
      expect(out.failed).toEqual([]);
      expect(sandbox.mail(SANDBOX.senderEmail)).toHaveLength(1);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
