/**
 * Graph's mail-reading routes on the sandbox's MailStore: mail folders, messages, the delta query,
 * attachments, isRead / move / copy / delete, and reply / replyAll / forward (sent or as drafts).
 * Each handler cites the v1.0 API reference page it follows. Authentication, roles, RBAC scope
 * and MailboxConcurrency are checked by GraphMail.handle before these run.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Directory, ResolvedMailbox } from './directory';
import { graphError, header, jsonReply } from './http';
import type { Reply, RequestContext } from './http';
import type { AccessTokenClaims } from './jwt';
import { exchangeId, graphSeconds } from './mail-store';
import type { DeltaItem, MailStore, Recipient, StoredAttachment, StoredFolder, StoredMessage } from './mail-store';
import type { GraphSchema } from './schema';
import type { SentMail } from './state';

export type ReadOp =
  | { op: 'folders' }
  | { op: 'folder'; folder: string }
  | { op: 'childFolders'; folder: string }
  | { op: 'folderMessages'; folder: string }
  | { op: 'delta'; folder: string }
  | { op: 'message'; id: string }
  | { op: 'move' | 'copy'; id: string }
  | { op: 'reply' | 'replyAll' | 'forward' | 'createReply' | 'createReplyAll' | 'createForward'; id: string }
  | { op: 'attachments'; id: string }
  | { op: 'attachment'; id: string; attachmentId: string; raw: boolean };

const RESPOND: Record<string, 'reply' | 'replyAll' | 'forward' | 'createReply' | 'createReplyAll' | 'createForward'> = {
  reply: 'reply',
  replyall: 'replyAll',
  forward: 'forward',
  createreply: 'createReply',
  createreplyall: 'createReplyAll',
  createforward: 'createForward',
};

/**
 * The read routes below `/users/{m}/` (segments[2] on); undefined for routes graph.ts owns
 * (sendMail, drafts, attachments POST, upload sessions).
 */
export function matchReadRoute(segments: string[], lower: string[]): { op: ReadOp; methods: string[] } | undefined {
  const n = segments.length;
  if (lower[2] === 'mailfolders') {
    if (n === 3) return { op: { op: 'folders' }, methods: ['GET'] };
    const folder = segments[3];
    if (n === 4) return { op: { op: 'folder', folder }, methods: ['GET'] };
    if (n === 5 && lower[4] === 'childfolders') return { op: { op: 'childFolders', folder }, methods: ['GET', 'POST'] };
    if (n === 5 && lower[4] === 'messages') return { op: { op: 'folderMessages', folder }, methods: ['GET'] };
    if (n === 6 && lower[4] === 'messages' && lower[5] === 'delta') return { op: { op: 'delta', folder }, methods: ['GET'] };
    return undefined;
  }
  if (lower[2] !== 'messages' || n < 5) return undefined;
  const id = segments[3];
  if (n === 5 && (lower[4] === 'move' || lower[4] === 'copy')) return { op: { op: lower[4], id }, methods: ['POST'] };
  if (n === 5 && RESPOND[lower[4]]) return { op: { op: RESPOND[lower[4]], id }, methods: ['POST'] };
  if (lower[4] === 'attachments' && n === 6 && lower[5] !== 'createuploadsession') return { op: { op: 'attachment', id, attachmentId: segments[5], raw: false }, methods: ['GET'] };
  if (lower[4] === 'attachments' && n === 7 && lower[6] === '$value') return { op: { op: 'attachment', id, attachmentId: segments[5], raw: true }, methods: ['GET'] };
  return undefined;
}

/**
 * Application roles a read route accepts. Reading needs Mail.Read or Mail.ReadWrite
 * (Mail.ReadBasic.All gives no body, so the sandbox refuses it outright); changes and drafts need
 * Mail.ReadWrite; reply/replyAll/forward need Mail.Send
 * (https://learn.microsoft.com/graph/api/message-reply#permissions).
 */
export function rolesFor(op: ReadOp, method: string): string[] {
  switch (op.op) {
    case 'reply':
    case 'replyAll':
    case 'forward':
      return ['Mail.Send'];
    case 'move':
    case 'copy':
    case 'createReply':
    case 'createReplyAll':
    case 'createForward':
      return ['Mail.ReadWrite'];
    default:
      return method === 'GET' ? ['Mail.Read', 'Mail.ReadWrite'] : ['Mail.ReadWrite'];
  }
}

/** What the read side needs from the draft side of graph.ts. */
export interface DraftHooks {
  /** Creates a draft in the mailbox from a message JSON, answering as POST /messages does (201). */
  createDraft(req: RequestContext, claims: AccessTokenClaims, mailbox: ResolvedMailbox, message: Record<string, unknown>, meta: ConversationMeta): Reply;
  recordMail(mail: SentMail): void;
  schema: GraphSchema;
  baseUrl(): string;
  directory: Directory;
}

export interface ConversationMeta {
  conversationId: string;
  conversationIndex: string;
  internetMessageId: string;
}

const NOT_FOUND = 'The specified object was not found in the store.';
const DEFAULT_PAGE = 10;
const MAX_PAGE = 1000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function recipientsOf(value: unknown): Recipient[] {
  if (!Array.isArray(value)) return [];
  return value.filter((r): r is Recipient => isRecord(r) && isRecord(r.emailAddress) && typeof r.emailAddress.address === 'string');
}

/** `Prefer: IdType="ImmutableId"` (https://learn.microsoft.com/graph/outlook-immutable-id). */
export function wantsImmutable(req: RequestContext): boolean {
  return /idtype\s*=\s*"?immutableid"?/i.test((header(req.headers, 'prefer') ?? '').slice(0, 1000));
}

/** `Prefer: odata.maxpagesize=N` (https://learn.microsoft.com/graph/api/message-delta#request-headers). */
function maxPageSize(req: RequestContext): number | undefined {
  const m = /odata\.maxpagesize\s*=\s*(\d{1,6})/i.exec((header(req.headers, 'prefer') ?? '').slice(0, 1000));
  return m ? Math.min(Math.max(Number(m[1]), 1), MAX_PAGE) : undefined;
}

function selectOf(req: RequestContext): string[] | undefined {
  const raw = req.query.get('$select');
  if (raw === null) return undefined;
  return raw
    .slice(0, 2000)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function conversationIndex(): string {
  // Outlook's PR_CONVERSATION_INDEX: a 22-byte header for the first mail of a thread.
  return randomBytes(22).toString('base64');
}

export function newConversation(): ConversationMeta {
  return { conversationId: exchangeId('AAkA').replace(/^AAkA/, 'AAQk'), conversationIndex: conversationIndex(), internetMessageId: `<${randomBytes(12).toString('hex')}@sandbox.contoso.onmicrosoft.com>` };
}

export class GraphRead {
  /** Thread data of drafts and of sent mail (by SentMail.id), so delivery keeps the conversation. */
  readonly meta = new Map<string, ConversationMeta>();
  /** Bytes of attachments that came through upload sessions (the message JSON has only their metadata), by attachment id. */
  readonly uploaded = new Map<string, Buffer>();

  constructor(
    readonly store: MailStore,
    private readonly hooks: DraftHooks,
  ) {}

  reset(): void {
    this.store.reset();
    this.meta.clear();
    this.uploaded.clear();
  }

  handle(op: ReadOp, req: RequestContext, claims: AccessTokenClaims, mailbox: ResolvedMailbox): Reply {
    const address = mailbox.address;
    switch (op.op) {
      case 'folders':
        // https://learn.microsoft.com/graph/api/user-list-mailfolders : the top-level folders, paged (10 by default).
        return this.folderList(req, address, this.store.folder(address, 'msgfolderroot') as StoredFolder, 'mailFolders');
      case 'folder': {
        // https://learn.microsoft.com/graph/api/mailfolder-get : by id or well-known name.
        const folder = this.store.folder(address, op.folder);
        if (!folder) return graphError(req, 404, 'ErrorItemNotFound', NOT_FOUND);
        return jsonReply(200, { '@odata.context': `${this.hooks.baseUrl()}/v1.0/$metadata#users('${address}')/mailFolders/$entity`, ...this.folderJson(address, folder) });
      }
      case 'childFolders': {
        const folder = this.store.folder(address, op.folder);
        if (!folder) return graphError(req, 404, 'ErrorItemNotFound', NOT_FOUND);
        if (req.method === 'POST') return this.createFolder(req, address, folder);
        return this.folderList(req, address, folder, `mailFolders/${encodeURIComponent(op.folder)}/childFolders`);
      }
      case 'folderMessages':
        return this.folderMessages(req, address, op.folder);
      case 'delta':
        return this.delta(req, address, op.folder);
      case 'message':
        return this.messageItem(req, address, op.id);
      case 'move':
      case 'copy':
        return this.moveOrCopy(req, address, op.id, op.op);
      case 'attachments':
        return this.attachments(req, address, op.id);
      case 'attachment':
        return this.attachment(req, address, op.id, op.attachmentId, op.raw);
      default:
        return this.respond(req, claims, mailbox, op.id, op.op);
    }
  }

  private folderJson(address: string, f: StoredFolder): Record<string, unknown> {
    const messages = this.store.messagesIn(address, f.id);
    return {
      id: f.id,
      displayName: f.displayName,
      parentFolderId: f.parentFolderId,
      childFolderCount: this.store.children(address, f.id).length,
      unreadItemCount: messages.filter((m) => !m.isRead).length,
      totalItemCount: messages.length,
      sizeInBytes: messages.reduce((sum, m) => sum + m.body.content.length + m.attachments.reduce((s, a) => s + a.bytes.length, 0), 0),
      isHidden: false,
    };
  }

  /** `$top`/`$skip` paging as Graph's list APIs do; `@odata.nextLink` carries the next `$skip`. */
  private paging(req: RequestContext): { top: number; skip: number } | Reply {
    const top = req.query.get('$top');
    const skip = req.query.get('$skip');
    if ((top !== null && !/^\d{1,4}$/.test(top)) || (skip !== null && !/^\d{1,7}$/.test(skip))) {
      return graphError(req, 400, 'BadRequest', 'Invalid value for $top or $skip.');
    }
    return { top: Math.min(top === null ? DEFAULT_PAGE : Number(top), MAX_PAGE), skip: skip === null ? 0 : Number(skip) };
  }

  private nextLink(req: RequestContext, address: string, rest: string, skip: number): string {
    const q = new URLSearchParams(req.query);
    q.set('$skip', String(skip));
    return `${this.hooks.baseUrl()}/v1.0/users/${encodeURIComponent(address)}/${rest}?${q.toString()}`;
  }

  /**
   * Child folders, 10 per page unless `$top` says otherwise
   * (https://learn.microsoft.com/graph/api/mailfolder-list-childfolders); `$filter=displayName eq '…'`
   * with quotes doubled inside the literal (OData's string escaping).
   */
  private folderList(req: RequestContext, address: string, parent: StoredFolder, rest: string): Reply {
    const paging = this.paging(req);
    if ('status' in paging) return paging;
    let folders = this.store.children(address, parent.id);
    const filter = req.query.get('$filter');
    if (filter !== null) {
      const m = /^\s*displayName\s+eq\s+'((?:[^']|'')*)'\s*$/i.exec(filter.slice(0, 1000));
      if (!m) return graphError(req, 400, 'BadRequest', 'Invalid filter clause: the sandbox supports displayName eq \'…\' only.');
      const name = m[1].replace(/''/g, "'").toLowerCase();
      folders = folders.filter((f) => f.displayName.toLowerCase() === name);
    }
    const page = folders.slice(paging.skip, paging.skip + paging.top);
    const body: Record<string, unknown> = {
      '@odata.context': `${this.hooks.baseUrl()}/v1.0/$metadata#users('${address}')/mailFolders`,
      value: page.map((f) => this.folderJson(address, f)),
    };
    if (paging.skip + paging.top < folders.length) body['@odata.nextLink'] = this.nextLink(req, address, rest, paging.skip + paging.top);
    return jsonReply(200, body);
  }

  /** https://learn.microsoft.com/graph/api/mailfolder-post-childfolders : 201 with the folder; a taken name is 409 ErrorFolderExists. */
  private createFolder(req: RequestContext, address: string, parent: StoredFolder): Reply {
    const body = parseJson(req);
    if ('reply' in body) return body.reply;
    const displayName = isRecord(body.value) ? body.value.displayName : undefined;
    if (typeof displayName !== 'string' || displayName.trim() === '') {
      return graphError(req, 400, 'ErrorInvalidRequest', 'The request is invalid: displayName is required.');
    }
    const folder = this.store.createFolder(address, parent.id, displayName);
    if (!folder) return graphError(req, 409, 'ErrorFolderExists', 'A folder with the specified name already exists.');
    return jsonReply(201, { '@odata.context': `${this.hooks.baseUrl()}/v1.0/$metadata#users('${address}')/mailFolders('${parent.id}')/childFolders/$entity`, ...this.folderJson(address, folder) });
  }

  private messageJson(_address: string, m: StoredMessage, immutable: boolean, select?: string[]): Record<string, unknown> {
    const id = immutable ? m.immutableId : m.id;
    const full: Record<string, unknown> = {
      '@odata.etag': `W/"${m.changeKey}"`,
      id,
      createdDateTime: m.createdDateTime,
      lastModifiedDateTime: m.lastModifiedDateTime,
      changeKey: m.changeKey,
      categories: m.categories,
      receivedDateTime: m.receivedDateTime,
      sentDateTime: m.sentDateTime,
      // Graph: false when every attachment is inline (https://learn.microsoft.com/graph/api/resources/message#properties).
      hasAttachments: m.attachments.some((a) => !a.isInline),
      internetMessageId: m.internetMessageId,
      subject: m.subject,
      bodyPreview: preview(m.body),
      importance: m.importance,
      parentFolderId: m.folderId,
      conversationId: m.conversationId,
      conversationIndex: m.conversationIndex,
      isDeliveryReceiptRequested: false,
      isReadReceiptRequested: false,
      isRead: m.isRead,
      isDraft: m.isDraft,
      webLink: `https://outlook.office365.com/owa/?ItemID=${encodeURIComponent(id)}&exvsurl=1&viewmodel=ReadMessageItem`,
      inferenceClassification: 'focused',
      body: m.body,
      sender: m.sender ?? null,
      from: m.from ?? null,
      toRecipients: m.toRecipients,
      ccRecipients: m.ccRecipients,
      bccRecipients: m.bccRecipients,
      replyTo: m.replyTo,
      flag: m.flag,
    };
    if (!select) return full;
    // $select: the named properties (uniqueBody and internetMessageHeaders only come this way), id and etag always.
    const out: Record<string, unknown> = { '@odata.etag': full['@odata.etag'], id };
    for (const name of select) {
      if (name === 'uniqueBody') out.uniqueBody = m.body;
      else if (name === 'internetMessageHeaders') out.internetMessageHeaders = m.internetMessageHeaders;
      else if (name in full) out[name] = full[name];
    }
    return out;
  }

  private findFolder(req: RequestContext, address: string, key: string): StoredFolder | Reply {
    return this.store.folder(address, key) ?? graphError(req, 404, 'ErrorItemNotFound', NOT_FOUND);
  }

  /** https://learn.microsoft.com/graph/api/mailfolder-list-messages : `$top` (10 by default), `$skip`, `$select`. */
  private folderMessages(req: RequestContext, address: string, key: string): Reply {
    const folder = this.findFolder(req, address, key);
    if ('status' in folder) return folder;
    const paging = this.paging(req);
    if ('status' in paging) return paging;
    const all = this.store.messagesIn(address, folder.id);
    const select = selectOf(req);
    const immutable = wantsImmutable(req);
    const body: Record<string, unknown> = {
      '@odata.context': `${this.hooks.baseUrl()}/v1.0/$metadata#users('${address}')/mailFolders('${key}')/messages`,
      value: all.slice(paging.skip, paging.skip + paging.top).map((m) => this.messageJson(address, m, immutable, select)),
    };
    if (paging.skip + paging.top < all.length) body['@odata.nextLink'] = this.nextLink(req, address, `mailFolders/${encodeURIComponent(key)}/messages`, paging.skip + paging.top);
    return jsonReply(200, body, immutable ? { 'preference-applied': 'IdType="ImmutableId"' } : {});
  }

  /**
   * The delta query (https://learn.microsoft.com/graph/api/message-delta,
   * https://learn.microsoft.com/graph/delta-query-messages): the first round returns every message
   * of the folder, later rounds on the deltaLink only what changed since (new, changed, moved in)
   * and `@removed` for what left (moved out or deleted). Pages follow `@odata.nextLink`
   * ($skiptoken), the last carries `@odata.deltaLink` ($deltatoken). An unknown or expired token is
   * 410 with code SyncStateNotFound ("syncStateNotFound" in https://learn.microsoft.com/graph/delta-query-overview).
   */
  private delta(req: RequestContext, address: string, key: string): Reply {
    const folder = this.findFolder(req, address, key);
    if ('status' in folder) return folder;
    const immutable = wantsImmutable(req);
    const idOf = (m: StoredMessage): string => (immutable ? m.immutableId : m.id);
    const deltaToken = req.query.get('$deltatoken');
    let skipToken = req.query.get('$skiptoken');
    const gone = (): Reply => graphError(req, 410, 'SyncStateNotFound', 'The sync state was not found or has expired. Start a new sync without a token.');
    if (skipToken === null) {
      const started = this.store.startRound(address, folder.id, deltaToken ?? undefined, idOf, selectOf(req));
      if (started === undefined) return gone();
      skipToken = started;
    }
    const size = maxPageSize(req) ?? DEFAULT_PAGE;
    const page = this.store.page(address, folder.id, skipToken, size);
    if (!page) return gone();
    const link = (name: string, token: string): string =>
      `${this.hooks.baseUrl()}/v1.0/users/${encodeURIComponent(address)}/mailFolders/${encodeURIComponent(key)}/messages/delta?${name}=${token}`;
    const body: Record<string, unknown> = {
      '@odata.context': `${this.hooks.baseUrl()}/v1.0/$metadata#Collection(message)`,
      value: page.items.map((item: DeltaItem) =>
        item.kind === 'removed'
          ? { '@odata.type': '#microsoft.graph.message', id: immutable ? item.immutableId : item.id, '@removed': { reason: 'deleted' } }
          : { '@odata.type': '#microsoft.graph.message', ...this.messageJson(address, item.message, immutable, page.select) },
      ),
    };
    if (page.next !== undefined) body['@odata.nextLink'] = link('$skiptoken', page.next);
    else body['@odata.deltaLink'] = link('$deltatoken', page.deltaToken ?? '');
    const applied = [maxPageSize(req) !== undefined ? `odata.maxpagesize=${size}` : '', immutable ? 'IdType="ImmutableId"' : ''].filter(Boolean).join(', ');
    return jsonReply(200, body, applied ? { 'preference-applied': applied } : {});
  }

  private findMessage(req: RequestContext, address: string, id: string): StoredMessage | Reply {
    const m = this.store.message(address, id);
    if (!m || m.folderId === this.store.folder(address, 'recoverableitemsdeletions')?.id) return graphError(req, 404, 'ErrorItemNotFound', NOT_FOUND);
    return m;
  }

  /**
   * GET (https://learn.microsoft.com/graph/api/message-get), PATCH (https://learn.microsoft.com/graph/api/message-update,
   * 200 with the message) and DELETE (https://learn.microsoft.com/graph/api/message-delete, 204:
   * into Recoverable Items, not Deleted Items).
   */
  private messageItem(req: RequestContext, address: string, id: string): Reply {
    const m = this.findMessage(req, address, id);
    if ('status' in m) return m;
    const immutable = wantsImmutable(req);
    const context = { '@odata.context': `${this.hooks.baseUrl()}/v1.0/$metadata#users('${address}')/messages/$entity` };
    if (req.method === 'GET') return jsonReply(200, { ...context, ...this.messageJson(address, m, immutable, selectOf(req)) });
    if (req.method === 'DELETE') {
      this.store.move(m, (this.store.folder(address, 'recoverableitemsdeletions') as StoredFolder).id);
      return { status: 204 };
    }
    const body = parseJson(req);
    if ('reply' in body) return body.reply;
    if (!isRecord(body.value)) return graphError(req, 400, 'BadRequest', 'The body must be a JSON object.');
    const patch = body.value;
    for (const [name, value] of Object.entries(patch)) {
      if (name === 'isRead' && typeof value === 'boolean') continue;
      if (name === 'categories' && Array.isArray(value) && value.every((c) => typeof c === 'string')) continue;
      if (name === 'flag' && isRecord(value) && typeof value.flagStatus === 'string') continue;
      if (name === 'importance' && typeof value === 'string' && /^(low|normal|high)$/i.test(value)) continue;
      return graphError(req, 400, 'ErrorInvalidPropertyRequest', `The sandbox updates isRead, categories, flag and importance of a message; '${name.slice(0, 64)}' is not one of them or has the wrong type.`);
    }
    if (typeof patch.isRead === 'boolean') m.isRead = patch.isRead;
    if (Array.isArray(patch.categories)) m.categories = patch.categories as string[];
    if (isRecord(patch.flag)) m.flag = { flagStatus: String(patch.flag.flagStatus) };
    if (typeof patch.importance === 'string') m.importance = patch.importance.toLowerCase();
    this.store.touch(m);
    return jsonReply(200, { ...context, ...this.messageJson(address, m, immutable) });
  }

  /**
   * https://learn.microsoft.com/graph/api/message-move and https://learn.microsoft.com/graph/api/message-copy :
   * `{ destinationId }` (folder id or well-known name), 201 with the message in its new folder. A
   * moved message gets a new id unless ids are immutable; a copy is a new item.
   */
  private moveOrCopy(req: RequestContext, address: string, id: string, op: 'move' | 'copy'): Reply {
    const m = this.findMessage(req, address, id);
    if ('status' in m) return m;
    const body = parseJson(req);
    if ('reply' in body) return body.reply;
    const destinationId = isRecord(body.value) ? (body.value.destinationId ?? body.value.DestinationId) : undefined;
    if (typeof destinationId !== 'string' || destinationId === '') {
      return graphError(req, 400, 'ErrorInvalidRequest', 'The destinationId parameter is required.');
    }
    const dest = this.findFolder(req, address, destinationId);
    if ('status' in dest) return dest;
    const result = op === 'move' ? this.store.move(m, dest.id) : this.store.copy(address, m, dest.id);
    return jsonReply(201, {
      '@odata.context': `${this.hooks.baseUrl()}/v1.0/$metadata#users('${address}')/messages/$entity`,
      ...this.messageJson(address, result, wantsImmutable(req)),
    });
  }

  private attachmentJson(a: StoredAttachment, withBytes: boolean): Record<string, unknown> {
    return {
      '@odata.type': '#microsoft.graph.fileAttachment',
      '@odata.mediaContentType': a.contentType,
      id: a.id,
      lastModifiedDateTime: a.lastModifiedDateTime,
      name: a.name,
      contentType: a.contentType,
      // The store's size, larger than the file: Graph's `size` counts the attachment item, not the bytes.
      size: storeSize(a),
      isInline: a.isInline,
      contentId: a.contentId ?? null,
      contentLocation: null,
      ...(withBytes ? { contentBytes: a.bytes.toString('base64') } : {}),
    };
  }

  /**
   * https://learn.microsoft.com/graph/api/message-list-attachments : fileAttachments with
   * contentBytes; with `$select` only the named properties (and id, @odata.type), a property of
   * the derived type named through its cast (`microsoft.graph.fileAttachment/contentId`), as
   * OData's select of derived properties works (https://learn.microsoft.com/graph/query-parameters#select-parameter).
   */
  private attachments(req: RequestContext, address: string, id: string): Reply {
    const m = this.findMessage(req, address, id);
    if ('status' in m) return m;
    const select = selectOf(req)?.map((name) => name.replace(/^microsoft\.graph\.fileAttachment\//i, ''));
    return jsonReply(200, {
      '@odata.context': `${this.hooks.baseUrl()}/v1.0/$metadata#users('${address}')/messages('${id}')/attachments`,
      value: m.attachments.map((a) => {
        const full = this.attachmentJson(a, true);
        if (!select) return full;
        const out: Record<string, unknown> = { '@odata.type': full['@odata.type'], id: full.id };
        for (const name of select) if (name in full) out[name] = full[name];
        return out;
      }),
    });
  }

  /** https://learn.microsoft.com/graph/api/attachment-get : the JSON, or with `/$value` the raw bytes. */
  private attachment(req: RequestContext, address: string, id: string, attachmentId: string, raw: boolean): Reply {
    const m = this.findMessage(req, address, id);
    if ('status' in m) return m;
    const a = m.attachments.find((x) => x.id === attachmentId);
    if (!a) return graphError(req, 404, 'ErrorItemNotFound', NOT_FOUND);
    if (raw) return { status: 200, headers: { 'content-type': a.contentType || 'application/octet-stream' }, body: a.bytes };
    return jsonReply(200, { '@odata.context': `${this.hooks.baseUrl()}/v1.0/$metadata#users('${address}')/messages('${id}')/attachments/$entity`, ...this.attachmentJson(a, true) });
  }

  /**
   * reply / replyAll / forward (https://learn.microsoft.com/graph/api/message-reply,
   * https://learn.microsoft.com/graph/api/message-replyall, https://learn.microsoft.com/graph/api/message-forward):
   * `{ comment }` and/or `{ message }`, 202; `comment` together with `message.body` is 400; a
   * reply goes to replyTo when set, else to from; forward needs recipients. createReply /
   * createReplyAll / createForward (https://learn.microsoft.com/graph/api/message-createreply, …)
   * answer 201 with a draft that `send` sends.
   */
  private respond(
    req: RequestContext,
    claims: AccessTokenClaims,
    mailbox: ResolvedMailbox,
    id: string,
    op: 'reply' | 'replyAll' | 'forward' | 'createReply' | 'createReplyAll' | 'createForward',
  ): Reply {
    const original = this.findMessage(req, mailbox.address, id);
    if ('status' in original) return original;
    const asDraft = op.startsWith('create');
    const kind = (asDraft ? op.slice(6, 7).toLowerCase() + op.slice(7) : op) as 'reply' | 'replyAll' | 'forward';
    let params: Record<string, unknown> = {};
    if (req.body.length > 0 || !asDraft) {
      const body = parseJson(req);
      if ('reply' in body) return body.reply;
      if (!isRecord(body.value)) return graphError(req, 400, 'BadRequest', 'The body must be a JSON object.');
      // Action parameters match case-insensitively, as on Graph.
      params = Object.fromEntries(Object.entries(body.value).map(([k, v]) => [k.toLowerCase(), v]));
    }
    for (const k of Object.keys(params)) {
      if (k !== 'comment' && k !== 'message' && !(kind === 'forward' && k === 'torecipients')) {
        return graphError(req, 400, 'UnknownError', `The parameter '${k.slice(0, 64)}' in the request payload is not a valid parameter for the operation '${op}'.`);
      }
    }
    const comment = params.comment;
    if (comment !== undefined && typeof comment !== 'string') return graphError(req, 400, 'BadRequest', 'comment must be a string.');
    const extra = params.message;
    if (extra !== undefined) {
      if (!isRecord(extra)) return graphError(req, 400, 'BadRequest', 'message must be an object.');
      const error = this.hooks.schema.validateInstance(extra, 'microsoft.graph.message');
      if (error) return graphError(req, 400, error.code, error.message);
    }
    const msg = isRecord(extra) ? extra : {};
    if (comment !== undefined && msg.body !== undefined) {
      return graphError(req, 400, 'ErrorInvalidRequest', 'You can specify either a comment or the body property of the message parameter, not both.');
    }
    const self = mailbox.address.toLowerCase();
    const fromOriginal = original.replyTo.length > 0 ? original.replyTo : original.from ? [original.from] : [];
    let to: Recipient[] = [];
    let cc: Recipient[] = [];
    if (kind === 'reply' || kind === 'replyAll') to = [...fromOriginal];
    if (kind === 'replyAll') {
      const others = original.toRecipients.filter((r) => r.emailAddress.address.toLowerCase() !== self);
      to = dedupe([...to, ...others]);
      cc = dedupe(original.ccRecipients.filter((r) => r.emailAddress.address.toLowerCase() !== self));
    }
    to = dedupe([...to, ...recipientsOf(msg.toRecipients), ...recipientsOf(params.torecipients)]);
    cc = dedupe([...cc, ...recipientsOf(msg.ccRecipients)]);
    const bcc = recipientsOf(msg.bccRecipients);
    // forward / createForward: "specify either the toRecipients parameter or the toRecipients
    // property of the message parameter. Specifying both or specifying neither will return an HTTP
    // 400" (https://learn.microsoft.com/graph/api/message-createforward, message-forward).
    if (kind === 'forward' && (params.torecipients === undefined) === (msg.toRecipients === undefined)) {
      return graphError(req, 400, 'ErrorInvalidRecipients', 'Specify either the toRecipients parameter or message.toRecipients, not both and not neither.');
    }
    const prefix = kind === 'forward' ? 'FW: ' : 'RE: ';
    const subject = new RegExp(`^${prefix.trim()}\\s`, 'i').test(original.subject) ? original.subject : `${prefix}${original.subject}`;
    const html = original.body.contentType === 'html';
    const quotedHeader = `From: ${original.from?.emailAddress.address ?? ''}\nSent: ${original.sentDateTime}\nSubject: ${original.subject}`;
    const own = typeof comment === 'string' ? comment : isRecord(msg.body) && typeof msg.body.content === 'string' ? msg.body.content : '';
    const content = html
      ? `<html><body>${own}<hr><div>${escapeHtml(quotedHeader).replace(/\n/g, '<br>')}</div>${original.body.content}</body></html>`
      : `${own}\n\n________________________________\n${quotedHeader}\n\n${original.body.content}`;
    const attachments = [
      ...(kind === 'forward' ? original.attachments.map(toGraphAttachment) : original.attachments.filter((a) => a.isInline).map(toGraphAttachment)),
      ...(Array.isArray(msg.attachments) ? (msg.attachments as unknown[]) : []),
    ];
    const message: Record<string, unknown> = {
      subject,
      body: { contentType: html ? 'html' : 'text', content },
      toRecipients: to,
      ...(cc.length ? { ccRecipients: cc } : {}),
      ...(bcc.length ? { bccRecipients: bcc } : {}),
      ...(attachments.length ? { attachments } : {}),
    };
    const meta: ConversationMeta = { conversationId: original.conversationId, conversationIndex: `${original.conversationIndex}${randomBytes(5).toString('base64')}`, internetMessageId: newConversation().internetMessageId };
    if (asDraft) return this.hooks.createDraft(req, claims, mailbox, message, meta);
    const sentId = exchangeId('AAMk');
    this.meta.set(sentId, meta);
    this.hooks.recordMail({
      id: sentId,
      sender: mailbox.address,
      message,
      attachments: [],
      saveToSentItems: true,
      path: kind,
      clientRequestId: req.clientRequestId,
      requestId: req.requestId,
      appId: claims.appid,
      receivedAt: new Date(),
    });
    return { status: 202 };
  }

  /**
   * Mail flow: a mail sent through the sandbox lands, as a new item, in the Inbox of every
   * recipient that is a sandbox mailbox (same internetMessageId and conversationId), and in the
   * sender's Sent Items unless saveToSentItems is false. Other recipients only see the SentMail record.
   */
  deliver(mail: SentMail): void {
    const meta = this.meta.get(mail.id) ?? newConversation();
    this.meta.delete(mail.id);
    const m = mail.message;
    const senderBox = this.hooks.directory.anyMailbox(mail.sender);
    const from: Recipient = isRecord(m.from) ? (m.from as unknown as Recipient) : { emailAddress: { name: senderBox?.displayName, address: mail.sender } };
    const sender: Recipient = { emailAddress: { name: senderBox?.displayName, address: mail.sender } };
    const body = isRecord(m.body) ? { contentType: String(m.body.contentType).toLowerCase() === 'html' ? ('html' as const) : ('text' as const), content: String(m.body.content ?? '') } : { contentType: 'text' as const, content: '' };
    const now = new Date();
    const base = {
      createdDateTime: graphSeconds(now),
      lastModifiedDateTime: graphSeconds(now),
      receivedDateTime: graphSeconds(now),
      sentDateTime: graphSeconds(now),
      internetMessageId: meta.internetMessageId,
      conversationId: meta.conversationId,
      conversationIndex: meta.conversationIndex,
      subject: typeof m.subject === 'string' ? m.subject : '',
      body,
      importance: typeof m.importance === 'string' ? m.importance.toLowerCase() : 'normal',
      isDraft: false,
      from,
      sender,
      toRecipients: recipientsOf(m.toRecipients),
      ccRecipients: recipientsOf(m.ccRecipients),
      replyTo: recipientsOf(m.replyTo),
      flag: { flagStatus: 'notFlagged' },
      categories: [],
      internetMessageHeaders: Array.isArray(m.internetMessageHeaders) ? (m.internetMessageHeaders as { name: string; value: string }[]) : [],
    };
    const files = attachmentsOf(m.attachments, this.uploaded);
    const targets = new Set<string>();
    for (const r of [...base.toRecipients, ...base.ccRecipients, ...recipientsOf(m.bccRecipients)]) {
      const box = this.hooks.directory.anyMailbox(r.emailAddress.address);
      if (box && box.licensed) targets.add(box.address);
    }
    for (const address of targets) {
      const inbox = this.store.folder(address, 'inbox') as StoredFolder;
      this.store.add(address, { ...base, folderId: inbox.id, isRead: false, bccRecipients: [], attachments: files.map((a) => ({ ...a, id: exchangeId('AAMkAtt') })) });
    }
    for (const a of Array.isArray(m.attachments) ? m.attachments : []) if (isRecord(a) && typeof a.id === 'string') this.uploaded.delete(a.id);
    if (mail.saveToSentItems && senderBox) {
      const sent = this.store.folder(senderBox.address, 'sentitems') as StoredFolder;
      this.store.add(senderBox.address, { ...base, folderId: sent.id, isRead: true, bccRecipients: recipientsOf(m.bccRecipients), attachments: files.map((a) => ({ ...a, id: exchangeId('AAMkAtt') })) }, mail.immutableId);
    }
  }

  /** A mail from outside the tenant put straight into a folder (the control surface's inject). */
  inject(address: string, input: InjectMail): StoredMessage | string {
    const folder = this.store.folder(address, input.folder ?? 'inbox') ?? this.folderByPath(address, input.folder ?? '');
    if (!folder) return `no folder ${input.folder ?? ''} in ${address}`;
    const received = input.receivedDateTime ? new Date(input.receivedDateTime) : new Date();
    if (Number.isNaN(received.getTime())) return 'receivedDateTime is not a date';
    const conv = newConversation();
    const from: Recipient = { emailAddress: { name: input.fromName, address: input.from ?? 'sender@example.com' } };
    const files = attachmentsOf(input.attachments);
    return this.store.add(address, {
      folderId: folder.id,
      createdDateTime: graphSeconds(received),
      lastModifiedDateTime: graphSeconds(received),
      receivedDateTime: graphSeconds(received),
      sentDateTime: graphSeconds(received),
      internetMessageId: input.internetMessageId ?? conv.internetMessageId,
      conversationId: conv.conversationId,
      conversationIndex: conv.conversationIndex,
      subject: input.subject ?? '',
      body: input.html !== undefined ? { contentType: 'html', content: input.html } : { contentType: 'text', content: input.text ?? '' },
      importance: 'normal',
      isRead: input.isRead === true,
      isDraft: false,
      from,
      sender: from,
      toRecipients: (input.to ?? [address]).map((a) => ({ emailAddress: { address: a } })),
      ccRecipients: (input.cc ?? []).map((a) => ({ emailAddress: { address: a } })),
      bccRecipients: [],
      replyTo: (input.replyTo ?? []).map((a) => ({ emailAddress: { address: a } })),
      flag: { flagStatus: 'notFlagged' },
      categories: [],
      internetMessageHeaders: input.headers ?? [],
      attachments: files.map((a) => ({ ...a, id: exchangeId('AAMkAtt') })),
    });
  }

  /** `Inbox/Orders`: a path of display names from the top of the store. */
  folderByPath(address: string, path: string): StoredFolder | undefined {
    let parent = this.store.folder(address, 'msgfolderroot');
    for (const name of path.split('/').filter(Boolean)) {
      parent = parent && this.store.children(address, parent.id).find((f) => f.displayName.toLowerCase() === name.toLowerCase());
    }
    return parent?.wellKnownName === 'msgfolderroot' ? undefined : parent;
  }

  /** A mailbox's messages as the control surface shows them (folder by id, well-known name or path; all when none). */
  listMessages(address: string, folder?: string): MailboxMessage[] | string {
    const box = this.store.mailbox(address);
    let folderId: string | undefined;
    if (folder !== undefined) {
      const f = this.store.folder(address, folder) ?? this.folderByPath(address, folder);
      if (!f) return `no folder ${folder} in ${address}`;
      folderId = f.id;
    }
    const names = new Map(box.folders.map((f) => [f.id, f.wellKnownName ?? f.displayName]));
    return [...box.messages.values()]
      .filter((m) => folderId === undefined || m.folderId === folderId)
      .map((m) => ({
        id: m.id,
        immutableId: m.immutableId,
        folder: names.get(m.folderId) ?? m.folderId,
        subject: m.subject,
        from: m.from?.emailAddress.address,
        to: m.toRecipients.map((r) => r.emailAddress.address),
        cc: m.ccRecipients.map((r) => r.emailAddress.address),
        isRead: m.isRead,
        receivedDateTime: m.receivedDateTime,
        internetMessageId: m.internetMessageId,
        conversationId: m.conversationId,
        bodyType: m.body.contentType,
        attachments: m.attachments.map((a) => ({ name: a.name, contentType: a.contentType, bytes: a.bytes.length, isInline: a.isInline, contentId: a.contentId, sha256: createHash('sha256').update(a.bytes).digest('hex') })),
      }));
  }

  /** Ids for the draft JSON of graph.ts (drafts have them before they are sent). */
  draftMeta(draftId: string): ConversationMeta {
    let meta = this.meta.get(draftId);
    if (!meta) {
      meta = newConversation();
      this.meta.set(draftId, meta);
    }
    return meta;
  }
}

/** One message as the control surface lists it. */
export interface MailboxMessage {
  id: string;
  immutableId: string;
  /** Well-known name, else display name. */
  folder: string;
  subject: string;
  from?: string;
  to: string[];
  cc: string[];
  isRead: boolean;
  receivedDateTime: string;
  internetMessageId: string;
  conversationId: string;
  bodyType: string;
  attachments: { name: string; contentType: string; bytes: number; isInline: boolean; contentId?: string; sha256: string }[];
}

export interface InjectMail {
  /** Folder id, well-known name or path (`Inbox/Orders`); default inbox. */
  folder?: string;
  from?: string;
  fromName?: string;
  to?: string[];
  cc?: string[];
  replyTo?: string[];
  subject?: string;
  text?: string;
  html?: string;
  receivedDateTime?: string;
  internetMessageId?: string;
  isRead?: boolean;
  headers?: { name: string; value: string }[];
  /** contentBytes in base64; isInline + contentId for `cid:` images. */
  attachments?: { name: string; contentType?: string; contentBytes: string; isInline?: boolean; contentId?: string }[];
}

function dedupe(list: Recipient[]): Recipient[] {
  const seen = new Set<string>();
  return list.filter((r) => {
    const key = r.emailAddress.address.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function preview(body: { contentType: string; content: string }): string {
  const text = body.contentType === 'html' ? body.content.slice(0, 20000).replace(/<[^>]*>/g, ' ') : body.content;
  return text.replace(/\s+/g, ' ').trim().slice(0, 255);
}

/** Graph's `size` of an attachment item: the bytes plus the item's own properties (an estimate). */
function storeSize(a: StoredAttachment): number {
  return a.bytes.length + 200 + 2 * a.name.length + 2 * a.contentType.length;
}

function toGraphAttachment(a: StoredAttachment): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.fileAttachment',
    name: a.name,
    contentType: a.contentType,
    contentBytes: a.bytes.toString('base64'),
    isInline: a.isInline,
    ...(a.contentId ? { contentId: a.contentId } : {}),
  };
}

/** File attachments carried as base64 in a message JSON; those without bytes (uploaded) come with none. */
function attachmentsOf(value: unknown, uploaded?: Map<string, Buffer>): Omit<StoredAttachment, 'id'>[] {
  if (!Array.isArray(value)) return [];
  const now = graphSeconds();
  return value.filter(isRecord).map((a) => ({
    name: typeof a.name === 'string' ? a.name : 'attachment',
    contentType: typeof a.contentType === 'string' ? a.contentType : 'application/octet-stream',
    bytes: typeof a.contentBytes === 'string' ? Buffer.from(a.contentBytes, 'base64') : ((typeof a.id === 'string' ? uploaded?.get(a.id) : undefined) ?? Buffer.alloc(0)),
    isInline: a.isInline === true,
    contentId: typeof a.contentId === 'string' ? a.contentId : undefined,
    lastModifiedDateTime: now,
  }));
}

function parseJson(req: RequestContext): { value: unknown } | { reply: Reply } {
  if (req.body.length === 0) return { reply: graphError(req, 400, 'BadRequest', 'Empty Payload. JSON content expected.') };
  const unreadable = { reply: graphError(req, 400, 'BadRequest', 'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.') };
  if (!/^application\/json/i.test(header(req.headers, 'content-type') ?? '')) return unreadable;
  try {
    return { value: JSON.parse(req.body.toString('utf8')) as unknown };
  } catch {
    return unreadable;
  }
}
