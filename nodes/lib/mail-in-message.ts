/**
 * One Graph message as the mail-in node emits it: the shape of node-red-node-email's "e-mail in"
 * (msg.topic, payload, html, from, to, cc, date, attachments) so flows move over, plus msg.mail
 * with Graph's ids. Pure: no I/O, no Node-RED.
 */

/** The message properties the delta query selects (and this module reads). */
export const MESSAGE_SELECT = [
  'subject',
  'body',
  'from',
  'sender',
  'toRecipients',
  'ccRecipients',
  'receivedDateTime',
  'sentDateTime',
  'isRead',
  'hasAttachments',
  'internetMessageId',
  'conversationId',
  'webLink',
] as const;

interface GraphRecipient {
  emailAddress?: { address?: unknown; name?: unknown };
}

/** What Graph answers for one message (delta item), as far as the mapping reads it. */
export interface GraphMessage {
  id: string;
  subject?: unknown;
  body?: { contentType?: unknown; content?: unknown };
  from?: GraphRecipient | null;
  sender?: GraphRecipient | null;
  toRecipients?: unknown;
  ccRecipients?: unknown;
  receivedDateTime?: unknown;
  sentDateTime?: unknown;
  isRead?: unknown;
  hasAttachments?: unknown;
  internetMessageId?: unknown;
  conversationId?: unknown;
  webLink?: unknown;
  '@removed'?: unknown;
}

/** One attachment as msg.attachments carries it (node-red-node-email's field names). */
export interface MailInAttachment {
  filename: string;
  contentType: string;
  /** Bytes of `content` when fetched, else Graph's size of the attachment item. */
  size: number;
  content?: Buffer;
  cid?: string;
  /** Graph's attachment id (fetch it later with msg.mail.id). */
  id: string;
  inline: boolean;
  /** `tooLarge`: over maxAttachmentSize for this mail, so only its metadata came. `notAFile`: an item or reference attachment. */
  note?: 'tooLarge' | 'notAFile';
}

export interface MailAddress {
  address: string;
  name: string;
}

/** msg.mail: what Graph knows beyond the e-mail in shape. */
export interface MailInfo {
  id: string;
  internetMessageId: string;
  conversationId: string;
  mailbox: string;
  folder: string;
  receivedDateTime: string;
  isRead: boolean;
  from: MailAddress;
  to: MailAddress[];
  cc: MailAddress[];
  hasAttachments: boolean;
  webLink: string;
}

export interface MailInMessage {
  topic: string;
  payload: string;
  /** Only for HTML mail, as node-red-node-email sets it. */
  html?: string;
  from: string;
  /** Comma-separated addresses; absent when empty, as node-red-node-email leaves them. */
  to?: string;
  cc?: string;
  date: Date;
  attachments: MailInAttachment[];
  mail: MailInfo;
}

/** Longest address or display name kept (RFC 5321 caps a path at 256). */
const ADDRESS_MAX = 320;
/** Recipients read per field: Exchange allows at most 1,000. */
const RECIPIENTS_MAX = 1000;

function str(value: unknown, max = Infinity): string {
  return typeof value === 'string' ? (value.length > max ? value.slice(0, max) : value) : '';
}

function addressOf(r: GraphRecipient | null | undefined): MailAddress {
  return { address: str(r?.emailAddress?.address, ADDRESS_MAX), name: str(r?.emailAddress?.name, ADDRESS_MAX) };
}

function addresses(value: unknown): MailAddress[] {
  if (!Array.isArray(value)) return [];
  return value
    .slice(0, RECIPIENTS_MAX)
    .map((r) => addressOf(r as GraphRecipient))
    .filter((a) => a.address !== '');
}

function dateOf(...values: unknown[]): Date {
  for (const v of values) {
    const d = new Date(str(v, 64));
    if (!Number.isNaN(d.getTime())) return d;
  }
  return new Date(0);
}

export interface MappingContext {
  mailbox: string;
  /** The folder as the node names it (`Inbox`, `Inbox/Orders`). */
  folder: string;
}

/** The message the node sends for one mail. */
export function toMailInMessage(message: GraphMessage, attachments: MailInAttachment[], ctx: MappingContext): MailInMessage {
  const html = str(message.body?.contentType).toLowerCase() === 'html';
  const content = str(message.body?.content);
  const from = addressOf(message.from ?? message.sender);
  const to = addresses(message.toRecipients);
  const cc = addresses(message.ccRecipients);
  const out: MailInMessage = {
    topic: str(message.subject),
    payload: html ? htmlToText(content) : content,
    from: from.address,
    date: dateOf(message.sentDateTime, message.receivedDateTime),
    attachments,
    mail: {
      id: message.id,
      internetMessageId: str(message.internetMessageId),
      conversationId: str(message.conversationId),
      mailbox: ctx.mailbox,
      folder: ctx.folder,
      receivedDateTime: str(message.receivedDateTime, 64),
      isRead: message.isRead === true,
      from,
      to,
      cc,
      hasAttachments: message.hasAttachments === true,
      webLink: str(message.webLink),
    },
  };
  if (html) out.html = content;
  if (to.length) out.to = to.map((a) => a.address).join(', ');
  if (cc.length) out.cc = cc.map((a) => a.address).join(', ');
  return out;
}

/** Whether an HTML body refers to inline images (`cid:`), whose attachments Graph does not count in hasAttachments. */
export function refersToInline(message: GraphMessage): boolean {
  return str(message.body?.contentType).toLowerCase() === 'html' && /cid:/i.test(str(message.body?.content));
}

/** Where `</name` starts at or after `from`, case-insensitively; -1 when nowhere. */
function closingTag(html: string, name: string, from: number): number {
  for (let at = html.indexOf('</', from); at !== -1; at = html.indexOf('</', at + 2)) {
    if (html.slice(at + 2, at + 2 + name.length).toLowerCase() === name) return at;
  }
  return -1;
}

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };
/** Elements whose end starts a new line in the text. */
const BLOCK = /^\/?(p|div|br|tr|li|h[1-6]|table|blockquote|pre|hr)\b/i;

/**
 * The text of an HTML body, as mailparser derives `text` from HTML-only mail: tags gone, blocks
 * and `<br>` as line breaks, `<style>`/`<script>`/`<head>` dropped, entities decoded. One pass
 * with indexOf, so the work is linear in the body's size whatever it holds.
 */
export function htmlToText(html: string): string {
  let out = '';
  let pos = 0;
  while (pos < html.length) {
    const open = html.indexOf('<', pos);
    if (open === -1) {
      out += html.slice(pos);
      break;
    }
    out += html.slice(pos, open);
    const close = html.indexOf('>', open + 1);
    if (close === -1) break;
    const tag = html.slice(open + 1, Math.min(close, open + 32));
    const skipped = /^(style|script|head)\b/i.exec(tag);
    if (skipped) {
      const end = closingTag(html, skipped[1].toLowerCase(), close + 1);
      if (end === -1) break;
      const endClose = html.indexOf('>', end);
      pos = endClose === -1 ? html.length : endClose + 1;
      continue;
    }
    if (BLOCK.test(tag)) out += '\n';
    pos = close + 1;
  }
  const decoded = out.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
  return decoded
    .replace(/[ \t\r\f\v]+/g, ' ')
    .replace(/ ?\n ?/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
