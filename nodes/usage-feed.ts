/**
 * Pushes the usage data to open editors over RED.comms when it changes, so the Usage Data sidebar
 * updates while the user watches. Changes are coalesced: a burst of mails costs one message.
 */

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
