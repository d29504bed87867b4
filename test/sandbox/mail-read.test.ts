/** The sandbox's mail-reading API: folders, messages, delta, attachments, changes, permissions, mail flow, reply and forward. */
import { createHash } from 'node:crypto';
import type { AxiosResponse } from 'axios';
import { SANDBOX } from '../../sandbox';
import type { Sandbox } from '../../sandbox';
import { message, recipients, sendMail, tokenFor, useSandboxClient } from './helpers';
import type { Client } from './helpers';

type Json = Record<string, unknown>;
type List = { value: Json[]; '@odata.nextLink'?: string; '@odata.deltaLink'?: string; error?: { code: string } };

let sandbox: Sandbox;
let c: Client;
let token: string;
const ctx = useSandboxClient({ token: true });
beforeAll(() => ({ sandbox, c, token } = ctx));

const ME: string = SANDBOX.senderEmail;
const REPORTS = 'reports@contoso.onmicrosoft.com';
const base = (mailbox = ME): string => `/v1.0/users/${encodeURIComponent(mailbox)}`;

function get<T = Json>(url: string, headers: Record<string, string> = {}, bearer = token): Promise<AxiosResponse<T>> {
  return c.http.get<T>(url, { headers: { authorization: `Bearer ${bearer}`, ...headers } });
}
function post<T = Json>(url: string, body?: unknown, bearer = token): Promise<AxiosResponse<T>> {
  return c.http.post<T>(url, body, { headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) } });
}
function patch(url: string, body: unknown, bearer = token): Promise<AxiosResponse<Json>> {
  return c.http.patch<Json>(url, body, { headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' } });
}

/** Follows a delta round to its deltaLink, counting pages. */
async function deltaRound(url: string, headers: Record<string, string> = {}): Promise<{ items: Json[]; pages: number; deltaLink: string }> {
  const items: Json[] = [];
  let pages = 0;
  let next: string = url;
  for (;;) {
    const res: AxiosResponse<List> = await get<List>(next, headers);
    expect(res.status).toBe(200);
    pages += 1;
    items.push(...res.data.value);
    if (res.data['@odata.deltaLink']) return { items, pages, deltaLink: res.data['@odata.deltaLink'] };
    const link = res.data['@odata.nextLink'];
    if (link === undefined) throw new Error('a delta page without nextLink or deltaLink');
    next = link;
  }
}

describe('mail folders', () => {
  test('well-known names, top-level paging, child folders created and filtered with doubled quotes', async () => {
    const inbox = await get(`${base()}/mailFolders/inbox`);
    expect(inbox.status).toBe(200);
    expect(inbox.data).toMatchObject({ displayName: 'Inbox', totalItemCount: 0, unreadItemCount: 0, childFolderCount: 0 });
    for (const name of ['sentitems', 'deleteditems', 'drafts', 'archive', 'junkemail', 'SentItems']) {
      expect((await get(`${base()}/mailFolders/${name}`)).status).toBe(200);
    }
    expect((await get(`${base()}/mailFolders/nosuchfolder`)).data).toMatchObject({ error: { code: 'ErrorItemNotFound' } });

    const top = await get<List>(`${base()}/mailFolders?$top=3`);
    expect(top.data.value).toHaveLength(3);
    const rest = await get<List>(top.data['@odata.nextLink'] as string);
    const names = [...top.data.value, ...rest.data.value].map((f) => f.displayName);
    expect(names).toEqual(expect.arrayContaining(['Inbox', 'Drafts', 'Sent Items', 'Deleted Items', 'Archive', 'Junk Email']));
    expect(names).not.toContain('Deletions');

    const orders = await post(`${base()}/mailFolders/inbox/childFolders`, { displayName: 'Orders' });
    expect(orders.status).toBe(201);
    expect(orders.data.parentFolderId).toBe(inbox.data.id);
    expect((await post(`${base()}/mailFolders/inbox/childFolders`, { displayName: 'orders' })).status).toBe(409);
    expect((await post(`${base()}/mailFolders/inbox/childFolders`, { displayName: "O'Brien" })).status).toBe(201);
    for (let i = 0; i < 10; i++) await post(`${base()}/mailFolders/inbox/childFolders`, { displayName: `f${i}` });

    const page = await get<List>(`${base()}/mailFolders/inbox/childFolders`);
    expect(page.data.value).toHaveLength(10);
    expect(page.data['@odata.nextLink']).toBeDefined();
    const filtered = await get<List>(`${base()}/mailFolders/inbox/childFolders?$filter=${encodeURIComponent("displayName eq 'O''Brien'")}`);
    expect(filtered.data.value.map((f) => f.displayName)).toEqual(["O'Brien"]);
    expect((await get(`${base()}/mailFolders/${encodeURIComponent(orders.data.id as string)}`)).data.displayName).toBe('Orders');
  });
});

describe('mail flow', () => {
  test('a draft made with immutable ids keeps its id in Sent Items once sent; without, it gets a new one', async () => {
    const draft = await c.http.post<Json>(`${base()}/messages`, message({ subject: 'Tracked', toRecipients: recipients(REPORTS) }), {
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', prefer: 'IdType="ImmutableId"' },
    });
    expect(draft.status).toBe(201);
    expect(draft.headers['preference-applied']).toBe('IdType="ImmutableId"');
    const id = String(draft.data.id);
    expect((await post(`${base()}/messages/${encodeURIComponent(id)}/send`)).status).toBe(202);
    const [sent] = sandbox.messages(ME, 'sentitems');
    expect(sent.immutableId).toBe(id);
    const read = await get(`${base()}/messages/${encodeURIComponent(id)}`, { prefer: 'IdType="ImmutableId"' });
    expect(read.data).toMatchObject({ id, subject: 'Tracked', isDraft: false });

    const plain = await post(`${base()}/messages`, message({ subject: 'Untracked', toRecipients: recipients(REPORTS) }));
    expect(plain.headers['preference-applied']).toBeUndefined();
    await post(`${base()}/messages/${encodeURIComponent(String(plain.data.id))}/send`);
    expect(sandbox.messages(ME, 'sentitems').map((m) => m.immutableId)).not.toContain(plain.data.id);
  });

  test('a mail to a sandbox mailbox lands in its Inbox and in the sender’s Sent Items, with one internetMessageId and conversation', async () => {
    expect((await sendMail(c, token, { message: message({ subject: 'Hello Reports', toRecipients: recipients(REPORTS, 'ada@example.com') }) })).status).toBe(202);
    expect(sandbox.mail(ME)).toHaveLength(1);
    const [inbox] = sandbox.messages(REPORTS, 'inbox');
    const [sent] = sandbox.messages(ME, 'sentitems');
    expect(inbox).toMatchObject({ subject: 'Hello Reports', from: ME, isRead: false });
    expect(sent).toMatchObject({ subject: 'Hello Reports', isRead: true });
    expect(inbox.id).not.toBe(sent.id);
    expect(inbox.internetMessageId).toBe(sent.internetMessageId);
    expect(inbox.conversationId).toBe(sent.conversationId);

    const read = await get(`${base(REPORTS)}/messages/${encodeURIComponent(inbox.id)}`);
    expect(read.status).toBe(200);
    expect(read.data.receivedDateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(read.data).toMatchObject({ isDraft: false, hasAttachments: false, parentFolderId: expect.any(String), webLink: expect.stringContaining('https://') });
    expect(read.data.internetMessageHeaders).toBeUndefined();
    const selected = await get(`${base(REPORTS)}/messages/${encodeURIComponent(inbox.id)}?$select=subject,internetMessageHeaders`);
    expect(Object.keys(selected.data).sort()).toEqual(['@odata.context', '@odata.etag', 'id', 'internetMessageHeaders', 'subject']);
  });

  test('saveToSentItems false keeps no copy; a draft sent lands too', async () => {
    await sendMail(c, token, { message: message({ toRecipients: recipients(REPORTS) }), saveToSentItems: false });
    expect(sandbox.messages(ME, 'sentitems')).toHaveLength(0);
    const draft = await post(`${base()}/messages`, message({ subject: 'Draft', toRecipients: recipients(REPORTS) }));
    expect(draft.status).toBe(201);
    expect(draft.data.conversationId).toEqual(expect.any(String));
    expect((await post(`${base()}/messages/${encodeURIComponent(draft.data.id as string)}/send`)).status).toBe(202);
    const landed = sandbox.messages(REPORTS, 'inbox').find((m) => m.subject === 'Draft');
    expect(landed?.internetMessageId).toBe(draft.data.internetMessageId);
    expect(landed?.conversationId).toBe(draft.data.conversationId);
    expect(sandbox.messages(ME, 'sentitems')).toHaveLength(1);
  });

  test('an attachment uploaded through an upload session arrives with its bytes', async () => {
    const file = Buffer.alloc(3_000_000, 7);
    file.write('start', 0);
    const draft = await post(`${base()}/messages`, message({ subject: 'Big', toRecipients: recipients(REPORTS) }));
    const url = `${base()}/messages/${encodeURIComponent(draft.data.id as string)}`;
    const session = await post(`${url}/attachments/createUploadSession`, { AttachmentItem: { attachmentType: 'file', name: 'big.bin', size: file.length } });
    expect(session.status).toBe(201);
    const put = await c.http.put(session.data.uploadUrl as string, file, { headers: { 'content-range': `bytes 0-${file.length - 1}/${file.length}`, 'content-type': 'application/octet-stream' } });
    expect(put.status).toBe(201);
    expect((await post(`${url}/send`)).status).toBe(202);
    const [landed] = sandbox.messages(REPORTS, 'inbox');
    expect(landed.attachments).toEqual([expect.objectContaining({ name: 'big.bin', bytes: file.length, sha256: createHash('sha256').update(file).digest('hex') })]);
  });
});

describe('messages and the delta query', () => {
  test('pages by Prefer maxpagesize, then only changes: new, isRead, moved out and deleted (@removed), old ids changed by a move', async () => {
    for (let i = 0; i < 5; i++) sandbox.injectMail(ME, { subject: `m${i}`, from: 'shop@example.com', text: `order ${i}`, receivedDateTime: `2026-11-30T10:0${i}:00.123Z` });
    const list = await get<List>(`${base()}/mailFolders/inbox/messages?$top=2&$select=subject`);
    expect(list.data.value.map((m) => m.subject)).toEqual(['m4', 'm3']);
    expect(list.data['@odata.nextLink']).toContain('%24skip=2');

    const first = await deltaRound(`${base()}/mailFolders/inbox/messages/delta`, { prefer: 'odata.maxpagesize=2' });
    expect(first.pages).toBe(3);
    expect(first.items.map((m) => m.subject)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(first.items[0].receivedDateTime).toBe('2026-11-30T10:00:00Z');

    const idle = await get<List>(first.deltaLink);
    expect(idle.data.value).toEqual([]);
    const link = idle.data['@odata.deltaLink'] as string;

    const byId = Object.fromEntries(first.items.map((m) => [m.subject as string, m.id as string]));
    expect((await patch(`${base()}/messages/${encodeURIComponent(byId.m1)}`, { isRead: true })).data.isRead).toBe(true);
    const orders = await post(`${base()}/mailFolders/inbox/childFolders`, { displayName: 'Orders' });
    const moved = await post(`${base()}/messages/${encodeURIComponent(byId.m2)}/move`, { destinationId: orders.data.id });
    expect(moved.status).toBe(201);
    expect(moved.data.id).not.toBe(byId.m2);
    expect(moved.data.parentFolderId).toBe(orders.data.id);
    expect((await c.http.delete(`${base()}/messages/${encodeURIComponent(byId.m3)}`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(204);
    sandbox.injectMail(ME, { subject: 'm5', from: 'shop@example.com', text: 'new' });

    const changes = await deltaRound(link);
    const changed = changes.items.filter((m) => !('@removed' in m)).map((m) => [m.subject, m.isRead]);
    expect(changed).toEqual(expect.arrayContaining([['m1', true], ['m5', false]]));
    expect(changed).toHaveLength(2);
    const removed = changes.items.filter((m) => '@removed' in m);
    expect(removed).toEqual(expect.arrayContaining([
      { '@odata.type': '#microsoft.graph.message', id: byId.m2, '@removed': { reason: 'deleted' } },
      { '@odata.type': '#microsoft.graph.message', id: byId.m3, '@removed': { reason: 'deleted' } },
    ]));
    expect(removed).toHaveLength(2);

    // Soft delete: not in Deleted Items, not readable.
    expect(sandbox.messages(ME, 'deleteditems')).toHaveLength(0);
    expect((await get(`${base()}/messages/${encodeURIComponent(byId.m3)}`)).data).toMatchObject({ error: { code: 'ErrorItemNotFound' } });
    expect(sandbox.messages(ME, 'Inbox/Orders').map((m) => m.subject)).toEqual(['m2']);
  });

  test('Prefer IdType="ImmutableId" keeps an id across a move; a copy is a new item', async () => {
    const immutable = { prefer: 'IdType="ImmutableId"' };
    sandbox.injectMail(ME, { subject: 'keep', text: 'x' });
    const [m] = (await get<List>(`${base()}/mailFolders/inbox/messages`, immutable)).data.value;
    const res = await c.http.post<Json>(`${base()}/messages/${encodeURIComponent(m.id as string)}/move`, { destinationId: 'archive' }, {
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...immutable },
    });
    expect(res.status).toBe(201);
    expect(res.data.id).toBe(m.id);
    const copy = await post(`${base()}/messages/${encodeURIComponent(m.id as string)}/copy`, { destinationId: 'inbox' });
    expect(copy.status).toBe(201);
    expect(sandbox.messages(ME, 'archive')).toHaveLength(1);
    expect(sandbox.messages(ME, 'inbox')).toHaveLength(1);
  });

  test('an expired or unknown delta token answers 410 SyncStateNotFound (API and HTTP control)', async () => {
    sandbox.injectMail(ME, { subject: 'a', text: 'x' });
    const round = await deltaRound(`${base()}/mailFolders/inbox/messages/delta`);
    sandbox.expireDeltaTokens(ME);
    const gone = await get<List>(round.deltaLink);
    expect(gone.status).toBe(410);
    expect(gone.data.error?.code).toBe('SyncStateNotFound');

    const again = await deltaRound(`${base()}/mailFolders/inbox/messages/delta`);
    const expire = await c.http.post('/_sandbox/expire-delta', { mailbox: ME });
    expect(expire.status).toBe(200);
    expect((await get(again.deltaLink)).status).toBe(410);
    expect((await get(`${base()}/mailFolders/inbox/messages/delta?$deltatoken=made-up`)).status).toBe(410);
    // A deltaLink of another mailbox's token is not accepted either.
    const other = await deltaRound(`${base(REPORTS)}/mailFolders/inbox/messages/delta`);
    expect((await get(other.deltaLink)).status).toBe(200);
  });
});

describe('attachments', () => {
  test('list with contentBytes, one by id, $value bytes intact; hasAttachments false when all are inline', async () => {
    const file = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    const png = Buffer.from('89504e470d0a1a0a', 'hex');
    const injected = sandbox.injectMail(ME, {
      subject: 'order',
      html: '<p>Logo <img src="cid:logo"></p>',
      attachments: [
        { name: 'order.bin', contentType: 'application/octet-stream', contentBytes: file.toString('base64') },
        { name: 'logo.png', contentType: 'image/png', contentBytes: png.toString('base64'), isInline: true, contentId: 'logo' },
      ],
    });
    const inlineOnly = sandbox.injectMail(ME, { subject: 'inline', attachments: [{ name: 'logo.png', contentType: 'image/png', contentBytes: png.toString('base64'), isInline: true, contentId: 'logo' }] });
    expect((await get(`${base()}/messages/${encodeURIComponent(injected.id)}`)).data.hasAttachments).toBe(true);
    expect((await get(`${base()}/messages/${encodeURIComponent(inlineOnly.id)}`)).data.hasAttachments).toBe(false);

    const list = await get<List>(`${base()}/messages/${encodeURIComponent(injected.id)}/attachments`);
    expect(list.status).toBe(200);
    const [bin, logo] = list.data.value;
    expect(bin).toMatchObject({ '@odata.type': '#microsoft.graph.fileAttachment', name: 'order.bin', isInline: false, contentType: 'application/octet-stream' });
    expect(Buffer.from(bin.contentBytes as string, 'base64').equals(file)).toBe(true);
    expect(bin.size as number).toBeGreaterThan(file.length);
    expect(logo).toMatchObject({ isInline: true, contentId: 'logo' });
    // $select: metadata only (no contentBytes); contentId through the fileAttachment cast.
    const meta = await get<List>(`${base()}/messages/${encodeURIComponent(injected.id)}/attachments?$select=id,name,size,microsoft.graph.fileAttachment/contentId`);
    expect(meta.data.value[1]).toEqual({ '@odata.type': '#microsoft.graph.fileAttachment', id: logo.id, name: 'logo.png', size: logo.size, contentId: 'logo' });
    expect(meta.data.value[0].contentBytes).toBeUndefined();

    const one = await get(`${base()}/messages/${encodeURIComponent(injected.id)}/attachments/${encodeURIComponent(bin.id as string)}`);
    expect(one.data.name).toBe('order.bin');
    const raw = await c.http.get<ArrayBuffer>(`${base()}/messages/${encodeURIComponent(injected.id)}/attachments/${encodeURIComponent(bin.id as string)}/$value`, {
      headers: { authorization: `Bearer ${token}` },
      responseType: 'arraybuffer',
    });
    expect(raw.status).toBe(200);
    expect(createHash('sha256').update(Buffer.from(raw.data)).digest('hex')).toBe(createHash('sha256').update(file).digest('hex'));
    expect((await get(`${base()}/messages/${encodeURIComponent(injected.id)}/attachments/nope`)).status).toBe(404);
  });
});

describe('permissions', () => {
  test('Mail.Send only: 403 on reading; Mail.Read reads but cannot change; RBAC scope applies', async () => {
    const injected = sandbox.injectMail(ME, { subject: 'secret', text: 'x' });
    const sendOnly = await tokenFor(c, sandbox, SANDBOX.mailSendOnlyApplicationId, SANDBOX.mailSendOnlyClientSecret);
    const refused = await get(`${base()}/mailFolders/inbox/messages`, {}, sendOnly);
    expect(refused.status).toBe(403);
    expect(refused.data).toMatchObject({ error: { code: 'ErrorAccessDenied' } });
    expect((await get(`${base()}/mailFolders/inbox/messages/delta`, {}, sendOnly)).status).toBe(403);

    const other = await tokenFor(c, sandbox, SANDBOX.noMailSendApplicationId, SANDBOX.noMailSendClientSecret);
    expect((await get(`${base()}/messages/${encodeURIComponent(injected.id)}`, {}, other)).status).toBe(403);
    sandbox.setAppRoles(SANDBOX.noMailSendApplicationId, ['Mail.Read']);
    try {
      const reader = await tokenFor(c, sandbox, SANDBOX.noMailSendApplicationId, SANDBOX.noMailSendClientSecret);
      expect((await get(`${base()}/messages/${encodeURIComponent(injected.id)}`, {}, reader)).status).toBe(200);
      expect((await patch(`${base()}/messages/${encodeURIComponent(injected.id)}`, { isRead: true }, reader)).status).toBe(403);
      expect((await post(`${base()}/messages/${encodeURIComponent(injected.id)}/move`, { destinationId: 'archive' }, reader)).status).toBe(403);
      expect((await post(`${base()}/messages/${encodeURIComponent(injected.id)}/reply`, { comment: 'x' }, reader)).status).toBe(403);
      // Mail.ReadBasic.All gives no body: the sandbox refuses it outright.
      sandbox.setAppRoles(SANDBOX.noMailSendApplicationId, ['Mail.ReadBasic.All']);
      const basic = await tokenFor(c, sandbox, SANDBOX.noMailSendApplicationId, SANDBOX.noMailSendClientSecret);
      expect((await get(`${base()}/mailFolders/inbox/messages`, {}, basic)).status).toBe(403);
    } finally {
      sandbox.setAppRoles(SANDBOX.noMailSendApplicationId, ['User.Read.All']);
    }

    expect((await get(`${base(SANDBOX.outOfScopeMailbox)}/mailFolders/inbox/messages`)).status).toBe(403);
    expect((await get(`${base(SANDBOX.unlicensedMailbox)}/mailFolders/inbox`)).status).toBe(404);
  });
});

describe('reply, replyAll, forward', () => {
  /** A mail from reports@ to the sender and others, in the sender's Inbox. */
  async function incoming(extra: Partial<Parameters<Sandbox['injectMail']>[1]> = {}): Promise<string> {
    return sandbox.injectMail(ME, { from: REPORTS, to: [ME, 'bob@example.com'], cc: ['carol@example.com'], subject: 'Order 42', text: 'Please confirm.', ...extra }).id;
  }

  test('reply goes to from, in the same conversation, with RE: and a copy in Sent Items', async () => {
    const id = await incoming();
    const res = await post(`${base()}/messages/${encodeURIComponent(id)}/reply`, { comment: 'Confirmed.' });
    expect(res.status).toBe(202);
    const [mail] = sandbox.mail(ME);
    expect(mail.path).toBe('reply');
    expect(mail.message.toRecipients).toEqual([{ emailAddress: { address: REPORTS } }]);
    const [landed] = sandbox.messages(REPORTS, 'inbox');
    const original = sandbox.messages(ME, 'inbox')[0];
    expect(landed.subject).toBe('RE: Order 42');
    expect(landed.conversationId).toBe(original.conversationId);
    expect(sandbox.messages(ME, 'sentitems').map((m) => m.subject)).toEqual(['RE: Order 42']);
    const body = (await get(`${base(REPORTS)}/messages/${encodeURIComponent(landed.id)}`)).data.body as { content: string };
    expect(body.content).toContain('Confirmed.');
    expect(body.content).toContain('Please confirm.');
  });

  test('reply honours replyTo; replyAll adds the others but not the mailbox itself; only Mail.Send is needed', async () => {
    const id = await incoming({ replyTo: ['orders@example.com'] });
    const sendOnly = await tokenFor(c, sandbox, SANDBOX.mailSendOnlyApplicationId, SANDBOX.mailSendOnlyClientSecret);
    expect((await post(`${base()}/messages/${encodeURIComponent(id)}/reply`, { comment: 'ok' }, sendOnly)).status).toBe(202);
    expect(sandbox.mail(ME)[0].message.toRecipients).toEqual([{ emailAddress: { address: 'orders@example.com' } }]);
    const all = await post(`${base()}/messages/${encodeURIComponent(id)}/replyAll`, { message: { body: { contentType: 'text', content: 'all' }, toRecipients: recipients('dan@example.com') } });
    expect(all.status).toBe(202);
    const m = sandbox.mail(ME)[1].message;
    const addresses = (list: unknown): string[] => (list as { emailAddress: { address: string } }[]).map((r) => r.emailAddress.address);
    expect(addresses(m.toRecipients)).toEqual(['orders@example.com', 'bob@example.com', 'dan@example.com']);
    expect(addresses(m.ccRecipients)).toEqual(['carol@example.com']);
  });

  test('forward needs recipients and sends FW: with the attachments; comment + message.body is 400; unknown id is 404', async () => {
    const id = await incoming({ attachments: [{ name: 'a.txt', contentType: 'text/plain', contentBytes: Buffer.from('abc').toString('base64') }] });
    const url = `${base()}/messages/${encodeURIComponent(id)}`;
    expect((await post(`${url}/forward`, { comment: 'fyi' })).data).toMatchObject({ error: { code: 'ErrorInvalidRecipients' } });
    const twice = await post(`${url}/forward`, { toRecipients: recipients(REPORTS), message: { toRecipients: recipients(REPORTS) } });
    expect(twice.status).toBe(400);
    expect((await post(`${url}/createForward`, {})).status).toBe(400);
    const both = await post(`${url}/reply`, { comment: 'x', message: { body: { contentType: 'text', content: 'y' } } });
    expect(both.status).toBe(400);
    const unknown = await post(`${base()}/messages/AAMkAGI2nope/reply`, { comment: 'x' });
    expect(unknown.status).toBe(404);
    expect(unknown.data).toMatchObject({ error: { code: 'ErrorItemNotFound' } });
    expect(sandbox.mail()).toHaveLength(0);

    expect((await post(`${url}/forward`, { comment: 'fyi', toRecipients: recipients(REPORTS) })).status).toBe(202);
    const [landed] = sandbox.messages(REPORTS, 'inbox');
    expect(landed.subject).toBe('FW: Order 42');
    expect(landed.attachments.map((a) => [a.name, a.bytes])).toEqual([['a.txt', 3]]);
  });

  test('createReply makes a draft in the conversation that send delivers', async () => {
    const id = await incoming();
    const draft = await post(`${base()}/messages/${encodeURIComponent(id)}/createReply`);
    expect(draft.status).toBe(201);
    expect(draft.data).toMatchObject({ subject: 'RE: Order 42', isDraft: true, toRecipients: [{ emailAddress: { address: REPORTS } }] });
    const original = sandbox.messages(ME, 'inbox')[0];
    expect(draft.data.conversationId).toBe(original.conversationId);
    const draftUrl = `${base()}/messages/${encodeURIComponent(draft.data.id as string)}`;
    const file = Buffer.from('receipt');
    expect((await post(`${draftUrl}/attachments`, { '@odata.type': '#microsoft.graph.fileAttachment', name: 'r.txt', contentBytes: file.toString('base64') })).status).toBe(201);
    expect((await post(`${draftUrl}/send`)).status).toBe(202);
    const [landed] = sandbox.messages(REPORTS, 'inbox');
    expect(landed).toMatchObject({ subject: 'RE: Order 42', conversationId: original.conversationId, internetMessageId: draft.data.internetMessageId });
    expect(landed.attachments.map((a) => a.name)).toEqual(['r.txt']);
    const forward = await post(`${base()}/messages/${encodeURIComponent(id)}/createForward`, { message: { toRecipients: recipients('dan@example.com') } });
    expect(forward.status).toBe(201);
    expect(forward.data).toMatchObject({ subject: 'FW: Order 42', toRecipients: recipients('dan@example.com') });
  });
});

describe('controls over HTTP', () => {
  test('inject, list folders and messages; bad input is 400, unknown mailbox 404', async () => {
    const injected = await c.http.post<Json>('/_sandbox/inject', { mailbox: ME, folder: 'inbox', subject: 'via http', text: 'hi', from: 'x@example.com' });
    expect(injected.status).toBe(201);
    expect(injected.data).toMatchObject({ subject: 'via http', folder: 'inbox', isRead: false });
    const folders = await c.http.get<Json[]>(`/_sandbox/folders?mailbox=${encodeURIComponent(ME)}`);
    expect(folders.data.find((f) => f.wellKnownName === 'inbox')).toMatchObject({ totalItemCount: 1, unreadItemCount: 1 });
    const messages = await c.http.get<Json[]>(`/_sandbox/messages?mailbox=${encodeURIComponent(ME)}&folder=inbox`);
    expect(messages.data.map((m) => m.subject)).toEqual(['via http']);
    expect((await c.http.post('/_sandbox/inject', { subject: 'no mailbox' })).status).toBe(400);
    expect((await c.http.post('/_sandbox/inject', { mailbox: 'nobody@example.com' })).status).toBe(400);
    expect((await c.http.get('/_sandbox/messages?mailbox=nobody@example.com')).status).toBe(404);
    expect((await c.http.post('/_sandbox/expire-delta', { box: ME })).status).toBe(400);
    expect((await c.http.post('/_sandbox/expire-delta', { mailbox: 'nobody@example.com' })).status).toBe(404);

    // The people's page shows the sender's Inbox, escaped.
    sandbox.injectMail(ME, { subject: '<b>bold</b>', text: 'x' });
    const html = (await c.http.get<string>('/_sandbox/')).data;
    expect(html).toContain(`Inbox of ${ME}`);
    expect(html).toContain('via http');
    expect(html).toContain('&#60;b&#62;bold&#60;/b&#62;');
    expect(html).not.toContain('<b>bold</b>');
  });
});
