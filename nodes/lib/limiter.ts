/**
 * FIFO concurrency limit with a bounded queue: Graph allows 4 concurrent requests per app and
 * mailbox. Hand-written because cockatiel's bulkhead stops draining its queue after a queued task
 * is cancelled, and cancelling the queue is exactly what a redeploy does.
 *
 * An optional pacer holds queued tasks to a rate (Exchange's messages per minute): a task starts
 * only when a slot is free and the pacer allows it, in arrival order.
 */

interface Waiter {
  /** Counted by the pacer (a mail); reading requests of the mail-in node are not. */
  paced: boolean;
  start: () => void;
  cancel: (reason: Error) => void;
}

export class QueueFullError extends Error {
  constructor(readonly queueSize: number) {
    super(`queue full (${queueSize})`);
    this.name = 'QueueFullError';
  }
}

/** Decides when the next task may start; the limiter asks it before each start. */
export interface Pacer {
  /** 0 when a start is allowed now, else milliseconds until it will be. */
  delayMs(now: number): number;
  /** A task started at `now`. */
  started(now: number): void;
}

/**
 * At most `max()` starts in any `windowMs`. `max` is read on every check (undefined: no pacing), so
 * the value can change while tasks wait (the strictest connection of a mailbox holds).
 */
export class WindowPacer implements Pacer {
  private readonly starts: number[] = [];

  constructor(
    private readonly max: () => number | undefined,
    private readonly windowMs = 60_000,
  ) {}

  delayMs(now: number): number {
    this.prune(now);
    const max = this.max();
    if (max === undefined || this.starts.length < max) return 0;
    // The start that must leave the window before one more fits.
    return Math.max(1, this.starts[this.starts.length - max] + this.windowMs - now);
  }

  started(now: number): void {
    if (this.max() === undefined) return;
    this.starts.push(now);
  }

  private prune(now: number): void {
    let old = 0;
    while (old < this.starts.length && this.starts[old] <= now - this.windowMs) old++;
    if (old) this.starts.splice(0, old);
  }
}

export type Signals = AbortSignal | ReadonlyArray<AbortSignal | undefined> | undefined;

export class ConcurrencyLimiter {
  private active = 0;
  private readonly waiting: Waiter[] = [];
  /** Set while queued tasks wait on the pacer only; cleared as soon as nothing waits. */
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limit: number,
    private readonly queueSize: number,
    private readonly pacer?: Pacer,
    private readonly now: () => number = Date.now,
  ) {}

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Runs `task` when a slot is free (and the pacer allows); rejects at once with QueueFullError
   * when the queue is full. When one of `signals` aborts while the task still waits, it leaves the
   * queue and rejects with `cancelReason()`.
   */
  async run<T>(task: () => Promise<T>, signals?: Signals, cancelReason?: () => Error, paced = true): Promise<T> {
    if (this.waiting.length === 0 && this.active < this.limit && (!paced || this.paceDelay() === 0)) {
      this.take(paced);
    } else {
      if (this.waiting.length >= this.queueSize) throw new QueueFullError(this.queueSize);
      await this.wait(signalList(signals), cancelReason, paced);
    }
    try {
      return await task();
    } finally {
      this.active--;
      this.dispatch();
    }
  }

  private wait(signals: AbortSignal[], cancelReason: (() => Error) | undefined, paced: boolean): Promise<void> {
    const reason = (): Error => cancelReason?.() ?? new Error('cancelled');
    if (signals.some((s) => s.aborted)) return Promise.reject(reason());
    return new Promise<void>((start, cancel) => {
      const unlisten = (): void => {
        for (const s of signals) s.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        unlisten();
        const index = this.waiting.indexOf(waiter);
        // Still queued: it never held a slot, so only the queue changes (and maybe the head).
        if (index >= 0) this.waiting.splice(index, 1);
        cancel(reason());
        this.dispatch();
      };
      const waiter: Waiter = {
        paced,
        start: () => {
          unlisten();
          start();
        },
        cancel: (err) => {
          unlisten();
          cancel(err);
        },
      };
      for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
      // A queue that waits on the pacer alone needs its timer.
      this.dispatch();
    });
  }

  /** Rejects every queued task with `reason`; running ones finish. */
  cancelQueued(reason: Error): void {
    for (const waiter of this.waiting.splice(0)) waiter.cancel(reason);
    this.dispatch();
  }

  /** Starts what may start now; otherwise, when only the pacer holds the head, wakes up for it. */
  dispatch(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.waiting.length > 0 && this.active < this.limit) {
      const delay = this.waiting[0].paced ? this.paceDelay() : 0;
      if (delay > 0) {
        // Reads are not paced: they go past mails that wait for the pacer, while slots are free.
        const read = this.waiting.findIndex((w) => !w.paced);
        if (read !== -1) {
          const [waiter] = this.waiting.splice(read, 1);
          this.take(false);
          waiter.start();
          continue;
        }
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.dispatch();
        }, delay);
        return;
      }
      const head = this.waiting.shift() as Waiter;
      this.take(head.paced);
      head.start();
    }
  }

  private take(paced: boolean): void {
    this.active++;
    if (paced) this.pacer?.started(this.now());
  }

  private paceDelay(): number {
    return this.pacer ? this.pacer.delayMs(this.now()) : 0;
  }
}

function signalList(signals: Signals): AbortSignal[] {
  if (!signals) return [];
  if (signals instanceof AbortSignal) return [signals];
  return signals.filter((s): s is AbortSignal => s !== undefined);
}
