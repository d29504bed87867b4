/**
 * What the sandbox remembers: sent mail, the request log, counters and issued tokens, plus the
 * fault queue. Tests read these through the Sandbox object or the /_sandbox/ HTTP surface.
 */
import { EventEmitter } from 'node:events';

/** How a mail left: sendMail, a draft's send, or reply / replyAll / forward on a message. */
export type MailPath = 'sendMail' | 'uploadSession' | 'reply' | 'replyAll' | 'forward';

/** One attachment of a sent mail, decoded: enough to check names, sizes and content. */
export interface SentAttachment {
  name: string;
  contentType?: string;
  /** Decoded size in bytes. */
  size: number;
  isInline: boolean;
  contentId?: string;
  /** Hex SHA-256 of the decoded bytes, to check an upload arrived intact without keeping it. */
  sha256: string;
  /** `inline`: base64 in the JSON (sendMail or POST attachments); `upload`: an upload session. */
  via: 'inline' | 'upload';
}

export interface SentMail {
  id: string;
  /** The mailbox's address as the directory spells it, whatever form the URL used. */
  sender: string;
  /**
   * The Graph message JSON as received. On the upload-session path it is the draft, with the
   * attachments added to it: small ones as posted, uploaded ones as metadata (no contentBytes).
   */
  message: Record<string, unknown>;
  attachments: SentAttachment[];
  saveToSentItems: boolean;
  path: MailPath;
  /** A draft made with `Prefer: IdType="ImmutableId"`: its id, which the Sent Items copy keeps. */
  immutableId?: string;
  clientRequestId?: string;
  requestId: string;
  appId: string;
  receivedAt: Date;
}

export type RequestTarget = 'token' | 'oidc' | 'graph' | 'upload' | 'other';

/** One request as logged. Authorization values and upload tokens are never stored here. */
export interface RecordedRequest {
  method: string;
  /** The path without the query string (upload URLs carry their credential in the query). */
  path: string;
  target: RequestTarget;
  /** 0 when the sandbox never answered (reset or hang fault, or the client went away). */
  status: number;
  outcome: 'answered' | 'reset' | 'hung' | 'aborted';
  clientRequestId?: string;
  requestId?: string;
  /** The Graph error code or AADSTS error, when the answer was an error. */
  errorCode?: string;
  /** Bytes of the request body as received (to check, e.g., the size of each upload PUT). */
  bodyBytes?: number;
  time: Date;
}

export interface SandboxStats {
  tokenRequests: number;
  tokensIssued: number;
  graphRequests: number;
  tlsConnections: number;
  /**
   * Highest number of Graph requests in flight at once per mailbox, counted on arrival (so the
   * request that got 429 for being the fifth counts too: a client that exceeds 4 shows as 5+).
   */
  maxConcurrentPerMailbox: Record<string, number>;
  /**
   * The same per `<appId>|<mailbox>` (lower case): Graph's MailboxConcurrency unit, so two apps may
   * each have 4 in flight for one mailbox.
   */
  maxConcurrentPerAppMailbox: Record<string, number>;
  mailsSent: number;
  throttled: number;
  faultsTriggered: number;
}

/** How Exchange refuses a mailbox blocked from sending. */
export interface BlockedMailbox {
  code: 'ErrorMessageSubmissionBlocked' | 'SubmissionQuotaExceeded';
  /** HTTP status of the refusal (default 403); clients must branch on the code, not on this. */
  status?: number;
  /** Retry-After to send with it, if any (a retry within minutes still cannot help). */
  retryAfter?: string;
}

export type FaultTarget = 'token' | 'sendMail' | 'graph' | 'upload';
export type FaultAction = 'respond' | 'reset-before' | 'reset-after' | 'hang';

export interface Fault {
  /** `graph` matches every Graph route (upload PUTs included); `sendMail` only sendMail; `upload` only requests to upload URLs. */
  target: FaultTarget;
  /** Status for `respond` (default 503). */
  status?: number;
  /** Graph error code or Entra `error` for `respond` (default derived from the status). */
  code?: string;
  message?: string;
  /** For `token` faults: the AADSTS number in error_codes (default 90033, transient error). */
  aadsts?: number;
  /** Value of the Retry-After header sent with `respond`. */
  retryAfter?: string;
  /** Wait this long before acting. */
  delayMs?: number;
  /** Let this many matching requests pass untouched first (default 0): a failure midway, e.g. the third PUT of an upload. */
  after?: number;
  /** How many matching requests it applies to (default 1; Infinity for all). */
  times?: number;
  action?: FaultAction;
  /** Only requests for this mailbox (address or id as it appears in the URL, case-insensitive). */
  mailbox?: string;
}

/** Events a test can wait on instead of sleeping. */
export interface SandboxEvents {
  /** A request arrived (body read, before any check). */
  request: [info: { method: string; path: string; target: RequestTarget }];
  /** A request was finished, answered or not. */
  'request-done': [entry: RecordedRequest];
  mail: [mail: SentMail];
  /** A client connection closed; `open`: how many remain. */
  'connection-closed': [open: number];
}

export class TypedEmitter extends EventEmitter<SandboxEvents> {}

export class SandboxState {
  mails: SentMail[] = [];
  requestLog: RecordedRequest[] = [];
  tokens: string[] = [];
  /** Access tokens Graph no longer accepts (revoked before their expiry). */
  revoked = new Set<string>();
  /** How many of the next issued tokens are revoked as soon as they are issued. */
  revokeNext = 0;
  faults: (Fault & { remaining: number; skip: number })[] = [];
  readonly events = new TypedEmitter();
  private counters = this.zero();
  /** In-flight Graph requests per mailbox (all apps), for maxConcurrentPerMailbox. */
  private inFlightPerMailbox = new Map<string, number>();
  private maxPerMailbox: Record<string, number> = {};

  private maxPerAppMailbox: Record<string, number> = {};
  /**
   * Mailboxes Exchange has blocked from sending (lower-case address → the Graph error to answer).
   * Set through blockMailbox(); a real block follows 10,000 recipients in 24 h and lasts 24 h.
   */
  blocked = new Map<string, BlockedMailbox>();

  private zero(): Omit<SandboxStats, 'maxConcurrentPerMailbox' | 'maxConcurrentPerAppMailbox'> {
    return {
      tokenRequests: 0,
      tokensIssued: 0,
      graphRequests: 0,
      tlsConnections: 0,
      mailsSent: 0,
      throttled: 0,
      faultsTriggered: 0,
    };
  }

  count(name: keyof Omit<SandboxStats, 'maxConcurrentPerMailbox' | 'maxConcurrentPerAppMailbox'>): void {
    this.counters[name] += 1;
  }

  stats(): SandboxStats {
    return { ...this.counters, maxConcurrentPerMailbox: { ...this.maxPerMailbox }, maxConcurrentPerAppMailbox: { ...this.maxPerAppMailbox } };
  }

  recordMail(mail: SentMail): void {
    this.mails.push(mail);
    this.counters.mailsSent += 1;
    this.events.emit('mail', mail);
  }

  recordRequest(entry: RecordedRequest): void {
    this.requestLog.push(entry);
    this.events.emit('request-done', entry);
  }

  recordToken(token: string): void {
    this.tokens.push(token);
    this.counters.tokensIssued += 1;
    if (this.revokeNext > 0) {
      this.revokeNext -= 1;
      this.revoked.add(token);
    }
  }

  /** Revokes every token issued so far, and the next `next` ones as they are issued. */
  revokeTokens(next = 0): void {
    for (const token of this.tokens) this.revoked.add(token);
    this.revokeNext = next;
  }

  /** Records how many requests one app has in flight for one mailbox (Graph's unit). */
  noteAppMailbox(appId: string, mailbox: string, inFlight: number): void {
    const key = `${appId.toLowerCase()}|${mailbox.toLowerCase()}`;
    if (inFlight > (this.maxPerAppMailbox[key] ?? 0)) this.maxPerAppMailbox[key] = inFlight;
  }

  /** Marks a Graph request for `mailbox` in flight; returns a function that ends it. */
  enterMailbox(mailbox: string): () => void {
    const key = mailbox.toLowerCase();
    const now = (this.inFlightPerMailbox.get(key) ?? 0) + 1;
    this.inFlightPerMailbox.set(key, now);
    if (now > (this.maxPerMailbox[key] ?? 0)) this.maxPerMailbox[key] = now;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const rest = (this.inFlightPerMailbox.get(key) ?? 1) - 1;
      if (rest > 0) this.inFlightPerMailbox.set(key, rest);
      else this.inFlightPerMailbox.delete(key);
    };
  }

  addFault(fault: Fault): void {
    const times = fault.times ?? 1;
    if (!(times > 0)) throw new Error('fault.times must be a positive number or Infinity');
    const after = fault.after ?? 0;
    if (!(after >= 0)) throw new Error('fault.after must be 0 or more');
    this.faults.push({ ...fault, remaining: times, skip: after });
  }

  /**
   * The first queued fault that applies to this request, used up by one. `mailboxKeys` holds the
   * URL's mailbox segment and, when known, the mailbox's address and id.
   */
  takeFault(route: 'token' | 'sendMail' | 'graph' | 'upload', mailboxKeys: string[]): Fault | undefined {
    const index = this.faults.findIndex((f) => {
      const targetMatches = f.target === route || (f.target === 'graph' && (route === 'sendMail' || route === 'upload'));
      if (!targetMatches) return false;
      if (f.mailbox !== undefined) {
        const wanted = f.mailbox.toLowerCase();
        if (!mailboxKeys.some((k) => k.toLowerCase() === wanted)) return false;
      }
      // A matching request let through still counts towards `after`.
      if (f.skip > 0) {
        f.skip -= 1;
        return false;
      }
      return true;
    });
    if (index < 0) return undefined;
    const fault = this.faults[index];
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    this.counters.faultsTriggered += 1;
    return fault;
  }

  /** Forgets mail, requests, tokens, counters and faults. */
  reset(): void {
    this.mails = [];
    this.requestLog = [];
    this.tokens = [];
    this.revoked = new Set();
    this.revokeNext = 0;
    this.faults = [];
    // tlsConnections restarts too: connections already open stay open and are not counted again.
    this.counters = this.zero();
    this.maxPerMailbox = {};
    this.maxPerAppMailbox = {};
    this.blocked.clear();
  }
}
