/**
 * The drill-down of a range whose digests differ: rows of the two sides matched by primary key,
 * and each pair compared column by column — values and writetimes exactly, expiries within
 * EXPIRY_TOLERANCE_SECONDS. Only keys and column names come out, never a value.
 *
 * Expiry near "now" (docs/config.md, `cassette diff`): a cell (or row) that expires at or before
 * the moment of the comparison plus the tolerance may be present on one side and gone on the
 * other without either being wrong. So two rows are equal when they are equal once every cell
 * expiring by `now + tolerance` — or, for pairs straddling that edge, by `now + 2 × tolerance` —
 * is dropped from both; a backed-up row that is missing live is expected-absent when all its
 * cells expire by then.
 */
import { EXPIRY_TOLERANCE_SECONDS, withoutExpired, type StoredCell, type StoredRow } from './row-digest.js';

/** How one column of a row differs. `missing`: only the backup has a cell; `extra`: only the live table. */
export interface ColumnDifference {
  readonly column: string;
  readonly kind: 'missing' | 'extra' | 'changed';
  readonly value: boolean;
  readonly writetime: boolean;
  readonly expiry: boolean;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

function expiriesClose(a: StoredCell['e'], b: StoredCell['e']): boolean {
  if (a === undefined || b === undefined) return a === b;
  const left = [a].flat();
  const right = [b].flat();
  if (left.length !== right.length) return false;
  return left.every((x, i) => {
    const y = right[i] ?? null;
    if (x === null || y === null) return x === y;
    return Math.abs(x - y) <= EXPIRY_TOLERANCE_SECONDS;
  });
}

/** Column differences of two versions of a row, both already without their expired cells. */
function cellDifferences(backup: StoredRow, live: StoredRow, valueOnly: ReadonlySet<string>): ColumnDifference[] {
  const out: ColumnDifference[] = [];
  const names = [...new Set([...Object.keys(backup.c), ...Object.keys(live.c)])].sort();
  for (const column of names) {
    const b = backup.c[column];
    const l = live.c[column];
    if (b === undefined) {
      out.push({ column, kind: 'extra', value: true, writetime: false, expiry: false });
      continue;
    }
    if (l === undefined) {
      out.push({ column, kind: 'missing', value: true, writetime: false, expiry: false });
      continue;
    }
    const value = !same(b.v, l.v);
    const writetime = !valueOnly.has(column) && !same(b.t, l.t);
    const expiry = !valueOnly.has(column) && !expiriesClose(b.e, l.e);
    if (value || writetime || expiry) out.push({ column, kind: 'changed', value, writetime, expiry });
  }
  return out;
}

/**
 * How the live version of a row differs from the backed-up one, compared at `nowSeconds` (the
 * live row was read at or before it): an empty list when they are equal.
 */
export function compareRow(backup: StoredRow, live: StoredRow, nowSeconds: number, valueOnly: ReadonlySet<string>): ColumnDifference[] {
  let first: ColumnDifference[] | undefined;
  for (const cutoff of [nowSeconds + EXPIRY_TOLERANCE_SECONDS, nowSeconds + 2 * EXPIRY_TOLERANCE_SECONDS]) {
    const differences = cellDifferences(withoutExpired(backup, cutoff).row, withoutExpired(live, cutoff).row, valueOnly);
    if (differences.length === 0) return differences;
    first ??= differences;
  }
  return first ?? [];
}

/** Whether a row present on one side only may be absent from the other because all its cells expire by then. */
export function expiresAway(row: StoredRow, nowSeconds: number): boolean {
  return withoutExpired(row, nowSeconds + 2 * EXPIRY_TOLERANCE_SECONDS).expiredAway;
}

/** The outcome of matching the two sides of one range. */
export interface RangeMatch {
  /** Rows present on both sides (compared). */
  compared: number;
  /** Backed-up rows not live because all their cells have expired: expected, not a difference. */
  expectedAbsent: number;
  missing: number;
  extra: number;
  different: number;
  /** Keys (§6.1 `k`) of the first differing rows of each kind, at most `maxKeys` each. */
  readonly missingKeys: unknown[][];
  readonly extraKeys: unknown[][];
  readonly differentRows: { readonly key: unknown[]; readonly columns: readonly ColumnDifference[] }[];
}

export function emptyMatch(): RangeMatch {
  return { compared: 0, expectedAbsent: 0, missing: 0, extra: 0, different: 0, missingKeys: [], extraKeys: [], differentRows: [] };
}

/**
 * Matches live rows against the backed-up rows of the same range. Feed every live row to
 * `live()`, then call `finish()`; `backup` is consumed (rows are deleted as they are matched), so
 * memory falls as the live side streams by.
 */
export class RowMatcher {
  readonly #backup: Map<string, StoredRow>;
  readonly #valueOnly: ReadonlySet<string>;
  readonly #maxKeys: number;
  readonly result: RangeMatch = emptyMatch();

  constructor(backup: Map<string, StoredRow>, options: { valueOnly: ReadonlySet<string>; maxKeys: number }) {
    this.#backup = backup;
    this.#valueOnly = options.valueOnly;
    this.#maxKeys = options.maxKeys;
  }

  /** One live row, read at or before `nowSeconds`. */
  live(key: string, row: StoredRow, nowSeconds: number): void {
    const stored = this.#backup.get(key);
    const r = this.result;
    if (stored === undefined) {
      if (expiresAway(row, nowSeconds)) return;
      r.extra++;
      if (r.extraKeys.length < this.#maxKeys) r.extraKeys.push([...row.k]);
      return;
    }
    this.#backup.delete(key);
    r.compared++;
    const columns = compareRow(stored, row, nowSeconds, this.#valueOnly);
    if (columns.length === 0) return;
    r.different++;
    if (r.differentRows.length < this.#maxKeys) r.differentRows.push({ key: [...row.k], columns });
  }

  /** The backed-up rows no live row matched: missing, or expected-absent when they expire by `nowSeconds`. */
  finish(nowSeconds: number): RangeMatch {
    const r = this.result;
    for (const row of this.#backup.values()) {
      if (expiresAway(row, nowSeconds)) {
        r.expectedAbsent++;
        continue;
      }
      r.missing++;
      if (r.missingKeys.length < this.#maxKeys) r.missingKeys.push([...row.k]);
    }
    this.#backup.clear();
    return r;
  }
}
