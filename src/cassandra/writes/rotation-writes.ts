/**
 * `cassette rotate`'s write-back: the CQL that puts re-encrypted cells back into the live table,
 * in place, without touching anything else of the row. Rows come from the transform in its
 * changed-only form (transform-chunk.ts): `k`, the changed cells under `c` (encrypted columns and
 * the key-version column, already carrying their new writetimes), and under `p` the values the
 * exported row held (the LWT condition).
 *
 * Always UPDATE, never INSERT: an INSERT would add a row marker the row may not have had
 * (collections.md §6), changing when the row disappears.
 *
 * - Guard timestamp (`use_lwt_guard: false`): one `UPDATE … USING TIMESTAMP ? AND TTL ? SET …`
 *   per (writetime, expiry) group. The writetimes are the originals + 1 µs (rekey-row.ts), so a
 *   rotated cell replaces the cell it was made from while any application write made after the
 *   export wins. `preserve_writetime: false` drops USING TIMESTAMP (the coordinator's clock: an
 *   application write made after the export is then overwritten — doctor warns).
 * - Guard lwt (`use_lwt_guard: true`): `UPDATE … USING TTL ? SET … WHERE … IF kv = ? AND enc1 = ?
 *   AND enc2 = ?` — the row is rewritten only while it still holds exactly what was exported, so
 *   no concurrent application update is ever overwritten (a condition on the key version alone
 *   would let a plain application write of a new value under the old key be replaced by the
 *   rotated old value). Several expiries make a conditional batch of one UPDATE per expiry with
 *   the condition on the first, applied all-or-nothing. LWTs cannot carry USING TIMESTAMP.
 * - `preserve_ttl: false` leaves out USING TTL: cells take the table's default_time_to_live.
 *   Otherwise TTL = expiry − now, 0 for cells without expiry; cells already expired are skipped.
 */
import { CassetteError } from '../../errors.js';
import { cachedCql, decodeRow, groupByTime, keyFor, tableShapeFor, ttlFor, whereClause, type BackupRow, type SingleValue, type TableShape } from './row-shape.js';
import type { RowPlan, TableWriter, WriteStatement } from './row-writes.js';
import type { TableSchema, UserTypeSchema } from '../schema/model.js';
import { decodeValue, type JsonValue } from '../values/value-codec.js';

/** cachedCql variants. A rotation writer has its own shape and one guard, so only these two texts share its cache. */
const UPDATE_VARIANT = 0;
const CONDITIONAL_VARIANT = 1;

export interface RotationWriteOptions {
  readonly guard: 'timestamp' | 'lwt';
  readonly preserveTtl: boolean;
  readonly preserveWritetime: boolean;
  /** The columns the LWT condition compares with the exported values: encrypted and key-version columns. */
  readonly conditionColumns: readonly string[];
}

/** A write-back row: changed cells, and the exported values of the condition columns. */
export interface RotatedRow extends BackupRow {
  readonly p?: Readonly<Record<string, JsonValue>>;
}

/** The write-back writer, which also binds a row's primary key (to read a raced row back). */
export interface RotationWriter extends TableWriter {
  /** `SELECT <condition columns> FROM t WHERE <primary key>`, bound with {@link keyParams}. */
  readonly readBackCql: string;
  keyParams(row: BackupRow): readonly unknown[];
}

export function rotationWriterFor(keyspace: string, table: TableSchema, types: readonly UserTypeSchema[], options: RotationWriteOptions): RotationWriter {
  const shape = tableShapeFor(keyspace, table, types);
  for (const name of options.conditionColumns) {
    const column = shape.columns.get(name);
    if (column === undefined || column.isStatic || column.multiCell) {
      throw new CassetteError('INVALID_INPUT', `${keyspace}.${table.name}.${name} cannot be rotated in place (not a regular single-cell column)`);
    }
  }
  const keyColumns = [...shape.partitionKey, ...shape.clustering];
  return Object.freeze({
    keyspace,
    table: table.name,
    readBackCql: `SELECT ${options.conditionColumns.map((name) => shape.columns.get(name)?.quoted ?? name).join(', ')} FROM ${shape.qualified} WHERE ${whereClause(keyColumns)}`,
    planRow: (row: BackupRow, nowSeconds: number): RowPlan => planRotatedRow(shape, row as RotatedRow, nowSeconds, options),
    keyParams: (row: BackupRow): readonly unknown[] => keyFor(shape, decodeRow(shape, { k: row.k, c: {} }, 0), false).params,
  });
}

function planRotatedRow(shape: TableShape, row: RotatedRow, nowSeconds: number, options: RotationWriteOptions): RowPlan {
  const decoded = decodeRow(shape, row, nowSeconds);
  const statements: WriteStatement[] = [];
  if (decoded.singles.length === 0 || decoded.clustering === null && shape.clustering.length > 0) {
    return { statements, expiredCells: decoded.expiredCells, lists: [] };
  }
  const key = keyFor(shape, decoded, false);
  const where = (): string => whereClause(key.columns);
  const ttl = (cell: SingleValue): number[] => (options.preserveTtl ? [ttlFor(cell.expiresAt, nowSeconds)] : []);
  const assignments = (group: readonly SingleValue[]): string => group.map((cell) => `${cell.column.quoted} = ?`).join(', ');
  const bytes = (group: readonly SingleValue[]): number => key.bytes + group.reduce((n, cell) => n + cell.bytes, 0) + 12;
  /** The TTL parameter at `index`, recomputed when the statement is sent (statement.ts withFreshTtls). */
  const ttls = (cell: SingleValue, index: number): Pick<WriteStatement, 'ttls'> =>
    (options.preserveTtl && cell.expiresAt !== null ? { ttls: [{ index, expiresAt: cell.expiresAt }] } : {});

  if (options.guard === 'timestamp') {
    for (const group of groupByTime(decoded.singles)) {
      const first = group[0] as SingleValue;
      statements.push({
        cql: cachedCql(shape, UPDATE_VARIANT, group, () => {
          const using = [...(options.preserveWritetime ? ['TIMESTAMP ?'] : []), ...(options.preserveTtl ? ['TTL ?'] : [])];
          return `UPDATE ${shape.qualified}${using.length === 0 ? '' : ` USING ${using.join(' AND ')}`} SET ${assignments(group)} WHERE ${where()}`;
        }),
        params: [...(options.preserveWritetime ? [first.writetime] : []), ...ttl(first), ...group.map((cell) => cell.value), ...key.params],
        idempotent: true,
        conditional: false,
        bytes: bytes(group),
        ...ttls(first, options.preserveWritetime ? 1 : 0),
      });
    }
    return { statements, expiredCells: decoded.expiredCells, lists: [] };
  }

  // lwt: group by expiry only (the ballot sets every timestamp).
  const byExpiry = new Map<number | null, SingleValue[]>();
  for (const cell of decoded.singles) {
    const group = byExpiry.get(options.preserveTtl ? cell.expiresAt : null) ?? [];
    group.push(cell);
    byExpiry.set(options.preserveTtl ? cell.expiresAt : null, group);
  }
  const previous = row.p ?? {};
  const conditions = options.conditionColumns.map((name) => {
    const column = shape.columns.get(name);
    if (column === undefined) throw new Error(`internal: condition column ${name} is not in the table`);
    const json = previous[name] ?? null;
    return { clause: `${column.quoted} = ?`, value: json === null ? null : decodeValue(column.type, json) };
  });
  let first = true;
  for (const group of byExpiry.values()) {
    const head = group[0] as SingleValue;
    const condition = first ? ` IF ${conditions.map((c) => c.clause).join(' AND ')}` : '';
    statements.push({
      cql: cachedCql(shape, first ? CONDITIONAL_VARIANT : UPDATE_VARIANT, group, () => `UPDATE ${shape.qualified}${options.preserveTtl ? ' USING TTL ?' : ''} SET ${assignments(group)} WHERE ${where()}${condition}`),
      params: [...ttl(head), ...group.map((cell) => cell.value), ...key.params, ...(first ? conditions.map((c) => c.value) : [])],
      // A repeated LWT re-evaluates its condition: it cannot apply twice.
      idempotent: true,
      conditional: true,
      bytes: bytes(group),
      ...ttls(head, 0),
    });
    first = false;
  }
  return { statements, expiredCells: decoded.expiredCells, lists: [] };
}
