/**
 * Bounds the write requests in flight (`--max-in-flight`) and, optionally, the rows per second
 * (`--rate`). `run` waits for a slot — this is the backpressure that pauses chunk reading — and
 * releases it when the request settles.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export class RequestGate {
  readonly #maxInFlight: number;
  readonly #rowsPerSecond: number | undefined;
  readonly #now: () => number;
  #inFlight = 0;
  readonly #waiting: (() => void)[] = [];
  /** Token bucket for --rate: rows that may start now; refilled continuously, capped at one second. */
  #tokens: number;
  #refilledAt: number;

  constructor(maxInFlight: number, rowsPerSecond?: number, now: () => number = Date.now) {
    this.#maxInFlight = Math.max(1, maxInFlight);
    this.#rowsPerSecond = rowsPerSecond;
    this.#now = now;
    this.#tokens = rowsPerSecond ?? 0;
    this.#refilledAt = now();
  }

  /** Requests running now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Waits until a request writing `rows` rows may start: a free slot and, with a rate, enough
   * budget. The caller starts the request and calls {@link release} when it settles.
   */
  async acquire(rows: number, signal?: AbortSignal): Promise<void> {
    while (this.#inFlight >= this.#maxInFlight) {
      signal?.throwIfAborted();
      await this.#waitForSlot(signal);
    }
    signal?.throwIfAborted();
    this.#inFlight++;
    try {
      await this.#throttle(rows, signal);
    } catch (err) {
      this.release();
      throw err;
    }
  }

  /** Resolves when a slot may have freed; rejects when `signal` aborts first (leaving the queue). */
  #waitForSlot(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const at = this.#waiting.indexOf(wake);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(signal?.reason);
      };
      this.#waiting.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Frees the slot taken by {@link acquire}. */
  release(): void {
    this.#inFlight--;
    this.#waiting.shift()?.();
  }

  async #throttle(rows: number, signal?: AbortSignal): Promise<void> {
    const rate = this.#rowsPerSecond;
    if (rate === undefined) return;
    for (;;) {
      const now = this.#now();
      this.#tokens = Math.min(rate, this.#tokens + ((now - this.#refilledAt) / 1000) * rate);
      this.#refilledAt = now;
      // A request bigger than a second's worth still goes through once the bucket is full.
      if (this.#tokens >= Math.min(rows, rate)) {
        this.#tokens -= rows;
        return;
      }
      const waitMs = Math.ceil(((Math.min(rows, rate) - this.#tokens) / rate) * 1000);
      await sleep(waitMs, undefined, signal === undefined ? {} : { signal });
    }
  }
}
