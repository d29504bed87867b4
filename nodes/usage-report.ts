/**
 * The usage data the editor shows (the Usage Data sidebar, GET /office365-mail/usage): built from
 * every connection node's counts in the user's language, and pushed to open editors over RED.comms
 * when it changes, so the sidebar updates while the user watches. Changes are coalesced: a burst of
 * mails costs one message.
 */
import type { NodeAPI } from 'node-red';
import { credentialExpiry } from './lib/expiry';
import type { ConnectionNode } from './node-red-runtime';
import { errorText, problemText } from './texts';

/** The comms topic the Usage Data sidebar subscribes to; the payload is GET /office365-mail/usage's body. */
export const USAGE_TOPIC = 'office365-mail/usage';

/** How long changes are gathered before one message goes out. */
export const COALESCE_MS = 250;

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

/** The usage data of every connection, by node: GET /office365-mail/usage's body and the feed's payload. */
export function usageReport(RED: NodeAPI, connections: Iterable<ConnectionNode>): { connections: unknown[] } {
  const list = [...connections].map((node) => {
    const snapshot = node.runtime?.mailer.snapshot();
    const expiry = node.runtime ? credentialExpiry(node.runtime.settings) : undefined;
    return {
      id: node.id,
      key: node.key,
      name: node.name ?? '',
      senderEmail: node.runtime?.settings.senderEmail ?? '',
      valid: Boolean(node.runtime),
      credentialExpiresOn: expiry?.date ?? null,
      credentialExpiresInDays: expiry?.days ?? null,
      credentialExpiryWarning: expiry?.warn ?? false,
      problems: node.problems.map((p) => problemText(RED._, p)),
      ...snapshot,
      recentFailures: (snapshot?.recentFailures ?? []).map((f) => ({ ...f, ...errorText(RED._, f) })),
    };
  });
  return { connections: list };
}
