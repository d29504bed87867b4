/** The Graph mail stand-in: sendMail, its checks in Graph's order, limits, and the upload path. */
import { createHash, randomBytes } from 'node:crypto';
import type { AxiosResponse } from 'axios';
import { SANDBOX, defaultDirectory, startSandbox } from '../../sandbox';
import type { Sandbox } from '../../sandbox';
import { GraphClient } from '../../nodes/lib/graph';
import { clientFor, message, recipients, sendMail, tokenFor, useSandboxClient } from './helpers';
import type { Client } from './helpers';

let sandbox: Sandbox;
let c: Client;
let token: string;
const ctx = useSandboxClient({ token: true });
beforeAll(() => ({ sandbox, c, token } = ctx));

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('sendMail', () => {
  test('202 with an empty body; the mail is recorded with what Graph received', async () => {
    const content = Buffer.from('report,1\n');
    const body = {
      message: message({
        subject: 'Quarterly report',
        body: { contentType: 'HTML', content: '<p>See attached</p>' },
        ccRecipients: recipients('bob@example.com'),
        importance: 'high',
        internetMessageHeaders: [{ name: 'X-Flow', value: 'test' }],
        attachments: [{ '@odata.type': '#microsoft.graph.fileAttachment', name: 'r.csv', contentType: 'text/csv', contentBytes: content.toString('base64') }],
      }),
      saveToSentItems: false,
    };
    const clientRequestId = 'a0b1c2d3-e4f5-4a6b-8c7d-8e9fa0b1c2d3';
    const res = await sendMail(c, token, body, SANDBOX.senderEmail, { 'client-request-id': clientRequestId });
    expect(res.status).toBe(202);
    expect(res.data).toBe('');
    expect(res.headers['request-id']).toMatch(GUID);
    expect(res.headers['client-request-id']).toBe(clientRequestId);
    expect(res.headers.date).toBeTruthy();

    const [mail] = sandbox.mail(SANDBOX.senderEmail);
    expect(mail).toMatchObject({
      sender: SANDBOX.senderEmail,
      saveToSentItems: false,
      path: 'sendMail',
      clientRequestId,
      requestId: res.headers['request-id'],
      appId: SANDBOX.applicationId,
    });
    expect(mail.message).toEqual(body.message);
    expect(mail.attachments).toEqual([
      {
        name: 'r.csv',
        contentType: 'text/csv',
        size: content.length,
        isInline: false,
        contentId: undefined,
        sha256: createHash('sha256').update(content).digest('hex'),
        via: 'inline',
      },
    ]);
    expect(mail.receivedAt).toBeInstanceOf(Date);
    expect(sandbox.stats()).toMatchObject({ graphRequests: 1, mailsSent: 1 });
  });

  test('the sender may be named by object id or in another case; the mail lands in the same mailbox', async () => {
    expect((await sendMail(c, token, { message: message() }, SANDBOX.senderEmail.toUpperCase())).status).toBe(202);
    expect(sandbox.mail(SANDBOX.senderEmail)).toHaveLength(1);
    expect(sandbox.mail(SANDBOX.senderEmail)[0].saveToSentItems).toBe(true);
    expect(sandbox.mail('reports@contoso.onmicrosoft.com')).toHaveLength(0);
  });

  test('action parameters match case-insensitively (Message / SaveToSentItems)', async () => {
    const res = await sendMail(c, token, { Message: message(), SaveToSentItems: false });
    expect(res.status).toBe(202);
    expect(sandbox.mail()[0].saveToSentItems).toBe(false);
  });
});

describe('auth, permission and mailbox errors', () => {
  test('401 InvalidAuthenticationToken: no token, not a JWT, tampered, expired', async () => {
    const none = await c.http.post(`/v1.0/users/${SANDBOX.senderEmail}/sendMail`, { message: message() });
    expect(none.status).toBe(401);
    expect(none.data.error.code).toBe('InvalidAuthenticationToken');

    expect((await sendMail(c, 'not-a-jwt', { message: message() })).data.error?.code).toBe('InvalidAuthenticationToken');

    // A real header and signature around claims the sandbox never signed.
    const [h, , sig] = token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ aud: sandbox.url, roles: ['Mail.Send'] })).toString('base64url')}.${sig}`;
    expect((await sendMail(c, forged, { message: message() })).status).toBe(401);

    sandbox.setTokenLifetime(0);
    const expired = await tokenFor(c, sandbox);
    sandbox.setTokenLifetime(3599);
    const res = await sendMail(c, expired, { message: message() });
    expect(res.status).toBe(401);
    expect(res.data.error).toMatchObject({ code: 'InvalidAuthenticationToken' });
    expect(res.data.error?.message).toContain('expired');
    expect(sandbox.mail()).toHaveLength(0);
  });

  test('401 NoPermissionsInAccessToken when admin consent is missing (no roles claim)', async () => {
    const noConsent = await tokenFor(c, sandbox, SANDBOX.noConsentApplicationId, SANDBOX.noConsentClientSecret);
    const res = await sendMail(c, noConsent, { message: message() });
    expect(res.status).toBe(401);
    expect(res.data.error?.code).toBe('NoPermissionsInAccessToken');
  });

  test('403 ErrorAccessDenied without Mail.Send, and for a mailbox outside the RBAC scope', async () => {
    const noMailSend = await tokenFor(c, sandbox, SANDBOX.noMailSendApplicationId, SANDBOX.noMailSendClientSecret);
    const denied = await sendMail(c, noMailSend, { message: message() });
    expect(denied.status).toBe(403);
    expect(denied.data.error).toMatchObject({ code: 'ErrorAccessDenied', message: 'Access is denied. Check credentials and try again.' });

    const scoped = await sendMail(c, token, { message: message() }, SANDBOX.outOfScopeMailbox);
    expect(scoped.status).toBe(403);
    expect(scoped.data.error?.code).toBe('ErrorAccessDenied');
  });

  test('404 ErrorInvalidUser for an unknown sender, MailboxNotEnabledForRESTAPI for an unlicensed one', async () => {
    const unknown = await sendMail(c, token, { message: message() }, 'nobody@contoso.onmicrosoft.com');
    expect(unknown.status).toBe(404);
    expect(unknown.data.error).toMatchObject({ code: 'ErrorInvalidUser', message: "The requested user 'nobody@contoso.onmicrosoft.com' is invalid." });

    const unlicensed = await sendMail(c, token, { message: message() }, SANDBOX.unlicensedMailbox);
    expect(unlicensed.status).toBe(404);
    expect(unlicensed.data.error?.code).toBe('MailboxNotEnabledForRESTAPI');
  });

  test('every error carries Graph error JSON with innerError ids matching the headers', async () => {
    const res = await sendMail(c, token, { message: message() }, 'nobody@contoso.onmicrosoft.com', { 'client-request-id': '11112222-3333-4444-8555-666677778888' });
    expect(res.data.error?.innerError).toMatchObject({
      'request-id': res.headers['request-id'],
      'client-request-id': '11112222-3333-4444-8555-666677778888',
    });
    expect(res.data.error?.innerError.date).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
  });
});

describe('schema validation (Graph CSDL)', () => {
  const bad: [string, unknown, string, string][] = [
    ['an unknown message property', { message: message({ subjectt: 'typo' }) }, 'RequestBodyRead', "The property 'subjectt' does not exist on type 'microsoft.graph.message'"],
    ['a number where a string belongs', { message: message({ subject: 42 }) }, 'RequestBodyRead', "'Edm.String'"],
    ['an object where a collection belongs', { message: message({ toRecipients: { emailAddress: { address: 'a@b.com' } } }) }, 'RequestBodyRead', "'StartArray'"],
    ['an unknown enum literal', { message: message({ importance: 'urgent' }) }, 'RequestBodyRead', "Requested value 'urgent' was not found."],
    ['a string where a boolean belongs', { message: message(), saveToSentItems: 'false' }, 'RequestBodyRead', "'Edm.Boolean'"],
    ['an unknown action parameter', { message: message(), sendNow: true }, 'RequestBodyRead', "The parameter 'sendNow'"],
    ['no message', { saveToSentItems: true }, 'RequestBodyRead', "'Message'"],
    ['null in a collection', { message: message({ ccRecipients: null }) }, 'RequestBodyRead', 'does not allow null values'],
    [
      'contentBytes that is not base64',
      { message: message({ attachments: [{ '@odata.type': '#microsoft.graph.fileAttachment', name: 'a.txt', contentBytes: 'not base64!' }] }) },
      'RequestBodyRead',
      'not a valid Base-64 string',
    ],
    ['an attachment without @odata.type', { message: message({ attachments: [{ name: 'a.txt', contentBytes: 'QQ==' }] }) }, 'RequestBodyRead', 'abstract'],
    [
      'a fileAttachment without contentBytes',
      { message: message({ attachments: [{ '@odata.type': '#microsoft.graph.fileAttachment', name: 'a.txt' }] }) },
      'ErrorRequiredPropertyMissing',
      'contentBytes',
    ],
    ['an unknown nested property', { message: message({ body: { contentType: 'text', content: 'x', charset: 'utf-8' } }) }, 'RequestBodyRead', "'charset' does not exist on type 'microsoft.graph.itemBody'"],
  ];

  test.each(bad)('400 for %s', async (_name, body, code, text) => {
    const res = await sendMail(c, token, body);
    expect(res.status).toBe(400);
    expect(res.data.error?.code).toBe(code);
    expect(res.data.error?.message).toContain(text);
    expect(sandbox.mail()).toHaveLength(0);
  });

  test('400 BadRequest for a body that is not JSON', async () => {
    // A Buffer, because axios would JSON-encode a string into valid JSON.
    const res = await c.http.post(`/v1.0/users/${SANDBOX.senderEmail}/sendMail`, Buffer.from('{"message":'), {
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(res.data.error.code).toBe('BadRequest');
  });
});

describe('recipients, headers and size limits', () => {
  test('400 ErrorInvalidRecipients with no recipient at all, or an invalid address', async () => {
    const none = await sendMail(c, token, { message: message({ toRecipients: [] }) });
    expect(none.status).toBe(400);
    expect(none.data.error?.code).toBe('ErrorInvalidRecipients');
    const invalid = await sendMail(c, token, { message: message({ toRecipients: recipients('ada@example.com', 'not-an-address') }) });
    expect(invalid.status).toBe(400);
    expect(invalid.data.error?.code).toBe('ErrorInvalidRecipients');
    expect(invalid.data.error?.message).toContain('not-an-address');
  });

  test('500 recipients pass, 501 (To + Cc + Bcc) get 400 ErrorTooManyRecipients', async () => {
    const many = (n: number, prefix: string): ReturnType<typeof recipients> => recipients(...Array.from({ length: n }, (_, i) => `${prefix}${i}@example.com`));
    const ok = await sendMail(c, token, { message: message({ toRecipients: many(200, 't'), ccRecipients: many(200, 'c'), bccRecipients: many(100, 'b') }) });
    expect(ok.status).toBe(202);
    const over = await sendMail(c, token, { message: message({ toRecipients: many(200, 't'), ccRecipients: many(200, 'c'), bccRecipients: many(101, 'b') }) });
    expect(over.status).toBe(400);
    expect(over.data.error?.code).toBe('ErrorTooManyRecipients');
  });

  test('internetMessageHeaders: names must start with x-, at most 5', async () => {
    const h = (n: number): { name: string; value: string }[] => Array.from({ length: n }, (_, i) => ({ name: `x-custom-${i}`, value: 'v' }));
    expect((await sendMail(c, token, { message: message({ internetMessageHeaders: h(5) }) })).status).toBe(202);
    const six = await sendMail(c, token, { message: message({ internetMessageHeaders: h(6) }) });
    expect(six.status).toBe(400);
    expect(six.data.error?.code).toBe('InvalidInternetMessageHeaderCollection');
    const named = await sendMail(c, token, { message: message({ internetMessageHeaders: [{ name: 'Reply-By', value: 'x' }] }) });
    expect(named.status).toBe(400);
    expect(named.data.error?.code).toBe('InvalidInternetMessageHeader');
  });

  test('413 RequestEntityTooLarge over 4 MB, and the keep-alive connection stays usable', async () => {
    const big = randomBytes(3_200_000).toString('base64'); // ~4.27 MB of JSON
    const res = await sendMail(c, token, {
      message: message({ attachments: [{ '@odata.type': '#microsoft.graph.fileAttachment', name: 'big.bin', contentBytes: big }] }),
    });
    expect(res.status).toBe(413);
    expect(res.data.error?.code).toBe('RequestEntityTooLarge');
    expect((await sendMail(c, token, { message: message() })).status).toBe(202);
    expect(sandbox.mail()).toHaveLength(1);
  });
});

describe('MailboxConcurrency', () => {
  test('a fifth concurrent request for one app + mailbox gets 429 ApplicationThrottled with Retry-After: 1', async () => {
    // The latency holds the first four in flight while the fifth arrives.
    sandbox.setLatency(1000);
    try {
      const results = await Promise.all(Array.from({ length: 5 }, () => sendMail(c, token, { message: message() })));
      const statuses = results.map((r) => r.status).sort();
      expect(statuses).toEqual([202, 202, 202, 202, 429]);
      const throttled = results.find((r) => r.status === 429);
      expect(throttled?.headers['retry-after']).toBe('1');
      expect(throttled?.data.error).toMatchObject({ code: 'ApplicationThrottled', message: 'Application is over its MailboxConcurrency limit.' });
      expect(sandbox.stats()).toMatchObject({ throttled: 1, maxConcurrentPerMailbox: { [SANDBOX.senderEmail]: 5 } });
      expect(sandbox.mail()).toHaveLength(4);
    } finally {
      sandbox.setLatency(0);
    }
  });
});

describe('draft + upload session path', () => {
  const auth = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}`, 'content-type': 'application/json' });
  const base = `/v1.0/users/${SANDBOX.senderEmail}/messages`;

  test('drafts need Mail.ReadWrite: 403 ErrorAccessDenied for a Mail.Send-only app', async () => {
    const sendOnly = await tokenFor(c, sandbox, SANDBOX.mailSendOnlyApplicationId, SANDBOX.mailSendOnlyClientSecret);
    const res = await c.http.post(base, message(), { headers: auth(sendOnly) });
    expect(res.status).toBe(403);
    expect(res.data.error.code).toBe('ErrorAccessDenied');
  });

  test('draft, small attachment, upload session in chunks, send: recorded as one mail with both attachments', async () => {
    const draft = await c.http.post(base, message({ subject: 'Big file' }), { headers: auth(token) });
    expect(draft.status).toBe(201);
    expect(draft.data).toMatchObject({ isDraft: true, subject: 'Big file' });
    const id = draft.data.id as string;
    const msg = `${base}/${encodeURIComponent(id)}`;

    const small = Buffer.from('small one');
    const att = await c.http.post(
      `${msg}/attachments`,
      { '@odata.type': '#microsoft.graph.fileAttachment', name: 'small.txt', contentType: 'text/plain', contentBytes: small.toString('base64') },
      { headers: auth(token) },
    );
    expect(att.status).toBe(201);
    expect(att.data).toMatchObject({ name: 'small.txt', size: small.length });

    const tooSmall = await c.http.post(`${msg}/attachments/createUploadSession`, { AttachmentItem: { attachmentType: 'file', name: 'x.bin', size: 1024 } }, { headers: auth(token) });
    expect(tooSmall.status).toBe(400);
    expect(tooSmall.data.error.code).toBe('ErrorAttachmentSizeShouldNotBeLessThanMinimumSize');

    const file = randomBytes(3 * 1024 * 1024 + 12345);
    const session = await c.http.post(
      `${msg}/attachments/createUploadSession`,
      { attachmentItem: { attachmentType: 'file', name: 'big.bin', size: file.length, contentType: 'application/octet-stream' } },
      { headers: auth(token) },
    );
    expect(session.status).toBe(201);
    expect(session.data.nextExpectedRanges).toEqual(['0-']);
    expect(Date.parse(session.data.expirationDateTime as string)).toBeGreaterThan(Date.now());
    const uploadUrl = session.data.uploadUrl as string;
    expect(uploadUrl.startsWith(sandbox.url)).toBe(true);

    const put = (from: number, to: number, headers: Record<string, string> = {}): Promise<AxiosResponse<{ nextExpectedRanges?: string[] }>> =>
      c.http.put(uploadUrl, file.subarray(from, to), {
        baseURL: undefined,
        headers: { 'content-type': 'application/octet-stream', 'content-range': `bytes ${from}-${to - 1}/${file.length}`, ...headers },
      });

    const withAuth = await put(0, 2 * 1024 * 1024, { authorization: `Bearer ${token}` });
    expect(withAuth.status).toBe(401);
    const first = await put(0, 2 * 1024 * 1024);
    expect(first.status).toBe(200);
    expect(first.data.nextExpectedRanges).toEqual([`${2 * 1024 * 1024}`]);
    const outOfOrder = await put(0, 1024);
    expect(outOfOrder.status).toBe(416);
    const last = await put(2 * 1024 * 1024, file.length);
    expect(last.status).toBe(201);

    const sent = await c.http.post(`${msg}/send`, undefined, { headers: { authorization: `Bearer ${token}` } });
    expect(sent.status).toBe(202);

    const [mail] = sandbox.mail(SANDBOX.senderEmail);
    expect(mail).toMatchObject({ path: 'uploadSession', id, saveToSentItems: true, appId: SANDBOX.applicationId });
    expect(mail.message.subject).toBe('Big file');
    expect(mail.attachments.map((a) => [a.name, a.size, a.via])).toEqual([
      ['small.txt', small.length, 'inline'],
      ['big.bin', file.length, 'upload'],
    ]);
    expect(mail.attachments[1].sha256).toBe(createHash('sha256').update(file).digest('hex'));
    expect(sandbox.openItems()).toEqual({ drafts: 0, uploadSessions: 0 });
    // The request log never keeps the upload URL's credential.
    expect(JSON.stringify(sandbox.requests())).not.toContain('authtoken');
  });

  test("adding a file to a draft holds Graph's measured edge: 3,145,611 bytes go, 3,145,700 get 413", async () => {
    const draft = await c.http.post(base, message(), { headers: auth(token) });
    const msg = `${base}/${encodeURIComponent(draft.data.id as string)}`;
    const post = (size: number): Promise<AxiosResponse<{ error?: { code: string } }>> =>
      c.http.post(
        `${msg}/attachments`,
        { '@odata.type': '#microsoft.graph.fileAttachment', name: 'edge.bin', contentType: 'application/octet-stream', contentBytes: randomBytes(size).toString('base64') },
        { headers: auth(token) },
      );
    expect((await post(3_145_611)).status).toBe(201);
    const over = await post(3_145_700);
    expect(over.status).toBe(413);
    expect(over.data.error?.code).toBe('RequestEntityTooLarge');
    // The same file is welcome in an upload session (3 MB to 150 MB).
    const session = await c.http.post(`${msg}/attachments/createUploadSession`, { AttachmentItem: { attachmentType: 'file', name: 'edge.bin', size: 3_145_700 } }, { headers: auth(token) });
    expect(session.status).toBe(201);
  });

  test("the client's putChunk reads Outlook's nextExpectedRanges (a start without a dash)", async () => {
    const draft = await c.http.post(base, message(), { headers: auth(token) });
    const graph = new GraphClient(c.http, sandbox.url, []);
    const file = randomBytes(3_500_000);
    const session = await graph.createUploadSession(SANDBOX.senderEmail, draft.data.id as string, { name: 'f.bin', size: file.length, contentType: 'application/octet-stream', isInline: false }, token, 10_000);
    const first = await graph.putChunk(session.uploadUrl, file.subarray(0, 1_000_000), 0, file.length, 10_000);
    expect(first).toEqual({ complete: false, nextStart: 1_000_000 });
    expect(await graph.putChunk(session.uploadUrl, file.subarray(1_000_000), 1_000_000, file.length, 10_000)).toEqual({ complete: true });
  });

  test('an upload can be cancelled and a draft deleted', async () => {
    const draft = await c.http.post(base, message(), { headers: auth(token) });
    const msg = `${base}/${encodeURIComponent(draft.data.id as string)}`;
    const session = await c.http.post(`${msg}/attachments/createUploadSession`, { AttachmentItem: { attachmentType: 'file', name: 'b.bin', size: 4 * 1024 * 1024 } }, { headers: auth(token) });
    expect((await c.http.delete(session.data.uploadUrl as string, { baseURL: undefined })).status).toBe(204);
    expect((await c.http.delete(msg, { headers: auth(token) })).status).toBe(204);
    expect((await c.http.post(`${msg}/send`, undefined, { headers: auth(token) })).data.error.code).toBe('ErrorItemNotFound');
    expect(sandbox.openItems()).toEqual({ drafts: 0, uploadSessions: 0 });
    expect(sandbox.mail()).toHaveLength(0);
  });
});

describe('limits per app and mailbox, and Exchange blocks', () => {
  test('MailboxConcurrency counts per app: two apps may each have 4 requests in flight for one mailbox', async () => {
    const other = await tokenFor(c, sandbox, SANDBOX.mailSendOnlyApplicationId, SANDBOX.mailSendOnlyClientSecret);
    sandbox.setLatency(500);
    try {
      const results = await Promise.all([token, other].flatMap((t) => Array.from({ length: 4 }, () => sendMail(c, t, { message: message() }))));
      expect(results.map((r) => r.status)).toEqual(Array(8).fill(202));
      const stats = sandbox.stats();
      expect(stats.throttled).toBe(0);
      expect(stats.maxConcurrentPerMailbox[SANDBOX.senderEmail]).toBe(8);
      expect(stats.maxConcurrentPerAppMailbox).toEqual({
        [`${SANDBOX.applicationId}|${SANDBOX.senderEmail}`]: 4,
        [`${SANDBOX.mailSendOnlyApplicationId}|${SANDBOX.senderEmail}`]: 4,
      });
    } finally {
      sandbox.setLatency(0);
    }
  });

  test('a blocked mailbox is refused with ErrorMessageSubmissionBlocked in Graph error JSON until unblocked', async () => {
    sandbox.blockMailbox(SANDBOX.senderEmail.toUpperCase());
    const refused = await sendMail(c, token, { message: message() });
    expect(refused.status).toBe(403);
    expect(refused.data.error).toMatchObject({ code: 'ErrorMessageSubmissionBlocked', message: expect.any(String), innerError: { 'request-id': expect.any(String) } });
    // Another mailbox of the tenant still sends.
    expect((await sendMail(c, token, { message: message() }, 'reports@contoso.onmicrosoft.com')).status).toBe(202);
    sandbox.unblockMailbox(SANDBOX.senderEmail);
    expect((await sendMail(c, token, { message: message() })).status).toBe(202);
  });

  test('the control surface blocks with SubmissionQuotaExceeded, another status and Retry-After, and lifts it', async () => {
    const bad = await c.http.post('/_sandbox/blocked', { mailbox: SANDBOX.senderEmail, code: 'Nope' });
    expect(bad.status).toBe(400);
    const added = await c.http.post('/_sandbox/blocked', { mailbox: SANDBOX.senderEmail, code: 'SubmissionQuotaExceeded', status: 429, retryAfter: '60' });
    expect(added.status).toBe(204);
    expect((await c.http.get('/_sandbox/blocked')).data).toEqual({ [SANDBOX.senderEmail]: { code: 'SubmissionQuotaExceeded', status: 429, retryAfter: '60' } });
    const refused = await sendMail(c, token, { message: message() });
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('60');
    expect(refused.data.error?.code).toBe('SubmissionQuotaExceeded');
    expect((await c.http.delete('/_sandbox/blocked')).status).toBe(204);
    expect((await sendMail(c, token, { message: message() })).status).toBe(202);
  });

  test("a tenant's raised recipient limit (up to 1,000) is honoured; the default stays 500", async () => {
    const directory = defaultDirectory();
    directory.tenants[0].maxRecipientsPerMessage = 1000;
    const raised = await startSandbox({ directory });
    const rc = clientFor(raised);
    try {
      const t = await tokenFor(rc, raised);
      const many = (n: number): Record<string, unknown> => message({ toRecipients: Array.from({ length: n }, (_, i) => ({ emailAddress: { address: `r${i}@example.com` } })) });
      expect((await sendMail(rc, t, { message: many(1000) })).status).toBe(202);
      const over = await sendMail(rc, t, { message: many(1001) });
      expect(over.status).toBe(400);
      expect(over.data.error?.code).toBe('ErrorTooManyRecipients');
      expect((await sendMail(c, token, { message: many(501) })).data.error?.code).toBe('ErrorTooManyRecipients');
    } finally {
      rc.agent.destroy();
      await raised.close();
    }
  });
});
