/** Per-connection usage counters for the editor's Usage Data view and GET /office365-mail/usage. */
import { failureReport, type ErrorCategory, type FailureReport, type MailError } from './errors';
import type { NodeRef } from './types';

/** One failure in the usage data's recent list: when, which node, and the failure's report. */
export type FailureRecord = { time: string; node: NodeRef } & FailureReport;

export interface UsageSnapshot {
  sent: number;
  failed: number;
  failedByCategory: Partial<Record<ErrorCategory, number>>;
  throttled: number;
  retried: number;
  tokenRequests: number;
  lastSuccess: string | null;
  lastFailure: string | null;
  recentFailures: FailureRecord[];
  /** Sent and failed per mailbox the connection sent from (its sender and allowedMailboxes). */
  mailboxes: Record<string, MailboxCounts>;
}

export interface MailboxCounts {
  sent: number;
  failed: number;
}

/** How many failures the view keeps, newest first. */
export const RECENT_FAILURES = 20;

export class UsageRecorder {
  private sent = 0;
  private throttled = 0;
  private retried = 0;
  private readonly failedByCategory: Partial<Record<ErrorCategory, number>> = {};
  private lastSuccess: string | null = null;
  private readonly recent: FailureRecord[] = [];
  // Keys are mailboxes the connection permits (at most its 1,000 allowedMailboxes and the sender).
  private readonly byMailbox = new Map<string, MailboxCounts>();

  recordSent(at: Date, mailbox?: string): void {
    this.sent++;
    this.lastSuccess = at.toISOString();
    if (mailbox !== undefined) this.mailbox(mailbox).sent++;
  }

  recordThrottled(): void {
    this.throttled++;
  }

  recordRetry(): void {
    this.retried++;
  }

  /** `mailbox` when the mail had one (a mail refused before its sender was known has none). */
  recordFailure(node: NodeRef, error: MailError, at = new Date(), mailbox?: string): void {
    if (mailbox !== undefined) this.mailbox(mailbox).failed++;
    this.failedByCategory[error.category] = (this.failedByCategory[error.category] ?? 0) + 1;
    this.recent.unshift({ time: at.toISOString(), node, ...failureReport(error) });
    if (this.recent.length > RECENT_FAILURES) this.recent.length = RECENT_FAILURES;
  }

  snapshot(tokenRequests: number): UsageSnapshot {
    const failed = Object.values(this.failedByCategory).reduce((sum, n) => sum + (n ?? 0), 0);
    return {
      sent: this.sent,
      failed,
      failedByCategory: { ...this.failedByCategory },
      throttled: this.throttled,
      retried: this.retried,
      tokenRequests,
      lastSuccess: this.lastSuccess,
      lastFailure: this.recent[0]?.time ?? null,
      recentFailures: this.recent.map((r) => ({ ...r })),
      mailboxes: Object.fromEntries([...this.byMailbox].map(([address, counts]) => [address, { ...counts }])),
    };
  }

  private mailbox(address: string): MailboxCounts {
    const key = address.toLowerCase();
    let counts = this.byMailbox.get(key);
    if (!counts) {
      counts = { sent: 0, failed: 0 };
      this.byMailbox.set(key, counts);
    }
    return counts;
  }
}
