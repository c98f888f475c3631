/**
 * The structured description of a keyspace's schema (docs/format.md §5) and pure helpers over it.
 * Everything here is JSON-safe data: it is stored in backup.json as `keyspace` and fingerprinted.
 * Capture lives in capture.ts (which re-exports this module); CQL rendering in render.ts.
 */
import { createHash } from 'node:crypto';
import { CassetteError } from '../../errors.js';

/** Where a column sits in its table, as `system_schema.columns.kind` spells it. */
export type ColumnKind = 'partition_key' | 'clustering' | 'static' | 'regular';

/** The on-disk order of a clustering column. */
export type ClusteringOrder = 'asc' | 'desc';

/** One column of a table or materialized view. */
export interface ColumnSchema {
  /** The name as Cassandra stores it (case preserved, unquoted). */
  readonly name: string;
  /** The CQL type exactly as `system_schema.columns.type` spells it (`frozen<map<int, text>>`). */
  readonly type: string;
  readonly kind: ColumnKind;
  /** Index within the partition key or clustering key; -1 for static and regular columns. */
  readonly position: number;
  /** Present on clustering columns only. */
  readonly order?: ClusteringOrder;
}

/**
 * A table or view option as `system_schema.tables` stores it: text, int/double, boolean, or a
 * map<text, text>. The one map<text, blob> (`extensions`) has its values as `0x`-prefixed hex.
 */
export type SchemaOptionValue = string | number | boolean | Readonly<Record<string, string>>;

/** Options by name (`gc_grace_seconds`, `compaction`, …); an option Cassandra stores as null is absent. */
export type SchemaOptions = Readonly<Record<string, SchemaOptionValue>>;

/** A field of a user-defined type. */
export interface FieldSchema {
  readonly name: string;
  /** The field's CQL type as `system_schema.types.field_types` spells it. */
  readonly type: string;
}

/** A user-defined type. */
export interface UserTypeSchema {
  readonly name: string;
  /** In declaration order. */
  readonly fields: readonly FieldSchema[];
}

/** A table: columns in {@link orderColumns} order, options, and the CQL that recreates it. */
export interface TableSchema {
  readonly name: string;
  readonly columns: readonly ColumnSchema[];
  readonly options: SchemaOptions;
  /** True when the table has counter columns (every non-key column is then a counter). */
  readonly isCounter: boolean;
  /** `CREATE TABLE` in the schema's keyspace, as render.ts renders it. */
  readonly cql: string;
}

/** How Cassandra implements an index (`system_schema.indexes.kind`). SAI and SASI are CUSTOM. */
export type IndexKind = 'KEYS' | 'COMPOSITES' | 'CUSTOM';

/** A secondary, SAI or other custom index. */
export interface IndexSchema {
  /** The indexed table. */
  readonly table: string;
  readonly name: string;
  readonly kind: IndexKind;
  /** As stored: always `target` (CQL, e.g. `keys(m)` or `"Name"`); CUSTOM ones also `class_name`. */
  readonly options: Readonly<Record<string, string>>;
  readonly cql: string;
}

/** A materialized view (schema only: its rows are rebuilt by Cassandra from the base table). */
export interface ViewSchema {
  readonly name: string;
  readonly baseTable: string;
  /** True when the view was created with `SELECT *`. */
  readonly includeAllColumns: boolean;
  /** `system_schema.views.where_clause` exactly as stored (see render.ts about its quoting). */
  readonly whereClause: string;
  readonly columns: readonly ColumnSchema[];
  readonly options: SchemaOptions;
  readonly cql: string;
}

/** A keyspace: the value of `keyspace` in backup.json. Lists are sorted as documented per field. */
export interface KeyspaceSchema {
  readonly name: string;
  /** The replication map as stored (`class` is the fully qualified strategy class name). */
  readonly replication: Readonly<Record<string, string>>;
  readonly durableWrites: boolean;
  /** Dependency order: a type used by another type comes before it; otherwise by name. */
  readonly types: readonly UserTypeSchema[];
  /** By name. */
  readonly tables: readonly TableSchema[];
  /** By table, then name. */
  readonly indexes: readonly IndexSchema[];
  /** By name. */
  readonly views: readonly ViewSchema[];
}

/** Orders names by UTF-16 code units, independent of locale, so output is stable everywhere. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The table named exactly `name` (case-sensitive), or undefined. */
export function findTable(schema: KeyspaceSchema, name: string): TableSchema | undefined {
  return schema.tables.find((table) => table.name === name);
}

/** Partition key columns in partition-key order. */
export function partitionKeyColumns(table: { readonly columns: readonly ColumnSchema[] }): ColumnSchema[] {
  return byPosition(table.columns, 'partition_key');
}

/** Clustering columns in clustering order (the order of the primary key). */
export function clusteringColumns(table: { readonly columns: readonly ColumnSchema[] }): ColumnSchema[] {
  return byPosition(table.columns, 'clustering');
}

/** Static columns, then regular columns, each by name: a stable order for the non-key columns. */
export function nonKeyColumns(table: { readonly columns: readonly ColumnSchema[] }): ColumnSchema[] {
  const named = (kind: ColumnKind): ColumnSchema[] =>
    table.columns.filter((c) => c.kind === kind).sort((a, b) => compareNames(a.name, b.name));
  return [...named('static'), ...named('regular')];
}

/** All columns: partition key, clustering key, static, regular (the order stored in the schema). */
export function orderColumns(columns: readonly ColumnSchema[]): ColumnSchema[] {
  const table = { columns };
  return [...partitionKeyColumns(table), ...clusteringColumns(table), ...nonKeyColumns(table)];
}

function byPosition(columns: readonly ColumnSchema[], kind: ColumnKind): ColumnSchema[] {
  return columns.filter((c) => c.kind === kind).sort((a, b) => a.position - b.position);
}

/**
 * The tables to back up: every table when `requested` is absent or empty, otherwise the named
 * ones (duplicates ignored) in the schema's order. Names are matched exactly, case-sensitively.
 * Throws INVALID_INPUT naming every unknown name, listing the keyspace's tables.
 */
export function resolveTables(schema: KeyspaceSchema, requested?: readonly string[]): readonly TableSchema[] {
  if (requested === undefined || requested.length === 0) return schema.tables;
  const wanted = new Set(requested);
  const unknown = [...wanted].filter((name) => findTable(schema, name) === undefined);
  if (unknown.length > 0) {
    const views = unknown.filter((name) => schema.views.some((v) => v.name === name));
    const known = schema.tables.map((t) => t.name);
    const hint = [
      known.length === 0
        ? `keyspace "${schema.name}" has no tables`
        : `tables in "${schema.name}": ${known.join(', ')} (names are case-sensitive)`,
      ...views.map((name) => `"${name}" is a materialized view: its schema is kept, its rows come from its base table`),
    ].join('; ');
    throw new CassetteError(
      'INVALID_INPUT',
      `unknown table${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')} in keyspace "${schema.name}"`,
      { hint },
    );
  }
  return schema.tables.filter((table) => wanted.has(table.name));
}

/** `sha256:` + the hex SHA-256 of the canonical JSON (object keys sorted recursively) of `schema`. */
export function schemaFingerprint(schema: KeyspaceSchema): string {
  return `sha256:${createHash('sha256').update(canonicalJson(schema), 'utf8').digest('hex')}`;
}

/** JSON with every object's keys sorted by code unit; array order is kept. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return item;
    const entries = Object.entries(item as Record<string, unknown>).sort(([a], [b]) => compareNames(a, b));
    return Object.fromEntries(entries);
  });
}

/**
 * The names of user types that a CQL type string refers to (`frozen<list<frozen<"Geo">>>` →
 * `["Geo"]`), unquoted, each once: every identifier that is not followed by `<` (so not `frozen`,
 * `map`, `vector`, …) and is one of `typeNames`. String literals (custom types) are skipped.
 */
export function referencedTypes(type: string, typeNames: ReadonlySet<string>): string[] {
  const found = new Set<string>();
  let i = 0;
  while (i < type.length) {
    const ch = type[i] ?? '';
    if (ch === '"' || ch === "'") {
      let j = i + 1;
      let text = '';
      while (j < type.length) {
        if (type[j] === ch && type[j + 1] === ch) { text += ch; j += 2; continue; }
        if (type[j] === ch) break;
        text += type[j];
        j += 1;
      }
      if (ch === '"' && typeNames.has(text)) found.add(text);
      i = j + 1;
    } else if (/[A-Za-z_]/.test(ch)) {
      const word = /^[A-Za-z0-9_]+/.exec(type.slice(i))?.[0] ?? ch;
      i += word.length;
      const next = /^\s*(.)/.exec(type.slice(i))?.[1];
      if (next !== '<' && typeNames.has(word)) found.add(word);
    } else {
      i += 1;
    }
  }
  return [...found];
}

/**
 * User types in dependency order: a type used by another comes first; independent types by name.
 * Deterministic for a given set of types, whatever their input order.
 */
export function typesInDependencyOrder(types: readonly UserTypeSchema[]): UserTypeSchema[] {
  const byName = new Map(types.map((t) => [t.name, t]));
  const names = new Set(byName.keys());
  const ordered: UserTypeSchema[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (type: UserTypeSchema): void => {
    if (state.has(type.name)) return; // done, or a cycle, which Cassandra cannot create
    state.set(type.name, 'visiting');
    const deps = type.fields.flatMap((f) => referencedTypes(f.type, names)).filter((n) => n !== type.name);
    for (const dep of [...new Set(deps)].sort(compareNames)) {
      const depType = byName.get(dep);
      if (depType !== undefined) visit(depType);
    }
    state.set(type.name, 'done');
    ordered.push(type);
  };
  for (const type of [...types].sort((a, b) => compareNames(a.name, b.name))) visit(type);
  return ordered;
}
