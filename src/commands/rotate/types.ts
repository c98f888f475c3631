/**
 * The shapes of `cassette rotate` (rotate.ts): what a run is asked to do, what it needs from the
 * cluster and the rest of the world, and the report it resolves with. Kept apart so the job,
 * steering and verification files can name them without importing the command itself.
 */
import type { ConsistencyLevels } from '../../cassandra/connection/options.js';
import type { CqlWriteSession } from '../../cassandra/connection/session.js';
import type { RotationConfig } from '../../config/rotation-types.js';
import type { ColumnCipher } from '../../crypto/cipher.js';
import type { ChunkTransformer } from '../../pipeline/transform/transformer.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { Leases } from '../../pipeline/lease-holder.js';
import type { WorkerIdentity } from '../../pipeline/work-claims.js';
import type { BackupCluster } from '../backup.js';
import type { ProgressSink } from '../progress.js';

export interface RotateRequest {
  readonly config: RotationConfig;
  /** Resume this job rather than the unfinished one the config matches. */
  readonly jobId?: string;
  /** Plan a new job even when the config has an unfinished one (after an intended schema change). */
  readonly newJob?: boolean;
  /**
   * A job shared by many workers (format.md §13): every worker runs the same command with this id;
   * the first plans the job, the others join it, and each round's ranges are claimed one by one.
   */
  readonly sharedJobId?: string;
  /** How often a worker with nothing left to take looks again at ranges others hold (default 1 s). */
  readonly claimPollMs?: number;
  /** Rows/s for the write-back; overrides the config's `execution.rate` and earlier `rotate throttle`s. */
  readonly rate?: number;
  /** Verification rounds this run may add before giving up on rows left behind (exit 9). */
  readonly maxRounds: number;
  readonly maxErrors: number;
  readonly fetchSize: number;
  readonly maxInFlight: number;
  readonly batchBytes: number;
  /** How long an outage of Cassandra or the repository is waited out (--retry-for); default 5 minutes. */
  readonly retryForMs?: number;
  /** An optional cap on attempts, on top of retryForMs (tests). */
  readonly attempts?: number;
  readonly retryBaseDelayMs?: number;
  /** How often the job reads control documents and evaluates backpressure. */
  readonly tickMs?: number;
}

/** What rotate needs from the cluster: what a backup reads with, plus writes. */
export interface RotateCluster extends Pick<BackupCluster, 'name' | 'partitioner' | 'nodes' | 'ringTokens' | 'readRouter'> {
  readonly session: CqlWriteSession;
  /** The connection's levels: tables without their own `consistency` use them; LWT write-backs use its serial level. */
  readonly levels: ConsistencyLevels;
}

export interface RotateDeps extends WorkerIdentity {
  readonly store: BlobStore;
  readonly cluster: RotateCluster;
  readonly cipher: ColumnCipher;
  readonly transformer: ChunkTransformer;
  readonly progress: ProgressSink;
  readonly signal: AbortSignal;
  readonly now: () => number;
  readonly toolVersion: string;
  /** The run's leases (format.md §11): the job is held for writing once it is opened. */
  readonly leases?: Leases;
}

export interface RotateTableReport {
  readonly name: string;
  readonly ranges: number;
  readonly rowsExported: number;
  readonly rowsChanged: number;
  readonly rowsSkipped: number;
  readonly valuesRotated: number;
  readonly valuesAlreadyCurrent: number;
  readonly valuesQuarantined: number;
  readonly written: number;
  readonly raced: number;
}

export interface RotateReport {
  readonly jobId: string;
  readonly resumed: boolean;
  readonly keyspace: string;
  readonly repository: string;
  readonly newKeyVersion: string;
  readonly rounds: number;
  readonly tables: readonly RotateTableReport[];
  readonly valuesRotated: number;
  readonly valuesQuarantined: number;
  readonly raced: number;
  readonly durationMs: number;
  /** Rows this run wrote back per second (a resumed job's earlier runs are not counted). */
  readonly rowsPerSecond: number;
  /** LWT guard: WRITETIMEs are the Paxos ballot's, not the originals + 1 µs. */
  readonly writetimesPreserved: boolean;
  /** Per table, the levels of its export and verification reads and of its write-back. */
  readonly consistency: readonly { readonly table: string; readonly read: string; readonly write: string }[];
  /** The serial level of LWT write-backs (tables with use_lwt_guard). */
  readonly serialConsistency: string;
}
