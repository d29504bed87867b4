/** Types shared by the Node-RED glue (nodes/*.ts) and the core (nodes/lib). */
import type { Message } from '@microsoft/microsoft-graph-types';
import type { ClientCertificate } from './certificate';

export type CloudName = 'global' | 'usgov' | 'usgovdod' | 'china' | 'custom';
export type BodyFormat = 'auto' | 'text' | 'html';
export type Importance = 'low' | 'normal' | 'high';
export type SendPath = 'sendMail' | 'uploadSession';
export type AuthMethod = 'secret' | 'certificate';

/** Which node a message came from: goes into msg.error.source and the usage data. */
export interface NodeRef {
  id: string;
  type: string;
  name: string;
}

/** A connection's settings once read, resolved (`${ENV}` secrets) and validated. */
export interface ConnectionSettings {
  key: string;
  name: string;
  tenantId: string;
  applicationId: string;
  senderEmail: string;
  cloud: CloudName;
  loginUrl: string;
  graphUrl: string;
  /**
   * How the app signs in. readConnectionSettings always sets it (a saved node without the field is
   * `secret`); the token provider goes by which credential is present.
   */
  authMethod?: AuthMethod;
  /** The client secret; empty when authMethod is `certificate`. */
  clientSecret: string;
  /** Checked certificate and key for authMethod `certificate`. */
  clientCertificate?: ClientCertificate;
  /** Per-connection proxy (`http://user@host:port`, no password); wins over HTTPS_PROXY / NO_PROXY. */
  proxyUrl?: string;
  proxyPassword?: string;
  /** Extra trusted CA certificates (canonical PEM), added to Node's own roots. */
  caBundle?: string[];
  queueSize: number;
  /** Lower-case domains; empty means any domain. */
  allowedRecipientDomains: string[];
  /** Per-message cap: 500 by default (Exchange's default), at most 1,000 (the most an Exchange admin can allow). */
  maxRecipients: number;
  /** Exchange pacing per mailbox (mails started in any 60 s); undefined: no pacing. */
  maxMailsPerMinute?: number;
  /** Rolling 24 h recipient budget per mailbox; undefined: off. */
  maxRecipientsPerDay?: number;
  /** `YYYY-MM-DD` the client secret (or certificate) stops working, when the user gave it. */
  secretExpiresOn?: string;
}

/** The email task's own settings (not per message). */
export interface TaskSettings {
  bodyFormat: BodyFormat;
  importance: Importance;
  saveToSentItems: boolean;
  maxAttempts: number;
  maxWaitMs: number;
  timeoutMs: number;
  retryUnknownOutcome: boolean;
}

/** Per-message values after the glue evaluated the typedInputs, plus the msg fields read directly. */
export interface MailInput {
  to?: unknown;
  cc?: unknown;
  bcc?: unknown;
  replyTo?: unknown;
  subject?: unknown;
  body?: unknown;
  attachments?: unknown;
  /** msg.filename: with a Buffer body, the body is sent as this attachment (node-red-node-email). */
  filename?: unknown;
  importance?: unknown;
  priority?: unknown;
  headers?: unknown;
  requestReadReceipt?: unknown;
  requestDeliveryReceipt?: unknown;
  categories?: unknown;
  /** msg.title: node-red-node-email's subject when msg.topic is absent. */
  title?: unknown;
  /** msg.description: node-red-node-email's body text when the payload is a Buffer (a file). */
  description?: unknown;
}

/** One attachment, validated, its bytes still a Buffer (base64 only when a request needs it). */
export interface PreparedAttachment {
  name: string;
  contentType: string;
  bytes: Buffer;
  /** Set for inline attachments referenced as `cid:` in an HTML body. */
  contentId?: string;
}

/**
 * What compose hands to the mailer: the Graph message without its attachments, the attachments as
 * Buffers (the send path decides how each travels), and a plain summary for msg.email.
 */
export interface ComposedMail {
  /** Every message field except `attachments`. */
  fields: Message;
  attachments: PreparedAttachment[];
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  attachmentCount: number;
}

/** msg.email on output 1, as README.md ("What comes out") documents it. */
export interface SendResult {
  status: 'sent';
  sender: string;
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  attachments: number;
  path: SendPath;
  requestId: string;
  clientRequestId: string;
  attempts: number;
  sentAt: string;
}
