/**
 * The runtime registry's per-mailbox limits as pure units: reference counting, the strictest guard,
 * pacing (fake clock: the limiter and pacer are pure), the rolling 24 h recipient budget.
 */
import { MailboxRegistry, RECIPIENT_WINDOW_MS, RecipientLog, RefCounted, mailboxKey, type MailboxIdentity } from '../../nodes/lib/registry';

const id = (overrides: Partial<MailboxIdentity> = {}): MailboxIdentity => ({
  cloud: 'global',
  graphUrl: 'https://graph.microsoft.com',
  tenantId: 'contoso.onmicrosoft.com',
  applicationId: '0b7e5a3c-2d91-4f6e-8a4b-1c9d7e2f6a30',
  mailbox: 'alerts@contoso.com',
  ...overrides,
});

afterEach(() => {
  jest.useRealTimers();
});

describe('RefCounted', () => {
  it('shares one value per key, disposes it with the last release, and ignores a second release', () => {
    const disposed: string[] = [];
    const table = new RefCounted((key) => ({ key }), (_v, key) => disposed.push(key));
    const a = table.acquire('k');
    const b = table.acquire('k');
    expect(a.value).toBe(b.value);
    a.release();
    a.release();
    expect(table.size).toBe(1);
    expect(disposed).toEqual([]);
    b.release();
    expect(table.size).toBe(0);
    expect(disposed).toEqual(['k']);
    // A new user after that gets a new value.
    expect(table.acquire('k').value).not.toBe(a.value);
  });
});

describe('MailboxRegistry', () => {
  it('one entry per cloud, tenant, app and mailbox (mailbox case does not matter)', () => {
    const registry = new MailboxRegistry();
    const a = registry.acquire(id());
    const b = registry.acquire(id({ mailbox: 'Alerts@Contoso.com' }));
    const otherApp = registry.acquire(id({ applicationId: 'c3d9e7f2-1a4b-4e8c-9f05-7b6a2d1c8e94' }));
    const otherMailbox = registry.acquire(id({ mailbox: 'reports@contoso.com' }));
    expect(a.limits).toBe(b.limits);
    expect(otherApp.limits).not.toBe(a.limits);
    expect(otherMailbox.limits).not.toBe(a.limits);
    expect(registry.size).toBe(3);
    expect(mailboxKey(id())).toBe(mailboxKey(id({ mailbox: 'ALERTS@contoso.com' })));
    for (const lease of [a, b, otherApp, otherMailbox]) lease.release();
    expect(registry.size).toBe(0);
    expect(registry.recipientLogs).toBe(0);
  });

  it('the strictest guard of the connections using a mailbox holds, and a looser one returns when it leaves', () => {
    const registry = new MailboxRegistry();
    const loose = registry.acquire(id(), { maxMailsPerMinute: 30, maxRecipientsPerDay: 9000 });
    const strict = registry.acquire(id(), { maxMailsPerMinute: 5 });
    const off = registry.acquire(id());
    expect(loose.limits.maxMailsPerMinute).toBe(5);
    expect(loose.limits.maxRecipientsPerDay).toBe(9000);
    strict.release();
    expect(loose.limits.maxMailsPerMinute).toBe(30);
    loose.release();
    expect(off.limits.maxMailsPerMinute).toBeUndefined();
    expect(off.limits.maxRecipientsPerDay).toBeUndefined();
    off.release();
  });

  it("a 429 pause is the mailbox's, seen by every connection using it", () => {
    const registry = new MailboxRegistry();
    const a = registry.acquire(id());
    const b = registry.acquire(id());
    a.limits.pause(5000);
    a.limits.pause(1000);
    expect(b.limits.pausedUntil).toBe(5000);
    a.release();
    b.release();
  });

  it('repeated acquire and release (redeploys) leaves no entry and no timer behind', async () => {
    jest.useFakeTimers();
    const registry = new MailboxRegistry();
    for (let deploy = 0; deploy < 20; deploy++) {
      const leases = [registry.acquire(id(), { maxMailsPerMinute: 1 }), registry.acquire(id({ mailbox: `box${deploy}@contoso.com` }))];
      // Pacing holds the second task behind a timer; closing cancels it.
      const controller = new AbortController();
      await leases[0].limits.limiter.run(async () => undefined);
      const held = leases[0].limits.limiter.run(async () => undefined, [controller.signal]);
      expect(jest.getTimerCount()).toBe(1);
      controller.abort();
      await expect(held).rejects.toThrow('cancelled');
      for (const lease of leases) lease.release();
    }
    expect(registry.size).toBe(0);
    expect(registry.recipientLogs).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe('pacing (maxMailsPerMinute)', () => {
  it('holds queued tasks to the rate, in order, and never refuses them', async () => {
    jest.useFakeTimers({ now: 0 });
    const registry = new MailboxRegistry();
    const lease = registry.acquire(id(), { maxMailsPerMinute: 2 });
    const started: number[] = [];
    const runs = [0, 1, 2, 3, 4].map((n) => lease.limits.limiter.run(async () => void started.push(n)));
    await jest.advanceTimersByTimeAsync(0);
    expect(started).toEqual([0, 1]);
    expect(lease.limits.limiter.queued).toBe(3);
    await jest.advanceTimersByTimeAsync(59_999);
    expect(started).toEqual([0, 1]);
    await jest.advanceTimersByTimeAsync(1);
    expect(started).toEqual([0, 1, 2, 3]);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    await Promise.all(runs);
    expect(jest.getTimerCount()).toBe(0);
    lease.release();
  });

  it('a stricter connection joining slows the mailbox down; its leaving lets held mail go at once', async () => {
    jest.useFakeTimers({ now: 0 });
    const registry = new MailboxRegistry();
    const loose = registry.acquire(id(), { maxMailsPerMinute: 10 });
    const strict = registry.acquire(id(), { maxMailsPerMinute: 1 });
    const started: number[] = [];
    const runs = [0, 1, 2].map((n) => loose.limits.limiter.run(async () => void started.push(n)));
    await jest.advanceTimersByTimeAsync(0);
    expect(started).toEqual([0]);
    strict.release();
    await jest.advanceTimersByTimeAsync(0);
    expect(started).toEqual([0, 1, 2]);
    await Promise.all(runs);
    loose.release();
  });
});

describe('recipient budget (maxRecipientsPerDay)', () => {
  it('counts recipients over a rolling 24 h, refuses past the budget with the time room frees up, refunds on request', () => {
    let now = 1_000_000;
    const log = new RecipientLog(() => now);
    const first = log.reserve(6, 10);
    expect(first.ok).toBe(true);
    now += 1000;
    expect(log.reserve(3, 10).ok).toBe(true);
    const refused = log.reserve(2, 10);
    // Both in one minute: they leave the window together, 24 h after the later one.
    expect(refused).toEqual({ ok: false, used: 9, max: 10, count: 2, freesAt: 1_001_000 + RECIPIENT_WINDOW_MS });
    // A mail larger than the whole budget never fits.
    expect(log.reserve(11, 10)).toMatchObject({ ok: false, freesAt: undefined });
    if (first.ok) first.refund();
    expect(log.total()).toBe(3);
    expect(log.reserve(2, 10).ok).toBe(true);
    now += RECIPIENT_WINDOW_MS;
    expect(log.total()).toBe(0);
    // No budget set: counted, never refused.
    expect(log.reserve(50_000, undefined).ok).toBe(true);
  });

  it('holds a minute per entry, not a mail: a day of 100,000 mails keeps at most 1,440 entries and the exact count', () => {
    let now = 0;
    const log = new RecipientLog(() => now);
    const step = RECIPIENT_WINDOW_MS / 100_000;
    let refused = 0;
    for (let i = 0; i < 100_000; i++) {
      if (!log.reserve(2, undefined).ok) refused++;
      now += step;
    }
    expect(refused).toBe(0);
    expect(log.size).toBeLessThanOrEqual(1440);
    now -= step;
    expect(log.total()).toBe(200_000);
    // Two minutes on, the first minute or two have left the window, nothing more.
    now += 2 * 60_000;
    const perMinute = 2 * Math.ceil(60_000 / step);
    expect(log.total()).toBeLessThan(200_000);
    expect(log.total()).toBeGreaterThanOrEqual(200_000 - 3 * perMinute);
    now += RECIPIENT_WINDOW_MS;
    expect(log.total()).toBe(0);
    expect(log.size).toBe(0);
  });

  it('a refund gives back only its own recipients, also when its minute holds others', () => {
    let now = 0;
    const log = new RecipientLog(() => now);
    const a = log.reserve(3, 10);
    now += 1000;
    const b = log.reserve(4, 10);
    if (!a.ok || !b.ok) throw new Error('expected room');
    a.refund();
    a.refund();
    expect(log.total()).toBe(4);
    // Refunded after its minute left the window: nothing more to give back.
    now += RECIPIENT_WINDOW_MS;
    b.refund();
    expect(log.total()).toBe(0);
    expect(log.reserve(10, 10).ok).toBe(true);
  });

  it('the budget of a mailbox survives its last connection closing (a redeploy), and is dropped once empty', () => {
    let now = 0;
    const registry = new MailboxRegistry(() => now);
    const before = registry.acquire(id(), { maxRecipientsPerDay: 5 });
    expect(before.limits.reserveRecipients(4).ok).toBe(true);
    before.release();
    expect(registry.size).toBe(0);
    expect(registry.recipientLogs).toBe(1);
    const after = registry.acquire(id({ mailbox: 'ALERTS@contoso.com' }), { maxRecipientsPerDay: 5 });
    expect(after.limits.reserveRecipients(2)).toMatchObject({ ok: false, used: 4 });
    after.release();
    now += RECIPIENT_WINDOW_MS;
    expect(registry.recipientLogs).toBe(0);
  });
});
