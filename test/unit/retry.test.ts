import { MailError, graphError, networkError } from '../../nodes/lib/errors';
import { ConcurrencyLimiter } from '../../nodes/lib/limiter';
import { BASE_BACKOFF_MS, MAX_BACKOFF_MS, decideRetry, isRetryable, retryDelayMs, sleep, type RetryPolicy } from '../../nodes/lib/retry';
import { retryAfterSeconds } from '../../nodes/lib/http';

const policy: RetryPolicy = { maxAttempts: 5, maxWaitMs: 300_000, retryUnknownOutcome: false };
const throttled = (retryAfter?: number): MailError => graphError({ status: 429, graphCode: 'ApplicationThrottled', retryAfterSeconds: retryAfter }, []);

describe('what is retried', () => {
  it.each([
    [429, true],
    [503, true],
    [504, true],
    [500, false],
    [502, false],
    [400, false],
    [401, false],
    [403, false],
    [413, false],
  ])('Graph %i → retryable %s', (status, expected) => {
    expect(isRetryable(graphError({ status }, []), policy)).toBe(expected);
  });

  it('network failures before the request was sent are retried; those after only when the user accepts duplicates', () => {
    const refused = networkError({ code: 'ECONNREFUSED', maybeSent: false, host: 'h' }, 'graph');
    const reset = networkError({ code: 'ECONNRESET', maybeSent: true, host: 'h' }, 'graph');
    expect(isRetryable(refused, policy)).toBe(true);
    expect(isRetryable(reset, policy)).toBe(false);
    expect(isRetryable(reset, { ...policy, retryUnknownOutcome: true })).toBe(true);
  });

  it('a token request that failed in transit is retried: it cannot send mail', () => {
    expect(isRetryable(networkError({ code: 'ECONNRESET', maybeSent: true, host: 'login' }, 'token'), policy)).toBe(true);
  });
});

describe('how long to wait', () => {
  it('honours Retry-After in seconds and as an HTTP date', () => {
    expect(retryDelayMs(throttled(7), 1)).toBe(7000);
    const now = Date.parse('2026-11-28T12:00:00Z');
    expect(retryAfterSeconds('Sat, 28 Nov 2026 12:00:09 GMT', now)).toBe(9);
    expect(retryAfterSeconds('Sat, 28 Nov 2026 11:59:00 GMT', now)).toBe(0);
    expect(retryAfterSeconds('soon', now)).toBeUndefined();
  });

  it('without Retry-After backs off exponentially with jitter, capped', () => {
    const error = graphError({ status: 503 }, []);
    expect(retryDelayMs(error, 1, () => 0)).toBe(BASE_BACKOFF_MS / 2);
    expect(retryDelayMs(error, 1, () => 1)).toBe(BASE_BACKOFF_MS);
    expect(retryDelayMs(error, 3, () => 0)).toBe(2 * BASE_BACKOFF_MS);
    expect(retryDelayMs(error, 3, () => 1)).toBe(4 * BASE_BACKOFF_MS);
    expect(retryDelayMs(error, 30, () => 1)).toBe(MAX_BACKOFF_MS);
    const spread = new Set(Array.from({ length: 20 }, () => retryDelayMs(error, 4)));
    expect(spread.size).toBeGreaterThan(1);
  });
});

describe('when to stop', () => {
  it('stops at the attempt limit', () => {
    expect(decideRetry(throttled(1), 4, 0, policy)).toEqual({ retry: true, delayMs: 1000 });
    expect(decideRetry(throttled(1), 5, 0, policy)).toEqual({ retry: false, reason: 'attempts' });
  });

  it('does not start a wait that would pass the budget, even on the first try', () => {
    expect(decideRetry(throttled(600), 1, 0, policy)).toEqual({ retry: false, reason: 'budget', delayMs: 600_000 });
    expect(decideRetry(throttled(10), 2, 295_000, policy)).toEqual({ retry: false, reason: 'budget', delayMs: 10_000 });
    expect(decideRetry(throttled(5), 2, 295_000, policy)).toEqual({ retry: true, delayMs: 5000 });
  });

  it('never retries what is not retryable', () => {
    expect(decideRetry(graphError({ status: 400, graphCode: 'ErrorInvalidRecipients' }, []), 1, 0, policy)).toEqual({ retry: false, reason: 'notRetryable' });
  });
});

describe('sleep', () => {
  it('resolves after the wait', async () => {
    await expect(sleep(1, [], () => new Error('no'))).resolves.toBeUndefined();
  });

  it('rejects at once when a signal aborts, and leaves no listener behind', async () => {
    const a = new AbortController();
    const b = new AbortController();
    const waiting = sleep(3_600_000, [a.signal, b.signal, undefined], () => new Error('cancelled'));
    b.abort();
    await expect(waiting).rejects.toThrow('cancelled');
    await expect(sleep(5, [b.signal], () => new Error('already'))).rejects.toThrow('already');
  });
});

describe('ConcurrencyLimiter with a signal', () => {
  it('a queued task whose signal aborts leaves the queue; the others keep their order and slots', async () => {
    const limiter = new ConcurrencyLimiter(1, 10);
    const order: string[] = [];
    let release!: () => void;
    const first = limiter.run(() => new Promise<void>((resolve) => (release = () => (order.push('first'), resolve()))));
    const controller = new AbortController();
    const cancelled = limiter.run(async () => void order.push('cancelled'), controller.signal, () => new Error('cancelled'));
    const third = limiter.run(async () => void order.push('third'));
    expect(limiter.queued).toBe(2);
    controller.abort();
    await expect(cancelled).rejects.toThrow('cancelled');
    expect(limiter.queued).toBe(1);
    release();
    await Promise.all([first, third]);
    expect(order).toEqual(['first', 'third']);
    expect(limiter.inFlight).toBe(0);
    // Still serves new work with the full limit.
    await limiter.run(async () => void order.push('later'));
    expect(order.at(-1)).toBe('later');
  });

  it('an already aborted signal never queues', async () => {
    const limiter = new ConcurrencyLimiter(1, 10);
    let release!: () => void;
    const busy = limiter.run(() => new Promise<void>((resolve) => (release = resolve)));
    const controller = new AbortController();
    controller.abort();
    await expect(limiter.run(async () => 1, controller.signal, () => new Error('stopped'))).rejects.toThrow('stopped');
    expect(limiter.queued).toBe(0);
    release();
    await busy;
  });
});
