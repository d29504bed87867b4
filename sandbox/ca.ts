/**
 * A throwaway certificate authority for the sandbox's HTTPS server.
 *
 * The CA lives in `<repo>/.sandbox/` (git-ignored) and outlives one process, because clients trust
 * it through NODE_EXTRA_CA_CERTS, which Node reads only at start-up: `tsx sandbox/cli.ts ca` makes
 * it before Jest or Node-RED starts, and every sandbox started later signs its leaf with it.
 * Keys come from node's crypto (fast, native); node-forge only assembles and signs the X.509 parts.
 */
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import forge from 'node-forge';

export interface CertificateAuthority {
  caPem: string;
  caKeyPem: string;
  caPath: string;
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

/** Where the CA is kept unless told otherwise: `.sandbox/` at the repository root. */
export const DEFAULT_CA_DIR = path.resolve(__dirname, '..', '.sandbox');

const DAY_MS = 24 * 60 * 60 * 1000;
const CA_VALIDITY_DAYS = 30;
const LEAF_VALIDITY_DAYS = 7;
/** Start validity a little in the past so a slightly skewed clock still accepts a fresh cert. */
const BACKDATE_MS = 60 * 60 * 1000;
const LOCK_STALE_MS = 30_000;

/** An RSA key pair as PKCS#1 PEM, the format node-forge can import. */
export function generateRsaKeyPem(bits = 2048): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/** A positive serial number (the top bit clear) with enough entropy to never repeat. */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0] & 0x7f;
  return bytes.toString('hex');
}

function createCaCertificate(keyPem: string, publicKeyPem: string): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = randomSerial();
  const now = Date.now();
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  cert.validity.notAfter = new Date(now + CA_VALIDITY_DAYS * DAY_MS);
  const subject = [
    { name: 'commonName', value: 'Office 365 Mail Sandbox CA (throwaway)' },
    { name: 'organizationName', value: 'node-red-contrib-office365-mail sandbox' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** True when the files hold a CA cert whose key is the given key and which stays valid > 1 day. */
function isUsable(caPem: string, caKeyPem: string): boolean {
  try {
    const cert = forge.pki.certificateFromPem(caPem);
    if (cert.validity.notAfter.getTime() - Date.now() < DAY_MS) return false;
    if (cert.validity.notBefore.getTime() > Date.now()) return false;
    // A CA whose key file was replaced would sign leaves nobody trusts: compare the public keys.
    const fromKey = createPublicKey(caKeyPem).export({ type: 'spki', format: 'der' });
    const fromCert = createPublicKey(caPem).export({ type: 'spki', format: 'der' });
    return Buffer.compare(fromKey, fromCert) === 0;
  } catch {
    return false;
  }
}

function readIfPresent(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Synchronous sleep, only used while another process holds the CA lock (rare, short). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Runs `create` under a directory lock (mkdir is atomic) unless `existing` already finds what is
 * wanted. Jest workers may start at the same moment; without the lock two of them could each
 * write their own CA and one would sign leaves with a key nobody trusts.
 */
function lockedEnsure<T>(dir: string, existing: () => T | undefined, create: () => T): T {
  const found = existing();
  if (found) return found;
  fs.mkdirSync(dir, { recursive: true });
  const lockPath = path.join(dir, '.lock');
  for (;;) {
    try {
      fs.mkdirSync(lockPath);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = Date.now() - (fs.statSync(lockPath, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > LOCK_STALE_MS) fs.rmSync(lockPath, { recursive: true, force: true });
      else sleepSync(50);
    }
  }
  try {
    // Another process may have made it while we waited for the lock.
    return existing() ?? create();
  } finally {
    fs.rmSync(lockPath, { recursive: true, force: true });
  }
}

/** Writes by rename so a reader never sees half a file. */
function writeAtomic(file: string, content: string, mode?: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, mode === undefined ? undefined : { mode });
  fs.renameSync(tmp, file);
}

/** Returns the CA in `dir`, creating it when missing, broken or expiring within a day. */
export function ensureCa(dir: string = DEFAULT_CA_DIR): CertificateAuthority {
  const caPath = path.join(dir, 'ca.pem');
  const keyPath = path.join(dir, 'ca-key.pem');
  return lockedEnsure(
    dir,
    () => {
      const caPem = readIfPresent(caPath);
      const caKeyPem = readIfPresent(keyPath);
      return caPem && caKeyPem && isUsable(caPem, caKeyPem) ? { caPem, caKeyPem, caPath } : undefined;
    },
    () => {
      const { privateKeyPem, publicKeyPem } = generateRsaKeyPem();
      const caPem = createCaCertificate(privateKeyPem, publicKeyPem);
      // Key first: a reader that finds the new ca.pem must also find its key.
      writeAtomic(keyPath, privateKeyPem, 0o600);
      writeAtomic(caPath, caPem);
      return { caPem, caKeyPem: privateKeyPem, caPath };
    },
  );
}

/**
 * A certificate signed by the CA. Used for the HTTPS leaf (SAN IP:127.0.0.1 and DNS:localhost)
 * and for the token-signing key published in the JWKS (x5c).
 */
export function issueCertificate(
  ca: Pick<CertificateAuthority, 'caPem' | 'caKeyPem'>,
  options: { commonName: string; serverAuth: boolean; keyPem?: string; validityDays?: number },
): IssuedCertificate {
  const keyPem = options.keyPem ?? generateRsaKeyPem().privateKeyPem;
  const publicKeyPem = createPublicKey(keyPem).export({ type: 'spki', format: 'pem' }).toString();
  const caCert = forge.pki.certificateFromPem(ca.caPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = randomSerial();
  const now = Date.now();
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  // Never outlive the CA: a chain with a leaf valid longer than its issuer confuses some clients.
  const notAfter = now + (options.validityDays ?? LEAF_VALIDITY_DAYS) * DAY_MS;
  cert.validity.notAfter = new Date(Math.min(notAfter, caCert.validity.notAfter.getTime()));
  cert.setSubject([{ name: 'commonName', value: options.commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ];
  if (options.serverAuth) {
    extensions.push(
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    );
  } else {
    extensions.push({ name: 'keyUsage', digitalSignature: true, critical: true });
  }
  cert.setExtensions(extensions);
  cert.sign(forge.pki.privateKeyFromPem(ca.caKeyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** The HTTPS leaf for 127.0.0.1 / localhost, made fresh at each sandbox start. */
export function issueServerCert(ca: Pick<CertificateAuthority, 'caPem' | 'caKeyPem'>): IssuedCertificate {
  return issueCertificate(ca, { commonName: '127.0.0.1', serverAuth: true });
}

export interface ClientCertificate {
  certPem: string;
  keyPem: string;
  certPath: string;
  keyPath: string;
  /** Hex SHA-256 thumbprint, what MSAL's `clientCertificate.thumbprintSha256` wants. */
  thumbprintSha256: string;
}

/**
 * The certificate the default directory registers on the certificate-auth app, kept in `dir`
 * (client-cert.pem, client-key.pem) so a Node-RED connection can be pointed at the same files
 * across restarts.
 */
export function ensureClientCertificate(
  ca: Pick<CertificateAuthority, 'caPem' | 'caKeyPem'>,
  dir: string = DEFAULT_CA_DIR,
): ClientCertificate {
  const certPath = path.join(dir, 'client-cert.pem');
  const keyPath = path.join(dir, 'client-key.pem');
  const describe = (certPem: string, keyPem: string): ClientCertificate => ({
    certPem,
    keyPem,
    certPath,
    keyPath,
    thumbprintSha256: new X509Certificate(certPem).fingerprint256.replace(/:/g, ''),
  });
  return lockedEnsure(
    dir,
    () => {
      const certPem = readIfPresent(certPath);
      const keyPem = readIfPresent(keyPath);
      if (!certPem || !keyPem) return undefined;
      try {
        const cert = new X509Certificate(certPem);
        if (new Date(cert.validTo).getTime() - Date.now() < DAY_MS) return undefined;
        if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return undefined;
        return describe(certPem, keyPem);
      } catch {
        return undefined;
      }
    },
    () => {
      const issued = issueCertificate(ca, { commonName: 'Office 365 Mail Sandbox client', serverAuth: false, validityDays: CA_VALIDITY_DAYS });
      writeAtomic(keyPath, issued.keyPem, 0o600);
      writeAtomic(certPath, issued.certPem);
      return describe(issued.certPem, issued.keyPem);
    },
  );
}
