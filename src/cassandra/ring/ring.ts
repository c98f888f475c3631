/**
 * The token ring as the driver sees it, and routing each token range's reads to one of its replicas.
 *
 * Ring: every node's tokens, of every data centre. Ranges must be cut at ALL ring tokens, not only
 * the local DC's: SimpleStrategy places replicas by walking the whole ring regardless of DC, so its
 * replica set changes at every token; cutting at all tokens is a refinement that gives each range one
 * replica set in every DC and keyspace, and a plan stored in backup.json that does not depend on
 * which DC ran the backup. Replicas are then chosen in the local DC only.
 *
 * Routing (cassandra-driver 4.10, read from its source):
 * - `routingKey` may be a driver Token, not only a partition-key Buffer: `Encoder.setRoutingKeyFromUser`
 *   accepts `Buffer | Token | TokenRange` (lib/encoder.js), the default `DefaultLoadBalancingPolicy`
 *   passes it with the query's keyspace to `client.getReplicas` → `Metadata.getReplicas`, which uses
 *   a Token as is (lib/metadata/index.js). The query plan is then the up local-DC replicas of that
 *   token (shuffled, the less busy of the first two first), followed by the other local hosts: the
 *   driver keeps its retries, failover and speculative executions. This is {@link routeOptionsFor}.
 *   The typings say `routingKey?: Buffer | Buffer[]`, so the adapter passes it through a cast.
 *   Our `token(pk) > ?` statements bind no partition-key column, so without this the driver has no
 *   routing key at all and round-robins over local hosts. Every page is planned anew, so pages of
 *   one range may be coordinated by different replicas; a paging state is valid on any node.
 * - `host: Host` bypasses the load-balancing policy with a one-host plan (lib/request-handler.js
 *   `send`). That host must be up and not at distance `ignored` (remote-DC hosts are ignored by the
 *   default policy), else the request fails with NoHostAvailableError; a retry decision "next host"
 *   also ends there (lib/request-execution.js `_retry` asks the same one-host plan). {@link pinnedOptionsFor} builds it for callers who want exact, deterministic
 *   placement and do failover themselves (attempt k → the k-th up replica).
 * - There is no `routingToken` option and an execution profile cannot name a host.
 */
import { CassetteError } from '../../errors.js';
import type { CqlSession } from '../connection/session.js';
import { formatToken, parseToken, type TokenRange } from './token-ranges.js';

/** The partitioner cassette v1 supports (docs/format.md §2). */
export const MURMUR3_PARTITIONER = 'org.apache.cassandra.dht.Murmur3Partitioner';

/** A driver Token (cassandra-driver `token.Token`), opaque here. */
export interface RoutingToken {
  toString(): string;
}

/** The part of a driver `Host` this module reads. The object stays live: `isUp()` changes over time. */
export interface RingHost {
  readonly address: string;
  readonly datacenter: string;
  /** The node's tokens as decimal strings; empty or absent until the driver has read them. */
  readonly tokens?: readonly string[] | null;
  isUp(): boolean;
}

/** The part of a connected `cassandra.Client` this module uses (a real Client satisfies it). */
export interface RingClient<H extends RingHost = RingHost> {
  readonly hosts: { values(): readonly H[] };
  readonly metadata: {
    readonly keyspaces: { readonly [name: string]: unknown };
    /** Replicas (all DCs, placement order) of the range a token falls in; null if the keyspace is unknown. */
    getReplicas(keyspace: string, token: RoutingToken): readonly H[] | null;
    newToken(decimal: string): RoutingToken;
    refreshKeyspace(name: string): Promise<unknown>;
  };
}

/** The cluster's partitioner class name, from `system.local`. */
export async function readPartitioner(session: CqlSession): Promise<string> {
  const result = await session.execute('SELECT partitioner FROM system.local');
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

/** Query options that make the driver's token-aware policy coordinate a range's reads on a local replica. */
export interface RouteOptions {
  readonly keyspace: string;
  /** A driver Token; see the module comment for why this is accepted. */
  readonly routingKey: RoutingToken;
}

/** Query options that pin one execution to one host, bypassing the load-balancing policy. */
export interface PinnedOptions<H extends RingHost = RingHost> {
  readonly host: H;
}

/** Where one range's reads go. */
export interface RangeRoute<H extends RingHost = RingHost> {
  readonly index: number;
  readonly range: TokenRange;
  /**
   * The range's replicas in the local DC (up or not), rotated by `index` so consecutive ranges with
   * the same replica set start on different replicas. Empty when the keyspace keeps no replica in
   * this DC (e.g. SimpleStrategy on a multi-DC cluster); the token-aware route then uses any local node.
   */
  readonly replicas: readonly H[];
  readonly options: RouteOptions;
}

/** Token-aware routing options for `range`: the replicas of its end token, which owns the whole range. */
export function routeOptionsFor(client: RingClient, keyspace: string, range: TokenRange): RouteOptions {
  return { keyspace, routingKey: client.metadata.newToken(formatToken(range.end)) };
}

/**
 * Routes for `ranges` of a table in `keyspace`, choosing replicas in `localDc`. Ranges must not cross
 * a ring token (plan them with splitRing over readRingTokens). Refreshes the keyspace's metadata
 * first, so a keyspace created moments ago is known. Throws INVALID_INPUT for an unknown keyspace.
 */
export async function planRoutes<H extends RingHost>(
  client: RingClient<H>,
  ranges: readonly TokenRange[],
  target: { readonly keyspace: string; readonly localDc: string },
): Promise<RangeRoute<H>[]> {
  const { keyspace, localDc } = target;
  await client.metadata.refreshKeyspace(keyspace);
  if (client.metadata.keyspaces[keyspace] === undefined) {
    throw new CassetteError('INVALID_INPUT', `keyspace ${keyspace} does not exist`, { hint: 'check --keyspace' });
  }
  return ranges.map((range, index) => {
    const options = routeOptionsFor(client, keyspace, range);
    const all = client.metadata.getReplicas(keyspace, options.routingKey) ?? [];
    const local = all.filter((h) => h.datacenter === localDc);
    const shift = local.length === 0 ? 0 : index % local.length;
    return { index, range, replicas: [...local.slice(shift), ...local.slice(0, shift)], options };
  });
}

/**
 * Options pinning attempt number `attempt` (0, 1, …) of a range's read to one of its up local
 * replicas, cycling through them in route order; undefined when none is up (fall back to
 * `route.options`). The caller moves to the next attempt on NoHostAvailableError.
 */
export function pinnedOptionsFor<H extends RingHost>(route: RangeRoute<H>, attempt: number): PinnedOptions<H> | undefined {
  const up = route.replicas.filter((h) => h.isUp());
  const host = up[attempt % Math.max(1, up.length)];
  return host === undefined ? undefined : { host };
}
