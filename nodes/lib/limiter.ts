/**
 * FIFO concurrency limit with a bounded queue: Graph allows 4 concurrent requests per app and
 * mailbox. Hand-written because cockatiel's bulkhead stops draining its queue after a queued task
 * is cancelled, and cancelling the queue is exactly what a redeploy does.
 */

interface Waiter {
  start: () => void;
  cancel: (reason: Error) => void;
}

export class QueueFullError extends Error {
  constructor(readonly queueSize: number) {
    super(`queue full (${queueSize})`);
    this.name = 'QueueFullError';
  }
}

export class ConcurrencyLimiter {
  private active = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    private readonly limit: number,
    private readonly queueSize: number,
  ) {}

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Runs `task` when a slot is free; rejects at once with QueueFullError when the queue is full.
   * When `signal` aborts while the task still waits, it leaves the queue and rejects with `cancelReason()`.
   */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal, cancelReason?: () => Error): Promise<T> {
    if (this.active >= this.limit) {
      if (this.waiting.length >= this.queueSize) throw new QueueFullError(this.queueSize);
      await this.wait(signal, cancelReason);
    } else {
      this.active++;
    }
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private wait(signal: AbortSignal | undefined, cancelReason: (() => Error) | undefined): Promise<void> {
    const reason = (): Error => cancelReason?.() ?? new Error('cancelled');
    if (signal?.aborted) return Promise.reject(reason());
    return new Promise<void>((start, cancel) => {
      const onAbort = (): void => {
        const index = this.waiting.indexOf(waiter);
        // Still queued: it never held a slot, so only the queue changes.
        if (index >= 0) this.waiting.splice(index, 1);
        cancel(reason());
      };
      const waiter: Waiter = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          start();
        },
        cancel: (err) => {
          signal?.removeEventListener('abort', onAbort);
          cancel(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  /** Rejects every queued task with `reason`; running ones finish. */
  cancelQueued(reason: Error): void {
    for (const waiter of this.waiting.splice(0)) waiter.cancel(reason);
  }

  private release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next waiter, so `active` stays as it is.
    if (next) next.start();
    else this.active--;
  }
}
