/**
 * When and how long to wait before trying a mail again. Pure functions plus an abortable sleep.
 *
 * Hand-written rather than cockatiel's `retry()`: the decision needs the computed delay (a
 * Retry-After of 10 minutes must fail at once when the mail's wait budget is 5 minutes, not after
 * the wait) and per-mail state (attempts, time already waited), which cockatiel's backoff and
 * predicate cannot see together; and cockatiel's bulkhead already had to go (see limiter.ts).
 */
import type { MailError } from './errors';

export interface RetryPolicy {
  /** Tries per mail, the first included. */
  maxAttempts: number;
  /** Milliseconds a mail may spend waiting for retries and throttles, in total. */
  maxWaitMs: number;
  /** Also retry when the mail may already have been sent (can duplicate). */
  retryUnknownOutcome: boolean;
}

/** First backoff step without Retry-After; doubles per attempt up to MAX_BACKOFF_MS. */
export const BASE_BACKOFF_MS = 1000;
export const MAX_BACKOFF_MS = 60_000;

/** True when another try cannot send the mail twice (or the user accepted that it might). */
export function isRetryable(error: MailError, policy: RetryPolicy): boolean {
  if (error.category === 'unknown-outcome') return policy.retryUnknownOutcome;
  return error.retryable;
}

/**
 * The wait before try number `attempt + 1`: Retry-After when the server gave one, otherwise
 * exponential backoff with "equal jitter" (half fixed, half random) so that mails failing together
 * do not come back together.
 */
export function retryDelayMs(error: MailError, attempt: number, random: () => number = Math.random): number {
  if (error.retryAfterSeconds !== undefined) return Math.max(0, error.retryAfterSeconds * 1000);
  const ceiling = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export type RetryDecision = { retry: true; delayMs: number } | { retry: false; reason: 'notRetryable' | 'attempts' | 'budget'; delayMs?: number };

/** Whether try `attempt` (1-based, just failed with `error`) gets another, `waitedMs` already spent waiting. */
export function decideRetry(error: MailError, attempt: number, waitedMs: number, policy: RetryPolicy, random?: () => number): RetryDecision {
  if (!isRetryable(error, policy)) return { retry: false, reason: 'notRetryable' };
  if (attempt >= policy.maxAttempts) return { retry: false, reason: 'attempts' };
  const delayMs = retryDelayMs(error, attempt, random);
  if (waitedMs + delayMs > policy.maxWaitMs) return { retry: false, reason: 'budget', delayMs };
  return { retry: true, delayMs };
}

/** Waits `ms`; rejects with `reason()` as soon as any of the signals aborts, leaving no timer behind. */
export function sleep(ms: number, signals: ReadonlyArray<AbortSignal | undefined>, reason: () => Error): Promise<void> {
  return new Promise((resolve, reject) => {
    const live = signals.filter((s): s is AbortSignal => s !== undefined);
    if (live.some((s) => s.aborted)) {
      reject(reason());
      return;
    }
    const cleanup = (): void => {
      clearTimeout(timer);
      for (const s of live) s.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      cleanup();
      reject(reason());
    };
    const timer = setTimeout(() => {
      cleanup();
      resolve();
    }, ms);
    for (const s of live) s.addEventListener('abort', onAbort, { once: true });
  });
}
