/** Certificate credentials: PEM as users paste it, key/certificate checks, what MSAL is given. */
import { X509Certificate, createHash, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureCa, generateRsaKeyPem, issueCertificate, type CertificateAuthority } from '../../sandbox/ca';
import { pemBlocks, readClientCertificate, toPem } from '../../nodes/lib/certificate';

let ca: CertificateAuthority;
let leaf: { certPem: string; keyPem: string };
let other: { certPem: string; keyPem: string };
let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'o365-cert-'));
  ca = ensureCa(tmp);
  leaf = issueCertificate(ca, { commonName: 'node-red mail', serverAuth: false });
  other = issueCertificate(ca, { commonName: 'someone else', serverAuth: false });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** What a browser's single-line password field makes of a PEM: the line breaks are gone. */
const oneLine = (pem: string): string => pem.replace(/\r?\n/g, '');

function certificateOf(result: ReturnType<typeof readClientCertificate>) {
  if (!('certificate' in result)) throw new Error(`expected a certificate, got ${result.problem}`);
  return result.certificate;
}

describe('readClientCertificate', () => {
  it('derives the SHA-256 thumbprint of the DER certificate, an unencrypted PKCS#8 key and the x5c chain', () => {
    const cert = certificateOf(readClientCertificate(leaf.certPem, leaf.keyPem));
    const der = new X509Certificate(leaf.certPem).raw;
    expect(cert.thumbprintSha256).toBe(createHash('sha256').update(der).digest('hex').toUpperCase());
    expect(cert.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(createPrivateKey(cert.privateKey).export({ type: 'pkcs1', format: 'pem' })).toBe(createPrivateKey(leaf.keyPem).export({ type: 'pkcs1', format: 'pem' }));
    expect(new X509Certificate(cert.x5c).raw.equals(der)).toBe(true);
    expect(cert.notAfter.getTime()).toBe(new Date(new X509Certificate(leaf.certPem).validTo).getTime());
  });

  it('puts the certificate that matches the key first in a chain given in any order', () => {
    const cert = certificateOf(readClientCertificate(ca.caPem + leaf.certPem, leaf.keyPem));
    const blocks = pemBlocks(cert.x5c);
    expect(blocks).toHaveLength(2);
    expect(new X509Certificate(toPem(blocks[0])).raw.equals(new X509Certificate(leaf.certPem).raw)).toBe(true);
    expect(new X509Certificate(toPem(blocks[1])).raw.equals(new X509Certificate(ca.caPem).raw)).toBe(true);
  });

  it('reads PEM that lost its line breaks, has literal \\n escapes, CRLF or indentation', () => {
    const expected = certificateOf(readClientCertificate(leaf.certPem, leaf.keyPem)).thumbprintSha256;
    const variants: Array<[string, string]> = [
      [oneLine(leaf.certPem), oneLine(leaf.keyPem)],
      [leaf.certPem.replace(/\n/g, '\\n'), leaf.keyPem.replace(/\n/g, '\\n')],
      [leaf.certPem.replace(/\n/g, '\r\n'), leaf.keyPem.replace(/\n/g, '\r\n')],
      [leaf.certPem.replace(/^/gm, '    '), `\n\n${leaf.keyPem}\n`],
    ];
    for (const [certText, keyText] of variants) {
      expect(certificateOf(readClientCertificate(certText, keyText)).thumbprintSha256).toBe(expected);
    }
  });

  it('takes only the key from a combined file pasted into the key field', () => {
    expect('certificate' in readClientCertificate(leaf.certPem, leaf.certPem + leaf.keyPem)).toBe(true);
  });

  it('refuses a key that belongs to another certificate before any request', () => {
    expect(readClientCertificate(leaf.certPem, other.keyPem)).toEqual({ problem: 'keyMismatch' });
    expect(readClientCertificate(ca.caPem, leaf.keyPem)).toEqual({ problem: 'keyMismatch' });
  });

  it('asks for the passphrase of an encrypted key, PKCS#8 or legacy, and says when it is wrong', () => {
    const key = createPrivateKey(leaf.keyPem);
    const pkcs8 = key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'correct horse' }).toString();
    const legacy = key.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-128-cbc', passphrase: 'correct horse' }).toString();
    const legacyDes = key.export({ type: 'pkcs1', format: 'pem', cipher: 'des-ede3-cbc', passphrase: 'correct horse' }).toString();
    expect(pkcs8).toContain('ENCRYPTED PRIVATE KEY');
    expect(legacy).toContain('Proc-Type: 4,ENCRYPTED');
    for (const encrypted of [pkcs8, legacy, oneLine(pkcs8), oneLine(legacy), oneLine(legacyDes)]) {
      expect(readClientCertificate(leaf.certPem, encrypted)).toEqual({ problem: 'privateKeyEncrypted' });
      expect(readClientCertificate(leaf.certPem, encrypted, 'wrong')).toEqual({ problem: 'passphraseWrong' });
      const cert = certificateOf(readClientCertificate(leaf.certPem, encrypted, 'correct horse'));
      // What MSAL gets is decrypted: it has no passphrase option.
      expect(cert.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    }
  });

  it('refuses what Entra or the signer cannot use: non-RSA and short RSA keys', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(readClientCertificate(leaf.certPem, ec)).toEqual({ problem: 'keyNotRsa', params: { type: 'ec' } });
    const short = generateRsaKeyPem(1024).privateKeyPem;
    const shortCert = issueCertificate(ca, { commonName: 'short', serverAuth: false, keyPem: short });
    expect(readClientCertificate(shortCert.certPem, short)).toEqual({ problem: 'keyTooSmall', params: { bits: '1024' } });
  });

  it('refuses an expired or not yet valid certificate, naming its date and thumbprint', () => {
    const { thumbprintSha256, notAfter } = certificateOf(readClientCertificate(leaf.certPem, leaf.keyPem));
    expect(readClientCertificate(leaf.certPem, leaf.keyPem, undefined, new Date(notAfter.getTime() + 1000))).toEqual({
      problem: 'certificateExpired',
      params: { date: notAfter.toISOString(), thumbprint: thumbprintSha256 },
    });
    expect(readClientCertificate(leaf.certPem, leaf.keyPem, undefined, new Date(0))).toMatchObject({ problem: 'certificateNotYetValid' });
  });

  it('names unreadable input', () => {
    expect(readClientCertificate('not a certificate', leaf.keyPem)).toEqual({ problem: 'certificateUnreadable' });
    expect(readClientCertificate('-----BEGIN CERTIFICATE-----AAAA-----END CERTIFICATE-----', leaf.keyPem)).toEqual({ problem: 'certificateUnreadable' });
    expect(readClientCertificate(leaf.certPem, 'not a key')).toEqual({ problem: 'privateKeyUnreadable' });
    expect(readClientCertificate(leaf.certPem, '-----BEGIN PRIVATE KEY-----AAAA-----END PRIVATE KEY-----')).toEqual({ problem: 'privateKeyUnreadable' });
  });
});
