/**
 * Attachments in the node-red-node-email / nodemailer shape → prepared attachments whose bytes stay
 * Buffers. `content` is a Buffer (or Uint8Array), a base64 string with `encoding: "base64"`, or a
 * UTF-8 string. Base64 for Graph is made only when a JSON request carries the attachment
 * (toFileAttachment); large files on the upload path are sent as raw slices and never encoded.
 */
import type { FileAttachment } from '@microsoft/microsoft-graph-types';
import { lookup as mimeLookup } from 'mime-types';
import { validationError } from './errors';
import { shorten } from './recipients';
import type { PreparedAttachment } from './types';

export type { PreparedAttachment } from './types';

export interface AttachmentInput {
  filename?: unknown;
  content?: unknown;
  contentType?: unknown;
  cid?: unknown;
  encoding?: unknown;
  /** nodemailer reads a file or URL here; this node does not (see attachmentPath). */
  path?: unknown;
  href?: unknown;
}

const TEXT_ENCODINGS = new Set(['utf8', 'utf-8', 'base64', 'binary', 'latin1', 'hex', 'ascii']);
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

export function prepareAttachments(value: unknown): PreparedAttachment[] {
  if (value === undefined || value === null || value === '') return [];
  // As node-red-node-email: one object is a list of one.
  const list = Array.isArray(value) ? value : [value];
  return list.map((item, index) => prepareOne(item, `attachments[${index}]`));
}

function prepareOne(item: unknown, field: string): PreparedAttachment {
  if (typeof item !== 'object' || item === null || Buffer.isBuffer(item) || Array.isArray(item)) {
    throw validationError('InvalidAttachment', 'attachmentNotObject', { field }, 'attachmentShape');
  }
  const a = item as AttachmentInput;
  const name = typeof a.filename === 'string' && a.filename.trim() ? a.filename.trim() : undefined;
  if (!name) throw validationError('InvalidAttachment', 'attachmentNoName', { field }, 'attachmentShape');
  const bytes = contentBytes(a, field, name);
  const contentType =
    typeof a.contentType === 'string' && a.contentType.trim() ? a.contentType.trim() : mimeLookup(name) || 'application/octet-stream';
  const contentId = typeof a.cid === 'string' && a.cid.trim() ? a.cid.trim() : undefined;
  return contentId ? { name, contentType, bytes, contentId } : { name, contentType, bytes };
}

function contentBytes(a: AttachmentInput, field: string, name: string): Buffer {
  const content = a.content;
  if (Buffer.isBuffer(content)) return content;
  // A view on the same memory: no copy of a large file.
  if (content instanceof Uint8Array) return Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  if (typeof content === 'string') {
    const encoding = typeof a.encoding === 'string' && a.encoding ? a.encoding.toLowerCase() : 'utf8';
    if (!TEXT_ENCODINGS.has(encoding)) {
      throw validationError('InvalidAttachment', 'attachmentEncoding', { field, value: shorten(encoding) }, 'attachmentShape');
    }
    if (encoding === 'base64') {
      // Buffer.from would skip bad characters silently and send a damaged file.
      const compact = content.replace(/\s+/g, '');
      if (!BASE64.test(compact)) throw validationError('InvalidAttachment', 'attachmentBase64', { field, value: name }, 'attachmentShape');
      return Buffer.from(compact, 'base64');
    }
    return Buffer.from(content, encoding === 'utf-8' ? 'utf8' : (encoding as BufferEncoding));
  }
  if (content === undefined || content === null) {
    if (typeof a.path === 'string' || typeof a.href === 'string') {
      throw validationError('InvalidAttachment', 'attachmentPath', { field, value: name }, 'attachmentPath');
    }
    throw validationError('InvalidAttachment', 'attachmentNoContent', { field, value: name }, 'attachmentShape');
  }
  throw validationError('InvalidAttachment', 'attachmentContentType', { field, value: name }, 'attachmentShape');
}

/**
 * A Buffer msg.payload as node-red-node-email sends it: one attachment named by msg.filename
 * (directories dropped), else `attachment.<ext>` from the first bytes; the content type from
 * msg.headers["content-type"] when given (what an `http request` node leaves there).
 */
export function payloadAttachment(payload: Buffer, filename: unknown, contentType: unknown): PreparedAttachment {
  const given = typeof filename === 'string' ? filename.replace(/^.*[\\/]/, '').trim() : '';
  const name = given || `attachment.${sniffExtension(payload)}`;
  const type = typeof contentType === 'string' && contentType.trim() ? contentType.trim() : mimeLookup(name) || 'application/octet-stream';
  return { name, contentType: type, bytes: payload };
}

function sniffExtension(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'jpg';
  if (bytes[0] === 0x47 && bytes[1] === 0x49) return 'gif';
  if (bytes[0] === 0x42 && bytes[1] === 0x4d) return 'bmp';
  if (bytes[0] === 0x89 && bytes[1] === 0x50) return 'png';
  return 'bin';
}

/** The Graph fileAttachment with its bytes in base64: only for attachments that travel in JSON. */
export function toFileAttachment(a: PreparedAttachment): FileAttachment {
  return fileAttachment(a, a.bytes.toString('base64'));
}

/** Bytes of JSON.stringify(toFileAttachment(a)), computed without encoding the file. */
export function fileAttachmentJsonBytes(a: PreparedAttachment): number {
  // base64 needs no JSON escaping: the empty string's place takes exactly the encoded length.
  return Buffer.byteLength(JSON.stringify(fileAttachment(a, ''))) + base64Length(a.bytes.length);
}

function fileAttachment(a: PreparedAttachment, contentBytes: string): FileAttachment {
  const out: FileAttachment & { '@odata.type': string } = {
    '@odata.type': '#microsoft.graph.fileAttachment',
    name: a.name,
    contentType: a.contentType,
    contentBytes,
  };
  if (a.contentId) {
    out.contentId = a.contentId;
    out.isInline = true;
  }
  return out;
}

export function base64Length(bytes: number): number {
  return Math.ceil(bytes / 3) * 4;
}
