/**
 * Turning one backed-up row (docs/format.md §6.1–§6.2) into the CQL writes that reproduce it
 * exactly: every cell with its value, WRITETIME and remaining TTL, and the row's primary-key
 * liveness (row marker). Semantics relied on are in shared/reference/peers.md §0 and
 * collections.md; the section is cited where it decides something.
 *
 * Guard none / timestamp ({@link planPlainRow}), all statements for ONE partition:
 * - Single-cell columns (scalars, frozen values) grouped by (writetime, expiry): one
 *   `INSERT … USING TIMESTAMP ? AND TTL ?` per group, static and regular columns apart (a static
 *   cell is addressed by the partition key alone). INSERT, not UPDATE, because only INSERT writes
 *   the row marker (collections.md §6, CASSANDRA-6782); the marker takes the statement's timestamp
 *   and TTL, so after the groups merge the row lives exactly as long as its cells say.
 * - TTL = expiry − now at plan time; a cell whose expiry ≤ now is skipped and counted, never
 *   written with TTL ≤ 0 (0 would make it permanent). A cell without expiry gets `TTL 0`, because
 *   omitting USING TTL would apply the table's default_time_to_live (peers.md §0.6).
 * - A row whose `c` has no regular cell exists only through its marker: `INSERT (keys) … USING
 *   TIMESTAMP m AND TTL 0`. Format v1 does not store the marker (CQL cannot read it), so `m` is
 *   {@link TableWriterOptions.markerTimestampMicros} — the backup's read time — and its TTL is
 *   unknown: none is written. A row whose regular cells all expired gets no marker: it is gone.
 *   Rows whose regular cells are all multi-cell get no marker either (format v1 cannot tell an
 *   INSERTed collection from an UPDATEd one; without a marker an expiring collection cannot leave
 *   a key-only ghost row behind).
 * - Non-frozen sets and maps: one `UPDATE … SET c = c + ?` per (writetime, expiry) group of
 *   elements; never `SET c = {…}`, whose collection tombstone at t−1 would hide older elements
 *   (collections.md §4). Idempotent: an element's cell path is its value or key.
 * - Non-frozen user types: one `UPDATE … SET u.f = ?, …` per (writetime, expiry) group of non-null
 *   fields; null fields are not written (that would write a field tombstone, collections.md §5).
 * - Non-frozen lists: not statements but {@link ListWrite}s for writeList (list-writes.ts).
 * - Counter tables: `UPDATE … SET c = c + ?` per column, no timestamp or TTL (Cassandra rejects
 *   both on counters), non-idempotent: the caller checks the target is empty first.
 * - Guard timestamp: every timestamp written is the backed-up one + 1 µs (the marker's too), so
 *   the restored cell wins a tie with an older copy of itself deterministically (equal timestamps
 *   otherwise resolve by expiry, then by the larger value bytes: peers.md §0.3) while any later
 *   application write still wins.
 *
 * Guard lwt: see row-writes-lwt.ts.
 */
import { CassetteError } from '../../errors.js';
import { CqlMap } from '../values/cql-map.js';
import { quoteIdentifier } from '../values/identifiers.js';
import { listWriteFor, type ListWrite } from './list-writes.js';
import {
  cachedCql, decodeRow, groupByTime, keyFor, rowError, tableShapeFor, ttlFor, whereClause,
  type BackupRow, type DecodedRow, type MultiValue, type ShapeColumn, type SingleValue, type TableShape,
} from './row-shape.js';
import { conditionalGuardFor, planConditionalRow } from './row-writes-lwt.js';
import type { TableSchema, UserTypeSchema } from '../schema/model.js';
import type { RowPlan } from './row-plan.js';
import type { Guard, WriteStatement } from './statement.js';

export {
  listAppendBatch, writeList,
  type ListElement, type ListWrite, type ListWriteOutcome, type WriteListOptions,
} from './list-writes.js';
export type { BackupRow } from './row-shape.js';
export type { Guard, WriteStatement } from './statement.js';
export type { RowPlan } from './row-plan.js';

/** Plans the writes of a table's rows. Built once per table. */
export interface TableWriter {
  readonly keyspace: string;
  readonly table: string;
  /**
   * The writes for one row, given the current time in whole seconds since the epoch. Never throws
   * for expired cells: it skips and counts them.
   *
   * @throws CassetteError BACKUP_INVALID (or a ValueCodecError naming the column) for a row that
   *   does not fit the table; INVALID_INPUT for a row the guard cannot write (see row-writes-lwt.ts)
   *   or a writetime that +1 µs would overflow.
   */
  planRow(row: BackupRow, nowSeconds: number): RowPlan;
}

/** Where the rows go: the target keyspace, and the table and user types as the backup describes them. */
export interface TableWriterTarget {
  readonly keyspace: string;
  readonly table: TableSchema;
  readonly types: readonly UserTypeSchema[];
}

export interface TableWriterOptions {
  /**
   * The timestamp (µs) of the row marker written for rows that exist only through their primary
   * key, whose own marker timestamp format v1 does not store. Pass the backup's read time (its
   * start, in µs): the row certainly existed then, so a deletion made after the backup still wins.
   */
  readonly markerTimestampMicros: bigint;
  /**
   * Whether the target returns WRITETIME of a non-frozen list (Cassandra ≥ 5.0; true by default).
   * When false (4.x), writeList reads a target list back by its values alone (list-writes.ts).
   */
  readonly targetReadsListWritetimes?: boolean;
}

const INT64_MAX = 2n ** 63n - 1n;

/**
 * The writer of `target.table` under `guard`.
 *
 * @throws CassetteError INVALID_INPUT for a guard the table cannot take (lwt on a counter table, an
 *   unknown or key guard column, an expected value that is not of the column's type).
 */
export function tableWriterFor(target: TableWriterTarget, guard: Guard, options: TableWriterOptions): TableWriter {
  const shape = tableShapeFor(target.keyspace, target.table, target.types);
  const base = { keyspace: target.keyspace, table: target.table.name };
  switch (guard.kind) {
    case 'none':
    case 'timestamp': {
      const offset = guard.kind === 'timestamp' ? 1n : 0n;
      const shift = (writetime: bigint): bigint => {
        const shifted = writetime + offset;
        if (shifted > INT64_MAX) {
          throw new CassetteError('INVALID_INPUT', `${shape.keyspace}.${shape.table}: writetime ${writetime} + 1 µs overflows a 64-bit timestamp`, {
            hint: 'restore this table with --guard none',
          });
        }
        return shifted;
      };
      const marker = options.markerTimestampMicros;
      const listWritetimes = options.targetReadsListWritetimes ?? true;
      return Object.freeze({ ...base, planRow: (row: BackupRow, nowSeconds: number) => planPlainRow(shape, decodeRow(shape, row, nowSeconds), nowSeconds, shift, marker, listWritetimes) });
    }
    case 'lwt': {
      const conditional = conditionalGuardFor(shape, guard.column, guard.expected);
      return Object.freeze({ ...base, planRow: (row: BackupRow, nowSeconds: number) => planConditionalRow(shape, decodeRow(shape, row, nowSeconds), nowSeconds, conditional) });
    }
  }
}

/** The plan of a decoded row under guard none (`shift` = identity) or timestamp (`shift` = +1 µs). */
function planPlainRow(shape: TableShape, row: DecodedRow, nowSeconds: number, shift: (writetime: bigint) => bigint, markerTimestamp: bigint, listWritetimes: boolean): RowPlan {
  const statements: WriteStatement[] = [];
  const lists: ListWrite[] = [];
  if (shape.isCounter) {
    if (row.singles.length === 0) throw rowError(shape, row.k, 'a row of a counter table has no counter cell');
    for (const cell of row.singles) statements.push(counterUpdate(shape, row, cell));
    return { statements, expiredCells: row.expiredCells, lists };
  }
  // Static cells first, then the row's: the order does not matter to Cassandra (timestamps decide).
  for (const isStatic of [true, false]) {
    const cells = row.singles.filter((cell) => cell.column.isStatic === isStatic);
    for (const group of groupByTime(cells)) statements.push(insertGroup(shape, row, isStatic, group, nowSeconds, shift));
  }
  if (row.clustering !== null && !row.hasRegularCells) statements.push(markerInsert(shape, row, shift(markerTimestamp)));
  for (const multi of row.multis) {
    if (multi.column.type.kind === 'list') lists.push(listWriteFor(shape, row, multi, shift, listWritetimes));
    else statements.push(...elementUpdates(shape, row, multi, nowSeconds, shift));
  }
  return { statements, expiredCells: row.expiredCells, lists };
}

/** `INSERT INTO t (keys…, cols…) VALUES (…) USING TIMESTAMP ? AND TTL ?` for one (writetime, expiry) group. */
function insertGroup(shape: TableShape, row: DecodedRow, isStatic: boolean, group: readonly SingleValue[], nowSeconds: number, shift: (writetime: bigint) => bigint): WriteStatement {
  const first = group[0] as SingleValue;
  const key = keyFor(shape, row, isStatic);
  const params: unknown[] = key.params.slice();
  let bytes = key.bytes + 12;
  for (const cell of group) {
    params.push(cell.value);
    bytes += cell.bytes;
  }
  params.push(shift(first.writetime), ttlFor(first.expiresAt, nowSeconds));
  const statement: WriteStatement = { cql: insertCql(shape, key.columns, isStatic || row.clustering === null, group), params, idempotent: true, conditional: false, bytes };
  return first.expiresAt === null ? statement : { ...statement, ttls: [{ index: params.length - 1, expiresAt: first.expiresAt }] };
}

/** The INSERT text for `group`'s columns under `keyColumns` (variant 1: partition key only). */
function insertCql(shape: TableShape, keyColumns: readonly ShapeColumn[], partitionOnly: boolean, group: readonly SingleValue[]): string {
  return cachedCql(shape, partitionOnly ? 1 : 0, group, () => {
    const names = [...keyColumns.map((column) => column.quoted), ...group.map((cell) => cell.column.quoted)];
    return `INSERT INTO ${shape.qualified} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')}) USING TIMESTAMP ? AND TTL ?`;
  });
}

/** The row marker of a row that exists only through its primary key (TTL 0: the table default must not apply). */
function markerInsert(shape: TableShape, row: DecodedRow, timestamp: bigint): WriteStatement {
  const key = keyFor(shape, row, false);
  const names = key.columns.map((column) => column.quoted);
  return {
    cql: `INSERT INTO ${shape.qualified} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')}) USING TIMESTAMP ? AND TTL ?`,
    params: [...key.params, timestamp, 0],
    idempotent: true,
    conditional: false,
    bytes: key.bytes + 12,
  };
}

/** Per (writetime, expiry) group: `SET s = s + ?` (set, map) or `SET u.f = ?, …` (user type). */
function elementUpdates(shape: TableShape, row: DecodedRow, multi: MultiValue, nowSeconds: number, shift: (writetime: bigint) => bigint): WriteStatement[] {
  const { column } = multi;
  const key = keyFor(shape, row, column.isStatic);
  const where = whereClause(key.columns);
  return groupByTime(multi.elements).map((group) => {
    const first = group[0] as (typeof group)[number];
    let assignments: string;
    let values: unknown[];
    switch (column.type.kind) {
      case 'set':
        assignments = `${column.quoted} = ${column.quoted} + ?`;
        values = [group.map((element) => element.key)];
        break;
      case 'map':
        assignments = `${column.quoted} = ${column.quoted} + ?`;
        values = [new CqlMap(group.map((element) => [element.key, element.value] as const))];
        break;
      case 'udt':
        assignments = group.map((element) => `${column.quoted}.${quoteIdentifier(element.key as string)} = ?`).join(', ');
        values = group.map((element) => element.value);
        break;
      case 'list':
      case 'native':
      case 'tuple':
      case 'vector':
        throw new Error(`elementUpdates: "${column.name}" is not a non-frozen set, map or user type`);
    }
    return {
      cql: `UPDATE ${shape.qualified} USING TIMESTAMP ? AND TTL ? SET ${assignments} WHERE ${where}`,
      params: [shift(first.writetime), ttlFor(first.expiresAt, nowSeconds), ...values, ...key.params],
      idempotent: true,
      conditional: false,
      bytes: key.bytes + group.reduce((n, element) => n + element.bytes, 0) + 12,
      ...(first.expiresAt === null ? {} : { ttls: [{ index: 1, expiresAt: first.expiresAt }] }),
    };
  });
}

/** `UPDATE t SET c = c + ? WHERE …`: the only way to write a counter (no timestamp, no TTL). */
function counterUpdate(shape: TableShape, row: DecodedRow, cell: SingleValue): WriteStatement {
  const key = keyFor(shape, row, cell.column.isStatic);
  const name = cell.column.quoted;
  return {
    cql: `UPDATE ${shape.qualified} SET ${name} = ${name} + ? WHERE ${whereClause(key.columns)}`,
    params: [cell.value, ...key.params],
    idempotent: false,
    conditional: false,
    bytes: key.bytes + cell.bytes,
  };
}
