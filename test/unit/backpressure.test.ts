import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { RequestGate } from '../../src/pipeline/load/request-gate.js';
import { Backpressure } from '../../src/pipeline/rotate/backpressure.js';
import { LatencyWindow } from '../../src/pipeline/rotate/latency.js';

/** Lets every pending promise callback run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await nextTurn();
}

interface RigOptions {
  readonly threshold?: number | undefined;
  readonly pause?: boolean;
  readonly base?: number | undefined;
  readonly observed?: number;
  readonly minRate?: number;
}

/**
 * A controller over a real RequestGate and LatencyWindow on one hand-moved clock. `second()` moves
 * the clock one second (the job's tick period); `reads(n, ms)` records n reads that took `ms` and
 * settled now (so they started `ms` ago).
 */
function rig(options: RigOptions = {}) {
  let t = 1_000_000;
  const now = (): number => t;
  let base = 'base' in options ? options.base : 1000;
  let observed = options.observed ?? 0;
  const window = new LatencyWindow({ now });
  const gate = new RequestGate(4, base, now);
  const bp = new Backpressure({
    window,
    gate,
    thresholdMs: 'threshold' in options ? options.threshold : 100,
    pauseOnBackpressure: options.pause ?? false,
    baseRate: () => base,
    observedRate: () => observed,
    now,
    ...(options.minRate === undefined ? {} : { minRate: options.minRate }),
  });
  return {
    bp,
    gate,
    window,
    second: (): void => { t += 1000; },
    advance: (ms: number): void => { t += ms; },
    reads: (n: number, ms: number): void => { for (let i = 0; i < n; i++) window.record('read', ms); },
    setBase: (rate: number | undefined): void => { base = rate; },
    setObserved: (rate: number): void => { observed = rate; },
  };
}

describe('Backpressure: monitor only and normal', () => {
  it('without a threshold never acts, but the gate follows the base rate', () => {
    const r = rig({ threshold: undefined });
    r.reads(50, 5_000);
    expect(r.bp.tick()).toBeUndefined();
    expect(r.bp.state).toBe('normal');
    expect(r.gate.rate).toBe(1000);
    r.setBase(300);
    r.bp.tick();
    expect(r.gate.rate).toBe(300);
    expect(r.bp.needsProbe()).toBe(false);
    expect(r.bp.snapshot()).toEqual({ state: 'normal', readP99Ms: 5_000, writeP99Ms: undefined, effectiveRate: 300, baseRate: 300, thresholdMs: undefined });
  });

  it('has no opinion with too few samples for a p99, then acts on the p99', () => {
    const r = rig();
    r.reads(19, 5_000); // slow, but not enough for a p99
    expect(r.bp.tick()).toBeUndefined();
    expect(r.bp.state).toBe('normal');
    r.second();
    r.reads(20, 100); // 39 samples: the nearest-rank p99 (rank 39) is one of the slow ones
    expect(r.bp.tick()).toBe('slowed');
  });

  it('at exactly the threshold is not pressure', () => {
    const r = rig();
    r.reads(40, 100);
    expect(r.bp.tick()).toBeUndefined();
    expect(r.bp.state).toBe('normal');
    expect(r.gate.rate).toBe(1000);
  });
});

describe('Backpressure: slowing down', () => {
  it('above the threshold halves the rate from the base', () => {
    const r = rig();
    r.reads(20, 200);
    expect(r.bp.tick()).toBe('slowed');
    expect(r.bp.state).toBe('slowed');
    expect(r.gate.rate).toBe(500);
    expect(r.gate.paused).toBe(false);
    expect(r.bp.snapshot()).toEqual({ state: 'slowed', readP99Ms: 200, writeP99Ms: undefined, effectiveRate: 500, baseRate: 1000, thresholdMs: 100 });
  });

  it('does not halve again on the samples that caused the slow-down; halves again on new evidence, without a new event', () => {
    const r = rig();
    r.reads(20, 200);
    r.bp.tick();
    r.second();
    expect(r.bp.tick()).toBeUndefined(); // the window still shows p99 200, but all from before the slow-down
    expect(r.gate.rate).toBe(500);
    expect(r.bp.needsProbe()).toBe(true); // too few reads since the slow-down to judge

    r.reads(20, 150); // started after the slow-down: still too slow
    expect(r.bp.needsProbe()).toBe(false);
    expect(r.bp.tick()).toBeUndefined();
    expect(r.bp.state).toBe('slowed');
    expect(r.gate.rate).toBe(250);
  });

  it('never goes below minRate (default 5 rows/s)', () => {
    const r = rig({ base: 8 });
    r.reads(20, 200);
    r.bp.tick();
    expect(r.gate.rate).toBe(5);
    r.second();
    r.reads(20, 200);
    r.bp.tick();
    expect(r.gate.rate).toBe(5);
  });

  it('respects a custom minRate and a base below it', () => {
    const r = rig({ base: 3, minRate: 10 });
    r.reads(20, 200);
    r.bp.tick();
    expect(r.bp.state).toBe('slowed');
    expect(r.gate.rate).toBe(3); // min(base, cap)
  });
});

describe('Backpressure: recovering', () => {
  /** A rig already slowed to 500 rows/s (base 1000), one second later. */
  function slowed(options: RigOptions = {}) {
    const r = rig(options);
    r.reads(20, 200);
    expect(r.bp.tick()).toBe('slowed');
    r.second();
    return r;
  }

  it('holds between 0.8 × threshold and the threshold (hysteresis)', () => {
    const r = slowed();
    r.reads(20, 90);
    expect(r.bp.tick()).toBeUndefined();
    expect(r.gate.rate).toBe(500);
    r.second();
    expect(r.bp.tick()).toBeUndefined();
    expect(r.gate.rate).toBe(500);
  });

  it('at or below 0.8 × threshold ramps × 1.25 per tick until the base, then is normal again', () => {
    const r = slowed();
    r.reads(20, 80);
    const rates: (number | undefined)[] = [];
    const events: unknown[] = [];
    for (let i = 0; i < 4; i++) {
      events.push(r.bp.tick());
      rates.push(r.gate.rate);
      r.second();
    }
    expect(rates).toEqual([625, 781.25, 976.5625, 1000]);
    expect(events).toEqual([undefined, undefined, undefined, 'recovered']);
    expect(r.bp.state).toBe('normal');
    expect(r.bp.needsProbe()).toBe(false);
  });

  it('a lowered base applies at once while slowed, and recovery stops at it', () => {
    const r = slowed();
    r.setBase(300);
    expect(r.bp.tick()).toBeUndefined(); // no evidence yet: hold, but under the new base
    expect(r.gate.rate).toBe(300);
    expect(r.bp.snapshot().effectiveRate).toBe(300);
    r.reads(20, 10);
    expect(r.bp.tick()).toBe('recovered');
    expect(r.gate.rate).toBe(300);
  });

  it('a raised base while slowed lets the ramp go on past the old base', () => {
    const r = slowed();
    r.setBase(4000);
    r.reads(20, 10);
    const rates: (number | undefined)[] = [];
    for (let i = 0; i < 50 && r.bp.tick() !== 'recovered'; i++) rates.push(r.gate.rate);
    expect(r.bp.state).toBe('normal');
    expect(rates.at(-1)).toBeGreaterThan(1000);
    expect(rates.at(-1)).toBeLessThan(4000);
    expect(r.gate.rate).toBe(4000);
  });

  it('a p99 back above the threshold during the ramp halves from where it is', () => {
    const r = slowed();
    r.reads(20, 10);
    r.bp.tick(); // 625
    r.bp.tick(); // 781.25
    r.reads(60, 500); // 80 reads since the slow-down, the slow ones dominate the tail
    expect(r.bp.tick()).toBeUndefined();
    expect(r.gate.rate).toBe(390.625);
  });

  it('with no reads at all, recovers only after a whole quiet window since the slow-down', () => {
    const r = slowed();
    for (let s = 1; s < 10; s++) {
      expect(r.bp.tick()).toBeUndefined();
      expect(r.gate.rate).toBe(500);
      r.second();
    }
    expect(r.bp.tick()).toBeUndefined(); // 10 s since the slow-down: ramps
    expect(r.gate.rate).toBe(625);
  });

  it('a few slow reads in a thin window keep it slowed', () => {
    const r = slowed();
    r.advance(10_000);
    r.reads(2, 300);
    expect(r.bp.tick()).toBeUndefined();
    expect(r.gate.rate).toBe(500);
  });

  it('three fast probe reads are enough to ramp when there is little read traffic', () => {
    const r = slowed();
    r.reads(2, 10);
    expect(r.bp.tick()).toBeUndefined();
    expect(r.gate.rate).toBe(500);
    expect(r.bp.needsProbe()).toBe(true);
    r.reads(1, 10);
    r.bp.tick();
    expect(r.gate.rate).toBe(625);
  });
});

describe('Backpressure: unlimited base rate', () => {
  it('starts the back-off from the observed rate and lifts the cap once it no longer binds', () => {
    const r = rig({ base: undefined, observed: 800 });
    expect(r.gate.rate).toBeUndefined();
    r.reads(20, 200);
    expect(r.bp.tick()).toBe('slowed');
    expect(r.gate.rate).toBe(400);
    expect(r.bp.snapshot()).toMatchObject({ state: 'slowed', effectiveRate: 400, baseRate: undefined });

    r.second();
    r.reads(20, 10);
    r.setObserved(400); // the job runs at the cap
    r.bp.tick();
    expect(r.gate.rate).toBe(500);
    r.setObserved(500);
    r.bp.tick();
    expect(r.gate.rate).toBe(625);
    r.setObserved(480); // the job cannot go much faster anyway: the cap stops binding
    r.bp.tick();
    expect(r.gate.rate).toBe(781.25); // < 2 × 480
    expect(r.bp.tick()).toBe('recovered'); // 976.56 ≥ 2 × 480
    expect(r.gate.rate).toBeUndefined();
    expect(r.bp.snapshot().effectiveRate).toBeUndefined();
  });

  it('an observed rate of zero backs off to minRate', () => {
    const r = rig({ base: undefined, observed: 0 });
    r.reads(20, 200);
    r.bp.tick();
    expect(r.gate.rate).toBe(5);
  });
});

describe('Backpressure: pause on backpressure', () => {
  /** A rig already paused (base 1000, so it resumes at 500), one second later. */
  function paused(options: RigOptions = {}) {
    const r = rig({ pause: true, ...options });
    r.reads(20, 200);
    expect(r.bp.tick()).toBe('paused');
    r.second();
    return r;
  }

  it('pauses the gate: new acquirers wait, and the snapshot shows rate 0', async () => {
    const r = rig({ pause: true });
    await r.gate.acquire(1); // in flight before the pause
    r.reads(20, 200);
    expect(r.bp.tick()).toBe('paused');
    expect(r.bp.state).toBe('paused');
    expect(r.gate.paused).toBe(true);
    expect(r.bp.needsProbe()).toBe(true);
    expect(r.bp.snapshot()).toMatchObject({ state: 'paused', effectiveRate: 0, readP99Ms: 200 });
    let acquired = false;
    const waiting = r.gate.acquire(1).then(() => { acquired = true; });
    await settle();
    expect(acquired).toBe(false);
    expect(r.gate.inFlight).toBe(1);
    r.gate.release(); // the in-flight request finishes normally
    await settle();
    expect(acquired).toBe(false);

    r.second();
    r.reads(3, 20);
    expect(r.bp.tick()).toBe('resumed');
    await waiting;
    expect(acquired).toBe(true);
  });

  it('an empty window while paused is not recovery', () => {
    const r = paused();
    r.advance(60_000);
    expect(r.bp.tick()).toBeUndefined();
    expect(r.bp.snapshot()).toMatchObject({ state: 'paused', readP99Ms: undefined });
    expect(r.gate.paused).toBe(true);
    expect(r.bp.needsProbe()).toBe(true);
  });

  it('resumes only after the latest three probes are all at or below 0.8 × threshold', () => {
    const r = paused();
    const probe = (ms: number) => { r.window.record('read', ms); r.second(); return r.bp.tick(); };
    expect(probe(20)).toBeUndefined();
    expect(probe(20)).toBeUndefined(); // two fast probes: not yet
    expect(probe(150)).toBeUndefined(); // a slow one
    expect(probe(20)).toBeUndefined();
    expect(probe(90)).toBeUndefined(); // between 0.8 × threshold and threshold: not recovered
    expect(probe(20)).toBeUndefined();
    expect(probe(20)).toBeUndefined();
    expect(r.gate.paused).toBe(true);
    expect(probe(80)).toBe('resumed');
    expect(r.gate.paused).toBe(false);
    expect(r.bp.state).toBe('slowed');
    expect(r.gate.rate).toBe(500); // half the rate it paused at, then ramps
    expect(r.bp.snapshot().effectiveRate).toBe(500);
  });

  it('does not count fast reads that started before the pause', () => {
    const r = rig({ pause: true });
    r.reads(20, 200);
    r.bp.tick();
    r.advance(10);
    r.reads(3, 50); // started 40 ms before the pause, settled after it
    r.advance(990);
    expect(r.bp.tick()).toBeUndefined();
    expect(r.gate.paused).toBe(true);
  });

  it('with enough reads since the pause, judges their p99', () => {
    const r = paused();
    r.reads(25, 90);
    expect(r.bp.tick()).toBeUndefined(); // p99 90: above 0.8 × threshold
    r.advance(10_001); // those leave the window
    r.reads(25, 30);
    expect(r.bp.tick()).toBe('resumed');
  });

  it('pressure again after resuming pauses again, resuming at half the rate again; then ramps and recovers', () => {
    const r = paused();
    r.reads(3, 10);
    expect(r.bp.tick()).toBe('resumed');
    expect(r.gate.rate).toBe(500);
    r.second();
    r.reads(20, 300);
    expect(r.bp.tick()).toBe('paused');
    expect(r.gate.paused).toBe(true);
    r.second();
    r.reads(3, 10);
    expect(r.bp.tick()).toBe('resumed');
    expect(r.gate.rate).toBe(250);
    r.bp.tick();
    expect(r.gate.rate).toBe(250); // the probes that ended the pause are not evidence about the new rate
    r.second();
    r.reads(3, 10);
    const events: unknown[] = [];
    for (let i = 0; i < 10 && r.bp.state !== 'normal'; i++) events.push(r.bp.tick());
    expect(events.at(-1)).toBe('recovered');
    expect(events.filter((e) => e !== undefined)).toEqual(['recovered']);
    expect(r.gate.rate).toBe(1000);
  });

  it('resumes straight to normal when half the paused rate is still at least the base', () => {
    const r = paused({ base: 4 }); // cap max(5, 2) = 5 ≥ 4
    r.reads(3, 10);
    expect(r.bp.tick()).toBe('resumed');
    expect(r.bp.state).toBe('normal');
    expect(r.gate.rate).toBe(4);
  });

  it('base-rate changes while paused take effect on resume', () => {
    const r = paused();
    r.setBase(200);
    expect(r.bp.tick()).toBeUndefined();
    expect(r.bp.snapshot()).toMatchObject({ state: 'paused', effectiveRate: 0, baseRate: 200 });
    r.reads(3, 10);
    expect(r.bp.tick()).toBe('resumed');
    expect(r.bp.state).toBe('normal'); // the cap (500) is above the new base
    expect(r.gate.rate).toBe(200);
  });

  it('with an unlimited base, resumes at half the observed rate at the pause', () => {
    const r = rig({ pause: true, base: undefined, observed: 600 });
    r.reads(20, 200);
    expect(r.bp.tick()).toBe('paused');
    r.setObserved(0); // nothing is written while paused
    r.second();
    r.reads(3, 10);
    expect(r.bp.tick()).toBe('resumed');
    expect(r.bp.state).toBe('slowed');
    expect(r.gate.rate).toBe(300);
  });
});
