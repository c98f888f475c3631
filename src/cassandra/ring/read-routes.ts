/**
 * Where each token range's reads go: to a live replica in the local datacenter, ranges spread
 * evenly over the replicas, and each retry of a range on the next live replica.
 *
 * Replicas come from replicas.ts (our own placement over the ring and the keyspace's replication,
 * read from system_schema), not from driver metadata. Each attempt pins its reads to one host with
 * the driver's `host` option, which bypasses the load-balancing policy (cassandra-driver 4.10,
 * lib/request-handler.js `send`): the placement is exact and the failover is ours. A pinned host
 * must be up and not `ignored` by the policy, so only up hosts of the local DC are pinned. When no
 * local replica is up (or the keyspace keeps none in the local DC, e.g. SimpleStrategy placed
 * elsewhere), the attempt is not pinned and the driver's policy picks a local coordinator, which
 * then fails with the cluster's own Unavailable error if too few replicas are alive.
 *
 * Balance: the router hands out ranges in the order it is asked; each range goes first to the
 * replica that has been given the fewest ranges so far (ties to the range index's rotation), so
 * ranges with different replica sets still even out over the nodes.
 */
import { CassetteError } from '../../errors.js';
import { SYSTEM_READ, type CqlSession } from '../connection/session.js';
import { parseToken, type TokenRange } from './token-ranges.js';
import { replicaPlacement, type ReplicaPlacement, type RingNode } from './replicas.js';

/** The part of a driver `Host` routing reads. The object stays live: `isUp()` changes over time. */
export interface RouteHost {
  readonly address: string;
  readonly datacenter: string;
  readonly rack?: string | null;
  /** The node's tokens as decimal strings; empty or absent until the driver has read them. */
  readonly tokens?: readonly string[] | null;
  isUp(): boolean;
}

/** One attempt's routing: driver query options (`{ host }`) and the node they pin. */
export interface AttemptRoute {
  readonly routing: object;
  readonly node: string;
}

/** The read route of one range. */
export interface RangeRoute {
  /** The range's replicas in the local DC, the preferred one first. */
  readonly localReplicas: readonly string[];
  /**
   * Routing of attempt `n` (1, 2, …): the n-th up local replica in preference order (cycling), or
   * undefined when none is up — then the driver chooses a local coordinator.
   */
  attempt(n: number): AttemptRoute | undefined;
  /** Every replica (all DCs) with its state in the local DC, for messages: `127.0.0.3:9042 (dc1, down), 127.0.0.5:9042 (dc2)`. */
  describe(): string;
  /** Local-DC replicas the driver sees down, with their DC. */
  down(): readonly string[];
}

/** Routes the ranges of one keyspace. */
export interface ReadRouter {
  readonly keyspace: string;
  readonly localDc: string;
  route(range: TokenRange): RangeRoute;
}

function toRingNode(host: RouteHost): RingNode {
  const tokens: bigint[] = [];
  for (const text of host.tokens ?? []) {
    const token = parseToken(text);
    if (token !== undefined) tokens.push(token);
  }
  return { address: host.address, datacenter: host.datacenter, rack: host.rack ?? '', tokens };
}

/** The router of `keyspace` over `hosts` with replication `replication` (as system_schema stores it). */
export function readRouter<H extends RouteHost>(hosts: readonly H[], target: { keyspace: string; localDc: string; replication: Readonly<Record<string, string>> }): ReadRouter {
  const hostOf = new Map<string, H>();
  const nodes = hosts.map((host) => {
    hostOf.set(host.address, host);
    return toRingNode(host);
  });
  const placement: ReplicaPlacement = replicaPlacement(nodes, target.replication);
  const given = new Map<string, number>();
  let routed = 0;
  return {
    keyspace: target.keyspace,
    localDc: target.localDc,
    route(range) {
      const all = placement.replicasOf(range);
      const local = all.filter((n) => n.datacenter === target.localDc).map((n) => n.address);
      const shift = local.length === 0 ? 0 : routed++ % local.length;
      const rotated = [...local.slice(shift), ...local.slice(0, shift)];
      const ordered = rotated
        .map((address, i) => ({ address, i, load: given.get(address) ?? 0 }))
        .sort((a, b) => a.load - b.load || a.i - b.i)
        .map((e) => e.address);
      const preferred = ordered[0];
      if (preferred !== undefined) given.set(preferred, (given.get(preferred) ?? 0) + 1);
      // Only local-DC hosts are watched (the driver ignores remote ones, which then always look up).
      const stateOf = (n: RingNode): string | undefined => (n.datacenter !== target.localDc ? undefined : hostOf.get(n.address)?.isUp() === false ? 'down' : 'up');
      return {
        localReplicas: ordered,
        attempt(n) {
          const up = ordered.map((a) => hostOf.get(a)).filter((h): h is H => h !== undefined && h.isUp());
          const host = up[(Math.max(1, n) - 1) % Math.max(1, up.length)];
          return host === undefined ? undefined : { routing: { host }, node: host.address };
        },
        describe: () => (all.length === 0 ? 'none known' : all.map((n) => `${n.address} (${n.datacenter}${stateOf(n) === undefined ? '' : `, ${stateOf(n)}`})`).join(', ')),
        down: () => all.filter((n) => stateOf(n) === 'down').map((n) => `${n.address} (${n.datacenter})`),
      };
    },
  };
}

/** The keyspace's replication map from system_schema; INVALID_INPUT for an unknown keyspace. */
export async function readReplication(session: CqlSession, keyspace: string): Promise<Record<string, string>> {
  const rs = await session.execute('SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?', [keyspace], SYSTEM_READ);
  const value = rs.rows[0]?.get('replication');
  if (value === undefined || value === null) {
    throw new CassetteError('INVALID_INPUT', `keyspace ${keyspace} does not exist`, { hint: 'check --keyspace' });
  }
  // A CqlMap (or any Map) of text to text.
  const entries = value instanceof Map ? [...(value as Map<unknown, unknown>).entries()] : Object.entries(value as object);
  return Object.fromEntries(entries.map(([k, v]) => [String(k), String(v)]));
}
