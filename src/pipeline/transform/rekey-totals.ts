/**
 * The counts of a re-encryption (format.md §8 `rekeyTotals`), summed over chunks, ranges and
 * rounds the same way by rekey, rotate's transform stage and rotate's report.
 */
import type { RekeyTotals } from '../../manifest/format.js';

export const ZERO_TOTALS: RekeyTotals = Object.freeze({ rowsChanged: 0, rowsSkipped: 0, valuesRotated: 0, valuesAlreadyCurrent: 0, valuesQuarantined: 0 });

/** The counts of anything that carries them (a chunk result, a marker). */
export function totalsOf(m: RekeyTotals): RekeyTotals {
  return { rowsChanged: m.rowsChanged, rowsSkipped: m.rowsSkipped, valuesRotated: m.valuesRotated, valuesAlreadyCurrent: m.valuesAlreadyCurrent, valuesQuarantined: m.valuesQuarantined };
}

export function addTotals(a: RekeyTotals, b: RekeyTotals): RekeyTotals {
  return {
    rowsChanged: a.rowsChanged + b.rowsChanged,
    rowsSkipped: a.rowsSkipped + b.rowsSkipped,
    valuesRotated: a.valuesRotated + b.valuesRotated,
    valuesAlreadyCurrent: a.valuesAlreadyCurrent + b.valuesAlreadyCurrent,
    valuesQuarantined: a.valuesQuarantined + b.valuesQuarantined,
  };
}
