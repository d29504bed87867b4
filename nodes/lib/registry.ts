/**
 * What a Node-RED runtime holds once, however many connection nodes use it: the limits Graph and
 * Exchange apply per app and mailbox, tokens per cloud, tenant, app and credential, and HTTP pools
 * per proxy and CA (each pool keeps its sockets per host).
 *
 * Entries are reference-counted: a connection acquires what it uses and releases it when it closes;
 * the last release removes the entry and its timers, so redeploys leave nothing behind.
 */
import { SHARED_POOL_SOCKETS, clientOn, createHttpPool, digest, poolKey, type HttpClient, type HttpPool, type NetworkOptions } from './http';
import { ConcurrencyLimiter, WindowPacer } from './limiter';
import { TokenProvider, type LogSink, type TokenSettings } from './token';

/** Graph: 4 concurrent requests per app and mailbox. */
export const MAILBOX_CONCURRENCY = 4;
/** Exchange Online counts recipients over a rolling 24 hours. */
export const RECIPIENT_WINDOW_MS = 24 * 60 * 60 * 1000;

/** A table of shared values by key, each created on first acquire and disposed on last release. */
export class RefCounted<V> {
  private readonly entries = new Map<string, { value: V; users: number }>();

  constructor(
    private readonly create: (key: string) => V,
    private readonly dispose: (value: V, key: string) => void = () => undefined,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /**
   * The value for `key` and the function that gives it back (safe to call more than once).
   * `create`, when given, makes a missing entry instead of the table's own (values built from
   * settings the key only hashes).
   */
  acquire(key: string, create: (key: string) => V = this.create): { value: V; release: () => void } {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { value: create(key), users: 0 };
      this.entries.set(key, entry);
    }
    entry.users++;
    const held = entry;
    let released = false;
    return {
      value: held.value,
      release: () => {
        if (released) return;
        released = true;
        held.users--;
        if (held.users === 0 && this.entries.get(key) === held) {
          this.entries.delete(key);
          this.dispose(held.value, key);
        }
      },
    };
  }
}

/** Which app sends from which mailbox: Graph's unit for its per-mailbox limits. */
export interface MailboxIdentity {
  cloud: string;
  /** Distinguishes custom clouds (and test sandboxes) that all call themselves `custom`. */
  graphUrl: string;
  tenantId: string;
  applicationId: string;
  mailbox: string;
}

/** Exchange guards a connection asks for; undefined is off. */
export interface MailboxGuards {
  maxMailsPerMinute?: number;
  maxRecipientsPerDay?: number;
}

export function mailboxKey(id: MailboxIdentity): string {
  return [id.cloud, id.graphUrl, id.tenantId, id.applicationId, id.mailbox].map((part) => part.trim().toLowerCase()).join('|');
}

/** The outcome of asking the recipient budget for room. */
export type BudgetAnswer =
  | { ok: true; refund: () => void }
  | { ok: false; used: number; max: number; count: number; freesAt?: number };

/** Recipients are counted per minute: a mailbox's log holds at most a day's worth of minutes. */
const BUCKET_MS = 60 * 1000;

/**
 * Recipients sent from one mailbox over a rolling 24 h. Pure data, pruned when asked: no timers.
 * A mail counts from the moment it is accepted (queued mail too), so a burst cannot overshoot.
 * Counted per minute, not per mail: a mailbox sending 100,000 mails a day kept 100,000 entries
 * whether or not a budget was set; now at most 1,440. A minute's recipients leave the window 24 h
 * after the minute's last one, so the budget frees up at most a minute later than exactly.
 */
export class RecipientLog {
  /** Oldest first; `last` is the time of the minute's latest reservation. */
  private entries: Array<{ minute: number; last: number; count: number }> = [];
  private used = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Recipients counted in the last 24 h. */
  total(): number {
    this.prune();
    return this.used;
  }

  /** Minutes held (at most a day's). */
  get size(): number {
    return this.entries.length;
  }

  reserve(count: number, max: number | undefined): BudgetAnswer {
    this.prune();
    if (max !== undefined && this.used + count > max) {
      return { ok: false, used: this.used, max, count, freesAt: count <= max ? this.freesAt(this.used + count - max) : undefined };
    }
    const at = this.now();
    const minute = Math.floor(at / BUCKET_MS);
    let entry = this.entries[this.entries.length - 1];
    if (entry?.minute === minute) {
      entry.count += count;
      entry.last = Math.max(entry.last, at);
    } else {
      entry = { minute, last: at, count };
      this.entries.push(entry);
    }
    this.used += count;
    const held = entry;
    let refunded = false;
    return {
      ok: true,
      // A mail that surely never went out gives its recipients back (its minute may have left the window already).
      refund: () => {
        if (refunded) return;
        refunded = true;
        if (!this.entries.includes(held)) return;
        held.count -= count;
        this.used -= count;
      },
    };
  }

  /** When at least `excess` recipients will have left the window. */
  private freesAt(excess: number): number {
    let freed = 0;
    for (const entry of this.entries) {
      freed += entry.count;
      if (freed >= excess) return entry.last + RECIPIENT_WINDOW_MS;
    }
    return this.now() + RECIPIENT_WINDOW_MS;
  }

  private prune(): void {
    const cutoff = this.now() - RECIPIENT_WINDOW_MS;
    let old = 0;
    while (old < this.entries.length && this.entries[old].last <= cutoff) {
      this.used -= this.entries[old].count;
      old++;
    }
    if (old) this.entries.splice(0, old);
  }
}

/**
 * The limits of one app + mailbox, shared by every connection that sends from it: the FIFO of
 * Graph's 4 requests in flight (with Exchange pacing), the pause after a 429, the recipient budget.
 */
export class MailboxLimits {
  /** No request to this mailbox starts before this time (a 429 with Retry-After). */
  pausedUntil = 0;
  readonly limiter: ConcurrencyLimiter;
  /** Guards of the connections using the mailbox now; the strictest of each holds. */
  private readonly guards = new Set<MailboxGuards>();

  constructor(
    readonly recipients: RecipientLog,
    now: () => number = Date.now,
  ) {
    const pacer = new WindowPacer(() => this.strictest('maxMailsPerMinute'));
    // The queue bound is each connection's own (queueSize): the shared queue itself is unbounded.
    this.limiter = new ConcurrencyLimiter(MAILBOX_CONCURRENCY, Infinity, pacer, now);
  }

  get maxMailsPerMinute(): number | undefined {
    return this.strictest('maxMailsPerMinute');
  }

  get maxRecipientsPerDay(): number | undefined {
    return this.strictest('maxRecipientsPerDay');
  }

  /** Graph throttles the mailbox, not the mail: every connection waits it out. */
  pause(untilMs: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, untilMs);
  }

  reserveRecipients(count: number): BudgetAnswer {
    return this.recipients.reserve(count, this.maxRecipientsPerDay);
  }

  /** @internal for the registry */
  addGuards(guards: MailboxGuards): void {
    this.guards.add(guards);
  }

  /** @internal for the registry: a looser limit may let queued mail start now. */
  removeGuards(guards: MailboxGuards): void {
    this.guards.delete(guards);
    this.limiter.dispatch();
  }

  /** @internal for the registry: nothing waits any more (the last user drained); stop any timer. */
  dispose(): void {
    this.limiter.cancelQueued(new Error('mailbox released'));
  }

  private strictest(name: keyof MailboxGuards): number | undefined {
    let value: number | undefined;
    for (const g of this.guards) {
      const v = g[name];
      if (v !== undefined && (value === undefined || v < value)) value = v;
    }
    return value;
  }
}

/** A connection's hold on one mailbox's limits. */
export interface MailboxLease {
  readonly limits: MailboxLimits;
  release(): void;
}

/**
 * Per-mailbox limits of a runtime. The recipient log of a mailbox outlives its last user for as
 * long as it holds recipients of the last 24 h, so a redeploy does not reset the daily budget;
 * it is data only (no timers) and is dropped once empty.
 */
export class MailboxRegistry {
  private readonly logs = new Map<string, RecipientLog>();
  private readonly table: RefCounted<MailboxLimits>;

  constructor(private readonly now: () => number = Date.now) {
    this.table = new RefCounted(
      (key) => new MailboxLimits(this.logFor(key), this.now),
      (limits) => limits.dispose(),
    );
  }

  /** Mailboxes in use by at least one connection. */
  get size(): number {
    return this.table.size;
  }

  /** Recipient logs kept (in use, or holding recipients of the last 24 h). */
  get recipientLogs(): number {
    this.pruneLogs();
    return this.logs.size;
  }

  acquire(id: MailboxIdentity, guards: MailboxGuards = {}): MailboxLease {
    // A full sweep per acquire made 1,000 connections' first mails quadratic: sweep only when the
    // kept logs outnumber the mailboxes in use (amortised constant).
    if (this.logs.size > 2 * this.table.size + 16) this.pruneLogs();
    const key = mailboxKey(id);
    const { value: limits, release } = this.table.acquire(key);
    // Each lease adds its own object, so two connections with equal values both count.
    const own: MailboxGuards = { ...guards };
    limits.addGuards(own);
    let released = false;
    return {
      limits,
      release: () => {
        if (released) return;
        released = true;
        limits.removeGuards(own);
        release();
        this.pruneLog(key);
      },
    };
  }

  private logFor(key: string): RecipientLog {
    let log = this.logs.get(key);
    if (!log) {
      log = new RecipientLog(this.now);
      this.logs.set(key, log);
    }
    return log;
  }

  /** Drops the logs no connection uses that hold nothing from the last 24 h. */
  private pruneLogs(): void {
    for (const key of this.logs.keys()) this.pruneLog(key);
  }

  private pruneLog(key: string): void {
    const log = this.logs.get(key);
    if (log && log.total() === 0 && !this.table.has(key)) this.logs.delete(key);
  }
}

/** A connection's hold on a shared TokenProvider. */
export interface TokenLease {
  readonly provider: TokenProvider;
  release(): void;
}

/** What the token table keeps per credential: the provider, its own client, the users' log sinks. */
interface TokenEntry {
  provider: TokenProvider;
  http: HttpClient;
  sinks: Set<LogSink>;
}

/**
 * The token table's key: cloud (login and Graph URLs: the authority and the scope), tenant, app,
 * the credential itself (secret value, or certificate thumbprint and key) and the network the token
 * endpoint is reached through. A changed secret, certificate or proxy gives a new entry.
 */
export function tokenKey(settings: TokenSettings & NetworkOptions): string {
  const certificate = settings.clientCertificate;
  const credential = certificate ? ['certificate', certificate.thumbprintSha256, certificate.privateKey] : ['secret', settings.clientSecret];
  return digest(['token', settings.loginUrl, settings.graphUrl, settings.tenantId.toLowerCase(), settings.applicationId.toLowerCase(), ...credential, poolKey(settings)]);
}

/** One per Node-RED runtime (the connection node's register function makes it). */
export class Registry {
  readonly mailboxes: MailboxRegistry;
  /** HTTP pools by network setup (proxy, CA); each destroys its sockets on its last release. */
  readonly pools = new RefCounted<HttpPool>(
    () => {
      throw new Error('pools are made by Registry.http');
    },
    (pool) => pool.destroy(),
  );
  /** Token providers by credential (see tokenKey): one token serves every connection of an app. */
  readonly tokens = new RefCounted<TokenEntry>(
    () => {
      throw new Error('token providers are made by Registry.tokenProvider');
    },
    (entry) => entry.http.destroy(),
  );

  constructor(now: () => number = Date.now) {
    this.mailboxes = new MailboxRegistry(now);
  }

  /**
   * A connection's own HTTP client on the pool its network setup shares: destroy() aborts the
   * connection's requests in flight and releases the pool (the last release ends its sockets).
   */
  http(network: NetworkOptions): HttpClient {
    const options: NetworkOptions = { proxyUrl: network.proxyUrl, proxyPassword: network.proxyPassword, caBundle: network.caBundle, maxSockets: SHARED_POOL_SOCKETS };
    const { value, release } = this.pools.acquire(poolKey(options), () => createHttpPool(options));
    return clientOn(value, release);
  }

  /**
   * The TokenProvider every connection with these credentials shares (its 401 refresh and
   * invalidate serve them all). MSAL's log lines go to the log of one connection still using it.
   */
  tokenProvider(settings: TokenSettings & NetworkOptions, log?: LogSink): TokenLease {
    const { value: entry, release } = this.tokens.acquire(tokenKey(settings), () => {
      const sinks = new Set<LogSink>();
      // Its own client: a closing connection aborts only its own requests, never a shared token request.
      const http = this.http(settings);
      const provider = new TokenProvider(settings, http, (level, message) => sinks.values().next().value?.(level, message));
      return { provider, http, sinks };
    });
    if (log) entry.sinks.add(log);
    let released = false;
    return {
      provider: entry.provider,
      release: () => {
        if (released) return;
        released = true;
        if (log) entry.sinks.delete(log);
        release();
      },
    };
  }
}
