/**
 * A moving window of the request latencies the driver observed during an online `rotate`, per kind
 * (reads and writes), so the backpressure controller can see how the live cluster is doing. The
 * window keeps the samples of the last `windowMs` and, for bounded memory, at most `maxSamples`
 * per kind (a ring: the oldest are dropped first).
 *
 * A sample belongs to the window by the time it was recorded (its request settled), so even a
 * request slower than the window — a timeout — is seen. It also keeps the time its request
 * *started* (`now() - ms`), so callers can ask for the samples of requests started after some
 * moment — e.g. after the job slowed down — and not mistake a straggler from before for evidence
 * about the present.
 */

export type LatencyKind = 'read' | 'write';

/** The 99th percentile (nearest rank) of `values`; undefined when there are none. */
export function p99Of(values: readonly number[]): number | undefined {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(sorted.length * 0.99) - 1];
}

export interface LatencyWindowOptions {
  /** Wall clock in ms (default Date.now); the same clock the backpressure controller uses. */
  readonly now?: () => number;
  /** How far back samples count (default 10 000 ms). */
  readonly windowMs?: number;
  /** Samples kept per kind (default 2 048). */
  readonly maxSamples?: number;
  /** Fewest samples for a p99 (default 20): fewer say too little about the tail. */
  readonly minSamples?: number;
}

/** A fixed-capacity ring of (settled at, latency) samples in recording order; started at = settled − latency. */
class SampleRing {
  readonly #settled: Float64Array;
  readonly #ms: Float64Array;
  #next = 0;
  #size = 0;

  constructor(capacity: number) {
    this.#settled = new Float64Array(capacity);
    this.#ms = new Float64Array(capacity);
  }

  push(settledAt: number, ms: number): void {
    this.#settled[this.#next] = settledAt;
    this.#ms[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#settled.length;
    this.#size = Math.min(this.#size + 1, this.#settled.length);
  }

  /** Latencies of the samples settled at or after `settledFrom` and started at or after `startedFrom`, oldest first. */
  select(settledFrom: number, startedFrom: number): number[] {
    const out: number[] = [];
    const capacity = this.#settled.length;
    for (let i = 0; i < this.#size; i++) {
      const slot = (this.#next - this.#size + i + capacity) % capacity;
      const settled = this.#settled[slot] ?? -Infinity;
      const ms = this.#ms[slot] ?? 0;
      if (settled >= settledFrom && settled - ms >= startedFrom) out.push(ms);
    }
    return out;
  }
}

export class LatencyWindow {
  /** How far back samples count, in ms. */
  readonly windowMs: number;
  /** Fewest samples in the window for {@link p99} to answer. */
  readonly minSamples: number;
  readonly #now: () => number;
  readonly #samples: Record<LatencyKind, SampleRing>;

  constructor(options: LatencyWindowOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.windowMs = options.windowMs ?? 10_000;
    this.minSamples = Math.max(1, options.minSamples ?? 20);
    const capacity = Math.max(1, Math.floor(options.maxSamples ?? 2_048));
    this.#samples = { read: new SampleRing(capacity), write: new SampleRing(capacity) };
  }

  /** Records one request that took `ms` and has just settled. Ignores non-finite values. */
  record(kind: LatencyKind, ms: number): void {
    if (!Number.isFinite(ms)) return;
    const latency = Math.max(0, ms);
    this.#samples[kind].push(this.#now(), latency);
  }

  /**
   * Latencies of the requests that settled within the last `windowMs` and, with `since`, started
   * at or after `since`; in recording order, oldest first.
   */
  samples(kind: LatencyKind, since = -Infinity): number[] {
    return this.#samples[kind].select(this.#now() - this.windowMs, since);
  }

  /** How many samples {@link samples} would return. */
  count(kind: LatencyKind, since?: number): number {
    return this.samples(kind, since).length;
  }

  /**
   * The 99th percentile (nearest rank) of {@link samples}, or undefined with fewer than
   * `minSamples` of them.
   */
  p99(kind: LatencyKind, since?: number): number | undefined {
    const values = this.samples(kind, since);
    return values.length < this.minSamples ? undefined : p99Of(values);
  }
}
