import { describe, expect, it } from 'vitest';
import type { BatchStatement, CqlWriteSession, QueryOptions, QueryResult } from '../../src/cassandra/connection/session.js';
import { LatencyWindow, p99Of } from '../../src/pipeline/rotate/latency.js';
import { latencyKindOf, measuredSession } from '../../src/pipeline/rotate/measured-session.js';

/** A clock the test moves by hand (ms). */
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

function recordAll(window: LatencyWindow, kind: 'read' | 'write', values: readonly number[]): void {
  for (const ms of values) window.record(kind, ms);
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('LatencyWindow', () => {
  it('has no p99 below minSamples (default 20); at 20 samples the p99 is the largest', () => {
    const clock = manualClock();
    const window = new LatencyWindow({ now: clock.now });
    recordAll(window, 'read', range(1, 19));
    expect(window.count('read')).toBe(19);
    expect(window.p99('read')).toBeUndefined();
    window.record('read', 20);
    expect(window.p99('read')).toBe(20);
  });

  it('computes the nearest-rank p99 regardless of order', () => {
    const clock = manualClock();
    const window = new LatencyWindow({ now: clock.now });
    recordAll(window, 'write', range(1, 200).reverse());
    expect(window.p99('write')).toBe(198);
    expect(p99Of(range(1, 100))).toBe(99);
    expect(p99Of([])).toBeUndefined();
  });

  it('keeps reads and writes apart', () => {
    const clock = manualClock();
    const window = new LatencyWindow({ now: clock.now, minSamples: 1 });
    window.record('read', 5);
    window.record('write', 50);
    window.record('write', 60);
    expect(window.count('read')).toBe(1);
    expect(window.count('write')).toBe(2);
    expect(window.p99('read')).toBe(5);
    expect(window.p99('write')).toBe(60);
  });

  it('forgets samples older than windowMs (default 10 s)', () => {
    const clock = manualClock();
    const window = new LatencyWindow({ now: clock.now, minSamples: 1 });
    expect(window.windowMs).toBe(10_000);
    window.record('read', 0); // started now
    clock.advance(4_000);
    window.record('read', 0);
    clock.advance(6_000); // the first is exactly 10 s old: still in
    expect(window.count('read')).toBe(2);
    clock.advance(1);
    expect(window.count('read')).toBe(1);
    clock.advance(4_000);
    expect(window.count('read')).toBe(0);
    expect(window.p99('read')).toBeUndefined();
  });

  it('keeps the start time of each sample, so `since` excludes requests started before', () => {
    const clock = manualClock(10_000);
    const window = new LatencyWindow({ now: clock.now, minSamples: 1 });
    window.record('read', 300); // started at 9 700
    window.record('read', 50); // started at 9 950
    expect(window.samples('read', 9_800)).toEqual([50]);
    expect(window.samples('read', 9_700)).toEqual([300, 50]);
    expect(window.count('read', 9_951)).toBe(0);
    expect(window.p99('read', 9_800)).toBe(50);
  });

  it('sees a request slower than the window (a timeout) for a whole window after it settles', () => {
    const clock = manualClock();
    const window = new LatencyWindow({ now: clock.now, minSamples: 1 });
    window.record('read', 12_000);
    expect(window.samples('read')).toEqual([12_000]);
    clock.advance(10_000);
    expect(window.count('read')).toBe(1);
    clock.advance(1);
    expect(window.count('read')).toBe(0);
  });

  it('keeps at most maxSamples per kind, dropping the oldest', () => {
    const clock = manualClock();
    const window = new LatencyWindow({ now: clock.now, maxSamples: 5, minSamples: 1 });
    recordAll(window, 'read', range(1, 8));
    window.record('write', 1);
    expect(window.samples('read')).toEqual([4, 5, 6, 7, 8]);
    expect(window.count('write')).toBe(1);
  });

  it('ignores non-finite latencies and treats negative ones as 0', () => {
    const clock = manualClock();
    const window = new LatencyWindow({ now: clock.now, minSamples: 1 });
    window.record('read', Number.NaN);
    window.record('read', Number.POSITIVE_INFINITY);
    window.record('read', -3);
    expect(window.samples('read')).toEqual([0]);
  });
});

describe('measuredSession', () => {
  const result: QueryResult = { rows: [] };

  /** A session whose requests take `latencyMs` on the test clock; statements containing FAIL reject. */
  function fakeSession(clock: { advance: (ms: number) => void }, latencyMs: number): { session: CqlWriteSession; calls: unknown[][] } {
    const calls: unknown[][] = [];
    const run = async (cql: string): Promise<QueryResult> => {
      await Promise.resolve();
      clock.advance(latencyMs);
      if (cql.includes('FAIL')) throw new Error('timeout');
      return result;
    };
    return {
      calls,
      session: {
        execute: (cql: string, params?: readonly unknown[], options?: QueryOptions) => { calls.push(['execute', cql, params, options]); return run(cql); },
        batch: (statements: readonly BatchStatement[], options?: QueryOptions) => { calls.push(['batch', statements, options]); return run(statements.map((s) => s.cql).join(';')); },
      },
    };
  }

  it('classifies SELECT (any case, after whitespace) as a read and everything else as a write', () => {
    expect(latencyKindOf('SELECT * FROM t')).toBe('read');
    expect(latencyKindOf('  \n\tselect k FROM t')).toBe('read');
    expect(latencyKindOf('Select"k" FROM t')).toBe('read');
    expect(latencyKindOf('INSERT INTO t (k) VALUES (?)')).toBe('write');
    expect(latencyKindOf('UPDATE t SET v = ? WHERE k = ?')).toBe('write');
    expect(latencyKindOf('selected')).toBe('write');
    expect(latencyKindOf('')).toBe('write');
  });

  it('records each execute and batch with its latency and passes arguments and results through', async () => {
    const clock = manualClock();
    const window = new LatencyWindow({ now: clock.now, minSamples: 1 });
    const { session, calls } = fakeSession(clock, 7);
    const measured = measuredSession(session, window, clock.now);
    const options: QueryOptions = { prepare: true, consistency: 6 };

    await expect(measured.execute(' select v FROM t WHERE k = ?', [1], options)).resolves.toBe(result);
    await expect(measured.execute('UPDATE t SET v = ? WHERE k = ?', [2, 1])).resolves.toBe(result);
    await expect(measured.batch([{ cql: 'INSERT INTO t (k) VALUES (?)', params: [3] }], options)).resolves.toBe(result);

    expect(window.samples('read')).toEqual([7]);
    expect(window.samples('write')).toEqual([7, 7]);
    expect(calls).toEqual([
      ['execute', ' select v FROM t WHERE k = ?', [1], options],
      ['execute', 'UPDATE t SET v = ? WHERE k = ?', [2, 1], undefined],
      ['batch', [{ cql: 'INSERT INTO t (k) VALUES (?)', params: [3] }], options],
    ]);
  });

  it('records failed requests too and rethrows their error unchanged', async () => {
    const clock = manualClock();
    const window = new LatencyWindow({ now: clock.now, minSamples: 1 });
    const measured = measuredSession(fakeSession(clock, 2_000).session, window, clock.now);
    await expect(measured.execute('SELECT FAIL FROM t')).rejects.toThrow('timeout');
    await expect(measured.batch([{ cql: 'UPDATE FAIL', params: [] }])).rejects.toThrow('timeout');
    expect(window.samples('read')).toEqual([2_000]);
    expect(window.samples('write')).toEqual([2_000]);
  });

  it('records a request that throws synchronously', async () => {
    const clock = manualClock();
    const window = new LatencyWindow({ now: clock.now, minSamples: 1 });
    const broken: CqlWriteSession = {
      execute: () => { throw new Error('not connected'); },
      batch: () => { throw new Error('not connected'); },
    };
    const measured = measuredSession(broken, window, clock.now);
    await expect(measured.execute('SELECT 1')).rejects.toThrow('not connected');
    expect(window.samples('read')).toEqual([0]);
  });

  it('measures with performance.now by default', async () => {
    const window = new LatencyWindow({ minSamples: 1 });
    const session: CqlWriteSession = { execute: async () => result, batch: async () => result };
    await measuredSession(session, window).execute('SELECT 1');
    const [sample] = window.samples('read');
    expect(sample).toBeGreaterThanOrEqual(0);
    expect(sample).toBeLessThan(1_000);
  });
});
