/**
 * Compact JWTs with node's crypto only: RS256 access tokens signed by the sandbox's key, and
 * verification of those (for Graph) and of client assertions (RS256 or PS256, for certificate
 * sign-in).
 */
import { constants, createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { generateRsaKeyPem, issueCertificate } from './ca';
import type { CertificateAuthority } from './ca';

/** Claims of the app-only access tokens the sandbox issues (a Graph v1 token's set, trimmed). */
export interface AccessTokenClaims {
  aud: string;
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  app_displayname?: string;
  appid: string;
  appidacr: '1' | '2';
  azp: string;
  idp: string;
  idtyp: 'app';
  oid: string;
  roles?: string[];
  sub: string;
  tid: string;
  uti: string;
  ver: '1.0';
}

export interface JwtParts {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

export function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** Splits and decodes a compact JWT without checking it; undefined when it is not one. */
export function decodeJwt(token: string): JwtParts | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as unknown;
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as unknown;
    if (!isObject(header) || !isObject(payload)) return undefined;
    return { header, payload, signingInput: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2], 'base64url') };
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks an RS256 or PS256 signature. */
export function verifyJwtSignature(parts: JwtParts, key: KeyObject): boolean {
  const alg = parts.header.alg;
  const data = Buffer.from(parts.signingInput);
  if (alg === 'RS256') return verify('sha256', data, key, parts.signature);
  if (alg === 'PS256') {
    return verify(
      'sha256',
      data,
      { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
      parts.signature,
    );
  }
  return false;
}

export type VerifyResult = { ok: true; claims: AccessTokenClaims } | { ok: false; reason: string };

/** Verified tokens are cached: the same token arrives with every mail and RSA verify isn't free. */
const VERIFIED_CACHE_LIMIT = 10_000;

/** The sandbox's token-signing key, its certificate (for the JWKS) and the verifier Graph uses. */
export class TokenSigner {
  readonly kid: string;
  readonly certPem: string;
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;
  private readonly verified = new Map<string, AccessTokenClaims>();

  constructor(ca: Pick<CertificateAuthority, 'caPem' | 'caKeyPem'>) {
    const { privateKeyPem } = generateRsaKeyPem();
    const cert = issueCertificate(ca, { commonName: 'Office 365 Mail Sandbox token signing', serverAuth: false, keyPem: privateKeyPem });
    this.certPem = cert.certPem;
    this.privateKey = createPrivateKey(privateKeyPem);
    this.publicKey = createPublicKey(privateKeyPem);
    // Entra's kid and x5t are the base64url SHA-1 thumbprint of the signing certificate.
    this.kid = base64url(createHash('sha1').update(this.certDer()).digest());
  }

  private certDer(): Buffer {
    return Buffer.from(this.certPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  }

  /** The JWKS document (`/discovery/v2.0/keys`). */
  jwks(issuer: string): { keys: Record<string, unknown>[] } {
    const jwk = this.publicKey.export({ format: 'jwk' });
    return {
      keys: [
        {
          kty: 'RSA',
          use: 'sig',
          kid: this.kid,
          x5t: this.kid,
          n: jwk.n,
          e: jwk.e,
          x5c: [this.certDer().toString('base64')],
          issuer,
        },
      ],
    };
  }

  sign(claims: AccessTokenClaims): string {
    const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5t: this.kid, kid: this.kid }));
    const payload = base64url(JSON.stringify(claims));
    const signature = sign('sha256', Buffer.from(`${header}.${payload}`), this.privateKey);
    return `${header}.${payload}.${base64url(signature)}`;
  }

  /** Signature, audience and lifetime, as Graph checks a bearer token. */
  verify(token: string, audiences: readonly string[], nowSeconds: number): VerifyResult {
    let claims = this.verified.get(token);
    if (!claims) {
      const parts = decodeJwt(token);
      if (!parts) return { ok: false, reason: 'IDX14100: JWT is not well formed, there are no dots (.) or the token is not a JWS.' };
      if (parts.header.alg !== 'RS256' || parts.header.kid !== this.kid || !verifyJwtSignature(parts, this.publicKey)) {
        return { ok: false, reason: 'Invalid signature.' };
      }
      claims = parts.payload as unknown as AccessTokenClaims;
      if (this.verified.size >= VERIFIED_CACHE_LIMIT) this.verified.clear();
      this.verified.set(token, claims);
    }
    if (!audiences.includes(claims.aud)) return { ok: false, reason: 'Invalid audience.' };
    if (typeof claims.nbf === 'number' && claims.nbf > nowSeconds) return { ok: false, reason: 'Lifetime validation failed, the token is not yet valid.' };
    if (typeof claims.exp !== 'number' || claims.exp <= nowSeconds) return { ok: false, reason: 'Lifetime validation failed, the token is expired.' };
    return { ok: true, claims };
  }
}

/** Entra's `uti`: a short random token id. */
export function newUti(): string {
  return base64url(randomBytes(16)).slice(0, 22);
}
