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
  /** Consistency level name, e.g. LOCAL_QUORUM. */
  readonly consistency: string;
  readonly requestTimeoutMs: number;
}

/** Consistency levels cassette accepts, by CQL name. */
export const CONSISTENCY_NAMES = [
  'ANY', 'ONE', 'TWO', 'THREE', 'QUORUM', 'ALL', 'LOCAL_QUORUM', 'EACH_QUORUM', 'LOCAL_ONE',
] as const;
