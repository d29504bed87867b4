/** Input values → a validated Graph message. Nothing here talks to the network. */
import type { InternetMessageHeader, Message } from '@microsoft/microsoft-graph-types';
import { validationError } from './errors';
import { prepareAttachments, toFileAttachment, type PreparedAttachment } from './attachments';
import { domainOf, parseRecipients, shorten, toGraphRecipients, type ParsedAddress } from './recipients';
import type { BodyFormat, ComposedMail, Importance, MailInput } from './types';

/** Graph's cap on To + Cc + Bcc. */
export const GRAPH_MAX_RECIPIENTS = 500;
/** Graph's cap on custom internet message headers. */
export const GRAPH_MAX_HEADERS = 5;

export interface ComposeRules {
  bodyFormat: BodyFormat;
  importance: Importance;
  allowedRecipientDomains: readonly string[];
  maxRecipients: number;
}

const HTML_HINT = /<(html|head|body|div|p|br|hr|table|tr|td|span|a|img|h[1-6]|ul|ol|li|b|i|u|strong|em|font|style|pre|blockquote|center)\b[^>]*>/i;

/** `auto` sends HTML when the body looks like HTML. */
export function looksLikeHtml(text: string): boolean {
  return HTML_HINT.test(text);
}

export function composeMail(input: MailInput, rules: ComposeRules): ComposedMail {
  const to = parseRecipients(input.to, 'to');
  const cc = parseRecipients(input.cc, 'cc');
  const bcc = parseRecipients(input.bcc, 'bcc');
  const replyTo = parseRecipients(input.replyTo, 'replyTo');
  checkRecipients(to, cc, bcc, rules);

  const attachments: PreparedAttachment[] = prepareAttachments(input.attachments);
  const { content, bodyAttachment } = bodyContent(input.body, input.filename);
  if (bodyAttachment) attachments.unshift(bodyAttachment);

  const subject = subjectOf(input.subject);
  const html = rules.bodyFormat === 'html' || (rules.bodyFormat === 'auto' && looksLikeHtml(content));
  const message: Message = {
    subject,
    body: { contentType: html ? 'html' : 'text', content },
    toRecipients: toGraphRecipients(to),
  };
  if (cc.length) message.ccRecipients = toGraphRecipients(cc);
  if (bcc.length) message.bccRecipients = toGraphRecipients(bcc);
  if (replyTo.length) message.replyTo = toGraphRecipients(replyTo);
  const importance = importanceOf(input.importance, input.priority) ?? rules.importance;
  if (importance !== 'normal') message.importance = importance;
  const headers = headersOf(input.headers);
  if (headers.length) message.internetMessageHeaders = headers;
  if (isTrue(input.requestReadReceipt)) message.isReadReceiptRequested = true;
  if (isTrue(input.requestDeliveryReceipt)) message.isDeliveryReceiptRequested = true;
  const categories = categoriesOf(input.categories);
  if (categories.length) message.categories = categories;
  if (attachments.length) message.attachments = attachments.map(toFileAttachment);

  return {
    message,
    to: to.map((a) => a.address),
    cc: cc.map((a) => a.address),
    bcc: bcc.map((a) => a.address),
    subject,
    attachmentCount: attachments.length,
  };
}

function checkRecipients(to: ParsedAddress[], cc: ParsedAddress[], bcc: ParsedAddress[], rules: ComposeRules): void {
  const total = to.length + cc.length + bcc.length;
  if (total === 0) throw validationError('NoRecipients', 'noRecipients', {}, 'noRecipients');
  const cap = Math.min(rules.maxRecipients || GRAPH_MAX_RECIPIENTS, GRAPH_MAX_RECIPIENTS);
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

function bodyContent(body: unknown, filename: unknown): { content: string; bodyAttachment?: PreparedAttachment } {
  if (body === undefined || body === null) return { content: '' };
  if (typeof body === 'string') return { content: body };
  if (Buffer.isBuffer(body)) {
    // As node-red-node-email: a Buffer payload is a file, named by msg.filename.
    const [attachment] = prepareAttachments({ filename: typeof filename === 'string' && filename ? filename : 'attachment.bin', content: body });
    return { content: '', bodyAttachment: attachment };
  }
  if (typeof body === 'number' || typeof body === 'boolean' || typeof body === 'bigint') return { content: String(body) };
  // Objects are sent as readable JSON rather than "[object Object]".
  try {
    return { content: JSON.stringify(body, null, 2) };
  } catch {
    throw validationError('InvalidBody', 'bodyNotSerialisable', { field: 'body' }, 'fixInput');
  }
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

function headersOf(value: unknown): InternetMessageHeader[] {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw validationError('InvalidHeader', 'headersNotObject', { field: 'headers' }, 'invalidHeader');
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > GRAPH_MAX_HEADERS) {
    throw validationError('TooManyHeaders', 'tooManyHeaders', { field: 'headers', count: entries.length, max: GRAPH_MAX_HEADERS }, 'invalidHeader');
  }
  return entries.map(([name, raw]) => {
    if (!/^x-[A-Za-z0-9-]+$/i.test(name)) throw validationError('InvalidHeader', 'headerName', { field: 'headers', value: shorten(name) }, 'invalidHeader');
    const headerValue = typeof raw === 'string' ? raw : String(raw);
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
