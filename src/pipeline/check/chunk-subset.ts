/**
 * Which chunks `cassette verify --read-data-subset` reads (restic's `check --read-data-subset`):
 * a deterministic part of them, chosen by the SHA-256 of each chunk's key relative to its backup's
 * folder (`data/<table>/<range>-<attempt>-<seq>.ndjson.gz`), read as a 64-bit number h.
 *
 * - `P%` reads the chunks with h / 2^64 < P / 100: about P% of them, the same ones every time, and
 *   a larger P reads a superset of a smaller one.
 * - `n/m` reads the chunks with h mod m = n − 1: the m slices are disjoint and together are every
 *   chunk, so `1/7` … `7/7` on seven days read the whole backup once a week.
 * - `all` (the default) reads every chunk, `none` (`0`, `0%`, `--no-read-data`) reads none: only
 *   presence and sizes are checked.
 */
import { createHash } from 'node:crypto';
import { CassetteError } from '../../errors.js';

export type DataSubset =
  | { readonly kind: 'all' }
  | { readonly kind: 'none' }
  | { readonly kind: 'percent'; readonly percent: number }
  | { readonly kind: 'slice'; readonly n: number; readonly m: number };

const TWO_64 = 2n ** 64n;

/** Parses `--read-data-subset`: `10%`, `2.5%`, `3/7`, `0`, `all`, `none`. USAGE for anything else. */
export function parseDataSubset(text: string): DataSubset {
  const value = text.trim();
  if (value === 'all' || value === '100%') return { kind: 'all' };
  if (value === 'none' || value === '0' || value === '0%') return { kind: 'none' };
  const percent = /^(\d{1,3}(?:\.\d{1,4})?)%$/.exec(value);
  if (percent !== null) {
    const p = Number(percent[1]);
    if (p > 0 && p < 100) return { kind: 'percent', percent: p };
  }
  const slice = /^(\d{1,6})\/(\d{1,6})$/.exec(value);
  if (slice !== null) {
    const n = Number(slice[1]);
    const m = Number(slice[2]);
    if (n >= 1 && n <= m) return m === 1 ? { kind: 'all' } : { kind: 'slice', n, m };
  }
  throw new CassetteError('USAGE', `--read-data-subset must be a percentage (10%), a slice n/m with 1 ≤ n ≤ m (3/7), all or 0, not "${text}"`);
}

/** How a subset is written back in reports. */
export function describeDataSubset(subset: DataSubset): string {
  switch (subset.kind) {
    case 'all': return 'all';
    case 'none': return 'none';
    case 'percent': return `${subset.percent}%`;
    case 'slice': return `${subset.n}/${subset.m}`;
  }
}

/** The 64-bit number the selection is made by: the first 8 bytes of SHA-256(relativeKey), big-endian. */
export function chunkKeyHash(relativeKey: string): bigint {
  return createHash('sha256').update(relativeKey, 'utf8').digest().readBigUInt64BE(0);
}

/** Whether the chunk with this key (relative to its backup's folder) is in the subset. */
export function selectsChunk(subset: DataSubset, relativeKey: string): boolean {
  switch (subset.kind) {
    case 'all': return true;
    case 'none': return false;
    case 'percent':
      // h / 2^64 < p / 100, with p in hundredths of a percent to stay in integers.
      return chunkKeyHash(relativeKey) * 1_000_000n < BigInt(Math.round(subset.percent * 10_000)) * TWO_64;
    case 'slice':
      return chunkKeyHash(relativeKey) % BigInt(subset.m) === BigInt(subset.n - 1);
  }
}
