/**
 * After a restore (`--verify`): counts the rows of every backed-up range in the target and
 * compares them with what the restore's chunk markers say it wrote.
 */
import type { CqlWriteSession } from '../../cassandra/connection/session.js';
import { findTable, partitionKeyColumns, type KeyspaceSchema } from '../../cassandra/schema/capture.js';
import { quoteIdentifier } from '../../cassandra/values/identifiers.js';
import { parseToken } from '../../cassandra/ring/token-ranges.js';
import type { Manifest } from '../../manifest/format.js';
import type { ChunkDone } from '../../manifest/restore-format.js';

/** Counts rows per backed-up range in the target and compares with what the restore wrote. */
export async function verifyTarget(session: CqlWriteSession, consistency: number, manifest: Manifest, tables: readonly string[], keyspace: string, markers: readonly ChunkDone[]): Promise<{ ok: boolean; differences: string[] }> {
  const schema = manifest.keyspace as unknown as KeyspaceSchema;
  const written = new Map<string, number>();
  for (const marker of markers) written.set(`${marker.table}/${marker.range}`, (written.get(`${marker.table}/${marker.range}`) ?? 0) + marker.written);
  const differences: string[] = [];
  for (const name of tables) {
    const table = findTable(schema, name);
    const ranges = manifest.tables.find((t) => t.name === name)?.ranges ?? [];
    if (table === undefined) continue;
    const pk = partitionKeyColumns(table).map((c) => quoteIdentifier(c.name)).join(', ');
    const cql = `SELECT count(*) FROM ${quoteIdentifier(keyspace)}.${quoteIdentifier(name)} WHERE token(${pk}) > ? AND token(${pk}) <= ?`;
    for (const range of ranges) {
      const rs = await session.execute(cql, [parseToken(range.start), parseToken(range.end)], { prepare: true, consistency });
      const actual = Number(rs.rows[0]?.get('count') ?? 0);
      const expected = written.get(`${name}/${range.index}`) ?? 0;
      if (actual !== expected) differences.push(`${name} range ${range.index}: ${actual} rows, expected ${expected}`);
    }
  }
  return { ok: differences.length === 0, differences };
}
