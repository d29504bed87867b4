import { base64Length, fileAttachmentJsonBytes, toFileAttachment } from '../../nodes/lib/attachments';
import { composeMail, type ComposeRules } from '../../nodes/lib/compose';
import { GRAPH_MAX_REQUEST_BYTES } from '../../nodes/lib/graph';
import { choosePath, sendMailRequestBytes } from '../../nodes/lib/delivery';

const rules: ComposeRules = { bodyFormat: 'auto', importance: 'normal', allowedRecipientDomains: [], maxRecipients: 500 };

/** What sendMail would really post. */
function realBytes(mail: ReturnType<typeof composeMail>, save: boolean): number {
  const message = mail.attachments.length ? { ...mail.fields, attachments: mail.attachments.map(toFileAttachment) } : mail.fields;
  return Buffer.byteLength(JSON.stringify(save ? { message } : { message, saveToSentItems: false }));
}

describe('the size of a sendMail request, computed without encoding', () => {
  it.each([
    ['no attachment', []],
    ['one', [{ filename: 'a.txt', content: 'hello' }]],
    ['several, with "quotes" and non-ASCII names, inline', [
      { filename: 'a "b".txt', content: Buffer.alloc(1001) },
      { filename: 'résumé.pdf', content: Buffer.alloc(2), cid: 'x@y' },
      { filename: 'c', content: Buffer.alloc(0) },
    ]],
  ])('%s: equals the JSON that is sent', (_what, attachments) => {
    const mail = composeMail({ to: 'Ada <a@x.org>', subject: 'Ünïcode', body: '<p>"hi"</p>', headers: { 'X-A': '1' }, attachments }, rules);
    for (const save of [true, false]) expect(sendMailRequestBytes(mail, save)).toBe(realBytes(mail, save));
  });

  it('one attachment\'s JSON, and base64 lengths', () => {
    const a = { name: 'x.bin', contentType: 'application/octet-stream', bytes: Buffer.alloc(12345) };
    expect(fileAttachmentJsonBytes(a)).toBe(Buffer.byteLength(JSON.stringify(toFileAttachment(a))));
    expect([0, 1, 2, 3, 4].map(base64Length)).toEqual([0, 4, 4, 4, 8]);
  });

  it('chooses sendMail up to Graph\'s 4 MB request and the upload path beyond, at the byte', () => {
    const base = composeMail({ to: 'a@x.org', attachments: [{ filename: 'f.bin', content: Buffer.alloc(3) }] }, rules);
    const overhead = sendMailRequestBytes(base, true) - 4;
    // The largest attachment whose request still fits: base64 takes 4 bytes per 3.
    const fits = Math.floor((GRAPH_MAX_REQUEST_BYTES - overhead) / 4) * 3;
    const at = composeMail({ to: 'a@x.org', attachments: [{ filename: 'f.bin', content: Buffer.alloc(fits) }] }, rules);
    const over = composeMail({ to: 'a@x.org', attachments: [{ filename: 'f.bin', content: Buffer.alloc(fits + 1) }] }, rules);
    expect(realBytes(at, true)).toBeLessThanOrEqual(GRAPH_MAX_REQUEST_BYTES);
    expect(choosePath(at, true)).toBe('sendMail');
    expect(realBytes(over, true)).toBeGreaterThan(GRAPH_MAX_REQUEST_BYTES);
    expect(choosePath(over, true)).toBe('uploadSession');
  });
});
