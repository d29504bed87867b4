/**
 * The mail-in node's core: settings, and a watcher that polls Graph's delta query on one folder of
 * one mailbox (https://learn.microsoft.com/graph/delta-query-messages), follows nextLinks, keeps
 * the deltaLink, skips `@removed`, re-syncs after a 410 without emitting again what it emitted,
 * fetches attachments, applies afterRead, and backs off after failures. Every Graph request goes
 * through the runtime's per-app-and-mailbox limiter (the same 4 slots and Retry-After pauses as
 * the email task) on the connection's token and HTTP pool. No Node-RED import.
 */
import { setMaxListeners } from 'node:events';
import { MailError, amend, internalError, validationError } from './errors';
import type { GraphClient, ReadResult } from './graph';
import { unexpectedAnswer, userSegment } from './graph';
import { type Cursor, type CursorStore, remember, wasEmitted } from './mail-in-cursor';
import { MESSAGE_SELECT, refersToInline, toMailInMessage, type GraphMessage, type MailInAttachment, type MailInMessage } from './mail-in-message';
import type { MailboxLimits } from './registry';
import { sleep } from './retry';
import { permittedMailbox } from './settings';
import type { AccessToken, TokenProvider } from './token';
import type { ConnectionSettings } from './types';

export const AFTER_READ = ['none', 'markRead', 'move', 'delete'] as const;
export type AfterRead = (typeof AFTER_READ)[number];
export const ATTACHMENT_MODES = ['none', 'metadata', 'content'] as const;
export type AttachmentMode = (typeof ATTACHMENT_MODES)[number];

export const MIN_POLL_SECONDS = 10;
/** Longest wait between polls after failures (backoff doubles up to this). */
export const MAX_BACKOFF_MS = 15 * 60 * 1000;
/** Per-request timeout. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Delta page size asked for (`Prefer: odata.maxpagesize`). */
const PAGE_SIZE = 50;
/** Folder path segments (Inbox/Orders/2026) and their length. */
const PATH_SEGMENTS_MAX = 10;
const FOLDER_MAX = 1000;
/** Pages followed in one poll (500,000 mails): a bound, not a limit any folder meets. */
const PAGES_PER_POLL = 10_000;
/**
 * A round that brought nothing keeps its new deltaLink in memory and writes it at most this often:
 * the older link on disk still covers everything since (a restart re-reads a little, and the
 * emitted ids skip it), and an idle poll costs no file write (a tenth of its CPU in the benchmark).
 */
const IDLE_SAVE_MS = 10 * 60 * 1000;
/**
 * Within a round of many pages, what was emitted is saved at most this often (each save writes the
 * whole cursor): a crash re-emits at most this long's mails, and a 1,000-mail round writes its
 * cursor a few times instead of once per page of 50 (5% of the burst benchmark's CPU).
 */
const ROUND_SAVE_MS = 1000;
/** Graph's own cap on a mailbox attachment is 150 MB. */
const ATTACHMENT_MB_MAX = 150;

export const MAIL_IN_DEFAULTS = {
  folder: 'Inbox',
  pollInterval: 60,
  onlyUnread: true,
  attachments: 'content' as AttachmentMode,
  maxAttachmentSize: 25,
  afterRead: 'markRead' as AfterRead,
  moveTo: '',
  start: 'new' as 'new' | 'all',
};

export interface MailInSettings {
  mailbox: string;
  folder: string;
  pollIntervalMs: number;
  onlyUnread: boolean;
  attachments: AttachmentMode;
  maxAttachmentBytes: number;
  afterRead: AfterRead;
  moveTo: string;
  start: 'new' | 'all';
}

export interface RawMailInConfig {
  mailbox?: unknown;
  folder?: unknown;
  pollInterval?: unknown;
  onlyUnread?: unknown;
  attachments?: unknown;
  maxAttachmentSize?: unknown;
  afterRead?: unknown;
  moveTo?: unknown;
  start?: unknown;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value.trim() : '';
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], fallback: T): T | undefined {
  const v = text(value);
  if (v === '') return fallback;
  return (allowed as readonly string[]).includes(v) ? (v as T) : undefined;
}

function flag(value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  return value === true || value === 'true';
}

/**
 * The node's settings, or the validation error that refuses the deploy: a mailbox other than the
 * connection's senderEmail and allowedMailboxes, a poll interval under 10 s, an unknown choice.
 */
export function readMailInSettings(config: RawMailInConfig, connection: Pick<ConnectionSettings, 'senderEmail' | 'allowedMailboxes'>): MailInSettings {
  const wanted = text(config.mailbox) || connection.senderEmail;
  const mailbox = permittedMailbox(connection, wanted);
  if (!mailbox) throw validationError('MailboxNotAllowed', 'mailboxNotAllowed', { mailbox: wanted }, 'mailboxNotAllowed');
  const folder = text(config.folder) || MAIL_IN_DEFAULTS.folder;
  if (folder.length > FOLDER_MAX || folder.split('/').length > PATH_SEGMENTS_MAX) throw validationError('InvalidFolder', 'invalidFolder', {}, 'fixSettings');
  const seconds = config.pollInterval === undefined || config.pollInterval === '' ? MAIL_IN_DEFAULTS.pollInterval : Number(config.pollInterval);
  if (!Number.isFinite(seconds) || seconds < MIN_POLL_SECONDS || seconds > 86_400) throw validationError('InvalidPollInterval', 'invalidPollInterval', { min: MIN_POLL_SECONDS }, 'fixSettings');
  const mb = config.maxAttachmentSize === undefined || config.maxAttachmentSize === '' ? MAIL_IN_DEFAULTS.maxAttachmentSize : Number(config.maxAttachmentSize);
  if (!Number.isFinite(mb) || mb < 0 || mb > ATTACHMENT_MB_MAX) throw validationError('InvalidAttachmentSize', 'invalidAttachmentSize', { max: ATTACHMENT_MB_MAX }, 'fixSettings');
  const attachments = oneOf(config.attachments, ATTACHMENT_MODES, MAIL_IN_DEFAULTS.attachments);
  const afterRead = oneOf(config.afterRead, AFTER_READ, MAIL_IN_DEFAULTS.afterRead);
  const start = oneOf(config.start, ['new', 'all'] as const, MAIL_IN_DEFAULTS.start);
  if (!attachments || !afterRead || !start) throw validationError('InvalidChoice', 'invalidChoice', {}, 'fixSettings');
  const moveTo = text(config.moveTo);
  if (afterRead === 'move' && (moveTo === '' || moveTo.length > FOLDER_MAX)) throw validationError('MoveToMissing', 'moveToMissing', {}, 'fixSettings');
  return {
    mailbox,
    folder,
    pollIntervalMs: Math.round(seconds * 1000),
    onlyUnread: flag(config.onlyUnread, MAIL_IN_DEFAULTS.onlyUnread),
    attachments,
    maxAttachmentBytes: Math.round(mb * 1024 * 1024),
    afterRead,
    moveTo,
    start,
  };
}

/** What the watcher needs from the connection: Graph, tokens, the mailbox's shared limits. */
export interface MailInDeps {
  graph: GraphClient;
  tokens: TokenProvider;
  limits: MailboxLimits;
  cursors: CursorStore;
}

/** What a poll tells the node. */
export type MailInEvent =
  | { kind: 'watching' }
  | { kind: 'emitted'; count: number }
  | { kind: 'throttled'; ms: number }
  | { kind: 'failed'; error: MailError; retryInMs: number }
  /** The mail was emitted, but afterRead failed for it. */
  | { kind: 'afterReadFailed'; error: MailError };

export interface MailInHandlers {
  emit(message: MailInMessage): void;
  event(event: MailInEvent): void;
}

/** Outcome of one poll, for the node's tests and status. */
export interface PollOutcome {
  emitted: number;
  error?: MailError;
}

/** Graph answers a stale or unknown delta token with 410 (SyncStateNotFound, or others in the 410 family). */
function isGone(err: unknown): boolean {
  return err instanceof MailError && err.status === 410;
}

const IMMUTABLE_IDS = 'IdType="ImmutableId"';

export class MailInWatcher {
  private readonly stopping = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PollOutcome> | undefined;
  private cursor: Cursor | undefined;
  private folderPath: string | undefined;
  private moveToId: string | undefined;
  private failures = 0;
  private savedAt = 0;

  constructor(
    private readonly settings: MailInSettings,
    private readonly deps: MailInDeps,
    private readonly handlers: MailInHandlers,
  ) {
    setMaxListeners(0, this.stopping.signal);
  }

  /** Polls now, then every pollInterval (longer after failures). */
  start(): void {
    void this.pollNow();
  }

  /**
   * One poll, after the one running (if any): what tests and the first deploy wait on. The timer
   * is set again from its end.
   */
  pollNow(): Promise<PollOutcome> {
    const previous = this.running ?? Promise.resolve(undefined);
    const next = previous.then(() => this.pollOnce());
    this.running = next;
    void next.finally(() => {
      if (this.running === next) this.running = undefined;
    });
    return next;
  }

  /** Stops the timer and waits for a poll in flight (its requests are cancelled while they wait for a slot). */
  async close(): Promise<void> {
    this.stopping.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  private schedule(ms: number): void {
    if (this.stopping.signal.aborted) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.pollNow();
    }, ms);
  }

  /**
   * The next regular poll, on the wall clock's grid of the interval (every node with a 10 s
   * interval polls at :00, :10, :20...), at least half an interval after this one: the polls of
   * many nodes then share one wake-up of the process and go out together over the shared pool,
   * which costs about half the CPU of the same polls spread over the interval (bench:mailin).
   */
  private scheduleNext(): void {
    const interval = this.settings.pollIntervalMs;
    const now = Date.now();
    let next = Math.ceil(now / interval) * interval;
    if (next - now < interval / 2) next += interval;
    this.schedule(next - now);
  }

  private async pollOnce(): Promise<PollOutcome> {
    if (this.stopping.signal.aborted) return { emitted: 0 };
    let outcome: PollOutcome;
    try {
      const emitted = await this.poll();
      this.failures = 0;
      outcome = { emitted };
      this.handlers.event(emitted > 0 ? { kind: 'emitted', count: emitted } : { kind: 'watching' });
      this.scheduleNext();
    } catch (err) {
      // A redeploy ended the poll (or the connection's requests): nothing to report.
      if (this.stopping.signal.aborted || (err instanceof MailError && (err.category === 'cancelled' || err.code === 'ERR_CANCELED'))) {
        this.scheduleNext();
        return { emitted: 0 };
      }
      const error = forReading(err instanceof MailError ? err : internalError());
      // A folder deleted or renamed since: look the names up again next time.
      if (error.status === 404) this.folderPath = this.moveToId = undefined;
      this.failures++;
      const backoff = Math.min(MAX_BACKOFF_MS, this.settings.pollIntervalMs * 2 ** Math.min(this.failures - 1, 10));
      const retryInMs = Math.max(backoff, (error.retryAfterSeconds ?? 0) * 1000);
      outcome = { emitted: 0, error };
      this.handlers.event({ kind: 'failed', error, retryInMs });
      this.schedule(retryInMs);
    }
    return outcome;
  }

  /**
   * One poll: a delta round, each new mail emitted once. `resync`: a full round after a 410, in
   * which what was emitted (or was there at a `start: new` deploy) is skipped by id and floor.
   */
  private async poll(resync = false): Promise<number> {
    const cursor = (this.cursor ??= await this.deps.cursors.load());
    const folder = await this.folderSegment();
    // A link to another host (the connection now points at another cloud) is not followed: a full round instead.
    const fresh = resync || cursor.deltaLink === undefined || !this.deps.graph.isOwnLink(cursor.deltaLink);
    // start: new: the first round ever is the baseline: what is there now is never emitted.
    const baseline = cursor.deltaLink === undefined && this.settings.start === 'new';
    let link = fresh ? `users/${userSegment(this.settings.mailbox)}/mailFolders/${folder}/messages/delta?$select=${MESSAGE_SELECT.join(',')}` : (cursor.deltaLink as string);
    let emitted = 0;
    let emittedSaved = 0;
    let seen = 0;
    let maxReceived: string | undefined;
    let boundary: string[] = [];
    for (let page = 0; page < PAGES_PER_POLL; page++) {
      let answer: ReadResult;
      try {
        answer = await this.call({ method: 'GET', url: link, headers: { Prefer: `odata.maxpagesize=${PAGE_SIZE}, ${IMMUTABLE_IDS}` } });
      } catch (err) {
        // The sync state is gone (expired, or Exchange lost it): a full round again; the cursor
        // on disk keeps its deltaLink until that round completes, so a restart meanwhile loses nothing.
        if (isGone(err) && !fresh) return this.poll(true);
        throw err;
      }
      const data = (answer.data ?? {}) as { value?: unknown; '@odata.nextLink'?: unknown; '@odata.deltaLink'?: unknown };
      const items = Array.isArray(data.value) ? (data.value as GraphMessage[]) : [];
      seen += items.length;
      for (const item of items) {
        if (this.stopping.signal.aborted) throw cancelled();
        if (typeof item?.id !== 'string' || item['@removed'] !== undefined) continue;
        const received = normalSeconds(item.receivedDateTime);
        if (baseline) {
          if (maxReceived === undefined || received > maxReceived) {
            maxReceived = received;
            boundary = [item.id];
          } else if (received === maxReceived) boundary.push(item.id);
          continue;
        }
        if (cursor.floor && received < cursor.floor) continue;
        if (wasEmitted(cursor, item.id)) continue;
        if (this.settings.onlyUnread && item.isRead === true) continue;
        await this.emitOne(item, cursor, received);
        emitted++;
      }
      if (emitted > emittedSaved && Date.now() - this.savedAt >= ROUND_SAVE_MS) {
        await this.save(cursor);
        emittedSaved = emitted;
      }
      const next = data['@odata.nextLink'];
      const delta = data['@odata.deltaLink'];
      if (typeof next === 'string') {
        link = next;
        continue;
      }
      if (typeof delta !== 'string') throw unexpectedAnswer(answer);
      cursor.deltaLink = delta;
      if (baseline && maxReceived !== undefined) {
        // Mail of the baseline's newest second is told apart by id; anything older by time.
        cursor.floor = maxReceived;
        for (const id of boundary) remember(cursor, { id, received: maxReceived });
      }
      if (seen > 0 || fresh || Date.now() - this.savedAt >= IDLE_SAVE_MS) await this.save(cursor);
      return emitted;
    }
    // A very long round: the next poll starts it again; what was emitted is skipped.
    return emitted;
  }

  private async save(cursor: Cursor): Promise<void> {
    await this.deps.cursors.save(cursor);
    this.savedAt = Date.now();
  }

  private async emitOne(item: GraphMessage, cursor: Cursor, received: string): Promise<void> {
    const attachments = await this.attachmentsOf(item);
    const message = toMailInMessage(item, attachments, { mailbox: this.settings.mailbox, folder: this.settings.folder });
    remember(cursor, { id: item.id, received });
    this.handlers.emit(message);
    try {
      await this.afterRead(item.id);
    } catch (err) {
      if (this.stopping.signal.aborted) throw err;
      this.handlers.event({ kind: 'afterReadFailed', error: forReading(err instanceof MailError ? err : internalError()) });
    }
  }

  private async afterRead(id: string): Promise<void> {
    const url = `users/${userSegment(this.settings.mailbox)}/messages/${encodeURIComponent(id)}`;
    const headers = { Prefer: IMMUTABLE_IDS };
    switch (this.settings.afterRead) {
      case 'none':
        return;
      case 'markRead':
        // https://learn.microsoft.com/graph/api/message-update
        await this.call({ method: 'PATCH', url, body: { isRead: true }, headers });
        return;
      case 'move':
        // https://learn.microsoft.com/graph/api/message-move
        await this.call({ method: 'POST', url: `${url}/move`, body: { destinationId: await this.moveTarget() }, headers });
        return;
      case 'delete':
        // To Deleted Items, where a person can still find it (DELETE would put it out of sight in Recoverable Items).
        await this.call({ method: 'POST', url: `${url}/move`, body: { destinationId: 'deleteditems' }, headers });
        return;
    }
  }

  /** Attachments as the setting asks: none, metadata, or content up to maxAttachmentSize per mail. */
  private async attachmentsOf(item: GraphMessage): Promise<MailInAttachment[]> {
    const mode = this.settings.attachments;
    if (mode === 'none' || (item.hasAttachments !== true && !refersToInline(item))) return [];
    const base = `users/${userSegment(this.settings.mailbox)}/messages/${encodeURIComponent(item.id)}/attachments`;
    // https://learn.microsoft.com/graph/api/message-list-attachments : metadata only, the bytes come by $value.
    // contentId is a fileAttachment property: selected through its type cast.
    const list = await this.call({ method: 'GET', url: `${base}?$select=id,name,contentType,size,isInline,microsoft.graph.fileAttachment/contentId`, headers: { Prefer: IMMUTABLE_IDS } });
    const values = Array.isArray((list.data as { value?: unknown })?.value) ? ((list.data as { value: Record<string, unknown>[] }).value) : [];
    let budget = this.settings.maxAttachmentBytes;
    const out: MailInAttachment[] = [];
    for (const a of values.slice(0, 500)) {
      const id = typeof a.id === 'string' ? a.id : '';
      const size = typeof a.size === 'number' && a.size >= 0 ? a.size : 0;
      const isFile = a['@odata.type'] === undefined || a['@odata.type'] === '#microsoft.graph.fileAttachment';
      const attachment: MailInAttachment = {
        filename: typeof a.name === 'string' ? a.name : 'attachment',
        contentType: typeof a.contentType === 'string' && a.contentType ? a.contentType : 'application/octet-stream',
        size,
        id,
        inline: a.isInline === true,
        ...(typeof a.contentId === 'string' && a.contentId ? { cid: a.contentId.replace(/^<|>$/g, '') } : {}),
      };
      if (!isFile) attachment.note = 'notAFile';
      else if (mode === 'content' && id) {
        // Graph's size counts the attachment item, a little more than the file: a fair upper bound.
        const bytes = size <= budget ? await this.attachmentBytes(`${base}/${encodeURIComponent(id)}/$value`, budget) : undefined;
        if (bytes) {
          attachment.content = bytes;
          attachment.size = bytes.length;
          budget -= bytes.length;
        } else attachment.note = 'tooLarge';
      }
      out.push(attachment);
    }
    return out;
  }

  /** An attachment's bytes (`$value`), or undefined when it is over the budget after all. */
  private async attachmentBytes(url: string, budget: number): Promise<Buffer | undefined> {
    try {
      const answer = await this.call({ method: 'GET', url, maxBytes: budget, headers: { Prefer: IMMUTABLE_IDS } });
      return Buffer.isBuffer(answer.data) ? answer.data : Buffer.from(answer.data as ArrayBuffer);
    } catch (err) {
      // axios' maxContentLength refusal: the file is larger than Graph's size said.
      if (err instanceof MailError && err.code === 'ERR_BAD_RESPONSE') return undefined;
      throw err;
    }
  }

  /** The folder's URL segment: a well-known name or id as it is, a path resolved (once) to its id. */
  private async folderSegment(): Promise<string> {
    if (this.folderPath === undefined) this.folderPath = encodeURIComponent(await this.resolveFolder(this.settings.folder));
    return this.folderPath;
  }

  private async moveTarget(): Promise<string> {
    if (this.moveToId === undefined) this.moveToId = await this.resolveFolder(this.settings.moveTo);
    return this.moveToId;
  }

  /**
   * A folder given as a well-known name (`inbox`), an id, or a path of display names
   * (`Inbox/Orders`, first segment well-known or top-level): its id, found with
   * https://learn.microsoft.com/graph/api/mailfolder-get and
   * https://learn.microsoft.com/graph/api/mailfolder-list-childfolders (`$filter=displayName eq '…'`).
   */
  private async resolveFolder(spec: string): Promise<string> {
    const segments = spec.split('/').map((s) => s.trim()).filter(Boolean);
    const user = `users/${userSegment(this.settings.mailbox)}`;
    let id: string | undefined;
    for (const [i, name] of segments.entries()) {
      if (i === 0) {
        id = await this.folderById(`${user}/mailFolders/${encodeURIComponent(name)}`);
        if (id === undefined) id = await this.childByName(`${user}/mailFolders`, name);
      } else {
        id = await this.childByName(`${user}/mailFolders/${encodeURIComponent(id as string)}/childFolders`, name);
      }
      if (id === undefined) throw folderNotFound(spec);
    }
    if (id === undefined) throw folderNotFound(spec);
    return id;
  }

  private async folderById(url: string): Promise<string | undefined> {
    try {
      const answer = await this.call({ method: 'GET', url: `${url}?$select=id,displayName`, headers: { Prefer: IMMUTABLE_IDS } });
      const id = (answer.data as { id?: unknown })?.id;
      return typeof id === 'string' ? id : undefined;
    } catch (err) {
      if (err instanceof MailError && err.status === 404 && err.graphCode !== 'MailboxNotEnabledForRESTAPI' && err.graphCode !== 'ErrorInvalidUser') return undefined;
      // A bad request for a name that is no id (Graph's ErrorInvalidIdMalformed) means "look it up by name".
      if (err instanceof MailError && err.status === 400) return undefined;
      throw err;
    }
  }

  private async childByName(url: string, name: string): Promise<string | undefined> {
    const filter = `displayName eq '${name.replace(/'/g, "''")}'`;
    const answer = await this.call({ method: 'GET', url: `${url}?$filter=${encodeURIComponent(filter)}&$select=id,displayName`, headers: { Prefer: IMMUTABLE_IDS } });
    const values = (answer.data as { value?: unknown })?.value;
    const found = Array.isArray(values) ? (values as Array<{ id?: unknown }>).find((f) => typeof f.id === 'string') : undefined;
    return found?.id as string | undefined;
  }

  /**
   * One Graph request through the mailbox's shared limiter (not paced: reading is not sending),
   * after any Retry-After pause of the mailbox. A 429 pauses every user of the mailbox; a
   * permission refusal drops the token so a consent granted since is in the next one; a revoked
   * token is renewed once.
   */
  private async call(request: Omit<Parameters<GraphClient['read']>[0], 'token' | 'timeoutMs' | 'signal'>): Promise<ReadResult> {
    const { limits, tokens, graph } = this.deps;
    const signal = this.stopping.signal;
    const pause = limits.pausedUntil - Date.now();
    if (pause > 0) {
      this.handlers.event({ kind: 'throttled', ms: pause });
      await sleep(pause, [signal], cancelled);
    }
    return limits.limiter.run(
      async () => {
        let token: AccessToken = await tokens.getToken();
        try {
          return await graph.read({ ...request, token: token.token, timeoutMs: REQUEST_TIMEOUT_MS, signal });
        } catch (err) {
          if (err instanceof MailError && err.status === 401 && err.graphCode === 'InvalidAuthenticationToken') {
            token = await tokens.refresh(token);
            return graph.read({ ...request, token: token.token, timeoutMs: REQUEST_TIMEOUT_MS, signal });
          }
          if (err instanceof MailError && err.status === 429 && err.retryAfterSeconds !== undefined) limits.pause(Date.now() + err.retryAfterSeconds * 1000);
          if (err instanceof MailError && err.category === 'permission') tokens.invalidate(token);
          throw err;
        }
      },
      [signal],
      cancelled,
      false,
    );
  }
}

/** The send side's hints (Mail.Send, the sender mailbox) would mislead here: reading has its own. */
const READ_HINTS: Readonly<Record<string, string>> = {
  accessDenied: 'readAccessDenied',
  noRoles: 'readAccessDenied',
  senderNotFound: 'readMailboxNotFound',
  mailboxNotEnabled: 'readMailboxNotFound',
};

/** A Graph refusal of a read, worded for reading. */
export function forReading(error: MailError): MailError {
  if (error.messageKey !== 'graphRefused') return error;
  return amend(error, { messageKey: 'graphRefusedRead', hintKey: READ_HINTS[error.hintKey] ?? error.hintKey });
}

/** `2026-12-01T07:30:05Z` for any date Graph gives (empty when none). */
function normalSeconds(value: unknown): string {
  const t = typeof value === 'string' ? Date.parse(value.slice(0, 64)) : NaN;
  return Number.isNaN(t) ? '' : `${new Date(t).toISOString().slice(0, 19)}Z`;
}

function cancelled(): MailError {
  return new MailError({ category: 'cancelled', code: 'Cancelled', messageKey: 'cancelled', hintKey: 'cancelled' });
}

function folderNotFound(folder: string): MailError {
  return new MailError({ category: 'mailbox', code: 'FolderNotFound', messageKey: 'folderNotFound', hintKey: 'folderNotFound', params: { folder } });
}
