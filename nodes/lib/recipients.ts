/**
 * Recipient lists in the shapes users have (a string separated by `,` or `;`, arrays of strings,
 * `{ address, name }` objects), parsed with an RFC 5322 parser into Graph recipients.
 */
import addressParser from 'email-addresses';
import type { Recipient } from '@microsoft/microsoft-graph-types';
import { validationError } from './errors';

export interface ParsedAddress {
  address: string;
  name?: string;
}

/** Splits on `,` and `;` outside quoted strings, angle brackets and comments. */
export function splitAddressList(input: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  let angle = 0;
  let comment = 0;
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (quoted) {
      current += ch;
      if (ch === '\\' && i + 1 < input.length) current += input[++i];
      else if (ch === '"') quoted = false;
      continue;
    }
    if (ch === '"') quoted = true;
    else if (ch === '<') angle++;
    else if (ch === '>') angle = Math.max(0, angle - 1);
    else if (ch === '(') comment++;
    else if (ch === ')') comment = Math.max(0, comment - 1);
    else if ((ch === ',' || ch === ';') && angle === 0 && comment === 0) {
      parts.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

/**
 * A bare `local@host` (dot-atom local part, host-name domain): what most recipients are, and what
 * the RFC 5322 parser returns unchanged. Matching it first skips the parser, which was a tenth of
 * the Node-RED process's CPU per mail in the bench profile.
 */
const PLAIN_ADDRESS =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** One address with optional display name; `a@b` without a dot is allowed, as Exchange allows it. */
export function parseAddress(input: string, field: string): ParsedAddress[] {
  if (PLAIN_ADDRESS.test(input)) return [{ address: input }];
  const parsed = addressParser.parseOneAddress({ input, rfc6532: true, rejectTLD: false });
  if (!parsed) throw validationError('InvalidAddress', 'invalidAddress', { field, value: shorten(input) }, 'invalidAddress');
  const mailboxes = parsed.type === 'group' ? parsed.addresses : [parsed];
  return mailboxes.map((m) => {
    const local = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$/.test(m.local) ? m.local : `"${m.local.replace(/(["\\])/g, '\\$1')}"`;
    return m.name ? { address: `${local}@${m.domain}`, name: m.name } : { address: `${local}@${m.domain}` };
  });
}

/** Any accepted shape → addresses; undefined, null and '' → none. */
export function parseRecipients(value: unknown, field: string): ParsedAddress[] {
  if (value === undefined || value === null || value === '') return [];
  if (typeof value === 'string') return splitAddressList(value).flatMap((part) => parseAddress(part, field));
  if (Array.isArray(value)) return value.flatMap((item) => parseRecipients(item, field));
  if (typeof value === 'object') {
    const { address, name } = value as { address?: unknown; name?: unknown };
    if (typeof address !== 'string' || address.trim() === '') {
      throw validationError('InvalidAddress', 'invalidAddress', { field, value: shorten(safeJson(value)) }, 'invalidAddress');
    }
    const [parsed] = parseAddress(address, field);
    return [typeof name === 'string' && name.trim() ? { address: parsed.address, name: name.trim() } : parsed];
  }
  throw validationError('InvalidAddress', 'invalidAddress', { field, value: shorten(String(value)) }, 'invalidAddress');
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
