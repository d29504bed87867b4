import { renderTemplate } from '../../nodes/lib/template';
import { ConcurrencyLimiter, QueueFullError, WindowPacer } from '../../nodes/lib/limiter';

describe('renderTemplate', () => {
  it('renders msg properties without HTML escaping for plain text', () => {
    expect(renderTemplate('Order {{payload.id}} for {{payload.name}}', { payload: { id: 7, name: 'A & B' } }, undefined, false)).toBe('Order 7 for A & B');
  });

  it('escapes for HTML bodies', () => {
    expect(renderTemplate('<p>{{payload}}</p>', { payload: '<b>x</b>' }, undefined, true)).toBe('<p>&lt;b&gt;x&lt;&#x2F;b&gt;</p>');
  });

  it('reads flow, global and env like the core template node', () => {
    const lookup = (scope: string, key: string): unknown => `${scope}:${key}`;
    expect(renderTemplate('{{flow.a}} {{global.b}} {{env.C}}', {}, lookup, false)).toBe('flow:a global:b env:C');
  });

  it('reads context values afresh on every render, and msg wins over them', () => {
    let value = 'first';
    const lookup = (): unknown => value;
    expect(renderTemplate('{{flow.n}}', {}, lookup, false)).toBe('first');
    value = 'second';
    expect(renderTemplate('{{flow.n}}', {}, lookup, false)).toBe('second');
    expect(renderTemplate('{{flow}}', { flow: 'from msg' }, lookup, false)).toBe('from msg');
  });
});

describe('ConcurrencyLimiter', () => {
  it('runs at most `limit` tasks at once, in FIFO order, and refuses beyond the queue', async () => {
    const limiter = new ConcurrencyLimiter(2, 2);
    const started: number[] = [];
    const releases: Array<() => void> = [];
    const task = (n: number) => () =>
      new Promise<number>((resolve) => {
        started.push(n);
        releases.push(() => resolve(n));
      });
    const runs = [1, 2, 3, 4].map((n) => limiter.run(task(n)));
    await expect(limiter.run(task(5))).rejects.toBeInstanceOf(QueueFullError);
    await Promise.resolve();
    expect(started).toEqual([1, 2]);
    expect(limiter.inFlight).toBe(2);
    releases.shift()?.();
    await runs[0];
    await new Promise(setImmediate);
    expect(started).toEqual([1, 2, 3]);
    releases.splice(0).forEach((r) => r());
    await new Promise(setImmediate);
    releases.splice(0).forEach((r) => r());
    await expect(Promise.all(runs)).resolves.toEqual([1, 2, 3, 4]);
    expect(limiter.inFlight).toBe(0);
  });

  it('cancels queued tasks and keeps serving new ones', async () => {
    const limiter = new ConcurrencyLimiter(1, 5);
    let release = (): void => undefined;
    const first = limiter.run(() => new Promise<string>((resolve) => (release = () => resolve('first'))));
    const queued = [limiter.run(async () => 'a'), limiter.run(async () => 'b')];
    limiter.cancelQueued(new Error('cancelled'));
    await expect(Promise.allSettled(queued)).resolves.toEqual([
      { status: 'rejected', reason: new Error('cancelled') },
      { status: 'rejected', reason: new Error('cancelled') },
    ]);
    release();
    await expect(first).resolves.toBe('first');
    await expect(limiter.run(async () => 'after')).resolves.toBe('after');
    expect(limiter.inFlight).toBe(0);
  });

  it('unpaced runs (the mail-in reads) take a slot but not the pacing budget of mails', async () => {
    let now = 0;
    const limiter = new ConcurrencyLimiter(4, Infinity, new WindowPacer(() => 1), () => now);
    await expect(limiter.run(async () => 'mail 1')).resolves.toBe('mail 1');
    // The pacer allows one mail per minute: reads still start at once, as many as there are slots.
    await expect(Promise.all([1, 2, 3].map((n) => limiter.run(async () => `read ${n}`, undefined, undefined, false)))).resolves.toEqual(['read 1', 'read 2', 'read 3']);
    // A second mail waits for the window to move on.
    const mail = limiter.run(async () => 'mail 2');
    expect(limiter.queued).toBe(1);
    // A read asked for meanwhile goes past it: the pacer holds mails only.
    await expect(limiter.run(async () => 'read 4', undefined, undefined, false)).resolves.toBe('read 4');
    expect(limiter.queued).toBe(1);
    now = 60_001;
    limiter.dispatch();
    await expect(mail).resolves.toBe('mail 2');
    expect(limiter.inFlight).toBe(0);
  });
});
