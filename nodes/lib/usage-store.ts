/**
 * Usage data per connection Key that outlasts redeploys and restarts: one JSON file in Node-RED's
 * user directory, written atomically (temp file, fsync, rename) and debounced, read back at start.
 * What is read is checked and capped field by field; a file that cannot be used is set aside in
 * favour of a fresh start, with a warning, and never stops Node-RED.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { CATEGORIES, DETAIL_MAX, FAILURE_IDS, quote, VALUE_MAX, type ErrorCategory, type FailureIds, type FailureReport, type I18nParams } from './errors';
import { MAX_ALLOWED_MAILBOXES } from './settings';
import type { NodeRef } from './types';

/** The file's name inside Node-RED's user directory. */
export const USAGE_FILE = 'office365-mail-usage.json';
/** Days of counters kept, today included; also how long a key no connection uses is kept. */
export const USAGE_DAYS = 30;
/** Failures kept per key, newest first, with every detail. */
export const RECENT_FAILURES = 50;
/**
 * Keys kept, deployed and removed (keys in use are never dropped for room, see dropOldest): twice
 * the thousand connections one runtime is built to serve (bench:scale); also the cap on reading.
 */
export const MAX_KEYS = 2000;
/** A larger file is not read (typical keys take a few KB; 50 failures of ~1 KB on most of 2,000 keys stay under it). */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;
/** How long changes are gathered before the file is written. */
export const WRITE_DELAY_MS = 1000;
/**
 * A large file waits longer: about a second per this many bytes of the last write, so a busy
 * runtime with many keys does not rewrite (and fsync) megabytes every second. bench:scale: 1,000
 * connections sending at once rewrote their ~1 MB file 7 times in 7 s, 12 MB of allocations.
 */
export const WRITE_BYTES_PER_SECOND = 128 * 1024;
/** The longest wait, whatever the size: what a crash (not a shutdown, which writes) could lose. */
export const MAX_WRITE_DELAY_MS = 15_000;

const DAY_MS = 24 * 60 * 60 * 1000;
const FORMAT = 1;
const MAX_PARAMS = 20;
const KEY_MAX = 200;
/** Mailboxes counted per day: a connection sends only from its sender and its allowed mailboxes. */
export const MAX_MAILBOXES = MAX_ALLOWED_MAILBOXES + 1;
/** The longest address (RFC 5321: 64 + 1 + 255). */
const ADDRESS_MAX = 320;

/** Sent and failed mails of one mailbox. */
export interface MailboxCounts {
  sent: number;
  failed: number;
}

/** One failure in the usage data's recent list: when, which node, and the failure's report. */
export type FailureRecord = { time: string; node: NodeRef } & FailureReport;

/** One UTC day's counts. */
export interface DayCounts {
  /** `YYYY-MM-DD`, UTC. */
  date: string;
  sent: number;
  failed: number;
  failedByCategory: Partial<Record<ErrorCategory, number>>;
  throttled: number;
  retried: number;
  /** Per mailbox sent from (lower case), when a mail had one. */
  mailboxes?: Record<string, MailboxCounts>;
}

/** Everything kept for one Key. */
export interface KeyUsage {
  key: string;
  /** When this history starts (first use of the key, or the last clear). */
  since: string;
  /** No deployed connection uses the key; kept until `removedAt` is USAGE_DAYS old. */
  removed: boolean;
  removedAt: string | null;
  /** The last connection's name and sender, to label a removed key. */
  name: string;
  senderEmail: string;
  lastSuccess: string | null;
  lastFailure: string | null;
  /** Oldest first, only days with something counted, at most USAGE_DAYS. */
  days: DayCounts[];
  /** Newest first, at most RECENT_FAILURES. */
  failures: FailureRecord[];
}

export interface UsageStoreOptions {
  /** The JSON file; without it the data lives in memory only (a connection outside Node-RED, tests). */
  file?: string;
  now?: () => Date;
  writeDelayMs?: number;
  /** A problem with the file, as an i18n key under `usageStore.` and its parameters. */
  warn?: (key: string, params: I18nParams) => void;
}

/** `YYYY-MM-DD` of a time, in UTC. */
export function dayOf(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** The first day still kept on `today`. */
function firstKeptDay(now: Date): string {
  return dayOf(new Date(now.getTime() - (USAGE_DAYS - 1) * DAY_MS));
}

/** What is kept at a time: days from `firstDay`, removed keys removed after `removedAfter` (ms). */
interface KeptFrom {
  firstDay: string;
  removedAfter: number;
}

function keptFrom(now: Date): KeptFrom {
  return { firstDay: firstKeptDay(now), removedAfter: now.getTime() - USAGE_DAYS * DAY_MS };
}

/**
 * Emits `written` after each write of the file (tests wait on it) and `changed` after each
 * change of the data.
 */
export class UsageStore extends EventEmitter {
  private readonly keys = new Map<string, KeyUsage>();
  /** Deployed connections per key: a key is removed when its last one closes. */
  private readonly users = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  /** Characters of the last write: the next one waits longer for a large file. */
  private lastWriteLength = 0;
  private readonly now: () => Date;
  private readonly writeDelayMs: number;

  constructor(private readonly options: UsageStoreOptions = {}) {
    super();
    this.now = options.now ?? (() => new Date());
    this.writeDelayMs = options.writeDelayMs ?? WRITE_DELAY_MS;
    if (options.file) this.load(options.file);
    this.prune();
  }

  /** A deployed connection uses `key`: its history goes on (or starts), and it is no longer removed. */
  attach(key: string, label: { name: string; senderEmail: string }): void {
    this.users.set(key, (this.users.get(key) ?? 0) + 1);
    const entry = this.entry(key);
    entry.removed = false;
    entry.removedAt = null;
    entry.name = quote(label.name, VALUE_MAX);
    entry.senderEmail = quote(label.senderEmail, VALUE_MAX);
    this.changed();
  }

  /** A connection using `key` closed; the last one to close marks the key removed (a redeploy attaches it again). */
  detach(key: string): void {
    const count = (this.users.get(key) ?? 0) - 1;
    if (count > 0) {
      this.users.set(key, count);
      return;
    }
    this.users.delete(key);
    const entry = this.keys.get(key);
    if (!entry) return;
    entry.removed = true;
    entry.removedAt = this.now().toISOString();
    this.changed();
  }

  recordSent(key: string, at: Date, mailbox?: string): void {
    const entry = this.entry(key);
    const day = this.today(entry);
    day.sent++;
    countMailbox(day, mailbox, 'sent');
    entry.lastSuccess = at.toISOString();
    this.changed();
  }

  recordThrottled(key: string): void {
    this.today(this.entry(key)).throttled++;
    this.changed();
  }

  recordRetry(key: string): void {
    this.today(this.entry(key)).retried++;
    this.changed();
  }

  /** `mailbox` when the mail had one (a mail refused before its sender was known has none). */
  recordFailure(key: string, record: FailureRecord, mailbox?: string): void {
    const entry = this.entry(key);
    const day = this.today(entry);
    day.failed++;
    countMailbox(day, mailbox, 'failed');
    day.failedByCategory[record.category] = (day.failedByCategory[record.category] ?? 0) + 1;
    entry.lastFailure = record.time;
    entry.failures.unshift(record);
    if (entry.failures.length > RECENT_FAILURES) entry.failures.length = RECENT_FAILURES;
    this.changed();
  }

  /**
   * Forgets a key's history. A deployed key starts afresh now; one no connection uses is dropped.
   * False when the key is unknown.
   */
  clear(key: string): boolean {
    const entry = this.keys.get(key);
    if (!entry) return false;
    if (entry.removed) {
      this.keys.delete(key);
    } else {
      this.keys.set(key, { ...fresh(key, this.now()), name: entry.name, senderEmail: entry.senderEmail });
    }
    this.changed();
    return true;
  }

  /**
   * A copy of one key's data within the kept window, or undefined. Prunes that key only: a usage
   * report reads every connection's key, and pruning them all on each read made it quadratic
   * (1.3 GB allocated for 1,000 connections sending one mail each, bench:scale).
   */
  get(key: string): KeyUsage | undefined {
    const entry = this.keys.get(key);
    return entry && this.pruneEntry(key, entry, keptFrom(this.now())) ? copy(entry) : undefined;
  }

  /** Copies of every key's data, deployed and removed, but those in `except`. */
  all(except?: ReadonlySet<string>): KeyUsage[] {
    this.prune();
    const out: KeyUsage[] = [];
    for (const entry of this.keys.values()) if (!except?.has(entry.key)) out.push(copy(entry));
    return out;
  }

  /** Writes pending changes now (close, shutdown). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.options.file) return;
    this.prune();
    const data = JSON.stringify({ format: FORMAT, keys: Object.fromEntries(this.keys) });
    const temp = `${this.options.file}.${process.pid}.tmp`;
    try {
      fs.mkdirSync(path.dirname(this.options.file), { recursive: true });
      // Written whole under another name and synced, then renamed over the old file: a crash
      // leaves either the old file or the new one, never half of one.
      const fd = fs.openSync(temp, 'w', 0o600);
      try {
        fs.writeSync(fd, data);
        this.lastWriteLength = data.length;
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(temp, this.options.file);
      this.emit('written');
    } catch (err) {
      fs.rmSync(temp, { force: true });
      this.options.warn?.('writeFailed', { file: this.options.file, detail: quote(String((err as Error).message ?? err), DETAIL_MAX) });
    }
  }

  /** Stops a pending write without writing. */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private changed(): void {
    this.emit('changed');
    if (!this.options.file || this.timer) return;
    const forSize = Math.min(MAX_WRITE_DELAY_MS, (this.lastWriteLength / WRITE_BYTES_PER_SECOND) * 1000);
    this.timer = setTimeout(() => this.flush(), Math.max(this.writeDelayMs, forSize));
    // A pending write must not keep Node-RED (or a test runner) alive; close flushes.
    this.timer.unref();
  }

  private entry(key: string): KeyUsage {
    let entry = this.keys.get(key);
    if (!entry) {
      entry = fresh(key, this.now());
      // The oldest removed keys make room first; past the cap, the oldest key of all.
      if (this.keys.size >= MAX_KEYS) this.dropOldest();
      this.keys.set(key, entry);
    }
    return entry;
  }

  private today(entry: KeyUsage): DayCounts {
    const date = dayOf(this.now());
    const last = entry.days[entry.days.length - 1];
    if (last?.date === date) return last;
    const day: DayCounts = { date, sent: 0, failed: 0, failedByCategory: {}, throttled: 0, retried: 0 };
    entry.days.push(day);
    const first = firstKeptDay(this.now());
    entry.days = entry.days.filter((d) => d.date >= first);
    return day;
  }

  /** Drops days older than the window and removed keys whose time is up. */
  private prune(): void {
    const kept = keptFrom(this.now());
    for (const [key, entry] of this.keys) this.pruneEntry(key, entry, kept);
  }

  /** The same for one key; false when the key itself was dropped. */
  private pruneEntry(key: string, entry: KeyUsage, kept: KeptFrom): boolean {
    if (entry.removed && entry.removedAt !== null && Date.parse(entry.removedAt) <= kept.removedAfter) {
      this.keys.delete(key);
      return false;
    }
    if (entry.days.length && entry.days[0].date < kept.firstDay) entry.days = entry.days.filter((d) => d.date >= kept.firstDay);
    return true;
  }

  /**
   * Makes room: the oldest key no deployed connection uses (removed ones first). A key in use is
   * never dropped: past the cap with every key deployed, the store grows with the flows (evicting
   * a key in use would lose its history and re-create it on its next mail).
   */
  private dropOldest(): void {
    const byAge = [...this.keys.values()].sort((a, b) => Number(b.removed) - Number(a.removed) || (a.removedAt ?? a.since).localeCompare(b.removedAt ?? b.since));
    const victim = byAge.find((e) => !this.users.has(e.key));
    if (victim) this.keys.delete(victim.key);
  }

  private load(file: string): void {
    let text: string;
    try {
      const size = fs.statSync(file).size;
      if (size > MAX_FILE_BYTES) {
        this.options.warn?.('tooLarge', { file, size, max: MAX_FILE_BYTES });
        return;
      }
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      // No file yet: the first start.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.options.warn?.('readFailed', { file, detail: quote(String((err as Error).message), DETAIL_MAX) });
      return;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      this.options.warn?.('corrupt', { file });
      return;
    }
    const keys = isObject(data) && data.format === FORMAT && isObject(data.keys) ? data.keys : undefined;
    if (!keys) {
      this.options.warn?.('corrupt', { file });
      return;
    }
    for (const [key, value] of Object.entries(keys).slice(0, MAX_KEYS)) {
      const entry = readEntry(key, value);
      // A connection deployed before the restart attaches again as it starts.
      if (entry) this.keys.set(entry.key, entry);
    }
  }
}

function fresh(key: string, now: Date): KeyUsage {
  return { key, since: now.toISOString(), removed: false, removedAt: null, name: '', senderEmail: '', lastSuccess: null, lastFailure: null, days: [], failures: [] };
}

function copy(entry: KeyUsage): KeyUsage {
  return {
    ...entry,
    days: entry.days.map((d) => ({ ...d, failedByCategory: { ...d.failedByCategory }, ...(d.mailboxes ? { mailboxes: copyMailboxes(d.mailboxes) } : {}) })),
    failures: entry.failures.map((f) => ({ ...f, node: { ...f.node }, params: { ...f.params } })),
  };
}

function copyMailboxes(mailboxes: Record<string, MailboxCounts>): Record<string, MailboxCounts> {
  return Object.fromEntries(Object.entries(mailboxes).map(([address, c]) => [address, { ...c }]));
}

function countMailbox(day: DayCounts, mailbox: string | undefined, field: keyof MailboxCounts): void {
  if (!mailbox) return;
  const address = mailbox.toLowerCase();
  const mailboxes = (day.mailboxes ??= {});
  let counts = mailboxes[address];
  if (!counts) {
    // Bounded by the connection's permitted mailboxes already; the cap only guards the file.
    if (Object.keys(mailboxes).length >= MAX_MAILBOXES || address.length > ADDRESS_MAX) return;
    counts = mailboxes[address] = { sent: 0, failed: 0 };
  }
  counts[field]++;
}

/** A day's mailboxes from the file: at most MAX_MAILBOXES addresses of plausible length. */
function readMailboxes(value: unknown): Record<string, MailboxCounts> | undefined {
  if (!isObject(value)) return undefined;
  const out: Record<string, MailboxCounts> = {};
  for (const [address, c] of Object.entries(value).slice(0, MAX_MAILBOXES)) {
    if (address.length === 0 || address.length > ADDRESS_MAX || !isObject(c)) continue;
    out[address.toLowerCase()] = { sent: count(c.sent), failed: count(c.failed) };
  }
  return Object.keys(out).length ? out : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** An ISO time as written by toISOString, or null. */
function time(value: unknown): string | null {
  if (typeof value !== 'string' || value.length > 40) return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

function text(value: unknown, max = VALUE_MAX): string {
  return typeof value === 'string' ? quote(value, max) : '';
}

function isCategory(value: unknown): value is ErrorCategory {
  return typeof value === 'string' && (CATEGORIES as readonly string[]).includes(value);
}

/** One key's data from the file, each field checked and capped; undefined when it is not one. */
function readEntry(key: string, value: unknown): KeyUsage | undefined {
  if (!isObject(value) || key.length === 0 || key.length > KEY_MAX) return undefined;
  const since = time(value.since);
  if (!since) return undefined;
  const removedAt = time(value.removedAt);
  const days: DayCounts[] = [];
  for (const d of Array.isArray(value.days) ? value.days.slice(-USAGE_DAYS) : []) {
    if (!isObject(d) || typeof d.date !== 'string' || !DATE.test(d.date)) continue;
    const byCategory: Partial<Record<ErrorCategory, number>> = {};
    if (isObject(d.failedByCategory)) {
      for (const c of CATEGORIES) if (count(d.failedByCategory[c])) byCategory[c] = count(d.failedByCategory[c]);
    }
    const mailboxes = readMailboxes(d.mailboxes);
    days.push({ date: d.date, sent: count(d.sent), failed: count(d.failed), failedByCategory: byCategory, throttled: count(d.throttled), retried: count(d.retried), ...(mailboxes ? { mailboxes } : {}) });
  }
  days.sort((a, b) => a.date.localeCompare(b.date));
  const failures: FailureRecord[] = [];
  for (const f of Array.isArray(value.failures) ? value.failures.slice(0, RECENT_FAILURES) : []) {
    const failure = readFailure(f);
    if (failure) failures.push(failure);
  }
  return {
    key,
    since,
    // A key without a time of removal is taken as in use: a connection using it attaches as it starts.
    removed: value.removed === true && removedAt !== null,
    removedAt: value.removed === true ? removedAt : null,
    name: text(value.name),
    senderEmail: text(value.senderEmail),
    lastSuccess: time(value.lastSuccess),
    lastFailure: time(value.lastFailure),
    days,
    failures,
  };
}

function readFailure(f: unknown): FailureRecord | undefined {
  if (!isObject(f) || !isCategory(f.category) || !isObject(f.node)) return undefined;
  const at = time(f.time);
  if (!at || typeof f.code !== 'string' || typeof f.messageKey !== 'string' || typeof f.hintKey !== 'string') return undefined;
  const params: I18nParams = {};
  if (isObject(f.params)) {
    for (const [name, v] of Object.entries(f.params).slice(0, MAX_PARAMS)) {
      if (typeof v === 'string') params[quote(name, 40)] = quote(v, name === 'detail' ? DETAIL_MAX : VALUE_MAX);
      else if (typeof v === 'number' && Number.isFinite(v)) params[quote(name, 40)] = v;
    }
  }
  const ids: { -readonly [K in keyof FailureIds]: FailureIds[K] } = {};
  for (const id of FAILURE_IDS) {
    const v = f[id];
    if (id === 'status' || id === 'aadsts') {
      if (typeof v === 'number' && Number.isSafeInteger(v)) ids[id] = v;
    } else if (typeof v === 'string') {
      ids[id] = text(v, 100);
    }
  }
  const record: FailureRecord = {
    time: at,
    node: { id: text(f.node.id), type: text(f.node.type), name: text(f.node.name) },
    category: f.category,
    code: text(f.code, 100),
    messageKey: text(f.messageKey, 100),
    hintKey: text(f.hintKey, 100),
    noteKey: typeof f.noteKey === 'string' ? text(f.noteKey, 100) : undefined,
    params,
    ...ids,
  };
  return record;
}
