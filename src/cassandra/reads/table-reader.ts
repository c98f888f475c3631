/**
 * What the export needs to know about one table: the token-range SELECT and how to turn one of its
 * result rows into an NDJSON line (docs/format.md §6.1).
 */
import { CassetteError } from '../../errors.js';
import { cellProjection } from '../values/cell-codec.js';
import { approximatedCellProjection } from '../values/approximated-cells.js';
import { parseCqlType } from '../values/cql-type.js';
import { quoteIdentifier } from '../values/identifiers.js';
import { installNullListElementFix } from '../values/driver-list-decoding.js';
import { clusteringColumns, findTable, nonKeyColumns, partitionKeyColumns, type KeyspaceSchema } from '../schema/capture.js';
import type { QueryRow } from '../connection/session.js';
import { encodeValue } from '../values/value-codec.js';

export interface TableReader {
  /** `SELECT keys…, col, WRITETIME(col), TTL(col)… FROM ks.t WHERE token(pk…) > ? AND token(pk…) <= ?` */
  readonly cql: string;
  /** The row as one NDJSON line, without the newline. `readAtSeconds` turns TTLs into expiries. */
  encodeRow(row: QueryRow, readAtSeconds: number): string;
  /** Columns whose writetimes and expiries are approximated (format.md §6.4); absent when none are. */
  readonly approximated?: readonly string[];
}

export interface TableReaderOptions {
  /**
   * Whether the cluster returns WRITETIME/TTL of multi-cell columns (read-capabilities.ts
   * readsElementWritetimes; true by default). When false, their writetimes are approximated.
   */
  readonly elementWritetimes?: boolean;
  /**
   * With `elementWritetimes` false: the writetime (µs) of a multi-cell column in a row without
   * single cells of its kind — a backup passes the time it started; the page's read time otherwise.
   */
  readonly fallbackWritetime?: bigint;
}

/**
 * Builds the reader of `tableName` from the captured schema: every column, or only the key and
 * `columns` (rotate exports just the encrypted and key-version columns).
 */
export function tableReaderFor(schema: KeyspaceSchema, tableName: string, columns?: readonly string[], options: TableReaderOptions = {}): TableReader {
  const table = findTable(schema, tableName);
  if (table === undefined) throw new CassetteError('INVALID_INPUT', `table ${schema.name}.${tableName} is not in the schema`);
  // Cassandra 5.0 returns WRITETIME/TTL lists with null elements, which the driver misreads unless fixed.
  installNullListElementFix();
  const keyColumns = [...partitionKeyColumns(table), ...clusteringColumns(table)];
  const keyTypes = keyColumns.map((c) => parseCqlType(c.type, schema.types));
  const selected = columns === undefined ? nonKeyColumns(table) : nonKeyColumns(table).filter((c) => columns.includes(c.name));
  const cellColumns = selected.map((c) => ({ name: c.name, kind: c.kind, type: parseCqlType(c.type, schema.types) }));
  // Decided once per table: the 5.0 projection, or (4.x) the one that approximates multi-cell writetimes.
  const approximate = options.elementWritetimes === false ? approximatedCellProjection(cellColumns, options.fallbackWritetime) : undefined;
  const projection = approximate ?? cellProjection(cellColumns);
  const token = `token(${partitionKeyColumns(table).map((c) => quoteIdentifier(c.name)).join(', ')})`;
  const select = [...keyColumns.map((c) => quoteIdentifier(c.name)), ...projection.selectors].join(', ');
  const cql = `SELECT ${select} FROM ${quoteIdentifier(schema.name)}.${quoteIdentifier(table.name)} WHERE ${token} > ? AND ${token} <= ?`;
  const keyCount = keyColumns.length;
  const width = keyCount + projection.selectors.length;
  // Reused by every row: encodeRow is synchronous and nothing keeps the array.
  const values = new Array<unknown>(width);
  return {
    cql,
    ...(approximate === undefined || approximate.approximated.length === 0 ? {} : { approximated: approximate.approximated }),
    encodeRow(row, readAtSeconds) {
      // By position, not row.values(): the driver's values() walks the row's keys with for…in and a
      // callback per column (4% of the export's CPU), and enumerates array-index column names first.
      for (let i = 0; i < width; i++) values[i] = row.get(i);
      const k = new Array<unknown>(keyCount);
      for (let i = 0; i < keyCount; i++) {
        const value = values[i];
        // A clustering key is null only in a row that exists through static columns alone.
        k[i] = value === null || value === undefined ? null : encodeValue(keyTypes[i] as (typeof keyTypes)[number], value);
      }
      return JSON.stringify({ k, c: projection.encodeCells(values, keyCount, readAtSeconds) });
    },
  };
}

/** What the verification pass learns from one row: its key, its key version, and whether it holds an encrypted value. */
export interface KeyVersionRow {
  readonly key: unknown[];
  /** The key-version column's value as text (null when the column is null). */
  readonly keyVersion: string | null;
  readonly hasEncryptedValue: boolean;
}

export interface KeyVersionScan {
  /** `SELECT keys…, kv, WRITETIME(enc)… FROM ks.t WHERE token(pk…) > ? AND token(pk…) <= ?` */
  readonly cql: string;
  classify(row: QueryRow): KeyVersionRow;
}

/**
 * The verification scan of `rotate`: reads only the key, the key-version column and the
 * WRITETIME of each encrypted column (null exactly when the column is null), never a ciphertext.
 */
export function keyVersionScanFor(schema: KeyspaceSchema, tableName: string, keyVersionColumn: string, encrypted: readonly string[]): KeyVersionScan {
  const table = findTable(schema, tableName);
  if (table === undefined) throw new CassetteError('INVALID_INPUT', `table ${schema.name}.${tableName} is not in the schema`);
  const keyColumns = [...partitionKeyColumns(table), ...clusteringColumns(table)];
  const keyTypes = keyColumns.map((c) => parseCqlType(c.type, schema.types));
  const token = `token(${partitionKeyColumns(table).map((c) => quoteIdentifier(c.name)).join(', ')})`;
  const select = [...keyColumns.map((c) => quoteIdentifier(c.name)), quoteIdentifier(keyVersionColumn), ...encrypted.map((c) => `WRITETIME(${quoteIdentifier(c)})`)];
  const keyCount = keyColumns.length;
  return {
    cql: `SELECT ${select.join(', ')} FROM ${quoteIdentifier(schema.name)}.${quoteIdentifier(table.name)} WHERE ${token} > ? AND ${token} <= ?`,
    classify(row) {
      const values = row.values();
      const key = keyTypes.map((type, i) => {
        const value = values[i];
        return value === null || value === undefined ? null : encodeValue(type, value);
      });
      const kv = values[keyCount];
      const hasEncryptedValue = values.slice(keyCount + 1).some((v) => v !== null && v !== undefined);
      return { key, keyVersion: kv === null || kv === undefined ? null : String(kv), hasEncryptedValue };
    },
  };
}
