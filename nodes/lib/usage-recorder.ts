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

  recordSent(at: Date): void {
    this.sent++;
    this.lastSuccess = at.toISOString();
  }

  recordThrottled(): void {
    this.throttled++;
  }

  recordRetry(): void {
    this.retried++;
  }

  recordFailure(node: NodeRef, error: MailError, at = new Date()): void {
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
    };
  }
}
