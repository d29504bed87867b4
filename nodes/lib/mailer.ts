/**
 * One Mailer per connection, shared by every email task that uses it, so Graph's per-mailbox
 * limits hold across the runtime: a FIFO queue, at most 4 requests in flight, usage counters.
 */
import { MailError, internalError, withHint } from './errors';
import type { GraphClient } from './graph';
import { ConcurrencyLimiter, QueueFullError } from './limiter';
import type { TokenProvider } from './token';
import { UsageRecorder, type UsageSnapshot } from './usage';
import type { ComposedMail, NodeRef, SendResult } from './types';
import { deliver } from './upload-session';

/** Graph: 4 concurrent requests per app and mailbox. */
export const MAILBOX_CONCURRENCY = 4;

export interface SendJob {
  mail: ComposedMail;
  saveToSentItems: boolean;
  timeoutMs: number;
  node: NodeRef;
}

export interface MailerOptions {
  sender: string;
  graph: GraphClient;
  tokens: TokenProvider;
  queueSize: number;
}

export class Mailer {
  private readonly usage = new UsageRecorder();
  private readonly limiter: ConcurrencyLimiter;
  private closed = false;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly options: MailerOptions) {
    this.limiter = new ConcurrencyLimiter(MAILBOX_CONCURRENCY, options.queueSize);
  }

  async send(job: SendJob): Promise<SendResult> {
    try {
      if (this.closed) throw cancelled();
      const running = this.limiter.run(() => this.attempt(job));
      this.inFlight.add(running);
      const result = await running.finally(() => this.inFlight.delete(running));
      this.usage.recordSent(new Date(result.sentAt));
      return result;
    } catch (err) {
      const error = asMailError(err, this.options.queueSize);
      if (error.category === 'throttled') this.usage.recordThrottled();
      this.usage.recordFailure(job.node, error);
      throw error;
    }
  }

  /** A mail refused before it reached the mailer (bad input): counted all the same. */
  recordRejected(node: NodeRef, error: MailError): void {
    this.usage.recordFailure(node, error);
  }

  /** Counts of this connection for the usage view. */
  snapshot(): UsageSnapshot {
    return this.usage.snapshot(this.options.tokens.tokenRequests);
  }

  /** No new mail; queued mail fails with `cancelled`; mail in flight finishes (it has its timeout). */
  close(): void {
    this.closed = true;
    this.limiter.cancelQueued(cancelled());
  }

  /** Resolves once every accepted mail has left (sent, failed or cancelled). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  private async attempt(job: SendJob): Promise<SendResult> {
    if (this.closed) throw cancelled();
    const token = await this.options.tokens.getToken();
    let ids: { requestId: string; clientRequestId: string; path: SendResult['path'] };
    try {
      ids = await deliver(this.options.graph, this.options.sender, job, token, { renew: () => this.options.tokens.getToken() });
    } catch (err) {
      // A token without roles is not refused up front: Exchange RBAC for Applications can grant
      // Mail.Send outside the token. When Graph then refuses, missing admin consent is the cause.
      if (err instanceof MailError && token.roles?.length === 0 && (err.category === 'permission' || err.status === 401)) {
        throw withHint(err, 'permission', 'noRoles');
      }
      throw err;
    }
    const { requestId, clientRequestId, path } = ids;
    return {
      status: 'sent',
      sender: this.options.sender,
      to: job.mail.to,
      cc: job.mail.cc,
      bcc: job.mail.bcc,
      subject: job.mail.subject,
      attachments: job.mail.attachmentCount,
      path,
      requestId,
      clientRequestId,
      attempts: 1,
      sentAt: new Date().toISOString(),
    };
  }
}

function cancelled(): MailError {
  return new MailError({ category: 'cancelled', code: 'Cancelled', messageKey: 'cancelled', hintKey: 'cancelled' });
}

function asMailError(err: unknown, queueSize: number): MailError {
  if (err instanceof MailError) return err;
  if (err instanceof QueueFullError) {
    return new MailError({ category: 'throttled', code: 'QueueFull', messageKey: 'queueFull', hintKey: 'queueFull', params: { queueSize } });
  }
  return internalError();
}
