/**
 * Compares many ranges (bounded parallelism) and sums them up per table, keeping the report
 * bounded: counts are complete, listed keys stop at `maxKeys` per kind per table.
 */
import { forEachBounded } from '../retry.js';
import { compareRange, type CompareDeps, type CompareRangeJob, type CompareSettings } from './compare-range.js';
import type { ColumnDifference } from './row-match.js';

/** One table's comparison. Keys are §6.1 `k` arrays; values never appear. */
export interface TableComparison {
  readonly name: string;
  readonly ranges: number;
  /** Ranges whose digests differed and were drilled down (some only at an expiry bucket's edge). */
  readonly rangesDrilled: number;
  /** Ranges with a real difference (rows listed), or too big to list. */
  readonly rangesDiffering: number;
  /** Ranges whose digests differed but that hold more rows than --max-drill-rows: not listed. */
  readonly rangesNotListed: number;
  /** Rows in the backup, and rows the live read returned. */
  readonly backupRows: number;
  readonly liveRows: number;
  /** Backed-up rows whose cells had all expired by the comparison: legitimately absent live. */
  readonly expectedAbsent: number;
  readonly missing: number;
  readonly extra: number;
  readonly different: number;
  readonly missingKeys: readonly unknown[][];
  readonly extraKeys: readonly unknown[][];
  readonly differentRows: readonly { readonly key: unknown[]; readonly columns: readonly ColumnDifference[] }[];
  readonly identical: boolean;
}

interface Tally {
  ranges: number;
  rangesDrilled: number;
  rangesDiffering: number;
  rangesNotListed: number;
  backupRows: number;
  liveRows: number;
  expectedAbsent: number;
  missing: number;
  extra: number;
  different: number;
}

/** Listed items with the index of their range, so the report lists them in range order. */
type Indexed<T> = { readonly index: number; readonly value: T };

interface Listed {
  missing: Indexed<unknown[]>[];
  extra: Indexed<unknown[]>[];
  different: Indexed<TableComparison['differentRows'][number]>[];
}

/** The first `max` items in range order (a stable sort keeps each range's own order). */
function trimmed<T>(items: Indexed<T>[], max: number): Indexed<T>[] {
  return items.sort((a, b) => a.index - b.index).slice(0, max);
}

function byKeyOrder<T>(items: Indexed<T>[]): T[] {
  return items.sort((a, b) => a.index - b.index).map((i) => i.value);
}

/**
 * Compares every job; `tables` names the tables in report order. `onRangeDone` is called as each
 * range finishes (progress).
 */
export async function compareTables(
  tables: readonly string[],
  jobs: readonly CompareRangeJob[],
  settings: CompareSettings,
  deps: CompareDeps & { readonly parallel: number; readonly onRangeDone: (table: string) => void },
): Promise<TableComparison[]> {
  const tallies = new Map<string, Tally>(tables.map((name) => [name, {
    ranges: 0, rangesDrilled: 0, rangesDiffering: 0, rangesNotListed: 0, backupRows: 0, liveRows: 0, expectedAbsent: 0,
    missing: 0, extra: 0, different: 0,
  }]));
  const listed = new Map<string, Listed>(
    tables.map((name) => [name, { missing: [], extra: [], different: [] }]),
  );
  await forEachBounded(jobs, deps.parallel, async (job) => {
    const outcome = await compareRange(job, settings, deps);
    const t = tallies.get(job.table) as Tally;
    const l = listed.get(job.table) as Listed;
    t.ranges++;
    t.backupRows += outcome.backupRows;
    t.liveRows += outcome.liveRows;
    if (!outcome.digestsEqual) t.rangesDrilled++;
    if (outcome.tooBig) {
      t.rangesDiffering++;
      t.rangesNotListed++;
    }
    const m = outcome.match;
    if (m !== undefined) {
      t.expectedAbsent += m.expectedAbsent;
      t.missing += m.missing;
      t.extra += m.extra;
      t.different += m.different;
      if (m.missing + m.extra + m.different > 0) t.rangesDiffering++;
      l.missing.push(...m.missingKeys.map((value) => ({ index: job.index, value })));
      l.extra.push(...m.extraKeys.map((value) => ({ index: job.index, value })));
      l.different.push(...m.differentRows.map((value) => ({ index: job.index, value })));
      // Bounded: only the lowest-range keys survive to the report, so the rest can go now.
      if (l.missing.length > 2 * settings.maxKeys) l.missing = trimmed(l.missing, settings.maxKeys);
      if (l.extra.length > 2 * settings.maxKeys) l.extra = trimmed(l.extra, settings.maxKeys);
      if (l.different.length > 2 * settings.maxKeys) l.different = trimmed(l.different, settings.maxKeys);
    }
    deps.onRangeDone(job.table);
  }, deps.signal);
  return tables.map((name) => {
    const t = tallies.get(name) as Tally;
    const l = listed.get(name) as Listed;
    return {
      name,
      ...t,
      missingKeys: byKeyOrder(l.missing).slice(0, settings.maxKeys),
      extraKeys: byKeyOrder(l.extra).slice(0, settings.maxKeys),
      differentRows: byKeyOrder(l.different).slice(0, settings.maxKeys),
      identical: t.missing + t.extra + t.different + t.rangesNotListed === 0,
    };
  });
}
