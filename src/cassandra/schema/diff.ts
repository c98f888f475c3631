/**
 * Whether an existing table (or view, or user type) in a restore target can take the backup's
 * rows: pure comparisons over {@link KeyspaceSchema} parts, returning human-readable differences.
 *
 * Compatible means every backed-up cell has a place of the same type: the same primary key
 * (names, order, types, clustering order), every backed-up non-key column with the same type and
 * static-ness, the same counter-ness, and user types whose fields are the backup's in order
 * (extra trailing fields allowed: they stay null). Extra target columns are allowed for the same
 * reason. Options (compaction, TTL defaults, …) are never differences; {@link tableNotes} reports
 * the ones worth telling the operator about.
 */
import { formatCqlType, parseCqlType, type CqlType } from '../values/cql-type.js';
import type { ColumnSchema, TableSchema, UserTypeSchema, ViewSchema } from './model.js';
import {
  clusteringColumns, compareNames, nonKeyColumns, partitionKeyColumns, referencedTypes, typesInDependencyOrder,
} from './model.js';

/** The user types on each side: the backup's keyspace and the target keyspace. */
export interface SchemaTypes {
  readonly wanted: readonly UserTypeSchema[];
  readonly actual: readonly UserTypeSchema[];
}

/**
 * Every difference that stops `actual` (the target's table) from taking the rows of `wanted` (the
 * backup's), each one phrase (`column "email": backup has text, target has blob`); empty when
 * compatible. Includes the user types the backed-up columns use ({@link diffUserTypes}).
 */
export function diffTables(wanted: TableSchema, actual: TableSchema, types: SchemaTypes): string[] {
  return [...diffTableShape(wanted, actual, types), ...diffUserTypes(usedTypeNames(wanted.columns, types.wanted), types)];
}

/**
 * {@link diffTables} without the user types' fields: the columns and counter-ness only, for
 * callers that check each user type once for several tables.
 */
export function diffTableShape(wanted: TableSchema, actual: TableSchema, types: SchemaTypes): string[] {
  const counter = wanted.isCounter === actual.isCounter ? [] : [
    wanted.isCounter ? 'backup is a counter table, target is not' : 'backup is not a counter table, target is one',
  ];
  return [...diffColumns(wanted.columns, actual.columns, types), ...counter];
}

/**
 * Differences between a backup's materialized view and the target's view of the same name: the
 * base table and the columns as for tables (the WHERE clause and options are notes, not
 * differences: they do not change what a restore writes).
 */
export function diffViews(wanted: ViewSchema, actual: ViewSchema, types: SchemaTypes): string[] {
  const base = wanted.baseTable === actual.baseTable ? [] : [
    `base table: backup "${wanted.baseTable}", target "${actual.baseTable}"`,
  ];
  return [...base, ...diffColumns(wanted.columns, actual.columns, types)];
}

/**
 * Differences of the named user types (and every type their fields use, transitively, as the
 * backup defines them) between the backup and the target: a missing type, a missing field, a
 * field renamed, reordered or of another type. Extra trailing fields in the target are fine.
 */
export function diffUserTypes(names: Iterable<string>, types: SchemaTypes): string[] {
  const wantedByName = new Map(types.wanted.map((t) => [t.name, t]));
  const actualByName = new Map(types.actual.map((t) => [t.name, t]));
  return typeClosure([...names], types.wanted).flatMap((name) => {
    const wanted = wantedByName.get(name);
    // Not a type of the backup: the column whose type names it already differs.
    if (wanted === undefined) return [];
    return diffUserType(wanted, actualByName.get(name), types).map((diff) => `type "${name}": ${diff}`);
  });
}

/**
 * The differences of one user type (not the types its fields use): `does not exist in the
 * target`, `missing field "tags" (set<text>)`, `field 2 is "a" in the backup, "b" in the target`,
 * `field "x": backup has int, target has text`. Extra trailing fields in the target are fine.
 */
export function diffUserType(wanted: UserTypeSchema, actual: UserTypeSchema | undefined, types: SchemaTypes): string[] {
  if (actual === undefined) return ['does not exist in the target'];
  return wanted.fields.flatMap((field, i) => {
    const other = actual.fields[i];
    if (other === undefined) return [`missing field "${field.name}" (${field.type})`];
    if (other.name !== field.name) return [`field ${i + 1} is "${field.name}" in the backup, "${other.name}" in the target`];
    if (!sameType(field.type, other.type, types)) return [`field "${field.name}": backup has ${field.type}, target has ${other.type}`];
    return [];
  });
}

/**
 * What differs in a compatible table's options that an operator should know: a different
 * `default_time_to_live` (restored cells keep their own TTLs; only new writes get the target's).
 */
export function tableNotes(wanted: Pick<TableSchema, 'options'>, actual: Pick<TableSchema, 'options'>): string[] {
  const ttl = (table: Pick<TableSchema, 'options'>): string => String(table.options['default_time_to_live'] ?? 0);
  return ttl(wanted) === ttl(actual) ? [] : [
    `default_time_to_live is ${ttl(wanted)} in the backup, ${ttl(actual)} in the target (restored cells keep their own TTLs)`,
  ];
}

/**
 * The user types that `columns` use, directly or through other types' fields, as the backup
 * (`types`) defines them; unquoted names, each once, in the backup's dependency order.
 */
export function usedTypeNames(columns: readonly Pick<ColumnSchema, 'type'>[], types: readonly UserTypeSchema[]): string[] {
  const names = new Set(types.map((t) => t.name));
  return typeClosure(columns.flatMap((c) => referencedTypes(c.type, names)), types);
}

/**
 * A CQL type in one spelling, so that two spellings of the same type compare equal: `varchar` is
 * `text`; tuples, and anything inside a collection, tuple, vector or user type, are frozen
 * whether or not the text says so (Cassandra stores them frozen either way); user type names
 * quoted only when needed; single spaces. `typeNames` are the user types the text may name. Text
 * that does not parse (a custom Java type) is only trimmed and its spaces collapsed.
 */
export function normalizeCqlType(text: string, typeNames: Iterable<string>): string {
  let parsed: CqlType;
  try {
    parsed = parseCqlType(text, [...typeNames].map((name) => ({ name, fields: [] })));
  } catch {
    return text.trim().replace(/\s+/g, ' ');
  }
  return formatCqlType(canonical(parsed, false));
}

function canonical(type: CqlType, nested: boolean): CqlType {
  switch (type.kind) {
    case 'native':
      return type.name === 'varchar' ? { kind: 'native', name: 'text' } : type;
    case 'list':
    case 'set':
      return { ...type, frozen: type.frozen || nested, element: canonical(type.element, true) };
    case 'map':
      return { ...type, frozen: type.frozen || nested, key: canonical(type.key, true), value: canonical(type.value, true) };
    case 'tuple':
      return { ...type, frozen: true, components: type.components.map((c) => canonical(c, true)) };
    case 'udt':
      return { ...type, frozen: type.frozen || nested, fields: [] };
    case 'vector':
      return { ...type, element: canonical(type.element, true) };
  }
}

function sameType(wanted: string, actual: string, types: SchemaTypes): boolean {
  const names = [...types.wanted, ...types.actual].map((t) => t.name);
  return normalizeCqlType(wanted, names) === normalizeCqlType(actual, names);
}

function diffColumns(wanted: readonly ColumnSchema[], actual: readonly ColumnSchema[], types: SchemaTypes): string[] {
  const diffs: string[] = [];
  const compareKey = (label: string, want: ColumnSchema[], have: ColumnSchema[]): void => {
    const names = (columns: ColumnSchema[]): string => `(${columns.map((c) => `"${c.name}"`).join(', ')})`;
    if (names(want) !== names(have)) {
      diffs.push(`${label}: backup ${names(want)}, target ${names(have)}`);
      return;
    }
    want.forEach((column, i) => {
      const other = have[i];
      if (other === undefined) return;
      if (!sameType(column.type, other.type, types)) diffs.push(typeDifference(column, other));
      if (orderText(column) !== orderText(other)) {
        diffs.push(`clustering order of "${column.name}": backup ${orderText(column)}, target ${orderText(other)}`);
      }
    });
  };
  compareKey('partition key', partitionKeyColumns({ columns: wanted }), partitionKeyColumns({ columns: actual }));
  compareKey('clustering columns', clusteringColumns({ columns: wanted }), clusteringColumns({ columns: actual }));

  for (const column of nonKeyColumns({ columns: wanted })) {
    const other = actual.find((c) => c.name === column.name);
    if (other === undefined) {
      diffs.push(`missing column "${column.name}" (${column.type}${column.kind === 'static' ? ' static' : ''})`);
    } else if (other.kind === 'partition_key' || other.kind === 'clustering') {
      diffs.push(`column "${column.name}": backup has a ${column.kind} column, target has it in the primary key`);
    } else {
      if (other.kind !== column.kind) {
        diffs.push(`column "${column.name}": backup has a ${column.kind} column, target has a ${other.kind} one`);
      }
      if (!sameType(column.type, other.type, types)) diffs.push(typeDifference(column, other));
    }
  }
  return diffs;
}

function typeDifference(wanted: ColumnSchema, actual: ColumnSchema): string {
  return `column "${wanted.name}": backup has ${wanted.type}, target has ${actual.type}`;
}

/** ASC or DESC for a clustering column; partition key columns have no order and read as ASC alike. */
function orderText(column: ColumnSchema): string {
  return (column.order ?? 'asc').toUpperCase();
}

/** `names` and every type their fields use, transitively, as `types` defines them. */
function typeClosure(names: readonly string[], types: readonly UserTypeSchema[]): string[] {
  const byName = new Map(types.map((t) => [t.name, t]));
  const all = new Set(byName.keys());
  const seen = new Set<string>();
  const pending = [...names];
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (seen.has(name)) continue;
    seen.add(name);
    for (const field of byName.get(name)?.fields ?? []) pending.push(...referencedTypes(field.type, all));
  }
  // Stable output: the backup's dependency order, then names it does not define.
  const known = typesInDependencyOrder(types).map((t) => t.name).filter((name) => seen.has(name));
  return [...known, ...[...seen].filter((name) => !byName.has(name)).sort(compareNames)];
}
