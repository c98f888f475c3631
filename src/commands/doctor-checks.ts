/**
 * The checks of `cassette doctor` that need no I/O: a rotation config against a captured
 * keyspace schema (tables, keys, column types, the key-version column, and the refusals — counter
 * tables, encrypted key or static columns, indexes and materialized views over encrypted columns)
 * and the config's own contradictory settings. doctor.ts runs them with the checks that do I/O.
 */
import { quoteIdentifier } from '../cassandra/values/identifiers.js';
import { parseIndexTarget } from '../cassandra/schema/index-target.js';
import {
  clusteringColumns, findTable, partitionKeyColumns, type ColumnSchema, type IndexSchema, type KeyspaceSchema, type TableSchema,
} from '../cassandra/schema/model.js';
import type { RotationConfig, TableRotation } from '../config/rotation-types.js';
import type { ErrorCode } from '../errors.js';
import { keyVersionValue } from './rotate/row-plans.js';

/** How a check came out. `warn` does not stop a rotation; `fail` does. */
export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One line of the doctor's report. */
export interface DoctorCheck {
  /** Stable identifier of the kind of check (`table.exists`, `column.index`, …; docs/config.md lists them). */
  readonly id: string;
  readonly table?: string;
  readonly column?: string;
  readonly status: CheckStatus;
  /** One line naming the table/column and the problem (or what was found). Never contains key material or values. */
  readonly message: string;
  /** What to do about it. */
  readonly hint?: string;
  /** On a failure: the error code it becomes, hence the exit status (docs/exit-codes.md). */
  readonly code?: ErrorCode;
}

/** The key versions a rotation writes and recognizes; undefined where they are not known (keys did not load). */
export interface KeyVersions {
  readonly newVersion: string;
  readonly oldVersions: readonly string[];
}

interface Where {
  readonly table?: string;
  readonly column?: string;
  readonly hint?: string;
}

/** Builds a check; `where` adds the table, column and hint when given. */
export function check(id: string, status: CheckStatus, message: string, where: Where & { readonly code?: ErrorCode } = {}): DoctorCheck {
  return {
    id,
    ...(where.table === undefined ? {} : { table: where.table }),
    ...(where.column === undefined ? {} : { column: where.column }),
    status,
    message,
    ...(where.hint === undefined ? {} : { hint: where.hint }),
    ...(status === 'fail' ? { code: where.code ?? 'INVALID_INPUT' } : {}),
  };
}

/** The CQL types an encrypted value can be stored in (as system_schema spells them, plus the `varchar` alias). */
const CIPHERTEXT_TYPES: ReadonlySet<string> = new Set(['blob', 'text', 'varchar', 'ascii']);
const TEXT_TYPES: ReadonlySet<string> = new Set(['text', 'varchar', 'ascii']);
/** Integer types a key-version column may have, when every key version is a decimal integer in range. */
const INTEGER_TYPES: ReadonlySet<string> = new Set(['tinyint', 'smallint', 'int', 'bigint', 'varint']);

/** Whether `type` (as system_schema spells it) holds ciphertext: blob, text, varchar or ascii. */
export function isCiphertextType(type: string): boolean {
  return CIPHERTEXT_TYPES.has(type);
}

/** `(a, b)`, or `none` for an empty list. */
function tuple(names: readonly string[]): string {
  return names.length === 0 ? 'none' : `(${names.join(', ')})`;
}

/**
 * The schema checks of every configured table, in config order: each table's existence and
 * primary key, each encrypted column's existence, kind and type, the indexes and views over them,
 * and the key-version column. `versions` is undefined when the keys did not load.
 */
export function checkTables(config: RotationConfig, schema: KeyspaceSchema, versions: KeyVersions | undefined): DoctorCheck[] {
  return config.tables.flatMap((rotation) => checkTable(config, schema, rotation, versions));
}

function checkTable(config: RotationConfig, schema: KeyspaceSchema, rotation: TableRotation, versions: KeyVersions | undefined): DoctorCheck[] {
  const name = rotation.name;
  const table = findTable(schema, name);
  if (table === undefined) return [missingTable(config, schema, name)];
  const partition = partitionKeyColumns(table).map((c) => c.name);
  const clustering = clusteringColumns(table).map((c) => c.name);
  const checks: DoctorCheck[] = [
    check('table.exists', 'ok', `${name} exists: partition key ${tuple(partition)}, clustering ${tuple(clustering)}`, { table: name }),
  ];
  if (rotation.partitionKey !== undefined) checks.push(checkKeyList('partition', name, rotation.partitionKey, partition, config.file));
  if (rotation.clusteringKey !== undefined) checks.push(checkKeyList('clustering', name, rotation.clusteringKey, clustering, config.file));
  if (table.isCounter) {
    checks.push(check('table.counter', 'fail', `${name} is a counter table: counters cannot be SET; rotation of counter tables is not supported`, {
      table: name, hint: `remove ${name} from tables in ${config.file}`,
    }));
  }
  for (const column of rotation.encryptedColumns) checks.push(...checkColumn(config, table, column));
  checks.push(...checkIndexes(schema, table, rotation), ...checkViews(schema, table, rotation));
  if (config.keyVersionColumn !== null) checks.push(checkKeyVersionColumn(config, schema, table, config.keyVersionColumn, rotation, versions));
  return checks;
}

function missingTable(config: RotationConfig, schema: KeyspaceSchema, name: string): DoctorCheck {
  const view = schema.views.find((v) => v.name === name);
  const known = schema.tables.map((t) => t.name);
  const hint = view !== undefined
    ? `${name} is a materialized view of ${view.baseTable}: rotate the base table; Cassandra maintains the view`
    : known.length === 0
      ? `keyspace ${schema.name} has no tables`
      : `tables in ${schema.name}: ${known.join(', ')} (names are case-sensitive); fix tables in ${config.file}`;
  return check('table.exists', 'fail', `table ${name} does not exist in keyspace ${schema.name}`, { table: name, hint });
}

function checkKeyList(kind: 'partition' | 'clustering', table: string, configured: readonly string[], actual: readonly string[], file: string): DoctorCheck {
  const id = kind === 'partition' ? 'table.partition-key' : 'table.clustering-key';
  const label = kind === 'partition' ? 'partition key' : 'clustering key';
  const same = configured.length === actual.length && configured.every((c, i) => c === actual[i]);
  if (same) return check(id, 'ok', `${table} ${label} matches the config: ${tuple(actual)}`, { table });
  return check(id, 'fail', `${table} ${label} is ${tuple(actual)}, not ${tuple(configured)} as configured`, {
    table,
    hint: `set ${kind === 'partition' ? 'partition_key' : 'clustering_key'}: [${actual.join(', ')}] for ${table} in ${file} (order matters)`,
  });
}

function checkColumn(config: RotationConfig, table: TableSchema, name: string): DoctorCheck[] {
  const where = { table: table.name, column: name };
  const remove = `remove ${name} from encrypted_columns of ${table.name} in ${config.file}`;
  const column = table.columns.find((c) => c.name === name);
  if (column === undefined) {
    return [check('column.exists', 'fail', `${table.name}.${name} does not exist`, {
      ...where, hint: `columns of ${table.name}: ${table.columns.map((c) => c.name).join(', ')} (names are case-sensitive)`,
    })];
  }
  const checks: DoctorCheck[] = [];
  if (column.kind === 'partition_key' || column.kind === 'clustering') {
    const kind = column.kind === 'partition_key' ? 'partition key' : 'clustering';
    checks.push(check('column.key', 'fail', `${table.name}.${name} is a ${kind} column: re-encrypting it changes the row's key and needs copy-and-swap; out of scope`, {
      ...where, hint: `${remove}; re-encrypting a key column means copying every row into a new table`,
    }));
  } else if (column.kind === 'static') {
    checks.push(check('column.static', 'fail', `${table.name}.${name} is a static column: rotating encrypted static columns is not supported`, { ...where, hint: remove }));
  }
  checks.push(isCiphertextType(column.type)
    ? check('column.type', 'ok', `${table.name}.${name} is ${column.type}`, where)
    : check('column.type', 'fail', `${table.name}.${name} is ${column.type}; encrypted columns must be blob or text`, {
      ...where, hint: `${remove}, or keep its ciphertext in a blob or text column`,
    }));
  return checks;
}

/** The kind of an index, for messages: SAI, SASI, a custom index class, or a secondary index. */
function indexLabel(index: IndexSchema): string {
  if (index.kind !== 'CUSTOM') return 'secondary index';
  const className = index.options.class_name ?? '';
  if (/StorageAttachedIndex$/i.test(className) || /^sai$/i.test(className)) return 'SAI index';
  if (/SASIIndex$/i.test(className)) return 'SASI index';
  return `custom index ${className}`.trim();
}

/** One failure per index over an encrypted column, or one ok for the table. */
function checkIndexes(schema: KeyspaceSchema, table: TableSchema, rotation: TableRotation): DoctorCheck[] {
  const encrypted = new Set(rotation.encryptedColumns);
  const failures: DoctorCheck[] = [];
  for (const index of schema.indexes.filter((i) => i.table === table.name)) {
    const target = parseIndexTarget(index.options.target ?? '');
    if (target === undefined || !encrypted.has(target.column)) continue;
    failures.push(check('column.index', 'fail',
      `${table.name}.${target.column} is indexed by ${index.name} (${indexLabel(index)}): the index would keep stale ciphertext`, {
        table: table.name, column: target.column,
        hint: `drop the index (DROP INDEX ${quoteIdentifier(schema.name)}.${quoteIdentifier(index.name)};) before the rotation and create it again afterwards, or remove ${target.column} from encrypted_columns`,
      }));
  }
  return failures.length > 0 ? failures : [check('column.index', 'ok', `no index of ${table.name} covers an encrypted column`, { table: table.name })];
}

/** One failure per materialized view that includes an encrypted column, or one ok for the table. */
function checkViews(schema: KeyspaceSchema, table: TableSchema, rotation: TableRotation): DoctorCheck[] {
  const failures: DoctorCheck[] = [];
  for (const view of schema.views.filter((v) => v.baseTable === table.name)) {
    const included = rotation.encryptedColumns.filter((c) => view.includeAllColumns || view.columns.some((vc) => vc.name === c));
    if (included.length === 0) continue;
    failures.push(check('column.view', 'fail', `${included.map((c) => `${table.name}.${c}`).join(', ')} ${included.length > 1 ? 'are' : 'is'} in materialized view ${view.name}: the view would need rebuilding`, {
      table: table.name, column: included[0] as string,
      hint: `drop the view (DROP MATERIALIZED VIEW ${quoteIdentifier(schema.name)}.${quoteIdentifier(view.name)};) before the rotation and create it again afterwards, or remove ${included.join(', ')} from encrypted_columns`,
    }));
  }
  return failures.length > 0 ? failures : [check('column.view', 'ok', `no materialized view of ${table.name} includes an encrypted column`, { table: table.name })];
}

function checkKeyVersionColumn(
  config: RotationConfig, schema: KeyspaceSchema, table: TableSchema, name: string, rotation: TableRotation, versions: KeyVersions | undefined,
): DoctorCheck {
  const where = { table: table.name, column: name };
  const column: ColumnSchema | undefined = table.columns.find((c) => c.name === name);
  if (column === undefined) {
    return check('key-version.column', 'fail', `${table.name} has no key-version column ${name}`, {
      ...where, hint: `ALTER TABLE ${quoteIdentifier(schema.name)}.${quoteIdentifier(table.name)} ADD ${quoteIdentifier(name)} text;`,
    });
  }
  if (rotation.encryptedColumns.includes(name)) {
    return check('key-version.column', 'fail', `${table.name}.${name} is both the key-version column and an encrypted column`, {
      ...where, hint: `set key_version_column to a plain text column, or remove ${name} from encrypted_columns`,
    });
  }
  if (column.kind !== 'regular') {
    const kind = column.kind === 'partition_key' ? 'a partition key' : column.kind === 'clustering' ? 'a clustering' : 'a static';
    return check('key-version.column', 'fail', `${table.name}.${name} is ${kind} column; the key-version column must be a regular column`, {
      ...where, hint: `set key_version_column to a regular (non-key, non-static) text column of ${table.name}`,
    });
  }
  if (TEXT_TYPES.has(column.type)) return check('key-version.column', 'ok', `${table.name}.${name} is ${column.type}: it can hold any key version`, where);
  if (!INTEGER_TYPES.has(column.type)) {
    return check('key-version.column', 'fail', `${table.name}.${name} is ${column.type}; the key-version column must be text (or an integer type with integer versions)`, {
      ...where, hint: `set key_version_column to a text column of ${table.name} (ALTER TABLE ${quoteIdentifier(schema.name)}.${quoteIdentifier(table.name)} ADD <name> text; adds one)`,
    });
  }
  if (versions === undefined) {
    return check('key-version.column', 'warn', `${table.name}.${name} is ${column.type}: cannot check that it holds the key versions, because the keys did not load`, where);
  }
  const all = [versions.newVersion, ...versions.oldVersions];
  // The same test rotate applies when it writes the version (rotate/row-plans.ts).
  const misfits = all.filter((v) => keyVersionValue(column.type, v) === undefined);
  if (misfits.length === 0) return check('key-version.column', 'ok', `${table.name}.${name} is ${column.type}: key versions ${all.join(', ')} fit`, where);
  return check('key-version.column', 'fail', `${table.name}.${name} is ${column.type}, but key version${misfits.length > 1 ? 's' : ''} ${misfits.map((v) => JSON.stringify(v)).join(', ')} ${misfits.length > 1 ? 'are' : 'is'} not ${column.type === 'varint' ? 'a decimal integer' : `a decimal integer in ${column.type} range`}`, {
    ...where, hint: `set provider.new_key_version and provider.old_key_version to integers in ${config.file}, or use a text key-version column`,
  });
}

/**
 * Settings of the config that contradict each other or that cassette ignores: an LWT guard with
 * preserved WRITETIMEs (warn), an LWT guard without a key-version column (fail), the state
 * keyspace (a note), pause_on_backpressure without a threshold (warn).
 */
export function checkSettings(config: RotationConfig): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  for (const table of config.tables) {
    if (table.useLwtGuard && table.preserveWritetime) {
      checks.push(check('settings.lwt-writetime', 'warn',
        `${table.name}: LWT cannot keep WRITETIME (Cassandra refuses USING TIMESTAMP on conditional writes): use_lwt_guard wins; rewritten cells get the Paxos ballot time`, {
          table: table.name, hint: `set preserve_writetime: false for ${table.name} to silence this, or use_lwt_guard: false to keep WRITETIMEs`,
        }));
    }
    if (table.useLwtGuard && config.keyVersionColumn === null) {
      checks.push(check('settings.lwt-key-version', 'fail', `${table.name}: use_lwt_guard needs a key-version column to compare, and key_version_column is null`, {
        table: table.name, hint: `set key_version_column (and add that column to the table), or use_lwt_guard: false for ${table.name}`,
      }));
    }
  }
  if (config.stateKeyspace !== undefined) {
    checks.push(check('settings.state-keyspace', 'ok', `state.keyspace ${config.stateKeyspace} is ignored: cassette keeps job state in the repository`));
  }
  if (config.execution.pauseOnBackpressure && config.execution.readP99ThresholdMs === undefined) {
    checks.push(check('settings.backpressure', 'warn', 'pause_on_backpressure is true but read_p99_threshold_ms is not set: there is no latency to pause at', {
      hint: 'set execution.read_p99_threshold_ms (e.g. 50), or pause_on_backpressure: false',
    }));
  }
  return checks;
}
