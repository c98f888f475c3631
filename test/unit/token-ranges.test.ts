import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  MAX_DEFAULT_SPLITS,
  MAX_TOKEN,
  MIN_TOKEN,
  containsToken,
  coverageProblem,
  defaultSplitCount,
  formatToken,
  parseToken,
  splitRing,
  type TokenRange,
} from '../../src/cassandra/ring/token-ranges.js';

const RING_WIDTH = MAX_TOKEN - MIN_TOKEN;
const anyToken = fc.bigInt({ min: MIN_TOKEN, max: MAX_TOKEN });
/** Tokens with the edges and their neighbours over-represented, and clusters of adjacent tokens. */
const edgyToken = fc.oneof(
  anyToken,
  fc.constantFrom(MIN_TOKEN, MIN_TOKEN + 1n, MIN_TOKEN + 2n, -1n, 0n, 1n, MAX_TOKEN - 1n, MAX_TOKEN),
  fc.bigInt({ min: -3n, max: 3n }),
);
const boundarySet = fc.array(edgyToken, { maxLength: 200 });
const splitCount = fc.integer({ min: 1, max: 3000 });

/** The distinct boundaries that must end a range (everything above MIN_TOKEN, plus MAX_TOKEN). */
function expectedEnds(boundaries: readonly bigint[]): bigint[] {
  return [...new Set([...boundaries, MAX_TOKEN])].filter((b) => b > MIN_TOKEN).sort((a, b) => (a < b ? -1 : 1));
}

function crossedBoundary(ranges: readonly TokenRange[], ends: readonly bigint[]): bigint | undefined {
  // Both ascending: walk them together; a boundary strictly inside a range is a crossing.
  let r = 0;
  for (const b of ends) {
    while (r < ranges.length && (ranges[r]?.end ?? MAX_TOKEN) < b) r++;
    const range = ranges[r];
    if (range !== undefined && range.start < b && b < range.end) return b;
  }
  return undefined;
}

describe('splitRing', () => {
  it('covers (MIN_TOKEN, MAX_TOKEN] exactly once, ascending, from MIN_TOKEN to MAX_TOKEN, never empty', () => {
    fc.assert(
      fc.property(boundarySet, splitCount, (boundaries, count) => {
        const ranges = splitRing(boundaries, count);
        expect(coverageProblem(ranges)).toBeUndefined();
        expect(ranges[0]?.start).toBe(MIN_TOKEN);
        expect(ranges.at(-1)?.end).toBe(MAX_TOKEN);
        expect(ranges.every((r) => r.end > r.start)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('ends a range at every boundary and never crosses one', () => {
    fc.assert(
      fc.property(boundarySet, splitCount, (boundaries, count) => {
        const ranges = splitRing(boundaries, count);
        const ends = new Set(ranges.map((r) => r.end));
        const required = expectedEnds(boundaries);
        for (const b of required) expect(ends.has(b)).toBe(true);
        expect(crossedBoundary(ranges, required)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('makes about targetCount ranges: at least max(target, intervals), at most target + intervals', () => {
    fc.assert(
      fc.property(boundarySet, splitCount, (boundaries, count) => {
        const intervals = expectedEnds(boundaries).length;
        const n = splitRing(boundaries, count).length;
        expect(n).toBeGreaterThanOrEqual(Math.max(count, intervals));
        expect(n).toBeLessThanOrEqual(count + intervals);
      }),
      { numRuns: 300 },
    );
  });

  it('makes exactly targetCount ranges of near-equal width when there are no boundaries', () => {
    fc.assert(
      fc.property(splitCount, (count) => {
        const ranges = splitRing([], count);
        expect(ranges).toHaveLength(count);
        const widths = ranges.map((r) => r.end - r.start);
        const min = widths.reduce((a, b) => (a < b ? a : b));
        const max = widths.reduce((a, b) => (a > b ? a : b));
        expect(max - min <= 1n).toBe(true);
      }),
    );
  });

  it('splits in proportion to width: no range is wider than twice the average (plus rounding)', () => {
    fc.assert(
      fc.property(fc.array(anyToken, { maxLength: 64 }), fc.integer({ min: 1, max: 1000 }), (boundaries, count) => {
        const limit = (2n * RING_WIDTH) / BigInt(count) + 1n;
        expect(splitRing(boundaries, count).every((r) => r.end - r.start <= limit)).toBe(true);
      }),
    );
  });

  it('ignores order and repetition of the boundaries', () => {
    fc.assert(
      fc.property(boundarySet, splitCount, (boundaries, count) => {
        const shuffled = [...boundaries, ...boundaries].reverse();
        expect(splitRing(shuffled, count)).toEqual(splitRing(boundaries, count));
      }),
      { numRuns: 100 },
    );
  });

  it('matches the example in docs/format.md §2 (32 even ranges)', () => {
    expect(formatToken(splitRing([], 32)[0]?.end ?? 0n)).toBe('-8646911284551352321');
  });

  it('handles the ring edges and single-token intervals', () => {
    expect(splitRing([], 1)).toEqual([{ start: MIN_TOKEN, end: MAX_TOKEN }]);
    expect(splitRing([MIN_TOKEN, MAX_TOKEN, MAX_TOKEN], 1)).toEqual([{ start: MIN_TOKEN, end: MAX_TOKEN }]);
    expect(splitRing([MIN_TOKEN + 1n, MIN_TOKEN + 2n], 1)).toEqual([
      { start: MIN_TOKEN, end: MIN_TOKEN + 1n },
      { start: MIN_TOKEN + 1n, end: MIN_TOKEN + 2n },
      { start: MIN_TOKEN + 2n, end: MAX_TOKEN },
    ]);
    // A one-token interval is never split, however many ranges are asked for.
    const ranges = splitRing([MAX_TOKEN - 1n], 1000);
    expect(ranges.at(-1)).toEqual({ start: MAX_TOKEN - 1n, end: MAX_TOKEN });
    expect(ranges).toHaveLength(1000);
  });

  it('rejects tokens outside the ring and bad counts', () => {
    expect(() => splitRing([MAX_TOKEN + 1n], 4)).toThrow(RangeError);
    expect(() => splitRing([MIN_TOKEN - 1n], 4)).toThrow(RangeError);
    for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 21]) expect(() => splitRing([], bad)).toThrow(RangeError);
  });
});

describe('containsToken and coverageProblem', () => {
  it('treats ranges as start-exclusive, end-inclusive', () => {
    const range = { start: -5n, end: 7n };
    expect([-5n, -4n, 7n, 8n].map((t) => containsToken(range, t))).toEqual([false, true, true, false]);
    expect(containsToken({ start: MAX_TOKEN - 1n, end: MAX_TOKEN }, MAX_TOKEN)).toBe(true);
  });

  it('finds gaps, overlaps, empty ranges and a missing end', () => {
    expect(coverageProblem([])).toMatch(/end at/);
    expect(coverageProblem([{ start: MIN_TOKEN, end: 0n }, { start: 1n, end: MAX_TOKEN }])).toMatch(/gap/);
    expect(coverageProblem([{ start: MIN_TOKEN, end: 0n }, { start: -1n, end: MAX_TOKEN }])).toMatch(/overlap/);
    expect(coverageProblem([{ start: MIN_TOKEN, end: MIN_TOKEN }, { start: MIN_TOKEN, end: MAX_TOKEN }])).toMatch(/empty/);
    expect(coverageProblem([{ start: MIN_TOKEN, end: MAX_TOKEN - 1n }])).toMatch(/not at/);
    expect(coverageProblem([{ start: MIN_TOKEN, end: MAX_TOKEN + 1n }])).toMatch(/past/);
  });
});

describe('formatToken / parseToken', () => {
  it('round-trips every token', () => {
    fc.assert(
      fc.property(edgyToken, (t) => {
        const text = formatToken(t);
        expect(parseToken(text)).toBe(t);
        expect(formatToken(parseToken(text) ?? 0n)).toBe(text);
      }),
    );
    expect(formatToken(MIN_TOKEN)).toBe('-9223372036854775808');
    expect(formatToken(MAX_TOKEN)).toBe('9223372036854775807');
  });

  it('rejects values outside the ring and non-canonical text', () => {
    const bad = ['9223372036854775808', '-9223372036854775809', '99999999999999999999999', '', '-', '-0', '+1', '01', ' 1', '1 ', '1.0', '1e3', '0x10', 'abc'];
    for (const text of bad) expect(parseToken(text), text).toBeUndefined();
  });
});

describe('defaultSplitCount', () => {
  it('is 8 × cores for a small cluster of unknown size, and never below the ring token count', () => {
    expect(defaultSplitCount({ nodes: 1, cores: 2 })).toBe(16);
    expect(defaultSplitCount({ nodes: 1, cores: 2, ringTokens: 16 })).toBe(16);
    expect(defaultSplitCount({ nodes: 12, cores: 2, ringTokens: 12 * 256 })).toBe(3072);
    expect(defaultSplitCount({ nodes: 40, cores: 2, ringTokens: 40 })).toBe(160);
  });

  it('scales with the table size up to a cap, and does not shred small tables', () => {
    const MiB = 1024 * 1024;
    expect(defaultSplitCount({ nodes: 1, cores: 2, estimatedBytes: 10 * 1024 * MiB })).toBe(160);
    expect(defaultSplitCount({ nodes: 1, cores: 2, estimatedBytes: 1024 ** 5 })).toBe(MAX_DEFAULT_SPLITS);
    expect(defaultSplitCount({ nodes: 1, cores: 2, estimatedBytes: 3 * MiB })).toBe(3);
    expect(defaultSplitCount({ nodes: 1, cores: 2, estimatedBytes: 3 * MiB, ringTokens: 16 })).toBe(16);
    expect(defaultSplitCount({ nodes: 1, cores: 2, estimatedBytes: 0 })).toBe(1);
  });

  it('gives each in-flight range read four ranges when --parallel exceeds 2 × cores', () => {
    expect(defaultSplitCount({ nodes: 1, cores: 2, parallel: 2 })).toBe(16);
    expect(defaultSplitCount({ nodes: 1, cores: 2, parallel: 16 })).toBe(64);
    expect(defaultSplitCount({ nodes: 1, parallel: 16, ringTokens: 16 })).toBe(64);
  });

  it('tolerates nonsense inputs', () => {
    expect(defaultSplitCount({ nodes: 0, cores: 0 })).toBe(8);
    expect(defaultSplitCount({ nodes: Number.NaN, cores: -3, parallel: Number.POSITIVE_INFINITY, estimatedBytes: -1 })).toBe(1);
  });
});
