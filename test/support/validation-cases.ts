/**
 * One table of values for the fields both the editor and the runtime judge. `valid` is the
 * verdict of both; `editorRefuses` marks the few values the dialog flags on purpose although the
 * runtime would take them, with the reason. test/unit/editor-rules.test.ts runs every row through
 * the dialogs' validators and through the runtime's readers.
 */
export type ConnectionField =
  | 'key'
  | 'tenantId'
  | 'applicationId'
  | 'senderEmail'
  | 'allowedRecipientDomains'
  | 'allowedMailboxes'
  | 'secretExpiresOn'
  | 'proxyUrl'
  | 'queueSize'
  | 'maxRecipients'
  | 'maxMailsPerMinute'
  | 'maxRecipientsPerDay';

export interface ValidationCase<F extends string> {
  field: F;
  value: string;
  valid: boolean;
  /** Why the editor flags a value the runtime accepts. */
  editorRefuses?: string;
}

const NIL_GUID = '00000000-0000-0000-0000-000000000000';
const GUID = '0b7e5a3c-2d91-4f6e-8a4b-1c9d7e2f6a30';

export const connectionCases: ReadonlyArray<ValidationCase<ConnectionField>> = [
  { field: 'key', value: 'my-office-connection', valid: true },
  { field: 'key', value: 'Sandbox_2', valid: true },
  { field: 'key', value: 'bad key', valid: false },
  { field: 'key', value: 'clé', valid: false },
  { field: 'key', value: '<img src=x>', valid: false },
  { field: 'key', value: '', valid: false },

  { field: 'tenantId', value: 'contoso.onmicrosoft.com', valid: true },
  { field: 'tenantId', value: GUID, valid: true },
  { field: 'tenantId', value: 'not/a tenant', valid: false },
  { field: 'tenantId', value: '', valid: false },
  { field: 'tenantId', value: 'contoso', valid: true, editorRefuses: 'a tenant is a GUID or a verified domain; the runtime leaves the rest to Entra (AADSTS900023)' },
  { field: 'tenantId', value: NIL_GUID, valid: true, editorRefuses: 'Entra never issues the nil GUID: it is a placeholder left in' },

  { field: 'applicationId', value: GUID, valid: true },
  { field: 'applicationId', value: GUID.toUpperCase(), valid: true },
  { field: 'applicationId', value: 'nope', valid: false },
  { field: 'applicationId', value: `${GUID}x`, valid: false },
  { field: 'applicationId', value: NIL_GUID, valid: true, editorRefuses: 'Entra never issues the nil GUID: it is a placeholder left in' },

  { field: 'senderEmail', value: 'alerts@contoso.com', valid: true },
  { field: 'senderEmail', value: 'first.last+tag@contoso.co.uk', valid: true },
  { field: 'senderEmail', value: 'alerts@contoso', valid: true },
  { field: 'senderEmail', value: 'Alerts <alerts@contoso.com>', valid: false },
  { field: 'senderEmail', value: 'alerts', valid: false },
  { field: 'senderEmail', value: 'al erts@contoso.com', valid: false },
  { field: 'senderEmail', value: 'alerts@contoso.com, b@contoso.com', valid: false },
  { field: 'senderEmail', value: '', valid: false },

  { field: 'allowedMailboxes', value: '', valid: true },
  { field: 'allowedMailboxes', value: 'shared@contoso.com', valid: true },
  { field: 'allowedMailboxes', value: 'Shared@Contoso.com, orders@contoso.com; nhs.app@nhs.net\tjobs@contoso', valid: true },
  { field: 'allowedMailboxes', value: 'shared@contoso.com,', valid: true },
  { field: 'allowedMailboxes', value: 'Shared <shared@contoso.com>', valid: false },
  { field: 'allowedMailboxes', value: 'contoso.com', valid: false },
  { field: 'allowedMailboxes', value: 'a@b.com, <img src=x onerror=alert(1)>', valid: false },
  { field: 'allowedMailboxes', value: `${'a'.repeat(310)}@contoso.com`, valid: false },
  { field: 'allowedMailboxes', value: Array.from({ length: 1001 }, (_, i) => `m${i}@contoso.com`).join(','), valid: false },
  { field: 'allowedRecipientDomains', value: 'example.com', valid: true },
  { field: 'allowedRecipientDomains', value: 'Example.com, @nhs.net', valid: true },
  { field: 'allowedRecipientDomains', value: 'example.com; nhs.net', valid: true },
  { field: 'allowedRecipientDomains', value: 'example.com nhs.net', valid: true },
  { field: 'allowedRecipientDomains', value: 'example.com,', valid: true },
  { field: 'allowedRecipientDomains', value: 'localhost', valid: true },
  { field: 'allowedRecipientDomains', value: '', valid: true },
  { field: 'allowedRecipientDomains', value: 'example..com', valid: false },
  { field: 'allowedRecipientDomains', value: '*.example.com', valid: false },
  { field: 'allowedRecipientDomains', value: 'https://example.com', valid: false },
  { field: 'allowedRecipientDomains', value: '<img src=x onerror=alert(1)>', valid: false },

  { field: 'secretExpiresOn', value: '2027-02-28', valid: true },
  { field: 'secretExpiresOn', value: '', valid: true },
  { field: 'secretExpiresOn', value: '2027-02-30', valid: false },
  { field: 'secretExpiresOn', value: '28.02.2027', valid: false },

  { field: 'proxyUrl', value: 'http://proxy.corp:8080', valid: true },
  { field: 'proxyUrl', value: 'https://user@proxy.corp:3128/', valid: true },
  { field: 'proxyUrl', value: '', valid: true },
  { field: 'proxyUrl', value: 'http://user:pass@proxy.corp:3128', valid: false },
  { field: 'proxyUrl', value: 'socks5://proxy.corp:1080', valid: false },
  { field: 'proxyUrl', value: 'http://proxy.corp:8080/path', valid: false },
  { field: 'proxyUrl', value: 'http://proxy.corp:8080/?a=b', valid: false },
  { field: 'proxyUrl', value: 'proxy.corp', valid: false },

  { field: 'queueSize', value: '1', valid: true },
  { field: 'queueSize', value: '0', valid: false },
  { field: 'queueSize', value: 'many', valid: false },
  { field: 'queueSize', value: '', valid: true },

  { field: 'maxRecipients', value: '1000', valid: true },
  { field: 'maxRecipients', value: '', valid: true },
  { field: 'maxRecipients', value: '1001', valid: false },
  { field: 'maxRecipients', value: '0', valid: false },
  { field: 'maxRecipients', value: '1.5', valid: false },

  { field: 'maxMailsPerMinute', value: '30', valid: true },
  { field: 'maxMailsPerMinute', value: '', valid: true },
  { field: 'maxMailsPerMinute', value: '0', valid: false },
  { field: 'maxMailsPerMinute', value: 'lots', valid: false },
  { field: 'maxRecipientsPerDay', value: '10000', valid: true },
  { field: 'maxRecipientsPerDay', value: '-1', valid: false },
];

export type RecipientField = 'to' | 'cc' | 'bcc' | 'replyTo';

/** Fixed recipients typed into the email task (type `str`); the runtime reads them per message. */
export const recipientCases: ReadonlyArray<ValidationCase<RecipientField>> = [
  { field: 'to', value: 'ada@example.com', valid: true },
  { field: 'to', value: 'Ada Lovelace <ada@example.com>', valid: true },
  { field: 'cc', value: '"Bob, Jr." <bob@example.com>', valid: true },
  { field: 'cc', value: 'ada@example.com; bob@example.com', valid: true },
  { field: 'bcc', value: 'ada@example.com, Bob <bob@example.com>,', valid: true },
  { field: 'bcc', value: 'ada@localhost', valid: true },
  { field: 'replyTo', value: 'noreply@contoso.com', valid: true },
  { field: 'to', value: 'not-an-address', valid: false },
  { field: 'to', value: 'ada@', valid: false },
  { field: 'to', value: 'ada@example.com, nobody', valid: false },
  { field: 'cc', value: '<img src=x onerror=alert(1)>', valid: false },
  { field: 'to', value: `${'a'.repeat(310)}@example.com`, valid: false },
  {
    field: 'to',
    value: 'ada@example.com (Ada)',
    valid: true,
    editorRefuses: 'RFC 5322 comments and groups are rare; the runtime\'s parser takes them, the dialog only knows the two common shapes',
  },
];

/**
 * A fixed From typed into the email task: one address, a display name allowed. Whether the
 * connection lists it is the runtime's to say per message (the connection may be chosen by Key).
 */
export const senderCases: ReadonlyArray<ValidationCase<'from'>> = [
  { field: 'from', value: 'orders@contoso.com', valid: true },
  { field: 'from', value: 'Orders Team <orders@contoso.com>', valid: true },
  { field: 'from', value: 'orders@contoso.com, ceo@contoso.com', valid: false },
  { field: 'from', value: 'orders', valid: false },
  { field: 'from', value: '<img src=x onerror=alert(1)>', valid: false },
];

/** A fixed Key typed into the email task (Type "Connection by key"): as the connection's Key. */
export const connectionKeyCases: ReadonlyArray<ValidationCase<'connectionKey'>> = [
  { field: 'connectionKey', value: 'customer-42', valid: true },
  { field: 'connectionKey', value: 'Sandbox_2', valid: true },
  { field: 'connectionKey', value: 'bad key', valid: false },
  { field: 'connectionKey', value: '<img src=x>', valid: false },
  { field: 'connectionKey', value: '', valid: false },
];
