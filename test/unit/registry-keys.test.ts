/** Registry keys for shared tokens and pools: what makes two connections share, and what keeps them apart. */
import { poolKey } from '../../nodes/lib/http';
import { tokenKey } from '../../nodes/lib/registry';

const base = {
  tenantId: '4f1c2a9e-7b3d-4c58-9e21-6a0b8d3c5f17',
  applicationId: '0b7e5a3c-2d91-4f6e-8a4b-1c9d7e2f6a30',
  clientSecret: 'Sbx8Q~unit.test.secret.value-0123456789',
  loginUrl: 'https://login.microsoftonline.com',
  graphUrl: 'https://graph.microsoft.com',
};

describe('tokenKey', () => {
  it('is the same for the same cloud, tenant, app and credential (case of ids aside)', () => {
    expect(tokenKey({ ...base, tenantId: base.tenantId.toUpperCase() })).toBe(tokenKey(base));
  });

  it.each([
    ['secret', { clientSecret: 'Sbx8Q~another.secret.value-9876543210' }],
    ['app', { applicationId: 'c3d9e7f2-1a4b-4e8c-9f05-7b6a2d1c8e94' }],
    ['tenant', { tenantId: '6a2f8d41-93c7-4b05-b1e8-2d7c4f9a0e63' }],
    ['login URL (cloud)', { loginUrl: 'https://login.microsoftonline.us' }],
    ['Graph URL (scope)', { graphUrl: 'https://graph.microsoft.us' }],
    ['proxy', { proxyUrl: 'http://proxy.example:3128' }],
    ['proxy password', { proxyUrl: 'http://me@proxy.example:3128', proxyPassword: 'pw-one' }],
    ['CA bundle', { caBundle: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'] }],
    ['certificate instead of secret', { clientCertificate: { thumbprintSha256: 'abc', privateKey: 'key', x5c: 'x5c' } }],
  ])('differs when the %s differs', (_name, change) => {
    expect(tokenKey({ ...base, ...change })).not.toBe(tokenKey(base));
  });

  it('differs for another certificate key with the same thumbprint', () => {
    const cert = { thumbprintSha256: 'abc', privateKey: 'key-1', x5c: 'x5c' };
    expect(tokenKey({ ...base, clientCertificate: cert })).not.toBe(tokenKey({ ...base, clientCertificate: { ...cert, privateKey: 'key-2' } }));
  });

  it('holds neither the secret nor anything readable of it', () => {
    const key = tokenKey({ ...base, proxyUrl: 'http://me@proxy.example:3128', proxyPassword: 'proxy-password-value' });
    for (const value of [base.clientSecret, 'proxy-password-value', 'Sbx8Q', 'proxy.example']) expect(key).not.toContain(value);
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('poolKey', () => {
  it('follows the proxy environment: a changed HTTPS_PROXY gives another pool', () => {
    const saved = process.env.HTTPS_PROXY;
    try {
      delete process.env.HTTPS_PROXY;
      const direct = poolKey({});
      process.env.HTTPS_PROXY = 'http://proxy.example:3128';
      expect(poolKey({})).not.toBe(direct);
    } finally {
      if (saved === undefined) delete process.env.HTTPS_PROXY;
      else process.env.HTTPS_PROXY = saved;
    }
  });
});
