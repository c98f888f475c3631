/**
 * Schema capture: reads one keyspace's schema from the `system_schema` tables through the
 * {@link CqlSession} port (never the driver's metadata object) into the structured description of
 * docs/format.md §5. The types and pure helpers live in model.ts and are re-exported here,
 * so callers import everything schema-related from this module.
 */
import { CassetteError } from '../../errors.js';
import type {
  ColumnKind, ColumnSchema, IndexKind, IndexSchema, KeyspaceSchema, SchemaOptionValue, SchemaOptions, TableSchema,
  UserTypeSchema, ViewSchema,
} from './model.js';
import { compareNames, orderColumns, typesInDependencyOrder } from './model.js';
import { renderIndexCql, renderTableCql, renderViewCql } from './render.js';
import { SYSTEM_READ, type CqlSession, type QueryRow } from '../connection/session.js';

export * from './model.js';

/**
 * The table options captured, as Cassandra 5.0 names them in `system_schema.tables`: the ones a
 * `CREATE TABLE … WITH` accepts. Not captured: `id` (a restored table gets a new one), `flags`
 * (derived from the columns), and `read_repair_chance` / `dclocal_read_repair_chance` (kept in
 * system_schema for compatibility, rejected by CREATE TABLE since 4.0). A column a cluster does
 * not have (an older version) or stores as null (never set) is left out of the options.
 */
export const TABLE_OPTION_NAMES: readonly string[] = [
  'additional_write_policy', 'allow_auto_snapshot', 'bloom_filter_fp_chance', 'caching', 'cdc', 'comment',
  'compaction', 'compression', 'crc_check_chance', 'default_time_to_live', 'extensions', 'gc_grace_seconds',
  'incremental_backups', 'max_index_interval', 'memtable', 'memtable_flush_period_in_ms', 'min_index_interval',
  'read_repair', 'speculative_retry',
];

/** View options: the table options but `default_time_to_live`, which a view cannot set. */
export const VIEW_OPTION_NAMES: readonly string[] = TABLE_OPTION_NAMES.filter((n) => n !== 'default_time_to_live');

/** Keyspaces Cassandra owns; left out of the "existing keyspaces" hint. */
const SYSTEM_KEYSPACES: ReadonlySet<string> = new Set([
  'system', 'system_auth', 'system_distributed', 'system_schema', 'system_traces', 'system_views',
  'system_virtual_schema',
]);

/**
 * The schema of `keyspace` (exact, case-sensitive name), with every `cql` field rendered for that
 * keyspace. Reads the system_schema tables with a few queries that are not one snapshot: a
 * schema change during capture can give a mixed view (callers capture before reading data).
 * Throws INVALID_INPUT when the keyspace does not exist; rejects with the driver's error when
 * the cluster cannot be queried.
 */
export async function captureKeyspace(session: CqlSession, keyspace: string): Promise<KeyspaceSchema> {
  const keyspaceRows = await selectAll(session, 'SELECT keyspace_name, durable_writes, replication FROM system_schema.keyspaces');
  const keyspaceRow = keyspaceRows.find((row) => row.get('keyspace_name') === keyspace);
  if (keyspaceRow === undefined) {
    throw unknownKeyspace(keyspace, keyspaceRows.map((row) => readText(row, 'keyspace_name')));
  }
  const inKeyspace = ' WHERE keyspace_name = ?';
  const [typeRows, tableRows, columnRows, indexRows, viewRows] = await Promise.all([
    selectAll(session, `SELECT type_name, field_names, field_types FROM system_schema.types${inKeyspace}`, [keyspace]),
    selectAll(session, `SELECT * FROM system_schema.tables${inKeyspace}`, [keyspace]),
    selectAll(session, `SELECT table_name, column_name, clustering_order, kind, position, type FROM system_schema.columns${inKeyspace}`, [keyspace]),
    selectAll(session, `SELECT table_name, index_name, kind, options FROM system_schema.indexes${inKeyspace}`, [keyspace]),
    selectAll(session, `SELECT * FROM system_schema.views${inKeyspace}`, [keyspace]),
  ]);

  const columnsByTable = new Map<string, ColumnSchema[]>();
  for (const row of columnRows) {
    const table = readText(row, 'table_name');
    columnsByTable.set(table, [...(columnsByTable.get(table) ?? []), readColumn(row)]);
  }
  const columnsOf = (table: string): ColumnSchema[] => orderColumns(columnsByTable.get(table) ?? []);

  const tables = tableRows.map((row): TableSchema => {
    const name = readText(row, 'table_name');
    const columns = columnsOf(name);
    const table = { name, columns, options: readOptions(row, TABLE_OPTION_NAMES), isCounter: columns.some((c) => c.type === 'counter') };
    return { ...table, cql: renderTableCql(keyspace, table) };
  });
  const indexes = indexRows.map((row): IndexSchema => {
    const index = { table: readText(row, 'table_name'), name: readText(row, 'index_name'), kind: readIndexKind(row), options: readTextMap(row, 'options') };
    return { ...index, cql: renderIndexCql(keyspace, index) };
  });
  const views = viewRows.map((row): ViewSchema => {
    const name = readText(row, 'view_name');
    const view = {
      name,
      baseTable: readText(row, 'base_table_name'),
      includeAllColumns: readBoolean(row, 'include_all_columns'),
      whereClause: readText(row, 'where_clause'),
      columns: columnsOf(name),
      options: readOptions(row, VIEW_OPTION_NAMES),
    };
    return { ...view, cql: renderViewCql(keyspace, view) };
  });

  return {
    name: keyspace,
    replication: readTextMap(keyspaceRow, 'replication'),
    durableWrites: readBoolean(keyspaceRow, 'durable_writes'),
    types: typesInDependencyOrder(typeRows.map(readType)),
    tables: tables.sort((a, b) => compareNames(a.name, b.name)),
    indexes: indexes.sort((a, b) => compareNames(a.table, b.table) || compareNames(a.name, b.name)),
    views: views.sort((a, b) => compareNames(a.name, b.name)),
  };
}

function unknownKeyspace(keyspace: string, existing: readonly string[]): CassetteError {
  const user = existing.filter((name) => !SYSTEM_KEYSPACES.has(name)).sort(compareNames);
  const sameButCase = user.filter((name) => name.toLowerCase() === keyspace.toLowerCase());
  const hint = sameButCase.length > 0
    ? `keyspace names are case-sensitive: did you mean ${sameButCase.map((n) => `"${n}"`).join(' or ')}?`
    : user.length > 0
      ? `existing keyspaces: ${user.join(', ')}`
      : 'the cluster has no keyspaces besides the system ones';
  return new CassetteError('INVALID_INPUT', `keyspace "${keyspace}" does not exist in the cluster`, { hint });
}

/** Every row of a query, following pages. */
async function selectAll(session: CqlSession, cql: string, params: readonly unknown[] = []): Promise<QueryRow[]> {
  const rows: QueryRow[] = [];
  let pageState: string | undefined;
  do {
    const result = await session.execute(cql, params, { ...SYSTEM_READ, ...(pageState === undefined ? {} : { pageState }) });
    rows.push(...result.rows);
    pageState = result.pageState;
  } while (pageState !== undefined);
  return rows;
}

function readType(row: QueryRow): UserTypeSchema {
  const names = readTextList(row, 'field_names');
  const types = readTextList(row, 'field_types');
  if (names.length !== types.length) throw schemaShapeError('types', 'field_names/field_types', 'lists of equal length');
  return { name: readText(row, 'type_name'), fields: names.map((name, i) => ({ name, type: types[i] ?? '' })) };
}

const COLUMN_KINDS: readonly ColumnKind[] = ['partition_key', 'clustering', 'static', 'regular'];
const INDEX_KINDS: readonly IndexKind[] = ['KEYS', 'COMPOSITES', 'CUSTOM'];

function readColumn(row: QueryRow): ColumnSchema {
  const kindText = readText(row, 'kind');
  const kind = COLUMN_KINDS.find((k) => k === kindText);
  if (kind === undefined) throw schemaShapeError('columns', 'kind', `one of ${COLUMN_KINDS.join(', ')}, got "${kindText}"`);
  const column = { name: readText(row, 'column_name'), type: readText(row, 'type'), kind, position: readNumber(row, 'position') };
  if (kind !== 'clustering') return column;
  return { ...column, order: readText(row, 'clustering_order') === 'desc' ? 'desc' : 'asc' };
}

function readIndexKind(row: QueryRow): IndexKind {
  const text = readText(row, 'kind');
  const kind = INDEX_KINDS.find((k) => k === text);
  if (kind === undefined) {
    throw new CassetteError('INVALID_INPUT', `index "${readText(row, 'index_name')}" has kind "${text}", which cassette does not know`, {
      hint: `cassette knows index kinds ${INDEX_KINDS.join(', ')}`,
    });
  }
  return kind;
}

function readOptions(row: QueryRow, names: readonly string[]): SchemaOptions {
  const options: Record<string, SchemaOptionValue> = {};
  for (const name of names) {
    const value = toOptionValue(row.get(name), name);
    if (value !== undefined) options[name] = value;
  }
  return options;
}

function toOptionValue(value: unknown, name: string): SchemaOptionValue | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return Number(value);
  const map = toTextMap(value);
  if (map === undefined) throw schemaShapeError('tables', name, 'text, a number, a boolean or a map');
  return map;
}

function readText(row: QueryRow, column: string): string {
  const value = row.get(column);
  if (typeof value !== 'string') throw schemaShapeError('*', column, 'text');
  return value;
}

function readNumber(row: QueryRow, column: string): number {
  const value = row.get(column);
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  throw schemaShapeError('*', column, 'a number');
}

function readBoolean(row: QueryRow, column: string): boolean {
  const value = row.get(column);
  if (typeof value !== 'boolean') throw schemaShapeError('*', column, 'a boolean');
  return value;
}

function readTextList(row: QueryRow, column: string): string[] {
  const value = row.get(column);
  const items: unknown[] = value === null || value === undefined ? [] : Array.isArray(value) ? value : value instanceof Set ? [...value] : [value];
  if (!items.every((item): item is string => typeof item === 'string')) throw schemaShapeError('*', column, 'a list of text');
  return items;
}

function readTextMap(row: QueryRow, column: string): Readonly<Record<string, string>> {
  const value = row.get(column);
  const map = value === null || value === undefined ? {} : toTextMap(value);
  if (map === undefined) throw schemaShapeError('*', column, 'a map');
  return map;
}

/**
 * A map<text, text> or map<text, blob> decoded either as a Map (the port's encoding) or as a plain
 * object (the driver's default), with keys sorted; blob values become `0x` + hex.
 */
function toTextMap(value: unknown): Record<string, string> | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) return undefined;
  const entries: [unknown, unknown][] = value instanceof Map ? [...value.entries()] : Object.entries(value);
  const out: [string, string][] = [];
  for (const [key, item] of entries) {
    if (typeof key !== 'string') return undefined;
    if (typeof item === 'string') out.push([key, item]);
    else if (item instanceof Uint8Array) out.push([key, `0x${Buffer.from(item).toString('hex')}`]);
    else return undefined;
  }
  return Object.fromEntries(out.sort(([a], [b]) => compareNames(a, b)));
}

function schemaShapeError(table: string, column: string, expected: string): Error {
  return new Error(`system_schema.${table} column ${column}: expected ${expected}`);
}
