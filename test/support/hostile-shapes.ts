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
