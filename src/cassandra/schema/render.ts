/**
 * Renders a {@link KeyspaceSchema} as CQL statements that recreate it, possibly under another
 * keyspace name and with another replication map. Statements have no trailing `;` (the driver
 * runs one at a time; schema.cql joins them with `;\n\n`).
 *
 * Plain `CREATE` by default, not `CREATE … IF NOT EXISTS`: restore decides per object whether to
 * create it (absent) or compare it (present, refusing an incompatible one), and a plain CREATE
 * makes a concurrent, possibly different creation fail loudly instead of being silently accepted.
 * `ifNotExists: true` is there for callers that want idempotent statements.
 */
import { formatIdentifier, quoteString } from '../values/identifiers.js';
import type {
  ColumnSchema, IndexSchema, KeyspaceSchema, SchemaOptions, SchemaOptionValue, TableSchema, UserTypeSchema, ViewSchema,
} from './model.js';
import {
  clusteringColumns, compareNames, orderColumns, partitionKeyColumns, typesInDependencyOrder,
} from './model.js';

/** Options of {@link renderSchemaCql}. */
export interface RenderSchemaOptions {
  /** Create everything in this keyspace instead of the captured one (restore with rename). */
  readonly keyspace?: string;
  /** Replace the captured replication map entirely (e.g. another cluster's data centers). */
  readonly replication?: Readonly<Record<string, string>>;
  /** Emit `CREATE … IF NOT EXISTS` forms. Default false (see the module comment). */
  readonly ifNotExists?: boolean;
}

/** Options of the per-object renderers. */
export interface RenderObjectOptions {
  readonly ifNotExists?: boolean;
}

/**
 * Every statement that recreates the keyspace, in dependency order: keyspace, user types
 * (dependencies first), tables, indexes, materialized views.
 */
export function renderSchemaCql(schema: KeyspaceSchema, options: RenderSchemaOptions = {}): string[] {
  const keyspace = options.keyspace ?? schema.name;
  const objectOptions = { ifNotExists: options.ifNotExists ?? false };
  return [
    renderKeyspaceCql({
      name: keyspace,
      replication: options.replication ?? schema.replication,
      durableWrites: schema.durableWrites,
    }, objectOptions),
    ...typesInDependencyOrder(schema.types).map((type) => renderTypeCql(keyspace, type, objectOptions)),
    ...schema.tables.map((table) => renderTableCql(keyspace, table, objectOptions)),
    ...schema.indexes.map((index) => renderIndexCql(keyspace, index, objectOptions)),
    ...schema.views.map((view) => renderViewCql(keyspace, view, objectOptions)),
  ];
}

/**
 * The schema under another keyspace name, with every `cql` field re-rendered for it; everything
 * else is unchanged. Capturing a keyspace restored with `renderSchemaCql(s, { keyspace })` gives
 * a value equal to `renameKeyspace(s, keyspace)`, so their fingerprints can be compared.
 */
export function renameKeyspace(schema: KeyspaceSchema, keyspace: string): KeyspaceSchema {
  return {
    ...schema,
    name: keyspace,
    tables: schema.tables.map((table) => ({ ...table, cql: renderTableCql(keyspace, table) })),
    indexes: schema.indexes.map((index) => ({ ...index, cql: renderIndexCql(keyspace, index) })),
    views: schema.views.map((view) => ({ ...view, cql: renderViewCql(keyspace, view) })),
  };
}

/** `CREATE KEYSPACE` with the replication map (`class` first) and durable_writes. */
export function renderKeyspaceCql(
  keyspace: Pick<KeyspaceSchema, 'name' | 'replication' | 'durableWrites'>,
  options: RenderObjectOptions = {},
): string {
  const { class: strategy, ...rest } = keyspace.replication;
  const entries = [
    ...(strategy === undefined ? [] : [['class', strategy] as const]),
    ...Object.entries(rest).sort(([a], [b]) => compareNames(a, b)),
  ];
  const replication = `{${entries.map(([k, v]) => `${quoteString(k)}: ${quoteString(v)}`).join(', ')}}`;
  return `CREATE KEYSPACE ${ifNotExists(options)}${formatIdentifier(keyspace.name)} WITH replication = ${replication}`
    + ` AND durable_writes = ${String(keyspace.durableWrites)}`;
}

/** `CREATE TYPE` with the fields in declaration order. */
export function renderTypeCql(keyspace: string, type: UserTypeSchema, options: RenderObjectOptions = {}): string {
  const fields = type.fields.map((f) => `    ${formatIdentifier(f.name)} ${f.type}`);
  return `CREATE TYPE ${ifNotExists(options)}${qualified(keyspace, type.name)} (\n${fields.join(',\n')}\n)`;
}

/**
 * `CREATE TABLE` with every column (static ones marked), `PRIMARY KEY ((pk…), ck…)`, `CLUSTERING
 * ORDER BY` when there are clustering columns, and every option (see {@link renderOptions}).
 */
export function renderTableCql(
  keyspace: string,
  table: Pick<TableSchema, 'name' | 'columns' | 'options'>,
  options: RenderObjectOptions = {},
): string {
  const columns = orderColumns(table.columns).map(
    (c) => `    ${formatIdentifier(c.name)} ${c.type}${c.kind === 'static' ? ' static' : ''}`,
  );
  const body = [...columns, `    ${primaryKey(table)}`].join(',\n');
  return `CREATE TABLE ${ifNotExists(options)}${qualified(keyspace, table.name)} (\n${body}\n)${withClause(table, table.options)}`;
}

/**
 * `CREATE INDEX name ON ks.table (target)` for KEYS and COMPOSITES indexes (as DESCRIBE does: a
 * target cluster whose `default_secondary_index` is not the legacy one would build its default
 * kind); `CREATE CUSTOM INDEX … USING '<class_name>' [WITH OPTIONS = {…}]` for custom ones (SAI,
 * SASI), with every stored option except `class_name` and `target`.
 */
export function renderIndexCql(keyspace: string, index: Omit<IndexSchema, 'cql'>, options: RenderObjectOptions = {}): string {
  const on = `${formatIdentifier(index.name)} ON ${qualified(keyspace, index.table)} (${index.options['target'] ?? ''})`;
  switch (index.kind) {
    case 'KEYS':
    case 'COMPOSITES':
      return `CREATE INDEX ${ifNotExists(options)}${on}`;
    case 'CUSTOM': {
      const className = index.options['class_name'];
      const rest = Object.fromEntries(
        Object.entries(index.options).filter(([name]) => name !== 'class_name' && name !== 'target'),
      );
      const using = className === undefined ? '' : ` USING ${quoteString(className)}`;
      const withOptions = Object.keys(rest).length === 0 ? '' : ` WITH OPTIONS = ${mapLiteral(rest)}`;
      return `CREATE CUSTOM INDEX ${ifNotExists(options)}${on}${using}${withOptions}`;
    }
  }
}

/**
 * `CREATE MATERIALIZED VIEW … AS SELECT … FROM ks.base WHERE … PRIMARY KEY … WITH CLUSTERING
 * ORDER BY … AND options`. The WHERE clause is the stored one with its string literals re-escaped
 * (see {@link escapeWhereClauseLiterals}).
 */
export function renderViewCql(keyspace: string, view: Omit<ViewSchema, 'cql'>, options: RenderObjectOptions = {}): string {
  const selected = view.includeAllColumns ? '*' : orderColumns(view.columns).map((c) => formatIdentifier(c.name)).join(', ');
  return `CREATE MATERIALIZED VIEW ${ifNotExists(options)}${qualified(keyspace, view.name)} AS\n`
    + `    SELECT ${selected}\n`
    + `    FROM ${qualified(keyspace, view.baseTable)}\n`
    + `    WHERE ${escapeWhereClauseLiterals(view.whereClause)}\n`
    + `    ${primaryKey(view)}${withClause(view, view.options)}`;
}

/**
 * Options Cassandra accepts in `WITH` but ignores, so they are described but never rendered:
 * `extensions` is only set by server plugins (TableAttributes does not apply it).
 */
const UNRENDERED_OPTIONS: ReadonlySet<string> = new Set(['extensions']);

/** `name = value` for each option, by name: maps as CQL map literals, strings quoted. */
export function renderOptions(options: SchemaOptions): string[] {
  return Object.entries(options)
    .filter(([name]) => !UNRENDERED_OPTIONS.has(name))
    .sort(([a], [b]) => compareNames(a, b))
    .map(([name, value]) => `${name} = ${optionLiteral(value)}`);
}

function optionLiteral(value: SchemaOptionValue): string {
  switch (typeof value) {
    case 'string': return quoteString(value);
    case 'boolean': return String(value);
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`cannot render the non-finite option value ${value}`);
      return String(value);
    default: return mapLiteral(value);
  }
}

function withClause(keyed: { readonly columns: readonly ColumnSchema[] }, options: SchemaOptions): string {
  const clustering = clusteringColumns(keyed);
  const parts = [
    ...(clustering.length === 0 ? [] : [
      `CLUSTERING ORDER BY (${clustering.map((c) => `${formatIdentifier(c.name)} ${(c.order ?? 'asc').toUpperCase()}`).join(', ')})`,
    ]),
    ...renderOptions(options),
  ];
  return parts.length === 0 ? '' : `\n    WITH ${parts.join('\n    AND ')}`;
}

function primaryKey(keyed: { readonly columns: readonly ColumnSchema[] }): string {
  const partition = partitionKeyColumns(keyed).map((c) => formatIdentifier(c.name));
  const clustering = clusteringColumns(keyed).map((c) => formatIdentifier(c.name));
  const partitionPart = partition.length === 1 ? (partition[0] ?? '') : `(${partition.join(', ')})`;
  return `PRIMARY KEY (${[partitionPart, ...clustering].join(', ')})`;
}

function ifNotExists(options: RenderObjectOptions): string {
  return options.ifNotExists === true ? 'IF NOT EXISTS ' : '';
}

function qualified(keyspace: string, name: string): string {
  return `${formatIdentifier(keyspace)}.${formatIdentifier(name)}`;
}

/** A CQL map literal with string keys and values, keys sorted. */
function mapLiteral(map: Readonly<Record<string, string>>): string {
  const entries = Object.entries(map).sort(([a], [b]) => compareNames(a, b));
  return `{${entries.map(([k, v]) => `${quoteString(k)}: ${quoteString(v)}`).join(', ')}}`;
}


/**
 * Cassandra 5.0 stores a view's WHERE clause with string literals unescaped (`pk = 'it's'`), so the
 * stored text does not parse. This re-escapes it: inside a literal, a `'` ends it when what follows
 * is the end, `)`, `,` or `AND`; a `''` pair is kept (already escaped); any other `'` is doubled.
 * Ambiguous only for a literal whose text itself contains `' AND`, `')` or `',`.
 */
export function escapeWhereClauseLiterals(where: string): string {
  let out = '';
  let i = 0;
  while (i < where.length) {
    const ch = where[i] ?? '';
    if (ch === '"') {
      const end = endOfQuotedIdentifier(where, i);
      out += where.slice(i, end);
      i = end;
    } else if (ch === "'") {
      let j = i + 1;
      out += "'";
      for (;;) {
        if (j >= where.length) { out += "'"; break; }
        const c = where[j] ?? '';
        if (c !== "'") { out += c; j += 1; continue; }
        if (/^\s*($|\)|,|AND\b)/i.test(where.slice(j + 1))) { out += "'"; j += 1; break; }
        out += "''";
        j += where[j + 1] === "'" ? 2 : 1;
      }
      i = j;
    } else {
      out += ch;
      i += 1;
    }
  }
  return out;
}

function endOfQuotedIdentifier(text: string, start: number): number {
  let j = start + 1;
  while (j < text.length) {
    if (text[j] === '"' && text[j + 1] === '"') { j += 2; continue; }
    if (text[j] === '"') return j + 1;
    j += 1;
  }
  return text.length;
}
