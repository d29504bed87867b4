/** The Entra stand-in: discovery, JWKS, client-credential tokens, AADSTS errors, and real MSAL. */
import { createPublicKey, verify } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { ConfidentialClientApplication } from '@azure/msal-node';
import type { AuthError } from '@azure/msal-node';
import { SANDBOX } from '../../sandbox';
import type { Sandbox } from '../../sandbox';
import { decodeHeader, decodePayload, tokenRequest, useSandboxClient } from './helpers';
import type { Client } from './helpers';

let sandbox: Sandbox;
let c: Client;
const ctx = useSandboxClient();
beforeAll(() => ({ sandbox, c } = ctx));

describe('token endpoint: success', () => {
  test('issues an RS256 JWT for Graph with roles, aud, tid, appid and a verifiable signature', async () => {
    const res = await tokenRequest(c, sandbox);
    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599 });
    const token = res.data.access_token as string;
    const header = decodeHeader(token);
    const claims = decodePayload(token);
    expect(header.alg).toBe('RS256');
    expect(claims).toMatchObject({
      aud: sandbox.url,
      tid: SANDBOX.tenantId,
      appid: SANDBOX.applicationId,
      azp: SANDBOX.applicationId,
      roles: ['Mail.Send', 'Mail.ReadWrite'],
      idtyp: 'app',
    });
    expect(claims.exp as number).toBe((claims.iat as number) + 3599);
    expect(claims.nbf).toBe(claims.iat);
    expect(typeof claims.oid).toBe('string');
    expect(typeof claims.uti).toBe('string');
    expect(String(claims.iss)).toContain(SANDBOX.tenantId);

    // The signature checks out against the published JWKS key with the same kid.
    const jwks = await c.http.get(`/${SANDBOX.tenantId}/discovery/v2.0/keys`);
    const key = (jwks.data.keys as (JsonWebKey & { kid: string })[]).find((k) => k.kid === header.kid);
    expect(key).toBeDefined();
    const [h, p, s] = token.split('.');
    expect(verify('sha256', Buffer.from(`${h}.${p}`), createPublicKey({ key: key as JsonWebKey, format: 'jwk' }), Buffer.from(s, 'base64url'))).toBe(true);

    expect(sandbox.stats()).toMatchObject({ tokenRequests: 1, tokensIssued: 1 });
    expect(sandbox.issuedTokens()).toEqual([token]);
  });

  test('accepts the tenant domain, Basic client auth and the Graph app-id scope', async () => {
    const byDomain = await tokenRequest(c, sandbox, {}, SANDBOX.tenantDomain.toUpperCase());
    expect(byDomain.status).toBe(200);
    const basic = await tokenRequest(
      c,
      sandbox,
      { client_id: undefined, client_secret: undefined, scope: '00000003-0000-0000-c000-000000000000/.default' },
      SANDBOX.tenantId,
      { authorization: `Basic ${Buffer.from(`${SANDBOX.applicationId}:${encodeURIComponent(SANDBOX.clientSecret)}`).toString('base64')}` },
    );
    expect(basic.status).toBe(200);
    expect(decodePayload(basic.data.access_token as string).aud).toBe(sandbox.url);
  });

  test('an app without admin consent gets a token with no roles claim at all', async () => {
    const res = await tokenRequest(c, sandbox, { client_id: SANDBOX.noConsentApplicationId, client_secret: SANDBOX.noConsentClientSecret });
    expect(res.status).toBe(200);
    expect(decodePayload(res.data.access_token as string)).not.toHaveProperty('roles');
  });

  test('an app consented to User.Read.All only gets just that role', async () => {
    const res = await tokenRequest(c, sandbox, { client_id: SANDBOX.noMailSendApplicationId, client_secret: SANDBOX.noMailSendClientSecret });
    expect(decodePayload(res.data.access_token as string).roles).toEqual(['User.Read.All']);
  });

  test('token lifetime is configurable', async () => {
    sandbox.setTokenLifetime(120);
    try {
      const res = await tokenRequest(c, sandbox);
      expect(res.data.expires_in).toBe(120);
      const claims = decodePayload(res.data.access_token as string);
      expect((claims.exp as number) - (claims.iat as number)).toBe(120);
    } finally {
      sandbox.setTokenLifetime(3599);
    }
  });

  test('echoes client-request-id and sends x-ms-request-id', async () => {
    const res = await tokenRequest(c, sandbox, {}, SANDBOX.tenantId, { 'client-request-id': 'b1d8c3a0-1111-4222-8333-944455556666' });
    expect(res.headers['client-request-id']).toBe('b1d8c3a0-1111-4222-8333-944455556666');
    expect(res.headers['x-ms-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('token endpoint: Entra errors', () => {
  const cases: { name: string; fields: Record<string, string | undefined>; tenant: string; status: number; error: string; code: number }[] = [
    { name: 'wrong secret', fields: { client_secret: 'not-the-secret' }, tenant: SANDBOX.tenantId, status: 401, error: 'invalid_client', code: 7000215 },
    { name: "the secret's ID instead of its value", fields: { client_secret: SANDBOX.clientSecretId }, tenant: SANDBOX.tenantId, status: 401, error: 'invalid_client', code: 7000215 },
    { name: 'expired secret', fields: { client_secret: SANDBOX.expiredClientSecret }, tenant: SANDBOX.tenantId, status: 401, error: 'invalid_client', code: 7000222 },
    { name: 'app not in tenant', fields: { client_id: '11111111-2222-4333-8444-555555555555' }, tenant: SANDBOX.tenantId, status: 400, error: 'unauthorized_client', code: 700016 },
    { name: 'unknown tenant GUID', fields: {}, tenant: '99999999-8888-4777-8666-555555555555', status: 400, error: 'invalid_request', code: 90002 },
    { name: 'unknown tenant domain', fields: {}, tenant: 'fabrikam.onmicrosoft.com', status: 400, error: 'invalid_request', code: 90002 },
    { name: 'tenant neither GUID nor domain', fields: {}, tenant: 'not a tenant!', status: 400, error: 'invalid_request', code: 900023 },
    { name: 'no secret and no assertion', fields: { client_secret: undefined }, tenant: SANDBOX.tenantId, status: 401, error: 'invalid_client', code: 7000218 },
    { name: 'scope of another cloud', fields: { scope: 'https://graph.microsoft.com/.default' }, tenant: SANDBOX.tenantId, status: 400, error: 'invalid_scope', code: 70011 },
    { name: 'scope without /.default', fields: { scope: 'https://127.0.0.1/Mail.Send' }, tenant: SANDBOX.tenantId, status: 400, error: 'invalid_scope', code: 70011 },
    { name: 'no grant_type', fields: { grant_type: undefined }, tenant: SANDBOX.tenantId, status: 400, error: 'invalid_request', code: 900144 },
    { name: 'no scope', fields: { scope: undefined }, tenant: SANDBOX.tenantId, status: 400, error: 'invalid_request', code: 900144 },
    { name: 'unsupported grant', fields: { grant_type: 'password' }, tenant: SANDBOX.tenantId, status: 400, error: 'unsupported_grant_type', code: 70003 },
  ];

  test.each(cases)('$name -> $status $error AADSTS$code', async ({ fields, tenant, status, error, code }) => {
    const correlation = '0f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910';
    const res = await tokenRequest(c, sandbox, fields, tenant, { 'client-request-id': correlation });
    expect(res.status).toBe(status);
    expect(res.data).toMatchObject({ error, error_codes: [code], correlation_id: correlation });
    expect(String(res.data.error_description)).toMatch(new RegExp(`^AADSTS${code}: `));
    expect(String(res.data.error_description)).toContain(`Correlation ID: ${correlation}`);
    expect(res.data.trace_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.data.timestamp).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/);
    expect(String(res.data.error_uri)).toContain(`code=${code}`);
    expect(res.data).not.toHaveProperty('access_token');
    expect(sandbox.stats().tokensIssued).toBe(0);
  });

  test('the 7000215 description tells the secret value from its ID', async () => {
    const res = await tokenRequest(c, sandbox, { client_secret: SANDBOX.clientSecretId });
    expect(String(res.data.error_description)).toContain('client secret value, not the client secret ID');
  });
});

describe('discovery', () => {
  test('OIDC document names the tenant GUID in its endpoints, also when asked by domain', async () => {
    const res = await c.http.get(`/${SANDBOX.tenantDomain}/v2.0/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const t = `${sandbox.url}/${SANDBOX.tenantId}`;
    expect(res.data).toMatchObject({
      token_endpoint: `${t}/oauth2/v2.0/token`,
      authorization_endpoint: `${t}/oauth2/v2.0/authorize`,
      end_session_endpoint: `${t}/oauth2/v2.0/logout`,
      jwks_uri: `${t}/discovery/v2.0/keys`,
      issuer: `${t}/v2.0`,
    });
    expect(res.data.response_types_supported).toContain('code');
  });

  test('an unknown tenant gets 400 invalid_tenant AADSTS90002 from discovery', async () => {
    const res = await c.http.get('/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration');
    expect(res.status).toBe(400);
    expect(res.data).toMatchObject({ error: 'invalid_tenant', error_codes: [90002] });
  });
});

describe('@azure/msal-node against the sandbox', () => {
  // The authority host is "127.0.0.1:<port>": MSAL compares knownAuthorities with host AND port.
  function cca(auth: { clientId: string; clientSecret?: string; clientCertificate?: { thumbprintSha256: string; privateKey: string } }): ConfidentialClientApplication {
    return new ConfidentialClientApplication({
      auth: { ...auth, authority: `${sandbox.url}/${SANDBOX.tenantId}`, knownAuthorities: [`127.0.0.1:${sandbox.port}`] },
    });
  }

  test('acquireTokenByClientCredential gets a sandbox token, then serves it from its cache', async () => {
    const app = cca({ clientId: SANDBOX.applicationId, clientSecret: SANDBOX.clientSecret });
    const result = await app.acquireTokenByClientCredential({ scopes: [`${sandbox.url}/.default`] });
    expect(result?.accessToken).toBeTruthy();
    expect(sandbox.issuedTokens()).toEqual([result?.accessToken]);
    expect(decodePayload(result?.accessToken ?? '').roles).toEqual(['Mail.Send', 'Mail.ReadWrite']);
    const again = await app.acquireTokenByClientCredential({ scopes: [`${sandbox.url}/.default`] });
    expect(again?.accessToken).toBe(result?.accessToken);
    expect(sandbox.stats().tokenRequests).toBe(1);
  });

  test('a wrong secret surfaces as a ServerError carrying AADSTS7000215', async () => {
    const app = cca({ clientId: SANDBOX.applicationId, clientSecret: SANDBOX.clientSecretId });
    const err = (await app.acquireTokenByClientCredential({ scopes: [`${sandbox.url}/.default`] }).catch((e: unknown) => e)) as AuthError & {
      errorNo?: string;
      status?: number;
    };
    expect(err.name).toBe('ServerError');
    expect(err.errorCode).toBe('invalid_client');
    expect(err.errorMessage).toContain('AADSTS7000215');
    expect(String(err.errorNo)).toBe('7000215');
  });

  test('certificate sign-in (client assertion) with the sandbox client certificate', async () => {
    const { thumbprintSha256, keyPem } = sandbox.clientCertificate;
    const app = cca({ clientId: SANDBOX.certificateApplicationId, clientCertificate: { thumbprintSha256, privateKey: keyPem } });
    const result = await app.acquireTokenByClientCredential({ scopes: [`${sandbox.url}/.default`] });
    expect(decodePayload(result?.accessToken ?? '')).toMatchObject({ appid: SANDBOX.certificateApplicationId, appidacr: '2' });
  });
});
