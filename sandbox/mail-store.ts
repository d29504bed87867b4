/**
 * Mailboxes' folders and messages, and the delta sync states over them: what the read routes
 * (graph-read.ts) serve and what mail sent through the sandbox lands in. Plain data, no HTTP.
 *
 * Ids: every message has an `id` that changes when it moves (Exchange's default ids) and an
 * `immutableId` that does not; a client sees the latter only with `Prefer: IdType="ImmutableId"`
 * (https://learn.microsoft.com/graph/outlook-immutable-id). Both find the message.
 */
import { randomBytes } from 'node:crypto';

export interface Recipient {
  emailAddress: { name?: string; address: string };
}

export interface StoredAttachment {
  id: string;
  name: string;
  contentType: string;
  bytes: Buffer;
  isInline: boolean;
  contentId?: string;
  lastModifiedDateTime: string;
}

export interface StoredMessage {
  id: string;
  immutableId: string;
  folderId: string;
  /** Bumped on every change: what the delta query compares. */
  version: number;
  changeKey: string;
  createdDateTime: string;
  lastModifiedDateTime: string;
  receivedDateTime: string;
  sentDateTime: string;
  internetMessageId: string;
  conversationId: string;
  conversationIndex: string;
  subject: string;
  body: { contentType: 'text' | 'html'; content: string };
  importance: string;
  isRead: boolean;
  isDraft: boolean;
  from?: Recipient;
  sender?: Recipient;
  toRecipients: Recipient[];
  ccRecipients: Recipient[];
  bccRecipients: Recipient[];
  replyTo: Recipient[];
  flag: { flagStatus: string };
  categories: string[];
  internetMessageHeaders: { name: string; value: string }[];
  attachments: StoredAttachment[];
}

export interface StoredFolder {
  id: string;
  displayName: string;
  parentFolderId: string;
  /** Graph's well-known name, for the folders every mailbox has. */
  wellKnownName?: string;
  /** Not listed under msgfolderroot (Recoverable Items). */
  hidden?: boolean;
}

/** What a delta token remembers: the folder's messages as the client last saw them. */
interface SyncState {
  folderId: string;
  /** The initial request's $select, kept for every later page and round (Graph encodes it in the tokens). */
  select?: string[];
  /** immutableId → version and the id the client was given. */
  seen: Map<string, { version: number; id: string }>;
}

/** A delta round being paged: the changes not yet handed out and the state its deltaLink will hold. */
interface PendingRound {
  folderId: string;
  items: DeltaItem[];
  next: SyncState;
}

export type DeltaItem = { kind: 'message'; message: StoredMessage } | { kind: 'removed'; id: string; immutableId: string };

interface MailboxStore {
  address: string;
  folders: StoredFolder[];
  messages: Map<string, StoredMessage>;
  syncStates: Map<string, SyncState>;
  pending: Map<string, PendingRound>;
}

/**
 * Well-known folders every mailbox has (https://learn.microsoft.com/graph/api/resources/mailfolder
 * lists the names). `recoverableitemsdeletions` is where DELETE puts a message (soft delete); it
 * is not a child of the top of the information store, so listing folders does not show it.
 */
const WELL_KNOWN: { name: string; displayName: string; hidden?: boolean }[] = [
  { name: 'inbox', displayName: 'Inbox' },
  { name: 'drafts', displayName: 'Drafts' },
  { name: 'sentitems', displayName: 'Sent Items' },
  { name: 'deleteditems', displayName: 'Deleted Items' },
  { name: 'archive', displayName: 'Archive' },
  { name: 'junkemail', displayName: 'Junk Email' },
  { name: 'outbox', displayName: 'Outbox' },
  { name: 'recoverableitemsdeletions', displayName: 'Deletions', hidden: true },
];

/** Exchange-looking ids: long base64url strings; message ids start with AAMk, folder ids with AQMk. */
export function exchangeId(prefix: 'AAMk' | 'AQMk' | 'AAkA' | 'AAMkAtt'): string {
  return `${prefix}AGI2${randomBytes(60).toString('base64url')}AAA=`;
}

/** Graph's receivedDateTime has second precision: `2026-12-01T07:30:05Z`. */
export function graphSeconds(date: Date = new Date()): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/** Delta tokens (and rounds being paged) kept per mailbox, so long polling runs stay bounded in memory. */
const MAX_SYNC_STATES = 2000;

export class MailStore {
  private readonly mailboxes = new Map<string, MailboxStore>();
  private version = 0;

  /** The store of a mailbox (its address), made with the well-known folders on first use. */
  mailbox(address: string): MailboxStore {
    const key = address.toLowerCase();
    let box = this.mailboxes.get(key);
    if (!box) {
      const root: StoredFolder = { id: exchangeId('AQMk'), displayName: 'Top of Information Store', parentFolderId: exchangeId('AQMk'), wellKnownName: 'msgfolderroot' };
      const folders = [root, ...WELL_KNOWN.map((w) => ({ id: exchangeId('AQMk'), displayName: w.displayName, parentFolderId: root.id, wellKnownName: w.name, hidden: w.hidden }))];
      box = { address, folders, messages: new Map(), syncStates: new Map(), pending: new Map() };
      this.mailboxes.set(key, box);
    }
    return box;
  }

  reset(): void {
    this.mailboxes.clear();
  }

  /** A folder by id or well-known name (case-insensitive, as Graph resolves them). */
  folder(address: string, key: string): StoredFolder | undefined {
    const box = this.mailbox(address);
    const lower = key.toLowerCase();
    return box.folders.find((f) => f.id === key || f.wellKnownName === lower);
  }

  /** Direct children of a folder, in creation order; msgfolderroot's hide Recoverable Items. */
  children(address: string, folderId: string): StoredFolder[] {
    return this.mailbox(address).folders.filter((f) => f.parentFolderId === folderId && !f.hidden && f.wellKnownName !== 'msgfolderroot');
  }

  /** Creates a child folder; undefined when a sibling already has the name (Graph: 409 ErrorFolderExists). */
  createFolder(address: string, parentId: string, displayName: string): StoredFolder | undefined {
    const box = this.mailbox(address);
    if (box.folders.some((f) => f.parentFolderId === parentId && f.displayName.toLowerCase() === displayName.toLowerCase())) return undefined;
    const folder: StoredFolder = { id: exchangeId('AQMk'), displayName, parentFolderId: parentId };
    box.folders.push(folder);
    return folder;
  }

  /** Messages of a folder, newest received first (Graph's default order for folder listings). */
  messagesIn(address: string, folderId: string): StoredMessage[] {
    return [...this.mailbox(address).messages.values()]
      .filter((m) => m.folderId === folderId)
      .sort((a, b) => b.receivedDateTime.localeCompare(a.receivedDateTime) || b.version - a.version);
  }

  /** A message by its current id or its immutable id. */
  message(address: string, id: string): StoredMessage | undefined {
    const box = this.mailbox(address);
    const direct = box.messages.get(id);
    if (direct) return direct;
    for (const m of box.messages.values()) if (m.id === id) return m;
    return undefined;
  }

  /**
   * Adds a message (keyed by its immutable id) to a folder. `immutableId`: the id the item already
   * has (a draft sent into Sent Items keeps it: https://learn.microsoft.com/graph/outlook-immutable-id).
   */
  add(address: string, message: Omit<StoredMessage, 'id' | 'immutableId' | 'version' | 'changeKey'>, immutableId?: string): StoredMessage {
    const stored: StoredMessage = { ...message, id: exchangeId('AAMk'), immutableId: immutableId ?? exchangeId('AAkA'), version: ++this.version, changeKey: randomBytes(12).toString('base64') };
    this.mailbox(address).messages.set(stored.immutableId, stored);
    return stored;
  }

  /** Marks a change: the next delta round returns the message again. */
  touch(message: StoredMessage): void {
    message.version = ++this.version;
    message.changeKey = randomBytes(12).toString('base64');
    message.lastModifiedDateTime = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  }

  /** Moves a message: a new (mutable) id, the same immutable id. */
  move(message: StoredMessage, folderId: string): StoredMessage {
    message.folderId = folderId;
    message.id = exchangeId('AAMk');
    this.touch(message);
    return message;
  }

  /** Copies a message into a folder: a new item with new ids of both kinds. */
  copy(address: string, message: StoredMessage, folderId: string): StoredMessage {
    const { id: _id, immutableId: _immutable, version: _version, changeKey: _changeKey, ...rest } = message;
    void _id;
    void _immutable;
    void _version;
    void _changeKey;
    return this.add(address, { ...rest, folderId, attachments: rest.attachments.map((a) => ({ ...a, id: exchangeId('AAMkAtt') })) });
  }

  /** Forgets every delta and skip token of a mailbox: their next use answers 410. */
  expireDeltaTokens(address: string): number {
    const box = this.mailbox(address);
    const n = box.syncStates.size + box.pending.size;
    box.syncStates.clear();
    box.pending.clear();
    return n;
  }

  /**
   * Starts a delta round on a folder: from nothing (every message is new) or from a delta token.
   * Returns the changes to page out, or undefined for a token the mailbox does not know.
   */
  startRound(address: string, folderId: string, deltaToken: string | undefined, idOf: (m: StoredMessage) => string, select?: string[]): string | undefined {
    const box = this.mailbox(address);
    let seen = new Map<string, { version: number; id: string }>();
    if (deltaToken !== undefined) {
      const state = box.syncStates.get(deltaToken);
      if (!state || state.folderId !== folderId) return undefined;
      seen = state.seen;
      select = state.select;
    }
    const now = this.messagesIn(address, folderId);
    const items: DeltaItem[] = [];
    const next = new Map<string, { version: number; id: string }>();
    // Oldest first, so a client that emits as it pages keeps arrival order.
    for (const m of [...now].reverse()) {
      next.set(m.immutableId, { version: m.version, id: idOf(m) });
      const before = seen.get(m.immutableId);
      if (!before || before.version !== m.version) items.push({ kind: 'message', message: m });
    }
    for (const [immutableId, before] of seen) {
      if (!next.has(immutableId)) items.push({ kind: 'removed', id: before.id, immutableId });
    }
    const skipToken = randomBytes(24).toString('base64url');
    box.pending.set(skipToken, { folderId, items, next: { folderId, seen: next, select } });
    if (box.pending.size > MAX_SYNC_STATES) box.pending.delete(box.pending.keys().next().value as string);
    return skipToken;
  }

  /**
   * One page of a round. `next` is the skip token of the following page, or `deltaToken` on the
   * last page; undefined when the skip token is unknown (expired).
   */
  page(address: string, folderId: string, skipToken: string, size: number): { items: DeltaItem[]; select?: string[]; next?: string; deltaToken?: string } | undefined {
    const box = this.mailbox(address);
    const round = box.pending.get(skipToken);
    if (!round || round.folderId !== folderId) return undefined;
    box.pending.delete(skipToken);
    const items = round.items.slice(0, size);
    const rest = round.items.slice(size);
    if (rest.length > 0) {
      const next = randomBytes(24).toString('base64url');
      box.pending.set(next, { ...round, items: rest });
      return { items, select: round.next.select, next };
    }
    const deltaToken = randomBytes(24).toString('base64url');
    box.syncStates.set(deltaToken, round.next);
    // Exchange does not keep sync states for ever either: the oldest go first (their use is a 410).
    if (box.syncStates.size > MAX_SYNC_STATES) box.syncStates.delete(box.syncStates.keys().next().value as string);
    return { items, select: round.next.select, deltaToken };
  }

  /** Folders of a mailbox with their message counts (for the control surface). */
  summary(address: string): { id: string; displayName: string; wellKnownName?: string; parentFolderId: string; totalItemCount: number; unreadItemCount: number }[] {
    const box = this.mailbox(address);
    return box.folders.map((f) => {
      const msgs = [...box.messages.values()].filter((m) => m.folderId === f.id);
      return {
        id: f.id,
        displayName: f.displayName,
        wellKnownName: f.wellKnownName,
        parentFolderId: f.parentFolderId,
        totalItemCount: msgs.length,
        unreadItemCount: msgs.filter((m) => !m.isRead).length,
      };
    });
  }

  /** Mailboxes that have a store (for the sandbox page). */
  addresses(): string[] {
    return [...this.mailboxes.values()].map((b) => b.address);
  }
}
