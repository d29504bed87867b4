/**
 * Certificate credentials: reads the PEM certificate (chain) and private key a connection was
 * given, checks that they belong together and can sign what Entra expects, and derives what MSAL's
 * `clientCertificate` needs (SHA-256 thumbprint, an unencrypted key, the x5c chain). Everything is
 * checked at deploy time so that a wrong key never costs a token request.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';

export interface ClientCertificate {
  /** Hex SHA-256 thumbprint of the certificate that matches the key (what Entra lists). */
  thumbprintSha256: string;
  /** The private key as unencrypted PKCS#8 PEM, held in memory only. */
  privateKey: string;
  /**
   * PEM chain, the matching certificate first, sent as x5c. Entra identifies the certificate by
   * its thumbprint; subject-name/issuer matching through x5c is for Microsoft's first-party apps.
   */
  x5c: string;
  notAfter: Date;
}

/** Why a certificate credential cannot be used; each has a deploy message in the connection's catalogue. */
export type CertificateProblem =
  | 'certificateUnreadable'
  | 'privateKeyUnreadable'
  | 'privateKeyEncrypted'
  | 'passphraseWrong'
  | 'keyNotRsa'
  | 'keyTooSmall'
  | 'keyMismatch'
  | 'certificateExpired'
  | 'certificateNotYetValid';

export type CertificateResult = { certificate: ClientCertificate } | { problem: CertificateProblem; params?: Record<string, string> };

interface PemBlock {
  label: string;
  /** RFC 1421 headers of a legacy encrypted key (Proc-Type, DEK-Info), in order. */
  headers: string[];
  base64: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
/**
 * Legacy encrypted keys carry headers before the base64. A browser's single-line password field
 * drops the line breaks, so the headers are found by shape: the IV's length follows the cipher.
 */
const LEGACY_HEADERS = /^Proc-Type:\s*4,ENCRYPTED\s*DEK-Info:\s*([A-Za-z0-9-]+),/;

/** Entra signs with RS256/PS256, and the JWT library under MSAL refuses RSA keys under 2048 bits. */
const MIN_RSA_BITS = 2048;

/**
 * The PEM blocks in `text`, tolerant of what pasting does to PEM: line breaks lost in a single-line
 * field, `\n` written literally (as in .env files), CRLF, indentation.
 */
export function pemBlocks(text: string): PemBlock[] {
  const unescaped = text.replace(/\\r/g, '').replace(/\\n/g, '\n');
  const blocks: PemBlock[] = [];
  for (const match of unescaped.matchAll(PEM_BLOCK)) {
    let body = match[2].trim();
    const headers: string[] = [];
    const legacy = LEGACY_HEADERS.exec(body);
    if (legacy) {
      const ivHex = /^AES-/i.test(legacy[1]) ? 32 : 16;
      const rest = body.slice(legacy[0].length).replace(/\s+/g, '');
      const iv = rest.slice(0, ivHex);
      headers.push('Proc-Type: 4,ENCRYPTED', `DEK-Info: ${legacy[1]},${iv}`);
      body = rest.slice(ivHex);
    }
    blocks.push({ label: match[1], headers, base64: body.replace(/\s+/g, '') });
  }
  return blocks;
}

/** A block written back as canonical PEM (64-column base64), which OpenSSL and MSAL parse. */
export function toPem(block: PemBlock): string {
  const lines = block.base64.match(/.{1,64}/g) ?? [];
  const head = block.headers.length ? `${block.headers.join('\n')}\n\n` : '';
  return `-----BEGIN ${block.label}-----\n${head}${lines.join('\n')}\n-----END ${block.label}-----\n`;
}

/** Every certificate in a PEM text, canonical; undefined when one of them does not parse. */
export function readCertificates(text: string): Array<{ pem: string; x509: X509Certificate }> | undefined {
  const out: Array<{ pem: string; x509: X509Certificate }> = [];
  for (const block of pemBlocks(text).filter((b) => b.label === 'CERTIFICATE')) {
    const pem = toPem(block);
    try {
      out.push({ pem, x509: new X509Certificate(pem) });
    } catch {
      return undefined;
    }
  }
  return out;
}

const KEY_LABELS = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'EC PRIVATE KEY']);

function readPrivateKey(text: string, passphrase: string | undefined): KeyObject | CertificateProblem {
  const block = pemBlocks(text).find((b) => KEY_LABELS.has(b.label));
  if (!block) return 'privateKeyUnreadable';
  const encrypted = block.label === 'ENCRYPTED PRIVATE KEY' || block.headers.length > 0;
  if (encrypted && !passphrase) return 'privateKeyEncrypted';
  try {
    return createPrivateKey({ key: toPem(block), format: 'pem', ...(encrypted ? { passphrase } : {}) });
  } catch {
    return encrypted ? 'passphraseWrong' : 'privateKeyUnreadable';
  }
}

/**
 * Checks a certificate credential and prepares it for MSAL. `certificateText` may hold a chain
 * (leaf and intermediates, in any order); the certificate whose public key matches the private key
 * is the one Entra must know.
 */
export function readClientCertificate(certificateText: string, keyText: string, passphrase?: string, now: Date = new Date()): CertificateResult {
  const certificates = readCertificates(certificateText);
  if (!certificates?.length) return { problem: 'certificateUnreadable' };
  const key = readPrivateKey(keyText, passphrase);
  if (typeof key === 'string') return { problem: key };
  if (key.asymmetricKeyType !== 'rsa') return { problem: 'keyNotRsa', params: { type: String(key.asymmetricKeyType) } };
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) return { problem: 'keyTooSmall', params: { bits: String(bits) } };

  const leaf = certificates.find((c) => c.x509.checkPrivateKey(key));
  if (!leaf) return { problem: 'keyMismatch' };
  const thumbprintSha256 = leaf.x509.fingerprint256.replace(/:/g, '');
  const notAfter = new Date(leaf.x509.validTo);
  const notBefore = new Date(leaf.x509.validFrom);
  if (notAfter.getTime() <= now.getTime()) return { problem: 'certificateExpired', params: { date: notAfter.toISOString(), thumbprint: thumbprintSha256 } };
  if (notBefore.getTime() > now.getTime()) return { problem: 'certificateNotYetValid', params: { date: notBefore.toISOString(), thumbprint: thumbprintSha256 } };

  const chain = [leaf, ...certificates.filter((c) => c !== leaf)];
  return {
    certificate: {
      thumbprintSha256,
      privateKey: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      x5c: chain.map((c) => c.pem).join(''),
      notAfter,
    },
  };
}
