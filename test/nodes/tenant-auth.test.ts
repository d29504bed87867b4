/**
 * What a real tenant does to tokens, through a real Node-RED runtime against the sandbox: tokens
 * revoked before their expiry, permissions granted while the flow runs, and Entra's error codes
 * with their hints (transient ones retried whatever their HTTP status).
 */
import type { Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { expectNoLeaks } from '../support/leaks';
import { connectionConfig, helper, loadMailFlow, logText, mailFlow, send, useSandboxAndRuntime, watchOutputs, type Outputs } from '../support/node-red';

const currentSandbox = useSandboxAndRuntime();
let sandbox: Sandbox;
beforeEach(() => {
  sandbox = currentSandbox();
});

/** Sends one mail and waits until it has left, by either output. */
async function mail(out: Outputs, topic: string): Promise<void> {
  const before = out.sent.length + out.failed.length;
  send({ to: 'ada@example.com', topic, payload: 'token test' });
  await out.settled(before + 1);
}

describe('a token revoked before its expiry', () => {
  it('is replaced once: the mail is delivered once, with exactly one extra token request, and later mails use the new token', async () => {
    await loadMailFlow(mailFlow(sandbox));
    const out = watchOutputs();
    await mail(out, 'before');
    expect(sandbox.stats().tokenRequests).toBe(1);

    sandbox.revokeTokens();
    await mail(out, 'revoked');
    expect(out.failed).toEqual([]);
    expect(out.sent[1].email).toMatchObject({ status: 'sent', attempts: 1 });
    expect(sandbox.stats().tokenRequests).toBe(2);
    expect(sandbox.mail().map((m) => m.message.subject)).toEqual(['before', 'revoked']);
    expect(sandbox.requests().filter((r) => r.status === 401).map((r) => r.errorCode)).toEqual(['InvalidAuthenticationToken']);

    // The new token replaced the cached one: no further token request, no further 401.
    await mail(out, 'after');
    expect(sandbox.stats().tokenRequests).toBe(2);
    expect(sandbox.requests().filter((r) => r.status === 401)).toHaveLength(1);
    expect(sandbox.mail()).toHaveLength(3);
  });

  it('revoked again at once: the mail fails as auth after one refresh, nothing sent, not retried', async () => {
    await loadMailFlow(mailFlow(sandbox));
    const out = watchOutputs();
    await mail(out, 'warm');
    sandbox.revokeTokens({ next: 1 });
    await mail(out, 'twice');
    expect(out.failed).toHaveLength(1);
    expect(out.failed[0].error).toMatchObject({ category: 'auth', code: 'InvalidAuthenticationToken', status: 401, attempts: 1, hint: expect.stringContaining('hints.tokenRejected') });
    expect(sandbox.stats().tokenRequests).toBe(2);
    expect(sandbox.requests().filter((r) => r.status === 401)).toHaveLength(2);
    expect(sandbox.mail().map((m) => m.message.subject)).toEqual(['warm']);
  });

  it('on the upload path too: the large mail is built again with the new token and sent once', async () => {
    await loadMailFlow(mailFlow(sandbox));
    const out = watchOutputs();
    await mail(out, 'warm');
    sandbox.revokeTokens();
    send({ to: 'ada@example.com', topic: 'large', payload: 'x', attachments: [{ filename: 'big.bin', content: Buffer.alloc(5_000_000, 7) }] });
    await out.settled(2);
    expect(out.sent[1].email).toMatchObject({ path: 'uploadSession', attempts: 1 });
    expect(sandbox.mail().map((m) => m.message.subject)).toEqual(['warm', 'large']);
    expect(sandbox.stats().tokenRequests).toBe(2);
    expect(sandbox.openItems()).toEqual({ drafts: 0, uploadSessions: 0 });
  });
});

describe('a permission granted while the flow runs', () => {
  it('Mail.Send missing: the mail fails as permission, the token is dropped, and after the grant the next mail goes', async () => {
    const connection = { applicationId: SANDBOX.noMailSendApplicationId };
    await loadMailFlow(mailFlow(sandbox, {}, connection), SANDBOX.noMailSendClientSecret);
    const out = watchOutputs();
    await mail(out, 'denied');
    expect(out.failed[0].error).toMatchObject({ category: 'permission', graphCode: 'ErrorAccessDenied' });

    sandbox.setAppRoles(SANDBOX.noMailSendApplicationId, ['User.Read.All', 'Mail.Send']);
    await mail(out, 'granted');
    expect(out.sent.map((m) => m.topic)).toEqual(['granted']);
    expect(sandbox.stats().tokenRequests).toBe(2);
    expect(sandbox.mail().map((m) => m.message.subject)).toEqual(['granted']);
  });

  it('admin consent missing (no roles): after consent the next mail goes', async () => {
    const connection = { applicationId: SANDBOX.noConsentApplicationId };
    await loadMailFlow(mailFlow(sandbox, {}, connection), SANDBOX.noConsentClientSecret);
    const out = watchOutputs();
    await mail(out, 'no consent');
    expect(out.failed[0].error).toMatchObject({ category: 'permission', hint: expect.stringContaining('hints.noRoles') });
    sandbox.setAppRoles(SANDBOX.noConsentApplicationId, ['Mail.Send']);
    await mail(out, 'consented');
    expect(out.sent.map((m) => m.topic)).toEqual(['consented']);
  });
});

describe("Entra's error codes", () => {
  it.each([
    [500011, 'auth', 'resourceNotFound'],
    [65001, 'permission', 'consentMissing'],
    [53003, 'permission', 'conditionalAccess'],
    [7000112, 'auth', 'appDisabled'],
    [50049, 'auth', 'invalidInstance'],
    [90038, 'auth', 'crossCloud'],
    [900382, 'auth', 'crossCloud'],
    [900432, 'auth', 'crossCloud'],
    [700024, 'auth', 'clockSkew'],
  ])('AADSTS%i → %s with hints.%s, not retried, nothing sent', async (aadsts, category, hint) => {
    await loadMailFlow(mailFlow(sandbox));
    sandbox.addFault({ target: 'token', aadsts, times: Infinity });
    const out = watchOutputs();
    await mail(out, `aadsts ${aadsts}`);
    expect(out.failed[0].error).toMatchObject({ category, aadsts, code: `AADSTS${aadsts}`, retryable: false, attempts: 1, hint: expect.stringContaining(`hints.${hint}`) });
    expect(sandbox.stats().tokenRequests).toBe(1);
    expect(sandbox.mail()).toEqual([]);
  });

  it.each([
    [50033, 400],
    [90024, 400],
    [90033, 503],
    [90033, 400],
  ])('AADSTS%i with HTTP %i is transient: retried, the mail is sent once', async (aadsts, status) => {
    await loadMailFlow(mailFlow(sandbox));
    // No Retry-After: on a 4xx MSAL would cache it as its own throttle and refuse the retry unasked.
    sandbox.addFault({ target: 'token', aadsts, status });
    const out = watchOutputs();
    await mail(out, `transient ${aadsts}`);
    expect(out.failed).toEqual([]);
    expect(out.sent[0].email).toMatchObject({ attempts: 2 });
    expect(sandbox.stats().tokenRequests).toBe(2);
    expect(sandbox.mail()).toHaveLength(1);
  });

  it('a transient code on every try gives up after Attempts, as server, with the retry note', async () => {
    await loadMailFlow(mailFlow(sandbox, { maxAttempts: 2 }));
    sandbox.addFault({ target: 'token', aadsts: 50033, status: 400, times: Infinity });
    const out = watchOutputs();
    await mail(out, 'transient forever');
    expect(out.failed[0].error).toMatchObject({ category: 'server', aadsts: 50033, retryable: true, attempts: 2, hint: expect.stringContaining('hints.retriesExhausted') });
    expectNoLeaks([out.failed, logText()], sandbox);
  });
});

describe('a secret that expires', () => {
  // The UTC day that is `days` whole days ahead: expiry counts up to its UTC midnight, rounded up.
  const inDays = (days: number): string => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

  it('12 days before: the task shows it in yellow when idle, the log warns once, Usage Data and Test connection show the date', async () => {
    const date = inDays(12);
    await loadMailFlow(mailFlow(sandbox, {}, { secretExpiresOn: date }));
    const out = watchOutputs();
    await mail(out, 'still works');
    expect(out.sent).toHaveLength(1);
    expect(out.statuses.at(-1)).toEqual({ fill: 'yellow', shape: 'ring', text: expect.stringContaining('status.secretExpiresIn') });

    const warnings = (helper.log() as { args: unknown[][] }).args.filter((a) => JSON.stringify(a).includes('expiry.warning'));
    expect(warnings).toHaveLength(1);

    const usage = (await helper.request().get('/office365-mail/usage')).body as { connections: Array<Record<string, unknown>> };
    expect(usage.connections[0]).toMatchObject({ credentialExpiresOn: date, credentialExpiresInDays: 12, credentialExpiryWarning: true });

    const res = await helper.request().post('/office365-mail/connections/test').send({ ...connectionConfig(sandbox, { secretExpiresOn: date }), id: 'c1', clientSecret: SANDBOX.clientSecret });
    expect(res.body).toMatchObject({ ok: true, credentialExpiresOn: date, credentialExpiresInDays: 12, largeMails: 'yes' });
  });

  it('far away or not given: no warning, the usual green status', async () => {
    await loadMailFlow(mailFlow(sandbox, {}, { secretExpiresOn: inDays(200) }));
    const out = watchOutputs();
    await mail(out, 'fine');
    expect(out.statuses.at(-1)).toEqual({ fill: 'green', shape: 'dot', text: expect.stringContaining('status.sent') });
    expect(logText()).not.toContain('expiry.warning');
  });

  it('Test connection: an app without Mail.ReadWrite in its token says large mails are unknown (RBAC may grant it)', async () => {
    await loadMailFlow(mailFlow(sandbox));
    const res = await helper.request().post('/office365-mail/connections/test').send({ ...connectionConfig(sandbox, { applicationId: SANDBOX.mailSendOnlyApplicationId }), clientSecret: SANDBOX.mailSendOnlyClientSecret });
    expect(res.body).toMatchObject({ ok: true, hasMailSend: true, largeMails: 'unknown', credentialExpiresOn: null });
  });
});
