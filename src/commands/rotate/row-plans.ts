/**
 * Turning a rotation config's tables into per-table row plans against a schema (the backup's for
 * `rekey`, the cluster's for `rotate`): which columns are encrypted and how they store ciphertext,
 * and the key-version column with the new version in its CQL type. Anything that cannot work is
 * INVALID_INPUT naming the table and column; doctor reports the same problems one check each.
 */
import { findTable, type KeyspaceSchema, type TableSchema } from '../../cassandra/schema/model.js';
import type { RotationConfig } from '../../config/rotation-types.js';
import type { ColumnCipher } from '../../crypto/cipher.js';
import { CassetteError } from '../../errors.js';
import type { RowRotationPlan } from '../../pipeline/transform/rekey-row.js';

const TEXT_TYPES = new Set(['text', 'varchar', 'ascii']);
const INT_RANGES: Readonly<Record<string, readonly [bigint, bigint]>> = {
  tinyint: [-(2n ** 7n), 2n ** 7n - 1n],
  smallint: [-(2n ** 15n), 2n ** 15n - 1n],
  int: [-(2n ** 31n), 2n ** 31n - 1n],
  bigint: [-(2n ** 63n), 2n ** 63n - 1n],
  varint: [-(2n ** 1024n), 2n ** 1024n],
};

/** How a key version is stored in a key-version column of `type` (format §6.3), or undefined if it cannot be. */
export function keyVersionValue(type: string, version: string): string | number | undefined {
  if (TEXT_TYPES.has(type)) return version;
  const range = INT_RANGES[type];
  if (range === undefined || !/^-?\d+$/.test(version)) return undefined;
  const n = BigInt(version);
  if (n < range[0] || n > range[1]) return undefined;
  return type === 'bigint' || type === 'varint' ? n.toString() : Number(n);
}

function invalid(message: string, hint?: string): CassetteError {
  return new CassetteError('INVALID_INPUT', message, hint === undefined ? {} : { hint });
}

function planFor(schema: KeyspaceSchema, table: TableSchema, encrypted: readonly string[], keyVersionColumn: string | null, cipher: ColumnCipher): RowRotationPlan {
  const where = `${schema.name}.${table.name}`;
  if (table.isCounter) throw invalid(`${where} is a counter table; counters cannot be re-encrypted`);
  const columns = encrypted.map((name) => {
    const column = table.columns.find((c) => c.name === name);
    if (column === undefined) throw invalid(`${where} has no column ${name}`, 'check encrypted_columns in the config');
    if (column.kind === 'partition_key' || column.kind === 'clustering') {
      throw invalid(`${where}.${name} is part of the primary key; rotating a key column needs copy-and-swap, which cassette does not do`);
    }
    if (column.kind === 'static') throw invalid(`${where}.${name} is a static column; encrypted static columns are not supported`);
    if (column.type !== 'blob' && !TEXT_TYPES.has(column.type)) {
      throw invalid(`${where}.${name} is ${column.type}; encrypted columns must be blob or text`);
    }
    return { name, storage: column.type === 'blob' ? ('blob' as const) : ('text' as const) };
  });
  if (keyVersionColumn === null) return { keyspace: schema.name, table: table.name, columns, keyVersion: null };
  const kv = table.columns.find((c) => c.name === keyVersionColumn);
  if (kv === undefined) {
    throw invalid(`${where} has no key-version column ${keyVersionColumn}`, 'add it (see `cassette doctor`), or set key_version_column: null in the config');
  }
  if (kv.kind !== 'regular') throw invalid(`${where}.${keyVersionColumn} is a ${kv.kind.replace('_', ' ')} column; the key-version column must be a regular column`);
  const newValue = keyVersionValue(kv.type, cipher.newKeyVersion);
  if (newValue === undefined) {
    throw invalid(`${where}.${keyVersionColumn} is ${kv.type} and cannot hold key version "${cipher.newKeyVersion}"`, 'set provider.new_key_version (and old_key_version) to integers, or use a text column');
  }
  return { keyspace: schema.name, table: table.name, columns, keyVersion: { name: keyVersionColumn, newValue } };
}

/** The row plans of every table the config rotates, in config order. */
export function rotationPlans(config: RotationConfig, schema: KeyspaceSchema, cipher: ColumnCipher, source: string): Map<string, RowRotationPlan> {
  const plans = new Map<string, RowRotationPlan>();
  for (const rotation of config.tables) {
    const table = findTable(schema, rotation.name);
    if (table === undefined) {
      throw invalid(`${source} has no table ${rotation.name} in keyspace ${schema.name}`, `check tables[].name in ${config.file}`);
    }
    plans.set(table.name, planFor(schema, table, rotation.encryptedColumns, config.keyVersionColumn, cipher));
  }
  return plans;
}
