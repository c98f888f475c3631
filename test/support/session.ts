/**
 * A minimal CqlSession over a cassandra-driver Client for tests, and a client whose encoding
 * matches the port's contract (maps as Map, sets as Set, 64-bit integers and varints as bigint).
 */
import cassandra from 'cassandra-driver';
import type { CqlSession, QueryOptions, QueryResult } from '../../src/cassandra/connection/session.js';
import type { CassandraSettings } from './settings.js';

/** A client for the unsecured test cluster decoding values as the CqlSession port promises. Callers shut it down. */
export function portEncodedClient(settings: CassandraSettings): cassandra.Client {
  return new cassandra.Client({
    contactPoints: [`${settings.host}:${settings.port}`],
    localDataCenter: settings.dc,
    encoding: { map: Map, set: Set, useBigIntAsLong: true, useBigIntAsVarint: true },
  });
}

/** The CqlSession port over `client`; errors are the driver's, unchanged. */
export function sessionFrom(client: cassandra.Client): CqlSession {
  return {
    async execute(cql: string, params: readonly unknown[] = [], options: QueryOptions = {}): Promise<QueryResult> {
      const driverOptions: cassandra.QueryOptions = {
        ...(options.prepare === undefined ? {} : { prepare: options.prepare }),
        ...(options.fetchSize === undefined ? {} : { fetchSize: options.fetchSize }),
        ...(options.pageState === undefined ? {} : { pageState: options.pageState }),
        ...(options.consistency === undefined ? {} : { consistency: options.consistency }),
        ...(options.isIdempotent === undefined ? {} : { isIdempotent: options.isIdempotent }),
      };
      const result = await client.execute(cql, [...params], driverOptions);
      return {
        rows: (result.rows ?? []).map((row) => ({
          get: (column: string | number): unknown => (typeof column === 'number' ? row.values()[column] : row.get(column)),
          values: (): unknown[] => row.values(),
        })),
        pageState: result.pageState ?? undefined,
      };
    },
  };
}
