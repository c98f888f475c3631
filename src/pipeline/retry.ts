/**
 * Retry with exponential backoff and jitter, for whole units of work that are safe to redo (a
 * token range is re-read from its start under a new attempt id, never resumed mid-stream).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryOptions {
  /** Total attempts, including the first. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly signal?: AbortSignal;
  /** False for errors that will fail the same way again (bad input, corrupt data). */
  readonly isRetryable: (err: unknown) => boolean;
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** Runs `work(attempt)` (attempt counts from 1) until it succeeds, fails fatally, or runs out of attempts. */
export async function withRetries<T>(work: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (err) {
      if (options.signal?.aborted === true || attempt >= options.attempts || !options.isRetryable(err)) throw err;
      const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
      const delayMs = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
      options.onRetry?.(err, attempt, delayMs);
      await sleep(delayMs, undefined, options.signal === undefined ? {} : { signal: options.signal });
    }
  }
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
