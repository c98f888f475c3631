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
  /**
   * The TTL parameters, by position, with the absolute expiry (epoch seconds) each stands for: a
   * TTL is computed when the statement is planned, but the request may wait (rate limit, retries)
   * before it is sent; {@link withFreshTtls} recomputes them then, so the cell expires when its
   * source cell did. Absent: no TTL parameter depends on the time (none, or TTL 0).
   */
  readonly ttls?: readonly { readonly index: number; readonly expiresAt: number }[];
}

/**
 * `statement` with every TTL parameter recomputed for `nowSeconds` (at least 1: a TTL of 0 would
 * make the cell permanent). The statement itself when its TTLs do not depend on the time.
 */
export function withFreshTtls(statement: WriteStatement, nowSeconds: number): WriteStatement {
  if (statement.ttls === undefined || statement.ttls.length === 0) return statement;
  const params = [...statement.params];
  for (const { index, expiresAt } of statement.ttls) params[index] = Math.max(1, expiresAt - nowSeconds);
  return { ...statement, params };
}
