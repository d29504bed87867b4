/** The usage feed publishes once per burst of changes, at once on flush, and never after cancel. */
import { UsageFeed } from '../../nodes/usage-report';

describe('UsageFeed', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function feed(): { published: unknown[]; feed: UsageFeed; state: { n: number } } {
    const published: unknown[] = [];
    const state = { n: 0 };
    return { published, state, feed: new UsageFeed((d) => published.push(d), () => ({ n: state.n }), 250) };
  }

  it('coalesces a burst of changes into one message with the latest data', () => {
    const { published, feed: f, state } = feed();
    for (let i = 1; i <= 5; i++) {
      state.n = i;
      f.changed();
    }
    expect(published).toEqual([]);
    jest.runOnlyPendingTimers();
    expect(published).toEqual([{ n: 5 }]);
    state.n = 6;
    f.changed();
    jest.runOnlyPendingTimers();
    expect(published).toEqual([{ n: 5 }, { n: 6 }]);
  });

  it('flush publishes at once and drops the pending update', () => {
    const { published, feed: f, state } = feed();
    f.changed();
    state.n = 1;
    f.flush();
    expect(published).toEqual([{ n: 1 }]);
    jest.runOnlyPendingTimers();
    expect(published).toEqual([{ n: 1 }]);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('cancel leaves no timer behind', () => {
    const { published, feed: f } = feed();
    f.changed();
    f.cancel();
    expect(jest.getTimerCount()).toBe(0);
    jest.runOnlyPendingTimers();
    expect(published).toEqual([]);
  });
});
