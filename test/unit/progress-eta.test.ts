/** The progress display's ETA: from rows against an estimate while it holds, else from finished units; never INF or NaN. */
import { describe, expect, it } from 'vitest';
import { eta } from '../../src/cli/progress-reporter.js';

const tally = (fields: Partial<{ units: number; done: number; rows: number; bytes: number; estimatedRows: number }>) =>
  ({ units: 10, done: 0, rows: 0, bytes: 0, estimatedRows: 0, ...fields });

describe('eta', () => {
  it('comes from rows against the estimate while no range has finished yet', () => {
    // 100,000 of ~1,000,000 rows in 10 s: 90 s left.
    expect(eta(tally({ rows: 100_000, estimatedRows: 1_000_000 }), 0, 10_000)).toBe('1m30s');
  });

  it('falls back to finished units once the rows pass a low estimate', () => {
    expect(eta(tally({ rows: 5000, estimatedRows: 1000, done: 5 }), 0, 10_000)).toBe('10s');
  });

  it('is "?" with no estimate (or a zero one) and nothing finished, never Infinity', () => {
    expect(eta(tally({ rows: 0, estimatedRows: 0 }), 0, 10_000)).toBe('?');
    expect(eta(tally({ rows: 500, estimatedRows: 0 }), 0, 10_000)).toBe('?');
    expect(eta(tally({ rows: 0, estimatedRows: 1000 }), 0, 0)).toBe('?');
  });

  it('leaves units done before this run (resume) out of the rate', () => {
    expect(eta(tally({ done: 6 }), 5, 10_000)).toBe('40s');
    expect(eta(tally({ done: 5 }), 5, 10_000)).toBe('?');
  });

  it('is 0s when every unit is done', () => {
    expect(eta(tally({ done: 10, rows: 10, estimatedRows: 1_000_000 }), 0, 10_000)).toBe('0s');
  });
});
