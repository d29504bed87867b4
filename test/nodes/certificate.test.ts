/**
 * Certificate sign-in through the nodes: the sandbox verifies the signed client assertion for real
 * (signature against the registered certificate, aud, exp/nbf with Entra's 5 minute skew,
 * x5t#S256, and x5c on an app that requires it).
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { ConfidentialClientApplication, type AuthError } from '@azure/msal-node';
import { defaultDirectory, type Sandbox, type SandboxDirectory } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { ensureCa, ensureClientCertificate, issueCertificate, type IssuedCertificate } from '../../sandbox/ca';
import { catchNode, connectionNode, emailTaskNode, helper, logText, mailFlow, send, useSandboxAndRuntime, watchOutputs, type OutMsg } from '../support/node-red';
import { expectNoLeaks } from '../support/leaks';

/** Same app, as a tenant whose clock runs an hour ahead of ours: the assertion looks expired. */
const SKEWED_TENANT = '7a3e9c1d-5b2f-4e8a-9d6c-1f0b3a5e7c92';
/** Same app after the old certificate was removed from the registration (rotation done). */
const ROTATED_TENANT = '2c8f4a6e-1d3b-4f7a-8e9c-5b0d2a4f6e18';

const ca = ensureCa();
const current = ensureClientCertificate(ca);
/** The next certificate, uploaded next to the current one before the switch. */
const next: IssuedCertificate = issueCertificate(ca, { commonName: 'Office 365 Mail Sandbox client (next)', serverAuth: false, validityDays: 30 });
/** Signed by the same CA but never uploaded. */
const stranger: IssuedCertificate = issueCertificate(ca, { commonName: 'not uploaded', serverAuth: false, validityDays: 30 });

function directory(): SandboxDirectory {
  const dir = defaultDirectory();
  const tenant = dir.tenants[0];
  const app = tenant.apps.find((a) => a.applicationId === SANDBOX.certificateApplicationId)!;
  app.certificates = [current.certPem, next.certPem];
  // As an app set up for subject name + issuer: the assertion must carry x5c.
  app.requireX5c = true;
  const copy = (tenantId: string, domain: string, extra: Partial<SandboxDirectory['tenants'][number]>, certificates: string[]) => ({
    ...tenant,
    tenantId,
    domains: [domain],
    ...extra,
    apps: [{ ...app, certificates }],
  });
  dir.tenants.push(copy(SKEWED_TENANT, 'skewed.onmicrosoft.com', { clockOffsetSeconds: 3600 }, [current.certPem]));
  dir.tenants.push(copy(ROTATED_TENANT, 'rotated.onmicrosoft.com', {}, [next.certPem]));
  return dir;
}

const currentSandbox = useSandboxAndRuntime({ directory: directory() });
let sandbox: Sandbox;
beforeEach(() => {
  sandbox = currentSandbox();
});
afterEach(() => {
  for (const name of ['O365_TEST_CERT', 'O365_TEST_KEY']) delete process.env[name];
});

interface CertificateCredentials {
  certificate?: string;
  certificatePrivateKey?: string;
  certificatePassphrase?: string;
}

async function load(credentials: CertificateCredentials, connection: Record<string, unknown> = {}): Promise<void> {
  const flow = mailFlow(sandbox, {}, { applicationId: SANDBOX.certificateApplicationId, authMethod: 'certificate', ...connection });
  await helper.load([connectionNode, emailTaskNode, catchNode], flow, { c1: credentials });
}

async function sendOne(): Promise<{ sent: OutMsg[]; failed: OutMsg[]; all: unknown[] }> {
  const out = watchOutputs();
  send({ to: 'ada@example.com', topic: 'signed', payload: 'with a certificate' });
  await out.settled(1);
  return { sent: out.sent, failed: out.failed, all: [out.sent, out.failed, out.caught, out.statuses] };
}

/** Key material in every shape it could leak in: whole PEM, its base64 lines, the decrypted form. */
function keyNeedles(...keys: string[]): string[] {
  return keys.flatMap((pem) => {
    const pkcs8 = createPrivateKey(pem).export({ type: 'pkcs8', format: 'pem' }).toString();
    return [pem, pkcs8, ...[pem, pkcs8].flatMap((p) => p.split('\n').filter((line) => line.length >= 16 && !line.startsWith('-----')))];
  });
}

/** No key material of any test key (nor `extra`) in the haystacks or the log. */
function expectNoKeyLeaks(haystacks: unknown[], ...extra: string[]): void {
  expectNoLeaks([...haystacks, logText()], sandbox, [...keyNeedles(current.keyPem, next.keyPem, stranger.keyPem), ...extra]);
}

describe('certificate sign-in', () => {
  it('sends mail with a certificate: one signed assertion with x5c, accepted by the sandbox', async () => {
    await load({ certificate: current.certPem, certificatePrivateKey: current.keyPem });
    const { sent, failed, all } = await sendOne();
    expect(failed).toEqual([]);
    expect(sent).toHaveLength(1);
    expect(sandbox.stats().tokenRequests).toBe(1);
    expect(sandbox.mail(SANDBOX.senderEmail)).toHaveLength(1);
    // appidacr 2: the sandbox issued the token for a certificate credential.
    const [token] = sandbox.issuedTokens();
    expect(JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())).toMatchObject({ appid: SANDBOX.certificateApplicationId, appidacr: '2' });
    expectNoKeyLeaks(all);
  });

  it('no output, status, log line or usage data holds key material or the passphrase', async () => {
    const passphrase = 'correct-horse-battery';
    const encrypted = createPrivateKey(current.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }).toString();
    await load({ certificate: current.certPem, certificatePrivateKey: encrypted, certificatePassphrase: passphrase });
    const { all } = await sendOne();
    const usage = await helper.request().get('/office365-mail/usage');
    expect(usage.status).toBe(200);
    expectNoKeyLeaks([...all, usage.body], passphrase, encrypted);
  });

  it('reads certificate and key from ${NAME} environment references, PEM line breaks lost or not', async () => {
    process.env.O365_TEST_CERT = current.certPem;
    process.env.O365_TEST_KEY = current.keyPem.replace(/\n/g, '');
    await load({ certificate: '${O365_TEST_CERT}', certificatePrivateKey: '${O365_TEST_KEY}' });
    const { sent, all } = await sendOne();
    expect(sent).toHaveLength(1);
    expectNoKeyLeaks(all);
  });

  it('decrypts an encrypted key with certificatePassphrase', async () => {
    const passphrase = 'correct-horse-battery';
    const encrypted = createPrivateKey(current.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }).toString();
    await load({ certificate: current.certPem, certificatePrivateKey: encrypted, certificatePassphrase: passphrase });
    const { sent, all } = await sendOne();
    expect(sent).toHaveLength(1);
    expectNoKeyLeaks(all, passphrase, encrypted);
  });

  it('refuses an encrypted key without passphrase at deploy, clearly, before any request', async () => {
    const encrypted = createPrivateKey(current.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw-5678' }).toString();
    await load({ certificate: current.certPem, certificatePrivateKey: encrypted });
    expect(logText()).toContain('deploy.privateKeyEncrypted');
    const { failed, all } = await sendOne();
    expect(failed[0].error).toMatchObject({ category: 'validation', code: 'InvalidConnection' });
    expect(sandbox.stats().tokenRequests).toBe(0);
    expectNoKeyLeaks(all, encrypted);
  });

  it('refuses a key that does not belong to the certificate at deploy, before any request', async () => {
    await load({ certificate: current.certPem, certificatePrivateKey: next.keyPem });
    expect(logText()).toContain('deploy.keyMismatch');
    const { failed, all } = await sendOne();
    expect(failed[0].error).toMatchObject({ category: 'validation', code: 'InvalidConnection' });
    expect(sandbox.stats().tokenRequests).toBe(0);
    expectNoKeyLeaks(all);
  });

  it('a certificate that was never uploaded → AADSTS700027 with the "upload it" hint', async () => {
    await load({ certificate: stranger.certPem, certificatePrivateKey: stranger.keyPem });
    const { failed, all } = await sendOne();
    expect(failed[0].error).toMatchObject({ category: 'auth', aadsts: 700027, code: 'AADSTS700027', hint: expect.stringContaining('hints.certificateNotRegistered') });
    expect(sandbox.stats().graphRequests).toBe(0);
    expectNoKeyLeaks(all);
  });

  it('Entra refusing the signature → AADSTS700027 with the certificate hint', async () => {
    sandbox.addFault({
      target: 'token',
      status: 401,
      code: 'invalid_client',
      aadsts: 700027,
      message: 'AADSTS700027: Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value.]',
    });
    await load({ certificate: current.certPem, certificatePrivateKey: current.keyPem });
    const { failed } = await sendOne();
    expect(failed[0].error).toMatchObject({ category: 'auth', aadsts: 700027, hint: expect.stringContaining('hints.certificateInvalid') });
  });

  it("a clock an hour off → AADSTS700024 with the clock hint (the tenant judges the assertion's exp)", async () => {
    await load({ certificate: current.certPem, certificatePrivateKey: current.keyPem }, { tenantId: SKEWED_TENANT });
    const { failed, all } = await sendOne();
    expect(failed[0].error).toMatchObject({ category: 'auth', aadsts: 700024, hint: expect.stringContaining('hints.clockSkew') });
    expectNoKeyLeaks(all);
  });

  it('rotation without downtime: old and new both work while both are uploaded; after removal only the new', async () => {
    for (const cert of [current, next]) {
      await load({ certificate: cert.certPem, certificatePrivateKey: cert.keyPem });
      const { sent } = await sendOne();
      expect(sent).toHaveLength(1);
      await helper.unload();
    }
    await load({ certificate: current.certPem, certificatePrivateKey: current.keyPem }, { tenantId: ROTATED_TENANT });
    expect((await sendOne()).failed[0].error).toMatchObject({ aadsts: 700027 });
    await helper.unload();
    await load({ certificate: next.certPem, certificatePrivateKey: next.keyPem }, { tenantId: ROTATED_TENANT });
    expect((await sendOne()).sent).toHaveLength(1);
  });
});

describe('Test connection with a certificate', () => {
  async function test(body: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await helper.request().post('/office365-mail/connections/test').send(body);
    return { status: res.status, body: res.body as Record<string, unknown> };
  }
  const fields = (overrides: Record<string, unknown> = {}): Record<string, unknown> => {
    const { id: _id, type: _type, wires: _wires, ...rest } = mailFlow(sandbox, {}, { applicationId: SANDBOX.certificateApplicationId, authMethod: 'certificate' })[1];
    return { ...rest, ...overrides };
  };

  it('signs in with unsaved certificate fields and reports the thumbprint Entra must list', async () => {
    await load({ certificate: current.certPem, certificatePrivateKey: current.keyPem });
    const res = await test(fields({ certificate: current.certPem, certificatePrivateKey: current.keyPem }));
    expect(res.body).toMatchObject({
      ok: true,
      hasMailSend: true,
      authMethod: 'certificate',
      certificateThumbprint: current.thumbprintSha256.toUpperCase(),
      proxy: null,
    });
    expect(Date.parse(String(res.body.certificateExpiresOn))).toBeGreaterThan(Date.now());
    expectNoKeyLeaks([res.body]);
  });

  it("uses the deployed node's stored certificate and key when the editor sends none", async () => {
    await load({ certificate: next.certPem, certificatePrivateKey: next.keyPem });
    const res = await test(fields({ id: 'c1', certificate: '__PWRD__', certificatePrivateKey: '__PWRD__' }));
    expect(res.body).toMatchObject({ ok: true, certificateThumbprint: new X509Certificate(next.certPem).fingerprint256.replace(/:/g, '') });
  });

  it('names a mismatched key as a validation problem without a request', async () => {
    await load({ certificate: current.certPem, certificatePrivateKey: current.keyPem });
    const res = await test(fields({ certificate: current.certPem, certificatePrivateKey: stranger.keyPem }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: false, error: { category: 'validation', problems: [expect.objectContaining({ key: expect.stringContaining('deploy.keyMismatch') })] } });
    expect(sandbox.stats().tokenRequests).toBe(0);
    expectNoKeyLeaks([res.body]);
  });
});

describe('the sandbox judges the assertion', () => {
  it('refuses x5c that is not the signing certificate (700027), accepts the right one', async () => {
    const attempt = (x5c: string) =>
      new ConfidentialClientApplication({
        auth: {
          clientId: SANDBOX.certificateApplicationId,
          authority: `${sandbox.url}/${SANDBOX.tenantId}`,
          knownAuthorities: [`127.0.0.1:${sandbox.port}`],
          clientCertificate: { thumbprintSha256: current.thumbprintSha256, privateKey: current.keyPem, x5c },
        },
      }).acquireTokenByClientCredential({ scopes: [`${sandbox.url}/.default`] });
    const err = (await attempt(next.certPem).catch((e: unknown) => e)) as AuthError;
    expect(err.errorMessage).toContain('AADSTS700027');
    expect(err.errorMessage).toContain('x5c');
    expect((await attempt(current.certPem))?.accessToken).toBeTruthy();
  });
});
