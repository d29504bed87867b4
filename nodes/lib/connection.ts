/**
 * What one connection owns: the HTTP client, MSAL, Graph client and the Mailer its tasks share.
 * What Graph limits per app and mailbox comes from the runtime's registry, shared across connections.
 */
import { MailError } from './errors';
import { credentialExpiry } from './expiry';
import { GraphClient } from './graph';
import { createHttpClient, type HttpClient } from './http';
import { Mailer } from './mailer';
import { MAILBOX_CONCURRENCY, Registry } from './registry';
import { connectionSecrets } from './settings';
import { TokenProvider, type LogSink } from './token';
import type { ConnectionSettings } from './types';

export class ConnectionRuntime {
  readonly mailer: Mailer;
  readonly tokens: TokenProvider;
  private readonly http: HttpClient;

  /** `registry`: the runtime's one; a connection on its own (bench, unit test) gets a private one. */
  constructor(
    readonly settings: ConnectionSettings,
    log?: LogSink,
    onUsageChange?: () => void,
    readonly registry: Registry = new Registry(),
  ) {
    this.http = createHttpClient({ ...settings, maxSockets: MAILBOX_CONCURRENCY });
    this.tokens = new TokenProvider(settings, this.http, log);
    const graph = new GraphClient(this.http.axios, settings.graphUrl, connectionSecrets(settings));
    const guards = { maxMailsPerMinute: settings.maxMailsPerMinute, maxRecipientsPerDay: settings.maxRecipientsPerDay };
    const { cloud, graphUrl, tenantId, applicationId } = settings;
    this.mailer = new Mailer({
      sender: settings.senderEmail,
      graph,
      tokens: this.tokens,
      queueSize: settings.queueSize,
      mailbox: (mailbox) => registry.mailboxes.acquire({ cloud, graphUrl, tenantId, applicationId, mailbox }, guards),
      onUsageChange,
    });
  }

  /**
   * Stops taking mail and fails queued mail; mail in flight may finish within `graceMs`, after
   * which the sockets are closed under it (its outcome is then reported as unknown).
   */
  async close(graceMs = 10_000): Promise<void> {
    this.mailer.close();
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([this.mailer.drain(), graceOver]);
    clearTimeout(timer);
    this.http.destroy();
    await this.mailer.drain();
    this.mailer.dispose();
  }
}

export interface ConnectionTestResult {
  ok: true;
  roles: string[];
  hasMailSend: boolean;
  expiresOn: string;
  authMethod: 'secret' | 'certificate';
  /** `host:port` of the proxy the token request went through; null when it went direct. */
  proxy: string | null;
  /** With authMethod `certificate`: the thumbprint Entra must list, and when the certificate expires. */
  certificateThumbprint: string | null;
  certificateExpiresOn: string | null;
  /** Mail.ReadWrite in the token: mails over 4 MB (drafts, upload sessions) will work. Otherwise `unknown`: Exchange RBAC for Applications grants it outside the token, so only a send will tell. */
  largeMails: 'yes' | 'unknown';
  /** When the secret (or certificate) stops working, as `secretExpiresOn` or the certificate says; null when unknown. */
  credentialExpiresOn: string | null;
  credentialExpiresInDays: number | null;
}

/** Test connection: a fresh token (no cache) with its roles, or the classified failure. */
export async function testConnection(settings: ConnectionSettings): Promise<ConnectionTestResult> {
  const http = createHttpClient(settings);
  try {
    const token = await new TokenProvider(settings, http).getToken(true);
    const roles = token.roles ?? [];
    const certificate = settings.clientCertificate;
    const expiry = credentialExpiry(settings);
    return {
      ok: true,
      roles,
      hasMailSend: roles.includes('Mail.Send'),
      expiresOn: token.expiresOn.toISOString(),
      authMethod: certificate ? 'certificate' : 'secret',
      proxy: http.proxyFor?.(`${settings.loginUrl}/${settings.tenantId}/oauth2/v2.0/token`) ?? null,
      certificateThumbprint: certificate?.thumbprintSha256 ?? null,
      certificateExpiresOn: certificate?.notAfter.toISOString() ?? null,
      largeMails: roles.includes('Mail.ReadWrite') ? 'yes' : 'unknown',
      credentialExpiresOn: expiry?.date ?? null,
      credentialExpiresInDays: expiry?.days ?? null,
    };
  } catch (err) {
    if (err instanceof MailError) throw err;
    throw new MailError({ category: 'auth', code: 'token_error', messageKey: 'tokenFailed', hintKey: 'authOther' });
  } finally {
    http.destroy();
  }
}
