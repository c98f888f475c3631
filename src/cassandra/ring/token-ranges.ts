/**
 * Token ranges of the Murmur3 ring and how a table is split into them (docs/format.md §2).
 *
 * Murmur3 tokens are signed 64-bit integers. `Murmur3Partitioner.normalize` maps −2^63 to 2^63−1,
 * so real tokens lie in (−2^63, 2^63−1] and 2^63−1 is a valid token. A range is start-exclusive,
 * end-inclusive — `(start, end]`, read with `token(pk) > start AND token(pk) <= end` — so ranges
 * that chain from −2^63 to 2^63−1 cover every row exactly once. Pure: no driver, no I/O.
 */

/** The smallest signed 64-bit value. Never a row's token; only ever the first range's start. */
export const MIN_TOKEN = -(2n ** 63n);
/** The largest signed 64-bit value: a valid token, the last range's end. */
export const MAX_TOKEN = 2n ** 63n - 1n;
/** The most ranges {@link splitRing} will make; past this, planning itself costs too much memory. */
export const MAX_SPLIT_COUNT = 1 << 20;

/** The tokens `t` with `start < t <= end`. A well-formed range has `start < end`, so it is never empty. */
export interface TokenRange {
  readonly start: bigint;
  readonly end: bigint;
}

/** Whether `token` lies in `(range.start, range.end]`. */
export function containsToken(range: TokenRange, token: bigint): boolean {
  return token > range.start && token <= range.end;
}

/**
 * Splits the ring into ranges that cover `(MIN_TOKEN, MAX_TOKEN]` exactly once, ascending, the first
 * starting at MIN_TOKEN and the last ending at MAX_TOKEN.
 *
 * Every boundary `b > MIN_TOKEN` is the end of some range, so no range crosses a boundary: pass the
 * ring's tokens and each range has exactly one replica set. Boundaries may be unsorted, repeated or
 * include MIN_TOKEN/MAX_TOKEN. The intervals between boundaries are then subdivided in proportion to
 * their width (largest-remainder apportionment, exact bigint arithmetic), so the result has
 * `targetCount` ranges when that is at least the number of intervals, and one range per interval
 * otherwise (a little more when many intervals are far narrower than the average range). Ranges are
 * never empty; the pieces of one interval differ in width by at most one token.
 *
 * @throws RangeError when a boundary is outside [MIN_TOKEN, MAX_TOKEN] or `targetCount` is not an
 *   integer in [1, MAX_SPLIT_COUNT].
 */
export function splitRing(boundaries: readonly bigint[], targetCount: number): TokenRange[] {
  if (!Number.isInteger(targetCount) || targetCount < 1 || targetCount > MAX_SPLIT_COUNT) {
    throw new RangeError(`split count must be an integer from 1 to ${MAX_SPLIT_COUNT}, got ${targetCount}`);
  }
  const intervals = boundaryIntervals(boundaries);
  const counts = apportion(intervals.map((i) => i.end - i.start), BigInt(targetCount));
  const ranges: TokenRange[] = [];
  intervals.forEach((interval, i) => {
    const pieces = counts[i] ?? 1n;
    const width = interval.end - interval.start;
    let start = interval.start;
    for (let j = 1n; j <= pieces; j++) {
      const end = j === pieces ? interval.end : interval.start + (width * j) / pieces;
      ranges.push({ start, end });
      start = end;
    }
  });
  return ranges;
}

/** The intervals the boundaries cut the ring into, ascending, chaining from MIN_TOKEN to MAX_TOKEN. */
function boundaryIntervals(boundaries: readonly bigint[]): TokenRange[] {
  for (const b of boundaries) {
    if (b < MIN_TOKEN || b > MAX_TOKEN) throw new RangeError(`token ${b} is outside the Murmur3 ring`);
  }
  // MIN_TOKEN cannot end a range: nothing precedes it. MAX_TOKEN always ends the last one.
  const ends = [...new Set([...boundaries, MAX_TOKEN])].filter((b) => b > MIN_TOKEN).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let start = MIN_TOKEN;
  return ends.map((end) => {
    const interval = { start, end };
    start = end;
    return interval;
  });
}

/**
 * Splits `total` pieces over intervals in proportion to `widths` (all ≥ 1): each gets
 * max(1, ⌊quota⌋) and the pieces still missing go to the largest remainders. An interval bumped from
 * 0 to 1 gets no extra piece, so every count stays ≤ its width (quota < width since total < 2^64−1).
 */
function apportion(widths: readonly bigint[], total: bigint): bigint[] {
  const ringWidth = MAX_TOKEN - MIN_TOKEN;
  const quotas = widths.map((w) => ({ floor: (w * total) / ringWidth, remainder: (w * total) % ringWidth }));
  const counts = quotas.map((q) => (q.floor > 0n ? q.floor : 1n));
  let missing = total - counts.reduce((a, b) => a + b, 0n);
  if (missing <= 0n) return counts;
  const order = quotas
    .map((q, index) => ({ ...q, index }))
    .filter((q) => q.floor > 0n && q.remainder > 0n)
    .sort((a, b) => (a.remainder > b.remainder ? -1 : a.remainder < b.remainder ? 1 : a.index - b.index));
  for (const q of order) {
    if (missing === 0n) break;
    counts[q.index] = (counts[q.index] ?? 0n) + 1n;
    missing--;
  }
  return counts;
}

/**
 * Why `ranges` do not cover `(MIN_TOKEN, MAX_TOKEN]` exactly once in ascending order, or undefined
 * when they do. For checking a plan read back from a backup before trusting it.
 */
export function coverageProblem(ranges: readonly TokenRange[]): string | undefined {
  let expectedStart = MIN_TOKEN;
  for (const [index, range] of ranges.entries()) {
    if (range.start !== expectedStart) {
      return `range ${index} starts at ${range.start}, expected ${expectedStart} (${range.start > expectedStart ? 'gap' : 'overlap'})`;
    }
    if (range.end <= range.start) return `range ${index} (${range.start}, ${range.end}] is empty`;
    if (range.end > MAX_TOKEN) return `range ${index} ends past ${MAX_TOKEN}`;
    expectedStart = range.end;
  }
  return expectedStart === MAX_TOKEN ? undefined : `the ranges end at ${expectedStart}, not at ${MAX_TOKEN}`;
}

/** Inputs to {@link defaultSplitCount}. */
export interface SplitCountInput {
  /** Nodes in the cluster (all data centres). */
  readonly nodes: number;
  /** CPU cores of this machine (`os.availableParallelism()`); 1 if not given. */
  readonly cores?: number;
  /** Range reads the backup keeps in flight (`--parallel`), if known. */
  readonly parallel?: number;
  /** Tokens in the ring (sum of every node's vnodes); {@link splitRing} never makes fewer ranges. */
  readonly ringTokens?: number;
  /** The table's size, one replica's worth (e.g. summed from `system.size_estimates`), if known. */
  readonly estimatedBytes?: number;
}

/** Aim for ranges of at most this many bytes: a lost range costs at most this much re-reading. */
export const TARGET_RANGE_BYTES = 64 * 1024 * 1024;
/** Do not cut a table whose size is known into ranges smaller than this. */
export const MIN_RANGE_BYTES = 1024 * 1024;
/** Upper bound of the default: the plan (one entry per range in backup.json) stays a few MB. */
export const MAX_DEFAULT_SPLITS = 65_536;

/**
 * The default for `--splits`:
 *
 *     slots  = max(parallel, 2 × cores)
 *     wanted = max(4 × slots, 4 × nodes, ⌈estimatedBytes / 64 MiB⌉)
 *     if the size is known: wanted = min(wanted, ⌈estimatedBytes / 1 MiB⌉)
 *     result = max(min(wanted, 65 536), ringTokens, 1)
 *
 * - `4 × slots`: four ranges per in-flight read keep the last wave short (no long tail where one
 *   worker reads a huge range while the others idle). With `2 × cores` slots this is dsbulk's
 *   default `schema.splits = 8C`, which stays the floor when `parallel` is lower.
 * - `4 × nodes` gives every coordinator several ranges, which matters with one token per node.
 * - `⌈bytes / 64 MiB⌉` bounds the work lost on an interrupted or failed range (resume is per range)
 *   and keeps a range near one chunk (`maxChunkBytes` defaults to 64 MiB).
 * - `⌈bytes / 1 MiB⌉` stops a small table from becoming hundreds of near-empty ranges, each costing
 *   a query and a marker object.
 * - `ringTokens`: a range never crosses a vnode boundary, so the ring's token count is a floor anyway.
 */
export function defaultSplitCount(input: SplitCountInput): number {
  const whole = (n: number | undefined): number => (n === undefined || !Number.isFinite(n) ? 0 : Math.max(0, Math.floor(n)));
  const slots = Math.max(whole(input.parallel), 2 * Math.max(1, whole(input.cores ?? 1)));
  let wanted = Math.max(4 * slots, 4 * whole(input.nodes));
  if (input.estimatedBytes !== undefined) {
    const bytes = whole(input.estimatedBytes);
    wanted = Math.max(wanted, Math.ceil(bytes / TARGET_RANGE_BYTES));
    wanted = Math.min(wanted, Math.ceil(bytes / MIN_RANGE_BYTES));
  }
  return Math.max(Math.min(wanted, MAX_DEFAULT_SPLITS), whole(input.ringTokens), 1);
}

/** The decimal form used in the format: `-9223372036854775808`, `0`, `42`. */
export function formatToken(token: bigint): string {
  return token.toString(10);
}

const DECIMAL = /^-?(0|[1-9][0-9]*)$/;

/**
 * Parses the canonical decimal form of a token (what {@link formatToken} writes: no sign on zero, no
 * leading zeros or `+`, no spaces). Returns undefined for anything else or for a value outside
 * [MIN_TOKEN, MAX_TOKEN]; the caller reports it in its own terms (bad flag vs damaged backup).
 */
export function parseToken(text: string): bigint | undefined {
  if (!DECIMAL.test(text) || text === '-0' || text.length > 20) return undefined;
  const value = BigInt(text);
  return value < MIN_TOKEN || value > MAX_TOKEN ? undefined : value;
}
