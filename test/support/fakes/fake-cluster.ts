/**
 * A {@link BackupCluster} over a {@link FakeSession} that answers exactly what `runBackup` asks:
 * the system_schema queries of src/cassandra/schema/capture.ts for one small keyspace, and the token-range
 * SELECT of each of its tables (src/cassandra/table-reader.ts). Tables have the shape
 * `(id int PRIMARY KEY, v text)`; their rows are spread evenly over the Murmur3 ring.
 */
import type { BackupCluster } from '../../../src/commands/backup.js';
import { MURMUR3_PARTITIONER } from '../../../src/cassandra/ring/ring.js';
import { MAX_TOKEN, MIN_TOKEN } from '../../../src/cassandra/ring/token-ranges.js';
import { FakeRow, FakeSession, row, tokenRangeRows, type TokenedRow } from './fake-session.js';

/** One table of the fake keyspace: `rows` rows with ids 0…rows−1, in token order. */
export interface FakeTable {
  readonly name: string;
  readonly rows: number;
  /** The type of column `v` (default `text`); change it to simulate a schema change. */
  readonly valueType?: string;
}

export interface FakeClusterOptions {
  readonly keyspace: string;
  readonly tables: readonly FakeTable[];
  readonly ringTokens?: readonly bigint[];
  readonly partitioner?: string;
}

/** Write timestamp of every fake cell (microseconds). */
export const FAKE_WRITETIME = 1_763_815_904_000_000n;

/** The token of row `i` of `count`: evenly spaced inside (MIN_TOKEN, MAX_TOKEN]. */
export function fakeToken(i: number, count: number): bigint {
  return MIN_TOKEN + ((BigInt(i) + 1n) * (MAX_TOKEN - MIN_TOKEN)) / BigInt(count + 1);
}

/** The rows of a fake table, as the table reader's SELECT returns them: id, v, WRITETIME(v), TTL(v). */
export function fakeTableRows(table: FakeTable): TokenedRow[] {
  return Array.from({ length: table.rows }, (_, i) => ({
    token: fakeToken(i, table.rows),
    row: new FakeRow(['id', 'v', 'writetime(v)', 'ttl(v)'], [i, `${table.name} row ${i}`, FAKE_WRITETIME, null]),
  }));
}

/** A session answering the schema and data queries of the keyspace. */
export function fakeClusterSession(options: FakeClusterOptions): FakeSession {
  const { keyspace } = options;
  const inKeyspace = <T>(rows: readonly T[]) => (call: { readonly params: readonly unknown[] }): readonly T[] => (call.params[0] === keyspace ? rows : []);
  const session = new FakeSession()
    .answer('FROM system_schema.keyspaces', [
      row({ keyspace_name: 'system', durable_writes: true, replication: new Map([['class', 'org.apache.cassandra.locator.LocalStrategy']]) }),
      row({ keyspace_name: keyspace, durable_writes: true, replication: new Map([['class', 'org.apache.cassandra.locator.SimpleStrategy'], ['replication_factor', '1']]) }),
    ])
    .answer('FROM system_schema.types', [])
    .answer('FROM system_schema.tables', inKeyspace(options.tables.map((t) => row({ keyspace_name: keyspace, table_name: t.name, gc_grace_seconds: 864000, comment: '' }))))
    .answer('FROM system_schema.columns', inKeyspace(options.tables.flatMap((t) => [
      row({ table_name: t.name, column_name: 'id', clustering_order: 'none', kind: 'partition_key', position: 0, type: 'int' }),
      row({ table_name: t.name, column_name: 'v', clustering_order: 'none', kind: 'regular', position: -1, type: t.valueType ?? 'text' }),
    ])))
    .answer('FROM system_schema.indexes', [])
    .answer('FROM system_schema.views', []);
  for (const table of options.tables) session.answer(`FROM "${keyspace}"."${table.name}" WHERE token(`, tokenRangeRows(fakeTableRows(table)));
  return session;
}

/** Whether `call` reads table data (rather than schema). */
export function isDataQuery(call: { readonly cql: string }): boolean {
  return call.cql.includes(' WHERE token(');
}

/** The fake cluster's one node, as a backup records it. */
export const FAKE_TOPOLOGY = { nodes: [{ address: '127.0.0.1', datacenter: 'datacenter1', rack: 'rack1', tokens: 1, releaseVersion: '5.0.8' }] };

/** A one-node cluster over `session`. */
export function fakeCluster(session: FakeSession, options: Pick<FakeClusterOptions, 'ringTokens' | 'partitioner'> = {}): BackupCluster {
  const tokens = options.ringTokens ?? [0n];
  return {
    session,
    consistency: 6,
    name: 'fake',
    partitioner: options.partitioner ?? MURMUR3_PARTITIONER,
    releaseVersion: '5.0.8',
    nodes: 1,
    topology: FAKE_TOPOLOGY,
    ringTokens: () => tokens,
    readRouter: async (keyspace) => ({ keyspace, localDc: 'datacenter1', route: () => ({ localReplicas: [], attempt: () => undefined, describe: () => 'none known', down: () => [] }) }),
  };
}
