/**
 * What one connection owns: its HTTP client, Graph client and the Mailer its tasks share. From the
 * runtime's registry, shared across connections: the HTTP pool (per proxy and CA), the token
 * provider (per cloud, tenant, app and credential) and the limits per app and mailbox.
 */
import { MailError } from './errors';
import { credentialExpiry } from './expiry';
import { GraphClient } from './graph';
import { createHttpClient, type HttpClient } from './http';
import { Mailer } from './mailer';
import { Registry, type MailboxLease } from './registry';
import { sendMessage } from './send-message';
import { connectionSecrets, readTaskSettings } from './settings';
import { TokenProvider, type LogSink } from './token';
import type { ConnectionSettings, NodeRef, SendResult } from './types';
import { UsageRecorder } from './usage-recorder';

export class ConnectionRuntime {
  readonly mailer: Mailer;
  readonly tokens: TokenProvider;
  /** Graph on this connection's HTTP client: the mail-in node reads through it. */
  readonly graph: GraphClient;
  /** This connection's usage data (its Key's history): the mailer records into it, and so may other nodes of the connection. */
  readonly usage: UsageRecorder;
  private readonly http: HttpClient;
  private readonly releaseTokens: () => void;

  /** `registry`: the runtime's one; a connection on its own (bench, unit test) gets a private one. */
  constructor(
    readonly settings: ConnectionSettings,
    log?: LogSink,
    onUsageChange?: () => void,
    readonly registry: Registry = new Registry(),
    /** The connection Key's usage data (Node-RED's persistent store); in memory without it. */
    usage: UsageRecorder = new UsageRecorder(),
  ) {
    this.usage = usage;
    this.http = registry.http(settings);
    const tokens = registry.tokenProvider(settings, log);
    this.tokens = tokens.provider;
    this.releaseTokens = tokens.release;
    const graph = new GraphClient(this.http.axios, settings.graphUrl, connectionSecrets(settings));
    this.graph = graph;
    const guards = { maxMailsPerMinute: settings.maxMailsPerMinute, maxRecipientsPerDay: settings.maxRecipientsPerDay };
    const { cloud, graphUrl, tenantId, applicationId } = settings;
    this.mailer = new Mailer({
      sender: settings.senderEmail,
      graph,
      tokens: this.tokens,
      queueSize: settings.queueSize,
      mailbox: (mailbox) => registry.mailboxes.acquire({ cloud, graphUrl, tenantId, applicationId, mailbox }, guards),
      onUsageChange,
      usage,
    });
  }

  /**
   * A mail-in node's hold on a mailbox's limits, shared with every email task and connection of
   * the same app and mailbox (Graph's 4 requests in flight, Retry-After pauses). Without pacing
   * guards: reading is not sending. Released by the node when it closes.
   */
  mailboxLimits(mailbox: string): MailboxLease {
    const { cloud, graphUrl, tenantId, applicationId } = this.settings;
    return this.registry.mailboxes.acquire({ cloud, graphUrl, tenantId, applicationId, mailbox });
  }

  /**
   * A mail-in failure in this connection's usage data (its recent failures and counts by
   * category), through the mailer so that open Usage Data sidebars hear of it.
   */
  recordFailure(node: NodeRef, error: MailError): void {
    this.mailer.recordRejected(node, error);
  }

  /**
   * Stops taking mail and fails queued mail; mail in flight may finish within `graceMs`, after
   * which its requests are aborted (their outcome is then reported as unknown). The shared pool's
   * sockets stay for other connections; the last connection to release a pool or token ends it.
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
    this.releaseTokens();
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
  /**
   * What the "email in" node can do by the token's roles: `readWrite` (Mail.ReadWrite: read, mark,
   * move, delete), `read` (Mail.Read: read, with after reading "leave as it is"), else `unknown`
   * (Exchange RBAC for Applications grants outside the token; only a poll will tell).
   */
  readMail: 'readWrite' | 'read' | 'unknown';
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
      readMail: roles.includes('Mail.ReadWrite') ? 'readWrite' : roles.includes('Mail.Read') ? 'read' : 'unknown',
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

/** The test mail's texts, in the runtime's language (lib has no catalogue). */
export interface TestMailText {
  subject: string;
  body: string;
}

/**
 * "Send a test mail to…": one short mail through the email task's own path (compose, mailer with
 * its limits, Graph's sendMail), the only check that proves the mailbox, the RBAC scope and the send
 * permission together. One try, no retries: the user is waiting for the answer. Resolves with
 * Graph's answer (SendResult) or rejects with the classified MailError.
 */
export async function sendTestMail(settings: ConnectionSettings, to: string, text: TestMailText, registry: Registry, node: NodeRef): Promise<SendResult> {
  const runtime = new ConnectionRuntime(settings, undefined, undefined, registry);
  try {
    const task = { settings: readTaskSettings({ bodyFormat: 'text', maxAttempts: 1, maxWait: 0 }), node };
    return await sendMessage(runtime, async () => ({ to, subject: text.subject, body: text.body }), task);
  } finally {
    // Nothing is in flight any more: the mail above has been answered.
    await runtime.close(0);
  }
}
