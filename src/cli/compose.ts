/**
 * The composition root: builds the real adapters (driver session, ring, blob store) from resolved
 * options. The only place outside src/cassandra and src/storage that knows which adapter is used.
 */
import type { BackupCluster } from '../commands/backup.js';
import type { RestoreCluster } from '../commands/restore.js';
import { SYSTEM_READ, type CqlWriteSession } from '../cassandra/connection/session.js';
import { connect } from '../cassandra/connection/connect.js';
import type { ConnectionOptions, ConsistencyLevels } from '../cassandra/connection/options.js';
import { readPartitioner, readRingTokens } from '../cassandra/ring/ring.js';
import { readReplication, readRouter } from '../cassandra/ring/read-routes.js';
import { CassetteError } from '../errors.js';
import type { ClusterNode, ClusterTopology } from '../manifest/format.js';
import type { BlobStore } from '../storage/blob-store.js';
import { openStore, type OpenStoreOptions } from '../storage/open-store.js';
import { withRepositoryRetries } from '../pipeline/retrying-store.js';
import type { RepositoryLocation } from './shared-flags.js';
import { SealedStore } from '../manifest/sealed-store.js';

/** A connected cluster for backup and restore, closed by the caller. */
export interface ClusterHandle extends BackupCluster, RestoreCluster {
  readonly session: CqlWriteSession;
  readonly serialConsistency: number;
  /** The connection's levels by name (--consistency, --serial-consistency). */
  readonly levels: ConsistencyLevels;
  close(): Promise<void>;
}

export async function connectCluster(options: ConnectionOptions): Promise<ClusterHandle> {
  const connection = await connect(options);
  try {
    const local = (await connection.session.execute('SELECT cluster_name, release_version FROM system.local', [], SYSTEM_READ)).rows[0];
    const partitioner = await readPartitioner(connection.session);
    const client = connection.client;
    const tokens = readRingTokens(client);
    if (tokens.length === 0) throw new CassetteError('CLUSTER_UNAVAILABLE', 'the driver found no ring tokens in the cluster metadata');
    return {
      session: connection.session,
      consistency: connection.consistency,
      serialConsistency: connection.serialConsistency,
      levels: connection.levels,
      name: String(local?.get('cluster_name') ?? 'unknown'),
      releaseVersion: String(local?.get('release_version') ?? 'unknown'),
      partitioner,
      hosts: [...options.hosts],
      nodes: client.hosts.length,
      topology: topologyOf(client.hosts.values()),
      ringTokens: () => tokens,
      readRouter: async (keyspace) => readRouter(client.hosts.values(), { keyspace, localDc: connection.dc, replication: await readReplication(connection.session, keyspace) }),
      close: () => connection.close(),
    };
  } catch (err) {
    await connection.close().catch(() => undefined);
    throw err;
  }
}

/** A node as the driver's metadata describes it (cassandra-driver's Host, the fields we read). */
interface DriverHost {
  readonly address: string;
  readonly datacenter?: string | null;
  readonly rack?: string | null;
  readonly tokens?: readonly string[] | null;
  readonly cassandraVersion?: string | null;
}

/**
 * The cluster's nodes as recorded in a backup (format.md §2): the address without the port (the
 * driver's `host:port`, an IPv6 address unbracketed), sorted by datacenter, then address.
 */
export function topologyOf(hosts: readonly DriverHost[]): ClusterTopology {
  const nodes: ClusterNode[] = hosts.map((host) => ({
    address: host.address.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1'),
    datacenter: host.datacenter ?? 'unknown',
    rack: host.rack ?? 'unknown',
    tokens: host.tokens?.length ?? 0,
    releaseVersion: host.cassandraVersion ?? 'unknown',
  }));
  const byName = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });
  return { nodes: nodes.sort((a, b) => byName(a.datacenter, b.datacenter) || byName(a.address, b.address)) };
}

/** openStore's options for a resolved repository location (also handed to worker threads). */
export function storeOptionsFor(location: RepositoryLocation): OpenStoreOptions {
  return {
    ...(location.s3Endpoint === undefined ? {} : { s3Endpoint: location.s3Endpoint }),
    ...(location.s3Region === undefined ? {} : { s3Region: location.s3Region }),
    ...(location.s3ForcePathStyle === undefined ? {} : { s3ForcePathStyle: location.s3ForcePathStyle }),
  };
}

/**
 * The repository at `location`, riding out outages for --retry-for (commands that show progress
 * wrap it again with their own wait reporting; pipeline/retrying-store.ts). `wrap` decorates the
 * store itself, under the retries (the metrics' put timer: each attempt is timed).
 */
export function openRepository(location: RepositoryLocation, wrap: (store: BlobStore) => BlobStore = (store) => store): BlobStore {
  // Encrypted backups read and write like plain ones through the SealedStore (format.md §12).
  return withRepositoryRetries(new SealedStore(wrap(openStore(location.url, storeOptionsFor(location))), location.sealing), { retryForMs: location.retryForMs });
}

/** The repository as stored, without decrypting encrypted backups (verify checks their stored SHA-256s on it). */
export function openStoredObjects(location: RepositoryLocation): BlobStore {
  return withRepositoryRetries(openStore(location.url, storeOptionsFor(location)), { retryForMs: location.retryForMs });
}

/**
 * `pending`, or a rejection with `signal`'s reason as soon as it aborts (Ctrl-C while connecting:
 * the driver's own timeout can be 30 s); what `pending` resolves to afterwards goes to `discard`.
 */
function abortable<T>(pending: Promise<T>, signal: AbortSignal | undefined, discard: (late: T) => void): Promise<T> {
  if (signal === undefined) return pending;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason);
      pending.then(discard, () => undefined);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    pending.then((value) => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) return;
      resolve(value);
    }, (err: unknown) => {
      signal.removeEventListener('abort', onAbort);
      reject(err);
    });
  });
}

/** Connects (given up at once when `signal` aborts), runs `work` with the cluster, and always closes it. */
export async function withCluster<T>(options: ConnectionOptions, signal: AbortSignal | undefined, work: (cluster: ClusterHandle) => Promise<T>): Promise<T> {
  const cluster = await abortable(connectCluster(options), signal, (late) => void late.close().catch(() => undefined));
  try {
    return await work(cluster);
  } finally {
    await cluster.close();
  }
}
