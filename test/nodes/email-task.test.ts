/**
 * The nodes in a real Node-RED runtime (node-red-node-test-helper) against the sandbox over real
 * HTTPS, with real MSAL and axios.
 */
import type { Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { helper, loadMailFlow, useSandboxAndRuntime, logText, mailFlow, send, watchOutputs, type OutMsg } from '../support/node-red';
import { expectNoLeaks } from '../support/leaks';

const currentSandbox = useSandboxAndRuntime();
let sandbox: Sandbox;
beforeEach(() => {
  sandbox = currentSandbox();
});

/** Every secret the run knows of: the client secrets and each token the sandbox issued. */
describe('email task: sending', () => {
  it('sends through Graph and reports msg.email; the sandbox received exactly what was asked', async () => {
    await loadMailFlow(mailFlow(sandbox, { saveToSentItems: false, importance: 'high' }));
    const out = watchOutputs();
    send({
      to: 'Ada Lovelace <ada@example.com>; bob@example.com',
      cc: ['carol@example.com'],
      bcc: [{ address: 'dan@example.com', name: 'Dan' }],
      replyTo: 'help@example.com',
      topic: 'Quarterly report',
      payload: '<p>Hello <b>Ada</b></p>',
    });
    await out.settled(1);
    expect(out.failed).toEqual([]);
    const email = out.sent[0].email as Record<string, unknown>;
    expect(email).toMatchObject({
      status: 'sent',
      sender: SANDBOX.senderEmail,
      to: ['ada@example.com', 'bob@example.com'],
      cc: ['carol@example.com'],
      bcc: ['dan@example.com'],
      subject: 'Quarterly report',
      attachments: 0,
      path: 'sendMail',
      attempts: 1,
    });
    expect(Date.parse(String(email.sentAt))).not.toBeNaN();

    const [mail] = sandbox.mail(SANDBOX.senderEmail);
    expect(mail.saveToSentItems).toBe(false);
    expect(mail.clientRequestId).toBe(email.clientRequestId);
    expect(mail.requestId).toBe(email.requestId);
    expect(mail.message).toMatchObject({
      subject: 'Quarterly report',
      importance: 'high',
      body: { contentType: 'html', content: '<p>Hello <b>Ada</b></p>' },
      toRecipients: [{ emailAddress: { address: 'ada@example.com', name: 'Ada Lovelace' } }, { emailAddress: { address: 'bob@example.com' } }],
      ccRecipients: [{ emailAddress: { address: 'carol@example.com' } }],
      bccRecipients: [{ emailAddress: { address: 'dan@example.com', name: 'Dan' } }],
      replyTo: [{ emailAddress: { address: 'help@example.com' } }],
    });
    expect(out.statuses.at(-1)).toEqual({ fill: 'green', shape: 'dot', text: expect.stringContaining('status.sent') });
  });

  it('costs one token request for 20 sends, each with its own client-request-id', async () => {
    await loadMailFlow(mailFlow(sandbox));
    const out = watchOutputs();
    for (let i = 0; i < 20; i++) send({ to: 'ada@example.com', topic: `mail ${i}`, payload: 'hi' });
    await out.settled(20);
    expect(out.failed).toEqual([]);
    expect(sandbox.stats().tokenRequests).toBe(1);
    // The authority's metadata is known up front: no discovery round trip before the token.
    expect(sandbox.requests().filter((r) => r.method === 'GET')).toEqual([]);
    expect(sandbox.mail(SANDBOX.senderEmail)).toHaveLength(20);
    const ids = new Set(out.sent.map((m) => (m.email as { clientRequestId: string }).clientRequestId));
    expect(ids.size).toBe(20);
  });

  it('renders str values as Mustache templates over msg', async () => {
    await loadMailFlow(
      mailFlow(sandbox, {
        to: '{{payload.email}}',
        toType: 'str',
        subject: 'Order {{payload.order}} for {{payload.name}}',
        subjectType: 'str',
        body: 'Dear {{payload.name}}, order {{payload.order}} has shipped.',
        bodyType: 'str',
      }),
    );
    const out = watchOutputs();
    send({ payload: { email: 'ada@example.com', order: 42, name: 'Ada & Co' } });
    await out.settled(1);
    const [mail] = sandbox.mail(SANDBOX.senderEmail);
    expect(mail.message).toMatchObject({
      subject: 'Order 42 for Ada & Co',
      body: { contentType: 'text', content: 'Dear Ada & Co, order 42 has shipped.' },
      toRecipients: [{ emailAddress: { address: 'ada@example.com' } }],
    });
  });

  it('applies the documented defaults to a task that leaves its properties out', async () => {
    const minimal = mailFlow(sandbox).map((n) => (n.id === 'e1' ? { id: 'e1', type: 'email-task', z: 't1', connection: 'c1', wires: n.wires } : n));
    await loadMailFlow(minimal);
    const out = watchOutputs();
    send({ to: 'ada@example.com', cc: 'bob@example.com', topic: 'defaults', payload: 'body text' });
    await out.settled(1);
    expect(out.sent[0].email).toMatchObject({ to: ['ada@example.com'], cc: ['bob@example.com'], subject: 'defaults' });
    expect(sandbox.mail(SANDBOX.senderEmail)[0]).toMatchObject({ saveToSentItems: true, message: { body: { contentType: 'text', content: 'body text' } } });
  });

  it('reads the client secret from ${NAME} in the environment', async () => {
    process.env.O365_TEST_SECRET = SANDBOX.clientSecret;
    try {
      await loadMailFlow(mailFlow(sandbox), '${O365_TEST_SECRET}');
      const out = watchOutputs();
      send({ to: 'ada@example.com', topic: 'env', payload: 'x' });
      await out.settled(1);
      expect(out.sent).toHaveLength(1);
    } finally {
      delete process.env.O365_TEST_SECRET;
    }
  });

  it('sends attachments and a Buffer payload with msg.filename', async () => {
    await loadMailFlow(mailFlow(sandbox));
    const out = watchOutputs();
    const csv = Buffer.from('a,b\n1,2\n');
    send({ to: 'ada@example.com', topic: 'file', payload: csv, filename: 'data.csv', attachments: [{ filename: 'note.txt', content: 'hello' }] });
    await out.settled(1);
    expect((out.sent[0].email as { attachments: number }).attachments).toBe(2);
    const attachments = sandbox.mail(SANDBOX.senderEmail)[0].message.attachments as Array<{ name: string; contentBytes: string }>;
    expect(attachments.map((a) => a.name)).toEqual(['data.csv', 'note.txt']);
    expect(Buffer.from(attachments[0].contentBytes, 'base64').equals(csv)).toBe(true);
  });
});

describe('email task: where a failure goes (onFailure)', () => {
  /** One mail without recipients (refused before Graph), with output 2 wired or not. */
  async function refuseOne(onFailure: string, wired: boolean): Promise<ReturnType<typeof watchOutputs>> {
    const flow = mailFlow(sandbox, { onFailure, wires: [['ok'], wired ? ['fail'] : []] });
    await loadMailFlow(flow);
    const out = watchOutputs();
    send({ topic: 'no recipient', payload: 'y' });
    return out;
  }
  it('auto with output 2 wired: output 2 only, shown once', async () => {
    const out = await refuseOne('auto', true);
    await out.settled(1);
    // A second mail, sent through Graph, arrives long after a Catch delivery of the first would have.
    send({ to: 'ada@example.com', topic: 'ok', payload: 'y' });
    await out.settled(2);
    expect(out.failed).toHaveLength(1);
    expect(out.caught).toEqual([]);
  });

  it('auto with output 2 unwired: Catch nodes, never silent', async () => {
    const out = await refuseOne('auto', false);
    await out.caughtAtLeast(1);
    expect(out.caught).toHaveLength(1);
  });

  it('both: output 2 and Catch nodes', async () => {
    const out = await refuseOne('both', true);
    await out.settled(1);
    await out.caughtAtLeast(1);
    expect(out.failed).toHaveLength(1);
    expect(out.caught).toHaveLength(1);
  });
});

describe('email task: failures explained', () => {
  async function failOnce(task: Record<string, unknown>, connection: Record<string, unknown>, clientSecret?: string, msg: Record<string, unknown> = {}): Promise<{ out: ReturnType<typeof watchOutputs>; failed: OutMsg }> {
    await loadMailFlow(mailFlow(sandbox, task, connection), clientSecret);
    const out = watchOutputs();
    send({ to: 'ada@example.com', topic: 'x', payload: 'y', ...msg });
    await out.settled(1);
    // done(err) reaches the catch node too.
    await out.caughtAtLeast(1);
    expect(out.sent).toEqual([]);
    return { out, failed: out.failed[0] };
  }

  it.each([
    ['a wrong secret', SANDBOX.applicationId, 'wrong-secret-value', {}, 7000215, 'invalidSecret'],
    ["the secret's ID instead of its value", SANDBOX.applicationId, SANDBOX.clientSecretId, {}, 7000215, 'invalidSecret'],
    ['an expired secret', SANDBOX.applicationId, SANDBOX.expiredClientSecret, {}, 7000222, 'expiredSecret'],
    ['an app that is not in the tenant', '6a1d8e2b-0c4f-4b7a-9e3d-5f2c1b0a9d8e', SANDBOX.clientSecret, {}, 700016, 'appNotInTenant'],
    ['an unknown tenant', SANDBOX.applicationId, SANDBOX.clientSecret, { tenantId: '0f0f0f0f-1111-4222-8333-444455556666' }, 90002, 'tenantNotFound'],
    ['a tenant that is neither GUID nor domain', SANDBOX.applicationId, SANDBOX.clientSecret, { tenantId: 'contoso' }, 900023, 'tenantInvalid'],
  ])('%s → auth, AADSTS code and hint', async (_what, applicationId, secret, connection, aadsts, hint) => {
    const { failed, out } = await failOnce({}, { applicationId, ...connection }, secret);
    const error = failed.error as Record<string, unknown>;
    // Microsoft's own text in its own field; message and hint stay plain.
    expect(error).toMatchObject({ category: 'auth', aadsts, code: `AADSTS${aadsts}`, hint: expect.stringContaining(`hints.${hint}`), details: expect.stringContaining(`AADSTS${aadsts}`) });
    expect(error.source).toEqual({ id: 'e1', type: 'email-task', name: 'mail' });
    expect(out.statuses.at(-1)).toMatchObject({ fill: 'red', shape: 'ring', text: expect.stringContaining('category.auth') });
    expect(sandbox.stats().graphRequests).toBe(0);
    expectNoLeaks([out, logText()], sandbox, [secret]);
  });

  it('a token without roles (admin consent missing) → permission with the admin-consent hint', async () => {
    const { failed } = await failOnce({}, { applicationId: SANDBOX.noConsentApplicationId }, SANDBOX.noConsentClientSecret);
    expect(failed.error).toMatchObject({ category: 'permission', graphCode: 'NoPermissionsInAccessToken', hint: expect.stringContaining('hints.noRoles') });
  });

  it('an app without Mail.Send → permission, ErrorAccessDenied', async () => {
    const { failed } = await failOnce({}, { applicationId: SANDBOX.noMailSendApplicationId }, SANDBOX.noMailSendClientSecret);
    expect(failed.error).toMatchObject({ category: 'permission', graphCode: 'ErrorAccessDenied', status: 403, hint: expect.stringContaining('hints.accessDenied') });
    expect((failed.error as { requestId: string }).requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each([
    ['an unknown sender', 'nobody@contoso.onmicrosoft.com', 'mailbox', 'ErrorInvalidUser', 'senderNotFound'],
    ['an unlicensed sender', SANDBOX.unlicensedMailbox, 'mailbox', 'MailboxNotEnabledForRESTAPI', 'mailboxNotEnabled'],
    ['a sender outside the RBAC scope', SANDBOX.outOfScopeMailbox, 'permission', 'ErrorAccessDenied', 'accessDenied'],
  ])('%s → %s (%s)', async (_what, senderEmail, category, graphCode, hint) => {
    const { failed } = await failOnce({}, { senderEmail });
    expect(failed.error).toMatchObject({ category, graphCode, hint: expect.stringContaining(`hints.${hint}`) });
  });

  it('missing recipients → validation, and Graph is never called', async () => {
    const { failed } = await failOnce({}, {}, undefined, { to: undefined });
    expect(failed.error).toMatchObject({ category: 'validation', code: 'NoRecipients' });
    expect(sandbox.stats().tokenRequests).toBe(0);
    expect(sandbox.stats().graphRequests).toBe(0);
  });

  it('a bad address names the field and value', async () => {
    const { failed } = await failOnce({}, {}, undefined, { to: 'ada@example.com', cc: 'not an address' });
    expect(failed.error).toMatchObject({ category: 'validation', code: 'InvalidAddress', message: expect.stringContaining('errors.invalidAddress') });
  });

  it('a connection with missing fields fails at deploy time with a clear status, and messages fail with validation', async () => {
    await loadMailFlow(mailFlow(sandbox, {}, { applicationId: '' }));
    const out = watchOutputs();
    const logged = logText();
    expect(logged).toContain('deploy.required');
    send({ to: 'ada@example.com', topic: 'x', payload: 'y' });
    await out.settled(1);
    expect(out.failed[0].error).toMatchObject({ category: 'validation', code: 'InvalidConnection' });
    expect(sandbox.stats().tokenRequests).toBe(0);
  });

  it('Graph refusing a recipient → recipient', async () => {
    sandbox.addFault({ target: 'sendMail', status: 400, code: 'ErrorInvalidRecipients', message: 'At least one recipient is not valid.' });
    const { failed } = await failOnce({}, {});
    expect(failed.error).toMatchObject({ category: 'recipient', graphCode: 'ErrorInvalidRecipients', status: 400 });
  });

  it('a connection refused → network, retryable; a reset after acceptance → unknown-outcome', async () => {
    // One attempt: retries have their own tests (fault-matrix.test.ts).
    const { failed } = await failOnce({ maxAttempts: 1 }, { loginUrl: 'https://127.0.0.1:1', graphUrl: 'https://127.0.0.1:1' });
    expect(failed.error).toMatchObject({ category: 'network', code: 'ECONNREFUSED', retryable: true });
    await helper.unload();
    sandbox.addFault({ target: 'sendMail', action: 'reset-after' });
    const second = await failOnce({}, {});
    expect(second.failed.error).toMatchObject({ category: 'unknown-outcome', retryable: false });
    expect(sandbox.mail(SANDBOX.senderEmail)).toHaveLength(1);
  });
});

describe('usage data and secrecy', () => {
  it('GET /office365-mail/usage reports sent, failures by category with hints, and token requests', async () => {
    // Max wait 0: a 429 fails at once instead of waiting out its Retry-After.
    await loadMailFlow(mailFlow(sandbox, { maxWait: 0 }));
    const out = watchOutputs();
    send({ to: 'ada@example.com', topic: 'ok', payload: 'x' });
    send({ topic: 'no recipient', payload: 'x' });
    await out.settled(2);
    sandbox.addFault({ target: 'sendMail', status: 429, code: 'ApplicationThrottled', retryAfter: '3' });
    send({ to: 'ada@example.com', topic: 'throttled', payload: 'x' });
    await out.settled(3);
    const res = await helper.request().get('/office365-mail/usage').expect(200);
    const [usage] = (res.body as { connections: Array<Record<string, unknown>> }).connections;
    expect(usage).toMatchObject({
      id: 'c1',
      key: 'sandbox',
      valid: true,
      sent: 1,
      failed: 2,
      failedByCategory: { validation: 1, throttled: 1 },
      throttled: 1,
      retried: 0,
      tokenRequests: 1,
    });
    expect(Date.parse(String(usage.lastSuccess))).not.toBeNaN();
    const [throttled, refused] = usage.recentFailures as Array<Record<string, unknown>>;
    expect(throttled).toMatchObject({ category: 'throttled', graphCode: 'ApplicationThrottled', status: 429, requestId: expect.any(String) });
    expect(refused).toMatchObject({
      category: 'validation',
      code: 'NoRecipients',
      node: { id: 'e1', type: 'email-task', name: 'mail' },
      hint: expect.stringContaining('hints.noRecipients'),
    });
  });

  it('nothing that came out holds the secret or a token, whatever happened', async () => {
    const seen: unknown[] = [];
    for (const [connection, secret] of [
      [{}, SANDBOX.clientSecret],
      [{}, SANDBOX.expiredClientSecret],
      [{ senderEmail: 'nobody@contoso.onmicrosoft.com' }, SANDBOX.clientSecret],
      [{ applicationId: SANDBOX.noConsentApplicationId }, SANDBOX.noConsentClientSecret],
    ] as const) {
      if (seen.length) await helper.unload();
      await loadMailFlow(mailFlow(sandbox, {}, connection), secret);
      const out = watchOutputs();
      send({ to: 'ada@example.com', topic: 'x', payload: 'y' });
      send({ to: 'bad address', topic: 'x', payload: 'y' });
      await out.settled(2);
      const usage = await helper.request().get('/office365-mail/usage');
      seen.push(out, usage.body, logText());
    }
    expect(sandbox.issuedTokens().length).toBeGreaterThan(0);
    expectNoLeaks(seen, sandbox);
  });
});
