/**
 * Outbound proxies through the nodes, with a real CONNECT proxy on loopback: HTTPS_PROXY and
 * NO_PROXY from the environment, the connection's own proxy (winning over the environment), Basic
 * proxy credentials, and keep-alive through the tunnel.
 */
import type { Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { catchNode, connectionConfig, connectionNode, emailTaskNode, helper, logText, mailFlow, send, useSandboxAndRuntime, watchOutputs } from '../support/node-red';
import { expectNoLeaks } from '../support/leaks';
import { startConnectProxy, type ConnectProxy } from '../support/connect-proxy';
import { ensureCa, issueServerCert } from '../../sandbox/ca';

// Upload URLs on another host name, as Graph's are on the Outlook host: a proxy sees both.
const currentSandbox = useSandboxAndRuntime({ uploadHost: 'localhost' });
let sandbox: Sandbox;
let proxy: ConnectProxy;
/** Requires Basic credentials. */
let guarded: ConnectProxy;
const PROXY_USER = 'svc-node-red';
const PROXY_PASSWORD = 'Pr0xy-pa55word!with:colon';

const ENV_NAMES = ['https_proxy', 'HTTPS_PROXY', 'no_proxy', 'NO_PROXY', 'all_proxy', 'ALL_PROXY'];
const savedEnv: Record<string, string | undefined> = {};

beforeAll(async () => {
  for (const name of ENV_NAMES) savedEnv[name] = process.env[name];
});
beforeEach(async () => {
  sandbox = currentSandbox();
  for (const name of ENV_NAMES) delete process.env[name];
  proxy = await startConnectProxy();
  guarded = await startConnectProxy({ credentials: { user: PROXY_USER, password: PROXY_PASSWORD } });
});
afterEach(async () => {
  // The flow is unloaded by the shared lifecycle first; then nothing holds a tunnel open.
  await proxy.close();
  await guarded.close();
  for (const name of ENV_NAMES) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
});

async function load(connection: Record<string, unknown> = {}, credentials: Record<string, string> = {}): Promise<void> {
  await helper.load([connectionNode, emailTaskNode, catchNode], mailFlow(sandbox, {}, connection), { c1: { clientSecret: SANDBOX.clientSecret, ...credentials } });
}

/** Sends `count` mails one after the other (each waits for the previous one's output). */
async function sendInTurn(count: number): Promise<ReturnType<typeof watchOutputs>> {
  const out = watchOutputs();
  for (let i = 1; i <= count; i++) {
    send({ to: 'ada@example.com', topic: `through the proxy ${i}`, payload: 'x' });
    await out.settled(i);
  }
  return out;
}

const sandboxTarget = (): string => `127.0.0.1:${sandbox.port}`;
const basic = Buffer.from(`${PROXY_USER}:${PROXY_PASSWORD}`).toString('base64');

/** Neither the proxy password (plain or in Basic form) nor a sandbox secret or token in the haystacks or the log. */
function expectNoProxyLeaks(haystacks: unknown[]): void {
  expectNoLeaks([...haystacks, logText()], sandbox, [PROXY_PASSWORD, basic]);
}

describe('proxy from the environment', () => {
  it('HTTPS_PROXY: token and Graph requests all go through one kept-alive tunnel', async () => {
    process.env.HTTPS_PROXY = proxy.url;
    await load();
    const out = await sendInTurn(5);
    expect(out.failed).toEqual([]);
    expect(out.sent).toHaveLength(5);
    expect(sandbox.stats()).toMatchObject({ tokenRequests: 1, mailsSent: 5 });
    // Every TLS connection the sandbox accepted came through a tunnel, and there was one of them:
    // the token request and the five sendMail calls shared it.
    expect(proxy.tunnels().map((t) => t.target)).toEqual([sandboxTarget()]);
    expect(sandbox.stats().tlsConnections).toBe(proxy.tunnels().length);
  });

  it('a burst of 20 mails shares at most 4 tunnels (the per-mailbox concurrency), not one per mail', async () => {
    process.env.HTTPS_PROXY = proxy.url;
    await load();
    const out = watchOutputs();
    for (let i = 0; i < 20; i++) send({ to: 'ada@example.com', topic: `burst ${i}`, payload: 'x' });
    await out.settled(20);
    expect(out.sent).toHaveLength(20);
    expect(proxy.tunnels().length).toBeGreaterThanOrEqual(1);
    expect(proxy.tunnels().length).toBeLessThanOrEqual(4);
    expect(sandbox.stats().tlsConnections).toBe(proxy.tunnels().length);
  });

  it('a large mail: the upload PUTs go to the upload URL\'s own host, through the proxy too', async () => {
    process.env.HTTPS_PROXY = proxy.url;
    await load();
    const out = watchOutputs();
    send({ to: 'ada@example.com', topic: 'large through the proxy', payload: 'x', attachments: [{ filename: 'big.bin', content: Buffer.alloc(5_000_000, 1) }] });
    await out.settled(1);
    expect(out.sent[0]?.email).toMatchObject({ path: 'uploadSession' });
    expect(new Set(proxy.tunnels().map((t) => t.target))).toEqual(new Set([sandboxTarget(), `localhost:${sandbox.port}`]));
    expect(sandbox.stats().tlsConnections).toBe(proxy.tunnels().length);
  });

  it('https_proxy (lower case) works too', async () => {
    process.env.https_proxy = proxy.url;
    await load();
    expect((await sendInTurn(1)).sent).toHaveLength(1);
    expect(proxy.tunnels()).toHaveLength(1);
  });

  it('NO_PROXY bypasses the proxy for the hosts it names', async () => {
    process.env.HTTPS_PROXY = proxy.url;
    process.env.NO_PROXY = 'example.org, 127.0.0.1';
    await load();
    const out = await sendInTurn(2);
    expect(out.sent).toHaveLength(2);
    expect(proxy.connects).toEqual([]);
    expect(sandbox.stats().tlsConnections).toBeGreaterThan(0);
  });

  it('a proxy that cannot be reached → network, with the proxy named in the hint; nothing sent', async () => {
    const port = proxy.port;
    await proxy.close();
    process.env.HTTPS_PROXY = `http://127.0.0.1:${port}`;
    await load();
    const out = await sendInTurn(1);
    expect(out.failed[0].error).toMatchObject({ category: 'network', code: 'ECONNREFUSED', hint: expect.stringContaining('hints.proxyUnreachable') });
    expect(sandbox.stats().tokenRequests).toBe(0);
  });
});

describe("the connection's own proxy", () => {
  it('wins over HTTPS_PROXY and NO_PROXY', async () => {
    process.env.HTTPS_PROXY = guarded.url;
    process.env.NO_PROXY = '127.0.0.1';
    await load({ proxyUrl: proxy.url });
    const out = await sendInTurn(3);
    expect(out.sent).toHaveLength(3);
    expect(proxy.tunnels().map((t) => t.target)).toEqual([sandboxTarget()]);
    expect(guarded.connects).toEqual([]);
    expect(sandbox.stats().tlsConnections).toBe(1);
  });

  it('may itself be reached over TLS (an https:// proxy URL)', async () => {
    const leaf = issueServerCert(ensureCa());
    const tlsProxy = await startConnectProxy({ tls: { key: leaf.keyPem, cert: leaf.certPem } });
    try {
      await load({ proxyUrl: tlsProxy.url });
      expect((await sendInTurn(2)).sent).toHaveLength(2);
      expect(tlsProxy.tunnels().map((t) => t.target)).toEqual([sandboxTarget()]);
    } finally {
      await helper.unload();
      await tlsProxy.close();
    }
  });

  it('sends the user from the URL and the proxyPassword credential as Basic auth; never leaks it', async () => {
    await load({ proxyUrl: `http://${PROXY_USER}@127.0.0.1:${guarded.port}` }, { proxyPassword: PROXY_PASSWORD });
    const out = await sendInTurn(2);
    expect(out.sent).toHaveLength(2);
    expect(guarded.tunnels()).toEqual([{ target: sandboxTarget(), status: 200, hadCredentials: true }]);
    expectNoProxyLeaks([out.sent, out.failed, out.statuses]);
  });

  it('reads proxyPassword from a ${NAME} reference', async () => {
    process.env.O365_TEST_PROXY_PASSWORD = PROXY_PASSWORD;
    try {
      await load({ proxyUrl: `http://${PROXY_USER}@127.0.0.1:${guarded.port}` }, { proxyPassword: '${O365_TEST_PROXY_PASSWORD}' });
      expect((await sendInTurn(1)).sent).toHaveLength(1);
    } finally {
      delete process.env.O365_TEST_PROXY_PASSWORD;
    }
  });

  it('a wrong proxy password → 407 classified as network (not sent, not retryable), proxy hint, no leak', async () => {
    const wrong = 'not-the-proxy-password';
    await load({ proxyUrl: `http://${PROXY_USER}@127.0.0.1:${guarded.port}` }, { proxyPassword: wrong });
    const out = await sendInTurn(1);
    expect(out.failed[0].error).toMatchObject({ category: 'network', code: 'EPROXY407', retryable: false, hint: expect.stringContaining('hints.proxyAuth') });
    expect(guarded.connects[0]).toEqual({ target: sandboxTarget(), status: 407, hadCredentials: true });
    expect(sandbox.stats().tlsConnections).toBe(0);
    expectNoLeaks([out.failed, out.caught, out.statuses, logText()], sandbox, [wrong, Buffer.from(`${PROXY_USER}:${wrong}`).toString('base64')]);
  });

  it('a proxy refusing the target → EPROXY403, never reported as a possibly sent mail', async () => {
    // The test proxy tunnels to loopback only: "localhost.example" stands for a blocked host.
    await load({ proxyUrl: proxy.url, loginUrl: 'https://localhost.example', graphUrl: 'https://localhost.example' });
    const out = await sendInTurn(1);
    expect(out.failed[0].error).toMatchObject({ category: 'network', code: 'EPROXY403', hint: expect.stringContaining('hints.proxyRefused') });
    expect(proxy.connects).toEqual([{ target: 'localhost.example:443', status: 403, hadCredentials: false }]);
  });
});

describe('Test connection through a proxy', () => {
  async function test(body: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await helper.request().post('/office365-mail/connections/test').send(body);
    return { status: res.status, body: res.body as Record<string, unknown> };
  }
  function fields(overrides: Record<string, unknown>): Record<string, unknown> {
    const { id: _id, type: _type, ...rest } = connectionConfig(sandbox);
    return { ...rest, clientSecret: SANDBOX.clientSecret, ...overrides };
  }

  it('uses unsaved proxy fields and says which proxy it went through', async () => {
    await load();
    const res = await test(fields({ proxyUrl: `http://${PROXY_USER}@127.0.0.1:${guarded.port}`, proxyPassword: PROXY_PASSWORD }));
    expect(res.body).toMatchObject({ ok: true, hasMailSend: true, proxy: `127.0.0.1:${guarded.port}` });
    expect(guarded.tunnels()).toHaveLength(1);
    expectNoProxyLeaks([res.body]);
  });

  it("uses the deployed node's stored proxy password when the editor sends none", async () => {
    const proxyUrl = `http://${PROXY_USER}@127.0.0.1:${guarded.port}`;
    await load({ proxyUrl }, { proxyPassword: PROXY_PASSWORD });
    const res = await test(fields({ id: 'c1', clientSecret: '__PWRD__', proxyUrl, proxyPassword: '__PWRD__' }));
    expect(res.body).toMatchObject({ ok: true });
    expect(guarded.tunnels()).toHaveLength(1);
  });

  it('reports a refused proxy login with its hint', async () => {
    await load();
    const res = await test(fields({ proxyUrl: `http://${PROXY_USER}@127.0.0.1:${guarded.port}`, proxyPassword: 'wrong-password' }));
    expect(res.body).toMatchObject({ ok: false, error: { category: 'network', code: 'EPROXY407', hint: expect.stringContaining('hints.proxyAuth') } });
    expectNoLeaks([res.body], sandbox, ['wrong-password']);
  });

  it('refuses a password inside the proxy URL without echoing it', async () => {
    await load();
    const res = await test(fields({ proxyUrl: `http://${PROXY_USER}:${encodeURIComponent(PROXY_PASSWORD)}@127.0.0.1:${guarded.port}` }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: false, error: { problems: [expect.objectContaining({ key: expect.stringContaining('deploy.proxyPasswordInUrl') })] } });
    expectNoLeaks([res.body], sandbox, [PROXY_PASSWORD, encodeURIComponent(PROXY_PASSWORD)]);
    expect(guarded.connects).toEqual([]);
  });
});
