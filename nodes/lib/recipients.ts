/**
 * Recipient lists in the shapes users have (a string separated by `,` or `;`, arrays of strings,
 * `{ address, name }` objects), parsed with an RFC 5322 parser into Graph recipients.
 */
import addressParser from 'email-addresses';
import type { Recipient } from '@microsoft/microsoft-graph-types';
import { validationError, type MailError } from './errors';

/**
 * One address entry (display name included) may be this long: RFC 5321's longest path (64 + 1 +
 * 255). Longer entries are refused before the RFC 5322 parser, whose time grows faster than the input.
 */
export const MAX_ADDRESS_ENTRY = 320;
/** The most recipients (To + Cc + Bcc) an Exchange admin can allow per message (500 by default). */
export const EXCHANGE_MAX_RECIPIENTS = 1000;
/**
 * A whole recipient field (the text, or the entries of an array): as many entries as Exchange can
 * ever take, of the longest length. Past it the field is refused before it is split.
 */
export const MAX_RECIPIENT_ENTRIES = EXCHANGE_MAX_RECIPIENTS;
export const MAX_RECIPIENT_FIELD = MAX_RECIPIENT_ENTRIES * MAX_ADDRESS_ENTRY;

export interface ParsedAddress {
  address: string;
  name?: string;
}

/** Splits on `,` and `;` outside quoted strings, angle brackets and comments. One pass, no copies. */
export function splitAddressList(input: string): string[] {
  const parts: string[] = [];
  let from = 0;
  let quoted = false;
  let angle = 0;
  let comment = 0;
  const cut = (to: number): void => {
    const part = input.slice(from, to).trim();
    if (part.length > 0) parts.push(part);
  };
  for (let i = 0; i < input.length; i++) {
    const ch = input.charCodeAt(i);
    if (quoted) {
      if (ch === 0x5c /* \ */) i++;
      else if (ch === 0x22 /* " */) quoted = false;
      continue;
    }
    if (ch === 0x22) quoted = true;
    else if (ch === 0x3c /* < */) angle++;
    else if (ch === 0x3e /* > */) angle = Math.max(0, angle - 1);
    else if (ch === 0x28 /* ( */) comment++;
    else if (ch === 0x29 /* ) */) comment = Math.max(0, comment - 1);
    else if ((ch === 0x2c /* , */ || ch === 0x3b /* ; */) && angle === 0 && comment === 0) {
      cut(i);
      from = i + 1;
    }
  }
  cut(input.length);
  return parts;
}

/**
 * A bare `local@host` (dot-atom local part, host-name domain): what most recipients are, and what
 * the RFC 5322 parser returns unchanged. Matching it first skips the parser, which was a tenth of
 * the Node-RED process's CPU per mail in the bench profile.
 */
const PLAIN_ADDRESS =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/**
 * `Display Name <local@host>` with a plain or simply quoted name: the other common shape, read
 * without the parser. Anchored and on at most MAX_ADDRESS_ENTRY characters.
 */
const NAMED_ADDRESS = new RegExp(
  `^(?:"((?:[^"\\\\\\r\\n]|\\\\[^\\r\\n])*)"|([A-Za-z0-9!#$%&'*+/=?^_\`{|}~.\\u0080-\\uffff -]+?))\\s*<(${PLAIN_ADDRESS.source.slice(1, -1)})>$`,
);

/**
 * The RFC 5322 parser costs about a tenth of a millisecond per character on hostile shapes
 * (nested comments, runs of quotes), so each mail may hand it only this many characters; the
 * shapes above never reach it.
 */
export const MAX_PARSER_CHARS = 640;

/** What is left of a mail's caps: entries and characters per field, parser characters per mail. */
export interface RecipientBudget {
  parserChars: number;
}

export function recipientBudget(): RecipientBudget {
  return { parserChars: MAX_PARSER_CHARS };
}

/** One address with optional display name; `a@b` without a dot is allowed, as Exchange allows it. */
export function parseAddress(input: string, field: string, budget: RecipientBudget = recipientBudget()): ParsedAddress[] {
  if (input.length > MAX_ADDRESS_ENTRY) {
    throw validationError('InvalidAddress', 'addressTooLong', { field, max: MAX_ADDRESS_ENTRY }, 'invalidAddress');
  }
  if (PLAIN_ADDRESS.test(input)) return [{ address: input }];
  const named = NAMED_ADDRESS.exec(input);
  if (named) {
    const name = named[1] !== undefined ? named[1].replace(/\\(.)/g, '$1') : named[2].trim().replace(/\s+/g, ' ');
    return [name ? { address: named[3], name } : { address: named[3] }];
  }
  if ((budget.parserChars -= input.length) < 0) {
    throw validationError('InvalidAddress', 'recipientsTooComplex', { field, max: MAX_PARSER_CHARS }, 'invalidAddress');
  }
  const parsed = addressParser.parseOneAddress({ input, rfc6532: true, rejectTLD: false });
  if (!parsed) throw validationError('InvalidAddress', 'invalidAddress', { field, value: shorten(input) }, 'invalidAddress');
  const mailboxes = parsed.type === 'group' ? parsed.addresses : [parsed];
  return mailboxes.map((m) => {
    const local = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$/.test(m.local) ? m.local : `"${m.local.replace(/(["\\])/g, '\\$1')}"`;
    return m.name ? { address: `${local}@${m.domain}`, name: m.name } : { address: `${local}@${m.domain}` };
  });
}

/** Any accepted shape → addresses; undefined, null and '' → none. */
export function parseRecipients(value: unknown, field: string, mail: RecipientBudget = recipientBudget()): ParsedAddress[] {
  return parseWithin(value, field, { entries: MAX_RECIPIENT_ENTRIES, chars: MAX_RECIPIENT_FIELD, mail });
}

/** What is left of a field's caps, shared by its nested entries. */
interface Budget {
  entries: number;
  chars: number;
  mail: RecipientBudget;
}

function parseWithin(value: unknown, field: string, budget: Budget): ParsedAddress[] {
  if (value === undefined || value === null || value === '') return [];
  if (typeof value === 'string') {
    // Checked before splitting: the split and the parser then see a bounded text.
    if ((budget.chars -= value.length) < 0) throw fieldTooLong(field);
    const parts = splitAddressList(value);
    if ((budget.entries -= parts.length) < 0) throw tooMany(MAX_RECIPIENT_ENTRIES - budget.entries);
    return parts.flatMap((part) => parseAddress(part, field, budget.mail));
  }
  if (Array.isArray(value)) {
    if (value.length > budget.entries) throw tooMany(MAX_RECIPIENT_ENTRIES - budget.entries + value.length);
    return value.flatMap((item) => parseWithin(item, field, budget));
  }
  if (typeof value === 'object') {
    if ((budget.entries -= 1) < 0) throw tooMany(MAX_RECIPIENT_ENTRIES + 1);
    const { address, name } = value as { address?: unknown; name?: unknown };
    if (typeof address !== 'string' || address.trim() === '') {
      throw validationError('InvalidAddress', 'invalidAddress', { field, value: shorten(safeJson(value)) }, 'invalidAddress');
    }
    const [parsed] = parseAddress(address, field, budget.mail);
    return [typeof name === 'string' && name.trim() ? { address: parsed.address, name: name.trim() } : parsed];
  }
  throw validationError('InvalidAddress', 'invalidAddress', { field, value: shorten(String(value)) }, 'invalidAddress');
}

/** More entries than any Exchange tenant takes in one message: the same refusal as the per-mail cap. */
function tooMany(count: number): MailError {
  return validationError('TooManyRecipients', 'tooManyRecipients', { count, max: EXCHANGE_MAX_RECIPIENTS }, 'tooManyRecipients');
}

function fieldTooLong(field: string): MailError {
  return validationError('InvalidAddress', 'recipientFieldTooLong', { field, maxEntries: MAX_RECIPIENT_ENTRIES, max: MAX_RECIPIENT_FIELD }, 'invalidAddress');
}

export function toGraphRecipients(addresses: readonly ParsedAddress[]): Recipient[] {
  return addresses.map((a) => ({ emailAddress: a.name ? { address: a.address, name: a.name } : { address: a.address } }));
}

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

export function shorten(text: string, max = 80): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
