/**
 * Keeps an online `rotate` gentle on production latency. The job calls {@link Backpressure.tick}
 * about once a second; each tick reads the moving read p99 (LatencyWindow) and steers the
 * RequestGate: above `thresholdMs` it halves the rate (`slowed`) or, with `pauseOnBackpressure`,
 * stops new writes (`paused`); once the p99 is at most 0.8 × threshold (hysteresis, so it does not
 * flap around the threshold) it ramps back by × 1.25 per tick up to the operator's rate. The class
 * holds no timers, so it is driven and tested with a fake clock.
 *
 * Why "evidence since the last back-off": the p99 is over a 10 s window, so right after a
 * slow-down it still shows the latencies that caused it. Judging those again every second would
 * halve the rate ten times for one spike. So after every slow-down, pause or resume the controller
 * only looks at reads *started* after it (LatencyWindow keeps each sample's start time),
 * and holds until they are enough to judge.
 *
 * A pause ends only on evidence of recovery. While paused the job writes nothing, so the window
 * empties and the p99 becomes undefined — that is NOT recovery. The job sends a cheap probe read
 * whenever {@link Backpressure.needsProbe} says so (best a read of the table being rotated, so its
 * latency reflects the loaded replicas); the pause ends when the reads started since the pause
 * have a p99 ≤ 0.8 × threshold, or, while they are too few for a p99, when the latest
 * `recoveryProbes` of them (default 3) are all ≤ 0.8 × threshold. It resumes `slowed` at half the
 * rate it paused at and ramps up from there, rather than jumping back to the rate that hurt.
 */
import type { RequestGate } from '../load/request-gate.js';
import { p99Of, type LatencyWindow } from './latency.js';

export type BackpressureState = 'normal' | 'slowed' | 'paused';

/** What a tick changed, for a progress note: entered `slowed`/`paused`, left a pause, back to `normal`. */
export type BackpressureEvent = 'slowed' | 'paused' | 'resumed' | 'recovered';

export interface BackpressureOptions {
  readonly window: LatencyWindow;
  readonly gate: RequestGate;
  /** Read p99 above which the job backs off; undefined = monitor only (the gate follows `baseRate`). */
  readonly thresholdMs: number | undefined;
  readonly pauseOnBackpressure: boolean;
  /** The operator's rate now (config, --rate, `rotate throttle`); undefined = unlimited. */
  readonly baseRate: () => number | undefined;
  /** Rows per second written over the last second or so: where a back-off starts when unlimited. */
  readonly observedRate: () => number;
  /** The same clock as the window's (ms). */
  readonly now: () => number;
  /** Slowest rate a back-off goes down to (default 5 rows/s). */
  readonly minRate?: number;
  /** Probe reads that must all be fast to end a pause on thin evidence (default 3). */
  readonly recoveryProbes?: number;
}

export interface BackpressureSnapshot {
  readonly state: BackpressureState;
  /** p99 over the whole window (what the operator sees), undefined with too few samples. */
  readonly readP99Ms: number | undefined;
  readonly writeP99Ms: number | undefined;
  /** Rows/s the gate allows: min(base, back-off cap); 0 while paused; undefined = unlimited. */
  readonly effectiveRate: number | undefined;
  readonly baseRate: number | undefined;
  readonly thresholdMs: number | undefined;
}

const SLOW_FACTOR = 0.5;
const RAMP_FACTOR = 1.25;
const RECOVER_RATIO = 0.8;

/** What the recent reads say: back off, recovered, or in between / not enough evidence. */
type Verdict = 'pressure' | 'clear' | 'hold';

export class Backpressure {
  readonly #o: BackpressureOptions;
  readonly #minRate: number;
  readonly #recoveryProbes: number;
  #state: BackpressureState = 'normal';
  /** The back-off cap while slowed; while paused, the cap to resume at. */
  #cap: number | undefined;
  /** Evidence is the reads started at or after this: the last slow-down, pause or resume. */
  #since = -Infinity;

  constructor(options: BackpressureOptions) {
    this.#o = options;
    this.#minRate = options.minRate ?? 5;
    this.#recoveryProbes = Math.max(1, options.recoveryProbes ?? 3);
  }

  get state(): BackpressureState {
    return this.#state;
  }

  /**
   * Looks at the latencies, moves between states, and applies the result to the gate: its rate is
   * set to min(base, cap) on every tick outside a pause; it is paused on `paused` and unpaused on
   * `resumed` (only on those transitions, so the controller does not fight another pauser).
   * Returns the state change, if any.
   */
  tick(): BackpressureEvent | undefined {
    const base = this.#o.baseRate();
    const event = this.#step(base);
    if (this.#state !== 'paused') this.#o.gate.setRate(this.#effective(base));
    if (event === 'paused') this.#o.gate.setPaused(true);
    if (event === 'resumed') this.#o.gate.setPaused(false);
    return event;
  }

  /**
   * True when the job should send a probe read before the next tick: while paused (no traffic, so
   * no evidence otherwise), and while slowed with too few reads since the back-off to judge.
   */
  needsProbe(): boolean {
    if (this.#state === 'paused') return true;
    return this.#state === 'slowed' && this.#o.window.count('read', this.#since) < this.#o.window.minSamples;
  }

  snapshot(): BackpressureSnapshot {
    const base = this.#o.baseRate();
    return {
      state: this.#state,
      readP99Ms: this.#o.window.p99('read'),
      writeP99Ms: this.#o.window.p99('write'),
      effectiveRate: this.#state === 'paused' ? 0 : this.#effective(base),
      baseRate: base,
      thresholdMs: this.#o.thresholdMs,
    };
  }

  #step(base: number | undefined): BackpressureEvent | undefined {
    const threshold = this.#o.thresholdMs;
    if (threshold === undefined) return undefined;
    const verdict = this.#verdict(threshold);
    switch (this.#state) {
      case 'normal':
        return verdict === 'pressure' ? this.#backOff(base) : undefined;
      case 'slowed':
        if (verdict === 'pressure') return this.#backOff(base);
        return verdict === 'clear' ? this.#rampUp(base) : undefined;
      case 'paused':
        return verdict === 'clear' ? this.#resume(base) : undefined;
    }
  }

  /** Halves the rate (from the observed one when unlimited) and pauses or slows. */
  #backOff(base: number | undefined): BackpressureEvent | undefined {
    const current = this.#effective(base) ?? this.#observed();
    this.#cap = Math.max(this.#minRate, current * SLOW_FACTOR);
    this.#since = this.#o.now();
    const was = this.#state;
    this.#state = this.#o.pauseOnBackpressure ? 'paused' : 'slowed';
    return this.#state === was ? undefined : this.#state;
  }

  /** × 1.25; back to `normal` once at the base rate or, when unlimited, once the cap no longer binds. */
  #rampUp(base: number | undefined): BackpressureEvent | undefined {
    const cap = (this.#cap ?? this.#minRate) * RAMP_FACTOR;
    // Unlimited: there is no base to reach, so lift the cap once the job runs well below it.
    const done = base === undefined ? cap >= 2 * this.#observed() : cap >= base;
    if (!done) {
      this.#cap = cap;
      return undefined;
    }
    this.#cap = undefined;
    this.#state = 'normal';
    return 'recovered';
  }

  #resume(base: number | undefined): BackpressureEvent {
    this.#since = this.#o.now();
    // Nothing was written while paused, so the observed rate says nothing: resume at the cap.
    if (base !== undefined && (this.#cap ?? base) >= base) {
      this.#cap = undefined;
      this.#state = 'normal';
    } else {
      this.#state = 'slowed';
    }
    return 'resumed';
  }

  #verdict(threshold: number): Verdict {
    const recoverAt = threshold * RECOVER_RATIO;
    const { window } = this.#o;
    const reads = window.samples('read', this.#since);
    if (reads.length >= window.minSamples) {
      const p99 = p99Of(reads) ?? 0;
      if (p99 > threshold) return 'pressure';
      return p99 <= recoverAt ? 'clear' : 'hold';
    }
    // Too few reads for a p99: recovered if the latest few (the probes) are all fast…
    const latest = reads.slice(-this.#recoveryProbes);
    if (latest.length === this.#recoveryProbes && latest.every((ms) => ms <= recoverAt)) return 'clear';
    // …or, when slowed (never when paused), if a whole window since the back-off brought no slow
    // read: there is no read traffic to protect or judge by.
    const quietWindow = this.#o.now() - this.#since >= window.windowMs && reads.every((ms) => ms <= recoverAt);
    return this.#state === 'slowed' && quietWindow ? 'clear' : 'hold';
  }

  /** min(base, cap); undefined = unlimited. */
  #effective(base: number | undefined): number | undefined {
    if (this.#cap === undefined) return base;
    return base === undefined ? this.#cap : Math.min(base, this.#cap);
  }

  #observed(): number {
    const rate = this.#o.observedRate();
    return Number.isFinite(rate) && rate > 0 ? rate : 0;
  }
}
