/** Fault injection, the /_sandbox/ HTTP control surface, TLS connection counting and clean close. */
import { once } from 'node:events';
import { AxiosError } from 'axios';
import { SANDBOX, startSandbox } from '../../sandbox';
import type { Sandbox } from '../../sandbox';
import { clientFor, message, sendMail, tokenFor, tokenRequest, useSandboxClient } from './helpers';
import type { Client } from './helpers';

let sandbox: Sandbox;
let c: Client;
let token: string;
const ctx = useSandboxClient({ token: true });
beforeAll(() => ({ sandbox, c, token } = ctx));

/** axios with validateStatus accepting all still rejects when no answer comes back. */
async function networkError(p: Promise<unknown>): Promise<AxiosError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AxiosError);
  return err as AxiosError;
}

describe('faults', () => {
  test('respond: status, code and Retry-After once, then normal service', async () => {
    sandbox.addFault({ target: 'sendMail', status: 429, retryAfter: '7' });
    const throttled = await sendMail(c, token, { message: message() });
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBe('7');
    expect(throttled.data.error?.code).toBe('TooManyRequests');
    expect(throttled.headers['request-id']).toBeTruthy();
    expect((await sendMail(c, token, { message: message() })).status).toBe(202);
    expect(sandbox.mail()).toHaveLength(1);
    expect(sandbox.stats().faultsTriggered).toBe(1);
  });

  test('respond on the token endpoint answers with Entra error JSON', async () => {
    sandbox.addFault({ target: 'token', status: 503, retryAfter: '2' });
    const res = await tokenRequest(c, sandbox);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.data).toMatchObject({ error: 'temporarily_unavailable', error_codes: [90033] });
    expect(sandbox.stats()).toMatchObject({ tokenRequests: 1, tokensIssued: 0 });
  });

  test('a mailbox filter leaves other mailboxes alone; times: Infinity lasts until clearFaults()', async () => {
    sandbox.addFault({ target: 'graph', mailbox: 'reports@contoso.onmicrosoft.com', status: 503, code: 'ServiceNotAvailable', times: Infinity });
    expect((await sendMail(c, token, { message: message() })).status).toBe(202);
    for (let i = 0; i < 3; i++) {
      const res = await sendMail(c, token, { message: message() }, 'reports@contoso.onmicrosoft.com');
      expect(res.status).toBe(503);
      expect(res.data.error?.code).toBe('ServiceNotAvailable');
    }
    sandbox.clearFaults();
    expect((await sendMail(c, token, { message: message() }, 'reports@contoso.onmicrosoft.com')).status).toBe(202);
  });

  test('reset-before: the connection drops and nothing is sent', async () => {
    sandbox.addFault({ target: 'sendMail', action: 'reset-before' });
    const err = await networkError(sendMail(c, token, { message: message() }));
    expect(err.response).toBeUndefined();
    expect(sandbox.mail()).toHaveLength(0);
    expect(sandbox.requests().find((r) => r.target === 'graph')).toMatchObject({ status: 0, outcome: 'reset' });
  });

  test('reset-after: the mail is recorded as sent, then the connection drops unanswered', async () => {
    sandbox.addFault({ target: 'sendMail', action: 'reset-after' });
    const err = await networkError(sendMail(c, token, { message: message({ subject: 'maybe sent' }) }));
    expect(err.response).toBeUndefined();
    const mails = await sandbox.waitForMail(1);
    expect(mails[0].message.subject).toBe('maybe sent');
  });

  test('delayMs holds the answer back; the request-done event reports it', async () => {
    sandbox.addFault({ target: 'sendMail', status: 500, delayMs: 50 });
    const done = once(sandbox.events, 'request-done');
    const res = await sendMail(c, token, { message: message() });
    expect(res.status).toBe(500);
    expect(res.data.error?.code).toBe('InternalServerError');
    const [entry] = (await done) as [{ status: number; errorCode?: string }];
    expect(entry).toMatchObject({ status: 500, errorCode: 'InternalServerError' });
  });
});

describe('hang and close', () => {
  test('a hung request is ended by close(), which resolves with nothing left open', async () => {
    const own = await startSandbox();
    const oc = clientFor(own);
    const ownToken = await tokenFor(oc, own);
    own.addFault({ target: 'sendMail', action: 'hang' });
    const arrived = once(own.events, 'request');
    const pending = networkError(sendMail(oc, ownToken, { message: message() }));
    await arrived;
    await own.close();
    const err = await pending;
    expect(err.response).toBeUndefined();
    expect(own.mail()).toHaveLength(0);
    expect(own.requests().find((r) => r.target === 'graph')).toMatchObject({ status: 0, outcome: 'hung' });
    await expect(own.waitForMail(1)).rejects.toThrow('closed');
    oc.agent.destroy();
  });
});

describe('/_sandbox/ HTTP control surface', () => {
  test("a token fault given only an AADSTS code answers with Entra's status, error and text for it", async () => {
    sandbox.addFault({ target: 'token', aadsts: 500011 });
    const res = await tokenRequest(c, sandbox);
    expect(res.status).toBe(400);
    expect(res.data).toMatchObject({ error: 'invalid_resource', error_codes: [500011], error_description: expect.stringMatching(/^AADSTS500011: The resource principal named https:\/\/127\.0\.0\.1:\d+ was not found in the tenant/) });
    sandbox.addFault({ target: 'token', aadsts: 50033 });
    expect((await tokenRequest(c, sandbox)).data).toMatchObject({ error_codes: [50033] });
    expect((await tokenRequest(c, sandbox)).status).toBe(200);
  });

  test('revoked tokens get 401 InvalidAuthenticationToken from Graph; with next, so do tokens issued afterwards', async () => {
    const first = await tokenFor(c, sandbox);
    sandbox.revokeTokens();
    const refused = await sendMail(c, first, { message: message() });
    expect(refused.status).toBe(401);
    expect(refused.data.error?.code).toBe('InvalidAuthenticationToken');
    const second = await tokenFor(c, sandbox);
    expect((await sendMail(c, second, { message: message() })).status).toBe(202);

    expect((await c.http.post('/_sandbox/revoke', { next: 1 })).status).toBe(204);
    expect((await sendMail(c, second, { message: message() })).status).toBe(401);
    const bornRevoked = await tokenFor(c, sandbox);
    expect((await sendMail(c, bornRevoked, { message: message() })).status).toBe(401);
    expect((await sendMail(c, await tokenFor(c, sandbox), { message: message() })).status).toBe(202);
    expect((await c.http.post('/_sandbox/revoke', { next: -1 })).status).toBe(400);
  });

  test('roles granted over HTTP reach the next token, not the ones issued before', async () => {
    const before = await tokenFor(c, sandbox, SANDBOX.noMailSendApplicationId, SANDBOX.noMailSendClientSecret);
    expect((await sendMail(c, before, { message: message() })).status).toBe(403);
    expect((await c.http.post('/_sandbox/roles', { applicationId: SANDBOX.noMailSendApplicationId, roles: ['User.Read.All', 'Mail.Send'] })).status).toBe(204);
    expect((await sendMail(c, before, { message: message() })).status).toBe(403);
    const after = await tokenFor(c, sandbox, SANDBOX.noMailSendApplicationId, SANDBOX.noMailSendClientSecret);
    expect((await sendMail(c, after, { message: message() })).status).toBe(202);
    sandbox.setAppRoles(SANDBOX.noMailSendApplicationId, ['User.Read.All']);
    expect((await c.http.post('/_sandbox/roles', { applicationId: 'nope', roles: [] })).status).toBe(404);
    expect((await c.http.post('/_sandbox/roles', { applicationId: SANDBOX.applicationId, roles: 'Mail.Send' })).status).toBe(400);
  });

  test('faults, mail, stats, reset over HTTP', async () => {
    const added = await c.http.post('/_sandbox/faults', { target: 'sendMail', status: 503, retryAfter: '3', times: 'Infinity' });
    expect(added.status).toBe(201);
    expect((await c.http.get('/_sandbox/faults')).data).toEqual([expect.objectContaining({ target: 'sendMail', times: 'Infinity' })]);
    expect((await sendMail(c, token, { message: message() })).status).toBe(503);
    expect((await c.http.delete('/_sandbox/faults')).status).toBe(204);

    expect((await sendMail(c, token, { message: message({ subject: 'over http' }) })).status).toBe(202);
    const mail = await c.http.get('/_sandbox/mail', { params: { mailbox: SANDBOX.senderEmail } });
    expect(mail.status).toBe(200);
    expect(mail.data).toHaveLength(1);
    expect(mail.data[0]).toMatchObject({ sender: SANDBOX.senderEmail, path: 'sendMail', message: { subject: 'over http' } });
    expect((await c.http.get('/_sandbox/mail', { params: { mailbox: 'reports@contoso.onmicrosoft.com' } })).data).toEqual([]);

    const stats = await c.http.get('/_sandbox/stats');
    expect(stats.data).toMatchObject({ graphRequests: 2, mailsSent: 1, faultsTriggered: 1 });

    expect((await c.http.post('/_sandbox/reset')).status).toBe(204);
    expect((await c.http.get('/_sandbox/mail')).data).toEqual([]);
  });

  test('bad faults are refused with a reason', async () => {
    const res = await c.http.post('/_sandbox/faults', { target: 'smtp' });
    expect(res.status).toBe(400);
    expect(res.data.error).toContain('target');
  });

  test('the HTML page lists mail newest first, escaped', async () => {
    await sendMail(c, token, { message: message({ subject: 'first' }) });
    await sendMail(c, token, { message: message({ subject: '<b>second</b>', body: { contentType: 'html', content: '<p>Body <i>preview</i></p>' } }) });
    const page = await c.http.get('/_sandbox/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    const html = page.data as string;
    expect(html).toContain('&#60;b&#62;second&#60;/b&#62;');
    expect(html).not.toContain('<b>second</b>');
    expect(html).toContain('Body preview');
    expect(html.indexOf('second')).toBeLessThan(html.indexOf('first'));
  });
});

describe('TLS connections and keep-alive', () => {
  test('4 parallel keep-alive requests, repeated, use 4 TLS connections', async () => {
    const ka = clientFor(sandbox, { keepAlive: true, maxSockets: 4 });
    try {
      for (let round = 0; round < 5; round++) {
        const results = await Promise.all(Array.from({ length: 4 }, () => sendMail(ka, token, { message: message() })));
        expect(results.map((r) => r.status)).toEqual([202, 202, 202, 202]);
      }
      expect(sandbox.stats().tlsConnections).toBe(4);
      expect(sandbox.mail()).toHaveLength(20);
    } finally {
      ka.agent.destroy();
    }
  });

  test('without keep-alive each request pays a new TLS connection', async () => {
    const fresh = clientFor(sandbox, { keepAlive: false });
    try {
      for (let i = 0; i < 3; i++) expect((await sendMail(fresh, token, { message: message() })).status).toBe(202);
      expect(sandbox.stats().tlsConnections).toBe(3);
    } finally {
      fresh.agent.destroy();
    }
  });
});
