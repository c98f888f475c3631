/** withRetries bounded by time (--retry-for), on a fake clock: no real waiting, no timed assertions. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, formatDuration, withRetries, type RetryClock } from '../../src/pipeline/retry.js';

/** A clock whose sleeps advance time at once, recording each delay. */
function fakeClock(start = 1_000_000): RetryClock & { readonly sleeps: number[]; at: number } {
  const clock = {
    at: start,
    sleeps: [] as number[],
    now: () => clock.at,
    sleep: async (ms: number) => {
      clock.sleeps.push(ms);
      clock.at += ms;
    },
  };
  return clock;
}

const always = (): boolean => true;

describe('withRetries bounded by time', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('waits out an outage shorter than retryForMs, however many attempts that takes', async () => {
    const clock = fakeClock();
    const outageEnds = clock.at + 4 * 60_000; // a 4-minute outage, 5-minute budget
    let attempts = 0;
    const result = await withRetries(async () => {
      attempts++;
      if (clock.now() < outageEnds) throw new Error('connect ECONNREFUSED');
      return 'through';
    }, { retryForMs: 5 * 60_000, baseDelayMs: 1000, maxDelayMs: 30_000, isRetryable: always, clock });
    expect(result).toBe('through');
    expect(attempts).toBeGreaterThan(5); // more than the old fixed count
    expect(Math.max(...clock.sleeps)).toBeLessThanOrEqual(30_000);
  });

  it('gives up with the last error once retryForMs have passed since the first failure, the last attempt at the deadline', async () => {
    const clock = fakeClock();
    const started = clock.at;
    const errors: Error[] = [];
    const err = await withRetries(async (n) => {
      const e = new Error(`fail ${n}`);
      errors.push(e);
      throw e;
    }, { retryForMs: 60_000, baseDelayMs: 1000, maxDelayMs: 30_000, isRetryable: always, clock }).catch((e: unknown) => e);
    expect(err).toBe(errors.at(-1));
    expect(clock.at - started).toBe(60_000); // the last wait is cut to end exactly at the deadline
  });

  it('measures the budget from the first failure, not from the start of the work', async () => {
    const clock = fakeClock();
    let calls = 0;
    const result = await withRetries(async () => {
      calls++;
      if (calls === 1) {
        clock.at += 10 * 60_000; // a long first attempt (reading a big range) that then fails
        throw new Error('connection reset');
      }
      return calls;
    }, { retryForMs: 1000, baseDelayMs: 100, maxDelayMs: 100, isRetryable: always, clock });
    expect(result).toBe(2);
  });

  it('retryForMs 0 fails at the first error', async () => {
    const clock = fakeClock();
    const work = vi.fn(async () => {
      throw new Error('down');
    });
    await expect(withRetries(work, { retryForMs: 0, baseDelayMs: 1000, maxDelayMs: 30_000, isRetryable: always, clock })).rejects.toThrow('down');
    expect(work).toHaveBeenCalledTimes(1);
    expect(clock.sleeps).toEqual([]);
  });

  it('fails at once on an error that is not retryable, whatever the budget', async () => {
    const clock = fakeClock();
    const fatal = new Error('access denied');
    const work = vi.fn(async () => {
      throw fatal;
    });
    await expect(withRetries(work, { retryForMs: 3_600_000, baseDelayMs: 1000, maxDelayMs: 30_000, isRetryable: (e) => e !== fatal, clock })).rejects.toBe(fatal);
    expect(work).toHaveBeenCalledTimes(1);
  });

  it('reports each wait with the budget left, and the recovery', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1 - Number.EPSILON);
    const clock = fakeClock();
    const events: [number, number, number][] = [];
    let recovered = 0;
    await withRetries(async (n) => {
      if (n < 4) throw new Error('down');
    }, {
      retryForMs: 10_000, baseDelayMs: 1000, maxDelayMs: 30_000, isRetryable: always, clock,
      onRetry: (e) => events.push([e.attempt, e.delayMs, e.remainingMs]),
      onRecovered: () => recovered++,
    });
    expect(events).toEqual([[1, 1000, 9000], [2, 2000, 7000], [3, 4000, 3000]]);
    expect(recovered).toBe(1);
  });

  it('caps the backoff at maxDelayMs and jitters within [ceiling/2, ceiling]', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    expect([1, 2, 3, 6, 7, 50].map((n) => backoffDelay(n, 1000, 30_000))).toEqual([500, 1000, 2000, 15_000, 15_000, 15_000]);
    vi.spyOn(Math, 'random').mockReturnValue(1 - Number.EPSILON);
    expect([1, 5, 6, 1000].map((n) => backoffDelay(n, 1000, 30_000))).toEqual([1000, 16_000, 30_000, 30_000]);
  });

  it('formats durations for progress lines', () => {
    expect([0, 999, 45_000, 272_000, 3_900_000].map(formatDuration)).toEqual(['0s', '1s', '45s', '4m32s', '1h05m']);
  });
});
