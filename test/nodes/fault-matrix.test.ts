/**
 * The fault matrix: every fault the sandbox can inject, each with at least 20 messages, through a
 * real Node-RED runtime. Whatever happens, each message leaves by exactly one output, and each mail
 * the sandbox delivered is there exactly once, and nothing that came out holds a secret or a token.
 */
import type { Sandbox } from '../../sandbox';
import type { Fault } from '../../sandbox/state';
import { SANDBOX } from '../../sandbox/config';
import { expectNoLeaks } from '../support/leaks';
import { helper, redeploy, loadMailFlow, logText, mailFlow, send, useSandboxAndRuntime, watchOutputs, type OutMsg, type Outputs } from '../support/node-red';

const currentSandbox = useSandboxAndRuntime();
let sandbox: Sandbox;
beforeEach(() => {
  sandbox = currentSandbox();
});

interface Run {
  out: Outputs;
  sent: OutMsg[];
  failed: OutMsg[];
  delivered: string[];
}

/**
 * Sends `n` mails with subjects `<label> <i>`, waits until all have left, and checks the three
 * invariants: one output per message, no mail delivered twice, and no secret or token in anything
 * that came out (outputs, statuses, Catch copies, usage data, log) through this fault.
 */
async function runMatrixCase(label: string, n: number, task: Record<string, unknown>, faults: Fault[], connection: Record<string, unknown> = {}): Promise<Run> {
  await loadMailFlow(mailFlow(sandbox, task, connection));
  for (const fault of faults) sandbox.addFault(fault);
  const out = watchOutputs();
  for (let i = 0; i < n; i++) send({ to: 'ada@example.com; bob@example.com', topic: `${label} ${i}`, payload: 'fault matrix' });
  await out.settled(n);

  const left = [...out.sent, ...out.failed].map((m) => String(m.topic));
  expect(left).toHaveLength(n);
  expect(new Set(left).size).toBe(n);
  // done(err) reached the Catch node once for each failure.
  await out.caughtAtLeast(out.failed.length);
  expect(out.caught).toHaveLength(out.failed.length);

  const delivered = sandbox.mail(SANDBOX.senderEmail).map((m) => String(m.message.subject));
  expect(new Set(delivered).size).toBe(delivered.length);
  for (const m of out.sent) expect(delivered).toContain(m.topic);

  const usage = await helper.request().get('/office365-mail/usage');
  expectNoLeaks([out, usage.body, logText()], sandbox);
  return { out, sent: out.sent, failed: out.failed, delivered };
}

function errors(run: Run): Array<Record<string, unknown>> {
  return run.failed.map((m) => m.error as Record<string, unknown>);
}

function attempts(run: Run): number[] {
  return run.sent.map((m) => (m.email as { attempts: number }).attempts);
}

describe('fault matrix: retries that honour the server and never duplicate', () => {
  it('429 with Retry-After in seconds: every mail waits and is sent once, status shows the wait', async () => {
    const run = await runMatrixCase('429s', 20, {}, [{ target: 'sendMail', status: 429, code: 'ApplicationThrottled', retryAfter: '1', times: 8 }]);
    expect(run.failed).toEqual([]);
    expect(run.delivered).toHaveLength(20);
    expect(Math.max(...attempts(run))).toBeGreaterThan(1);
    expect(attempts(run).reduce((a, b) => a + b, 0)).toBe(20 + sandbox.stats().faultsTriggered);
    expect(run.out.statuses).toContainEqual({ fill: 'yellow', shape: 'ring', text: expect.stringContaining('status.throttled') });
    const usage = (await helper.request().get('/office365-mail/usage')).body as { connections: Array<{ retried: number; throttled: number; sent: number }> };
    expect(usage.connections[0]).toMatchObject({ sent: 20, throttled: expect.any(Number), retried: expect.any(Number) });
    expect(usage.connections[0].retried).toBeGreaterThan(0);
    expect(usage.connections[0].throttled).toBeGreaterThan(0);
  });

  it('429 with Retry-After as an HTTP date: every mail is sent once', async () => {
    const date = new Date(Date.now() + 1500).toUTCString();
    const run = await runMatrixCase('429d', 20, {}, [{ target: 'sendMail', status: 429, code: 'ApplicationThrottled', retryAfter: date, times: 6 }]);
    expect(run.failed).toEqual([]);
    expect(run.delivered).toHaveLength(20);
    expect(Math.max(...attempts(run))).toBeGreaterThan(1);
  });

  it('a 429 storm longer than the wait budget: every mail fails as throttled, says why, and nothing is sent', async () => {
    const run = await runMatrixCase('storm', 20, { maxWait: 1 }, [{ target: 'sendMail', status: 429, code: 'ApplicationThrottled', retryAfter: '1', times: Infinity }]);
    expect(run.sent).toEqual([]);
    expect(run.delivered).toEqual([]);
    for (const error of errors(run)) {
      expect(error).toMatchObject({ category: 'throttled', code: 'ApplicationThrottled', status: 429, retryable: true });
      expect(error.hint).toContain('hints.throttled');
      expect(error.hint).toContain('hints.waitBudgetExceeded');
      expect(error.attempts).toBeGreaterThanOrEqual(1);
    }
  });

  it.each([
    [503, 'ServiceUnavailable', undefined],
    [503, 'ServiceUnavailable', '1'],
    [504, 'GatewayTimeout', undefined],
    [504, 'GatewayTimeout', '1'],
  ])('%i %s (Retry-After %s): retried, every mail sent once', async (status, code, retryAfter) => {
    const run = await runMatrixCase(`${status}-${retryAfter ?? 'backoff'}`, 20, {}, [{ target: 'sendMail', status, code, retryAfter, times: 6 }]);
    expect(run.failed).toEqual([]);
    expect(run.delivered).toHaveLength(20);
    expect(attempts(run).filter((a) => a > 1).length).toBeGreaterThan(0);
    expect(run.out.statuses).toContainEqual({ fill: 'yellow', shape: 'ring', text: expect.stringContaining('status.retrying') });
  });

  it('503 on every try: gives up after Attempts, nothing sent, the hint says so', async () => {
    const run = await runMatrixCase('503-all', 20, { maxAttempts: 2 }, [{ target: 'sendMail', status: 503, code: 'ServiceUnavailable', retryAfter: '0', times: Infinity }]);
    expect(run.sent).toEqual([]);
    for (const error of errors(run)) {
      expect(error).toMatchObject({ category: 'server', status: 503, attempts: 2 });
      expect(error.hint).toContain('hints.retriesExhausted');
    }
  });

  it('the token endpoint answering 503: retried, one token in the end, every mail sent once', async () => {
    const run = await runMatrixCase('token-503', 20, {}, [{ target: 'token', status: 503, retryAfter: '0', times: 2 }]);
    expect(run.failed).toEqual([]);
    expect(run.delivered).toHaveLength(20);
    expect(sandbox.stats().tokensIssued).toBe(1);
  });

  it('the token endpoint dropping the connection: retried (a token request cannot send mail), every mail sent once', async () => {
    const run = await runMatrixCase('token-reset', 20, {}, [{ target: 'token', action: 'reset-before', times: 2 }]);
    expect(run.failed).toEqual([]);
    expect(run.delivered).toHaveLength(20);
  });

  it('connection refused: retried (nothing was sent) up to Attempts, then network', async () => {
    const run = await runMatrixCase('refused', 20, { maxAttempts: 2 }, [], { loginUrl: 'https://127.0.0.1:1', graphUrl: 'https://127.0.0.1:1' });
    expect(run.sent).toEqual([]);
    for (const error of errors(run)) expect(error).toMatchObject({ category: 'network', code: 'ECONNREFUSED', attempts: 2, retryable: true });
  });

  it('reset before the request was read: the client cannot tell, so unknown-outcome, never retried by default', async () => {
    const run = await runMatrixCase('reset-before', 20, {}, [{ target: 'sendMail', action: 'reset-before', times: 5 }]);
    expect(run.failed).toHaveLength(5);
    expect(run.delivered).toHaveLength(15);
    for (const error of errors(run)) expect(error).toMatchObject({ category: 'unknown-outcome', attempts: 1, retryable: false });
  });

  it('reset before the request was read, with "retry even when it may have been sent": every mail sent once', async () => {
    const run = await runMatrixCase('reset-before-retry', 20, { retryUnknownOutcome: true }, [{ target: 'sendMail', action: 'reset-before', times: 5 }]);
    expect(run.failed).toEqual([]);
    expect(run.delivered).toHaveLength(20);
  });

  it('reset after the mail was accepted: unknown-outcome, not retried, so the mail is there exactly once', async () => {
    const run = await runMatrixCase('reset-after', 20, {}, [{ target: 'sendMail', action: 'reset-after', times: 20 }]);
    expect(run.sent).toEqual([]);
    expect(run.delivered).toHaveLength(20);
    for (const error of errors(run)) {
      expect(error).toMatchObject({ category: 'unknown-outcome', retryable: false, attempts: 1 });
      expect(error.hint).toContain('hints.unknownOutcome');
    }
  });

  it('a hung response: the request times out, unknown-outcome, not retried', async () => {
    const run = await runMatrixCase('hang', 20, { timeout: 0.5 }, [{ target: 'sendMail', action: 'hang', times: 20 }]);
    expect(run.sent).toEqual([]);
    expect(run.delivered).toEqual([]);
    for (const error of errors(run)) expect(error).toMatchObject({ category: 'unknown-outcome', code: 'ETIMEDOUT', attempts: 1 });
  });
});

describe('the per-mailbox limit and the queue', () => {
  it('200 mails at once never put more than 4 requests in flight for the mailbox, and none is throttled', async () => {
    sandbox.setLatency(5);
    const run = await runMatrixCase('burst', 200, {}, []);
    expect(run.failed).toEqual([]);
    expect(run.delivered).toHaveLength(200);
    const stats = sandbox.stats();
    expect(Math.max(...Object.values(stats.maxConcurrentPerMailbox))).toBe(4);
    expect(stats.throttled).toBe(0);
    // FIFO: mail i starts only after every earlier mail started, and with 4 slots at least i - 3
    // of them have finished by then, so it cannot be delivered more than 3 places early.
    run.delivered.forEach((subject, position) => expect(Number(subject.split(' ')[1]) - position).toBeLessThanOrEqual(3));
  });

  it('a full queue fails the extra mails at once as throttled, with a hint', async () => {
    // The 30 messages enter the task one after another without waiting on I/O, and no request can
    // finish before an I/O turn: 4 take the mailbox's slots, 10 fill the queue, whatever the speed.
    const run = await runMatrixCase('full', 30, {}, [], { queueSize: 10 });
    expect(run.sent).toHaveLength(4 + 10);
    expect(run.failed).toHaveLength(30 - 14);
    for (const error of errors(run)) {
      expect(error).toMatchObject({ category: 'throttled', code: 'QueueFull', attempts: 0 });
      expect(error.hint).toContain('hints.queueFull');
    }
  });
});

describe('protection against abuse (connection options)', () => {
  it('allowed recipient domains: mail to any other domain fails with validation and never reaches Graph', async () => {
    await loadMailFlow(mailFlow(sandbox, {}, { allowedRecipientDomains: 'example.com, nhs.net' }));
    const out = watchOutputs();
    send({ to: 'ada@example.com', cc: 'bob@nhs.net', topic: 'allowed', payload: 'x' });
    send({ to: 'ada@example.com', bcc: 'victim@spam-target.org', topic: 'relay attempt', payload: 'x' });
    send({ to: 'someone@sub.example.com', topic: 'subdomain', payload: 'x' });
    await out.settled(3);
    expect(out.sent.map((m) => m.topic)).toEqual(['allowed']);
    const refused = out.failed.map((m) => m.error as Record<string, unknown>);
    expect(refused).toEqual([
      expect.objectContaining({ category: 'validation', code: 'RecipientDomainNotAllowed', hint: expect.stringContaining('hints.domainNotAllowed') }),
      expect.objectContaining({ category: 'validation', code: 'RecipientDomainNotAllowed' }),
    ]);
    // Only the allowed mail was ever sent to Graph.
    expect(sandbox.requests().filter((r) => r.target === 'graph')).toHaveLength(1);
    expect(sandbox.mail(SANDBOX.senderEmail).map((m) => m.message.subject)).toEqual(['allowed']);
  });

  it('maximum recipients: a mail over the cap fails with validation and is never sent', async () => {
    await loadMailFlow(mailFlow(sandbox, {}, { maxRecipients: 3 }));
    const out = watchOutputs();
    send({ to: 'a@example.com, b@example.com', cc: 'c@example.com', topic: 'three', payload: 'x' });
    send({ to: 'a@example.com, b@example.com', cc: 'c@example.com', bcc: 'd@example.com', topic: 'four', payload: 'x' });
    await out.settled(2);
    expect(out.sent.map((m) => m.topic)).toEqual(['three']);
    expect(out.failed[0].error).toMatchObject({ category: 'validation', code: 'TooManyRecipients' });
    expect(sandbox.mail(SANDBOX.senderEmail)).toHaveLength(1);
  });
});

describe('redeploy and shutdown', () => {
  it('a redeploy with 100 mails queued: those in flight finish, the rest fail as cancelled through done(err)', async () => {
    sandbox.setLatency(300);
    const flow = mailFlow(sandbox);
    await loadMailFlow(flow);
    const out = watchOutputs();
    let arrived = 0;
    const fourArrived = new Promise<void>((resolve) => {
      sandbox.events.on('request', (r) => {
        if (r.target === 'graph' && ++arrived === 4) resolve();
      });
    });
    for (let i = 0; i < 100; i++) send({ to: 'ada@example.com', topic: `redeploy ${i}`, payload: 'x' });
    await fourArrived;
    // A changed email task is redeployed alone; the connection and the helper nodes stay.
    const changed = flow.map((n) => (n.id === 'e1' ? { ...n, name: 'renamed' } : n));
    await redeploy(changed, 'nodes', { c1: { clientSecret: SANDBOX.clientSecret } });
    await out.settled(100);
    await out.caughtAtLeast(out.failed.length);
    const reachedGraph = arrived;

    // Counts, not speed: each mail that reached Graph was sent, each other one was cancelled.
    expect(out.sent.length + out.failed.length).toBe(100);
    expect(out.sent.length).toBe(reachedGraph);
    expect(out.sent.length).toBeGreaterThanOrEqual(4);
    expect(out.failed).toHaveLength(100 - reachedGraph);
    // The queue held 96 mails when the redeploy began, 300 ms a request, 4 at a time: some were left.
    expect(out.failed.length).toBeGreaterThan(0);
    for (const m of out.failed) expect(m.error).toMatchObject({ category: 'cancelled', code: 'Cancelled' });
    expect(out.caught).toHaveLength(out.failed.length);
    const delivered = sandbox.mail(SANDBOX.senderEmail).map((m) => String(m.message.subject));
    expect(delivered.sort()).toEqual(out.sent.map((m) => String(m.topic)).sort());
    // The new email task works at once on the same connection.
    const fresh = watchOutputs();
    send({ to: 'ada@example.com', topic: 'after redeploy', payload: 'x' });
    await fresh.settled(1);
    expect(fresh.sent).toHaveLength(1);
    expectNoLeaks([out, fresh, logText()], sandbox);
  });

  it('a mail waiting on a retry is cancelled at once by a redeploy, its timer cleared', async () => {
    const flow = mailFlow(sandbox);
    await loadMailFlow(flow);
    sandbox.addFault({ target: 'sendMail', status: 429, code: 'ApplicationThrottled', retryAfter: '120', times: Infinity });
    const out = watchOutputs();
    for (let i = 0; i < 20; i++) send({ to: 'ada@example.com', topic: `waiting ${i}`, payload: 'x' });
    await new Promise<void>((resolve) => {
      const check = (): void => (out.statuses.some((s) => s.fill === 'yellow') ? resolve() : void setImmediate(check));
      check();
    });
    await redeploy(flow.map((n) => (n.id === 'e1' ? { ...n, name: 'renamed' } : n)), 'nodes', { c1: { clientSecret: SANDBOX.clientSecret } });
    await out.settled(20);
    for (const m of out.failed) expect(m.error).toMatchObject({ category: 'cancelled' });
    expect(out.failed).toHaveLength(20);
  });

  it('a mail that may have been sent and waits to be retried keeps saying so when a redeploy stops it', async () => {
    const flow = mailFlow(sandbox, { retryUnknownOutcome: true });
    await loadMailFlow(flow);
    sandbox.addFault({ target: 'sendMail', action: 'reset-after', times: 1 });
    // The retry is answered 429 with a long Retry-After: the redeploy comes during that wait.
    sandbox.addFault({ target: 'sendMail', status: 429, code: 'ApplicationThrottled', retryAfter: '120', times: Infinity });
    const out = watchOutputs();
    send({ to: 'ada@example.com', topic: 'maybe sent', payload: 'x' });
    await new Promise<void>((resolve) => {
      const check = (): void => (out.statuses.some((s) => s.fill === 'yellow' && String(s.text).includes('status.throttled')) ? resolve() : void setImmediate(check));
      check();
    });
    await redeploy(flow.map((n) => (n.id === 'e1' ? { ...n, name: 'renamed' } : n)), 'nodes', { c1: { clientSecret: SANDBOX.clientSecret } });
    await out.settled(1);
    // The first try reached Graph (the sandbox has the mail): "cancelled" would claim it was not sent.
    expect(out.failed[0].error).toMatchObject({ category: 'unknown-outcome', attempts: 2 });
    expect(sandbox.mail(SANDBOX.senderEmail)).toHaveLength(1);
  });

  it('stopping the runtime with mails queued and in flight ends every mail and leaves no timer or socket behind', async () => {
    sandbox.setLatency(200);
    await loadMailFlow(mailFlow(sandbox));
    // The helper nodes close too, so what leaves is counted on the email task itself.
    const task = helper.getNode('e1') as unknown as NodeJS.EventEmitter;
    const left: Array<Array<OutMsg | null>> = [];
    task.on('call:send', (call: { args: [Array<OutMsg | null>] }) => left.push(call.args[0]));
    const firstArrived = new Promise<void>((resolve) => sandbox.events.on('request', (r) => r.target === 'graph' && resolve()));
    for (let i = 0; i < 30; i++) send({ to: 'ada@example.com', topic: `stop ${i}`, payload: 'x' });
    await firstArrived;
    // Closing every node (connection included) fails the queue and lets requests in flight finish.
    await helper.clearFlows();
    await new Promise((resolve) => setImmediate(resolve));
    expect(left).toHaveLength(30);
    const sent = left.filter(([ok]) => ok).map(([ok]) => String(ok?.topic));
    const cancelled = left.filter(([, failed]) => (failed?.error as { category?: string } | undefined)?.category === 'cancelled');
    expect(sent.length + cancelled.length).toBe(30);
    expect(sandbox.mail(SANDBOX.senderEmail).map((m) => String(m.message.subject)).sort()).toEqual(sent.sort());
    expect(sent.length).toBeGreaterThanOrEqual(1);
    expect(sent.length).toBeLessThanOrEqual(4);
  });
});
