/** Types shared by the Node-RED glue (nodes/*.ts) and the core (nodes/lib). */
import type { Message } from '@microsoft/microsoft-graph-types';
import type { ClientCertificate } from './certificate';

export type CloudName = 'global' | 'usgov' | 'usgovdod' | 'china' | 'custom';
export type BodyFormat = 'auto' | 'text' | 'html';
export type Importance = 'low' | 'normal' | 'high';
export type MailAction = 'send' | 'reply' | 'replyAll' | 'forward';
export const MAIL_ACTIONS: readonly MailAction[] = ['send', 'reply', 'replyAll', 'forward'];
/** How a mail went out: a new mail's transport, or the answer's action (msg.email.path). */
export type SendPath = 'sendMail' | 'uploadSession' | Exclude<MailAction, 'send'>;
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
  /**
   * Other mailboxes (shared, generic) flows may send from or read through this connection,
   * lower-case, without the sender; empty: only `senderEmail`.
   */
  allowedMailboxes: string[];
  /** Per-message cap: 500 by default (Exchange's default), at most 1,000 (the most an Exchange admin can allow). */
  maxRecipients: number;
  /** Exchange pacing per mailbox (mails started in any 60 s); undefined: no pacing. */
  maxMailsPerMinute?: number;
  /** Rolling 24 h recipient budget per mailbox; undefined: off. */
  maxRecipientsPerDay?: number;
  /** `YYYY-MM-DD` the client secret (or certificate) stops working, when the user gave it. */
  secretExpiresOn?: string;
}

/**
 * The typedInput fields, each evaluated per message by the glue: the Message tab's, the sender
 * (`from`), the message answered (`messageId`) and, on the Authorisation tab, the connection's Key.
 */
export const TYPED_FIELDS = ['to', 'cc', 'bcc', 'replyTo', 'subject', 'body', 'attachments', 'from', 'messageId', 'connectionKey'] as const;
export type TypedField = (typeof TYPED_FIELDS)[number];

/**
 * Message properties read as they are, as node-red-node-email reads them: the one list a new
 * message property is added to (compose then decides what it means).
 */
export const MSG_FIELDS = [
  // With a Buffer body, the body is sent as this attachment.
  'filename',
  'importance',
  // node-red-node-email's high/normal/low or 1..5; msg.importance wins.
  'priority',
  'headers',
  'requestReadReceipt',
  'requestDeliveryReceipt',
  'categories',
  // The subject when msg.topic is absent.
  'title',
  // The body text when the payload is a Buffer (a file).
  'description',
  // office365-mail-in's metadata: `mail.mailbox` names the mailbox that holds the message answered.
  'mail',
] as const;
export type MsgField = (typeof MSG_FIELDS)[number];

/** Per-message values: the typedInputs once evaluated, plus the msg fields read directly. */
export type MailInput = Partial<Record<TypedField | MsgField, unknown>>;

/** The email task's own settings (not per message), read once at deploy. */
/**
 * The email task's `onFailure` choices. A failure always leaves by output 2 (every message leaves by
 * exactly one output); the choice is whether it also goes to Catch nodes (done(err)).
 */
export const FAILURE_ROUTES = ['auto', 'both'] as const;
export type FailureRoute = (typeof FAILURE_ROUTES)[number];

export interface TaskSettings {
  /** Where each typedInput field reads from (the default msg property when the flow leaves it out). */
  inputs: ReadonlyArray<{ field: TypedField; value: string; type: string }>;
  /** `auto` is decided here once when the body is a fixed template: message data must not make it HTML. */
  bodyFormat: BodyFormat;
  importance: Importance;
  saveToSentItems: boolean;
  maxAttempts: number;
  maxWaitMs: number;
  timeoutMs: number;
  retryUnknownOutcome: boolean;
  /** `send` (a new mail) or the answer to the message `messageId` names. */
  action: MailAction;
  /** Send every new mail through a draft, so its ids are known (needs Mail.ReadWrite). */
  returnMessageIds: boolean;
  /** Whether a failure also goes to Catch nodes: `auto` only while output 2 is unwired, `both` always (settings.ts failureRoute). */
  onFailure: FailureRoute;
  /**
   * Fields whose value is set in the node (`str`, which Node-RED fills from `${NAME}`) or read from
   * the environment: they may be secrets, so an error about them names the field, never the value.
   */
  configuredFields: ReadonlySet<string>;
}

/** One attachment, validated, its bytes still a Buffer (base64 only when a request needs it). */
export interface PreparedAttachment {
  name: string;
  contentType: string;
  bytes: Buffer;
  /** Set for inline attachments referenced as `cid:` in an HTML body. */
  contentId?: string;
}

/** Whom a mail is for and its subject, as msg.email reports them (addresses as plain strings). */
export interface MailSummary {
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
}

/**
 * What compose hands to the mailer: the Graph message without its attachments, the attachments as
 * Buffers (the send path decides how each travels), and a plain summary for msg.email.
 */
export interface ComposedMail extends MailSummary {
  /** Every message field except `attachments`. */
  fields: Message;
  attachments: PreparedAttachment[];
  attachmentCount: number;
}

/** msg.email on output 1, as README.md ("What comes out") documents it. */
export interface SendResult extends MailSummary {
  status: 'sent';
  sender: string;
  attachments: number;
  path: SendPath;
  requestId: string;
  clientRequestId: string;
  attempts: number;
  sentAt: string;
  /** Known when the mail went through a draft (large mails, answers with large files, returnMessageIds). */
  internetMessageId?: string;
  /** The draft's immutable Graph id, which its Sent Items copy keeps. */
  messageId?: string;
  conversationId?: string;
}

/** Ids of a mail that went through a draft: Graph tells them when the draft is made. */
export interface MessageIds {
  messageId: string;
  internetMessageId?: string;
  conversationId?: string;
}
