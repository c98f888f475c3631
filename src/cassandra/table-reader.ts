/**
 * What the export needs to know about one table: the token-range SELECT and how to turn one of its
 * result rows into an NDJSON line (docs/format.md §6.1).
 */
import { CassetteError } from '../errors.js';
import { cellProjection } from './cell-codec.js';
import { parseCqlType } from './cql-type.js';
import { quoteIdentifier } from './identifiers.js';
import { installNullListElementFix } from './driver-list-decoding.js';
import { clusteringColumns, findTable, nonKeyColumns, partitionKeyColumns, type KeyspaceSchema } from './schema.js';
import type { QueryRow } from './session.js';
import { encodeValue } from './value-codec.js';

export interface TableReader {
  /** `SELECT keys…, col, WRITETIME(col), TTL(col)… FROM ks.t WHERE token(pk…) > ? AND token(pk…) <= ?` */
  readonly cql: string;
  /** The row as one NDJSON line, without the newline. `readAtSeconds` turns TTLs into expiries. */
  encodeRow(row: QueryRow, readAtSeconds: number): string;
}

/** Builds the reader of `tableName` from the captured schema. */
export function tableReaderFor(schema: KeyspaceSchema, tableName: string): TableReader {
  const table = findTable(schema, tableName);
  if (table === undefined) throw new CassetteError('INVALID_INPUT', `table ${schema.name}.${tableName} is not in the schema`);
  // Cassandra 5.0 returns WRITETIME/TTL lists with null elements, which the driver misreads unless fixed.
  installNullListElementFix();
  const keyColumns = [...partitionKeyColumns(table), ...clusteringColumns(table)];
  const keyTypes = keyColumns.map((c) => parseCqlType(c.type, schema.types));
  const projection = cellProjection(nonKeyColumns(table).map((c) => ({ name: c.name, kind: c.kind, type: parseCqlType(c.type, schema.types) })));
  const token = `token(${partitionKeyColumns(table).map((c) => quoteIdentifier(c.name)).join(', ')})`;
  const select = [...keyColumns.map((c) => quoteIdentifier(c.name)), ...projection.selectors].join(', ');
  const cql = `SELECT ${select} FROM ${quoteIdentifier(schema.name)}.${quoteIdentifier(table.name)} WHERE ${token} > ? AND ${token} <= ?`;
  const keyCount = keyColumns.length;
  return {
    cql,
    encodeRow(row, readAtSeconds) {
      const values = row.values();
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
