/**
 * Which nodes hold each token range, computed by cassette from the ring and the keyspace's
 * replication — not taken from driver metadata (with `encoding.map` the driver loses the
 * replication strategy and only knows a range's primary replica; docs/decisions/0004).
 *
 * Placement follows Cassandra's strategies (org.apache.cassandra.locator):
 * - The range `(start, end]` — which must not cross a ring token — belongs to the node owning the
 *   first ring token ≥ `end`, wrapping past the largest to the smallest. That node is where the
 *   walk starts; the walk goes clockwise over the ring tokens.
 * - SimpleStrategy: the first `replication_factor` distinct nodes of the walk, whatever their DC.
 * - NetworkTopologyStrategy (Cassandra 4.0+ `DatacenterEndpoints`): per datacenter, nodes of that DC
 *   in walk order until it has min(factor, nodes in the DC) replicas; a node on a rack that already
 *   has a replica is taken only while `factor − racks in the DC` such repeats remain, so with enough
 *   racks every replica is on a rack of its own, and with one rack it is the first `factor` nodes.
 * - LocalStrategy / EverywhereStrategy and unknown strategies: every node (a safe superset: reads
 *   still go to nodes that can coordinate them).
 * A factor may be written as `full/transient` (Cassandra 4.0+); both kinds are replicas here.
 * Pure: no driver, no I/O.
 */
import { CassetteError } from '../../errors.js';
import type { TokenRange } from './token-ranges.js';

/** One node of the ring as placement sees it. */
export interface RingNode {
  /** Address as the driver names the host (e.g. `127.0.0.2:9042`). */
  readonly address: string;
  readonly datacenter: string;
  readonly rack: string;
  readonly tokens: readonly bigint[];
}

/** A keyspace's replication, as `system_schema.keyspaces.replication` stores it. */
export type ReplicationMap = Readonly<Record<string, string>>;

type Placement =
  | { readonly kind: 'simple'; readonly factor: number }
  | { readonly kind: 'network'; readonly factors: ReadonlyMap<string, number> }
  | { readonly kind: 'everywhere' };

function parseFactor(text: string | undefined, what: string): number {
  const match = /^\s*(\d+)(?:\s*\/\s*(\d+))?\s*$/.exec(text ?? '');
  if (match === null) throw new CassetteError('INVALID_INPUT', `replication ${what} "${text ?? ''}" is not a replication factor`);
  return Number(match[1]);
}

function placementOf(replication: ReplicationMap): Placement {
  const strategy = (replication['class'] ?? '').split('.').pop() ?? '';
  if (strategy === 'SimpleStrategy') return { kind: 'simple', factor: parseFactor(replication['replication_factor'], 'replication_factor') };
  if (strategy === 'NetworkTopologyStrategy') {
    const factors = new Map<string, number>();
    for (const [key, value] of Object.entries(replication)) {
      if (key !== 'class' && key !== 'replication_factor') factors.set(key, parseFactor(value, `factor of ${key}`));
    }
    return { kind: 'network', factors };
  }
  return { kind: 'everywhere' };
}

/** The replicas of every range of one keyspace's ring. */
export interface ReplicaPlacement {
  /** The range's replicas in placement order (all datacenters). `range` must not cross a ring token. */
  replicasOf(range: TokenRange): readonly RingNode[];
}

/** Builds the placement of `replication` over `nodes`. Nodes without tokens are ignored. */
export function replicaPlacement(nodes: readonly RingNode[], replication: ReplicationMap): ReplicaPlacement {
  const ring = nodes.flatMap((node) => node.tokens.map((token) => ({ token, node }))).sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
  const placement = placementOf(replication);
  const racksOf = new Map<string, Set<string>>();
  const nodesOf = new Map<string, number>();
  for (const node of nodes) {
    if (node.tokens.length === 0) continue;
    racksOf.set(node.datacenter, (racksOf.get(node.datacenter) ?? new Set()).add(node.rack));
    nodesOf.set(node.datacenter, (nodesOf.get(node.datacenter) ?? 0) + 1);
  }
  const everyNode = [...new Set(ring.map((e) => e.node))];

  const walkFrom = (first: number): RingNode[] => {
    if (placement.kind === 'everywhere') return everyNode;
    const chosen: RingNode[] = [];
    const seen = new Set<RingNode>();
    if (placement.kind === 'simple') {
      const want = Math.min(placement.factor, everyNode.length);
      for (let i = 0; i < ring.length && chosen.length < want; i++) {
        const node = (ring[(first + i) % ring.length] as (typeof ring)[number]).node;
        if (!seen.has(node)) {
          seen.add(node);
          chosen.push(node);
        }
      }
      return chosen;
    }
    // NetworkTopologyStrategy, per datacenter.
    const dcs = new Map<string, { left: number; repeats: number; racks: Set<string> }>();
    for (const [dc, factor] of placement.factors) {
      const left = Math.min(factor, nodesOf.get(dc) ?? 0);
      if (left > 0) dcs.set(dc, { left, repeats: factor - (racksOf.get(dc)?.size ?? 0), racks: new Set() });
    }
    let open = dcs.size;
    for (let i = 0; i < ring.length && open > 0; i++) {
      const node = (ring[(first + i) % ring.length] as (typeof ring)[number]).node;
      const dc = dcs.get(node.datacenter);
      if (dc === undefined || dc.left === 0 || seen.has(node)) continue;
      if (dc.racks.has(node.rack)) {
        if (dc.repeats <= 0) continue; // the racks still unmet must each get one of the remaining replicas
        dc.repeats--;
      } else {
        dc.racks.add(node.rack);
      }
      seen.add(node);
      chosen.push(node);
      if (--dc.left === 0) open--;
    }
    return chosen;
  };

  // The walk depends only on where it starts: memoize per ring position.
  const byStart = new Map<number, readonly RingNode[]>();
  return {
    replicasOf(range) {
      if (ring.length === 0) return [];
      const first = firstAtOrAfter(ring, range.end);
      let replicas = byStart.get(first);
      if (replicas === undefined) {
        replicas = walkFrom(first);
        byStart.set(first, replicas);
      }
      return replicas;
    },
  };
}

/** Index of the first entry whose token is ≥ `token`, or 0 when there is none (the ring wraps). */
function firstAtOrAfter(ring: readonly { readonly token: bigint }[], token: bigint): number {
  let lo = 0;
  let hi = ring.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ring[mid] as { token: bigint }).token < token) lo = mid + 1;
    else hi = mid;
  }
  return lo === ring.length ? 0 : lo;
}
