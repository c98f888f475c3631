/**
 * How to reach a cluster: the settings every command shares (`--hosts`, `--port`, `--dc`,
 * `--username`, the password from CASSETTE_PASSWORD or --password-file, TLS, `--consistency`,
 * `--request-timeout`). Plain data; src/cassandra/connect.ts turns it into a driver client.
 */
export interface TlsOptions {
  /** PEM file of the CA that signed the server certificates; system CAs when absent. */
  readonly caFile?: string;
  /** PEM client certificate and key, for clusters that require client authentication. */
  readonly certFile?: string;
  readonly keyFile?: string;
  /** Skip server certificate verification. For tests only; says so in the logs. */
  readonly insecure: boolean;
}

export interface ConnectionOptions {
  readonly hosts: readonly string[];
  readonly port: number;
  /** Local datacenter; discovered from the first contact point when absent. */
  readonly dc?: string;
  readonly username?: string;
  /** Resolved secret: never from a flag, never logged. */
  readonly password?: string;
  readonly tls?: TlsOptions;
  /** Consistency level name of every read and write of table data, e.g. LOCAL_QUORUM. */
  readonly consistency: string;
  /** Serial consistency of conditional (LWT) writes: LOCAL_SERIAL (the default when absent) or SERIAL. */
  readonly serialConsistency?: string;
  readonly requestTimeoutMs: number;
}

/** The levels a connection reads and writes at, by CQL name (for reports and per-table settings). */
export interface ConsistencyLevels {
  /** Reads and writes of table data. */
  readonly consistency: string;
  /** The Paxos phase of conditional (LWT) writes. */
  readonly serialConsistency: string;
}

export const DEFAULT_CONSISTENCY = 'LOCAL_QUORUM';
export const DEFAULT_SERIAL_CONSISTENCY = 'LOCAL_SERIAL';
export const DEFAULT_LEVELS: ConsistencyLevels = { consistency: DEFAULT_CONSISTENCY, serialConsistency: DEFAULT_SERIAL_CONSISTENCY };

/** Serial consistency levels (the Paxos phase of an LWT), by CQL name. */
export const SERIAL_CONSISTENCY_NAMES = ['LOCAL_SERIAL', 'SERIAL'] as const;

/**
 * The level of reads of node-local system tables (system.local, system.peers, system_schema.*,
 * system.size_estimates): LocalStrategy keyspaces whose only replica is the coordinator itself, so
 * a level asks nothing of other nodes — but TWO or THREE would be refused as unavailable (one
 * replica), and other levels mean nothing there. Schema agreement is checked separately
 * (schema/agreement.ts).
 */
export const SYSTEM_READ_CONSISTENCY = 'ONE';

/** Consistency levels cassette accepts, by CQL name. */
export const CONSISTENCY_NAMES = [
  'ANY', 'ONE', 'TWO', 'THREE', 'QUORUM', 'ALL', 'LOCAL_QUORUM', 'EACH_QUORUM', 'LOCAL_ONE',
] as const;
