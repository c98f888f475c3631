/**
 * What a cluster's Cassandra release lets cassette read, decided once per backup or restore from
 * the release versions its nodes report — never per row.
 *
 * Cassandra 5.0 returns WRITETIME/TTL of a multi-cell column (non-frozen list, set, map, user type)
 * as a list, one entry per cell (CASSANDRA-8877). Cassandra 4.x refuses them ("Cannot use selection
 * function writeTime on non-frozen collection l", "… on non-frozen UDT u"), and offers no other way:
 * tried on 4.1.10, `WRITETIME(l[0])`, `WRITETIME(u.f)` and `WRITETIME(m[k])` are syntax errors,
 * `CAST` takes native types only, `maxwritetime` does not exist, and list elements cannot even be
 * selected. WRITETIME/TTL of a *frozen* collection or user type work (one cell). So on 4.x a backup
 * approximates the writetimes of multi-cell columns (docs/format.md §6.4), and a restore reads a
 * target list back without them (list-writes.ts).
 */
import { isMultiCell, parseCqlType } from '../values/cql-type.js';
import { findTable, nonKeyColumns, type KeyspaceSchema } from '../schema/capture.js';

/** The major version of a release version string ("4.1.10" → 4), or undefined when it has none. */
export function releaseMajor(version: string): number | undefined {
  const match = /^(\d+)\./.exec(version.trim());
  return match === null ? undefined : Number(match[1]);
}

/**
 * Whether every node can return WRITETIME/TTL of multi-cell columns: true unless a node runs a
 * release before 5.0. Versions the driver did not know ("unknown") are left out; with none known,
 * the answer is true (cassette's behaviour before it looked at versions).
 */
export function readsElementWritetimes(releaseVersions: readonly string[]): boolean {
  return releaseVersions.every((version) => (releaseMajor(version) ?? 5) >= 5);
}

/** The non-key multi-cell columns of `tableName`, by name in the table's column order. */
export function multiCellColumns(schema: KeyspaceSchema, tableName: string): string[] {
  const table = findTable(schema, tableName);
  if (table === undefined) return [];
  return nonKeyColumns(table).filter((column) => isMultiCell(parseCqlType(column.type, schema.types))).map((column) => column.name);
}
