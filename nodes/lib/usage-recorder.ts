/**
 * Per-connection usage counts for the editor's Usage Data view and GET /office365-mail/usage,
 * recorded under the connection's Key in a UsageStore (persistent in Node-RED; in memory when the
 * recorder is made on its own).
 */
import { failureReport, type ErrorCategory, type MailError } from './errors';
import { RECENT_FAILURES, UsageStore, type FailureRecord, type KeyUsage, type MailboxCounts } from './usage-store';
import type { NodeRef } from './types';

export { RECENT_FAILURES, type FailureRecord };

export interface UsageSnapshot {
  /** Totals over the kept days (USAGE_DAYS), since `since`. */
  sent: number;
  failed: number;
  failedByCategory: Partial<Record<ErrorCategory, number>>;
  throttled: number;
  retried: number;
  /** Since this connection started (not kept across redeploys: a new one signs in afresh). */
  tokenRequests: number;
  lastSuccess: string | null;
  lastFailure: string | null;
  recentFailures: FailureRecord[];
  /** Sent and failed per mailbox the connection sent from (its sender and allowed mailboxes), over the kept days. */
  mailboxes: Record<string, MailboxCounts>;
}

export class UsageRecorder {
  /** Without a store: a private one in memory, under an empty key. */
  constructor(
    private readonly store: UsageStore = new UsageStore(),
    readonly key = '',
  ) {}

  recordSent(at: Date, mailbox?: string): void {
    this.store.recordSent(this.key, at, mailbox);
  }

  recordThrottled(): void {
    this.store.recordThrottled(this.key);
  }

  recordRetry(): void {
    this.store.recordRetry(this.key);
  }

  recordFailure(node: NodeRef, error: MailError, at = new Date(), mailbox?: string): void {
    this.store.recordFailure(this.key, { time: at.toISOString(), node, ...failureReport(error) }, mailbox);
  }

  snapshot(tokenRequests: number): UsageSnapshot {
    return snapshotOf(this.store, this.key, tokenRequests);
  }
}

/** One key's totals over the kept days, with its recent failures. */
export function snapshotOf(store: UsageStore, key: string, tokenRequests: number): UsageSnapshot {
  return snapshotFrom(store.get(key), tokenRequests);
}

/** The same from a key's data already read (a usage report reads each key once). */
export function snapshotFrom(entry: KeyUsage | undefined, tokenRequests: number): UsageSnapshot {
  const totals = { sent: 0, failed: 0, throttled: 0, retried: 0 };
  const failedByCategory: Partial<Record<ErrorCategory, number>> = {};
  const mailboxes: Record<string, MailboxCounts> = {};
  for (const day of entry?.days ?? []) {
    for (const [address, c] of Object.entries(day.mailboxes ?? {})) {
      const sum = (mailboxes[address] ??= { sent: 0, failed: 0 });
      sum.sent += c.sent;
      sum.failed += c.failed;
    }
    totals.sent += day.sent;
    totals.failed += day.failed;
    totals.throttled += day.throttled;
    totals.retried += day.retried;
    for (const [category, n] of Object.entries(day.failedByCategory) as Array<[ErrorCategory, number]>) failedByCategory[category] = (failedByCategory[category] ?? 0) + n;
  }
  return {
    ...totals,
    failedByCategory,
    tokenRequests,
    lastSuccess: entry?.lastSuccess ?? null,
    lastFailure: entry?.lastFailure ?? null,
    recentFailures: entry?.failures ?? [],
    mailboxes,
  };
}
