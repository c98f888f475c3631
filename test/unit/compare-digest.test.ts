/**
 * The comparison core of `diff` and `drill` (src/pipeline/compare/): range digests that ignore row
 * order but not duplicates, expiry buckets, dropping expired cells and elements, and the row
 * matcher's verdicts (missing, extra, different by column; expiry tolerance; expected-absent rows).
 */
import { describe, expect, it } from 'vitest';
import {
  EXPIRY_BUCKET_SECONDS, EXPIRY_TOLERANCE_SECONDS, RangeDigest, cellWithoutExpired, rowHash, rowKey, withoutExpired, type StoredRow,
} from '../../src/pipeline/compare/row-digest.js';
import { compareRow, RowMatcher } from '../../src/pipeline/compare/row-match.js';

const none = new Set<string>();
const digestOf = (rows: readonly StoredRow[], valueOnly: ReadonlySet<string> = none): RangeDigest => {
  const d = new RangeDigest();
  for (const row of rows) d.add(rowHash(row, valueOnly));
  return d;
};
const row = (k: unknown[], c: StoredRow['c']): StoredRow => ({ k, c });

const NOW = 1_800_000_000;
const a = row([1, 'a'], { x: { v: 'one', t: 10 }, y: { v: [1, 2], t: [11, 12], e: [NOW + 9000, null] } });
const b = row([2, 'b'], { x: { v: 'two', t: 20, e: NOW + 100_000 } });
const c = row([3, null], {});

describe('range digest', () => {
  it('does not depend on the order of rows or of columns within a row', () => {
    const reordered = row([1, 'a'], { y: a.c.y as StoredRow['c'][string], x: a.c.x as StoredRow['c'][string] });
    expect(digestOf([a, b, c]).equals(digestOf([c, reordered, b]))).toBe(true);
    expect(digestOf([a, b, c]).rows).toBe(3);
  });

  it('counts a duplicated row (a sum, not an XOR: two copies do not cancel out)', () => {
    const twice = digestOf([a, a, b]);
    expect(twice.equals(digestOf([b]))).toBe(false);
    expect(twice.equals(digestOf([a, b]))).toBe(false);
    expect(twice.sum).not.toBe(digestOf([b]).sum);
  });

  it('sees a change of value, writetime, key, or whether a cell expires', () => {
    const base = digestOf([b]);
    expect(base.equals(digestOf([row([2, 'b'], { x: { v: 'TWO', t: 20, e: NOW + 100_000 } })]))).toBe(false);
    expect(base.equals(digestOf([row([2, 'b'], { x: { v: 'two', t: 21, e: NOW + 100_000 } })]))).toBe(false);
    expect(base.equals(digestOf([row([2, 'c'], { x: { v: 'two', t: 20, e: NOW + 100_000 } })]))).toBe(false);
    expect(base.equals(digestOf([row([2, 'b'], { x: { v: 'two', t: 20 } })]))).toBe(false);
  });

  it('puts only the hour of an expiry in the digest: seconds apart in one bucket are equal, across its edge not', () => {
    const start = Math.ceil(NOW / EXPIRY_BUCKET_SECONDS) * EXPIRY_BUCKET_SECONDS + 10 * EXPIRY_BUCKET_SECONDS;
    const at = (e: number): RangeDigest => digestOf([row([9], { x: { v: 1, t: 1, e } })]);
    expect(at(start + 100).equals(at(start + 102))).toBe(true);
    expect(at(start - 1).equals(at(start + 1))).toBe(false); // an edge: the drill-down settles it
  });

  it('ignores the writetime of value-only (counter) columns', () => {
    const counters = new Set(['views']);
    const one = row(['p'], { views: { v: '5', t: 100 } });
    const other = row(['p'], { views: { v: '5', t: 999 } });
    expect(digestOf([one], counters).equals(digestOf([other], counters))).toBe(true);
    expect(digestOf([one]).equals(digestOf([other]))).toBe(false);
  });
});

describe('expired cells', () => {
  it('drops a single cell expiring at or before the cutoff, keeps later ones', () => {
    expect(cellWithoutExpired({ v: 1, t: 1, e: NOW }, NOW)).toBeUndefined();
    expect(cellWithoutExpired({ v: 1, t: 1, e: NOW + 1 }, NOW)).toEqual({ v: 1, t: 1, e: NOW + 1 });
    expect(cellWithoutExpired({ v: 1, t: 1 }, NOW)).toEqual({ v: 1, t: 1 });
  });

  it('drops expired elements of lists, sets and maps, and the `e` list once no element left expires', () => {
    expect(cellWithoutExpired({ v: [1, 2, 3], t: [1, 2, 3], e: [NOW - 1, null, NOW + 50] }, NOW)).toEqual({ v: [2, 3], t: [2, 3], e: [null, NOW + 50] });
    expect(cellWithoutExpired({ v: [[1, 'a'], [2, 'b']], t: [1, 2], e: [null, NOW] }, NOW)).toEqual({ v: [[1, 'a']], t: [1] });
    expect(cellWithoutExpired({ v: ['x'], t: [1], e: [NOW] }, NOW)).toBeUndefined();
  });

  it('nulls the expired fields of a user type, and drops it when no field is left', () => {
    expect(cellWithoutExpired({ v: { f: 1, g: 'x' }, t: [5, 6], e: [NOW, null] }, NOW)).toEqual({ v: { f: null, g: 'x' }, t: [null, 6] });
    expect(cellWithoutExpired({ v: { f: 1, g: null }, t: [5, null], e: [NOW, null] }, NOW)).toBeUndefined();
  });

  it('says a row with cells went away when all expired, but not a key-only row', () => {
    expect(withoutExpired(row([1], { x: { v: 1, t: 1, e: NOW } }), NOW)).toEqual({ row: row([1], {}), expiredAway: true });
    expect(withoutExpired(c, NOW).expiredAway).toBe(false);
    expect(withoutExpired(b, NOW).row).toBe(b);
  });
});

describe('row matcher', () => {
  it('accepts expiries within the tolerance and names value, writetime and expiry differences by column', () => {
    const live = row([2, 'b'], { x: { v: 'two', t: 20, e: NOW + 100_000 + EXPIRY_TOLERANCE_SECONDS } });
    expect(compareRow(b, live, NOW, none)).toEqual([]);
    const later = row([2, 'b'], { x: { v: 'two', t: 20, e: NOW + 100_000 + EXPIRY_TOLERANCE_SECONDS + 1 } });
    expect(compareRow(b, later, NOW, none)).toEqual([{ column: 'x', kind: 'changed', value: false, writetime: false, expiry: true }]);
    const changed = row([2, 'b'], { x: { v: 'zwei', t: 21 }, z: { v: 0, t: 1 } });
    expect(compareRow(b, changed, NOW, none)).toEqual([
      { column: 'x', kind: 'changed', value: true, writetime: true, expiry: true },
      { column: 'z', kind: 'extra', value: true, writetime: false, expiry: false },
    ]);
    expect(compareRow(b, row([2, 'b'], {}), NOW, none)).toEqual([{ column: 'x', kind: 'missing', value: true, writetime: false, expiry: false }]);
  });

  it('treats a cell expiring around the comparison as legitimately absent on either side', () => {
    const stored = row([5], { x: { v: 1, t: 1, e: NOW + 2 }, y: { v: 2, t: 2 } });
    expect(compareRow(stored, row([5], { y: { v: 2, t: 2 } }), NOW, none)).toEqual([]);
    // The live copy expires 3 s later than the stored cell, on the other side of the first cutoff.
    const straddling = row([5], { x: { v: 1, t: 1, e: NOW + EXPIRY_TOLERANCE_SECONDS - 1 } });
    const copy = row([5], { x: { v: 1, t: 1, e: NOW + EXPIRY_TOLERANCE_SECONDS + 2 } });
    expect(compareRow(straddling, copy, NOW, none)).toEqual([]);
  });

  it('lists missing, extra and different rows by key, counting expired rows as expected-absent, with a bounded sample', () => {
    const stored = [a, b, c, row([4], { x: { v: 1, t: 1, e: NOW - 5 } }), row([6], { x: { v: 6, t: 6 } }), row([7], { x: { v: 7, t: 7 } })];
    const matcher = new RowMatcher(new Map(stored.map((r) => [rowKey(r), r])), { valueOnly: none, maxKeys: 1 });
    matcher.live(rowKey(a), a, NOW);
    matcher.live(rowKey(b), row([2, 'b'], { x: { v: 'two', t: 99, e: NOW + 100_000 } }), NOW);
    matcher.live(rowKey(c), c, NOW);
    for (const k of [[8], [9]]) matcher.live(JSON.stringify(k), row(k, { x: { v: 0, t: 0 } }), NOW);
    matcher.live('[10]', row([10], { x: { v: 0, t: 0, e: NOW + 1 } }), NOW); // about to expire: not extra
    const result = matcher.finish(NOW);
    expect({ compared: result.compared, expectedAbsent: result.expectedAbsent, missing: result.missing, extra: result.extra, different: result.different })
      .toEqual({ compared: 3, expectedAbsent: 1, missing: 2, extra: 2, different: 1 });
    expect(result.missingKeys).toEqual([[6]]);
    expect(result.extraKeys).toEqual([[8]]);
    expect(result.differentRows).toEqual([{ key: [2, 'b'], columns: [{ column: 'x', kind: 'changed', value: false, writetime: true, expiry: false }] }]);
  });
});
