/**
 * The usage data the editor shows (the Usage Data sidebar, GET /office365-mail/usage): built from
 * every connection node's counts in the user's language, and pushed to open editors over RED.comms
 * when it changes, so the sidebar updates while the user watches. Changes are coalesced: a burst of
 * mails costs one message.
 */
import type { NodeAPI } from 'node-red';
import { credentialExpiry } from './lib/expiry';
import { snapshotFrom, type FailureRecord, type UsageSnapshot } from './lib/usage-recorder';
import type { KeyUsage, UsageStore } from './lib/usage-store';
import type { ConnectionNode } from './node-red-runtime';
import { errorKeys, errorText, problemText } from './texts';

/** The comms topic the Usage Data sidebar subscribes to; the payload only says that something changed (the sidebar then reads GET /office365-mail/usage). */
export const USAGE_TOPIC = 'office365-mail/usage';

/** How long changes are gathered before one message goes out. */
export const COALESCE_MS = 1000;

export class UsageFeed {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly publish: (data: unknown) => void,
    private readonly read: () => unknown,
    private readonly delayMs = COALESCE_MS,
  ) {}

  /** Something changed: publish once the burst is over (at most one message per delay). */
  changed(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.publish(this.read());
    }, this.delayMs);
    // A pending update must not keep Node-RED (or a test runner) alive.
    this.timer.unref();
  }

  /** Publish now and drop any pending update (the last connection closed: nothing later would). */
  flush(): void {
    this.cancel();
    this.publish(this.read());
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** A run of the same failure (same category, code, text and node), newest first: folded in the view. */
export interface RepeatedRun {
  /** Index in recentFailures of the run's newest failure. */
  index: number;
  count: number;
  /** The run's oldest and newest failure. */
  since: string;
  last: string;
}

/** Consecutive equal failures in a newest-first list, as runs (a lone failure is a run of one). */
export function repeatedRuns(failures: readonly FailureRecord[]): RepeatedRun[] {
  const runs: RepeatedRun[] = [];
  let previous: FailureRecord | undefined;
  failures.forEach((f, index) => {
    const run = runs[runs.length - 1];
    if (run && previous && sameFailure(previous, f)) {
      run.count++;
      run.since = f.time;
    } else {
      runs.push({ index, count: 1, since: f.time, last: f.time });
    }
    previous = f;
  });
  return runs;
}

function sameFailure(a: FailureRecord, b: FailureRecord): boolean {
  return a.category === b.category && a.code === b.code && a.messageKey === b.messageKey && a.node.id === b.node.id;
}

/**
 * The usage data by connection Key: GET /office365-mail/usage's body and the feed's payload. Every
 * deployed connection (in flow order), then the keys no deployed connection uses any more (kept
 * USAGE_DAYS days, `removed: true`). With `only`, the one key asked for.
 */
export function usageReport(RED: NodeAPI, connections: Iterable<ConnectionNode>, store: UsageStore, only?: string): { connections: unknown[] } {
  const list: unknown[] = [];
  const seen = new Set<string>();
  for (const node of connections) {
    if (only !== undefined && node.key !== only) continue;
    // One entry per key: a second connection with the same Key shares its history.
    if (node.key && seen.has(node.key)) continue;
    seen.add(node.key);
    // A keyed connection's history is the store's, read once here; one without a Key keeps its own in memory.
    const stored = node.key ? store.get(node.key) : undefined;
    const snapshot = node.key ? snapshotFrom(stored, node.runtime?.tokens.tokenRequests ?? 0) : node.runtime?.mailer.snapshot();
    const expiry = node.runtime ? credentialExpiry(node.runtime.settings) : undefined;
    list.push({
      id: node.id,
      key: node.key,
      name: node.name ?? '',
      senderEmail: node.runtime?.settings.senderEmail ?? '',
      valid: Boolean(node.runtime),
      credentialExpiresOn: expiry?.date ?? null,
      credentialExpiresInDays: expiry?.days ?? null,
      credentialExpiryWarning: expiry?.warn ?? false,
      problems: node.problems.map((p) => problemText(RED._, p)),
      ...history(RED, snapshot, stored),
    });
  }
  // The keys no deployed connection uses: every one, or the one asked for.
  const others = only === undefined ? store.all(seen) : seen.has(only) ? [] : [store.get(only)];
  for (const entry of others) {
    if (!entry) continue;
    list.push({
      id: null,
      key: entry.key,
      name: entry.name,
      senderEmail: entry.senderEmail,
      valid: false,
      credentialExpiresOn: null,
      credentialExpiresInDays: null,
      credentialExpiryWarning: false,
      problems: [],
      ...history(RED, snapshotFrom(entry, 0), entry),
    });
  }
  return { connections: list };
}

/** The counts, the days and the failures (in the user's language, with their runs) of one key. */
function history(RED: NodeAPI, snapshot: UsageSnapshot | undefined, stored: KeyUsage | undefined): Record<string, unknown> {
  const failures = snapshot?.recentFailures ?? [];
  return {
    ...snapshot,
    since: stored?.since ?? null,
    removed: stored?.removed ?? false,
    removedAt: stored?.removedAt ?? null,
    days: stored?.days ?? [],
    // message and hint in the runtime's language (the API's readers); keys and Microsoft's own text
    // apart, so the sidebar renders them in the editor's language and folds the details.
    recentFailures: failures.map((f) => ({ ...f, ...errorText(RED._, f), keys: errorKeys(f), details: typeof f.params?.detail === 'string' && f.params.detail ? f.params.detail : null })),
    repeated: repeatedRuns(failures),
  };
}
