/**
 * Issue 11: every parser that sees message input or upstream text is linear (or runs on a capped
 * prefix). Each rewritten parser answers as the pattern it replaced did (property tests on small
 * inputs), and the quadratic shapes from the issue finish far inside a generous bound: they took
 * seconds before (4.9 s for 40,000 × '<a ' in looksLikeHtml, 12 s for 240 KB in redact()).
 */
import fc from 'fast-check';
import { DETAIL_MAX, MailError, entraDescription, entraError, graphError, quote, redact } from '../../nodes/lib/errors';
import { MAX_ATTACHMENTS, composeMail, looksLikeHtml } from '../../nodes/lib/compose';
import { MAX_ADDRESS_ENTRY, MAX_RECIPIENT_FIELD, parseRecipients, splitAddressList } from '../../nodes/lib/recipients';

/** Far above the linear code's few milliseconds, far below the old seconds. */
const BOUND_MS = 500;

function elapsed(work: () => unknown): number {
  const start = performance.now();
  try {
    work();
  } catch {
    // refusals are fine: the time to reach them is what counts here
  }
  return performance.now() - start;
}

const OLD_HTML_HINT = /<(html|head|body|div|p|br|hr|table|tr|td|span|a|img|h[1-6]|ul|ol|li|b|i|u|strong|em|font|style|pre|blockquote|center)\b[^>]*>/i;
const OLD_TOKEN = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;

const text = (units: string[], maxLength = 60): fc.Arbitrary<string> => fc.array(fc.constantFrom(...units), { maxLength }).map((a) => a.join(''));

describe('looksLikeHtml', () => {
  it('answers as the old pattern did', () => {
    fc.assert(fc.property(text(['<', '>', 'a', 'p', ' ', 'b', 'r', '/', 'x', '\n', 'A', 'h1', 'abbr']), (s) => looksLikeHtml(s) === OLD_HTML_HINT.test(s)), { numRuns: 5000 });
  });

  it("is linear on 40,000 × '<a ' and on a 5 MB body", () => {
    expect(elapsed(() => looksLikeHtml('<a '.repeat(40_000)))).toBeLessThan(BOUND_MS);
    expect(elapsed(() => looksLikeHtml('<a '.repeat(1_750_000)))).toBeLessThan(BOUND_MS);
  });
});

describe('redact', () => {
  it('hides tokens as the old pattern did on short text', () => {
    fc.assert(
      fc.property(text(['eyJ', 'abcd', 'efgh', '.', '-', ' ', '_'], 80), (s) => redact(s) === s.replace(OLD_TOKEN, '[redacted-token]')),
      { numRuns: 5000 },
    );
  });

  it('hides a secret that starts inside the kept text whole, and a token cut off at the end', () => {
    const secret = 'S3cret-'.repeat(200);
    expect(redact(`x${secret}y`, [secret], 20)).toBe('x[redacted]…');
    expect(redact(`${'a '.repeat(15)}${secret}`, [secret], 40)).not.toContain('S3cret');
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJyb2xlcyI6WyJNYWlsLlNlbmQiXX0.c2lnbmF0dXJl';
    expect(redact(`${'x'.repeat(DETAIL_MAX - 10)} ${jwt}`)).not.toContain('eyJhbG');
    expect(redact('y'.repeat(10_000)).length).toBeLessThanOrEqual(DETAIL_MAX + 1);
  });

  it.each([
    ['eyJ runs', 'eyJ'.repeat(80_000)],
    ['eyJ parts', 'eyJaaaaaaaaaa.'.repeat(17_000)],
    ['Bearer runs', 'Bearer '.repeat(35_000)],
    ['whitespace', `Bearer${' '.repeat(240_000)}`],
  ])('is linear on 240 KB of %s', (_name, s) => {
    expect(elapsed(() => redact(s, ['a-secret-value', 'eyJeyJ'], 64 * 1024))).toBeLessThan(BOUND_MS);
    expect(elapsed(() => graphError({ status: 400, message: s }, ['a-secret-value']))).toBeLessThan(BOUND_MS);
  });
});

describe('the Entra description parser', () => {
  it('is linear on 240 KB of whitespace runs and frame labels', () => {
    for (const s of [' '.repeat(240_000), ` ${' \t'.repeat(120_000)}-`, 'Description: '.repeat(18_000), ' - Trace ID'.repeat(22_000)]) {
      expect(elapsed(() => entraDescription(s))).toBeLessThan(BOUND_MS);
      expect(elapsed(() => entraError({ aadsts: 7000215, description: s, status: 401 }, ['a-secret-value']))).toBeLessThan(BOUND_MS);
    }
  });

  it('cuts the description to a few hundred characters', () => {
    const error = entraError({ aadsts: 7000215, description: `AADSTS7000215: ${'long '.repeat(10_000)}`, status: 401 }, []);
    expect(error.detail!.length).toBeLessThanOrEqual(DETAIL_MAX + 1);
  });
});

describe('recipients', () => {
  it('splits as before', () => {
    expect(splitAddressList('a@b.c; "x, y" <d@e.f>, (c,d) g@h.i;;')).toEqual(['a@b.c', '"x, y" <d@e.f>', '(c,d) g@h.i']);
  });

  it('reads display names without the parser as the parser did', () => {
    expect(parseRecipients('Ada Lovelace <ada@example.com>; "Bob, Jr." <bob@example.com>', 'to')).toEqual([
      { address: 'ada@example.com', name: 'Ada Lovelace' },
      { address: 'bob@example.com', name: 'Bob, Jr.' },
    ]);
  });

  it(`refuses an entry over ${MAX_ADDRESS_ENTRY} characters and a field over its cap, naming the field`, () => {
    expect(() => parseRecipients(`${'a'.repeat(MAX_ADDRESS_ENTRY)}@b.c`, 'cc')).toThrow(expect.objectContaining({ code: 'InvalidAddress', messageKey: 'addressTooLong', params: expect.objectContaining({ field: 'cc' }) }));
    expect(() => parseRecipients('a@b.c,'.repeat(MAX_RECIPIENT_FIELD / 6 + 1), 'to')).toThrow(expect.objectContaining({ messageKey: 'recipientFieldTooLong' }));
    expect(() => parseRecipients(Array.from({ length: 1001 }, () => 'a@b.c'), 'bcc')).toThrow(expect.objectContaining({ code: 'TooManyRecipients', messageKey: 'tooManyRecipients' }));
  });

  it.each([
    ['one 300 KB entry', '<'.repeat(300_000)],
    ['quote runs', `${'"'.repeat(318)},`.repeat(1000)],
    ['nested comments', `${'('.repeat(319)}),`.repeat(999)],
    ['separators', ';'.repeat(300_000)],
  ])('is fast on %s', (_name, s) => {
    expect(elapsed(() => parseRecipients(s, 'to'))).toBeLessThan(BOUND_MS);
  });
});

describe('attachments', () => {
  const rules = { bodyFormat: 'auto' as const, importance: 'normal' as const, allowedRecipientDomains: [], maxRecipients: 500 };
  const files = (n: number): unknown[] => Array.from({ length: n }, (_, i) => ({ filename: `${i}.txt`, content: 'x' }));
  it(`allows ${MAX_ATTACHMENTS} per mail and refuses more before reading any`, () => {
    expect(composeMail({ to: 'a@b.c', body: 'x', attachments: files(MAX_ATTACHMENTS) }, rules).attachmentCount).toBe(MAX_ATTACHMENTS);
    expect(() => composeMail({ to: 'a@b.c', body: 'x', attachments: files(MAX_ATTACHMENTS + 1) }, rules)).toThrow(
      expect.objectContaining({ category: 'validation', code: 'TooManyAttachments', params: expect.objectContaining({ count: MAX_ATTACHMENTS + 1, max: MAX_ATTACHMENTS }) }),
    );
    // A Buffer payload is an attachment too.
    expect(() => composeMail({ to: 'a@b.c', body: Buffer.from('x'), attachments: files(MAX_ATTACHMENTS) }, rules)).toThrow(expect.objectContaining({ code: 'TooManyAttachments' }));
  });
});

describe('quoted text (log forging)', () => {
  it('strips control characters and caps what a message quotes', () => {
    expect(quote('a\r\n[error] forged\u2028b\u0000c')).toBe('a [error] forged b c');
    expect(quote('x'.repeat(1000)).length).toBe(200);
    expect(quote(quote('x'.repeat(1000)))).toBe(quote('x'.repeat(1000)));
    const error = new MailError({ category: 'validation', code: 'Bad\r\nCode', messageKey: 'invalidAddress', hintKey: 'fixInput', params: { value: 'v\r\n[error] forged' }, detail: 'd\ne' });
    expect(error.params).toMatchObject({ value: 'v [error] forged', detail: 'd e', code: 'Bad Code' });
    expect(error.message).not.toMatch(/[\r\n]/);
  });
});
