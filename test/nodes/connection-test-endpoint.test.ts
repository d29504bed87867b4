/** POST /office365-mail/connections/test: Test connection, with unsaved values or the stored secret. */
import type { Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { connectionConfig, helper, loadMailFlow, mailFlow, useSandboxAndRuntime } from '../support/node-red';
import { expectNoLeaks } from '../support/leaks';

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

describe('Test connection endpoint', () => {
  beforeEach(async () => {
    await loadMailFlow(mailFlow(sandbox));
  });

  it('acquires a fresh token with unsaved values and reports its roles and expiry', async () => {
    const before = sandbox.stats().tokenRequests;
    const res = await test(fields({ clientSecret: SANDBOX.clientSecret }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: true, hasMailSend: true, roles: expect.arrayContaining(['Mail.Send']) });
    expect(Date.parse(String(res.body.expiresOn))).toBeGreaterThan(Date.now());
    expect(sandbox.stats().tokenRequests).toBe(before + 1);
  });

  it("uses the deployed node's stored secret when the editor sends none", async () => {
    const res = await test(fields({ id: 'c1', clientSecret: '__PWRD__' }));
    expect(res.body).toMatchObject({ ok: true, hasMailSend: true });
  });

  it('says when the token has no roles (admin consent missing)', async () => {
    const res = await test(fields({ applicationId: SANDBOX.noConsentApplicationId, clientSecret: SANDBOX.noConsentClientSecret }));
    expect(res.body).toMatchObject({ ok: true, roles: [], hasMailSend: false });
  });

  it('answers a refused secret with the classified error and its hint, never the secret', async () => {
    const res = await test(fields({ clientSecret: SANDBOX.clientSecretId }));
    expect(res.body).toMatchObject({ ok: false, error: { category: 'auth', aadsts: 7000215, hint: expect.stringContaining('hints.invalidSecret') } });
    expectNoLeaks([res.body], sandbox, [SANDBOX.clientSecretId]);
  });

  it('refuses incomplete fields with 400 and names them', async () => {
    const res = await test(fields({ applicationId: '', clientSecret: 'x' }));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ ok: false, error: { category: 'validation', problems: [expect.stringContaining('deploy.required')] } });
  });

  it('resolves ${NAME} references from the environment', async () => {
    process.env.O365_TEST_TENANT = SANDBOX.tenantId;
    process.env.O365_TEST_SECRET = SANDBOX.clientSecret;
    try {
      const res = await test(fields({ tenantId: '${O365_TEST_TENANT}', clientSecret: '${O365_TEST_SECRET}' }));
      expect(res.body).toMatchObject({ ok: true });
    } finally {
      delete process.env.O365_TEST_TENANT;
      delete process.env.O365_TEST_SECRET;
    }
  });
});
