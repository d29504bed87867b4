/**
 * Issue 11: every parser that sees message input or upstream text is linear (or runs on a capped
 * prefix). Each rewritten parser answers as the pattern it replaced did (property tests on small
 * inputs), and gives the right, capped answer on each quadratic shape from the issue
 * (test/support/hostile-shapes.ts). How fast: `npm run bench:hostile` times the same shapes
 * (speed belongs in bench/, never in a test).
 */
import fc from 'fast-check';
import { DETAIL_MAX, MailError, entraDescription, entraError, graphError, quote, redact } from '../../nodes/lib/errors';
import { MAX_ATTACHMENTS, composeMail, looksLikeHtml } from '../../nodes/lib/compose';
import { MAX_ADDRESS_ENTRY, MAX_RECIPIENT_FIELD, parseRecipients, splitAddressList } from '../../nodes/lib/recipients';
import {
  ENTRA_DESCRIPTION_SHAPES,
  HTML_HINT_SHAPES,
  RECIPIENT_PARSER_SHAPES,
  UPSTREAM_KEEP,
  UPSTREAM_SECRETS,
  UPSTREAM_SHAPES,
} from '../support/hostile-shapes';

/** How much of an upstream description the Entra parser looks at (errors.ts, DESCRIPTION_SCAN). */
const DESCRIPTION_SCAN = 8 * 1024;

const OLD_HTML_HINT = /<(html|head|body|div|p|br|hr|table|tr|td|span|a|img|h[1-6]|ul|ol|li|b|i|u|strong|em|font|style|pre|blockquote|center)\b[^>]*>/i;
const OLD_TOKEN = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;

const text = (units: string[], maxLength = 60): fc.Arbitrary<string> => fc.array(fc.constantFrom(...units), { maxLength }).map((a) => a.join(''));

describe('looksLikeHtml', () => {
  it('answers as the old pattern did', () => {
    fc.assert(fc.property(text(['<', '>', 'a', 'p', ' ', 'b', 'r', '/', 'x', '\n', 'A', 'h1', 'abbr']), (s) => looksLikeHtml(s) === OLD_HTML_HINT.test(s)), { numRuns: 5000 });
  });

  it.each(HTML_HINT_SHAPES)('answers on %s as the old pattern does on its first 3,000 characters: no tag', (_name, make) => {
    const s = make();
    expect(looksLikeHtml(s)).toBe(false);
    expect(OLD_HTML_HINT.test(s.slice(0, 3000))).toBe(false);
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

  it.each(UPSTREAM_SHAPES)('reads a capped prefix of %s and leaves no secret or token in it', (_name, make) => {
    const s = make();
    const kept = redact(s, UPSTREAM_SECRETS, UPSTREAM_KEEP);
    expect(kept.endsWith('…')).toBe(true);
    for (const secret of UPSTREAM_SECRETS) expect(kept).not.toContain(secret);
    expect(kept.match(OLD_TOKEN)).toBeNull();
    // Only the kept prefix is read: the rest of the 240 KB changes nothing.
    expect(redact(s.slice(0, 2 * UPSTREAM_KEEP), UPSTREAM_SECRETS, UPSTREAM_KEEP)).toBe(kept);

    const error = graphError({ status: 400, message: s }, UPSTREAM_SECRETS);
    expect(error).toMatchObject({ category: 'validation', code: 'HTTP400' });
    expect(error.detail!.length).toBeLessThanOrEqual(DETAIL_MAX + 1);
    expect(error.detail!.match(OLD_TOKEN)).toBeNull();
  });
});

describe('the Entra description parser', () => {
  it.each(ENTRA_DESCRIPTION_SHAPES)('reads only a capped prefix of %s', (_name, make) => {
    const s = make();
    const described = entraDescription(s);
    expect(described.length).toBeLessThanOrEqual(DESCRIPTION_SCAN);
    expect(entraDescription(s.slice(0, DESCRIPTION_SCAN))).toBe(described);
    // Whitespace alone describes nothing.
    if (s.slice(0, DESCRIPTION_SCAN).trim() === '') expect(described).toBe('');
    const error = entraError({ aadsts: 7000215, description: s, status: 401 }, UPSTREAM_SECRETS);
    expect(error).toMatchObject({ category: 'auth', code: 'AADSTS7000215' });
    expect((error.detail ?? '').length).toBeLessThanOrEqual(DETAIL_MAX + 1);
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

  /** What each shape is: refused with this message key, or no recipient at all. */
  const outcome: Record<string, string> = {
    'one 300 KB entry': 'addressTooLong',
    'quote runs': 'invalidAddress',
    'nested comments': 'recipientFieldTooLong',
    separators: 'none',
  };
  it.each(RECIPIENT_PARSER_SHAPES)('answers %s at once', (name, make) => {
    let answer: string;
    try {
      answer = parseRecipients(make(), 'to').length === 0 ? 'none' : 'parsed';
    } catch (err) {
      answer = (err as MailError).messageKey;
    }
    expect(answer).toBe(outcome[name]);
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
