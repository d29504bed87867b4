/**
 * The mail-in node's cursor: Graph's deltaLink and what is needed never to emit a mail twice,
 * one JSON file per (connection key, mailbox, folder) under Node-RED's user directory, written
 * atomically (a temporary file renamed over the old one), so a crash leaves the old or the new.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** Ids of emitted mails remembered: enough for any poll, bounded for a busy mailbox. */
export const EMITTED_MAX = 5000;
/** A cursor file larger than this is not one of ours: it is ignored (and replaced). */
const FILE_MAX = 4 * 1024 * 1024;
const FORMAT = 1;

export interface EmittedMail {
  id: string;
  /** receivedDateTime, so the oldest are forgotten first. */
  received: string;
}

export interface Cursor {
  /** Graph's `@odata.deltaLink` of the last complete round; absent before the first. */
  deltaLink?: string;
  /** Mail received before this (ISO seconds) is never emitted: what was there at a `start: new` deploy, and what the capped list forgot. */
  floor?: string;
  /** Emitted mails (immutable ids), newest last. */
  emitted: EmittedMail[];
}

export interface CursorKey {
  connectionKey: string;
  mailbox: string;
  folder: string;
}

/** The folder (under the user directory) the cursor files live in. */
export const CURSOR_DIR = 'office365-mail-in';

/** The cursor file of a key: a hash of it, so no address or folder name reaches the file system. */
export function cursorFile(userDir: string, key: CursorKey): string {
  const hash = createHash('sha256')
    .update(JSON.stringify([key.connectionKey, key.mailbox.toLowerCase(), key.folder.toLowerCase()]))
    .digest('hex')
    .slice(0, 40);
  return path.join(userDir, CURSOR_DIR, `${hash}.json`);
}

/** Reads and writes one cursor. */
export class CursorStore {
  private readonly file: string;
  /** The folder is made once: a poll's save is then one write and one rename. */
  private dirMade = false;

  constructor(
    userDir: string,
    private readonly key: CursorKey,
  ) {
    this.file = cursorFile(userDir, key);
  }

  /** The saved cursor, or a fresh one when there is none (or it is not readable as ours). */
  async load(): Promise<Cursor> {
    let text: string;
    try {
      const stat = await fs.stat(this.file);
      if (stat.size > FILE_MAX) return { emitted: [] };
      text = await fs.readFile(this.file, 'utf8');
    } catch {
      return { emitted: [] };
    }
    try {
      return parseCursor(JSON.parse(text) as unknown, this.key);
    } catch {
      return { emitted: [] };
    }
  }

  async save(cursor: Cursor): Promise<void> {
    const body = JSON.stringify({ format: FORMAT, ...this.key, ...cursor });
    if (!this.dirMade) {
      await fs.mkdir(path.dirname(this.file), { recursive: true });
      this.dirMade = true;
    }
    const temp = `${this.file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await fs.writeFile(temp, body, { mode: 0o600 });
      await fs.rename(temp, this.file);
    } catch (err) {
      await fs.rm(temp, { force: true });
      throw err;
    }
  }
}

/** A stored cursor, checked field by field; another key's file (a hash collision) counts as none. */
export function parseCursor(value: unknown, key: CursorKey): Cursor {
  if (typeof value !== 'object' || value === null) return { emitted: [] };
  const v = value as Record<string, unknown>;
  if (v.format !== FORMAT || v.connectionKey !== key.connectionKey || String(v.mailbox).toLowerCase() !== key.mailbox.toLowerCase() || String(v.folder).toLowerCase() !== key.folder.toLowerCase()) {
    return { emitted: [] };
  }
  const emitted = Array.isArray(v.emitted)
    ? v.emitted
        .slice(-EMITTED_MAX)
        .filter((e): e is EmittedMail => typeof e === 'object' && e !== null && typeof (e as EmittedMail).id === 'string' && typeof (e as EmittedMail).received === 'string')
        .map((e) => ({ id: e.id, received: e.received }))
        .sort(byReceived)
    : [];
  return {
    ...(typeof v.deltaLink === 'string' ? { deltaLink: v.deltaLink } : {}),
    ...(typeof v.floor === 'string' ? { floor: v.floor } : {}),
    emitted,
  };
}

/** The ids of a cursor's emitted mails, for a lookup per mail that does not walk the list. */
const idsOf = new WeakMap<Cursor, Set<string>>();

function ids(cursor: Cursor): Set<string> {
  let set = idsOf.get(cursor);
  if (!set) {
    set = new Set(cursor.emitted.map((e) => e.id));
    idsOf.set(cursor, set);
  }
  return set;
}

/** Whether the cursor remembers this mail as emitted. */
export function wasEmitted(cursor: Cursor, id: string): boolean {
  return ids(cursor).has(id);
}

const byReceived = (a: EmittedMail, b: EmittedMail): number => a.received.localeCompare(b.received);

/**
 * Remembers an emitted mail, keeping the list ordered by receipt (mail mostly comes in that order,
 * so this is a push). Past EMITTED_MAX the oldest received are forgotten, and the floor rises past
 * them, so a re-sync (410) cannot bring them back.
 */
export function remember(cursor: Cursor, mail: EmittedMail): void {
  const list = cursor.emitted;
  let at = list.length;
  while (at > 0 && byReceived(list[at - 1], mail) > 0) at--;
  list.splice(at, 0, mail);
  ids(cursor).add(mail.id);
  if (list.length <= EMITTED_MAX) return;
  const dropped = list.splice(0, list.length - EMITTED_MAX);
  for (const e of dropped) ids(cursor).delete(e.id);
  const newest = dropped[dropped.length - 1].received;
  // Everything up to the forgotten one's second is old from now on.
  if (!cursor.floor || newest >= cursor.floor) cursor.floor = secondAfter(newest);
}

/** `2026-12-01T07:30:05Z` → `2026-12-01T07:30:06Z` (Graph's receivedDateTime has whole seconds). */
export function secondAfter(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : `${new Date(t + 1000).toISOString().slice(0, 19)}Z`;
}
