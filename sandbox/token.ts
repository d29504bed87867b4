/**
 * The Entra ID stand-in: OIDC discovery, JWKS and the v2.0 token endpoint for the client
 * credentials grant, with Entra's error JSON and real AADSTS codes and statuses.
 */
import { X509Certificate } from 'node:crypto';
import { GRAPH_APP_ID } from './config';
import type { SandboxApp, SandboxTenant } from './config';
import { derivedGuid } from './directory';
import type { Directory } from './directory';
import { entraError, header, jsonReply } from './http';
import type { Reply, RequestContext } from './http';
import { decodeJwt, newUti, verifyJwtSignature } from './jwt';
import type { AccessTokenClaims, TokenSigner } from './jwt';
import type { SandboxState } from './state';

export interface EntraContext {
  /** Login base URL (also the Graph base URL: both are the sandbox's own URL). */
  baseUrl(): string;
  directory: Directory;
  signer: TokenSigner;
  state: SandboxState;
  tokenLifetimeSeconds(): number;
}

export type EntraRoute = { kind: 'oidc' | 'jwks' | 'token'; tenant: string };

const ENTRA_PATH = /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|discovery\/v2\.0\/keys|oauth2\/v2\.0\/token)\/?$/;

export function matchEntraRoute(path: string): EntraRoute | undefined {
  const m = ENTRA_PATH.exec(path);
  if (!m) return undefined;
  const tenant = safeDecode(m[1]);
  if (m[2].startsWith('v2.0')) return { kind: 'oidc', tenant };
  if (m[2].startsWith('discovery')) return { kind: 'jwks', tenant };
  return { kind: 'token', tenant };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Entra tolerates this much clock skew on client assertions. */
const ASSERTION_SKEW_SECONDS = 300;

export class EntraEndpoints {
  constructor(private readonly ctx: EntraContext) {}

  handle(route: EntraRoute, req: RequestContext): Reply {
    switch (route.kind) {
      case 'oidc':
        return this.openIdConfiguration(route.tenant, req);
      case 'jwks':
        return this.keys(route.tenant, req);
      case 'token':
        return this.token(route.tenant, req);
    }
  }

  private error(req: RequestContext, status: number, error: string, code: number, description: string): Reply {
    return entraError(req, this.ctx.baseUrl(), status, error, code, description);
  }

  /** The tenant for a path segment, or the error Entra answers when there is none. */
  private tenantError(segment: string, req: RequestContext, notFoundError: string): Reply | SandboxTenant {
    const found = this.ctx.directory.tenant(segment);
    switch (found.kind) {
      case 'found':
        return found.tenant;
      case 'invalid':
        return this.error(req, 400, 'invalid_request', 900023, `Specified tenant identifier '${segment}' is neither a valid DNS name, nor a valid external domain.`);
      case 'not-found':
        return this.error(
          req,
          400,
          notFoundError,
          90002,
          `Tenant '${segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
        );
      case 'multi-tenant':
        return this.error(req, 400, 'invalid_request', 50059, 'No tenant-identifying information found in either the request or implied by any provided credentials.');
    }
  }

  private openIdConfiguration(segment: string, req: RequestContext): Reply {
    // Entra answers discovery for an unknown tenant with 400 invalid_tenant; MSAL then fails
    // endpoint resolution before it ever posts to the token endpoint.
    const tenant = this.tenantError(segment, req, 'invalid_tenant');
    if (!('tenantId' in tenant)) return tenant;
    const base = this.ctx.baseUrl();
    const host = new URL(base).host;
    // Like Entra, the document names the tenant by its GUID even when asked by domain.
    const t = `${base}/${tenant.tenantId}`;
    return jsonReply(200, {
      token_endpoint: `${t}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${t}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${t}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${base}/oidc/userinfo`,
      authorization_endpoint: `${t}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${t}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${t}/oauth2/v2.0/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'preferred_username', 'name', 'tid', 'ver', 'at_hash', 'c_hash', 'email'],
      kerberos_endpoint: `${t}/kerberos`,
      tenant_region_scope: 'EU',
      cloud_instance_name: host,
      cloud_graph_host_name: host,
      msgraph_host: host,
      rbac_url: base,
    });
  }

  private keys(segment: string, req: RequestContext): Reply {
    const tenant = this.tenantError(segment, req, 'invalid_tenant');
    if (!('tenantId' in tenant)) return tenant;
    return jsonReply(200, this.ctx.signer.jwks(`${this.ctx.baseUrl()}/${tenant.tenantId}/v2.0`));
  }

  private token(segment: string, req: RequestContext): Reply {
    if (req.method !== 'POST') {
      return this.error(req, 400, 'invalid_request', 900561, `The endpoint only accepts POST, OPTIONS requests. Received a ${req.method} request.`);
    }
    const tenant = this.tenantError(segment, req, 'invalid_request');
    if (!('tenantId' in tenant)) return tenant;

    const form = new URLSearchParams(req.body.toString('utf8'));
    let clientId = form.get('client_id') ?? undefined;
    let clientSecret = form.get('client_secret') ?? undefined;
    // client_secret_basic: the same credentials in an Authorization: Basic header.
    const auth = header(req.headers, 'authorization');
    if (auth?.toLowerCase().startsWith('basic ')) {
      const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) {
        clientId ??= decodeURIComponent(decoded.slice(0, colon));
        clientSecret ??= decodeURIComponent(decoded.slice(colon + 1));
      }
    }
    const missing = (name: string): Reply =>
      this.error(req, 400, 'invalid_request', 900144, `The request body must contain the following parameter: '${name}'.`);

    const grantType = form.get('grant_type');
    if (!grantType) return missing('grant_type');
    if (grantType !== 'client_credentials') {
      return this.error(req, 400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType}'.`);
    }
    if (!clientId) return missing('client_id');
    const scope = form.get('scope');
    if (!scope) return missing('scope');

    const app = this.ctx.directory.app(tenant, clientId);
    if (!app) {
      return this.error(
        req,
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenant.displayName ?? tenant.domains[0] ?? tenant.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }

    const assertion = form.get('client_assertion');
    const credentialError = assertion
      ? this.checkAssertion(req, tenant, app, clientId, assertion, form.get('client_assertion_type'))
      : clientSecret
        ? this.checkSecret(req, app, clientSecret)
        : this.error(req, 401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    if (credentialError) return credentialError;

    const base = this.ctx.baseUrl();
    const scopes = scope.split(/\s+/).filter((s) => s.length > 0);
    const accepted = [`${base}/.default`.toLowerCase(), `${GRAPH_APP_ID}/.default`];
    if (scopes.length !== 1 || !accepted.includes(scopes[0].toLowerCase())) {
      return this.error(req, 400, 'invalid_scope', 70011, `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`);
    }

    const lifetime = this.ctx.tokenLifetimeSeconds();
    const now = Math.floor(Date.now() / 1000);
    const servicePrincipalId = derivedGuid(`${tenant.tenantId}/sp/${app.applicationId}`);
    const claims: AccessTokenClaims = {
      aud: base,
      iss: `${base}/${tenant.tenantId}/`,
      iat: now,
      nbf: now,
      exp: now + lifetime,
      app_displayname: app.displayName,
      appid: app.applicationId,
      appidacr: assertion ? '2' : '1',
      azp: app.applicationId,
      idp: `${base}/${tenant.tenantId}/`,
      idtyp: 'app',
      oid: servicePrincipalId,
      sub: servicePrincipalId,
      tid: tenant.tenantId,
      uti: newUti(),
      ver: '1.0',
    };
    // Without admin consent Entra still issues the token; it just carries no roles claim.
    if (app.roles && app.roles.length > 0) claims.roles = [...app.roles];
    const accessToken = this.ctx.signer.sign(claims);
    this.ctx.state.recordToken(accessToken);
    return jsonReply(
      200,
      { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken },
      { 'cache-control': 'no-store, no-cache', pragma: 'no-cache' },
    );
  }

  private checkSecret(req: RequestContext, app: SandboxApp, secret: string): Reply | undefined {
    const match = app.secrets.find((s) => s.value === secret);
    if (match && !match.expired) return undefined;
    if (match?.expired) {
      return this.error(
        req,
        401,
        'invalid_client',
        7000222,
        `The provided client secret keys for app '${app.applicationId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
      );
    }
    return this.error(
      req,
      401,
      'invalid_client',
      7000215,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.applicationId}'.`,
    );
  }

  /** private_key_jwt: the assertion must be signed by a certificate registered on the app. */
  private checkAssertion(
    req: RequestContext,
    tenant: SandboxTenant,
    app: SandboxApp,
    clientId: string,
    assertion: string,
    assertionType: string | null,
  ): Reply | undefined {
    if (!assertionType) {
      return this.error(req, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_assertion_type'.");
    }
    const invalidClient = (code: number, text: string): Reply => this.error(req, 401, 'invalid_client', code, text);
    if (assertionType !== CLIENT_ASSERTION_TYPE) {
      return invalidClient(700027, `Client assertion failed signature validation. [Reason - The client assertion type '${assertionType}' is not supported.]`);
    }
    const parts = decodeJwt(assertion);
    if (!parts) return this.error(req, 400, 'invalid_request', 50027, 'JWT token is invalid or malformed.');
    const sha256 = typeof parts.header['x5t#S256'] === 'string' ? parts.header['x5t#S256'] : undefined;
    const sha1 = typeof parts.header.x5t === 'string' ? parts.header.x5t : undefined;
    const certs = (app.certificates ?? []).map((pem) => new X509Certificate(pem));
    const thumb = (hex: string): string => Buffer.from(hex.replace(/:/g, ''), 'hex').toString('base64url');
    const cert = certs.find(
      (c) => (sha256 !== undefined && thumb(c.fingerprint256) === sha256) || (sha1 !== undefined && thumb(c.fingerprint) === sha1),
    );
    if (!cert) {
      const used = Buffer.from(sha256 ?? sha1 ?? '', 'base64url').toString('hex').toUpperCase();
      return invalidClient(
        700027,
        `Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '${used}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${app.applicationId}'.]`,
      );
    }
    if (!verifyJwtSignature(parts, cert.publicKey)) {
      return invalidClient(700027, 'Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value.]');
    }
    // x5c, when sent, must start with the certificate the thumbprint names (the signing one).
    const x5c = parts.header.x5c;
    if (x5c !== undefined) {
      const first = Array.isArray(x5c) && typeof x5c[0] === 'string' ? x5c[0] : undefined;
      if (!first || !Buffer.from(first, 'base64').equals(cert.raw)) {
        return invalidClient(700027, 'Client assertion failed signature validation. [Reason - The certificate in x5c does not match the key identifier.]');
      }
    } else if (app.requireX5c) {
      return invalidClient(700027, `Client assertion failed signature validation. [Reason - The assertion has no x5c claim, which app '${app.applicationId}' requires for subject name and issuer authentication.]`);
    }
    const p = parts.payload;
    const lower = clientId.toLowerCase();
    if (String(p.iss).toLowerCase() !== lower || String(p.sub).toLowerCase() !== lower) {
      return invalidClient(700021, "Client assertion application identifier doesn't match 'client_id' parameter.");
    }
    const base = this.ctx.baseUrl().toLowerCase();
    const audiences = [tenant.tenantId, ...tenant.domains].map((t) => `${base}/${t.toLowerCase()}/oauth2/v2.0/token`);
    if (typeof p.aud !== 'string' || !audiences.includes(p.aud.toLowerCase())) {
      return invalidClient(700027, `Client assertion failed signature validation. [Reason - The audience '${String(p.aud)}' is not the token endpoint.]`);
    }
    const now = Math.floor(Date.now() / 1000) + (tenant.clockOffsetSeconds ?? 0);
    const exp = typeof p.exp === 'number' ? p.exp : 0;
    const nbf = typeof p.nbf === 'number' ? p.nbf : 0;
    if (exp + ASSERTION_SKEW_SECONDS < now || nbf - ASSERTION_SKEW_SECONDS > now) {
      return invalidClient(700024, 'Client assertion is not within its valid time range.');
    }
    if (new Date(cert.validTo).getTime() < Date.now()) {
      return invalidClient(700027, 'Client assertion failed signature validation. [Reason - The key used is expired.]');
    }
    return undefined;
  }
}

/** Entra's x-ms-request-id header value for a request (its trace id). */
export function entraHeaders(req: RequestContext): Record<string, string> {
  return {
    'x-ms-request-id': req.requestId,
    ...(req.clientRequestId ? { 'client-request-id': req.clientRequestId } : {}),
  };
}

/** What Entra answers for one AADSTS code: status, `error` and the start of `error_description`. */
export interface EntraErrorShape {
  status: number;
  error: string;
  description: string;
}

/**
 * Entra's answers for the codes a token fault can ask for by number alone, as Entra words them
 * (https://learn.microsoft.com/entra/identity-platform/reference-error-codes). `{app}`, `{tenant}`
 * and `{resource}` are filled in from the request.
 */
const ENTRA_ERRORS: Readonly<Record<number, EntraErrorShape>> = {
  500011: {
    status: 400,
    error: 'invalid_resource',
    description:
      'The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.',
  },
  65001: {
    status: 400,
    error: 'invalid_grant',
    description: "The user or administrator has not consented to use the application with ID '{app}'. Send an interactive authorization request for this user and resource.",
  },
  53003: { status: 400, error: 'access_denied', description: 'Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.' },
  7000112: { status: 400, error: 'unauthorized_client', description: "Application '{app}' is disabled." },
  50049: { status: 400, error: 'invalid_instance', description: 'Unknown or invalid instance.' },
  90038: {
    status: 400,
    error: 'invalid_request',
    description: "The specified tenant '{tenant}' belongs to the National Cloud 'USGovernment'. Current cloud instance 'Prod' does not federate with USGovernment.",
  },
  900382: { status: 400, error: 'invalid_client', description: 'Confidential Client is not supported in Cross Cloud request.' },
  900432: { status: 400, error: 'invalid_request', description: 'Confidential Client is not supported in Cross Cloud request.' },
  700024: { status: 401, error: 'invalid_client', description: 'Client assertion is not within its valid time range.' },
  // Entra's transient codes; the status they come with varies, which is why clients must look at the code.
  50033: { status: 400, error: 'temporarily_unavailable', description: 'A transient error has occurred. Please try again.' },
  90024: { status: 400, error: 'temporarily_unavailable', description: 'A transient error has occurred. Please try again.' },
  90033: { status: 503, error: 'temporarily_unavailable', description: 'A transient error has occurred. Please try again.' },
};

/** Entra's answer for `aadsts`, with the request's app, tenant and resource filled in; undefined for codes not listed. */
export function entraErrorShape(aadsts: number, request: { app?: string; tenant?: string; resource?: string }): EntraErrorShape | undefined {
  const shape = ENTRA_ERRORS[aadsts];
  if (!shape) return undefined;
  const description = shape.description
    .replace('{app}', request.app ?? '00000000-0000-0000-0000-000000000000')
    .replace('{tenant}', request.tenant ?? 'the tenant')
    .replace('{resource}', request.resource ?? 'https://graph.microsoft.com');
  return { ...shape, description };
}
