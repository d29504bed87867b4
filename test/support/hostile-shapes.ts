/**
 * The worst shapes of input per entry point (issue 11, finding 4): what the node tests push through
 * Node-RED and what bench/hostile-input.ts measures. Sizes as the issue asks: 1 MB, 5 MB for the body.
 */
import { MAX_ADDRESS_ENTRY, MAX_RECIPIENT_FIELD } from '../../nodes/lib/recipients';

export const MB = 1024 * 1024;

export function repeatTo(unit: string, length: number): string {
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
}

/** Recipient fields: over the caps (refused at once) and just under them (split and parsed). */
export const RECIPIENT_SHAPES: ReadonlyArray<[name: string, to: () => unknown]> = [
  // 20 KB of either took the old parser over a second, growing with the square of the length.
  ['one 1 MB entry of quotes', () => repeatTo('"', MB)],
  ['one 1 MB entry of words', () => repeatTo('a ', MB)],
  ['one 1 MB entry of angle brackets', () => repeatTo('<', MB)],
  ['1 MB of quote runs split into entries', () => repeatTo(`${'"'.repeat(318)},`, MB)],
  ['1 MB of nested comments', () => repeatTo('(', MB)],
  ['1 MB of separators', () => repeatTo(';', MB)],
  ['quote runs up to the field cap', () => repeatTo(`${'"'.repeat(318)},`, MAX_RECIPIENT_FIELD)],
  ['nested comments of the longest entry up to the field cap', () => repeatTo(`${'('.repeat(MAX_ADDRESS_ENTRY - 1)}),`, MAX_RECIPIENT_FIELD)],
  ['display names needing the full parser up to the field cap', () => repeatTo(`"a\\\\b" (c) <${'d'.repeat(290)}@e.f>,`, MAX_RECIPIENT_FIELD)],
  ['an array of 1 MB of addresses', () => Array.from({ length: MB / 8 }, (_, i) => `a${i}@b.c`)],
];

/** The body for bodyFormat auto: the HTML detection's worst case. */
export const hostileBody = (): string => repeatTo('<a ', 5 * MB);

/** 100,000 one-byte attachments (64,000 Graph requests before the cap). */
export const manyAttachments = (): unknown[] => Array.from({ length: 100_000 }, (_, i) => ({ filename: `${i}.txt`, content: Buffer.from('x') }));

/** Upstream error text: what redaction and the Entra description parser see. */
export const hostileUpstreamText = (): string => repeatTo('eyJ', MB / 2) + repeatTo(' \t', MB / 2) + ' - Trace ID:';

/**
 * The parsers' own worst shapes (issue 11), each through one function without Node-RED: the old
 * patterns took seconds on them (4.9 s for 40,000 × '<a ' in looksLikeHtml, 12 s for 240 KB in
 * redact()). test/unit/hostile-regex.test.ts and mail-in.test.ts check each one's result;
 * `npm run bench:hostile` times each one (its "parsers" part).
 */
export type TextShape = readonly [name: string, text: () => string];

/** looksLikeHtml: a tag opening without its `>`, repeated. */
export const HTML_HINT_SHAPES: readonly TextShape[] = [
  ["40,000 × '<a '", () => '<a '.repeat(40_000)],
  ["5 MB of '<a '", () => '<a '.repeat(1_750_000)],
];

/** The secrets the upstream parsers are given with these shapes, and the cap redact() is given. */
export const UPSTREAM_SECRETS: readonly string[] = ['a-secret-value', 'eyJeyJ'];
export const UPSTREAM_KEEP = 64 * 1024;

/** redact() and graphError(): 240 KB of upstream text of token and Bearer shapes. */
export const UPSTREAM_SHAPES: readonly TextShape[] = [
  ['240 KB of eyJ runs', () => 'eyJ'.repeat(80_000)],
  ['240 KB of eyJ parts', () => 'eyJaaaaaaaaaa.'.repeat(17_000)],
  ['240 KB of Bearer runs', () => 'Bearer '.repeat(35_000)],
  ['240 KB of whitespace after Bearer', () => `Bearer${' '.repeat(240_000)}`],
];

/** entraDescription() and entraError(): 240 KB of whitespace runs and MSAL's frame labels. */
export const ENTRA_DESCRIPTION_SHAPES: readonly TextShape[] = [
  ['240 KB of spaces', () => ' '.repeat(240_000)],
  ['240 KB of space and tab runs', () => ` ${' \t'.repeat(120_000)}-`],
  ["18,000 × 'Description: '", () => 'Description: '.repeat(18_000)],
  ["22,000 × ' - Trace ID'", () => ' - Trace ID'.repeat(22_000)],
];

/** parseRecipients() and its splitAddressList(): one field of the shapes that were quadratic. */
export const RECIPIENT_PARSER_SHAPES: readonly TextShape[] = [
  ['one 300 KB entry', () => '<'.repeat(300_000)],
  ['quote runs', () => `${'"'.repeat(318)},`.repeat(1000)],
  ['nested comments', () => `${'('.repeat(319)}),`.repeat(999)],
  ['separators', () => ';'.repeat(300_000)],
];

/** htmlToText() ("email in"): unclosed and unmatched tags, and entity openings without an end. */
export const HTML_TO_TEXT_SHAPES: readonly TextShape[] = [
  ["100,000 × '<style '", () => '<style '.repeat(100_000)],
  ["1,000,000 × '<'", () => '<'.repeat(1_000_000)],
  ["100,000 × '</style' then '<style>'", () => '</style'.repeat(100_000) + '<style>'],
  ["500,000 × '&#'", () => '&#'.repeat(500_000)],
];
