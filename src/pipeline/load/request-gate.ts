/**
 * Bounds the write requests in flight (`--max-in-flight`) and, optionally, the rows per second
 * (`--rate`). `acquire` waits for a slot — this is the backpressure that pauses chunk reading — and
 * releases it when the request settles.
 *
 * The online `rotate` job also steers the gate while it runs: `setRate` changes the rate (the
 * operator's `rotate throttle`, or the latency backpressure in pipeline/rotate/backpressure.ts) and
 * `setPaused` holds new requests until latency recovers. Waiters adapt at once: a change wakes
 * every sleeper, and a sleeper re-checks at least every {@link MAX_NAP_MS} anyway.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Longest a waiter sleeps for rate budget before re-checking (a rate change also wakes it). */
const MAX_NAP_MS = 250;

export class RequestGate {
  readonly #maxInFlight: number;
  #rowsPerSecond: number | undefined;
  #paused = false;
  readonly #now: () => number;
  #inFlight = 0;
  readonly #waiting: (() => void)[] = [];
  /** Sleepers woken by any change of rate or pause (they re-check their condition). */
  readonly #onChange = new Set<() => void>();
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

  /** Rows per second allowed now; undefined when unlimited. */
  get rate(): number | undefined {
    return this.#rowsPerSecond;
  }

  /** True while {@link setPaused} holds new requests. */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * Changes the rate (undefined = unlimited) from now on. Budget earned so far is kept up to one
   * second of the new rate; going from unlimited to a rate starts with an empty bucket, so a
   * slow-down takes effect at once instead of after a one-second burst. Throws a RangeError unless
   * the rate is a positive finite number or undefined.
   */
  setRate(rowsPerSecond: number | undefined): void {
    if (rowsPerSecond !== undefined && !(Number.isFinite(rowsPerSecond) && rowsPerSecond > 0)) {
      throw new RangeError(`rate must be a positive number of rows per second, got ${rowsPerSecond}`);
    }
    const previous = this.#rowsPerSecond;
    if (rowsPerSecond === previous) return;
    this.#refill();
    this.#rowsPerSecond = rowsPerSecond;
    if (rowsPerSecond !== undefined) this.#tokens = previous === undefined ? 0 : Math.min(this.#tokens, rowsPerSecond);
    this.#notify();
  }

  /**
   * Pauses or resumes. While paused, {@link acquire} waits before taking a slot (and an acquirer
   * that already holds a slot but still waits for rate budget holds on too); requests already
   * started are unaffected. Resuming releases the waiters.
   */
  setPaused(paused: boolean): void {
    if (paused === this.#paused) return;
    this.#paused = paused;
    this.#notify();
  }

  /**
   * Waits until a request writing `rows` rows may start: not paused, a free slot and, with a rate,
   * enough budget. The caller starts the request and calls {@link release} when it settles.
   * Rejects, without holding a slot, when `signal` aborts first.
   */
  async acquire(rows: number, signal?: AbortSignal): Promise<void> {
    try {
      for (;;) {
        signal?.throwIfAborted();
        if (this.#paused) await this.#waitForChange(signal);
        else if (this.#inFlight >= this.#maxInFlight) await this.#waitForSlot(signal);
        else break;
      }
    } catch (err) {
      // We may have been woken for a slot we no longer take: pass the wake-up on.
      this.#wakeNextIfFree();
      throw err;
    }
    this.#inFlight++;
    try {
      await this.#throttle(rows, signal);
    } catch (err) {
      this.release();
      throw err;
    }
  }

  /** Frees the slot taken by {@link acquire}. */
  release(): void {
    this.#inFlight--;
    this.#waiting.shift()?.();
  }

  #wakeNextIfFree(): void {
    if (this.#inFlight < this.#maxInFlight) this.#waiting.shift()?.();
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

  /** Resolves on the next change of rate or pause; rejects when `signal` aborts first. */
  #waitForChange(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        this.#onChange.delete(wake);
        reject(signal?.reason);
      };
      this.#onChange.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #notify(): void {
    const wakers = [...this.#onChange];
    this.#onChange.clear();
    for (const wake of wakers) wake();
  }

  /** Brings the bucket up to now at the current rate. */
  #refill(): void {
    const now = this.#now();
    const rate = this.#rowsPerSecond;
    if (rate !== undefined) this.#tokens = Math.min(rate, this.#tokens + ((now - this.#refilledAt) / 1000) * rate);
    this.#refilledAt = now;
  }

  async #throttle(rows: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (this.#paused) {
        signal?.throwIfAborted();
        await this.#waitForChange(signal);
        continue;
      }
      const rate = this.#rowsPerSecond;
      if (rate === undefined) return;
      this.#refill();
      // A request bigger than a second's worth still goes through once the bucket is full.
      if (this.#tokens >= Math.min(rows, rate)) {
        this.#tokens -= rows;
        return;
      }
      const waitMs = Math.ceil(((Math.min(rows, rate) - this.#tokens) / rate) * 1000);
      await this.#nap(Math.min(waitMs, MAX_NAP_MS), signal);
    }
  }

  /**
   * Sleeps `ms`, or less when the rate or pause changes. Rejects with an AbortError when `signal`
   * aborts (as node:timers/promises does).
   */
  async #nap(ms: number, signal?: AbortSignal): Promise<void> {
    const local = new AbortController();
    const wake = (): void => local.abort();
    const onAbort = (): void => local.abort(signal?.reason);
    this.#onChange.add(wake);
    if (signal?.aborted === true) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await sleep(ms, undefined, { signal: local.signal });
    } catch (err) {
      if (signal?.aborted === true) throw err;
      // Otherwise a change woke us: the caller re-checks.
    } finally {
      this.#onChange.delete(wake);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}
