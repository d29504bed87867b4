/** The throwaway CA: made once, reused, remade when broken; leaves valid for 127.0.0.1. */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureCa, ensureClientCertificate, issueServerCert } from '../../sandbox/ca';

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sandbox-ca-'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

test('creates ca.pem and ca-key.pem, then reuses them', () => {
  const first = ensureCa(dir);
  expect(first.caPath).toBe(path.join(dir, 'ca.pem'));
  expect(fs.readFileSync(first.caPath, 'utf8')).toBe(first.caPem);
  const cert = new X509Certificate(first.caPem);
  expect(cert.ca).toBe(true);
  expect(new Date(cert.validTo).getTime()).toBeGreaterThan(Date.now() + 24 * 3600 * 1000);
  expect(ensureCa(dir).caPem).toBe(first.caPem);
});

test('remakes the CA when its key no longer matches the certificate', () => {
  const before = ensureCa(dir);
  const other = ensureCa(fs.mkdtempSync(path.join(dir, 'other-')));
  fs.writeFileSync(path.join(dir, 'ca-key.pem'), other.caKeyPem);
  const after = ensureCa(dir);
  expect(after.caPem).not.toBe(before.caPem);
  expect(new X509Certificate(after.caPem).checkPrivateKey(createPrivateKey(after.caKeyPem))).toBe(true);
});

test('the server leaf is signed by the CA for IP 127.0.0.1 and localhost', () => {
  const ca = ensureCa(dir);
  const leaf = issueServerCert(ca);
  const cert = new X509Certificate(leaf.certPem);
  const caCert = new X509Certificate(ca.caPem);
  expect(cert.checkIssued(caCert)).toBe(true);
  expect(cert.verify(caCert.publicKey)).toBe(true);
  expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
  expect(cert.subjectAltName).toContain('DNS:localhost');
  expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
  expect(cert.checkPrivateKey(createPrivateKey(leaf.keyPem))).toBe(true);
  expect(cert.ca).toBe(false);
});

test('the client certificate is kept beside the CA and reused', () => {
  const ca = ensureCa(dir);
  const first = ensureClientCertificate(ca, dir);
  expect(first.thumbprintSha256).toMatch(/^[0-9A-F]{64}$/);
  expect(ensureClientCertificate(ca, dir).certPem).toBe(first.certPem);
});
