/** Input values → a validated Graph message. Nothing here talks to the network. */
import type { InternetMessageHeader, Message } from '@microsoft/microsoft-graph-types';
import { sizeError, validationError } from './errors';
import { payloadAttachment, prepareAttachments } from './attachments';
import { EXCHANGE_MAX_RECIPIENTS, domainOf, parseRecipients, recipientBudget, shorten, toGraphRecipients, type ParsedAddress } from './recipients';
import type { BodyFormat, ComposedMail, Importance, MailAction, MailInput, PreparedAttachment } from './types';

/** Exchange's default cap on To + Cc + Bcc per message (a tenant's RecipientLimits). */
export const DEFAULT_MAX_RECIPIENTS = 500;
/** Graph's cap on custom internet message headers. */
export const GRAPH_MAX_HEADERS = 5;
/** Graph's largest message (upload-session path); tenants often set less (35 MB by default). */
export const GRAPH_MAX_MESSAGE_BYTES = 150 * 1024 * 1024;

export interface ComposeRules {
  bodyFormat: BodyFormat;
  importance: Importance;
  allowedRecipientDomains: readonly string[];
  maxRecipients: number;
  /**
   * `reply` and `replyAll` go to whom Graph takes from the original, so To and Cc are not read
   * (office365-mail-in leaves the original's own To and Cc in msg.to and msg.cc); Bcc is added.
   * Default `send`.
   */
  action?: MailAction;
}

/** The start of a tag we take as a sign of HTML. */
const HTML_TAG_OPEN = /<(html|head|body|div|p|br|hr|table|tr|td|span|a|img|h[1-6]|ul|ol|li|b|i|u|strong|em|font|style|pre|blockquote|center)\b/i;

/**
 * `auto` sends HTML when the body looks like HTML: a known tag opened and closed by a `>`. The
 * `>` is looked for once after the first tag opening (if the first has none, no later one has),
 * instead of `[^>]*>` after every `<a `, which was quadratic: 40,000 × `<a ` took seconds.
 */
export function looksLikeHtml(text: string): boolean {
  const open = HTML_TAG_OPEN.exec(text);
  return open !== null && text.indexOf('>', open.index + open[0].length) !== -1;
}

/**
 * Attachments per mail: Exchange Online's "File attachments limit" of 250 per message (Exchange
 * Online service description, "Exchange Online limits", message limits). More cannot be sent.
 */
export const MAX_ATTACHMENTS = 250;

export function composeMail(input: MailInput, rules: ComposeRules): ComposedMail {
  // One budget for the RFC 5322 parser across the mail's fields (see MAX_PARSER_CHARS).
  const budget = recipientBudget();
  const answering = rules.action === 'reply' || rules.action === 'replyAll';
  const to = answering ? [] : parseRecipients(input.to, 'to', budget);
  const cc = answering ? [] : parseRecipients(input.cc, 'cc', budget);
  const bcc = parseRecipients(input.bcc, 'bcc', budget);
  const replyTo = parseRecipients(input.replyTo, 'replyTo', budget);
  checkRecipients(to, cc, bcc, rules, answering);

  checkAttachmentCount(input);
  const attachments: PreparedAttachment[] = prepareAttachments(input.attachments);
  const payloadIsFile = Buffer.isBuffer(input.body);
  const rawHeaders = headerEntries(input.headers);
  // node-red-node-email takes a Buffer payload's type from msg.headers["content-type"] (what an
  // `http request` node leaves there); that entry is then not a header of the mail.
  const typeEntry = payloadIsFile ? rawHeaders.find(([name]) => name.toLowerCase() === 'content-type') : undefined;
  const headers = headersOf(typeEntry ? rawHeaders.filter((e) => e !== typeEntry) : rawHeaders);
  let content: string;
  if (payloadIsFile) {
    // As node-red-node-email: a Buffer payload is a file; msg.description is then the text.
    attachments.unshift(payloadAttachment(input.body as Buffer, input.filename, typeEntry?.[1]));
    content = input.description === undefined || input.description === null ? '' : textOf(input.description, 'description');
  } else {
    content = input.body === undefined || input.body === null ? '' : textOf(input.body, 'body');
  }
  checkSize(attachments, content);

  // msg.title is node-red-node-email's subject when there is no msg.topic.
  const subject = subjectOf(input.subject === undefined || input.subject === null ? input.title : input.subject);
  const html = rules.bodyFormat === 'html' || (rules.bodyFormat === 'auto' && looksLikeHtml(content));
  const fields: Message = {
    subject,
    body: { contentType: html ? 'html' : 'text', content },
    toRecipients: toGraphRecipients(to),
  };
  if (cc.length) fields.ccRecipients = toGraphRecipients(cc);
  if (bcc.length) fields.bccRecipients = toGraphRecipients(bcc);
  if (replyTo.length) fields.replyTo = toGraphRecipients(replyTo);
  const importance = importanceOf(input.importance, input.priority) ?? rules.importance;
  if (importance !== 'normal') fields.importance = importance;
  if (headers.length) fields.internetMessageHeaders = headers;
  if (isTrue(input.requestReadReceipt)) fields.isReadReceiptRequested = true;
  if (isTrue(input.requestDeliveryReceipt)) fields.isDeliveryReceiptRequested = true;
  const categories = categoriesOf(input.categories);
  if (categories.length) fields.categories = categories;

  return {
    fields,
    attachments,
    to: to.map((a) => a.address),
    cc: cc.map((a) => a.address),
    bcc: bcc.map((a) => a.address),
    subject,
    attachmentCount: attachments.length,
  };
}

/** Counted before any file is read: 100,000 tiny files would otherwise cost as many Graph requests. */
function checkAttachmentCount(input: MailInput): void {
  const value = input.attachments;
  const listed = Array.isArray(value) ? value.length : value === undefined || value === null || value === '' ? 0 : 1;
  const count = listed + (Buffer.isBuffer(input.body) ? 1 : 0);
  if (count > MAX_ATTACHMENTS) {
    throw validationError('TooManyAttachments', 'tooManyAttachments', { field: 'attachments', count, max: MAX_ATTACHMENTS }, 'tooManyAttachments');
  }
}

/** Over Graph's 150 MB nothing can send the mail: refused before any request. */
function checkSize(attachments: readonly PreparedAttachment[], content: string): void {
  const size = attachments.reduce((sum, a) => sum + a.bytes.length, Buffer.byteLength(content));
  if (size > GRAPH_MAX_MESSAGE_BYTES) {
    throw sizeError('MessageTooLarge', 'messageOverGraphLimit', size, GRAPH_MAX_MESSAGE_BYTES);
  }
}

function checkRecipients(to: ParsedAddress[], cc: ParsedAddress[], bcc: ParsedAddress[], rules: ComposeRules, answering: boolean): void {
  const total = to.length + cc.length + bcc.length;
  if (total === 0 && !answering) throw validationError('NoRecipients', 'noRecipients', {}, 'noRecipients');
  const cap = Math.min(rules.maxRecipients || DEFAULT_MAX_RECIPIENTS, EXCHANGE_MAX_RECIPIENTS);
  if (total > cap) throw validationError('TooManyRecipients', 'tooManyRecipients', { count: total, max: cap }, 'tooManyRecipients');
  if (rules.allowedRecipientDomains.length) {
    for (const [field, list] of [['to', to], ['cc', cc], ['bcc', bcc]] as const) {
      const refused = list.find((a) => !rules.allowedRecipientDomains.includes(domainOf(a.address)));
      if (refused) {
        throw validationError('RecipientDomainNotAllowed', 'domainNotAllowed', { field, value: refused.address }, 'domainNotAllowed');
      }
    }
  }
}

/** Text of a body value: strings as they are, numbers and booleans as text, objects as readable JSON. */
function textOf(body: unknown, field: string): string {
  if (typeof body === 'string') return body;
  if (typeof body === 'number' || typeof body === 'boolean' || typeof body === 'bigint') return String(body);
  // Objects are sent as readable JSON rather than "[object Object]".
  try {
    const json = JSON.stringify(body, null, 2);
    if (typeof json === 'string') return json;
  } catch {
    // falls through to the error below
  }
  throw validationError('InvalidBody', 'bodyNotSerialisable', { field }, 'fixInput');
}

function subjectOf(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    // A header value cannot hold line breaks.
    return String(value).replace(/[\r\n]+/g, ' ');
  }
  throw validationError('InvalidSubject', 'subjectNotText', { field: 'subject', value: shorten(typeof value) }, 'fixInput');
}

const PRIORITY: Readonly<Record<string, Importance>> = {
  high: 'high',
  normal: 'normal',
  low: 'low',
  '1': 'high',
  '2': 'high',
  '3': 'normal',
  '4': 'low',
  '5': 'low',
};

/** msg.importance wins over msg.priority (node-red-node-email's high/normal/low or 1..5). */
function importanceOf(importance: unknown, priority: unknown): Importance | undefined {
  for (const [field, value] of [['importance', importance], ['priority', priority]] as const) {
    if (value === undefined || value === null || value === '') continue;
    const key = String(value).trim().toLowerCase();
    const mapped = field === 'importance' ? (['low', 'normal', 'high'].includes(key) ? (key as Importance) : undefined) : PRIORITY[key];
    if (!mapped) throw validationError('InvalidImportance', 'invalidImportance', { field, value: shorten(String(value)) }, 'invalidImportance');
    return mapped;
  }
  return undefined;
}

function headerEntries(value: unknown): Array<[string, unknown]> {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'object' || Array.isArray(value) || Buffer.isBuffer(value)) {
    throw validationError('InvalidHeader', 'headersNotObject', { field: 'headers' }, 'invalidHeader');
  }
  return Object.entries(value as Record<string, unknown>);
}

function headersOf(entries: Array<[string, unknown]>): InternetMessageHeader[] {
  if (entries.length > GRAPH_MAX_HEADERS) {
    throw validationError('TooManyHeaders', 'tooManyHeaders', { field: 'headers', count: entries.length, max: GRAPH_MAX_HEADERS }, 'invalidHeader');
  }
  return entries.map(([name, raw]) => {
    if (!/^x-[A-Za-z0-9-]+$/i.test(name)) throw validationError('InvalidHeader', 'headerName', { field: 'headers', value: shorten(name) }, 'invalidHeader');
    if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
      throw validationError('InvalidHeader', 'headerValueNotText', { field: 'headers', value: name }, 'invalidHeader');
    }
    const headerValue = String(raw);
    // A line break would let the value start a header of its own (Bcc: ...).
    if (/[\r\n]/.test(headerValue)) throw validationError('InvalidHeader', 'headerValue', { field: 'headers', value: name }, 'invalidHeader');
    return { name, value: headerValue };
  });
}

function categoriesOf(value: unknown): string[] {
  if (value === undefined || value === null || value === '') return [];
  const list = Array.isArray(value) ? value : String(value).split(',');
  return list.map((c) => String(c).trim()).filter((c) => c.length > 0);
}

function isTrue(value: unknown): boolean {
  return value === true || value === 'true';
}
