/**
 * The Graph mail stand-in: sendMail, and the large-attachment path (draft, attachments, upload
 * session, PUT of raw bytes, send). Checks run in Graph's order with Graph's status codes and
 * error JSON, so the client's error mapping is exercised against the real codes.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Hash } from 'node:crypto';
import type { SandboxApp } from './config';
import type { Directory, ResolvedMailbox } from './directory';
import { GraphRead, matchReadRoute, rolesFor, wantsImmutable } from './graph-read';
import type { ConversationMeta, ReadOp } from './graph-read';
import { graphError, header, jsonReply } from './http';
import type { Reply, RequestContext } from './http';
import type { AccessTokenClaims, TokenSigner } from './jwt';
import { base64DecodedLength } from './schema';
import type { GraphSchema } from './schema';
import { MailStore, exchangeId } from './mail-store';
import type { SandboxState, SentAttachment } from './state';

const MiB = 1024 * 1024;

export interface GraphLimits {
  /** Largest request body Graph accepts (413 beyond). */
  maxRequestBytes: number;
  /** To + Cc + Bcc per message. */
  maxRecipients: number;
  maxInternetMessageHeaders: number;
  /** Concurrent requests per app and mailbox (429 ApplicationThrottled beyond). */
  mailboxConcurrency: number;
  /** Largest body of one PUT to an upload URL. */
  maxUploadChunkBytes: number;
  /** createUploadSession refuses smaller attachments. */
  minUploadSessionBytes: number;
  /** Largest file `POST .../messages/{id}/attachments` takes (413 beyond): its base64 request must stay under 4 MB. */
  maxDraftAttachmentBytes: number;
  /** The tenant's message size limit (Exchange Online default 35 MB). */
  maxMessageBytes: number;
  /** How long an upload URL stays valid. */
  uploadSessionLifetimeMs: number;
}

export const DEFAULT_LIMITS: GraphLimits = {
  maxRequestBytes: 4 * MiB,
  maxRecipients: 500,
  maxInternetMessageHeaders: 5,
  mailboxConcurrency: 4,
  maxUploadChunkBytes: 4 * MiB,
  // Microsoft: "Use this approach to attach a file if the file size is between 3 MB and 150 MB"
  // (https://learn.microsoft.com/graph/api/attachment-createuploadsession); MB taken as 10^6 bytes.
  minUploadSessionBytes: 3_000_000,
  // Measured on Graph: adding a file of 3,145,611 bytes to a draft works, a few bytes more gets 413
  // (base64 of the file plus the JSON around it passes the 4 MB request limit).
  maxDraftAttachmentBytes: 3_145_611,
  maxMessageBytes: 35 * MiB,
  uploadSessionLifetimeMs: 6 * 60 * 60 * 1000,
};

export interface GraphContext {
  baseUrl(): string;
  /** Base of the upload URLs: Outlook's host in Graph (`https://outlook.office.com/api/...`), so another host here too when asked. */
  uploadBaseUrl(): string;
  directory: Directory;
  signer: TokenSigner;
  state: SandboxState;
  schema: GraphSchema;
  limits: GraphLimits;
}

type MailboxRouteKind = 'sendMail' | 'createDraft' | 'draft' | 'addAttachment' | 'createUploadSession' | 'sendDraft';

export type GraphRoute =
  | { kind: MailboxRouteKind; mailboxKey: string; messageId?: string; methods: string[] }
  | { kind: 'read'; mailboxKey: string; op: ReadOp; methods: string[] }
  | { kind: 'me'; methods: string[] }
  | { kind: 'unknown'; segment: string; methods: string[] };

export interface UploadRoute {
  sessionId: string;
}

/** Parses a `/v1.0/...` path (percent-encoded) into a route; undefined when it is not under /v1.0. */
export function matchGraphRoute(path: string): GraphRoute | undefined {
  if (path !== '/v1.0' && !path.startsWith('/v1.0/')) return undefined;
  const segments = path
    .slice('/v1.0/'.length)
    .split('/')
    .filter((s) => s.length > 0)
    .map(safeDecode);
  // Graph resolves path segments case-insensitively; action names may carry the namespace.
  const lower = segments.map((s) => s.toLowerCase().replace(/^microsoft\.graph\./, ''));
  const unknown = (i: number): GraphRoute => ({ kind: 'unknown', segment: segments[i] ?? '', methods: [] });
  if (lower[0] === 'me') return { kind: 'me', methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] };
  if (lower[0] !== 'users' || segments.length < 3) return unknown(segments.length < 3 ? segments.length - 1 : 0);
  const mailboxKey = segments[1];
  if (segments.length === 3 && lower[2] === 'sendmail') return { kind: 'sendMail', mailboxKey, methods: ['POST'] };
  const read = matchReadRoute(segments, lower);
  if (read) return { kind: 'read', mailboxKey, op: read.op, methods: read.methods };
  if (lower[2] !== 'messages') return unknown(2);
  if (segments.length === 3) return { kind: 'createDraft', mailboxKey, methods: ['POST'] };
  const messageId = segments[3];
  // GET/PATCH/DELETE of a message that is not one of the sandbox's drafts goes to the read side (handle).
  if (segments.length === 4) return { kind: 'draft', mailboxKey, messageId, methods: ['GET', 'PATCH', 'DELETE'] };
  if (segments.length === 5 && lower[4] === 'send') return { kind: 'sendDraft', mailboxKey, messageId, methods: ['POST'] };
  if (lower[4] !== 'attachments') return unknown(4);
  if (segments.length === 5) return { kind: 'addAttachment', mailboxKey, messageId, methods: ['GET', 'POST'] };
  if (segments.length === 6 && lower[5] === 'createuploadsession') {
    return { kind: 'createUploadSession', mailboxKey, messageId, methods: ['POST'] };
  }
  return unknown(5);
}

const UPLOAD_PATH = /^\/api\/v2\.0\/Users\('[^']+'\)\/Messages\('[^']+'\)\/AttachmentSessions\('([^']+)'\)$/;

/** Upload URLs look like Outlook's: `/api/v2.0/Users('…')/Messages('…')/AttachmentSessions('…')?authtoken=…`. */
export function matchUploadRoute(path: string): UploadRoute | undefined {
  const m = UPLOAD_PATH.exec(safeDecode(path));
  return m ? { sessionId: m[1] } : undefined;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

interface Draft {
  id: string;
  /**
   * Made with `Prefer: IdType="ImmutableId"`: `id` is then an immutable id, and the item keeps it
   * in Sent Items once sent (https://learn.microsoft.com/graph/outlook-immutable-id).
   */
  immutable?: boolean;
  tenantId: string;
  mailbox: ResolvedMailbox;
  appId: string;
  /** The message as posted; attachments added later are appended to its `attachments`. */
  message: Record<string, unknown>;
  attachments: SentAttachment[];
  bytes: number;
  createdAt: Date;
  changeKey: string;
}

interface UploadSession {
  id: string;
  token: string;
  draftId: string;
  mailbox: string;
  name: string;
  contentType?: string;
  isInline: boolean;
  contentId?: string;
  size: number;
  received: number;
  hash: Hash;
  /** The bytes so far, so the mail can land in a sandbox mailbox with its attachment intact. */
  chunks: Buffer[];
  expiresAt: Date;
}

/** Exchange's message ids: long base64 strings that start with AAMk and may end in `=`. */
function newMessageId(): string {
  return `AAMkAGI2${randomBytes(96).toString('base64').replace(/\//g, '-').replace(/\+/g, '_')}AAA=`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const EMAIL = /^[^\s@<>()[\]",;:]+@[^\s@<>()[\]",;:]+\.[^\s@<>()[\]",;:]{2,}$/;

const ACCESS_DENIED = 'Access is denied. Check credentials and try again.';

export class GraphMail {
  private readonly drafts = new Map<string, Draft>();
  private readonly sessions = new Map<string, UploadSession>();
  /** In-flight requests per app + mailbox, Graph's MailboxConcurrency unit. */
  private readonly inFlight = new Map<string, number>();

  /** Mailboxes' folders and messages, and the read routes over them. */
  readonly read: GraphRead;

  constructor(private readonly ctx: GraphContext) {
    this.read = new GraphRead(new MailStore(), {
      createDraft: (req, claims, mailbox, message, meta) => this.storeDraft(claims, mailbox, message, meta, wantsImmutable(req)),
      recordMail: (mail) => this.ctx.state.recordMail(mail),
      schema: ctx.schema,
      baseUrl: ctx.baseUrl,
      directory: ctx.directory,
    });
    // Mail sent by any path lands in the recipients' sandbox mailboxes and the sender's Sent Items.
    ctx.state.events.on('mail', (mail) => this.read.deliver(mail));
  }

  /** Forgets drafts, upload sessions and mailboxes' contents (with the rest of the sandbox's state). */
  reset(): void {
    this.drafts.clear();
    this.sessions.clear();
    this.read.reset();
  }

  /** Resolves the mailbox behind a URL key for fault matching: address and id, when known. */
  mailboxKeys(key: string): string[] {
    const m = this.ctx.directory.anyMailbox(key);
    return m ? [key, m.address, m.id] : [key];
  }

  /** The mailbox keys of an upload session, for fault matching. */
  uploadMailboxKeys(sessionId: string): string[] {
    const s = this.sessions.get(sessionId);
    return s ? this.mailboxKeys(s.mailbox) : [];
  }

  /** Bearer token checks, in Graph's order; the claims when they pass. */
  private authenticate(req: RequestContext): AccessTokenClaims | Reply {
    const auth = header(req.headers, 'authorization');
    if (!auth || auth.trim() === '') return graphError(req, 401, 'InvalidAuthenticationToken', 'Access token is empty.');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (!m) return graphError(req, 401, 'InvalidAuthenticationToken', 'IDX14100: JWT is not well formed, there are no dots (.) or the token is not a JWS.');
    const base = this.ctx.baseUrl();
    const result = this.ctx.signer.verify(m[1], [base, `${base}/`], Math.floor(Date.now() / 1000));
    if (!result.ok) return graphError(req, 401, 'InvalidAuthenticationToken', `Access token validation failure. ${result.reason}`);
    if (this.ctx.state.revoked.has(m[1])) {
      // A token revoked before its expiry (the app's credentials changed, the service principal was
      // disabled, continuous access evaluation for workload identities): Graph answers 401
      // InvalidAuthenticationToken. https://learn.microsoft.com/entra/identity/conditional-access/concept-continuous-access-evaluation-workload
      return graphError(req, 401, 'InvalidAuthenticationToken', 'Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp');
    }
    if (!this.ctx.directory.tenantById(result.claims.tid)) {
      return graphError(req, 401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid tenant.');
    }
    return result.claims;
  }

  async handle(matched: GraphRoute, req: RequestContext): Promise<Reply> {
    let route = matched;
    // Messages that are not drafts of this sandbox, and listing attachments, are the read side's.
    if (route.kind === 'draft' && (req.method === 'PATCH' || !this.drafts.has(route.messageId ?? ''))) {
      route = { kind: 'read', mailboxKey: route.mailboxKey, op: { op: 'message', id: route.messageId ?? '' }, methods: route.methods };
    } else if (route.kind === 'addAttachment' && req.method === 'GET') {
      route = { kind: 'read', mailboxKey: route.mailboxKey, op: { op: 'attachments', id: route.messageId ?? '' }, methods: route.methods };
    }
    const claims = this.authenticate(req);
    if ('status' in claims) return claims;
    if (route.kind === 'unknown') {
      return graphError(req, 400, 'BadRequest', `Resource not found for the segment '${route.segment}'.`);
    }
    if (!route.methods.includes(req.method)) {
      return graphError(req, 405, 'Request_BadRequest', `The HTTP method '${req.method}' is not allowed on this resource.`);
    }
    if (route.kind === 'me') {
      return graphError(req, 400, 'BadRequest', '/me request is only valid with delegated authentication flow.');
    }
    // Admin consent missing: Entra issued the token without roles and Graph refuses it outright.
    const roles = claims.roles ?? [];
    if (roles.length === 0) {
      return graphError(req, 401, 'NoPermissionsInAccessToken', 'The token contains no permissions, or permissions can not be understood.');
    }
    // sendMail and send need Mail.Send; drafts, attachments and uploads need Mail.ReadWrite.
    // Read routes: see rolesFor in graph-read.ts.
    const accepted = route.kind === 'read' ? rolesFor(route.op, req.method) : [route.kind === 'sendMail' || route.kind === 'sendDraft' ? 'Mail.Send' : 'Mail.ReadWrite'];
    if (!accepted.some((r) => roles.includes(r))) return graphError(req, 403, 'ErrorAccessDenied', ACCESS_DENIED);

    const tenant = this.ctx.directory.tenantById(claims.tid);
    const app: SandboxApp | undefined = tenant ? this.ctx.directory.app(tenant, claims.appid) : undefined;
    const mailbox = this.ctx.directory.mailbox(claims.tid, route.mailboxKey);
    // Exchange RBAC for Applications scopes the app away from this mailbox.
    if (this.ctx.directory.isOutOfScope(app, route.mailboxKey, mailbox)) {
      return graphError(req, 403, 'ErrorAccessDenied', ACCESS_DENIED);
    }
    if (!mailbox) return graphError(req, 404, 'ErrorInvalidUser', `The requested user '${route.mailboxKey}' is invalid.`);
    if (!mailbox.licensed) return graphError(req, 404, 'MailboxNotEnabledForRESTAPI', 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.');

    const slot = this.enter(claims.appid, mailbox.address);
    req.onClose(slot.leave);
    if (!slot.admitted) {
      this.ctx.state.count('throttled');
      return graphError(req, 429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', { 'retry-after': '1' });
    }
    await req.latency();

    if (req.bodyLength > this.ctx.limits.maxRequestBytes) {
      return graphError(req, 413, 'RequestEntityTooLarge', `The maximum request length supported is ${Math.round(this.ctx.limits.maxRequestBytes / MiB)}MB.`);
    }
    switch (route.kind) {
      case 'sendMail':
        return this.sendMail(req, claims, mailbox);
      case 'createDraft':
        return this.createDraft(req, claims, mailbox);
      case 'draft':
        return this.draftItem(req, mailbox, route.messageId ?? '');
      case 'addAttachment':
        return this.addAttachment(req, mailbox, route.messageId ?? '');
      case 'createUploadSession':
        return this.createUploadSession(req, mailbox, route.messageId ?? '');
      case 'sendDraft':
        return this.sendDraft(req, claims, mailbox, route.messageId ?? '');
      case 'read':
        return this.read.handle(route.op, req, claims, mailbox);
    }
  }

  /** Takes a MailboxConcurrency slot; `admitted` false when the app already has the maximum. */
  private enter(appId: string, address: string): { admitted: boolean; leave: () => void } {
    const leaveMailbox = this.ctx.state.enterMailbox(address);
    const key = `${appId.toLowerCase()}|${address.toLowerCase()}`;
    const now = (this.inFlight.get(key) ?? 0) + 1;
    this.inFlight.set(key, now);
    this.ctx.state.noteAppMailbox(appId, address, now);
    let left = false;
    const leave = (): void => {
      if (left) return;
      left = true;
      leaveMailbox();
      const rest = (this.inFlight.get(key) ?? 1) - 1;
      if (rest > 0) this.inFlight.set(key, rest);
      else this.inFlight.delete(key);
    };
    return { admitted: now <= this.ctx.limits.mailboxConcurrency, leave };
  }

  /** JSON body of a request, or Graph's answer for a body it cannot read. */
  private parse(req: RequestContext): { value: unknown } | { reply: Reply } {
    const type = header(req.headers, 'content-type') ?? '';
    if (req.body.length === 0) return { reply: graphError(req, 400, 'BadRequest', 'Empty Payload. JSON content expected.') };
    if (/^text\/plain/i.test(type)) {
      // Graph would take a base64 MIME message here; the sandbox only speaks JSON.
      return { reply: graphError(req, 400, 'BadRequest', 'MIME content is not supported by the sandbox: send the message as JSON.') };
    }
    const unreadable = {
      reply: graphError(req, 400, 'BadRequest', 'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.'),
    };
    if (!/^application\/json/i.test(type)) return unreadable;
    try {
      return { value: JSON.parse(req.body.toString('utf8')) as unknown };
    } catch {
      return unreadable;
    }
  }

  private sendMail(req: RequestContext, claims: AccessTokenClaims, mailbox: ResolvedMailbox): Reply {
    const body = this.parse(req);
    if ('reply' in body) return body.reply;
    const result = this.ctx.schema.validateAction('sendMail', body.value);
    if ('error' in result) return graphError(req, 400, result.error.code, result.error.message);
    const message = result.params.Message as Record<string, unknown>;
    const problem =
      this.checkAttachments(req, message) ?? this.checkRecipients(req, message, claims.tid) ?? this.checkHeaders(req, message) ?? this.checkBlocked(req, mailbox);
    if (problem) return problem;
    const attachments = this.inlineAttachments(message);
    this.ctx.state.recordMail({
      id: newMessageId(),
      sender: mailbox.address,
      message,
      attachments,
      saveToSentItems: result.params.SaveToSentItems !== false,
      path: 'sendMail',
      clientRequestId: req.clientRequestId,
      requestId: req.requestId,
      appId: claims.appid,
      receivedAt: new Date(),
    });
    return { status: 202 };
  }

  /** fileAttachments must carry their bytes; other kinds pass as the schema let them. */
  private checkAttachments(req: RequestContext, message: Record<string, unknown>): Reply | undefined {
    const list = message.attachments;
    if (!Array.isArray(list)) return undefined;
    for (const a of list) {
      if (!isRecord(a) || !isFileAttachment(a)) continue;
      if (typeof a.contentBytes !== 'string' || typeof a.name !== 'string' || a.name === '') {
        return graphError(req, 400, 'ErrorRequiredPropertyMissing', 'Required property is missing: a fileAttachment needs name and contentBytes.');
      }
    }
    return undefined;
  }

  /**
   * Exchange Online blocks a mailbox from sending for 24 h once it passes 10,000 recipients in a
   * rolling day; later submissions are refused with ErrorMessageSubmissionBlocked or
   * SubmissionQuotaExceeded in Graph's error JSON (Exchange's limits apply to Graph sends:
   * https://learn.microsoft.com/office365/servicedescriptions/exchange-online-service-description/exchange-online-limits#sending-limits ,
   * error shape: https://learn.microsoft.com/graph/errors ). The status varies in the field; the
   * sandbox answers 403 unless told otherwise, and the texts are illustrative: clients branch on the code.
   */
  private checkBlocked(req: RequestContext, mailbox: ResolvedMailbox): Reply | undefined {
    const block = this.ctx.state.blocked.get(mailbox.address.toLowerCase());
    if (!block) return undefined;
    const message =
      block.code === 'SubmissionQuotaExceeded'
        ? 'Cannot submit message. The sender has exceeded its submission quota.'
        : 'Cannot send mail. The mailbox has been blocked from sending messages.';
    return graphError(req, block.status ?? 403, block.code, message, block.retryAfter !== undefined ? { 'retry-after': block.retryAfter } : {});
  }

  /** The tenant's recipients-per-message limit (Exchange's RecipientLimits), else the sandbox default. */
  private recipientLimit(tenantId: string): number {
    return this.ctx.directory.tenantById(tenantId)?.maxRecipientsPerMessage ?? this.ctx.limits.maxRecipients;
  }

  private checkRecipients(req: RequestContext, message: Record<string, unknown>, tenantId: string): Reply | undefined {
    const list = (name: string): unknown[] => (Array.isArray(message[name]) ? (message[name] as unknown[]) : []);
    const recipients = [...list('toRecipients'), ...list('ccRecipients'), ...list('bccRecipients')];
    if (recipients.length === 0) {
      return graphError(req, 400, 'ErrorInvalidRecipients', 'At least one recipient is required, but none were found.');
    }
    const max = this.recipientLimit(tenantId);
    if (recipients.length > max) {
      return graphError(req, 400, 'ErrorTooManyRecipients', `The message exceeded the maximum number of recipients (${max}).`);
    }
    for (const r of [...recipients, ...list('replyTo')]) {
      const email = isRecord(r) && isRecord(r.emailAddress) ? r.emailAddress.address : undefined;
      if (typeof email !== 'string' || !EMAIL.test(email)) {
        const shown = typeof email === 'string' ? email : '';
        return graphError(
          req,
          400,
          'ErrorInvalidRecipients',
          `At least one recipient isn't valid., Recipient '${shown}' is not resolved. All recipients must be resolved before a message can be submitted.`,
        );
      }
    }
    return undefined;
  }

  private checkHeaders(req: RequestContext, message: Record<string, unknown>): Reply | undefined {
    const headers = message.internetMessageHeaders;
    if (!Array.isArray(headers)) return undefined;
    for (const h of headers) {
      const name = isRecord(h) ? h.name : undefined;
      if (typeof name !== 'string' || !/^x-/i.test(name)) {
        return graphError(
          req,
          400,
          'InvalidInternetMessageHeader',
          `The internet message header name '${typeof name === 'string' ? name : ''}' should start with 'x-' or 'X-'.`,
        );
      }
    }
    if (headers.length > this.ctx.limits.maxInternetMessageHeaders) {
      return graphError(
        req,
        400,
        'InvalidInternetMessageHeaderCollection',
        `Maximum number of headers in one message should be less than or equal to ${this.ctx.limits.maxInternetMessageHeaders}.`,
      );
    }
    return undefined;
  }

  /** Decoded summaries of the fileAttachments carried as base64 in the JSON. */
  private inlineAttachments(message: Record<string, unknown>): SentAttachment[] {
    const list = Array.isArray(message.attachments) ? message.attachments : [];
    return list.filter(isRecord).filter(isFileAttachment).map((a) => fileSummary(a));
  }

  private draftJson(draft: Draft): Record<string, unknown> {
    const base = this.ctx.baseUrl();
    const m = draft.message;
    const from = { emailAddress: { name: draft.mailbox.displayName, address: draft.mailbox.address } };
    const body = isRecord(m.body) ? m.body : { contentType: 'text', content: '' };
    const content = typeof body.content === 'string' ? body.content : '';
    return {
      '@odata.context': `${base}/v1.0/$metadata#users('${draft.mailbox.address}')/messages/$entity`,
      '@odata.etag': `W/"${draft.changeKey}"`,
      id: draft.id,
      createdDateTime: draft.createdAt.toISOString(),
      lastModifiedDateTime: draft.createdAt.toISOString(),
      changeKey: draft.changeKey,
      categories: m.categories ?? [],
      hasAttachments: draft.attachments.length > 0,
      subject: m.subject ?? '',
      bodyPreview: content.replace(/<[^>]*>/g, '').slice(0, 255),
      importance: m.importance ?? 'normal',
      isDeliveryReceiptRequested: m.isDeliveryReceiptRequested ?? false,
      isReadReceiptRequested: m.isReadReceiptRequested ?? false,
      isRead: true,
      isDraft: true,
      body,
      sender: from,
      from,
      toRecipients: m.toRecipients ?? [],
      ccRecipients: m.ccRecipients ?? [],
      bccRecipients: m.bccRecipients ?? [],
      replyTo: m.replyTo ?? [],
      // A draft has its thread and Internet ids before it is sent (kept when it is delivered).
      internetMessageId: this.read.draftMeta(draft.id).internetMessageId,
      conversationId: this.read.draftMeta(draft.id).conversationId,
      conversationIndex: this.read.draftMeta(draft.id).conversationIndex,
    };
  }

  private findDraft(req: RequestContext, mailbox: ResolvedMailbox, messageId: string): Draft | Reply {
    const draft = this.drafts.get(messageId);
    if (!draft || draft.mailbox.address !== mailbox.address) {
      return graphError(req, 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    }
    return draft;
  }

  private createDraft(req: RequestContext, claims: AccessTokenClaims, mailbox: ResolvedMailbox): Reply {
    const body = this.parse(req);
    if ('reply' in body) return body.reply;
    const error = this.ctx.schema.validateInstance(body.value, 'microsoft.graph.message');
    if (error) return graphError(req, 400, error.code, error.message);
    const message = body.value as Record<string, unknown>;
    const problem = this.checkAttachments(req, message) ?? this.checkHeaders(req, message);
    if (problem) return problem;
    const attachments = this.inlineAttachments(message);
    const bytes = attachments.reduce((sum, a) => sum + a.size, 0);
    if (bytes > this.ctx.limits.maxMessageBytes) return this.tooBig(req);
    return this.storeDraft(claims, mailbox, message, undefined, wantsImmutable(req));
  }

  /** Keeps a draft and answers 201 with it (POST /messages, and createReply / createForward with their thread). */
  private storeDraft(claims: AccessTokenClaims, mailbox: ResolvedMailbox, message: Record<string, unknown>, meta?: ConversationMeta, immutable = false): Reply {
    const attachments = this.inlineAttachments(message);
    const bytes = attachments.reduce((sum, a) => sum + a.size, 0);
    const draft: Draft = {
      // Immutable ids have their own prefix in Exchange (AAkA…), as the mail store's do.
      id: immutable ? exchangeId('AAkA') : newMessageId(),
      ...(immutable ? { immutable } : {}),
      tenantId: claims.tid,
      mailbox,
      appId: claims.appid,
      message,
      attachments,
      bytes,
      createdAt: new Date(),
      changeKey: randomBytes(12).toString('base64'),
    };
    this.drafts.set(draft.id, draft);
    if (meta) this.read.meta.set(draft.id, meta);
    return jsonReply(201, this.draftJson(draft), {
      ...(immutable ? { 'preference-applied': 'IdType="ImmutableId"' } : {}),
      location: `${this.ctx.baseUrl()}/v1.0/users/${encodeURIComponent(mailbox.address)}/messages/${encodeURIComponent(draft.id)}`,
    });
  }

  private tooBig(req: RequestContext): Reply {
    return graphError(req, 400, 'ErrorMessageSizeExceeded', `The message exceeds the maximum supported size of ${Math.round(this.ctx.limits.maxMessageBytes / MiB)} MB.`);
  }

  private draftItem(req: RequestContext, mailbox: ResolvedMailbox, messageId: string): Reply {
    const draft = this.findDraft(req, mailbox, messageId);
    if ('status' in draft) return draft;
    if (req.method === 'GET') return jsonReply(200, this.draftJson(draft));
    this.deleteDraft(draft.id);
    return { status: 204 };
  }

  private deleteDraft(id: string): void {
    this.drafts.delete(id);
    for (const [sid, s] of this.sessions) if (s.draftId === id) this.sessions.delete(sid);
  }

  private addAttachment(req: RequestContext, mailbox: ResolvedMailbox, messageId: string): Reply {
    const draft = this.findDraft(req, mailbox, messageId);
    if ('status' in draft) return draft;
    const body = this.parse(req);
    if ('reply' in body) return body.reply;
    const error = this.ctx.schema.validateInstance(body.value, 'microsoft.graph.attachment');
    if (error) return graphError(req, 400, error.code, error.message);
    const attachment = body.value as Record<string, unknown>;
    const problem = this.checkAttachments(req, { attachments: [attachment] });
    if (problem) return problem;
    const summary = isFileAttachment(attachment) ? fileSummary(attachment) : undefined;
    if (summary && summary.size > this.ctx.limits.maxDraftAttachmentBytes) {
      return graphError(req, 413, 'RequestEntityTooLarge', 'The maximum request length supported is 4MB.');
    }
    if (summary && draft.bytes + summary.size > this.ctx.limits.maxMessageBytes) return this.tooBig(req);
    const id = `AAMkAGI2${randomBytes(48).toString('base64url')}=`;
    pushAttachment(draft.message, attachment);
    if (summary) {
      draft.attachments.push(summary);
      draft.bytes += summary.size;
    }
    const echo: Record<string, unknown> = { ...attachment, id, lastModifiedDateTime: new Date().toISOString() };
    delete echo.contentBytes;
    if (summary) echo.size = summary.size;
    return jsonReply(201, {
      '@odata.context': `${this.ctx.baseUrl()}/v1.0/$metadata#users('${mailbox.address}')/messages('${draft.id}')/attachments/$entity`,
      ...echo,
    });
  }

  private createUploadSession(req: RequestContext, mailbox: ResolvedMailbox, messageId: string): Reply {
    const draft = this.findDraft(req, mailbox, messageId);
    if ('status' in draft) return draft;
    const body = this.parse(req);
    if ('reply' in body) return body.reply;
    const result = this.ctx.schema.validateAction('createUploadSession', body.value);
    if ('error' in result) return graphError(req, 400, result.error.code, result.error.message);
    const item = result.params.AttachmentItem as Record<string, unknown>;
    if (item.attachmentType !== undefined && String(item.attachmentType).toLowerCase() !== 'file') {
      return graphError(req, 400, 'ErrorInvalidRequest', 'The sandbox accepts upload sessions for file attachments only.');
    }
    if (typeof item.name !== 'string' || item.name === '' || typeof item.size !== 'number') {
      return graphError(req, 400, 'ErrorRequiredPropertyMissing', 'Required property is missing: AttachmentItem needs name and size.');
    }
    if (item.size < this.ctx.limits.minUploadSessionBytes) {
      return graphError(req, 400, 'ErrorAttachmentSizeShouldNotBeLessThanMinimumSize', 'Attachment size must be greater than the minimum size.');
    }
    if (draft.bytes + item.size > this.ctx.limits.maxMessageBytes) return this.tooBig(req);
    const session: UploadSession = {
      id: randomBytes(24).toString('base64url'),
      token: randomBytes(32).toString('base64url'),
      draftId: draft.id,
      mailbox: mailbox.address,
      name: item.name,
      contentType: typeof item.contentType === 'string' ? item.contentType : undefined,
      isInline: item.isInline === true,
      contentId: typeof item.contentId === 'string' ? item.contentId : undefined,
      size: item.size,
      received: 0,
      hash: createHash('sha256'),
      chunks: [],
      expiresAt: new Date(Date.now() + this.ctx.limits.uploadSessionLifetimeMs),
    };
    this.sessions.set(session.id, session);
    const owner = encodeURIComponent(`${mailbox.id}@${draft.tenantId}`);
    const uploadUrl =
      `${this.ctx.uploadBaseUrl()}/api/v2.0/Users('${owner}')/Messages('${encodeURIComponent(draft.id)}')` +
      `/AttachmentSessions('${session.id}')?authtoken=${session.token}`;
    return jsonReply(201, {
      '@odata.context': `${this.ctx.baseUrl()}/v1.0/$metadata#microsoft.graph.uploadSession`,
      uploadUrl,
      expirationDateTime: session.expiresAt.toISOString(),
      nextExpectedRanges: ['0-'],
    });
  }

  /** PUT or DELETE on an upload URL: pre-authenticated by its authtoken, never by a bearer token. */
  async upload(route: UploadRoute, req: RequestContext): Promise<Reply> {
    await req.latency();
    const session = this.sessions.get(route.sessionId);
    if (!session || session.token !== req.query.get('authtoken')) {
      return graphError(req, 404, 'ErrorItemNotFound', 'The upload session was not found or its URL is not valid.');
    }
    if (header(req.headers, 'authorization') !== undefined) {
      // The URL carries its own credential; a bearer token sent here would leak to another host.
      return graphError(req, 401, 'InvalidAuthenticationToken', 'Do not send an Authorization header to a pre-authenticated upload URL.');
    }
    if (session.expiresAt.getTime() < Date.now()) {
      this.sessions.delete(session.id);
      return graphError(req, 404, 'ErrorItemNotFound', 'The upload session has expired.');
    }
    if (req.method === 'DELETE') {
      this.sessions.delete(session.id);
      return { status: 204 };
    }
    if (req.method !== 'PUT') return graphError(req, 405, 'Request_BadRequest', `The HTTP method '${req.method}' is not allowed on an upload URL.`);
    if (req.bodyLength > this.ctx.limits.maxUploadChunkBytes) {
      return graphError(req, 413, 'RequestEntityTooLarge', `Each PUT to an upload URL may carry at most ${this.ctx.limits.maxUploadChunkBytes} bytes.`);
    }
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header(req.headers, 'content-range') ?? '');
    if (!range) return graphError(req, 400, 'InvalidContentRange', "The Content-Range header is missing or not of the form 'bytes start-end/total'.");
    const [start, end, total] = [Number(range[1]), Number(range[2]), Number(range[3])];
    if (total !== session.size) {
      return graphError(req, 400, 'InvalidContentRange', `The total in Content-Range (${total}) is not the attachment size given to createUploadSession (${session.size}).`);
    }
    if (end < start || end >= total || end - start + 1 !== req.bodyLength) {
      return graphError(req, 400, 'InvalidContentRange', `Content-Range bytes ${start}-${end} does not match the ${req.bodyLength} bytes sent.`);
    }
    if (start !== session.received) {
      return graphError(req, 416, 'InvalidRange', `The next expected range starts at ${session.received}.`);
    }
    const draft = this.drafts.get(session.draftId);
    if (!draft) {
      this.sessions.delete(session.id);
      return graphError(req, 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    }
    session.hash.update(req.body);
    session.chunks.push(Buffer.from(req.body));
    session.received = end + 1;
    if (session.received < session.size) {
      // As Outlook answers: the next start alone, no dash ("NextExpectedRanges":["2097152"] in
      // https://learn.microsoft.com/graph/api/attachment-createuploadsession).
      return jsonReply(200, { expirationDateTime: session.expiresAt.toISOString(), nextExpectedRanges: [String(session.received)] });
    }
    this.sessions.delete(session.id);
    const attachmentId = `AAMkAGI2${randomBytes(48).toString('base64url')}=`;
    this.read.uploaded.set(attachmentId, Buffer.concat(session.chunks));
    pushAttachment(draft.message, {
      '@odata.type': '#microsoft.graph.fileAttachment',
      id: attachmentId,
      name: session.name,
      contentType: session.contentType,
      size: session.size,
      isInline: session.isInline,
      contentId: session.contentId,
    });
    draft.attachments.push({
      name: session.name,
      contentType: session.contentType,
      size: session.size,
      isInline: session.isInline,
      contentId: session.contentId,
      sha256: session.hash.digest('hex'),
      via: 'upload',
    });
    draft.bytes += session.size;
    return {
      status: 201,
      headers: {
        location: `${this.ctx.baseUrl()}/v1.0/users('${draft.mailbox.id}')/messages('${encodeURIComponent(draft.id)}')/attachments('${attachmentId}')`,
      },
    };
  }

  private sendDraft(req: RequestContext, claims: AccessTokenClaims, mailbox: ResolvedMailbox, messageId: string): Reply {
    const draft = this.findDraft(req, mailbox, messageId);
    if ('status' in draft) return draft;
    const problem = this.checkRecipients(req, draft.message, claims.tid) ?? this.checkHeaders(req, draft.message) ?? this.checkBlocked(req, mailbox);
    if (problem) return problem;
    this.deleteDraft(draft.id);
    this.ctx.state.recordMail({
      id: draft.id,
      sender: mailbox.address,
      message: draft.message,
      attachments: draft.attachments,
      saveToSentItems: true,
      path: 'uploadSession',
      ...(draft.immutable ? { immutableId: draft.id } : {}),
      clientRequestId: req.clientRequestId,
      requestId: req.requestId,
      appId: claims.appid,
      receivedAt: new Date(),
    });
    return { status: 202 };
  }

  /** Drafts and upload sessions open now (for tests that check clean-up). */
  openItems(): { drafts: number; uploadSessions: number } {
    return { drafts: this.drafts.size, uploadSessions: this.sessions.size };
  }
}

function isFileAttachment(a: Record<string, unknown>): boolean {
  const type = typeof a['@odata.type'] === 'string' ? a['@odata.type'].replace(/^#/, '').toLowerCase() : '';
  return type === 'microsoft.graph.fileattachment' || type === 'fileattachment';
}

function fileSummary(a: Record<string, unknown>): SentAttachment {
  const b64 = typeof a.contentBytes === 'string' ? a.contentBytes : '';
  const bytes = Buffer.from(b64, 'base64');
  return {
    name: typeof a.name === 'string' ? a.name : '',
    contentType: typeof a.contentType === 'string' ? a.contentType : undefined,
    size: b64 ? base64DecodedLength(b64) : 0,
    isInline: a.isInline === true,
    contentId: typeof a.contentId === 'string' ? a.contentId : undefined,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    via: 'inline',
  };
}

function pushAttachment(message: Record<string, unknown>, attachment: Record<string, unknown>): void {
  if (!Array.isArray(message.attachments)) message.attachments = [];
  (message.attachments as unknown[]).push(attachment);
}
