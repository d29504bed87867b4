/**
 * Chooses how a composed mail travels and sends it:
 * - `sendMail`: the whole message, attachments in base64, in one request while that request stays
 *   within Graph's 4 MB;
 * - `uploadSession`: a draft (`POST /users/{sender}/messages`) carrying the small attachments that
 *   fit, the other small ones added one by one, each large file through an upload session as raw
 *   slices of 3.75 MiB (views on the caller's Buffer: the file is neither copied nor encoded),
 *   then `POST .../send`. Any failure before the send deletes the draft: nothing half-built stays.
 *   Also taken by every mail when its ids must be known (returnMessageIds): a draft has them.
 * - answers (reply, replyAll, forward): `POST /users/{mailbox}/messages/{id}/{action}` in one
 *   request, or, when the files do not fit in one, the same draft steps from createReply /
 *   createReplyAll / createForward.
 */
import type { Message } from '@microsoft/microsoft-graph-types';
import { MailError, amend, validationError, withHint } from './errors';
import { domainOf } from './recipients';
import { fileAttachmentJsonBytes, toFileAttachment } from './attachments';
import { GRAPH_MAX_REQUEST_BYTES, type AnswerAction, type AnswerBody, type DraftResult, type GraphCallResult, type GraphClient } from './graph';
import type { AccessToken } from './token';
import type { ComposedMail, MessageIds, PreparedAttachment, SendPath } from './types';

/**
 * Files from this size go through an upload session; smaller ones travel in JSON. Microsoft documents
 * upload sessions for 3 MB to 150 MB, and adding a file to a draft fails above about 3,145,611 bytes
 * (its base64 request then passes 4 MB): 3,000,000 keeps every JSON attachment clear of that edge.
 */
export const UPLOAD_SESSION_MIN_BYTES = 3_000_000;
/**
 * Bytes per PUT: 12 × 320 KiB = 3.75 MiB. Under 4 MiB and under Graph's documented "less than
 * 4 MB" however MB is counted, and a multiple of 320 KiB as Microsoft's upload APIs prefer.
 */
export const UPLOAD_CHUNK_BYTES = 12 * 320 * 1024;

export interface DeliveryJob {
  mail: ComposedMail;
  saveToSentItems: boolean;
  timeoutMs: number;
  /** Aborts requests in flight (a shutdown's grace period ending); the draft is still deleted. */
  aborting?: AbortSignal;
  /** Set for reply, replyAll and forward: the message answered (in the mailbox `deliver` is given). */
  answer?: { action: AnswerAction; messageId: string };
  /** Through a draft even when one request would do, so the mail's ids are known (Mail.ReadWrite). */
  viaDraft?: boolean;
  /**
   * The connection's allowed recipient domains (lower-case; empty: any). A reply's recipients are
   * Graph's choice, so with a list a reply or reply all goes through its draft, whose recipients
   * are checked before it is sent.
   */
  allowedRecipientDomains?: readonly string[];
}

export interface DeliveryResult extends GraphCallResult, Partial<MessageIds> {
  path: SendPath;
}

/** A fresh (possibly cached) token: a long upload may outlive the one the delivery started with. */
export type TokenSource = () => Promise<AccessToken>;

export interface DeliveryOptions {
  renew?: TokenSource;
}

/** Bytes of the sendMail request body for this mail, computed without base64-encoding anything. */
export function sendMailRequestBytes(mail: ComposedMail, saveToSentItems: boolean): number {
  const fields = JSON.stringify(saveToSentItems ? { message: mail.fields } : { message: mail.fields, saveToSentItems: false });
  if (mail.attachments.length === 0) return Buffer.byteLength(fields);
  // `"attachments":[...]` inside the message object: key, brackets, commas, then each attachment.
  const list = mail.attachments.reduce((sum, a) => sum + fileAttachmentJsonBytes(a), 0) + (mail.attachments.length - 1);
  return Buffer.byteLength(fields) + Buffer.byteLength(',"attachments":[]') + list;
}

/** The path a mail takes: decided by the size of the sendMail request it would make. */
export function choosePath(mail: ComposedMail, saveToSentItems: boolean): SendPath {
  // Without attachments a draft would be the same size as the sendMail request, so there is
  // nothing to gain (sendMail checks its own size): this skips a serialisation per mail.
  if (mail.attachments.length === 0) return 'sendMail';
  return sendMailRequestBytes(mail, saveToSentItems) <= GRAPH_MAX_REQUEST_BYTES ? 'sendMail' : 'uploadSession';
}

/**
 * Sends one mail by the path its size calls for; resolves with the ids of the request that sent it.
 * `token` is used for the first call; `options.renew`, when given, is asked again before later
 * steps.
 */
export async function deliver(graph: GraphClient, sender: string, job: DeliveryJob, token: AccessToken, options: DeliveryOptions = {}): Promise<DeliveryResult> {
  const { mail, answer } = job;
  if (answer) {
    const body = answerBody(mail, answer.action);
    const fits = mail.attachments.length === 0 || answerRequestBytes(mail, body) <= GRAPH_MAX_REQUEST_BYTES;
    const domains = answer.action === 'forward' ? [] : (job.allowedRecipientDomains ?? []);
    if (fits && !job.viaDraft && domains.length === 0) {
      const message: Message = mail.attachments.length ? { ...body.message, attachments: mail.attachments.map(toFileAttachment) } : (body.message ?? {});
      const ids = await graph.answer(sender, answer.messageId, answer.action, { ...body, message }, token.token, job.timeoutMs, job.aborting);
      return { ...ids, path: answer.action };
    }
    if (!graph.uploadSessions && mail.attachments.some((a) => a.bytes.length >= UPLOAD_SESSION_MIN_BYTES)) throw noUploadSessions(mail, job);
    const create: DraftMaker = (message, draftToken, timeoutMs, signal) =>
      graph.createAnswerDraft(sender, answer.messageId, answer.action, { ...body, message }, draftToken, timeoutMs, signal);
    const check = domains.length ? (draft: DraftResult) => recipientOutside(draft, domains) : undefined;
    return new UploadDelivery(graph, sender, job, token, options.renew, body.message ?? {}, create, answer.action, check).run();
  }
  if (!job.viaDraft && choosePath(mail, job.saveToSentItems) === 'sendMail') {
    const message: Message = mail.attachments.length ? { ...mail.fields, attachments: mail.attachments.map(toFileAttachment) } : mail.fields;
    const ids = await graph.sendMail(sender, message, job.saveToSentItems, token.token, job.timeoutMs, job.aborting);
    return { ...ids, path: 'sendMail' };
  }
  // Refused here, before a draft exists: that cloud's Graph has no upload sessions.
  if (!graph.uploadSessions && choosePath(mail, job.saveToSentItems) !== 'sendMail') throw noUploadSessions(mail, job);
  const create: DraftMaker = (message, draftToken, timeoutMs, signal) => graph.createDraft(sender, message, draftToken, timeoutMs, signal);
  return new UploadDelivery(graph, sender, job, token, options.renew, mail.fields, create, 'uploadSession').run();
}

function noUploadSessions(mail: ComposedMail, job: DeliveryJob): MailError {
  return new MailError({ category: 'size', code: 'UploadSessionUnavailable', messageKey: 'largeMailUnavailable', hintKey: 'uploadSessionNotInCloud', params: { size: sendMailRequestBytes(mail, job.saveToSentItems) } });
}

/**
 * An answer's request: the text as `comment`, and in `message` what the answer adds. Reply and
 * reply all go to whom Graph takes from the original (To and Cc are not read for them); Bcc is
 * added. A forward goes to To, Cc and Bcc.
 */
export function answerBody(mail: ComposedMail, action: AnswerAction): AnswerBody {
  const { fields } = mail;
  const message: Message = {};
  if (action === 'forward') {
    if (fields.toRecipients?.length) message.toRecipients = fields.toRecipients;
    if (fields.ccRecipients?.length) message.ccRecipients = fields.ccRecipients;
  }
  if (fields.bccRecipients?.length) message.bccRecipients = fields.bccRecipients;
  for (const key of ['importance', 'internetMessageHeaders', 'isReadReceiptRequested', 'isDeliveryReceiptRequested', 'categories'] as const) {
    if (fields[key] !== undefined) (message as Record<string, unknown>)[key] = fields[key];
  }
  const text = fields.body?.content ?? '';
  return { ...(text ? { comment: text } : {}), ...(Object.keys(message).length ? { message } : {}) };
}

/** Bytes of an answer's request with every attachment in it, computed without base64-encoding. */
function answerRequestBytes(mail: ComposedMail, body: AnswerBody): number {
  const list = mail.attachments.reduce((sum, a) => sum + fileAttachmentJsonBytes(a), 0) + Math.max(0, mail.attachments.length - 1);
  return Buffer.byteLength(JSON.stringify({ ...body, message: body.message ?? {} })) + Buffer.byteLength(',"attachments":[]') + list;
}

/** A refusal when the draft Graph made goes to a domain the connection does not allow. */
function recipientOutside(draft: DraftResult, domains: readonly string[]): MailError | undefined {
  const refused = draft.recipients.find((address) => !domains.includes(domainOf(address)));
  return refused === undefined ? undefined : validationError('RecipientDomainNotAllowed', 'domainNotAllowed', { field: 'to', value: refused }, 'domainNotAllowed');
}

/** Makes the draft (a new mail, or an answer in its thread) with the message fields given. */
type DraftMaker = (message: Message, token: string, timeoutMs: number, signal?: AbortSignal) => Promise<DraftResult>;

class UploadDelivery {
  private draftId?: string;
  private current: AccessToken;

  constructor(
    private readonly graph: GraphClient,
    private readonly sender: string,
    private readonly job: DeliveryJob,
    token: AccessToken,
    private readonly renew: TokenSource | undefined,
    /** The draft's fields without attachments. */
    private readonly fields: Message,
    private readonly create: DraftMaker,
    private readonly path: SendPath,
    /** A refusal of the draft as Graph made it (nothing sent: the draft is deleted). */
    private readonly check?: (draft: DraftResult) => MailError | undefined,
  ) {
    this.current = token;
  }

  async run(): Promise<DeliveryResult> {
    const { fields } = this;
    const { attachments } = this.job.mail;
    const large = attachments.filter((a) => a.bytes.length >= UPLOAD_SESSION_MIN_BYTES);
    const small = attachments.filter((a) => a.bytes.length < UPLOAD_SESSION_MIN_BYTES);
    const { inDraft, separate } = packSmall(fields, small);
    const timeoutMs = this.job.timeoutMs;
    const draftMessage: Message = inDraft.length ? { ...fields, attachments: inDraft.map(toFileAttachment) } : fields;
    let draft: DraftResult;
    try {
      draft = await this.create(draftMessage, this.current.token, timeoutMs, this.job.aborting);
    } catch (err) {
      throw this.draftFailure(err);
    }
    const draftId = draft.id;
    this.draftId = draftId;
    const refused = this.check?.(draft);
    if (refused) {
      await this.discard();
      throw refused;
    }
    let step = '';
    try {
      for (const a of separate) {
        step = `addAttachment ${a.name}`;
        const token = await this.token();
        await this.graph.addAttachment(this.sender, draftId, toFileAttachment(a), token, timeoutMs, this.job.aborting);
      }
      for (const a of large) {
        step = `upload ${a.name}`;
        await this.upload(draftId, a);
      }
    } catch (err) {
      await this.discard();
      throw this.draftFailure(err, step);
    }
    let sent: GraphCallResult;
    try {
      const token = await this.token();
      sent = await this.graph.sendDraft(this.sender, draftId, token, timeoutMs, this.job.aborting);
    } catch (err) {
      // If the send may have happened, the draft may now be the Sent Items copy: leave it alone.
      if (err instanceof MailError && err.category === 'unknown-outcome') throw err;
      await this.discard();
      throw this.draftFailure(err, 'send');
    }
    const ids: MessageIds = { messageId: draftId, internetMessageId: draft.internetMessageId, conversationId: draft.conversationId };
    return { ...sent, ...ids, path: this.path };
  }

  /** One file through its own upload session, in slices that are views on the caller's Buffer. */
  private async upload(draftId: string, a: PreparedAttachment): Promise<void> {
    const timeoutMs = this.job.timeoutMs;
    const total = a.bytes.length;
    const token = await this.token();
    const item = { name: a.name, size: total, contentType: a.contentType, isInline: a.contentId !== undefined, contentId: a.contentId };
    const session = await this.graph.createUploadSession(this.sender, draftId, item, token, timeoutMs, this.job.aborting);
    let start = 0;
    while (start < total) {
      const chunk = a.bytes.subarray(start, Math.min(start + UPLOAD_CHUNK_BYTES, total));
      const result = await this.graph.putChunk(session.uploadUrl, chunk, start, total, timeoutMs, this.job.aborting);
      if (result.complete) return;
      // Graph says where it wants to continue; without that, the next slice follows this one.
      const next = result.nextStart ?? start + chunk.length;
      if (next <= start || next > total) throw incompleteUpload(a.name);
      start = next;
    }
    // Every byte was accepted (an upload URL that answers the last PUT with 200, not 201).
  }

  private async token(): Promise<string> {
    if (this.renew) this.current = await this.renew();
    return this.current.token;
  }

  /** Best effort: the error that made us stop is what the user needs to see, not this one's. */
  private async discard(): Promise<void> {
    if (this.draftId === undefined) return;
    const id = this.draftId;
    this.draftId = undefined;
    try {
      const token = await this.token();
      await this.graph.deleteDraft(this.sender, id, token, this.job.timeoutMs);
    } catch {
      // An unsent draft may stay behind; the send itself failed either way.
    }
  }

  /**
   * Refusals of the draft steps for lack of Mail.ReadWrite say so; a failure after the draft was
   * made says which step failed and that the draft was deleted (nothing was sent).
   */
  private draftFailure(err: unknown, step?: string): unknown {
    if (!(err instanceof MailError)) return err;
    const out = step === undefined ? err : amend(err, { messageKey: 'largeMailFailed', params: { step } });
    // With roles known to include Mail.ReadWrite, a 403 has another cause (RBAC scope).
    if (out.category === 'permission' && out.status === 403 && !this.current.roles?.includes('Mail.ReadWrite')) {
      return withHint(out, 'permission', 'needsMailReadWrite');
    }
    return out;
  }
}

/**
 * Small attachments in the draft's own JSON while it stays under Graph's request limit; the rest
 * are added one per request (each is under 3 MB, so under 4 MB in base64).
 */
function packSmall(fields: Message, small: PreparedAttachment[]): { inDraft: PreparedAttachment[]; separate: PreparedAttachment[] } {
  let size = Buffer.byteLength(JSON.stringify(fields)) + Buffer.byteLength(',"attachments":[]');
  const inDraft: PreparedAttachment[] = [];
  const separate: PreparedAttachment[] = [];
  for (const a of small) {
    const cost = fileAttachmentJsonBytes(a) + 1;
    if (size + cost <= GRAPH_MAX_REQUEST_BYTES) {
      inDraft.push(a);
      size += cost;
    } else {
      separate.push(a);
    }
  }
  return { inDraft, separate };
}

function incompleteUpload(name: string): MailError {
  return new MailError({ category: 'server', code: 'UploadIncomplete', messageKey: 'uploadIncomplete', hintKey: 'graphUnavailable', params: { value: name } });
}
