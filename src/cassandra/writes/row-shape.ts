/**
 * One table as the row planners (row-writes.ts, row-writes-lwt.ts, list-writes.ts) see it —
 * column types parsed once, names quoted once — and one backed-up row (docs/format.md §6.1)
 * decoded against it: keys made bindable, cells decoded with decodeCell, cells whose expiry has
 * passed dropped and counted.
 */
import { CassetteError } from '../../errors.js';
import { decodeCell } from '../values/cell-codec.js';
import { isMultiCell, parseCqlType, type CqlType } from '../values/cql-type.js';
import { quoteIdentifier } from '../values/identifiers.js';
import { clusteringColumns, nonKeyColumns, partitionKeyColumns, type TableSchema, type UserTypeSchema } from '../schema/model.js';
import { decodeValue, type JsonValue } from '../values/value-codec.js';
import { ValueCodecError } from '../values/value-codec-error.js';

/** A column with its parsed type and its quoted name. */
export interface ShapeColumn {
  readonly name: string;
  /** `quoteIdentifier(name)`. */
  readonly quoted: string;
  readonly type: CqlType;
  readonly isStatic: boolean;
  readonly multiCell: boolean;
  /** Position among the table's non-key columns (-1 for a key column): names statement shapes in caches. */
  readonly index: number;
}

/** A table, ready to build statements for. */
export interface TableShape {
  readonly keyspace: string;
  readonly table: string;
  /** `"ks"."t"` */
  readonly qualified: string;
  readonly partitionKey: readonly ShapeColumn[];
  readonly clustering: readonly ShapeColumn[];
  /** Non-key columns by name, in nonKeyColumns order (static, then regular, each by name). */
  readonly columns: ReadonlyMap<string, ShapeColumn>;
  /** Partition key then clustering columns. */
  readonly primaryKey: readonly ShapeColumn[];
  readonly isCounter: boolean;
  /** CQL text by statement shape, built once per shape ({@link cachedCql}): same text, same prepared statement. */
  readonly cqlCache: Map<number | string, string>;
}

/** A live single cell (scalar, frozen value, counter), bindable. */
export interface SingleValue {
  readonly column: ShapeColumn;
  readonly value: unknown;
  readonly writetime: bigint;
  readonly expiresAt: number | null;
  /** Approximate serialized size of the value. */
  readonly bytes: number;
}

/** A live cell of a multi-cell column: a list or set element, a map entry, a user-type field. */
export interface ElementValue {
  /** List index, set element, map key or field name (see cell-codec.ts ElementCell). */
  readonly key: unknown;
  readonly value: unknown;
  /** The element's (list, set), entry's (map) or field's (user type) JSON in the backup. */
  readonly json: JsonValue;
  readonly writetime: bigint;
  readonly expiresAt: number | null;
  readonly bytes: number;
}

/** A multi-cell column's live cells, in cell order; never empty. */
export interface MultiValue {
  readonly column: ShapeColumn;
  readonly elements: readonly ElementValue[];
}

/** A backed-up row, decoded. */
export interface DecodedRow {
  /** The row's `k` as in the backup, for messages. */
  readonly k: readonly JsonValue[];
  readonly partitionKey: readonly unknown[];
  /** Clustering values; null for a row that exists through static columns alone (§6.1). */
  readonly clustering: readonly unknown[] | null;
  readonly partitionKeyBytes: number;
  readonly clusteringBytes: number;
  /** Partition key then clustering values (the partition key alone for a static-only row), bindable. */
  readonly keyParams: readonly unknown[];
  readonly singles: readonly SingleValue[];
  readonly multis: readonly MultiValue[];
  /** Whether `c` held any regular (non-static) cell, expired or not. */
  readonly hasRegularCells: boolean;
  /** Cells (multi-cell: element cells) skipped because their expiry is not after `now`. */
  readonly expiredCells: number;
}

/** A row as a chunk stores it (docs/format.md §6.1). */
export interface BackupRow {
  readonly k: readonly JsonValue[];
  readonly c: Readonly<Record<string, JsonValue>>;
}

/** The shape of `table` in `keyspace`; user types are resolved from `types`. */
export function tableShapeFor(keyspace: string, table: TableSchema, types: readonly UserTypeSchema[]): TableShape {
  const shape = (column: { readonly name: string; readonly type: string; readonly kind: string }, index: number): ShapeColumn => {
    const type = parseCqlType(column.type, types);
    return { name: column.name, quoted: quoteIdentifier(column.name), type, isStatic: column.kind === 'static', multiCell: isMultiCell(type), index };
  };
  const partitionKey = partitionKeyColumns(table).map((column) => shape(column, -1));
  const clustering = clusteringColumns(table).map((column) => shape(column, -1));
  return {
    keyspace,
    table: table.name,
    qualified: `${quoteIdentifier(keyspace)}.${quoteIdentifier(table.name)}`,
    partitionKey,
    clustering,
    columns: new Map(nonKeyColumns(table).map((column, index) => [column.name, shape(column, index)])),
    primaryKey: [...partitionKey, ...clustering],
    isCounter: table.isCounter,
    cqlCache: new Map(),
  };
}

/**
 * Decodes `row` against `shape`. A cell (or element cell) whose expiry is at or before
 * `nowSeconds` is dropped and counted: written back with a TTL ≤ 0 it would either be refused or,
 * with TTL 0, live forever — an expired cell is never resurrected.
 *
 * @throws CassetteError BACKUP_INVALID (or the ValueCodecError of the cell, naming its column) for a
 *   row that does not fit the table: wrong key arity, null partition key, mixed null clustering
 *   values, unknown or key columns in `c`, regular cells in a static-only row, an empty static-only row.
 */
export function decodeRow(shape: TableShape, row: BackupRow, nowSeconds: number): DecodedRow {
  const { k, c } = row;
  const keyCount = shape.partitionKey.length + shape.clustering.length;
  if (!Array.isArray(k) || k.length !== keyCount) throw rowError(shape, k, `"k" must hold ${keyCount} key values`);
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw rowError(shape, k, '"c" must be an object');
  const partitionKey = shape.partitionKey.map((column, i) => decodeKey(shape, k, column, k[i] ?? null));
  const clusteringJson = k.slice(shape.partitionKey.length);
  const staticOnly = clusteringJson.length > 0 && clusteringJson.every((value) => value === null);
  if (!staticOnly && clusteringJson.some((value) => value === null)) throw rowError(shape, k, 'a clustering value is null, but not all of them');
  const clustering = staticOnly ? null : shape.clustering.map((column, i) => decodeKey(shape, k, column, clusteringJson[i] ?? null));

  const singles: SingleValue[] = [];
  const multis: MultiValue[] = [];
  let hasRegularCells = false;
  let expiredCells = 0;
  const live = (expiresAt: number | null): boolean => {
    if (expiresAt === null || expiresAt > nowSeconds) return true;
    expiredCells++;
    return false;
  };
  let present = 0;
  for (const name in c) {
    if (!Object.hasOwn(c, name)) continue;
    present++;
    if (!shape.columns.has(name)) throw rowError(shape, k, `"c" names "${name}", which is not a non-key column of the table`);
  }
  // In the table's column order, not the JSON's: the same columns always make the same CQL text.
  for (const [name, column] of shape.columns) {
    const json = c[name];
    if (json === undefined) continue;
    if (!column.isStatic) hasRegularCells = true;
    let decoded;
    try {
      decoded = decodeCell(column, json);
    } catch (error) {
      throw error instanceof ValueCodecError ? error.inColumn(name) : error;
    }
    if (decoded.kind === 'single') {
      if (live(decoded.expiresAt)) {
        singles.push({ column, value: decoded.value, writetime: decoded.writetime, expiresAt: decoded.expiresAt, bytes: jsonBytes((json as { v: JsonValue }).v) });
      }
      continue;
    }
    const v = (json as { v: JsonValue }).v;
    const elements: ElementValue[] = [];
    decoded.cells.forEach((cell, i) => {
      if (!live(cell.expiresAt)) return;
      // Lists, sets and maps have one cell per JSON entry, in order; a user type's cells skip null fields.
      const elementJson = column.type.kind === 'udt'
        ? ((v as { readonly [field: string]: JsonValue })[cell.key as string] ?? null)
        : ((v as readonly JsonValue[])[i] ?? null);
      elements.push({ key: cell.key, value: cell.value, json: elementJson, writetime: cell.writetime, expiresAt: cell.expiresAt, bytes: jsonBytes(elementJson) });
    });
    if (elements.length > 0) multis.push({ column, elements });
  }
  if (staticOnly && hasRegularCells) throw rowError(shape, k, 'a row without clustering values (static-only) has regular cells');
  if (staticOnly && present === 0) throw rowError(shape, k, 'a row without clustering values (static-only) has no static cell');
  return {
    k,
    partitionKey,
    clustering,
    partitionKeyBytes: sumBytes(k.slice(0, shape.partitionKey.length)),
    clusteringBytes: sumBytes(clusteringJson),
    keyParams: clustering === null ? partitionKey : [...partitionKey, ...clustering],
    singles,
    multis,
    hasRegularCells,
    expiredCells,
  };
}

/**
 * The CQL text of statement kind `variant` (0–7, the caller's numbering) over `group`'s columns,
 * built by `build` the first time and kept in the shape: the driver finds its prepared statement
 * by this text, so the same statement shape always hashes the same string instance. Keyed by a
 * bit mask of the columns (a string for tables of more than 30 non-key columns).
 */
export function cachedCql(shape: TableShape, variant: number, group: readonly SingleValue[], build: () => string): string {
  let cacheKey: number | string;
  if (shape.columns.size <= 30) {
    let mask = 0;
    for (const cell of group) mask |= 1 << cell.column.index;
    cacheKey = mask * 8 + variant;
  } else {
    cacheKey = `${variant}:${group.map((cell) => cell.column.index).join(',')}`;
  }
  let cql = shape.cqlCache.get(cacheKey);
  if (cql === undefined) {
    cql = build();
    shape.cqlCache.set(cacheKey, cql);
  }
  return cql;
}

/** `"pk" = ? AND "ck" = ?` over `columns` (never empty: a partition key always exists). */
export function whereClause(columns: readonly ShapeColumn[]): string {
  return columns.map((column) => `${column.quoted} = ?`).join(' AND ');
}

/** The key columns and bound key values that address a static (partition) or regular (row) cell. */
export function keyFor(shape: TableShape, row: DecodedRow, isStatic: boolean): { columns: readonly ShapeColumn[]; params: readonly unknown[]; bytes: number } {
  if (isStatic || row.clustering === null) {
    return { columns: shape.partitionKey, params: row.partitionKey, bytes: row.partitionKeyBytes };
  }
  return { columns: shape.primaryKey, params: row.keyParams, bytes: row.partitionKeyBytes + row.clusteringBytes };
}

/** The TTL to write for a cell expiring at `expiresAt`: 0 (no TTL, despite a table default) when it has none. */
export function ttlFor(expiresAt: number | null, nowSeconds: number): number {
  return expiresAt === null ? 0 : expiresAt - nowSeconds;
}

/** Cells grouped by (writetime, expiry), groups in order of first appearance. */
export function groupByTime<T extends { readonly writetime: bigint; readonly expiresAt: number | null }>(cells: readonly T[]): T[][] {
  // A row has a handful of groups: a linear scan beats building a string key per cell.
  const groups: T[][] = [];
  for (const cell of cells) {
    let group: T[] | undefined;
    for (const candidate of groups) {
      const first = candidate[0] as T;
      if (first.writetime === cell.writetime && first.expiresAt === cell.expiresAt) {
        group = candidate;
        break;
      }
    }
    if (group === undefined) groups.push([cell]);
    else group.push(cell);
  }
  return groups;
}

/**
 * Approximate serialized size of a value from its §6.3 JSON, plus a 4-byte length prefix: close for
 * text, an overestimate for blobs (base64) and small numbers, so batches sized with it stay under limits.
 */
export function jsonBytes(json: JsonValue): number {
  // Fast paths with the same result: a number's JSON is String(n) (finite: NaN travels as a
  // string); a string of printable ASCII without `"` or `\` is its own JSON between two quotes.
  if (typeof json === 'number' && Number.isFinite(json)) return 4 + String(json).length;
  if (typeof json === 'string' && PLAIN_ASCII.test(json)) return 6 + json.length;
  return 4 + Buffer.byteLength(JSON.stringify(json), 'utf8');
}

const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A row that does not fit its table (code BACKUP_INVALID unless told otherwise), naming table and key. */
export function rowError(shape: TableShape, k: unknown, problem: string, code: 'BACKUP_INVALID' | 'INVALID_INPUT' = 'BACKUP_INVALID', hint?: string): CassetteError {
  return new CassetteError(code, `${shape.keyspace}.${shape.table} row ${describeKey(k)}: ${problem}`, {
    hint: hint ?? 'the chunk does not match the table schema stored with the backup; check the backup with its checksums',
  });
}

/** A key as JSON text, for messages. */
export function describeKey(k: unknown): string {
  try {
    return JSON.stringify(k) ?? String(k);
  } catch {
    return String(k);
  }
}

function decodeKey(shape: TableShape, k: readonly JsonValue[], column: ShapeColumn, json: JsonValue): unknown {
  if (json === null) throw rowError(shape, k, `key column "${column.name}" is null`);
  try {
    return decodeValue(column.type, json);
  } catch (error) {
    throw error instanceof ValueCodecError ? error.inColumn(column.name) : error;
  }
}

function sumBytes(values: readonly JsonValue[]): number {
  return values.reduce<number>((n, value) => n + (value === null ? 0 : jsonBytes(value)), 0);
}
