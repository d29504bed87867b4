/**
 * Hostile input, property-based: 10,000 generated messages (anything a flow or an open HTTP endpoint
 * could hand the node) through a real Node-RED runtime to the sandbox. No crash, no unhandled
 * rejection, exactly one output per message, and every validation error names what was wrong.
 */
import fc from 'fast-check';
import type { Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { CATEGORIES } from '../../nodes/lib/errors';
import { withEnglish } from '../support/english';
import { expectNoLeaks } from '../support/leaks';
import { catchNode, connectionNode, emailTaskNode, helper, logText, mailFlow, useSandboxAndRuntime, watchOutputs, type OutMsg } from '../support/node-red';

const currentSandbox = useSandboxAndRuntime();
let sandbox: Sandbox;
beforeEach(() => {
  sandbox = currentSandbox();
});

const MESSAGES = 10_000;
const BATCH = 500;

const address = fc.oneof(
  fc.emailAddress(),
  fc.constantFrom('ada@example.com', 'Ada Lovelace <ada@example.com>', '"Bob, Jr." <bob@example.com>', 'a@b', 'x@y.z'),
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);
// Weighted so that a fair share of messages is valid and reaches Graph.
const good = fc.constantFrom('ada@example.com', 'Ada Lovelace <ada@example.com>; bob@example.com', ['carol@example.com'], [{ address: 'dan@example.com', name: 'Dan' }]);
const recipients = fc.oneof(
  { arbitrary: good, weight: 12 },
  { arbitrary: fc.constant(undefined), weight: 4 },
  address,
  fc.array(address, { maxLength: 4 }).map((a) => a.join(fc.sample(fc.constantFrom(',', ';', ' ; '), 1)[0])),
  fc.array(address, { maxLength: 4 }),
  fc.array(fc.record({ address: fc.oneof(address, fc.anything()), name: fc.oneof(fc.string(), fc.anything()) }, { requiredKeys: [] }), { maxLength: 3 }),
  fc.anything(),
);
const bytes = fc.uint8Array({ maxLength: 256 }).map((a) => Buffer.from(a));
const attachment = fc.record(
  {
    filename: fc.oneof(fc.constantFrom('report.pdf', 'a.txt', 'logo.png', 'no-extension'), fc.string(), fc.anything()),
    content: fc.oneof(bytes, fc.string(), fc.base64String(), fc.anything()),
    contentType: fc.oneof(fc.constantFrom('text/plain', 'application/pdf'), fc.string(), fc.anything()),
    encoding: fc.oneof(fc.constantFrom('base64', 'utf8', 'utf-8', 'hex', 'binary'), fc.string()),
    cid: fc.oneof(fc.string(), fc.anything()),
  },
  { requiredKeys: [] },
);
const headerName = fc.oneof(fc.constantFrom('X-Order', 'X-Trace-Id', 'Subject', 'X-Bad Name'), fc.string());
const headerValue = fc.oneof(fc.string(), fc.constantFrom('ok', 'evil\r\nBcc: victim@example.com', 'line\nbreak'), fc.anything());

const message = fc.record(
  {
    to: recipients,
    cc: recipients,
    bcc: recipients,
    replyTo: recipients,
    topic: fc.oneof({ arbitrary: fc.string(), weight: 4 }, fc.anything()),
    payload: fc.oneof(fc.string(), fc.constantFrom('<p>Hello <b>there</b></p>', ''), bytes, fc.object(), fc.anything()),
    filename: fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, fc.string(), fc.anything()),
    attachments: fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, fc.array(attachment, { maxLength: 3 }), attachment, fc.anything()),
    headers: fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, fc.dictionary(headerName, headerValue, { maxKeys: 7 }), fc.anything()),
    priority: fc.oneof({ arbitrary: fc.constantFrom('high', 'low', 'normal', '1', '3', '5', 1, 5), weight: 4 }, fc.anything()),
    importance: fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, fc.constantFrom('low', 'normal', 'high'), fc.anything()),
    requestReadReceipt: fc.anything(),
    requestDeliveryReceipt: fc.anything(),
    categories: fc.oneof(fc.array(fc.string(), { maxLength: 3 }), fc.anything()),
  },
  { requiredKeys: [] },
);

/** Words at least one of which a validation message must contain: the field it is about. */
const FIELD_WORDS = /\b(to|cc|bcc|replyTo|reply-to|subject|body|attachments?(\[\d+\])?|headers?|importance|priority|categories|filename|recipients?|msg\.\w+)\b/i;

describe('hostile input', () => {
  it(`${MESSAGES} generated messages: no crash, no unhandled rejection, one output each, validation errors name the field`, async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await helper.load([withEnglish(connectionNode), withEnglish(emailTaskNode), catchNode], mailFlow(sandbox), { c1: { clientSecret: SANDBOX.clientSecret } });
      const out = watchOutputs();
      const samples = fc.sample(message, { numRuns: MESSAGES, seed: 20261128 });
      const node = helper.getNode('e1');
      for (let start = 0; start < MESSAGES; start += BATCH) {
        const batch = samples.slice(start, start + BATCH);
        batch.forEach((m, i) => node.receive({ ...m, seq: start + i } as never));
        await out.settled(start + batch.length);
      }

      const seqs = [...out.sent, ...out.failed].map((m) => m.seq as number);
      expect(seqs).toHaveLength(MESSAGES);
      expect(new Set(seqs).size).toBe(MESSAGES);
      expect(unhandled).toEqual([]);

      const byCategory = new Map<string, number>();
      for (const m of out.failed) {
        const error = m.error as { category: string; message: string; hint: string };
        expect(CATEGORIES).toContain(error.category);
        byCategory.set(error.category, (byCategory.get(error.category) ?? 0) + 1);
        if (error.category === 'validation') {
          if (!FIELD_WORDS.test(error.message)) throw new Error(`a validation error that names no field: ${error.message}`);
          expect(error.hint.length).toBeGreaterThan(0);
        }
      }
      // Bad input is caught before Graph and never trips over our own code. Graph only refuses
      // syntactically valid addresses it cannot resolve (a@b is valid for Exchange, unknown here).
      const codes = out.failed.map((m) => m.error as { code: string; graphCode: string | null; message: string });
      expect(codes.filter((e) => e.code === 'InternalError' || (e.graphCode !== null && e.graphCode !== 'ErrorInvalidRecipients')).map((e) => e.message)).toEqual([]);
      // The generator reaches both outcomes, so the properties above were exercised on each.
      expect(out.sent.length).toBeGreaterThan(100);
      expect(byCategory.get('validation') ?? 0).toBeGreaterThan(1000);
      // Anything the node sent is in the sandbox exactly once.
      expect(sandbox.mail(SANDBOX.senderEmail)).toHaveLength(out.sent.length);

      // Still alive: an ordinary mail goes through afterwards.
      const before = out.sent.length;
      node.receive({ to: 'ada@example.com', topic: 'still alive', payload: 'ok', seq: -1 } as never);
      await out.settled(MESSAGES + 1);
      expect(out.sent.length).toBe(before + 1);
      expectNoLeaks([out.sent.map((m: OutMsg) => m.email), out.failed.map((m) => m.error), logText()], sandbox);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  }, 180_000);
});
