/**
 * One Mailer per connection, shared by every email task that uses it, so Graph's per-mailbox
 * limits hold across the runtime: a FIFO queue, at most 4 requests in flight, retries that cannot
 * duplicate a mail, a mailbox-wide pause after a 429, usage counters.
 */
import { setMaxListeners } from 'node:events';
import { MailError, amend, internalError, withHint } from './errors';
import type { GraphClient } from './graph';
import { ConcurrencyLimiter, QueueFullError } from './limiter';
import { decideRetry, sleep, type RetryPolicy } from './retry';
import type { AccessToken, TokenProvider } from './token';
import { UsageRecorder, type UsageSnapshot } from './usage';
import type { ComposedMail, NodeRef, SendResult } from './types';
import { deliver } from './upload-session';

/** Graph: 4 concurrent requests per app and mailbox. */
export const MAILBOX_CONCURRENCY = 4;

/** What the sender is waiting for, so the node can say so in its status. */
export interface WaitInfo {
  ms: number;
  category: MailError['category'];
  code: string;
}

export interface SendJob {
  mail: ComposedMail;
  saveToSentItems: boolean;
  timeoutMs: number;
  node: NodeRef;
  retry: RetryPolicy;
  /** Stops the mail while it is queued or waiting to retry (it fails as `cancelled`). */
  signal?: AbortSignal;
  /** Aborts a request in flight (end of the close grace period); its outcome is then unknown. */
  abort?: AbortSignal;
  /** Called before each wait (retry or mailbox throttle) and when the wait is over. */
  onWait?: (wait: WaitInfo) => void;
  onResume?: () => void;
}

export interface MailerOptions {
  sender: string;
  graph: GraphClient;
  tokens: TokenProvider;
  queueSize: number;
  /** Called after the usage counts changed (the editor's Usage Data view is fed from it). */
  onUsageChange?: () => void;
}

/** Per mail: what happened across its tries. */
interface Tries {
  attempts: number;
  waitedMs: number;
  throttled: boolean;
  /** The first failure after which the mail may already have been delivered (retried only when the user accepts duplicates). */
  maybeSent?: MailError;
}

export class Mailer {
  private readonly usage = new UsageRecorder();
  private readonly limiter: ConcurrencyLimiter;
  private readonly closing = new AbortController();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** After a 429 with Retry-After, no request to this mailbox starts before this time. */
  private pausedUntil = 0;
  /** A long upload asks for the current token before each step. */
  private readonly delivery = { renew: () => this.options.tokens.getToken() };

  constructor(private readonly options: MailerOptions) {
    // Each mail waiting on a retry listens here; many at once is expected.
    setMaxListeners(0, this.closing.signal);
    this.limiter = new ConcurrencyLimiter(MAILBOX_CONCURRENCY, options.queueSize);
  }

  async send(job: SendJob): Promise<SendResult> {
    const tries: Tries = { attempts: 0, waitedMs: 0, throttled: false };
    let failure: MailError | undefined;
    try {
      if (this.closing.signal.aborted) throw cancelled();
      const running = this.limiter.run(() => this.sendWithRetries(job, tries), job.signal, cancelled);
      this.inFlight.add(running);
      const result = await running.finally(() => this.inFlight.delete(running));
      this.usage.recordSent(new Date(result.sentAt));
      return result;
    } catch (err) {
      failure = asMailError(err, this.options.queueSize, tries.attempts);
      this.usage.recordFailure(job.node, failure);
      throw failure;
    } finally {
      // Sent or failed, the mail counts as throttled or retried once when it was.
      if (tries.throttled || failure?.category === 'throttled') this.usage.recordThrottled();
      if (tries.attempts > 1) this.usage.recordRetry();
      this.options.onUsageChange?.();
    }
  }

  /** A mail refused before it reached the mailer (bad input): counted all the same. */
  recordRejected(node: NodeRef, error: MailError): void {
    this.usage.recordFailure(node, error);
    this.options.onUsageChange?.();
  }

  /** Counts of this connection for the usage view. */
  snapshot(): UsageSnapshot {
    return this.usage.snapshot(this.options.tokens.tokenRequests);
  }

  /** No new mail; queued and waiting mail fails with `cancelled`; mail in flight finishes (it has its timeout). */
  close(): void {
    this.closing.abort();
    this.limiter.cancelQueued(cancelled());
  }

  /** Resolves once every accepted mail has left (sent, failed or cancelled). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  private async sendWithRetries(job: SendJob, tries: Tries): Promise<SendResult> {
    const signals = [job.signal, this.closing.signal];
    const isStopped = (): boolean => signals.some((s) => s?.aborted);
    // Stopped by a redeploy before the next try: `cancelled` (not sent), unless an earlier try may
    // have delivered the mail: that stays the news.
    const stopped = (): MailError => (tries.maybeSent ? amend(tries.maybeSent, { attempts: tries.attempts }) : cancelled(tries.attempts));
    const wait = (ms: number, info: WaitInfo): Promise<void> => this.wait(job, tries, ms, info, signals, stopped);
    for (;;) {
      // A mailbox-wide pause (429 with Retry-After) is waited out within the mail's budget.
      const pause = Math.min(this.pausedUntil - Date.now(), job.retry.maxWaitMs - tries.waitedMs);
      if (pause > 0) {
        tries.throttled = true;
        await wait(pause, { ms: pause, category: 'throttled', code: 'MailboxThrottled' });
      }
      if (isStopped()) throw stopped();
      tries.attempts++;
      let error: MailError;
      try {
        return await this.attempt(job, tries.attempts);
      } catch (err) {
        error = asMailError(err, this.options.queueSize, tries.attempts);
      }
      if (error.category === 'unknown-outcome') tries.maybeSent ??= error;
      if (error.category === 'throttled') tries.throttled = true;
      if (error.status === 429 && error.retryAfterSeconds !== undefined && error.graphCode !== undefined) {
        // Graph throttles the mailbox, not the mail: hold every request for it, not just this one.
        this.pausedUntil = Math.max(this.pausedUntil, Date.now() + error.retryAfterSeconds * 1000);
      }
      const decision = decideRetry(error, tries.attempts, tries.waitedMs, job.retry);
      if (!decision.retry) throw finalError(error, decision.reason, tries, job.retry);
      if (isStopped()) throw stopped();
      await wait(decision.delayMs, { ms: decision.delayMs, category: error.category, code: error.code });
    }
  }

  /** One wait of a mail (retry or mailbox pause), told to the node, counted against its budget. */
  private async wait(job: SendJob, tries: Tries, ms: number, info: WaitInfo, signals: ReadonlyArray<AbortSignal | undefined>, stopped: () => MailError): Promise<void> {
    job.onWait?.(info);
    try {
      await sleep(ms, signals, stopped);
    } finally {
      job.onResume?.();
    }
    tries.waitedMs += ms;
  }

  private async attempt(job: SendJob, attempts: number): Promise<SendResult> {
    const tokens = this.options.tokens;
    let token = await tokens.getToken();
    let ids: { requestId: string; clientRequestId: string; path: SendResult['path'] };
    try {
      ids = await this.deliverWith(job, token);
    } catch (err) {
      // Graph refused a token before its expiry (revoked, or cut short by continuous access
      // evaluation): a 401 means nothing was sent, so one more go with a new token cannot
      // duplicate the mail. A second refusal fails it (auth).
      if (!isRevokedToken(err)) throw this.afterFailure(err, token);
      token = await tokens.refresh(token);
      try {
        ids = await this.deliverWith(job, token);
      } catch (again) {
        throw this.afterFailure(again, token);
      }
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
      attempts,
      sentAt: new Date().toISOString(),
    };
  }

  private async deliverWith(job: SendJob, token: AccessToken): Promise<{ requestId: string; clientRequestId: string; path: SendResult['path'] }> {
    try {
      return await deliver(this.options.graph, this.options.sender, job, token, this.delivery);
    } catch (err) {
      // A token without roles is not refused up front: Exchange RBAC for Applications can grant
      // Mail.Send outside the token. When Graph then refuses, missing admin consent is the cause.
      if (err instanceof MailError && token.roles?.length === 0 && (err.category === 'permission' || err.status === 401)) {
        throw withHint(err, 'permission', 'noRoles');
      }
      throw err;
    }
  }

  /** After a permission failure the token is dropped: a consent or role granted since is in the next one. */
  private afterFailure(err: unknown, token: AccessToken): unknown {
    if (err instanceof MailError && err.category === 'permission') this.options.tokens.invalidate(token);
    return err;
  }
}

/** Graph's 401 for a token it no longer accepts (not the 401 for a token without roles). */
function isRevokedToken(err: unknown): boolean {
  return err instanceof MailError && err.status === 401 && err.graphCode === 'InvalidAuthenticationToken';
}

/** The error a mail finally fails with: says why retrying stopped when it did retry or could have. */
function finalError(error: MailError, reason: 'notRetryable' | 'attempts' | 'budget', tries: Tries, policy: RetryPolicy): MailError {
  // A mail that may have arrived in an earlier try is reported as such, whatever came after;
  // "not sent" notes would be wrong for it.
  if (tries.maybeSent) return error.category === 'unknown-outcome' ? error : amend(tries.maybeSent, { attempts: tries.attempts });
  if (reason === 'notRetryable') return error;
  if (reason === 'attempts' && tries.attempts === 1) return error;
  const params = { attempts: tries.attempts, waited: Math.round(tries.waitedMs / 1000), maxWait: Math.round(policy.maxWaitMs / 1000) };
  // The hint for the failure itself stays (it names the cause); the note says why retrying stopped.
  return amend(error, { noteKey: reason === 'budget' ? 'waitBudgetExceeded' : 'retriesExhausted', params });
}

function cancelled(attempts = 0): MailError {
  return new MailError({ category: 'cancelled', code: 'Cancelled', messageKey: 'cancelled', hintKey: 'cancelled', attempts });
}

/** Any failure as this mail's own MailError copy with its count of tries. */
function asMailError(err: unknown, queueSize: number, attempts: number): MailError {
  if (err instanceof MailError) return err.attempts === attempts ? err : amend(err, { attempts });
  if (err instanceof QueueFullError) {
    return new MailError({ category: 'throttled', code: 'QueueFull', messageKey: 'queueFull', hintKey: 'queueFull', params: { queueSize }, attempts: 0 });
  }
  return amend(internalError(), { attempts });
}
