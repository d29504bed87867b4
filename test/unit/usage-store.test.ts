/**
 * The usage store on its own, with a temp directory and a clock the test moves: atomic debounced
 * writes, reading back, the 30-day window, the failure cap, removed keys and a broken file.
 */
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MailError } from '../../nodes/lib/errors';
import { snapshotOf, UsageRecorder } from '../../nodes/lib/usage-recorder';
import { MAX_FILE_BYTES, MAX_KEYS, MAX_WRITE_DELAY_MS, RECENT_FAILURES, USAGE_DAYS, USAGE_FILE, UsageStore, WRITE_BYTES_PER_SECOND, type UsageStoreOptions } from '../../nodes/lib/usage-store';
import { repeatedRuns } from '../../nodes/usage-report';

const DAY = 24 * 60 * 60 * 1000;
const node = { id: 'e1', type: 'email-task', name: 'mail' };
const authFailure = new MailError({ category: 'auth', code: 'invalid_client', messageKey: 'tokenFailed', hintKey: 'wrongSecret', aadsts: 7000215, requestId: 'r-1' });

let dir: string;
let file: string;
let clock: { now: Date };
const warnings: Array<{ key: string; params: unknown }> = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'o365-usage-'));
  file = path.join(dir, USAGE_FILE);
  clock = { now: new Date('2026-03-10T09:14:00Z') };
  warnings.length = 0;
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function open(options: Partial<UsageStoreOptions> = {}): UsageStore {
  return new UsageStore({ file, now: () => clock.now, writeDelayMs: 5, warn: (key, params) => warnings.push({ key, params }), ...options });
}

function stored(): { keys: Record<string, Record<string, unknown>> } {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as { keys: Record<string, Record<string, unknown>> };
}

describe('UsageStore', () => {
  it('past the key cap drops the oldest key no connection uses, never one in use', () => {
    const store = open({ file: undefined });
    for (let i = 0; i < MAX_KEYS; i++) store.attach(`deployed-${i}`, { name: '', senderEmail: '' });
    store.recordSent('unused', clock.now);
    // Every key was in use: the store grew past the cap and kept them all.
    expect(store.all()).toHaveLength(MAX_KEYS + 1);
    store.recordSent('another', clock.now);
    // Now one key is not in use ('unused'): it makes room for the new one.
    expect(store.get('unused')).toBeUndefined();
    expect(store.get('deployed-0')).toBeDefined();
    expect(store.all()).toHaveLength(MAX_KEYS + 1);
  });

  it('writes once per burst of changes, after the delay, through a temp file renamed over the old one', async () => {
    const store = open();
    const renames = jest.spyOn(fs, 'renameSync');
    try {
      store.attach('k', { name: 'Alerts', senderEmail: 'alerts@contoso.com' });
      const recorder = new UsageRecorder(store, 'k');
      recorder.recordSent(clock.now);
      recorder.recordSent(clock.now);
      recorder.recordFailure(node, authFailure, clock.now);
      // Debounced: nothing on disk yet.
      expect(fs.existsSync(file)).toBe(false);
      await once(store, 'written');
      expect(renames).toHaveBeenCalledTimes(1);
      expect(renames.mock.calls[0][0]).not.toBe(file);
      expect(renames.mock.calls[0][1]).toBe(file);
      expect(fs.readdirSync(dir)).toEqual([USAGE_FILE]);
      const k = stored().keys.k;
      expect(k).toMatchObject({ key: 'k', name: 'Alerts', senderEmail: 'alerts@contoso.com', removed: false, since: clock.now.toISOString() });
      expect(k.days).toEqual([{ date: '2026-03-10', sent: 2, failed: 1, failedByCategory: { auth: 1 }, throttled: 0, retried: 0 }]);
    } finally {
      renames.mockRestore();
      store.cancel();
    }
  });

  it('waits longer before rewriting a large file: a second per WRITE_BYTES_PER_SECOND of the last write, at most MAX_WRITE_DELAY_MS', () => {
    jest.useFakeTimers();
    const store = open({ writeDelayMs: 1000 });
    try {
      const key = (i: number): string => `key-${i}-${'x'.repeat(150)}`;
      for (let i = 0; i < 1000; i++) store.attach(key(i), { name: 'n'.repeat(150), senderEmail: 'alerts@contoso.com' });
      store.flush();
      const size = fs.statSync(file).size;
      expect(size).toBeGreaterThan(2 * WRITE_BYTES_PER_SECOND);
      const wait = Math.min(MAX_WRITE_DELAY_MS, (size / WRITE_BYTES_PER_SECOND) * 1000);
      const written = jest.fn();
      store.on('written', written);
      store.recordSent(key(0), clock.now);
      // Not after the configured second…
      jest.advanceTimersByTime(1000);
      expect(written).not.toHaveBeenCalled();
      // …but once the file's own wait is over.
      jest.advanceTimersByTime(wait - 1000 + 50);
      expect(written).toHaveBeenCalledTimes(1);
    } finally {
      store.cancel();
      jest.useRealTimers();
    }
  });

  it('flush writes pending changes at once; a new store reads everything back', () => {
    const store = open({ writeDelayMs: 60_000 });
    store.attach('k', { name: 'Alerts', senderEmail: 'a@contoso.com' });
    const recorder = new UsageRecorder(store, 'k');
    recorder.recordSent(clock.now);
    recorder.recordThrottled();
    recorder.recordRetry();
    recorder.recordFailure(node, authFailure, clock.now);
    store.flush();

    const again = open();
    const snapshot = new UsageRecorder(again, 'k').snapshot(0);
    expect(snapshot).toMatchObject({ sent: 1, failed: 1, failedByCategory: { auth: 1 }, throttled: 1, retried: 1, lastSuccess: clock.now.toISOString(), lastFailure: clock.now.toISOString() });
    expect(snapshot.recentFailures).toEqual([{ time: clock.now.toISOString(), node, category: 'auth', code: 'invalid_client', messageKey: 'tokenFailed', hintKey: 'wrongSecret', params: { code: 'invalid_client', detail: '' }, aadsts: 7000215, requestId: 'r-1' }]);
    expect(again.get('k')?.since).toBe(clock.now.toISOString());
    expect(warnings).toEqual([]);
  });

  it('counts per mailbox within a key over the kept days, reads them back, and caps what it reads', () => {
    const store = open({ writeDelayMs: 60_000 });
    const recorder = new UsageRecorder(store, 'k');
    recorder.recordSent(clock.now, 'Alerts@contoso.com');
    recorder.recordSent(clock.now, 'reports@contoso.com');
    recorder.recordFailure(node, authFailure, clock.now, 'reports@contoso.com');
    // A mail refused before its sender was known counts for the key only.
    recorder.recordFailure(node, authFailure, clock.now);
    clock.now = new Date(clock.now.getTime() + DAY);
    recorder.recordSent(clock.now, 'alerts@contoso.com');
    store.flush();
    const expected = { 'alerts@contoso.com': { sent: 2, failed: 0 }, 'reports@contoso.com': { sent: 1, failed: 1 } };
    expect(recorder.snapshot(0)).toMatchObject({ sent: 3, failed: 2, mailboxes: expected });
    expect(new UsageRecorder(open(), 'k').snapshot(0).mailboxes).toEqual(expected);

    // A hand-edited file: counts that are not counts become 0, overlong addresses are dropped.
    const data = stored();
    const days = data.keys.k.days as Array<Record<string, unknown>>;
    days[0].mailboxes = { 'ok@contoso.com': { sent: 'many', failed: 2 }, ['x'.repeat(400)]: { sent: 1, failed: 0 }, 'bad@contoso.com': 'junk' };
    fs.writeFileSync(file, JSON.stringify(data));
    expect(new UsageRecorder(open(), 'k').snapshot(0).mailboxes).toEqual({ 'ok@contoso.com': { sent: 0, failed: 2 }, 'alerts@contoso.com': { sent: 1, failed: 0 } });
  });

  it('keeps counters of the last 30 days only, one entry per UTC day', () => {
    const store = open();
    const recorder = new UsageRecorder(store, 'k');
    const start = clock.now.getTime();
    for (let d = 0; d < 40; d++) {
      clock.now = new Date(start + d * DAY);
      recorder.recordSent(clock.now);
      recorder.recordSent(clock.now);
    }
    const days = store.get('k')?.days ?? [];
    expect(days).toHaveLength(USAGE_DAYS);
    expect(days[0].date).toBe(new Date(start + 10 * DAY).toISOString().slice(0, 10));
    expect(days[USAGE_DAYS - 1].date).toBe(clock.now.toISOString().slice(0, 10));
    expect(snapshotOf(store, 'k', 0).sent).toBe(2 * USAGE_DAYS);
    // Days age out as time passes, even without new records.
    clock.now = new Date(clock.now.getTime() + 5 * DAY);
    expect(store.get('k')?.days).toHaveLength(USAGE_DAYS - 5);
    store.cancel();
  });

  it('keeps the newest 50 failures, newest first', () => {
    const store = open();
    const recorder = new UsageRecorder(store, 'k');
    for (let i = 0; i < RECENT_FAILURES + 7; i++) recorder.recordFailure({ ...node, name: `n${i}` }, authFailure, new Date(clock.now.getTime() + i * 1000));
    const failures = store.get('k')?.failures ?? [];
    expect(failures).toHaveLength(RECENT_FAILURES);
    expect(failures[0].node.name).toBe(`n${RECENT_FAILURES + 6}`);
    expect(failures[RECENT_FAILURES - 1].node.name).toBe('n7');
    // Counted all the same.
    expect(snapshotOf(store, 'k', 0).failed).toBe(RECENT_FAILURES + 7);
    store.cancel();
  });

  it('marks a key no connection uses as removed, keeps it 30 days, then drops it; a new connection revives it', () => {
    const store = open();
    store.attach('old', { name: 'Old', senderEmail: '' });
    store.attach('old', { name: 'Old', senderEmail: '' });
    new UsageRecorder(store, 'old').recordSent(clock.now);
    store.detach('old');
    expect(store.get('old')?.removed).toBe(false);
    store.detach('old');
    expect(store.get('old')).toMatchObject({ removed: true, removedAt: clock.now.toISOString() });
    store.attach('old', { name: 'Old', senderEmail: '' });
    expect(store.get('old')).toMatchObject({ removed: false, removedAt: null });
    store.detach('old');
    store.flush();

    // After a restart the key is still removed and keeps its history ...
    clock.now = new Date(clock.now.getTime() + 29 * DAY);
    const later = open();
    expect(later.get('old')).toMatchObject({ removed: true });
    expect(snapshotOf(later, 'old', 0).sent).toBe(1);
    // ... until 30 days after its removal.
    clock.now = new Date(clock.now.getTime() + DAY);
    expect(later.get('old')).toBeUndefined();
    expect(later.all()).toEqual([]);
    later.cancel();
  });

  it('clear starts a deployed key afresh and drops a removed one', () => {
    const store = open();
    store.attach('live', { name: 'Live', senderEmail: 'l@contoso.com' });
    new UsageRecorder(store, 'live').recordFailure(node, authFailure, clock.now);
    new UsageRecorder(store, 'gone').recordSent(clock.now);
    store.detach('gone');
    clock.now = new Date(clock.now.getTime() + 60_000);
    expect(store.clear('live')).toBe(true);
    expect(store.get('live')).toMatchObject({ since: clock.now.toISOString(), failures: [], days: [], lastFailure: null, name: 'Live', removed: false });
    expect(store.clear('gone')).toBe(true);
    expect(store.get('gone')).toBeUndefined();
    expect(store.clear('never')).toBe(false);
    store.cancel();
  });

  it.each([
    ['not JSON', '{"format":1,"keys":{'],
    ['another format', JSON.stringify({ format: 99, keys: {} })],
    ['not an object', '[1,2,3]'],
  ])('a corrupt file (%s) starts afresh with a warning, and is replaced at the next write', (_name, content) => {
    fs.writeFileSync(file, content);
    const store = open();
    expect(store.all()).toEqual([]);
    expect(warnings).toEqual([{ key: 'corrupt', params: { file } }]);
    new UsageRecorder(store, 'k').recordSent(clock.now);
    store.flush();
    expect(Object.keys(stored().keys)).toEqual(['k']);
  });

  it('an oversized file is not read', () => {
    fs.writeFileSync(file, '');
    fs.truncateSync(file, MAX_FILE_BYTES + 1);
    const store = open();
    expect(store.all()).toEqual([]);
    expect(warnings).toEqual([{ key: 'tooLarge', params: { file, size: MAX_FILE_BYTES + 1, max: MAX_FILE_BYTES } }]);
  });

  it('checks and caps what it reads: bad entries are dropped, long texts cut, lists capped', () => {
    const failure = { time: clock.now.toISOString(), node: { id: 'e1', type: 'email-task', name: 'x'.repeat(5000) }, category: 'auth', code: 'c', messageKey: 'tokenFailed', hintKey: 'wrongSecret', params: { detail: 'd'.repeat(5000), n: 3, bad: { deep: 1 } }, status: 'not a number' };
    fs.writeFileSync(
      file,
      JSON.stringify({
        format: 1,
        keys: {
          good: {
            since: clock.now.toISOString(),
            removed: false,
            days: [...Array.from({ length: 100 }, () => ({ date: '2026-03-10', sent: 1, failed: -4, failedByCategory: { auth: 2, nonsense: 9 } })), { date: 'yesterday', sent: 5 }],
            failures: [...Array.from({ length: 500 }, () => failure), { category: 'made-up', time: clock.now.toISOString(), node: {} }],
          },
          noSince: { days: [] },
          notAnObject: 5,
        },
      }),
    );
    const store = open();
    const keys = store.all();
    expect(keys.map((k) => k.key)).toEqual(['good']);
    const good = keys[0];
    expect(good.days.length).toBeLessThanOrEqual(USAGE_DAYS);
    expect(good.days[0]).toEqual({ date: '2026-03-10', sent: 1, failed: 0, failedByCategory: { auth: 2 }, throttled: 0, retried: 0 });
    expect(good.failures).toHaveLength(RECENT_FAILURES);
    expect(good.failures[0].node.name.length).toBeLessThanOrEqual(200);
    expect(String(good.failures[0].params.detail).length).toBeLessThanOrEqual(400);
    expect(good.failures[0].params).not.toHaveProperty('bad');
    expect(good.failures[0]).not.toHaveProperty('status');
    store.cancel();
  });

  it('without a file it counts in memory and never writes', () => {
    const store = new UsageStore({ now: () => clock.now });
    const written = jest.fn();
    store.on('written', written);
    new UsageRecorder(store, 'k').recordSent(clock.now);
    store.flush();
    expect(written).not.toHaveBeenCalled();
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(snapshotOf(store, 'k', 0).sent).toBe(1);
  });

  it('a write that fails is a warning, not a crash', () => {
    fs.mkdirSync(file); // a directory where the file should be
    const store = open();
    new UsageRecorder(store, 'k').recordSent(clock.now);
    expect(() => store.flush()).not.toThrow();
    expect(warnings.map((w) => w.key)).toEqual(['readFailed', 'writeFailed']);
    expect(fs.readdirSync(dir)).toEqual([USAGE_FILE]);
  });
});

describe('repeatedRuns', () => {
  it('folds consecutive equal failures (newest first) into runs with their first and last time', () => {
    const at = (minute: number): string => new Date(Date.UTC(2026, 2, 10, 9, minute)).toISOString();
    const f = (minute: number, code: string, id = 'e1') => ({ time: at(minute), node: { ...node, id }, category: 'auth' as const, code, messageKey: 'm', hintKey: 'h', params: {} });
    const runs = repeatedRuns([f(30, 'a'), f(20, 'a'), f(14, 'a'), f(10, 'b'), f(5, 'a', 'e2'), f(4, 'a')]);
    expect(runs).toEqual([
      { index: 0, count: 3, since: at(14), last: at(30) },
      { index: 3, count: 1, since: at(10), last: at(10) },
      { index: 4, count: 1, since: at(5), last: at(5) },
      { index: 5, count: 1, since: at(4), last: at(4) },
    ]);
  });
});
