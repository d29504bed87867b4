/** Graph mail calls on the connection's axios instance, with Graph's error JSON turned into MailError. */
import { randomUUID } from 'node:crypto';
import type { AxiosInstance, AxiosResponse } from 'axios';
import type { FileAttachment, Message } from '@microsoft/microsoft-graph-types';
import { MailError, graphError, networkError, sizeError } from './errors';
import { flatHeaders, retryAfterSeconds, transportFailure } from './http';
import { hasUploadSessions } from './clouds';

export interface GraphCallResult {
  requestId: string;
  clientRequestId: string;
}

/** Graph refuses requests over 4 MB with 413; checked here so a large mail is not uploaded in vain. */
export const GRAPH_MAX_REQUEST_BYTES = 4 * 1024 * 1024;

/**
 * Drafts are made with immutable ids: the id then stays the item's once the draft is sent into Sent
 * Items, so msg.email.messageId finds the sent mail (https://learn.microsoft.com/graph/outlook-immutable-id).
 */
const IMMUTABLE_IDS: Readonly<Record<string, string>> = { Prefer: 'IdType="ImmutableId"' };

/** A draft created by `POST /users/{sender}/messages` (or createReply, createForward …), with its ids. */
export interface DraftResult extends GraphCallResult {
  id: string;
  internetMessageId?: string;
  conversationId?: string;
  /** To, Cc and Bcc addresses as the draft holds them (an answer's are Graph's choice). */
  recipients: string[];
}

/** More recipients than Exchange ever takes in one message are not read from an answer. */
const MAX_DRAFT_RECIPIENTS = 1000;

/** An answer's action in Graph's URL: `reply`, `replyAll`, `forward`. */
export type AnswerAction = 'reply' | 'replyAll' | 'forward';

/**
 * The body of reply / replyAll / forward and of their create… drafts: the text as `comment`
 * (Graph puts it above the quoted original; `message.body` would replace the whole body) and the
 * rest (recipients, attachments) in `message`.
 */
export interface AnswerBody {
  comment?: string;
  message?: Message;
}

/** What createUploadSession needs to know of one file (`AttachmentItem`). */
export interface UploadItem {
  name: string;
  size: number;
  contentType: string;
  isInline: boolean;
  contentId?: string;
}

export interface UploadSessionResult extends GraphCallResult {
  /** Pre-authenticated: its query holds a credential, so it never goes into a log or an error. */
  uploadUrl: string;
}

export interface ChunkResult {
  /** True when the server has the whole file (201). */
  complete: boolean;
  /** Where the server wants the next bytes from (`nextExpectedRanges[0]`'s start), when it said. */
  nextStart?: number;
}

interface RequestOptions {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  body?: string | Buffer;
  headers?: Readonly<Record<string, string>>;
  /** Undefined for pre-authenticated upload URLs: no Authorization header goes there. */
  token?: string;
  timeoutMs: number;
  /**
   * Whether a lost answer leaves the mail's fate unknown. Only the sending calls (sendMail, send)
   * can deliver mail; a draft step that fails in flight has sent nothing.
   */
  sends: boolean;
  /** Aborts the request (the end of a shutdown's grace period). */
  signal?: AbortSignal;
  /** Raw bytes (an attachment's `$value`) instead of JSON, at most this many. */
  maxBytes?: number;
}

/** One call of the reading side (the mail-in node): a path under `/v1.0/users/{mailbox}/`, or a link Graph gave. */
export interface ReadCall {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** `users/...` below `/v1.0/`, or an absolute `@odata.nextLink` / `@odata.deltaLink` on this Graph host. */
  url: string;
  body?: unknown;
  headers?: Readonly<Record<string, string>>;
  token: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Answer as raw bytes, refused past this size. */
  maxBytes?: number;
}

/** A 2xx answer of Graph with its ids. */
export interface GraphResponse extends GraphCallResult {
  status: number;
  data: unknown;
}

/** What a read (`GraphClient.read`) gives. */
export type ReadResult = GraphResponse;

interface GraphErrorBody {
  error?: { code?: string; message?: string; innerError?: { 'request-id'?: string } };
}

export class GraphClient {
  /** False in the clouds whose Graph has no upload sessions for attachments (US Government L4/L5). */
  readonly uploadSessions: boolean;

  constructor(
    private readonly http: AxiosInstance,
    private readonly graphUrl: string,
    private readonly secrets: readonly string[],
  ) {
    this.uploadSessions = hasUploadSessions(graphUrl);
  }

  /**
   * `POST /users/{sender}/sendMail`; resolves on 202, throws MailError otherwise. Every call takes
   * an optional `signal` that aborts it (a shutdown's grace period ending); deleteDraft does not,
   * as cleaning up must still happen then.
   */
  async sendMail(sender: string, message: Message, saveToSentItems: boolean, token: string, timeoutMs: number, signal?: AbortSignal): Promise<GraphCallResult> {
    const url = `${this.graphUrl}/v1.0/users/${userSegment(sender)}/sendMail`;
    // Graph's default is to save; the field is sent only to turn it off.
    // Encoded once here: the size check and axios both use these bytes.
    const body = Buffer.from(JSON.stringify(saveToSentItems ? { message } : { message, saveToSentItems: false }));
    const bytes = body.length;
    if (bytes > GRAPH_MAX_REQUEST_BYTES) {
      throw sizeError('RequestTooLarge', 'requestTooLarge', bytes, GRAPH_MAX_REQUEST_BYTES);
    }
    return this.request({ method: 'POST', url, body, token, timeoutMs, signal, sends: true });
  }

  /** `POST /users/{sender}/messages`: a draft of the message (with the attachments given in it). */
  async createDraft(sender: string, message: Message, token: string, timeoutMs: number, signal?: AbortSignal): Promise<DraftResult> {
    const url = `${this.messagesUrl(sender)}`;
    const response = await this.request({ method: 'POST', url, body: JSON.stringify(message), headers: IMMUTABLE_IDS, token, timeoutMs, signal, sends: false });
    return draftOf(response);
  }

  /**
   * `POST /users/{mailbox}/messages/{id}/reply|replyAll|forward`: the answer goes out at once (202).
   * https://learn.microsoft.com/graph/api/message-reply (and message-replyall, message-forward)
   */
  async answer(mailbox: string, messageId: string, action: AnswerAction, body: AnswerBody, token: string, timeoutMs: number, signal?: AbortSignal): Promise<GraphCallResult> {
    const url = `${this.messageUrl(mailbox, messageId)}/${action}`;
    const bytes = Buffer.from(JSON.stringify(body));
    if (bytes.length > GRAPH_MAX_REQUEST_BYTES) throw sizeError('RequestTooLarge', 'requestTooLarge', bytes.length, GRAPH_MAX_REQUEST_BYTES);
    const { requestId, clientRequestId } = await this.request({ method: 'POST', url, body: bytes, token, timeoutMs, signal, sends: true });
    return { requestId, clientRequestId };
  }

  /**
   * `POST …/messages/{id}/createReply|createReplyAll|createForward`: the answer as a draft in the
   * thread (201), for files too large for one request. https://learn.microsoft.com/graph/api/message-createreply
   */
  async createAnswerDraft(mailbox: string, messageId: string, action: AnswerAction, body: AnswerBody, token: string, timeoutMs: number, signal?: AbortSignal): Promise<DraftResult> {
    const url = `${this.messageUrl(mailbox, messageId)}/create${action.charAt(0).toUpperCase()}${action.slice(1)}`;
    const response = await this.request({ method: 'POST', url, body: JSON.stringify(body), headers: IMMUTABLE_IDS, token, timeoutMs, signal, sends: false });
    return draftOf(response);
  }

  /** `POST /users/{sender}/messages/{id}/attachments`: one small file (base64 in JSON). */
  async addAttachment(sender: string, messageId: string, attachment: FileAttachment, token: string, timeoutMs: number, signal?: AbortSignal): Promise<GraphCallResult> {
    const url = `${this.messageUrl(sender, messageId)}/attachments`;
    const { requestId, clientRequestId } = await this.request({ method: 'POST', url, body: JSON.stringify(attachment), token, timeoutMs, signal, sends: false });
    return { requestId, clientRequestId };
  }

  /** `POST .../attachments/createUploadSession`: a pre-authenticated URL for one large file. */
  async createUploadSession(sender: string, messageId: string, item: UploadItem, token: string, timeoutMs: number, signal?: AbortSignal): Promise<UploadSessionResult> {
    const url = `${this.messageUrl(sender, messageId)}/attachments/createUploadSession`;
    const attachmentItem: Record<string, unknown> = { attachmentType: 'file', name: item.name, size: item.size, contentType: item.contentType };
    if (item.isInline) attachmentItem.isInline = true;
    if (item.contentId) attachmentItem.contentId = item.contentId;
    const response = await this.request({ method: 'POST', url, body: JSON.stringify({ AttachmentItem: attachmentItem }), token, timeoutMs, signal, sends: false });
    const uploadUrl = (response.data as { uploadUrl?: unknown } | undefined)?.uploadUrl;
    if (typeof uploadUrl !== 'string' || !/^https:\/\//i.test(uploadUrl)) throw unexpectedAnswer(response);
    return { uploadUrl, requestId: response.requestId, clientRequestId: response.clientRequestId };
  }

  /**
   * `PUT uploadUrl` with raw bytes `start`..`start + chunk.length - 1` of `total`. No Authorization
   * header: the URL carries its own credential, and a bearer token must not go to another host.
   */
  async putChunk(uploadUrl: string, chunk: Buffer, start: number, total: number, timeoutMs: number, signal?: AbortSignal): Promise<ChunkResult> {
    const end = start + chunk.length - 1;
    const response = await this.request({
      method: 'PUT',
      url: uploadUrl,
      body: chunk,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `bytes ${start}-${end}/${total}`, 'Content-Length': String(chunk.length) },
      timeoutMs,
      signal,
      sends: false,
    });
    if (response.status === 201) return { complete: true };
    const ranges = (response.data as { nextExpectedRanges?: unknown } | undefined)?.nextExpectedRanges;
    // Outlook's upload URLs answer `["<start>"]` (a single number); the generic form is `"<start>-<end>"`.
    const first = Array.isArray(ranges) && typeof ranges[0] === 'string' ? /^(\d{1,15})(?:-\d{0,15})?$/.exec(ranges[0].trim()) : null;
    return first ? { complete: false, nextStart: Number(first[1]) } : { complete: false };
  }

  /** `POST /users/{sender}/messages/{id}/send`: the draft goes out (and to Sent Items). */
  async sendDraft(sender: string, messageId: string, token: string, timeoutMs: number, signal?: AbortSignal): Promise<GraphCallResult> {
    const url = `${this.messageUrl(sender, messageId)}/send`;
    const { requestId, clientRequestId } = await this.request({ method: 'POST', url, token, timeoutMs, signal, sends: true });
    return { requestId, clientRequestId };
  }

  /** `DELETE /users/{sender}/messages/{id}`: removes a draft that could not be completed. */
  async deleteDraft(sender: string, messageId: string, token: string, timeoutMs: number): Promise<GraphCallResult> {
    const url = this.messageUrl(sender, messageId);
    const { requestId, clientRequestId } = await this.request({ method: 'DELETE', url, token, timeoutMs, sends: false });
    return { requestId, clientRequestId };
  }

  /**
   * A call of the reading side. Links Graph handed out (nextLink, deltaLink) are followed only on
   * this connection's own Graph host: a bearer token never goes anywhere else.
   */
  async read(call: ReadCall): Promise<ReadResult> {
    const url = /^https:\/\//i.test(call.url) ? call.url : `${this.graphUrl}/v1.0/${call.url}`;
    if (!this.isOwnLink(url)) {
      throw new MailError({ category: 'server', code: 'ForeignLink', messageKey: 'unexpectedAnswer', hintKey: 'graphUnavailable', params: { status: 0 } });
    }
    const response = await this.request({
      method: call.method,
      url,
      body: call.body === undefined ? undefined : JSON.stringify(call.body),
      headers: call.headers,
      token: call.token,
      timeoutMs: call.timeoutMs,
      signal: call.signal,
      maxBytes: call.maxBytes,
      sends: false,
    });
    return response;
  }

  /** True for an absolute URL on this connection's Graph base (same origin, under its path). */
  isOwnLink(url: string): boolean {
    const base = this.graphUrl.replace(/\/+$/, '');
    return url.slice(0, base.length + 1).toLowerCase() === `${base}/`.toLowerCase();
  }

  private messagesUrl(sender: string): string {
    return `${this.graphUrl}/v1.0/users/${userSegment(sender)}/messages`;
  }

  private messageUrl(sender: string, messageId: string): string {
    return `${this.messagesUrl(sender)}/${encodeURIComponent(messageId)}`;
  }

  /** One Graph request; resolves on 2xx with the parsed answer, throws MailError otherwise. */
  private async request(options: RequestOptions): Promise<GraphResponse> {
    const clientRequestId = randomUUID();
    const headers: Record<string, string> = { 'client-request-id': clientRequestId, 'return-client-request-id': 'true', ...options.headers };
    if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
    // Graph's bodies are JSON, except the upload slices, which say what they are.
    if (options.body !== undefined && !headers['Content-Type']) headers['Content-Type'] = 'application/json';
    let response: AxiosResponse<unknown>;
    try {
      response = await this.http.request({
        method: options.method,
        url: options.url,
        data: options.body,
        headers,
        timeout: options.timeoutMs,
        signal: options.signal,
        ...(options.maxBytes !== undefined ? { responseType: 'arraybuffer' as const, maxContentLength: options.maxBytes } : {}),
      });
    } catch (err) {
      const failure = transportFailure(err, options.url);
      throw networkError(options.sends ? failure : { ...failure, maybeSent: false }, 'graph', clientRequestId);
    }
    const flat = flatHeaders(response.headers);
    const requestId = flat['request-id'] ?? '';
    if (response.status >= 200 && response.status < 300) return { status: response.status, data: response.data, requestId, clientRequestId };
    // An error answer to a bytes request is still Graph's error JSON.
    if (Buffer.isBuffer(response.data)) response.data = parseJsonBuffer(response.data);
    const data = (typeof response.data === 'object' && response.data !== null ? response.data : {}) as GraphErrorBody;
    throw graphError(
      {
        status: response.status,
        graphCode: data.error?.code,
        message: data.error?.message,
        requestId: requestId || data.error?.innerError?.['request-id'],
        clientRequestId,
        retryAfterSeconds: retryAfterSeconds(flat['retry-after']),
      },
      this.secrets,
    );
  }
}

/** A draft's id and the ids Graph gives it on creation (kept when it is sent). */
function draftOf(response: GraphResponse): DraftResult {
  const data = (response.data ?? {}) as { id?: unknown; internetMessageId?: unknown; conversationId?: unknown; toRecipients?: unknown; ccRecipients?: unknown; bccRecipients?: unknown };
  if (typeof data.id !== 'string' || data.id === '') throw unexpectedAnswer(response);
  const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' && value.length <= 1024 ? value : undefined);
  const recipients: string[] = [];
  for (const list of [data.toRecipients, data.ccRecipients, data.bccRecipients]) {
    if (!Array.isArray(list)) continue;
    for (const r of list.slice(0, MAX_DRAFT_RECIPIENTS)) {
      const address = text((r as { emailAddress?: { address?: unknown } } | null)?.emailAddress?.address);
      if (address) recipients.push(address);
    }
  }
  return {
    recipients,
    id: data.id,
    internetMessageId: text(data.internetMessageId),
    conversationId: text(data.conversationId),
    requestId: response.requestId,
    clientRequestId: response.clientRequestId,
  };
}

function parseJsonBuffer(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.subarray(0, 64 * 1024).toString('utf8')) as unknown;
  } catch {
    return {};
  }
}

/** A 2xx answer without what Graph always sends (a draft id, an upload URL, a delta page's links). */
export function unexpectedAnswer(response: Omit<GraphResponse, 'data'>): MailError {
  return new MailError({
    category: 'server',
    code: 'UnexpectedAnswer',
    messageKey: 'unexpectedAnswer',
    hintKey: 'graphUnavailable',
    params: { status: response.status },
    status: response.status,
    requestId: response.requestId,
    clientRequestId: response.clientRequestId,
  });
}

/** The user path segment: encoded, but `@` stays as written (RFC 3986 allows it; Graph's docs use it). */
export function userSegment(user: string): string {
  return encodeURIComponent(user).replace(/%40/g, '@');
}
