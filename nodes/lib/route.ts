/**
 * Which mailbox a message goes out from and what it does there: the sender chosen per message
 * (From), and for an answer (reply, replyAll, forward) the message answered and the mailbox that
 * holds it. Every mailbox is checked against the connection's own (permittedMailbox) before any
 * request: nothing is sent as, or read from, a mailbox the connection does not list.
 */
import { validationError } from './errors';
import { parseRecipients, shorten } from './recipients';
import { permittedMailbox } from './settings';
import type { ConnectionSettings, MailAction, MailInput } from './types';

/** Graph's message ids are about 150 characters; anything much longer is not one. */
export const MAX_MESSAGE_ID_LENGTH = 1024;

export interface MailRoute {
  /** The mailbox in the URL (`/users/{mailbox}/…`): the sender of a new mail, the holder of the answered one. */
  mailbox: string;
  action: MailAction;
  /** The Graph id of the message answered; set for every action but `send`. */
  messageId?: string;
}

type Mailboxes = Pick<ConnectionSettings, 'senderEmail' | 'allowedMailboxes'>;

/**
 * The sender for this message. Without `allowedMailboxes` the From value is ignored: flows written
 * for node-red-node-email set msg.from, and their mail must keep coming from `senderEmail`.
 */
export function senderOf(settings: Mailboxes, from: unknown): string {
  if (settings.allowedMailboxes.length === 0 || from === undefined || from === null || from === '') return settings.senderEmail;
  // One address, display-name forms included (`Ops <ops@contoso.com>`), by the recipients' parser.
  const parsed = parseRecipients(from, 'from');
  if (parsed.length !== 1) throw validationError('InvalidSender', 'invalidSender', { field: 'from' }, 'senderNotAllowed');
  const address = parsed[0].address;
  const mailbox = permittedMailbox(settings, address);
  if (!mailbox) throw validationError('SenderNotAllowed', 'senderNotAllowed', { field: 'from', value: address }, 'senderNotAllowed');
  return mailbox;
}

/** The route of one message: its sender, and for an answer the message and its mailbox. */
export function routeOf(settings: Mailboxes, action: MailAction, input: MailInput): MailRoute {
  if (action === 'send') return { mailbox: senderOf(settings, input.from), action };
  const messageId = input.messageId;
  if (typeof messageId !== 'string' || messageId.trim() === '') {
    throw validationError('MissingMessageId', 'missingMessageId', { field: 'messageId' }, 'missingMessageId');
  }
  if (messageId.length > MAX_MESSAGE_ID_LENGTH) {
    throw validationError('InvalidMessageId', 'invalidMessageId', { field: 'messageId', value: shorten(messageId) }, 'missingMessageId');
  }
  // The mailbox that holds the message: office365-mail-in says which in msg.mail.mailbox.
  // Then From is not read: office365-mail-in sets msg.from to the outside sender it received from.
  const held = heldIn(input.mail);
  if (held === undefined) return { mailbox: senderOf(settings, input.from), action, messageId: messageId.trim() };
  const mailbox = permittedMailbox(settings, held);
  if (!mailbox) throw validationError('MailboxNotAllowed', 'answerMailboxNotAllowed', { field: 'mail.mailbox', value: shorten(held) }, 'senderNotAllowed');
  return { mailbox, action, messageId: messageId.trim() };
}

function heldIn(mail: unknown): string | undefined {
  if (typeof mail !== 'object' || mail === null) return undefined;
  const mailbox = (mail as { mailbox?: unknown }).mailbox;
  return typeof mailbox === 'string' && mailbox.trim() !== '' ? mailbox : undefined;
}
