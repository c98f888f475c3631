/**
 * Retry with capped exponential backoff and jitter, bounded by *time* (`--retry-for`), for whole
 * units of work that are safe to redo (a token range is re-read from its start under a new attempt
 * id, never resumed mid-stream; a statement is sent again; a document is put again).
 *
 * The budget is a deadline measured from the unit's first failure: an outage of the repository or
 * of Cassandra is waited out as long as it ends within `retryForMs`, however many attempts that
 * takes. `retryForMs = 0` fails at the first error.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Every command's default `--retry-for`: an outage of up to 5 minutes is waited out. */
export const DEFAULT_RETRY_FOR_MS = 5 * 60_000;
/** The longest wait between two attempts. */
export const MAX_RETRY_DELAY_MS = 30_000;

/** The clock retries run on; tests pass a fake one. */
export interface RetryClock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realRetryClock: RetryClock = Object.freeze({
  now: () => Date.now(),
  sleep: async (ms: number, signal?: AbortSignal) => {
    await sleep(ms, undefined, signal === undefined ? {} : { signal });
  },
});

/** What happens while a unit of work waits out a failure, for progress displays. */
export interface RetryEvent {
  readonly error: unknown;
  /** The attempt that failed (from 1). */
  readonly attempt: number;
  /** How long until the next attempt. */
  readonly delayMs: number;
  /** How much of the budget is left after that wait. */
  readonly remainingMs: number;
}

export interface RetryOptions {
  /** How long to keep trying after the first failure; 0 = no retry. */
  readonly retryForMs: number;
  /** An optional cap on attempts (including the first), on top of the deadline. */
  readonly attempts?: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly signal?: AbortSignal;
  /** False for errors that will fail the same way again (bad input, corrupt data, auth). */
  readonly isRetryable: (err: unknown) => boolean;
  /** Called before each wait. */
  readonly onRetry?: (event: RetryEvent) => void;
  /** Called when an attempt after a failure succeeded (the outage is over). */
  readonly onRecovered?: () => void;
  readonly clock?: RetryClock;
}

/** The delay before attempt `attempt + 1`: a ceiling doubling from `baseDelayMs` up to `maxDelayMs`, jittered into [ceiling/2, ceiling]. */
export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt - 1, 40));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/**
 * Runs `work(attempt)` (attempt counts from 1) until it succeeds, fails with an error that is not
 * retryable, or still fails once `retryForMs` have passed since its first failure (or `attempts`
 * are spent); then the last error is thrown. The last wait is shortened so that one attempt is
 * made at the deadline.
 */
export async function withRetries<T>(work: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const clock = options.clock ?? realRetryClock;
  let firstFailure: number | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await work(attempt);
      if (firstFailure !== undefined) options.onRecovered?.();
      return result;
    } catch (err) {
      const now = clock.now();
      firstFailure ??= now;
      const remaining = firstFailure + options.retryForMs - now;
      if (options.signal?.aborted === true || remaining <= 0 || (options.attempts !== undefined && attempt >= options.attempts) || !options.isRetryable(err)) throw err;
      const delayMs = Math.min(remaining, backoffDelay(attempt, options.baseDelayMs, options.maxDelayMs));
      options.onRetry?.({ error: err, attempt, delayMs, remainingMs: remaining - delayMs });
      await clock.sleep(delayMs, options.signal);
    }
  }
}

/** "4m32s", "45s", "1h05m": a duration for progress lines. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
}

/**
 * Runs `work` over `items` with at most `concurrency` in flight. On the first failure it stops
 * starting new items, lets the running ones settle, and rethrows that failure; the same happens
 * when `signal` aborts (rethrowing the abort reason).
 */
export async function forEachBounded<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      if (signal?.aborted === true) {
        failure ??= { error: signal.reason };
        return;
      }
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, lane));
  if (failure !== undefined) throw failure.error;
  if (signal?.aborted === true) throw signal.reason;
}
