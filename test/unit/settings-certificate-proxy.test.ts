/** Connection settings for certificate sign-in, proxies and extra CAs, read at deploy time. */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { ensureCa, issueCertificate, type CertificateAuthority } from '../../sandbox/ca';
import { connectionSecrets, readConnectionSettings } from '../../nodes/lib/settings';
import { createHttpClient, trustedCertificates } from '../../nodes/lib/http';
import { noEnv, validConnection } from '../support/connection-config';

const valid = validConnection;

let ca: CertificateAuthority;
let leaf: { certPem: string; keyPem: string };
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'o365-settings-'));
  ca = ensureCa(tmp);
  leaf = issueCertificate(ca, { commonName: 'node-red mail', serverAuth: false });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('authMethod', () => {
  it('defaults to secret, as connections made before certificates existed', () => {
    expect(readConnectionSettings(valid, { clientSecret: 's' }, noEnv).settings).toMatchObject({ authMethod: 'secret', clientSecret: 's' });
  });

  it('refuses an unknown method', () => {
    expect(readConnectionSettings({ ...valid, authMethod: 'kerberos' }, { clientSecret: 's' }, noEnv).problems).toEqual([
      { field: 'authMethod', key: 'invalidAuthMethod' },
    ]);
  });

  it('certificate: needs certificate and key, not the secret', () => {
    const { settings, problems } = readConnectionSettings({ ...valid, authMethod: 'certificate' }, { clientSecret: 's' }, noEnv);
    expect(settings).toBeUndefined();
    expect(problems).toEqual([
      { field: 'certificate', key: 'required' },
      { field: 'certificatePrivateKey', key: 'required' },
    ]);
  });

  it('certificate: reads both from ${NAME} references and keeps no secret', () => {
    const env = (name: string): string | undefined => ({ O365_CERT: leaf.certPem, O365_KEY: leaf.keyPem })[name];
    const { settings, problems } = readConnectionSettings(
      { ...valid, authMethod: 'certificate' },
      { certificate: '${O365_CERT}', certificatePrivateKey: '${O365_KEY}' },
      env,
    );
    expect(problems).toEqual([]);
    expect(settings?.clientSecret).toBe('');
    expect(settings?.clientCertificate?.thumbprintSha256).toMatch(/^[0-9A-F]{64}$/);
    expect(readConnectionSettings({ ...valid, authMethod: 'certificate' }, { certificate: '${O365_CERT}', certificatePrivateKey: '${NOPE}' }, env).problems).toEqual([
      { field: 'certificatePrivateKey', key: 'secretEnvMissing', params: { name: 'NOPE' } },
    ]);
  });

  it('certificate: a key of another certificate is a deploy problem on the key field', () => {
    const otherKey = issueCertificate(ca, { commonName: 'x', serverAuth: false }).keyPem;
    expect(readConnectionSettings({ ...valid, authMethod: 'certificate' }, { certificate: leaf.certPem, certificatePrivateKey: otherKey }, noEnv).problems).toEqual([
      { field: 'certificatePrivateKey', key: 'keyMismatch' },
    ]);
  });

  it('certificate: an encrypted key needs certificatePassphrase', () => {
    const encrypted = createPrivateKey(leaf.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw-1234' }).toString();
    const read = (passphrase?: string) =>
      readConnectionSettings({ ...valid, authMethod: 'certificate' }, { certificate: leaf.certPem, certificatePrivateKey: encrypted, certificatePassphrase: passphrase }, noEnv);
    expect(read().problems).toEqual([{ field: 'certificatePrivateKey', key: 'privateKeyEncrypted' }]);
    expect(read('nope').problems).toEqual([{ field: 'certificatePassphrase', key: 'passphraseWrong' }]);
    expect(read('pw-1234').problems).toEqual([]);
  });
});

describe('proxy and CA bundle', () => {
  it('keeps a proxy URL with a user name, takes the password from its credential', () => {
    const { settings } = readConnectionSettings({ ...valid, proxyUrl: ' http://svc-node-red@proxy.corp.example:3128/ ' }, { clientSecret: 's', proxyPassword: 'pw' }, noEnv);
    expect(settings).toMatchObject({ proxyUrl: 'http://svc-node-red@proxy.corp.example:3128', proxyPassword: 'pw' });
    expect(connectionSecrets(settings!)).toEqual(['s', 'pw']);
  });

  it('refuses a password inside the URL without repeating it, and URLs that are no proxy', () => {
    expect(readConnectionSettings({ ...valid, proxyUrl: 'http://u:hunter22@proxy:3128' }, { clientSecret: 's' }, noEnv).problems).toEqual([
      { field: 'proxyUrl', key: 'proxyPasswordInUrl' },
    ]);
    for (const proxyUrl of ['socks5://proxy:1080', 'proxy:3128 x', 'http://proxy:3128/path', 'http://proxy:3128?x=1']) {
      expect(readConnectionSettings({ ...valid, proxyUrl }, { clientSecret: 's' }, noEnv).problems).toEqual([
        { field: 'proxyUrl', key: 'invalidProxyUrl' },
      ]);
    }
  });

  it('ignores a proxy password without a proxy', () => {
    expect(readConnectionSettings(valid, { clientSecret: 's', proxyPassword: 'pw' }, noEnv).settings?.proxyPassword).toBeUndefined();
  });

  it('reads a CA bundle of one or more PEM certificates, and refuses anything else', () => {
    const { settings } = readConnectionSettings({ ...valid, caBundle: ca.caPem.replace(/\n/g, '') + leaf.certPem }, { clientSecret: 's' }, noEnv);
    expect(settings?.caBundle).toHaveLength(2);
    expect(readConnectionSettings({ ...valid, caBundle: 'my CA' }, { clientSecret: 's' }, noEnv).problems).toEqual([{ field: 'caBundle', key: 'invalidCaBundle' }]);
  });

  it("adds the bundle to Node's roots and NODE_EXTRA_CA_CERTS rather than replacing them", () => {
    const trusted = trustedCertificates([ca.caPem]);
    expect(trusted).toEqual(expect.arrayContaining([...tls.rootCertificates, ca.caPem]));
    // npm test starts Jest with NODE_EXTRA_CA_CERTS = the sandbox CA.
    // Compared by fingerprint: Node 22's tls.getCACertificates() re-wraps the PEM lines.
    const sandboxCa = new X509Certificate(fs.readFileSync(String(process.env.NODE_EXTRA_CA_CERTS), 'utf8')).fingerprint256;
    expect(trusted.map((c) => new X509Certificate(c).fingerprint256)).toContain(sandboxCa);
  });
});

describe('which requests take the proxy', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const name of ['https_proxy', 'HTTPS_PROXY', 'no_proxy', 'NO_PROXY', 'all_proxy', 'ALL_PROXY']) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });
  function route(network: Parameters<typeof createHttpClient>[0], url: string): string | undefined {
    const client = createHttpClient(network);
    try {
      return client.proxyFor?.(url);
    } finally {
      client.destroy();
    }
  }

  it('goes direct without any proxy setting', () => {
    for (const name of ['https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY']) delete process.env[name];
    expect(route({}, 'https://login.microsoftonline.com/x')).toBeUndefined();
  });

  it('follows HTTPS_PROXY / https_proxy and NO_PROXY (suffixes, ports) as Node-RED does', () => {
    process.env.HTTPS_PROXY = 'http://proxy.corp.example:3128';
    process.env.NO_PROXY = '.internal.example, graph.microsoft.com:8443';
    expect(route({}, 'https://login.microsoftonline.com/x')).toBe('proxy.corp.example:3128');
    expect(route({}, 'https://mail.internal.example/x')).toBeUndefined();
    expect(route({}, 'https://graph.microsoft.com:8443/v1.0')).toBeUndefined();
    expect(route({}, 'https://graph.microsoft.com/v1.0')).toBe('proxy.corp.example:3128');
    delete process.env.HTTPS_PROXY;
    process.env.https_proxy = 'proxy2.corp.example:8080';
    expect(route({}, 'https://login.microsoftonline.com/x')).toBe('proxy2.corp.example:8080');
  });

  it("uses the connection's proxy for every host, whatever the environment says", () => {
    process.env.HTTPS_PROXY = 'http://env-proxy:3128';
    process.env.NO_PROXY = '*';
    expect(route({ proxyUrl: 'http://user@own-proxy:8080', proxyPassword: 'pw' }, 'https://graph.microsoft.com/v1.0')).toBe('own-proxy:8080');
  });
});
