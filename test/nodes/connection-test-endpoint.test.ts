/** POST /office365-mail/connections/test: Test connection, with unsaved values or the stored secret. */
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { ensureCa, issueServerCert } from '../../sandbox/ca';
import { catchNode, connectionConfig, connectionNode, emailTaskNode, helper, loadMailFlow, logText, mailFlow, useSandboxAndRuntime } from '../support/node-red';
import { expectNoLeaks } from '../support/leaks';
import { withEnglish } from '../support/english';
import { startConnectProxy } from '../support/connect-proxy';

const currentSandbox = useSandboxAndRuntime();
let sandbox: Sandbox;
beforeEach(() => {
  sandbox = currentSandbox();
});

function fields(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const { id: _id, type: _type, ...rest } = connectionConfig(sandbox);
  return { ...rest, ...overrides };
}

async function test(body: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await helper.request().post('/office365-mail/connections/test').send(body);
  return { status: res.status, body: res.body as Record<string, unknown> };
}

/**
 * An attacker's HTTPS listener on loopback with its own self-signed CA (handed to the endpoint as
 * `caBundle`): it records the body of every request that reaches it.
 */
interface Attacker {
  url: string;
  caPem: string;
  bodies: string[];
  close(): Promise<void>;
}

async function startAttacker(): Promise<Attacker> {
  const ca = ensureCa(fs.mkdtempSync(path.join(os.tmpdir(), 'attacker-ca-')));
  const leaf = issueServerCert(ca);
  const bodies: string[] = [];
  const server = https.createServer({ key: leaf.keyPem, cert: leaf.certPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)} ${Buffer.concat(chunks).toString()}`);
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_request"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    caPem: ca.caPem,
    bodies,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('Test connection endpoint', () => {
  beforeEach(async () => {
    await loadMailFlow(mailFlow(sandbox));
  });

  it('acquires a fresh token with unsaved values and reports its roles and expiry', async () => {
    const before = sandbox.stats().tokenRequests;
    const res = await test(fields({ clientSecret: SANDBOX.clientSecret }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: true, hasMailSend: true, roles: expect.arrayContaining(['Mail.Send']), readMail: 'readWrite' });
    expect(Date.parse(String(res.body.expiresOn))).toBeGreaterThan(Date.now());
    expect(sandbox.stats().tokenRequests).toBe(before + 1);
  });

  it("uses the deployed node's stored secret when the editor sends none", async () => {
    const res = await test(fields({ id: 'c1', clientSecret: '__PWRD__' }));
    expect(res.body).toMatchObject({ ok: true, hasMailSend: true });
  });

  it('says what "email in" can do by the token: Mail.Read reads, Mail.ReadWrite also marks, moves and deletes', async () => {
    sandbox.setAppRoles(SANDBOX.applicationId, ['Mail.Send', 'Mail.Read']);
    try {
      const res = await test(fields({ clientSecret: SANDBOX.clientSecret }));
      expect(res.body).toMatchObject({ ok: true, readMail: 'read', largeMails: 'unknown' });
    } finally {
      sandbox.setAppRoles(SANDBOX.applicationId, ['Mail.Send', 'Mail.ReadWrite']);
    }
  });

  it('says when the token has no roles (admin consent missing)', async () => {
    const res = await test(fields({ applicationId: SANDBOX.noConsentApplicationId, clientSecret: SANDBOX.noConsentClientSecret }));
    expect(res.body).toMatchObject({ ok: true, roles: [], hasMailSend: false, readMail: 'unknown' });
  });

  it('answers a refused secret with the classified error and its hint, never the secret', async () => {
    const res = await test(fields({ clientSecret: SANDBOX.clientSecretId }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      ok: false,
      error: {
        category: 'auth',
        aadsts: 7000215,
        hint: expect.stringContaining('hints.invalidSecret'),
        // Keys and parameters for the editor to render in its own language.
        hintKey: 'node-red-contrib-office365-mail/email-task:email-task.hints.invalidSecret',
        messageKey: 'node-red-contrib-office365-mail/email-task:email-task.errors.tokenRefused',
        params: expect.objectContaining({ code: 'AADSTS7000215' }),
        // Microsoft's own text, apart from the plain message.
        details: expect.stringContaining('AADSTS7000215'),
      },
    });
    expectNoLeaks([res.body], sandbox, [SANDBOX.clientSecretId]);
  });

  it('answers incomplete fields with 200, ok: false and the problems as keys (no browser console error)', async () => {
    const res = await test(fields({ applicationId: '', clientSecret: 'x' }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      ok: false,
      error: {
        category: 'validation',
        problems: [
          {
            field: 'applicationId',
            key: 'node-red-contrib-office365-mail/office365-mail-connection:office365-mail-connection.deploy.required',
            fieldKey: 'node-red-contrib-office365-mail/office365-mail-connection:office365-mail-connection.label.applicationId',
            text: expect.stringContaining('deploy.required'),
          },
        ],
      },
    });
  });

  it('sends a test mail through the email task\'s path and reports Graph\'s answer', async () => {
    const res = await test(fields({ clientSecret: SANDBOX.clientSecret, sendTo: 'ada@example.com' }));
    expect(res.body).toMatchObject({ ok: true, testMail: { ok: true, to: ['ada@example.com'], sender: SANDBOX.senderEmail, requestId: expect.any(String) } });
    const mail = sandbox.mail().find((m) => m.requestId === (res.body.testMail as { requestId: string }).requestId);
    expect(mail?.message).toMatchObject({ subject: 'office365-mail-connection.testMail.subject' });
  });

  it('reports a test mail Graph refuses, with the token still reported', async () => {
    const res = await test(fields({ clientSecret: SANDBOX.clientSecret, sendTo: 'not an address@' }));
    expect(res.body).toMatchObject({ ok: true, hasMailSend: true, testMail: { ok: false, error: { category: 'validation', hintKey: expect.stringContaining('hints.') } } });
  });

  it("tests every tab's fields: the test mail obeys the allowed domains being edited, and a bad limit is named", async () => {
    const refused = await test(fields({ clientSecret: SANDBOX.clientSecret, allowedRecipientDomains: 'example.org', sendTo: 'ada@example.com' }));
    expect(refused.body).toMatchObject({ ok: true, testMail: { ok: false, error: { category: 'validation', code: 'RecipientDomainNotAllowed' } } });
    const invalid = await test(fields({ clientSecret: SANDBOX.clientSecret, maxMailsPerMinute: 'lots' }));
    expect(invalid.body).toMatchObject({ ok: false, error: { problems: [expect.objectContaining({ field: 'maxMailsPerMinute' })] } });
  });

  it("resolves a ${NAME} credential as the deployed node does, toward the deployed connection's own endpoints", async () => {
    process.env.O365_TEST_SECRET = SANDBOX.clientSecret;
    try {
      const res = await test(fields({ id: 'c1', clientSecret: '${O365_TEST_SECRET}' }));
      expect(res.body).toMatchObject({ ok: true });
    } finally {
      delete process.env.O365_TEST_SECRET;
    }
  });
});

describe('Test connection endpoint under attack (issue 11)', () => {
  let attacker: Attacker;
  beforeEach(async () => {
    attacker = await startAttacker();
  });
  afterEach(async () => {
    await attacker.close();
  });

  it("never sends a deployed connection's stored secret to a login host the caller names", async () => {
    await loadMailFlow(mailFlow(sandbox));
    const res = await test(fields({ id: 'c1', loginUrl: attacker.url, graphUrl: attacker.url, caBundle: attacker.caPem }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      ok: false,
      error: {
        category: 'validation',
        code: 'CredentialNotForThisDestination',
        fields: ['clientSecret'],
        message: expect.stringContaining('test.refused.stored'),
        messageKey: expect.stringContaining('office365-mail-connection.test.refused.stored'),
        labelParams: { credentials: ['clientSecret'], changed: expect.arrayContaining(['loginUrl', 'graphUrl']) },
      },
    });
    expect(attacker.bodies).toEqual([]);
    expectNoLeaks([res.body, logText()], null);
  });

  it.each([
    ['cloud', 'global'],
    ['loginUrl', 'https://login.attacker.example'],
    ['graphUrl', 'https://graph.attacker.example'],
    ['tenantId', 'attacker.onmicrosoft.com'],
    ['applicationId', SANDBOX.noConsentApplicationId],
    ['authMethod', 'certificate'],
    ['proxyUrl', 'http://127.0.0.1:9'],
  ])('refuses the stored credential when only %s differs from the deployed node', async (field, value) => {
    await loadMailFlow(mailFlow(sandbox));
    const before = sandbox.stats().tokenRequests;
    const res = await test(fields({ id: 'c1', [field]: value }));
    expect(res.status).toBe(200);
    // A changed authMethod needs credentials of the other kind, which are not stored here.
    if (field !== 'authMethod') expect(res.body).toMatchObject({ ok: false, error: { code: 'CredentialNotForThisDestination' } });
    expect(sandbox.stats().tokenRequests).toBe(before);
  });

  it('never sends a stored proxy password to a proxy the caller names', async () => {
    const legit = await startConnectProxy({ credentials: { user: 'svc', password: 'Pr0xy-pa55word!' } });
    const evil = await startConnectProxy({ credentials: { user: 'svc', password: 'Pr0xy-pa55word!' } });
    try {
      await helper.load([connectionNode, emailTaskNode, catchNode], mailFlow(sandbox, {}, { proxyUrl: `http://svc@127.0.0.1:${legit.port}` }), {
        c1: { clientSecret: SANDBOX.clientSecret, proxyPassword: 'Pr0xy-pa55word!' },
      });
      // The deployed connection's own proxy is used with its stored password.
      const own = await test(fields({ id: 'c1', proxyUrl: `http://svc@127.0.0.1:${legit.port}` }));
      expect(own.body).toMatchObject({ ok: true });
      expect(legit.tunnels().length).toBeGreaterThan(0);

      const res = await test(fields({ id: 'c1', proxyUrl: `http://svc@127.0.0.1:${evil.port}` }));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ ok: false, error: { code: 'CredentialNotForThisDestination' } });
      expect(evil.connects).toEqual([]);
    } finally {
      await legit.close();
      await evil.close();
    }
  });

  it('uses no stored credential of a node that is not an office365-mail-connection', async () => {
    await helper.load([connectionNode, emailTaskNode, catchNode], mailFlow(sandbox), {
      c1: { clientSecret: SANDBOX.clientSecret },
      e1: { clientSecret: 'another-nodes-secret-value' },
    });
    const res = await test(fields({ id: 'e1', loginUrl: attacker.url, graphUrl: attacker.url, caBundle: attacker.caPem }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: false, error: { category: 'validation', problems: [expect.objectContaining({ text: expect.stringContaining('deploy.required') })] } });
    expect(attacker.bodies).toEqual([]);
  });

  it('resolves no ${NAME} in plain fields and quotes no value in its problems', async () => {
    // In English: the helper's own RED._ returns keys, which would hide a quoted value.
    await helper.load([withEnglish(connectionNode), withEnglish(emailTaskNode), catchNode], mailFlow(sandbox), { c1: { clientSecret: SANDBOX.clientSecret } });
    process.env.O365_TEST_API_KEY = 'topsecret-env-value-42';
    try {
      const res = await test(fields({ applicationId: '${O365_TEST_API_KEY}', tenantId: '${O365_TEST_API_KEY}', clientSecret: 'typed' }));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ ok: false, error: { category: 'validation', problems: expect.arrayContaining([expect.objectContaining({ text: expect.stringContaining('Application ID') })]) } });
      expect(JSON.stringify(res.body)).not.toContain('topsecret-env-value-42');
    } finally {
      delete process.env.O365_TEST_API_KEY;
    }
  });

  it('never sends a ${NAME} credential anywhere but the deployed connection\'s own endpoints', async () => {
    await loadMailFlow(mailFlow(sandbox));
    process.env.O365_TEST_SECRET = 'env-secret-value-for-the-attacker';
    try {
      const unsaved = await test(fields({ loginUrl: attacker.url, graphUrl: attacker.url, caBundle: attacker.caPem, clientSecret: '${O365_TEST_SECRET}' }));
      expect(unsaved.status).toBe(200);
      expect(unsaved.body).toMatchObject({ ok: false, error: { code: 'CredentialNotForThisDestination', message: expect.stringContaining('test.refused.envNotDeployed') } });
      const changed = await test(fields({ id: 'c1', loginUrl: attacker.url, graphUrl: attacker.url, caBundle: attacker.caPem, clientSecret: '${O365_TEST_SECRET}' }));
      expect(changed.status).toBe(200);
      expect(changed.body).toMatchObject({ ok: false, error: { code: 'CredentialNotForThisDestination', message: expect.stringContaining('test.refused.envChanged') } });
      expect(attacker.bodies).toEqual([]);
      expectNoLeaks([unsaved.body, changed.body, logText()], null, ['env-secret-value-for-the-attacker']);
    } finally {
      delete process.env.O365_TEST_SECRET;
    }
  });

  it('sends a secret typed into the dialog to the endpoints typed with it', async () => {
    await loadMailFlow(mailFlow(sandbox));
    const res = await test(fields({ id: 'c1', tenantId: SANDBOX.tenantId.toUpperCase(), clientSecret: SANDBOX.clientSecret }));
    expect(res.body).toMatchObject({ ok: true });
  });

  it.each([
    ['a cross-site form (urlencoded)', 'application/x-www-form-urlencoded', 'id=c1&cloud=custom&loginUrl=https%3A%2F%2F127.0.0.1'],
    ['a cross-site form (text/plain)', 'text/plain', '{"id":"c1"}'],
    ['a multipart form', 'multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="id"\r\n\r\nc1\r\n--x--\r\n'],
  ])('answers %s with 415 before anything else', async (_name, type, body) => {
    await loadMailFlow(mailFlow(sandbox));
    const before = sandbox.stats().tokenRequests;
    const res = await helper.request().post('/office365-mail/connections/test').set('content-type', type).send(body);
    expect(res.status).toBe(415);
    expect(sandbox.stats().tokenRequests).toBe(before);
  });
});
