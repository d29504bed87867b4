/**
 * Hostile sizes (issue 11, finding 4): per entry point, the worst shape at 1 MB (5 MB for the body)
 * through a real Node-RED runtime. The message leaves by exactly one output, with the right error,
 * its text capped and nothing leaked. How long the event loop stalls meanwhile (the old parsers
 * blocked Node-RED for seconds to hours on these shapes) is measured by `npm run bench:hostile`
 * (bench/hostile-input.ts), not asserted here.
 */
import type { Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { expectNoLeaks } from '../support/leaks';
import { RECIPIENT_SHAPES, hostileBody, hostileUpstreamText, manyAttachments } from '../support/hostile-shapes';
import { loadMailFlow, logText, mailFlow, send, useSandboxAndRuntime, watchOutputs, type OutMsg } from '../support/node-red';

const currentSandbox = useSandboxAndRuntime();
let sandbox: Sandbox;
beforeEach(() => {
  sandbox = currentSandbox();
});

async function oneMessage(msg: Record<string, unknown>): Promise<{ out: OutMsg; sent: boolean }> {
  await loadMailFlow(mailFlow(sandbox));
  const outputs = watchOutputs();
  send(msg);
  await outputs.settled(1);
  expect(outputs.sent.length + outputs.failed.length).toBe(1);
  const sent = outputs.sent.length === 1;
  return { out: sent ? outputs.sent[0] : outputs.failed[0], sent };
}

describe('hostile sizes through Node-RED', () => {
  it("a 5 MB body of '<a ' (bodyFormat auto)", async () => {
    const body = hostileBody();
    const { out } = await oneMessage({ to: 'ada@example.com', topic: 'big', payload: body });
    // Large enough for Graph's upload path or its refusal; either way one output.
    expect(out.email ?? out.error).toBeDefined();
  }, 60_000);

  it.each(RECIPIENT_SHAPES)('recipients: %s', async (_name, to) => {
    const { out, sent } = await oneMessage({ to: to(), topic: 'x', payload: 'x' });
    expect(sent).toBe(false);
    expect(out.error).toMatchObject({ category: 'validation' });
  }, 60_000);

  it('attachments: 100,000 one-byte files are refused before any Graph request', async () => {
    const attachments = manyAttachments();
    const before = sandbox.stats().graphRequests;
    const { out } = await oneMessage({ to: 'ada@example.com', topic: 'x', payload: 'x', attachments });
    expect(out.error).toMatchObject({ category: 'validation', code: 'TooManyAttachments' });
    expect(sandbox.stats().graphRequests).toBe(before);
  }, 60_000);

  it('attachments: 250 are sent', async () => {
    const attachments = Array.from({ length: 250 }, (_, i) => ({ filename: `${i}.txt`, content: Buffer.from('x') }));
    const { sent, out } = await oneMessage({ to: 'ada@example.com', topic: 'x', payload: 'x', attachments });
    expect(out.error).toBeUndefined();
    expect(sent).toBe(true);
    expect(sandbox.mail(SANDBOX.senderEmail)[0].attachments).toHaveLength(250);
  }, 60_000);

  const upstream = hostileUpstreamText();

  it("Entra: a 1 MB error description of the worst shape, cut to a few hundred characters", async () => {
    sandbox.addFault({ target: 'token', status: 401, code: 'invalid_client', aadsts: 7000215, message: upstream });
    const { out } = await oneMessage({ to: 'ada@example.com', topic: 'x', payload: 'x' });
    const error = out.error as { category: string; message: string };
    expect(error.category).toBe('auth');
    expect(error.message.length).toBeLessThan(1000);
    expectNoLeaks([out, logText()], sandbox);
  }, 60_000);

  it('Graph: a 1 MB error message of the worst shape, cut to a few hundred characters', async () => {
    sandbox.addFault({ target: 'sendMail', status: 400, code: 'ErrorInvalidRecipients', message: upstream });
    const { out } = await oneMessage({ to: 'ada@example.com', topic: 'x', payload: 'x' });
    const error = out.error as { category: string; message: string };
    expect(error.category).toBe('recipient');
    expect(error.message.length).toBeLessThan(1000);
  }, 60_000);
});
