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

  /** Runs `task` when a slot is free; rejects at once with QueueFullError when the queue is full. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) {
      if (this.waiting.length >= this.queueSize) throw new QueueFullError(this.queueSize);
      await new Promise<void>((start, cancel) => this.waiting.push({ start, cancel }));
    } else {
      this.active++;
    }
    try {
      return await task();
    } finally {
      this.release();
    }
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
