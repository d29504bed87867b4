/** The mail-in node's pure parts: the e-mail in mapping, HTML to text, settings, the cursor rules. */
import { htmlToText, refersToInline, toMailInMessage, type GraphMessage } from '../../nodes/lib/mail-in-message';
import { EMITTED_MAX, parseCursor, remember, secondAfter, wasEmitted, type Cursor } from '../../nodes/lib/mail-in-cursor';
import { MAIL_IN_DEFAULTS, MailInWatcher, forReading, readMailInSettings } from '../../nodes/lib/mail-in';
import type { GraphClient } from '../../nodes/lib/graph';
import type { TokenProvider } from '../../nodes/lib/token';
import type { CursorStore } from '../../nodes/lib/mail-in-cursor';
import { MailboxLimits, RecipientLog } from '../../nodes/lib/registry';
import { MailError, graphError } from '../../nodes/lib/errors';
import { HTML_TO_TEXT_SHAPES } from '../support/hostile-shapes';

const connection = { senderEmail: 'Alerts@contoso.com', allowedMailboxes: ['orders@contoso.com'] };
const ctx = { mailbox: 'alerts@contoso.com', folder: 'Inbox' };

describe('toMailInMessage', () => {
  const graph: GraphMessage = {
    id: 'AAkA1',
    subject: 'Order 42',
    body: { contentType: 'html', content: '<html><head><style>p{color:red}</style></head><body><p>Hello&nbsp;<b>Ada</b> &amp; co</p><div>line 2<br>line 3</div></body></html>' },
    from: { emailAddress: { address: 'ada@example.com', name: 'Ada' } },
    toRecipients: [{ emailAddress: { address: 'alerts@contoso.com' } }, { emailAddress: { address: 'team@contoso.com', name: 'Team' } }],
    ccRecipients: [],
    receivedDateTime: '2026-12-01T07:30:05Z',
    sentDateTime: '2026-12-01T07:30:01Z',
    isRead: false,
    hasAttachments: true,
    internetMessageId: '<x@example.com>',
    conversationId: 'conv',
    webLink: 'https://outlook.office365.com/owa/?ItemID=1',
  };

  it('gives node-red-node-email e-mail in fields and msg.mail', () => {
    const msg = toMailInMessage(graph, [], ctx);
    expect(msg).toEqual({
      topic: 'Order 42',
      payload: 'Hello Ada & co\n\nline 2\nline 3',
      html: graph.body?.content,
      from: 'ada@example.com',
      to: 'alerts@contoso.com, team@contoso.com',
      date: new Date('2026-12-01T07:30:01Z'),
      attachments: [],
      mail: {
        id: 'AAkA1',
        internetMessageId: '<x@example.com>',
        conversationId: 'conv',
        mailbox: 'alerts@contoso.com',
        folder: 'Inbox',
        receivedDateTime: '2026-12-01T07:30:05Z',
        isRead: false,
        from: { address: 'ada@example.com', name: 'Ada' },
        to: [{ address: 'alerts@contoso.com', name: '' }, { address: 'team@contoso.com', name: 'Team' }],
        cc: [],
        hasAttachments: true,
        webLink: 'https://outlook.office365.com/owa/?ItemID=1',
      },
    });
    expect('cc' in msg).toBe(false);
  });

  it('keeps a text body as it is, without msg.html, and survives missing fields', () => {
    const msg = toMailInMessage({ id: 'x', body: { contentType: 'text', content: 'a <b> c' } }, [], ctx);
    expect(msg).toMatchObject({ topic: '', payload: 'a <b> c', from: '', attachments: [] });
    expect(msg.html).toBeUndefined();
    expect(msg.date).toEqual(new Date(0));
  });

  it('sees inline images in HTML', () => {
    expect(refersToInline({ id: 'x', body: { contentType: 'html', content: '<img src="cid:logo">' } })).toBe(true);
    expect(refersToInline({ id: 'x', body: { contentType: 'text', content: 'cid:logo' } })).toBe(false);
  });
});

describe('htmlToText', () => {
  it('decodes entities and drops scripts', () => {
    expect(htmlToText('<script>alert(1)</script>x &lt;y&gt; &#233;&#x41;')).toBe('x <y> éA');
  });

  // How fast: npm run bench:hostile times the same shapes.
  it.each(HTML_TO_TEXT_SHAPES)('reads %s: nothing after an unclosed tag, lone entity openings kept as they are', (_name, make) => {
    const body = make();
    expect(htmlToText(body)).toBe(body.includes('<') ? '' : body);
  });
});

describe('readMailInSettings', () => {
  it('applies the documented defaults', () => {
    expect(readMailInSettings({}, connection)).toEqual({
      mailbox: 'Alerts@contoso.com',
      folder: 'Inbox',
      pollIntervalMs: 60_000,
      onlyUnread: true,
      attachments: 'content',
      maxAttachmentBytes: 25 * 1024 * 1024,
      afterRead: 'markRead',
      moveTo: '',
      start: 'new',
    });
    expect(MAIL_IN_DEFAULTS).toMatchObject({ folder: 'Inbox', pollInterval: 60, start: 'new' });
  });

  it('refuses a mailbox outside senderEmail and allowedMailboxes, a poll under 10 s, move without a folder', () => {
    expect(readMailInSettings({ mailbox: 'ORDERS@contoso.com' }, connection).mailbox).toBe('orders@contoso.com');
    const refused = (config: Record<string, unknown>): string => {
      try {
        readMailInSettings(config, connection);
        return 'accepted';
      } catch (err) {
        return (err as MailError).code;
      }
    };
    expect(refused({ mailbox: 'ceo@contoso.com' })).toBe('MailboxNotAllowed');
    expect(refused({ pollInterval: 9 })).toBe('InvalidPollInterval');
    expect(refused({ afterRead: 'move' })).toBe('MoveToMissing');
    expect(refused({ attachments: 'all' })).toBe('InvalidChoice');
    expect(refused({ folder: 'a/'.repeat(20) })).toBe('InvalidFolder');
    expect(refused({ onlyUnread: false, pollInterval: '10', afterRead: 'move', moveTo: 'Archive' })).toBe('accepted');
  });
});

describe('the cursor', () => {
  const key = { connectionKey: 'k', mailbox: 'a@b.c', folder: 'Inbox' };

  it('reads back only its own, well-formed file', () => {
    const saved = { format: 1, ...key, deltaLink: 'https://graph/x', floor: '2026-01-01T00:00:00Z', emitted: [{ id: '1', received: 'r' }, { id: 2 }] };
    expect(parseCursor(saved, key)).toEqual({ deltaLink: 'https://graph/x', floor: '2026-01-01T00:00:00Z', emitted: [{ id: '1', received: 'r' }] });
    expect(parseCursor({ ...saved, folder: 'Archive' }, key)).toEqual({ emitted: [] });
    expect(parseCursor('junk', key)).toEqual({ emitted: [] });
  });

  it('forgets the oldest past the cap and raises the floor past them', () => {
    const cursor: Cursor = { emitted: [] };
    for (let i = 0; i <= EMITTED_MAX; i++) remember(cursor, { id: String(i), received: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString().slice(0, 19) + 'Z' });
    expect(cursor.emitted).toHaveLength(EMITTED_MAX);
    expect(cursor.emitted[0].id).toBe('1');
    expect(cursor.floor).toBe('2026-01-01T00:00:01Z');
    expect(secondAfter('2026-01-01T00:00:59Z')).toBe('2026-01-01T00:01:00Z');
    expect(wasEmitted(cursor, '0')).toBe(false);
    expect(wasEmitted(cursor, '1')).toBe(true);
    expect(wasEmitted(cursor, String(EMITTED_MAX))).toBe(true);
  });

  it('keeps mail that comes out of order in receipt order, so the oldest is the one forgotten', () => {
    const cursor = parseCursor({ format: 1, ...key, emitted: [{ id: 'b', received: '2026-01-01T00:00:02Z' }, { id: 'a', received: '2026-01-01T00:00:01Z' }] }, key);
    expect(cursor.emitted.map((e) => e.id)).toEqual(['a', 'b']);
    remember(cursor, { id: 'c', received: '2026-01-01T00:00:00Z' });
    remember(cursor, { id: 'd', received: '2026-01-01T00:00:03Z' });
    expect(cursor.emitted.map((e) => e.id)).toEqual(['c', 'a', 'b', 'd']);
    expect(['a', 'b', 'c', 'd'].every((id) => wasEmitted(cursor, id))).toBe(true);
    expect(wasEmitted(cursor, 'e')).toBe(false);
  });
});

describe('forReading', () => {
  it('words a Graph refusal for reading', () => {
    const denied = forReading(graphError({ status: 403, graphCode: 'ErrorAccessDenied' }, []));
    expect(denied).toMatchObject({ category: 'permission', messageKey: 'graphRefusedRead', hintKey: 'readAccessDenied' });
    const network = new MailError({ category: 'network', code: 'ECONNREFUSED', messageKey: 'networkFailed', hintKey: 'network' });
    expect(forReading(network)).toBe(network);
  });
});

describe('the poll schedule', () => {
  afterEach(() => jest.useRealTimers());

  it("polls on the clock's grid of the interval, at least half an interval after the last poll", async () => {
    jest.useFakeTimers({ now: Date.parse('2026-12-01T12:00:07.000Z') });
    const polls: string[] = [];
    // Pure unit: Graph answers with the folder's id and then empty delta pages.
    const graph = {
      isOwnLink: () => true,
      read: async ({ url }: { url: string }) => {
        // The folder's id first (once), then a delta request per poll.
        if (!url.includes('delta')) return { status: 200, data: { id: 'inbox-id' }, requestId: '', clientRequestId: '' };
        polls.push(new Date().toISOString().slice(11, 19));
        return { status: 200, data: { value: [], '@odata.deltaLink': 'https://graph.example/v1.0/delta?$deltatoken=x' }, requestId: '', clientRequestId: '' };
      },
    } as unknown as GraphClient;
    const tokens = { getToken: async () => ({ token: 't', expiresOn: new Date(Date.now() + 3600_000) }) } as unknown as TokenProvider;
    const cursor: Cursor = { emitted: [] };
    const cursors = { load: async () => cursor, save: async () => undefined } as unknown as CursorStore;
    const settings = readMailInSettings({ pollInterval: 10, start: 'all' }, connection);
    const watcher = new MailInWatcher(settings, { graph, tokens, limits: new MailboxLimits(new RecipientLog()), cursors }, { emit: () => undefined, event: () => undefined });
    await watcher.pollNow();
    expect(polls).toEqual(['12:00:07']);
    // 12:00:10 is under half an interval away: the next grid point, 12:00:20.
    await jest.advanceTimersByTimeAsync(12_999);
    expect(polls).toEqual(['12:00:07']);
    await jest.advanceTimersByTimeAsync(1);
    expect(polls).toEqual(['12:00:07', '12:00:20']);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(polls).toEqual(['12:00:07', '12:00:20', '12:00:30']);
    await watcher.close();
  });
});
