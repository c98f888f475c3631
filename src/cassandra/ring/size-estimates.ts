/**
 * A table's approximate size, for choosing how many token ranges to cut it into. Cassandra keeps
 * `system.size_estimates` per node for its local primary ranges, refreshed every few minutes; it is
 * empty for a table created moments ago. Good enough to size ranges, never used for correctness.
 */
import { SYSTEM_READ, type CqlSession } from '../connection/session.js';

/**
 * Estimated bytes of one replica of `keyspace.table` across the cluster: the contact node's
 * estimate scaled by the node count (each node holds roughly the same share). Undefined when the
 * node has no estimate yet.
 */
export async function estimateTableBytes(session: CqlSession, keyspace: string, table: string, nodes: number): Promise<number | undefined> {
  const result = await session.execute(
    'SELECT mean_partition_size, partitions_count FROM system.size_estimates WHERE keyspace_name = ? AND table_name = ?',
    [keyspace, table],
    SYSTEM_READ,
  );
  let bytes = 0;
  for (const row of result.rows) {
    bytes += Number(row.get('mean_partition_size') ?? 0) * Number(row.get('partitions_count') ?? 0);
  }
  return result.rows.length === 0 || bytes <= 0 ? undefined : bytes * Math.max(1, nodes);
}

/**
 * Estimated rows of `keyspace.table` for a progress display: the contact node's partition count
 * scaled by the node count, as {@link estimateTableBytes} does. A partition holds one row unless
 * the table has clustering columns, so for those it is a lower bound. Undefined when the node has
 * no estimate yet (a table created minutes ago) or the query fails: it is never worth failing for.
 */
export async function estimateTableRows(session: CqlSession, keyspace: string, table: string, nodes: number): Promise<number | undefined> {
  try {
    const result = await session.execute(
      'SELECT partitions_count FROM system.size_estimates WHERE keyspace_name = ? AND table_name = ?',
      [keyspace, table],
      SYSTEM_READ,
    );
    const partitions = result.rows.reduce((n, row) => n + Number(row.get('partitions_count') ?? 0), 0);
    return partitions > 0 ? partitions * Math.max(1, nodes) : undefined;
  } catch {
    return undefined;
  }
}
