/**
 * The token ring as the driver sees it: the partitioner and every node's tokens.
 *
 * Ranges must be cut at ALL ring tokens, not only the local DC's: SimpleStrategy places replicas by
 * walking the whole ring regardless of DC, so its replica set changes at every token; cutting at
 * all tokens is a refinement that gives each range one replica set in every DC and keyspace, and a
 * plan stored in backup.json that does not depend on which DC ran the backup. Where each range's
 * reads go is read-routes.ts.
 */
import { CassetteError } from '../../errors.js';
import { SYSTEM_READ, type CqlSession } from '../connection/session.js';
import { parseToken } from './token-ranges.js';

/** The partitioner cassette v1 supports (docs/format.md §2). */
export const MURMUR3_PARTITIONER = 'org.apache.cassandra.dht.Murmur3Partitioner';

/** The part of a driver `Host` this module reads. */
export interface RingHost {
  readonly address: string;
  readonly datacenter: string;
  /** The node's tokens as decimal strings; empty or absent until the driver has read them. */
  readonly tokens?: readonly string[] | null;
}

/** The part of a connected `cassandra.Client` this module uses (a real Client satisfies it). */
export interface RingClient<H extends RingHost = RingHost> {
  readonly hosts: { values(): readonly H[] };
}

/** The cluster's partitioner class name, from `system.local`. */
export async function readPartitioner(session: CqlSession): Promise<string> {
  const result = await session.execute('SELECT partitioner FROM system.local', [], SYSTEM_READ);
  const name = result.rows[0]?.get('partitioner');
  if (typeof name !== 'string') {
    throw new CassetteError('CLUSTER_UNAVAILABLE', 'system.local did not report a partitioner');
  }
  return name;
}

/** Throws INVALID_INPUT unless `partitioner` is Murmur3Partitioner, the only one cassette v1 reads. */
export function requireMurmur3(partitioner: string): void {
  if (partitioner === MURMUR3_PARTITIONER) return;
  throw new CassetteError('INVALID_INPUT', `the cluster uses ${partitioner}; cassette supports only Murmur3Partitioner`, {
    hint: 'back this cluster up with a tool that supports its partitioner (e.g. dsbulk or nodetool snapshot)',
  });
}

/**
 * All tokens of all nodes in all data centres, ascending and distinct: the boundaries to pass to
 * splitRing. Throws CLUSTER_UNAVAILABLE when the driver knows no tokens (metadata not loaded) and
 * INVALID_INPUT for a token that is not a Murmur3 token (check the partitioner first).
 */
export function readRingTokens(client: RingClient): bigint[] {
  const tokens = new Set<bigint>();
  for (const host of client.hosts.values()) {
    for (const text of host.tokens ?? []) {
      const token = parseToken(text);
      if (token === undefined) {
        throw new CassetteError('INVALID_INPUT', `node ${host.address} has token ${text}, which is not a Murmur3 token`);
      }
      tokens.add(token);
    }
  }
  if (tokens.size === 0) {
    throw new CassetteError('CLUSTER_UNAVAILABLE', 'the driver knows no token ring for this cluster', {
      hint: 'check that the contact points are reachable and that cluster metadata is not disabled',
    });
  }
  return [...tokens].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
