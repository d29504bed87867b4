/** The event loop's worst stall while a piece of work runs, measured as Node measures it. */
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Runs `work` and reports its result with the longest event-loop delay seen meanwhile, in ms. */
export async function worstStall<T>(work: () => Promise<T>): Promise<{ result: T; maxLagMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  try {
    const result = await work();
    // One more turn so a stall at the very end is sampled too.
    await new Promise((resolve) => setTimeout(resolve, 20));
    return { result, maxLagMs: histogram.max / 1e6 };
  } finally {
    histogram.disable();
  }
}
