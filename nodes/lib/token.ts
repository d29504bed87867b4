/**
 * App-only tokens from Entra ID through MSAL's ConfidentialClientApplication. MSAL caches the token
 * and renews it 5 minutes before expiry; we add single-flight (MSAL itself would send one request
 * per concurrent caller on a cold cache) and a memo of the current token so a burst of sends costs
 * one token request per token lifetime.
 */
import {
  AuthError,
  ConfidentialClientApplication,
  LogLevel,
  ServerError,
  type AuthenticationResult,
} from '@azure/msal-node';
import { MailError, aadstsFrom, amend, entraError, isTlsCode, networkError, quote, redact, withHint } from './errors';
import { MsalNetworkClient, retryAfterSeconds, type HttpClient } from './http';
import { graphScope } from './clouds';
import { connectionSecrets } from './settings';

export interface TokenSettings {
  tenantId: string;
  applicationId: string;
  /** Used unless clientCertificate is given. */
  clientSecret: string;
  /** Certificate sign-in (client assertion, signed by MSAL with this key). */
  clientCertificate?: { thumbprintSha256: string; privateKey: string; x5c: string };
  /** Further values to keep out of log lines and error texts (proxy password). */
  proxyPassword?: string;
  loginUrl: string;
  graphUrl: string;
}

export interface AccessToken {
  token: string;
  expiresOn: Date;
  /** App roles in the token (`Mail.Send`, ...); undefined when the token cannot be read. */
  roles?: string[];
}

export type LogSink = (level: 'error' | 'warn' | 'info' | 'debug', message: string) => void;

/** MSAL's log lines are kept to this many characters (they may quote upstream text). */
const LOG_LINE_MAX = 2000;

/** MSAL renews this long before expiry; so do we. */
const RENEW_BEFORE_MS = 5 * 60_000;

export class TokenProvider {
  private readonly app: ConfidentialClientApplication;
  private readonly network: MsalNetworkClient;
  private readonly scope: string;
  /** What redaction hides from MSAL's log lines and Entra's error texts. */
  private readonly secrets: readonly string[];
  private readonly certificate: boolean;
  /** The proxy the token endpoint is reached through (host:port), for hints. */
  private readonly proxy?: string;
  private current?: AccessToken;
  private inflight?: Promise<AccessToken>;
  /** Set when the cached token was refused: the next request skips MSAL's cache too. */
  private bypassCache = false;

  constructor(
    settings: TokenSettings,
    http: HttpClient,
    log: LogSink = () => undefined,
    timeoutMs = 30_000,
  ) {
    this.network = new MsalNetworkClient(http.axios, timeoutMs);
    this.scope = graphScope(settings.graphUrl);
    const certificate = settings.clientCertificate;
    this.certificate = Boolean(certificate);
    this.secrets = connectionSecrets(settings);
    const authority = `${settings.loginUrl}/${settings.tenantId}`;
    this.proxy = http.proxyFor?.(`${authority}/oauth2/v2.0/token`);
    this.app = new ConfidentialClientApplication({
      auth: {
        clientId: settings.applicationId,
        authority,
        // MSAL signs the client assertion (PS256) and names the certificate by its thumbprint
        // (x5t#S256), which is what identifies it to Entra for an app like this one. x5c is sent
        // too; matching by subject name and issuer through it is for Microsoft's first-party apps.
        ...(certificate
          ? { clientCertificate: { thumbprintSha256: certificate.thumbprintSha256, privateKey: certificate.privateKey, x5c: certificate.x5c } }
          : { clientSecret: settings.clientSecret }),
        // Trusting the cloud's login host skips the public cloud's instance discovery, which
        // sovereign and custom clouds need.
        knownAuthorities: [new URL(settings.loginUrl).host],
        // Entra's endpoints follow one pattern in every cloud: giving them saves the discovery
        // request, and a wrong tenant is then reported by the token endpoint with its AADSTS code.
        authorityMetadata: JSON.stringify(authorityMetadata(authority)),
      },
      system: {
        networkClient: this.network,
        loggerOptions: {
          piiLoggingEnabled: false,
          logLevel: LogLevel.Warning,
          loggerCallback: (level, message, containsPii) => {
            if (containsPii) return;
            log(level === LogLevel.Error ? 'error' : level === LogLevel.Warning ? 'warn' : 'debug', quote(redact(message, this.secrets, LOG_LINE_MAX), LOG_LINE_MAX));
          },
        },
      },
    });
  }

  /** Requests sent to the token endpoint so far (the usage data's "token requests"). */
  get tokenRequests(): number {
    return this.network.tokenRequests;
  }

  /** A valid token; `fresh` skips every cache and keeps the answer to itself (Test connection). */
  getToken(fresh = false): Promise<AccessToken> {
    if (fresh) return this.acquire(true, false);
    if (this.current && this.current.expiresOn.getTime() - Date.now() > RENEW_BEFORE_MS) {
      return Promise.resolve(this.current);
    }
    this.inflight ??= this.acquire(this.bypassCache, true).finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /**
   * A new token from Entra in place of `rejected`, which Graph refused before its expiry (revoked,
   * or invalidated by continuous access evaluation). MSAL's cache would hand back the same one, so
   * this asks Entra; mails that hit the same refusal at once share one request.
   */
  refresh(rejected: AccessToken): Promise<AccessToken> {
    if (this.current && this.current !== rejected) return Promise.resolve(this.current);
    this.current = undefined;
    this.bypassCache = true;
    return this.getToken();
  }

  /**
   * Forgets `token` after Graph refused it for lack of a permission: an admin may grant consent or a
   * role any moment, and only a new token carries it. The next getToken asks Entra, not a cache.
   */
  invalidate(token: AccessToken): void {
    if (this.current !== token) return;
    this.current = undefined;
    this.bypassCache = true;
  }

  private async acquire(skipCache: boolean, remember: boolean): Promise<AccessToken> {
    this.network.lastFailure = undefined;
    const requestsBefore = this.network.tokenRequests;
    let result: AuthenticationResult | null;
    try {
      result = await this.app.acquireTokenByClientCredential({ scopes: [this.scope], skipCache });
    } catch (err) {
      // MSAL refusing without a request is its own throttle cache (an earlier answer carried
      // Retry-After): a wait, not a verdict on the credentials.
      if (err instanceof ServerError && this.network.tokenRequests === requestsBefore) {
        throw new MailError({ category: 'throttled', code: 'TokenThrottled', messageKey: 'tokenFailed', hintKey: 'entraUnavailable', retryable: true });
      }
      throw this.classify(err);
    }
    // A 5xx with an empty JSON body can come back from MSAL as a "success" without a token.
    if (!result?.accessToken) {
      throw new MailError({ category: 'server', code: 'EmptyToken', messageKey: 'tokenEmpty', hintKey: 'entraUnavailable', retryable: true });
    }
    const token: AccessToken = {
      token: result.accessToken,
      expiresOn: result.expiresOn ?? new Date(Date.now() + RENEW_BEFORE_MS),
      roles: rolesOf(result.accessToken),
    };
    if (remember) {
      this.current = token;
      this.bypassCache = false;
    }
    return token;
  }

  private classify(err: unknown): MailError {
    return this.withSetupHint(this.classifyRaw(err));
  }

  /** Sharper hints where this connection's setup (certificate, proxy, CA) is the likely cause. */
  private withSetupHint(error: MailError): MailError {
    if (this.certificate && error.aadsts === 700027 && /key was not found/i.test(error.detail ?? '')) {
      return withHint(error, 'auth', 'certificateNotRegistered');
    }
    if (error.category !== 'network') return error;
    if (isTlsCode(error.code)) return withHint(error, 'network', 'tlsTrust');
    const proxy = this.proxy;
    if (!proxy) return error;
    const viaProxy = ({ hintKey }: { hintKey: string }): MailError => {
      // 407 and 403 are the proxy's policy: asking again gets the same answer.
      const retryable = error.retryable && error.code !== 'EPROXY407' && error.code !== 'EPROXY403';
      return amend(error, { params: { proxy }, hintKey, retryable });
    };
    if (error.code === 'EPROXY407') return viaProxy({ hintKey: 'proxyAuth' });
    if (error.code.startsWith('EPROXY')) return viaProxy({ hintKey: 'proxyRefused' });
    // DNS and TCP errors through a proxy are the proxy's: the target is resolved by the proxy.
    if (PROXY_UNREACHABLE.has(error.code)) return viaProxy({ hintKey: 'proxyUnreachable' });
    return error;
  }

  private classifyRaw(err: unknown): MailError {
    const { secrets } = this;
    const failure = this.network.lastFailure;
    if (err instanceof ServerError) {
      const aadsts = Number(err.errorNo) || aadstsFrom(err.errorMessage);
      return entraError({ aadsts, error: err.errorCode, description: err.errorMessage, status: err.status ?? statusOf(failure) }, secrets);
    }
    if (failure?.kind === 'network') return networkError(failure.failure, 'token');
    if (failure?.kind === 'http') {
      const body = (failure.body ?? {}) as { error?: string; error_description?: string; error_codes?: number[] };
      return entraError(
        {
          aadsts: body.error_codes?.[0] ?? aadstsFrom(body.error_description),
          error: body.error,
          description: body.error_description,
          status: failure.status,
          retryAfterSeconds: retryAfterSeconds(failure.retryAfter),
        },
        secrets,
      );
    }
    const code = err instanceof AuthError ? err.errorCode : 'token_error';
    const description = err instanceof AuthError ? err.errorMessage : undefined;
    return new MailError({
      category: 'auth',
      code,
      messageKey: 'tokenFailed',
      hintKey: 'authOther',
      aadsts: aadstsFrom(description),
      detail: description ? redact(description, secrets).split('\n')[0] : undefined,
    });
  }
}

/** Errors reaching the proxy itself (with a proxy, the target's DNS is the proxy's business). */
const PROXY_UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** The OpenID configuration Entra publishes for an authority (v2.0 endpoints). */
function authorityMetadata(authority: string): Record<string, string | string[]> {
  return {
    token_endpoint: `${authority}/oauth2/v2.0/token`,
    authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
    end_session_endpoint: `${authority}/oauth2/v2.0/logout`,
    issuer: `${authority}/v2.0`,
    jwks_uri: `${authority}/discovery/v2.0/keys`,
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
  };
}

function statusOf(failure: MsalNetworkClient['lastFailure']): number | undefined {
  return failure?.kind === 'http' ? failure.status : undefined;
}

/**
 * Reads the `roles` claim. Tokens for Graph are JWTs today; if one ever is not, roles stay
 * unknown and Graph's own answer decides.
 */
export function rolesOf(token: string): string[] | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { roles?: unknown };
    if (claims.roles === undefined) return [];
    return Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
  } catch {
    return undefined;
  }
}
