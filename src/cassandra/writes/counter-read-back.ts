/**
 * Reading a counter row of the backup back from the target, to tell whether a restore already
 * added it. Counters are restored by adding (`c = c + n`, row-writes.ts), which no retry or replay
 * may repeat; a restore starts counter tables empty and every primary key appears once in a
 * backup, so each counter of a restored row is either still 0 (absent: not added yet) or the
 * backup's value (added). All counters of a row are added in one single-partition batch, which
 * Cassandra applies atomically, so a row is never half added by the restore itself: anything else
 * was written by someone else.
 */
import type { CqlSession } from '../connection/session.js';
import { decodeRow, keyFor, tableShapeFor, whereClause, type BackupRow, type TableShape } from './row-shape.js';
import type { TableWriterTarget } from './row-writes.js';

/**
 * A row's counters in the target: `absent` (every counter 0 or null: not added), `applied` (every
 * counter equals the backup's), or `different` (neither), with the columns as `name=target/backup`.
 * A row whose backed-up counters are all 0 reads as `applied` (adding 0 again would change nothing).
 */
export type CounterRowState =
  | { readonly kind: 'absent' }
  | { readonly kind: 'applied' }
  | { readonly kind: 'different'; readonly columns: string };

/** Reads counter rows of one table back from the target. Built once per table. */
export interface CounterReadBack {
  /**
   * The state of `row` (a backed-up row of the table) in the target, read at `consistency` (a
   * driver code) by its primary key. Rejects with the driver's error when the read fails.
   */
  check(session: CqlSession, row: BackupRow, consistency: number): Promise<CounterRowState>;
}

/** The read-back of `target.table`, a counter table. */
export function counterReadBackFor(target: TableWriterTarget): CounterReadBack {
  const shape = tableShapeFor(target.keyspace, target.table, target.types);
  if (!shape.isCounter) throw new Error(`counterReadBackFor: ${shape.qualified} is not a counter table`);
  return Object.freeze({ check: (session: CqlSession, row: BackupRow, consistency: number) => checkRow(shape, session, row, consistency) });
}

async function checkRow(shape: TableShape, session: CqlSession, row: BackupRow, consistency: number): Promise<CounterRowState> {
  // Counters never expire: any `now` decodes every cell.
  const decoded = decodeRow(shape, row, 0);
  const key = keyFor(shape, decoded, false);
  const columns = decoded.singles.map((cell) => cell.column);
  if (columns.length === 0) return { kind: 'applied' };
  const cql = `SELECT ${columns.map((c) => c.quoted).join(', ')} FROM ${shape.qualified} WHERE ${whereClause(key.columns)}`;
  const rs = await session.execute(cql, key.params, { prepare: true, consistency });
  const found = rs.rows[0];
  let zero = true;
  let equal = true;
  const described: string[] = [];
  decoded.singles.forEach((cell, i) => {
    const expected = BigInt(String(cell.value));
    const actual = found === undefined ? 0n : BigInt(String(found.get(i) ?? 0));
    if (actual !== 0n) zero = false;
    if (actual !== expected) equal = false;
    described.push(`${cell.column.name}=${actual}/${expected}`);
  });
  if (equal) return { kind: 'applied' };
  if (zero) return { kind: 'absent' };
  return { kind: 'different', columns: described.join(', ') };
}
