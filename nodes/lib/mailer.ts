/**
 * One Mailer per connection, shared by every email task that uses it: its own bounded queue,
 * retries that cannot duplicate a mail, usage counters. Graph's and Exchange's per-mailbox limits
 * (4 requests in flight, the pause after a 429, pacing, the daily recipient budget) live in the
 * runtime's registry, shared with every other connection that sends as the same app and mailbox.
 */
import { setMaxListeners } from 'node:events';
import { MailError, amend, internalError, withHint } from './errors';
import type { GraphClient } from './graph';
import { QueueFullError } from './limiter';
import type { MailboxLease, MailboxLimits } from './registry';
import { decideRetry, sleep, type RetryPolicy } from './retry';
import type { AccessToken, TokenProvider } from './token';
import { UsageRecorder, type UsageSnapshot } from './usage-recorder';
import type { ComposedMail, NodeRef, SendResult } from './types';
import { deliver, type DeliveryResult } from './delivery';
import type { MailRoute } from './route';

/** What the sender is waiting for, so the node can say so in its status. */
export interface WaitInfo {
  ms: number;
  category: MailError['category'];
  code: string;
}

export interface SendJob {
  mail: ComposedMail;
  /** The mailbox it goes out from and the action; absent: a new mail from the connection's sender. */
  route?: MailRoute;
  /** Every new mail through a draft, so msg.email carries its ids. */
  returnMessageIds?: boolean;
  /** The connection's allowed recipient domains, for answers whose recipients Graph chooses. */
  allowedRecipientDomains?: readonly string[];
  saveToSentItems: boolean;
  timeoutMs: number;
  node: NodeRef;
  retry: RetryPolicy;
  /** Stops the mail while it is queued or waiting to retry (it fails as `cancelled`). */
  stopping?: AbortSignal;
  /** Aborts a request in flight (end of the close grace period); its outcome is then unknown. */
  aborting?: AbortSignal;
  /** Called before each wait (retry or mailbox throttle) and when the wait is over. */
  onWait?: (wait: WaitInfo) => void;
  onResume?: () => void;
}

export interface MailerOptions {
  sender: string;
  graph: GraphClient;
  tokens: TokenProvider;
  /** Mails of this connection that may wait (for a slot or for pacing) before new ones fail at once. */
  queueSize: number;
  /** This connection's hold on a mailbox's shared limits; called once per mailbox, released on dispose(). */
  mailbox: (address: string) => MailboxLease;
  /** Called after the usage counts changed (the editor's Usage Data view is fed from it). */
  onUsageChange?: () => void;
  /** Where the counts go: the connection Key's recorder; a private in-memory one without it. */
  usage?: UsageRecorder;
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
  private readonly usage: UsageRecorder;
  private readonly closing = new AbortController();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** The mailboxes this connection sends from, each held until dispose(). */
  private readonly leases = new Map<string, MailboxLease>();
  /** This connection's mails waiting for a slot (or for pacing): bounded by queueSize. */
  private waiting = 0;
  /** A long upload asks for the current token before each step. */
  private readonly delivery = { renew: () => this.options.tokens.getToken() };

  constructor(private readonly options: MailerOptions) {
    this.usage = options.usage ?? new UsageRecorder();
    // Each mail waiting on a retry listens here; many at once is expected.
    setMaxListeners(0, this.closing.signal);
  }

  async send(job: SendJob): Promise<SendResult> {
    const tries: Tries = { attempts: 0, waitedMs: 0, throttled: false };
    let failure: MailError | undefined;
    let refund: (() => void) | undefined;
    try {
      if (this.closing.signal.aborted) throw cancelled();
      // Each mailbox has its own limits (4 in flight, pacing, daily recipients), shared runtime-wide.
      const limits = this.limitsOf(this.mailboxOf(job));
      if (this.waiting >= this.options.queueSize) throw new QueueFullError(this.options.queueSize);
      refund = reserveRecipients(limits, job.mail);
      this.waiting++;
      let started = false;
      const run = (): Promise<SendResult> => {
        started = true;
        this.waiting--;
        return this.sendWithRetries(job, tries, limits);
      };
      // Only this connection's signals: a closing connection cancels its own queued mail, not others'.
      const running = limits.limiter.run(run, [job.stopping, this.closing.signal], cancelled).finally(() => {
        if (!started) this.waiting--;
      });
      this.inFlight.add(running);
      const result = await running.finally(() => this.inFlight.delete(running));
      this.usage.recordSent(new Date(result.sentAt), this.mailboxOf(job));
      return result;
    } catch (err) {
      failure = asMailError(err, this.options.queueSize, tries.attempts);
      // Recipients of a mail that surely never went out are given back to the daily budget.
      if (failure.category !== 'unknown-outcome') refund?.();
      this.usage.recordFailure(job.node, failure, undefined, this.mailboxOf(job));
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
  }

  /** After close() and drain(): gives the mailboxes' shared limits back to the registry. */
  dispose(): void {
    for (const lease of this.leases.values()) lease.release();
    this.leases.clear();
  }

  private mailboxOf(job: SendJob): string {
    return job.route?.mailbox ?? this.options.sender;
  }

  private limitsOf(address: string): MailboxLimits {
    const key = address.toLowerCase();
    let lease = this.leases.get(key);
    if (!lease) {
      lease = this.options.mailbox(address);
      this.leases.set(key, lease);
    }
    return lease.limits;
  }

  /** Resolves once every accepted mail has left (sent, failed or cancelled). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  private async sendWithRetries(job: SendJob, tries: Tries, limits: MailboxLimits): Promise<SendResult> {
    const signals = [job.stopping, this.closing.signal];
    const isStopped = (): boolean => signals.some((s) => s?.aborted);
    // Stopped by a redeploy before the next try: `cancelled` (not sent), unless an earlier try may
    // have delivered the mail: that stays the news.
    const stopped = (): MailError => (tries.maybeSent ? amend(tries.maybeSent, { attempts: tries.attempts }) : cancelled(tries.attempts));
    const wait = (ms: number, info: WaitInfo): Promise<void> => this.wait(job, tries, ms, info, signals, stopped);
    for (;;) {
      // A mailbox-wide pause (429 with Retry-After) is waited out within the mail's budget.
      const pause = Math.min(limits.pausedUntil - Date.now(), job.retry.maxWaitMs - tries.waitedMs);
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
        // Graph throttles the mailbox, not the mail: hold every request for it, from every connection.
        limits.pause(Date.now() + error.retryAfterSeconds * 1000);
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
    let ids: DeliveryResult;
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
    const { requestId, clientRequestId, path, messageId, internetMessageId, conversationId } = ids;
    return {
      status: 'sent',
      sender: this.mailboxOf(job),
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
      ...(internetMessageId ? { internetMessageId } : {}),
      ...(messageId ? { messageId } : {}),
      ...(conversationId ? { conversationId } : {}),
    };
  }

  private async deliverWith(job: SendJob, token: AccessToken): Promise<DeliveryResult> {
    const mailbox = this.mailboxOf(job);
    const route = job.route;
    const answer = route && route.action !== 'send' && route.messageId !== undefined ? { action: route.action, messageId: route.messageId } : undefined;
    try {
      return await deliver(this.options.graph, mailbox, { ...job, answer, viaDraft: job.returnMessageIds === true }, token, this.delivery);
    } catch (err) {
      // A token without roles is not refused up front: Exchange RBAC for Applications can grant
      // Mail.Send outside the token. When Graph then refuses, missing admin consent is the cause.
      if (err instanceof MailError && token.roles?.length === 0 && (err.category === 'permission' || err.status === 401)) {
        throw withHint(err, 'permission', 'noRoles');
      }
      // The app may send as its own sender but not as this other mailbox: Exchange RBAC for
      // Applications decides per mailbox, and the admin must add it to the management scope. (A
      // draft step refused for lack of Mail.ReadWrite keeps that hint.)
      if (err instanceof MailError && err.status === 403 && mailbox.toLowerCase() !== this.options.sender.toLowerCase() && (err.hintKey === 'accessDenied' || err.hintKey === 'sendAsDenied')) {
        throw amend(err, { category: 'permission', hintKey: 'mailboxOutOfScope', params: { mailbox } });
      }
      // An answer's 404 is the message answered, not the mailbox: gone, moved (a move changes its
      // id) or never in this mailbox.
      if (err instanceof MailError && answer && err.status === 404 && err.graphCode === 'ErrorItemNotFound') {
        throw amend(err, { hintKey: 'messageNotFound', params: { mailbox } });
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

/**
 * Takes the mail's recipients from the mailbox's rolling 24 h budget, or fails it at once: past
 * 10,000 Exchange blocks the mailbox from sending for a day, which is far worse than one refusal.
 */
function reserveRecipients(limits: MailboxLimits, mail: ComposedMail): () => void {
  const count = mail.to.length + mail.cc.length + mail.bcc.length;
  const answer = limits.reserveRecipients(count);
  if (answer.ok) return answer.refund;
  const params = { count: answer.count, used: answer.used, max: answer.max, freeAt: answer.freesAt ? new Date(answer.freesAt).toISOString() : '' };
  throw new MailError({
    category: 'throttled',
    code: 'RecipientBudgetExceeded',
    messageKey: 'recipientBudgetExceeded',
    hintKey: answer.freesAt ? 'recipientBudgetExceeded' : 'recipientBudgetTooSmall',
    params,
    retryable: false,
    attempts: 0,
  });
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
