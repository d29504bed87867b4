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
    expect(mail.fields).toEqual({
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
    expect(composeMail({ to: 'a@x.org', body: '<p>Hi</p>' }, rules).fields.body?.contentType).toBe('html');
    expect(composeMail({ to: 'a@x.org', body: '<p>Hi</p>' }, { ...rules, bodyFormat: 'text' }).fields.body?.contentType).toBe('text');
    expect(composeMail({ to: 'a@x.org', body: 'a < b' }, { ...rules, bodyFormat: 'html' }).fields.body?.contentType).toBe('html');
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
    expect(composeMail({ to: 'a@x.org', body: { a: 1 } }, rules).fields.body?.content).toBe('{\n  "a": 1\n}');
    expect(composeMail({ to: 'a@x.org', body: 42 }, rules).fields.body?.content).toBe('42');
  });

  it('turns a Buffer body with a filename into an attachment', () => {
    const mail = composeMail({ to: 'a@x.org', body: Buffer.from('hello'), filename: 'report.csv' }, rules);
    expect(mail.attachmentCount).toBe(1);
    expect(mail.attachments[0]).toMatchObject({ name: 'report.csv', contentType: 'text/csv', bytes: Buffer.from('hello') });
    expect(mail.fields.body?.content).toBe('');
  });

  it('maps importance and node-red-node-email priority', () => {
    expect(composeMail({ to: 'a@x.org', importance: 'HIGH' }, rules).fields.importance).toBe('high');
    expect(composeMail({ to: 'a@x.org', priority: 5 }, rules).fields.importance).toBe('low');
    expect(composeMail({ to: 'a@x.org' }, { ...rules, importance: 'high' }).fields.importance).toBe('high');
    expect(failure(() => composeMail({ to: 'a@x.org', priority: 'urgent' }, rules)).params).toMatchObject({ field: 'priority', value: 'urgent' });
  });

  it('checks X- headers', () => {
    expect(composeMail({ to: 'a@x.org', headers: { 'X-Ticket': 42 } }, rules).fields.internetMessageHeaders).toEqual([{ name: 'X-Ticket', value: '42' }]);
    expect(failure(() => composeMail({ to: 'a@x.org', headers: { Subject: 'x' } }, rules)).params).toMatchObject({ value: 'Subject' });
    expect(failure(() => composeMail({ to: 'a@x.org', headers: { 'X-A': 'a\r\nBcc: x@y.org' } }, rules)).code).toBe('InvalidHeader');
    const six = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`X-H${i}`, 'v']));
    expect(failure(() => composeMail({ to: 'a@x.org', headers: six }, rules)).code).toBe('TooManyHeaders');
  });

  it('passes receipts and categories', () => {
    const mail = composeMail({ to: 'a@x.org', requestReadReceipt: true, requestDeliveryReceipt: true, categories: 'Red, Blue' }, rules);
    expect(mail.fields).toMatchObject({ isReadReceiptRequested: true, isDeliveryReceiptRequested: true, categories: ['Red', 'Blue'] });
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
    const [a, b, logo] = mail.attachments;
    expect(a.bytes.toString('utf8')).toBe('héllo');
    expect(a.contentType).toBe('text/plain');
    expect(b).toMatchObject({ contentType: 'application/octet-stream', bytes: Buffer.from([1, 2, 3]) });
    expect(logo).toMatchObject({ contentType: 'image/png', contentId: 'logo', bytes: Buffer.from('png') });
    expect(mail.fields.attachments).toBeUndefined();
  });

  it('names the attachment that is wrong', () => {
    expect(failure(() => composeMail({ to: 'a@x.org', attachments: [{ content: 'x' }] }, rules)).params).toMatchObject({ field: 'attachments[0]' });
    expect(failure(() => composeMail({ to: 'a@x.org', attachments: [{ filename: 'x' }] }, rules)).messageKey).toBe('attachmentNoContent');
    expect(failure(() => composeMail({ to: 'a@x.org', attachments: [{ filename: 'x', content: 5 }] }, rules)).messageKey).toBe('attachmentContentType');
  });
});

describe('composeMail: node-red-node-email compatibility and validation', () => {
  it('names a Buffer payload as the e-mail node does: msg.filename without directories, else by its first bytes', () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1]);
    expect(composeMail({ to: 'a@x.org', body: png }, rules).attachments[0]).toMatchObject({ name: 'attachment.png', contentType: 'image/png' });
    expect(composeMail({ to: 'a@x.org', body: Buffer.from([0xff, 0xd8, 0]) }, rules).attachments[0].name).toBe('attachment.jpg');
    expect(composeMail({ to: 'a@x.org', body: Buffer.from('x') }, rules).attachments[0].name).toBe('attachment.bin');
    expect(composeMail({ to: 'a@x.org', body: Buffer.from('x'), filename: 'C:\\temp\\r.csv' }, rules).attachments[0].name).toBe('r.csv');
  });

  it('uses msg.description as the text of a Buffer payload, and msg.headers["content-type"] as its type (not as a header)', () => {
    const mail = composeMail({ to: 'a@x.org', body: Buffer.from('x'), filename: 'f', description: 'Here it is', headers: { 'Content-Type': 'text/csv', 'X-A': '1' } }, rules);
    expect(mail.fields.body).toEqual({ contentType: 'text', content: 'Here it is' });
    expect(mail.attachments[0].contentType).toBe('text/csv');
    expect(mail.fields.internetMessageHeaders).toEqual([{ name: 'X-A', value: '1' }]);
    // Without a Buffer payload, content-type is an ordinary (refused) header name.
    expect(failure(() => composeMail({ to: 'a@x.org', body: 'x', headers: { 'content-type': 'text/csv' } }, rules)).params).toMatchObject({ value: 'content-type' });
  });

  it('takes msg.title as the subject when msg.topic is absent, not when it is empty', () => {
    expect(composeMail({ to: 'a@x.org', title: 'From title' }, rules).subject).toBe('From title');
    expect(composeMail({ to: 'a@x.org', subject: '', title: 'From title' }, rules).subject).toBe('');
    expect(composeMail({ to: 'a@x.org', subject: 'Topic', title: 'From title' }, rules).subject).toBe('Topic');
  });

  it('accepts one attachment object as well as an array', () => {
    expect(composeMail({ to: 'a@x.org', attachments: { filename: 'a.txt', content: 'a' } }, rules).attachmentCount).toBe(1);
  });

  it('refuses bad base64, a file path instead of content, and header values that are not text', () => {
    expect(failure(() => composeMail({ to: 'a@x.org', attachments: [{ filename: 'a.pdf', content: 'not base64!', encoding: 'base64' }] }, rules))).toMatchObject({
      messageKey: 'attachmentBase64',
      params: { field: 'attachments[0]', value: 'a.pdf' },
    });
    expect(failure(() => composeMail({ to: 'a@x.org', attachments: [{ filename: 'a.pdf', path: '/tmp/a.pdf' }] }, rules))).toMatchObject({
      messageKey: 'attachmentPath',
      hintKey: 'attachmentPath',
      params: { field: 'attachments[0]', value: 'a.pdf' },
    });
    expect(failure(() => composeMail({ to: 'a@x.org', headers: { 'X-Obj': { a: 1 } } }, rules))).toMatchObject({ messageKey: 'headerValueNotText', params: { value: 'X-Obj' } });
    expect(failure(() => composeMail({ to: 'a@x.org', headers: { 'X-A': 'ok', 'X-B': 'a\nb' } }, rules))).toMatchObject({ messageKey: 'headerValue', params: { value: 'X-B' } });
    expect(failure(() => composeMail({ to: 'a@x.org', headers: 'X-A: 1' }, rules)).messageKey).toBe('headersNotObject');
  });

  it('refuses a mail over 150 MB with size before anything is sent', () => {
    const error = failure(() => composeMail({ to: 'a@x.org', attachments: [{ filename: 'a', content: Buffer.allocUnsafe(150 * 1024 * 1024 + 1) }] }, rules));
    expect(error).toMatchObject({ category: 'size', code: 'MessageTooLarge' });
  });

  it('keeps a large attachment as the caller\'s Buffer (no copy) and out of the message fields', () => {
    const big = Buffer.allocUnsafe(10 * 1024 * 1024);
    const mail = composeMail({ to: 'a@x.org', attachments: [{ filename: 'big.bin', content: big }] }, rules);
    expect(mail.attachments[0].bytes).toBe(big);
    expect(JSON.stringify(mail.fields).length).toBeLessThan(1000);
  });
});
