/** routeOf / senderOf on their own: which mailbox a message goes out from, and what is refused. */
import { MailError } from '../../nodes/lib/errors';
import { routeOf, senderOf } from '../../nodes/lib/route';

const open = { senderEmail: 'Alerts@contoso.com', allowedMailboxes: [] as string[] };
const listed = { senderEmail: 'Alerts@contoso.com', allowedMailboxes: ['orders@contoso.com'] };

function refusal(run: () => unknown): MailError {
  try {
    run();
  } catch (err) {
    if (err instanceof MailError) return err;
    throw err;
  }
  throw new Error('not refused');
}

describe('senderOf', () => {
  it('ignores From without allowedMailboxes, whatever it holds', () => {
    for (const from of ['ceo@contoso.com', { address: 'x@y.z' }, 42, 'a'.repeat(100_000)]) expect(senderOf(open, from)).toBe('Alerts@contoso.com');
  });

  it('takes the sender or a listed mailbox, display-name forms and any case', () => {
    expect(senderOf(listed, undefined)).toBe('Alerts@contoso.com');
    expect(senderOf(listed, '')).toBe('Alerts@contoso.com');
    expect(senderOf(listed, 'Orders <ORDERS@contoso.com>')).toBe('orders@contoso.com');
    expect(senderOf(listed, [{ address: 'alerts@contoso.com', name: 'A' }])).toBe('Alerts@contoso.com');
  });

  it('refuses anything else with validation naming the address', () => {
    const outside = refusal(() => senderOf(listed, 'Boss <ceo@contoso.com>'));
    expect(outside).toMatchObject({ category: 'validation', code: 'SenderNotAllowed', params: expect.objectContaining({ value: 'ceo@contoso.com' }) });
    expect(refusal(() => senderOf(listed, 'orders@contoso.com, alerts@contoso.com'))).toMatchObject({ code: 'InvalidSender' });
    expect(refusal(() => senderOf(listed, 'not an address')).category).toBe('validation');
  });
});

describe('routeOf', () => {
  it('a new mail goes out from the sender chosen', () => {
    expect(routeOf(listed, 'send', { from: 'orders@contoso.com', messageId: 'ignored' })).toEqual({ mailbox: 'orders@contoso.com', action: 'send' });
  });

  it('an answer is made in the mailbox holding the message, which must be permitted; From is then not read', () => {
    expect(routeOf(listed, 'reply', { messageId: ' AAMk= ', mail: { mailbox: 'ORDERS@contoso.com' }, from: 'outsider@example.com' })).toEqual({ mailbox: 'orders@contoso.com', action: 'reply', messageId: 'AAMk=' });
    expect(routeOf(open, 'forward', { messageId: 'AAMk=' })).toEqual({ mailbox: 'Alerts@contoso.com', action: 'forward', messageId: 'AAMk=' });
    expect(refusal(() => routeOf(open, 'reply', { messageId: 'AAMk=', mail: { mailbox: 'orders@contoso.com' } }))).toMatchObject({ code: 'MailboxNotAllowed' });
  });

  it('an answer without a usable message id is refused, never sent as a new mail', () => {
    for (const messageId of [undefined, '', '  ', 42]) expect(refusal(() => routeOf(open, 'replyAll', { messageId })).code).toBe('MissingMessageId');
    expect(refusal(() => routeOf(open, 'reply', { messageId: 'x'.repeat(5000) })).code).toBe('InvalidMessageId');
  });
});
