/**
 * The composition root: builds the real adapters (driver session, ring, blob store) from resolved
 * options. The only place outside src/cassandra and src/storage that knows which adapter is used.
 */
import type { BackupCluster } from '../commands/backup.js';
import type { RestoreCluster } from '../commands/restore.js';
import type { CqlWriteSession } from '../cassandra/connection/session.js';
import { connect } from '../cassandra/connection/connect.js';
import type { ConnectionOptions } from '../cassandra/connection/options.js';
import { readPartitioner, readRingTokens, routeOptionsFor } from '../cassandra/ring/ring.js';
import { CassetteError } from '../errors.js';
import type { BlobStore } from '../storage/blob-store.js';
import { openStore, type OpenStoreOptions } from '../storage/open-store.js';
import type { RepositoryLocation } from './shared-flags.js';

/** A connected cluster for backup and restore, closed by the caller. */
export interface ClusterHandle extends BackupCluster, RestoreCluster {
  readonly session: CqlWriteSession;
  close(): Promise<void>;
}

export async function connectCluster(options: ConnectionOptions): Promise<ClusterHandle> {
  const connection = await connect(options);
  try {
    const local = (await connection.session.execute('SELECT cluster_name, release_version FROM system.local')).rows[0];
    const partitioner = await readPartitioner(connection.session);
    const client = connection.client;
    const tokens = readRingTokens(client);
    if (tokens.length === 0) throw new CassetteError('CLUSTER_UNAVAILABLE', 'the driver found no ring tokens in the cluster metadata');
    return {
      session: connection.session,
      consistency: connection.consistency,
      name: String(local?.get('cluster_name') ?? 'unknown'),
      releaseVersion: String(local?.get('release_version') ?? 'unknown'),
      partitioner,
      hosts: [...options.hosts],
      nodes: client.hosts.length,
      ringTokens: () => tokens,
      routingFor: (keyspace, range) => (client.metadata.keyspaces[keyspace] === undefined ? undefined : routeOptionsFor(client, keyspace, range)),
      close: () => connection.close(),
    };
  } catch (err) {
    await connection.close().catch(() => undefined);
    throw err;
  }
}

/** openStore's options for a resolved repository location (also handed to worker threads). */
export function storeOptionsFor(location: RepositoryLocation): OpenStoreOptions {
  return {
    ...(location.s3Endpoint === undefined ? {} : { s3Endpoint: location.s3Endpoint }),
    ...(location.s3Region === undefined ? {} : { s3Region: location.s3Region }),
    ...(location.s3ForcePathStyle === undefined ? {} : { s3ForcePathStyle: location.s3ForcePathStyle }),
  };
}

export function openRepository(location: RepositoryLocation): BlobStore {
  return openStore(location.url, storeOptionsFor(location));
}

/** Connects, runs `work` with the cluster, and always closes it. */
export async function withCluster<T>(options: ConnectionOptions, work: (cluster: ClusterHandle) => Promise<T>): Promise<T> {
  const cluster = await connectCluster(options);
  try {
    return await work(cluster);
  } finally {
    await cluster.close();
  }
}
