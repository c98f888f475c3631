/**
 * What the row planners produce, in the lowest module of writes/ so that every planner
 * (row-writes.ts, row-writes-lwt.ts, list-writes.ts) can name it without importing another.
 */

/** How restored cells relate to what the target may already hold. */
export type Guard =
  /** Restore into empty (or truncated) targets: cells keep their original writetimes. */
  | { readonly kind: 'none' }
  /** Every cell written at its original writetime + 1 µs: wins a tie, loses to later application writes. */
  | { readonly kind: 'timestamp' }
  /**
   * `UPDATE … IF <column> = expected`: only rows whose target still holds `expected` are written,
   * at the LWT's ballot time (writetimes are not preserved). `expected` is the §6.3 JSON of a value
   * of the column's type, or null for "the column is null".
   */
  | { readonly kind: 'lwt'; readonly column: string; readonly expected: unknown };

/** One CQL write, to be run as a prepared statement with `params`. */
export interface WriteStatement {
  readonly cql: string;
  readonly params: readonly unknown[];
  /** Safe to retry or run twice (driver retries, speculative execution, restore resume). */
  readonly idempotent: boolean;
  /** A lightweight transaction: its result row carries `[applied]`; run it alone, never in a batch. */
  readonly conditional: boolean;
  /** Approximate serialized size of the bound values, for packing batches. */
  readonly bytes: number;
}
