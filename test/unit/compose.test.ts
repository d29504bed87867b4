import { composeMail, looksLikeHtml, type ComposeRules } from '../../nodes/lib/compose';
import { MailError } from '../../nodes/lib/errors';

const rules: ComposeRules = { bodyFormat: 'auto', importance: 'normal', allowedRecipientDomains: [], maxRecipients: 500 };

function failure(fn: () => unknown): MailError {
  try {
    fn();
  } catch (err) {
    if (err instanceof MailError) return err;
    throw err;
  }
  throw new Error('expected a MailError');
}

describe('composeMail', () => {
  it('builds a text message with recipients and subject', () => {
    const mail = composeMail({ to: 'ada@example.com', cc: 'b@example.com', subject: 'Hi', body: 'Hello' }, rules);
    expect(mail.message).toEqual({
      subject: 'Hi',
      body: { contentType: 'text', content: 'Hello' },
      toRecipients: [{ emailAddress: { address: 'ada@example.com' } }],
      ccRecipients: [{ emailAddress: { address: 'b@example.com' } }],
    });
    expect(mail.to).toEqual(['ada@example.com']);
    expect(mail.cc).toEqual(['b@example.com']);
    expect(mail.bcc).toEqual([]);
  });

  it('detects HTML in auto mode and honours explicit formats', () => {
    expect(composeMail({ to: 'a@x.org', body: '<p>Hi</p>' }, rules).message.body?.contentType).toBe('html');
    expect(composeMail({ to: 'a@x.org', body: '<p>Hi</p>' }, { ...rules, bodyFormat: 'text' }).message.body?.contentType).toBe('text');
    expect(composeMail({ to: 'a@x.org', body: 'a < b' }, { ...rules, bodyFormat: 'html' }).message.body?.contentType).toBe('html');
    expect(looksLikeHtml('1 < 2 and 3 > 2')).toBe(false);
  });

  it('fails with validation and no message when there is no recipient', () => {
    const error = failure(() => composeMail({ subject: 'x', body: 'y' }, rules));
    expect(error.category).toBe('validation');
    expect(error.code).toBe('NoRecipients');
  });

  it('enforces Graph recipient cap and the connection cap', () => {
    const many = Array.from({ length: 501 }, (_, i) => `u${i}@x.org`);
    expect(failure(() => composeMail({ to: many }, rules)).code).toBe('TooManyRecipients');
    expect(failure(() => composeMail({ to: 'a@x.org', cc: 'b@x.org' }, { ...rules, maxRecipients: 1 })).params).toMatchObject({ count: 2, max: 1 });
  });

  it('refuses recipients outside the allowed domains and names them', () => {
    const error = failure(() => composeMail({ to: 'a@good.org', bcc: 'spam@evil.org' }, { ...rules, allowedRecipientDomains: ['good.org'] }));
    expect(error.code).toBe('RecipientDomainNotAllowed');
    expect(error.params).toMatchObject({ field: 'bcc', value: 'spam@evil.org' });
  });

  it('sends objects as pretty JSON text and numbers as text', () => {
    expect(composeMail({ to: 'a@x.org', body: { a: 1 } }, rules).message.body?.content).toBe('{\n  "a": 1\n}');
    expect(composeMail({ to: 'a@x.org', body: 42 }, rules).message.body?.content).toBe('42');
  });

  it('turns a Buffer body with a filename into an attachment', () => {
    const mail = composeMail({ to: 'a@x.org', body: Buffer.from('hello'), filename: 'report.csv' }, rules);
    expect(mail.attachmentCount).toBe(1);
    expect(mail.message.attachments?.[0]).toMatchObject({ name: 'report.csv', contentType: 'text/csv', contentBytes: Buffer.from('hello').toString('base64') });
    expect(mail.message.body?.content).toBe('');
  });

  it('maps importance and node-red-node-email priority', () => {
    expect(composeMail({ to: 'a@x.org', importance: 'HIGH' }, rules).message.importance).toBe('high');
    expect(composeMail({ to: 'a@x.org', priority: 5 }, rules).message.importance).toBe('low');
    expect(composeMail({ to: 'a@x.org' }, { ...rules, importance: 'high' }).message.importance).toBe('high');
    expect(failure(() => composeMail({ to: 'a@x.org', priority: 'urgent' }, rules)).params).toMatchObject({ field: 'priority', value: 'urgent' });
  });

  it('checks X- headers', () => {
    expect(composeMail({ to: 'a@x.org', headers: { 'X-Ticket': 42 } }, rules).message.internetMessageHeaders).toEqual([{ name: 'X-Ticket', value: '42' }]);
    expect(failure(() => composeMail({ to: 'a@x.org', headers: { Subject: 'x' } }, rules)).params).toMatchObject({ value: 'Subject' });
    expect(failure(() => composeMail({ to: 'a@x.org', headers: { 'X-A': 'a\r\nBcc: x@y.org' } }, rules)).code).toBe('InvalidHeader');
    const six = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`X-H${i}`, 'v']));
    expect(failure(() => composeMail({ to: 'a@x.org', headers: six }, rules)).code).toBe('TooManyHeaders');
  });

  it('passes receipts and categories', () => {
    const mail = composeMail({ to: 'a@x.org', requestReadReceipt: true, requestDeliveryReceipt: true, categories: 'Red, Blue' }, rules);
    expect(mail.message).toMatchObject({ isReadReceiptRequested: true, isDeliveryReceiptRequested: true, categories: ['Red', 'Blue'] });
  });

  it('removes line breaks from the subject and refuses objects', () => {
    expect(composeMail({ to: 'a@x.org', subject: 'a\r\nb' }, rules).subject).toBe('a b');
    expect(failure(() => composeMail({ to: 'a@x.org', subject: { a: 1 } }, rules)).params).toMatchObject({ field: 'subject' });
  });

  it('builds attachments of every content shape with inline cid', () => {
    const mail = composeMail(
      {
        to: 'a@x.org',
        attachments: [
          { filename: 'a.txt', content: 'héllo' },
          { filename: 'b.bin', content: Buffer.from([1, 2, 3]) },
          { filename: 'logo.png', content: Buffer.from('png').toString('base64'), encoding: 'base64', cid: 'logo' },
        ],
      },
      rules,
    );
    const [a, b, logo] = mail.message.attachments ?? [];
    expect(Buffer.from(String((a as { contentBytes: string }).contentBytes), 'base64').toString('utf8')).toBe('héllo');
    expect(b).toMatchObject({ contentType: 'application/octet-stream', contentBytes: 'AQID' });
    expect(logo).toMatchObject({ contentType: 'image/png', contentId: 'logo', isInline: true, contentBytes: Buffer.from('png').toString('base64') });
  });

  it('names the attachment that is wrong', () => {
    expect(failure(() => composeMail({ to: 'a@x.org', attachments: [{ content: 'x' }] }, rules)).params).toMatchObject({ field: 'attachments[0]' });
    expect(failure(() => composeMail({ to: 'a@x.org', attachments: [{ filename: 'x' }] }, rules)).messageKey).toBe('attachmentNoContent');
    expect(failure(() => composeMail({ to: 'a@x.org', attachments: [{ filename: 'x', content: 5 }] }, rules)).messageKey).toBe('attachmentContentType');
  });
});
