/**
 * A rotation config (`--config rekey.yaml`) after validation and normalization: the shape every
 * command (doctor, rekey, rotate) works with. The YAML form, compatible with cassandra-rekey's
 * config.yaml, is parsed by rotation-config.ts and documented in docs/config.md.
 */
import type { CipherSpec } from '../crypto/cipher.js';

export interface TableRotation {
  /** Table name as stored in Cassandra. */
  readonly name: string;
  /** As written in the config (cassandra-rekey requires them); checked against the schema by doctor. */
  readonly partitionKey?: readonly string[];
  readonly clusteringKey?: readonly string[];
  /** Columns holding encrypted values (blob or text), at least one. */
  readonly encryptedColumns: readonly string[];
  /** Token ranges the table is cut into by `rotate` (cassandra-rekey's `chunks`); undefined = planned from size. */
  readonly chunks?: number;
  readonly preserveTtl: boolean;
  readonly preserveWritetime: boolean;
  /** Write back with `IF <key-version column> = <old version>` (cassette's `--guard lwt`). */
  readonly useLwtGuard: boolean;
  /**
   * Consistency level names (upper case) as the config sets them; a level it leaves out is the
   * connection's (--consistency, CASSETTE_CONSISTENCY, LOCAL_QUORUM).
   */
  readonly consistency: { readonly read?: string; readonly write?: string };
}

export interface RotationConfig {
  /** The config file's path, for messages. */
  readonly file: string;
  readonly cluster: {
    readonly contactPoints: readonly string[];
    readonly port?: number;
    readonly localDc?: string;
    readonly keyspace: string;
    readonly username?: string;
    /** File whose first line is the password (never the password itself). */
    readonly passwordFile?: string;
  };
  /** Backup repository URL (cassette addition); the --repo flag and CASSETTE_REPO override it. */
  readonly repo?: string;
  /** cassandra-rekey's state keyspace: accepted and ignored (cassette keeps state in the repository). */
  readonly stateKeyspace?: string;
  readonly provider: CipherSpec;
  /** Column recording each row's key version; null when the tables have none (rekey only). */
  readonly keyVersionColumn: string | null;
  readonly tables: readonly TableRotation[];
  readonly execution: {
    readonly workers: number;
    /** Rows per second for rotate's write-back; undefined = unlimited. */
    readonly rate?: number;
    readonly readP99ThresholdMs?: number;
    readonly pauseOnBackpressure: boolean;
  };
}
