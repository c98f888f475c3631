import { setImmediate as nextTurn } from 'node:timers/promises';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { forEachBounded, withRetries } from '../../src/pipeline/retry.js';

/** A promise the test settles by hand. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void } {
  let resolve: () => void = () => undefined;
  let reject: (err: unknown) => void = () => undefined;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Items whose work waits until the test finishes it; records starts and concurrency. */
function manualWork(): {
  work: (item: number) => Promise<void>;
  started: number[];
  finish: (item: number, error?: unknown) => void;
  inFlight: () => number;
} {
  const pending = new Map<number, ReturnType<typeof deferred>>();
  const started: number[] = [];
  return {
    started,
    work: (item) => {
      const d = deferred();
      pending.set(item, d);
      started.push(item);
      return d.promise.finally(() => pending.delete(item));
    },
    finish: (item, error) => {
      const d = pending.get(item);
      if (d === undefined) throw new Error(`item ${item} is not running`);
      if (error === undefined) d.resolve();
      else d.reject(error);
    },
    inFlight: () => pending.size,
  };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await nextTurn();
}

describe('forEachBounded', () => {
  it('never has more than `concurrency` items in flight, and runs every item once (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 1, max: 8 }),
        fc.scheduler(),
        async (count, concurrency, s) => {
          const items = Array.from({ length: count }, (_, i) => i);
          let inFlight = 0;
          let peak = 0;
          const done: number[] = [];
          const run = forEachBounded(items, concurrency, async (item) => {
            inFlight++;
            peak = Math.max(peak, inFlight);
            await s.schedule(Promise.resolve(), `item ${item}`); // fast-check picks the order items finish in
            inFlight--;
            done.push(item);
          });
          await s.waitFor(run);
          expect(peak).toBeLessThanOrEqual(concurrency);
          expect(peak).toBe(Math.min(concurrency, count));
          expect([...done].sort((a, b) => a - b)).toEqual(items);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('starts items in order and keeps every lane busy', async () => {
    const m = manualWork();
    const run = forEachBounded([0, 1, 2, 3, 4], 2, m.work);
    expect(m.started).toEqual([0, 1]);
    m.finish(1);
    await settle();
    expect(m.started).toEqual([0, 1, 2]);
    m.finish(0);
    m.finish(2);
    await settle();
    expect(m.started).toEqual([0, 1, 2, 3, 4]);
    m.finish(3);
    m.finish(4);
    await run;
  });

  it('stops starting items after the first failure, lets running items settle, then rethrows that failure', async () => {
    const m = manualWork();
    let settled = false;
    const run = forEachBounded([0, 1, 2, 3, 4, 5], 3, m.work).finally(() => {
      settled = true;
    });
    run.catch(() => undefined);
    expect(m.started).toEqual([0, 1, 2]);
    const first = new Error('range 1 failed');
    m.finish(1, first);
    await settle();
    expect(m.started).toEqual([0, 1, 2]); // nothing new after the failure
    expect(settled).toBe(false); // items 0 and 2 are still running
    m.finish(2, new Error('range 2 failed too'));
    await settle();
    expect(settled).toBe(false);
    m.finish(0);
    await expect(run).rejects.toBe(first);
    expect(m.started).toEqual([0, 1, 2]);
  });

  it('stops starting items once the signal aborts, lets running items settle, and throws the reason', async () => {
    const m = manualWork();
    const controller = new AbortController();
    const run = forEachBounded([0, 1, 2, 3, 4], 2, m.work, controller.signal);
    run.catch(() => undefined);
    const reason = new Error('interrupted by SIGINT');
    controller.abort(reason);
    m.finish(0);
    await settle();
    expect(m.started).toEqual([0, 1]);
    expect(m.inFlight()).toBe(1);
    m.finish(1);
    await expect(run).rejects.toBe(reason);
  });

  it('throws the abort reason even when the last item finished as the signal aborted', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const run = forEachBounded([0], 4, async () => {
      controller.abort(reason);
    }, controller.signal);
    await expect(run).rejects.toBe(reason);
  });

  it('starts nothing when the signal has already aborted', async () => {
    const reason = new Error('stop');
    const work = vi.fn(async () => undefined);
    await expect(forEachBounded([0, 1], 2, work, AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(work).not.toHaveBeenCalled();
  });

  it('handles no items, and a concurrency below one as one', async () => {
    await forEachBounded([], 4, () => Promise.reject(new Error('never')));
    const m = manualWork();
    const run = forEachBounded([0, 1], 0, m.work);
    expect(m.started).toEqual([0]);
    m.finish(0);
    await settle();
    m.finish(1);
    await run;
  });
});

describe('withRetries', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const retryable = (): boolean => true;

  it('returns the first success, passing the attempt number', async () => {
    const seen: number[] = [];
    const result = await withRetries(async (attempt) => {
      seen.push(attempt);
      if (attempt < 3) throw new Error(`fail ${attempt}`);
      return 'ok';
    }, { retryForMs: 60_000, attempts: 5, baseDelayMs: 0, maxDelayMs: 0, isRetryable: retryable });
    expect(result).toBe('ok');
    expect(seen).toEqual([1, 2, 3]);
  });

  it('throws a non-retryable error at once', async () => {
    const fatal = new Error('fatal');
    const work = vi.fn(async () => {
      throw fatal;
    });
    await expect(withRetries(work, { retryForMs: 60_000, attempts: 5, baseDelayMs: 0, maxDelayMs: 0, isRetryable: (e) => e !== fatal })).rejects.toBe(fatal);
    expect(work).toHaveBeenCalledTimes(1);
  });

  it.each([
    ['the smallest jitter', 0],
    ['the largest jitter', 1 - Number.EPSILON],
  ])('keeps every delay within [ceiling/2, ceiling] with %s, the ceiling doubling up to maxDelayMs', async (_what, random) => {
    vi.spyOn(Math, 'random').mockReturnValue(random);
    const delays: [number, number][] = [];
    await expect(withRetries(async (attempt) => {
      throw new Error(`fail ${attempt}`);
    }, { retryForMs: 60_000, attempts: 6, baseDelayMs: 1, maxDelayMs: 8, isRetryable: retryable, onRetry: ({ attempt, delayMs }) => delays.push([attempt, delayMs]) })).rejects.toThrow('fail 6');
    const ceilings = [1, 2, 4, 8, 8];
    expect(delays.map(([n]) => n)).toEqual([1, 2, 3, 4, 5]);
    delays.forEach(([, ms], i) => {
      const ceiling = ceilings[i] as number;
      expect(ms).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
      expect(ms).toBeLessThanOrEqual(ceiling);
    });
    expect(delays.map(([, ms]) => ms)).toEqual(random === 0 ? [1, 1, 2, 4, 4] : [1, 2, 4, 8, 8]);
  });

  it('does not retry once the signal has aborted', async () => {
    const controller = new AbortController();
    const work = vi.fn(async () => {
      controller.abort();
      throw new Error('failed while stopping');
    });
    await expect(withRetries(work, { retryForMs: 60_000, attempts: 5, baseDelayMs: 0, maxDelayMs: 0, isRetryable: retryable, signal: controller.signal })).rejects.toThrow('failed while stopping');
    expect(work).toHaveBeenCalledTimes(1);
  });
});
