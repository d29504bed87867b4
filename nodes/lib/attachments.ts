/**
 * Attachments in the node-red-node-email / nodemailer shape → Graph fileAttachments.
 * `content` is a Buffer, a base64 string with `encoding: "base64"`, or a UTF-8 string.
 */
import type { FileAttachment } from '@microsoft/microsoft-graph-types';
import { lookup as mimeLookup } from 'mime-types';
import { validationError } from './errors';
import { shorten } from './recipients';

export interface AttachmentInput {
  filename?: unknown;
  content?: unknown;
  contentType?: unknown;
  cid?: unknown;
  encoding?: unknown;
}

export interface PreparedAttachment {
  name: string;
  contentType: string;
  bytes: Buffer;
  contentId?: string;
}

export function prepareAttachments(value: unknown): PreparedAttachment[] {
  if (value === undefined || value === null || value === '') return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((item, index) => prepareOne(item, index));
}

function prepareOne(item: unknown, index: number): PreparedAttachment {
  const field = `attachments[${index}]`;
  if (typeof item !== 'object' || item === null || Buffer.isBuffer(item)) {
    throw validationError('InvalidAttachment', 'attachmentNotObject', { field }, 'attachmentShape');
  }
  const a = item as AttachmentInput;
  const name = typeof a.filename === 'string' && a.filename.trim() ? a.filename.trim() : undefined;
  if (!name) throw validationError('InvalidAttachment', 'attachmentNoName', { field }, 'attachmentShape');
  let bytes: Buffer;
  if (Buffer.isBuffer(a.content)) bytes = a.content;
  else if (a.content instanceof Uint8Array) bytes = Buffer.from(a.content.buffer, a.content.byteOffset, a.content.byteLength);
  else if (typeof a.content === 'string') {
    const encoding = typeof a.encoding === 'string' ? a.encoding.toLowerCase() : 'utf8';
    if (encoding !== 'base64' && encoding !== 'utf8' && encoding !== 'utf-8' && encoding !== 'binary' && encoding !== 'hex') {
      throw validationError('InvalidAttachment', 'attachmentEncoding', { field, value: shorten(encoding) }, 'attachmentShape');
    }
    bytes = Buffer.from(a.content, encoding === 'utf-8' ? 'utf8' : (encoding as BufferEncoding));
  } else if (a.content === undefined || a.content === null) {
    throw validationError('InvalidAttachment', 'attachmentNoContent', { field, value: name }, 'attachmentShape');
  } else {
    throw validationError('InvalidAttachment', 'attachmentContentType', { field, value: name }, 'attachmentShape');
  }
  const contentType =
    typeof a.contentType === 'string' && a.contentType.trim() ? a.contentType.trim() : mimeLookup(name) || 'application/octet-stream';
  const contentId = typeof a.cid === 'string' && a.cid.trim() ? a.cid.trim() : undefined;
  return { name, contentType, bytes, contentId };
}

export function toFileAttachment(a: PreparedAttachment): FileAttachment {
  const out: FileAttachment & { '@odata.type': string } = {
    '@odata.type': '#microsoft.graph.fileAttachment',
    name: a.name,
    contentType: a.contentType,
    contentBytes: a.bytes.toString('base64'),
  };
  if (a.contentId) {
    out.contentId = a.contentId;
    out.isInline = true;
  }
  return out;
}
