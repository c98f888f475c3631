/**
 * The part of a CQL session that cassette uses, in our own terms (Kysely-style: the core declares
 * only what it needs, so only the driver adapters import cassandra-driver — the files
 * .dependency-cruiser.cjs names).
 *
 * Contract: `execute` runs one statement; with `prepare: true` it is prepared once and cached by the
 * adapter. It rejects with the driver's error; callers in src/cassandra translate errors they can
 * act on into CassetteErrors. Values come back decoded as described by DRIVER_ENCODING in
 * values/value-codec.ts (bigint/varint/counter as JS bigint, maps as CqlMap — a Map subclass that keeps
 * every entry in wire order —, sets and lists as arrays).
 */
export interface QueryRow {
  /** A column by name (as in the result metadata) or by position. */
  get(column: string | number): unknown;
  /** All values in select-list order. */
  values(): unknown[];
}

export interface QueryResult {
  readonly rows: readonly QueryRow[];
  /** Opaque token for the next page, absent on the last page. */
  readonly pageState?: string | undefined;
}

export interface QueryOptions {
  readonly prepare?: boolean;
  readonly fetchSize?: number;
  readonly pageState?: string;
  /**
   * Consistency level as the driver's numeric code (types.consistencies); absent: the connection's
   * level (--consistency), the client-wide default.
   */
  readonly consistency?: number;
  /** Serial consistency of a conditional (LWT) write, as a driver code; absent: the connection's (--serial-consistency). */
  readonly serialConsistency?: number;
  /** Marks the statement safe to retry or speculatively execute. */
  readonly isIdempotent?: boolean;
  /**
   * Driver routing hints made by ring.ts (`{ keyspace, routingKey }` or a pinned `{ host }`),
   * opaque here and passed through to the driver unchanged.
   */
  readonly routing?: object;
}

/**
 * The options of every read of a node-local system table (system.local, system.peers,
 * system_schema.*, system.size_estimates): consistency ONE (code 1 of the native protocol), see
 * SYSTEM_READ_CONSISTENCY in options.ts for why.
 */
export const SYSTEM_READ: QueryOptions = Object.freeze({ prepare: true, consistency: 1 });

/** One statement of a batch. */
export interface BatchStatement {
  readonly cql: string;
  readonly params: readonly unknown[];
}

export interface CqlSession {
  execute(cql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult>;
}

/** A session that also writes batches: what restore needs. */
export interface CqlWriteSession extends CqlSession {
  /**
   * Runs statements as one UNLOGGED batch (prepared). Callers keep a batch within one partition:
   * Cassandra applies a single-partition batch atomically, and multi-partition unlogged batches
   * only move coordination work onto one node.
   */
  batch(statements: readonly BatchStatement[], options?: QueryOptions): Promise<QueryResult>;
}
