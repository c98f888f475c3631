import { describe, expect, it } from 'vitest';
import { replicaPlacement, type RingNode } from '../../src/cassandra/ring/replicas.js';
import { readRouter, type RouteHost } from '../../src/cassandra/ring/read-routes.js';
import { MAX_TOKEN, splitRing } from '../../src/cassandra/ring/token-ranges.js';

const node = (address: string, datacenter: string, tokens: readonly bigint[], rack = 'r1'): RingNode => ({ address, datacenter, rack, tokens });

/** dc1 = a, b, c; dc2 = x, y. Ring order: a(-9000) x(-8000) b(-7000) c(-5000) y(-4000) a(-3000) b(-1000) x(0) c(1000) a(3000) y(4000) b(5000) c(7000). */
const NODES = [
  node('a', 'dc1', [-9_000n, -3_000n, 3_000n]),
  node('b', 'dc1', [-7_000n, -1_000n, 5_000n]),
  node('c', 'dc1', [-5_000n, 1_000n, 7_000n]),
  node('x', 'dc2', [-8_000n, 0n]),
  node('y', 'dc2', [-4_000n, 4_000n]),
];
const addresses = (nodes: readonly RingNode[]): string[] => nodes.map((n) => n.address);

describe('replicaPlacement', () => {
  it('SimpleStrategy: the first RF distinct nodes clockwise from the owner of the range’s end, whatever their DC', () => {
    const p = replicaPlacement(NODES, { class: 'org.apache.cassandra.locator.SimpleStrategy', replication_factor: '3' });
    expect(addresses(p.replicasOf({ start: -9_000n, end: -8_000n }))).toEqual(['x', 'b', 'c']);
    expect(addresses(p.replicasOf({ start: 4_000n, end: 5_000n }))).toEqual(['b', 'c', 'a']);
    // Past the last ring token the ring wraps to the first one (a at -9000).
    expect(addresses(p.replicasOf({ start: 7_000n, end: MAX_TOKEN }))).toEqual(['a', 'x', 'b']);
    // The range (-9000, -8000] and a narrower piece of it have the same replicas.
    expect(p.replicasOf({ start: -8_500n, end: -8_000n })).toBe(p.replicasOf({ start: -9_000n, end: -8_000n }));
  });

  it('NetworkTopologyStrategy: per DC, the first nodes of that DC clockwise; factors above the DC’s size give all its nodes', () => {
    const p = replicaPlacement(NODES, { class: 'org.apache.cassandra.locator.NetworkTopologyStrategy', dc1: '2', dc2: '5' });
    expect(addresses(p.replicasOf({ start: -9_000n, end: -8_000n }))).toEqual(['x', 'b', 'c', 'y']);
    expect(addresses(p.replicasOf({ start: 1_000n, end: 3_000n }))).toEqual(['a', 'y', 'b', 'x']);
    const dc1Only = replicaPlacement(NODES, { class: 'NetworkTopologyStrategy', dc1: '3' });
    expect(addresses(dc1Only.replicasOf({ start: -1_000n, end: 0n }))).toEqual(['c', 'a', 'b']);
    // A DC the ring does not have, or a factor of 0, places nothing.
    expect(replicaPlacement(NODES, { class: 'NetworkTopologyStrategy', dc3: '3', dc2: '0' }).replicasOf({ start: 0n, end: 1n })).toEqual([]);
  });

  it('NetworkTopologyStrategy puts replicas on distinct racks while racks are unmet, repeating racks only for the remainder', () => {
    // One DC: p, q on rack r1; s on r2; t on r1. Ring order p(10) q(20) s(30) t(40).
    const racked = [node('p', 'dc', [10n], 'r1'), node('q', 'dc', [20n], 'r1'), node('s', 'dc', [30n], 'r2'), node('t', 'dc', [40n], 'r1')];
    // RF 2 over 2 racks: no rack repeat allowed, so q (r1 again) is passed over for s (r2).
    expect(addresses(replicaPlacement(racked, { class: 'NetworkTopologyStrategy', dc: '2' }).replicasOf({ start: 0n, end: 10n }))).toEqual(['p', 's']);
    // RF 3 over 2 racks: one repeat allowed, taken by the first node of a met rack (q).
    expect(addresses(replicaPlacement(racked, { class: 'NetworkTopologyStrategy', dc: '3' }).replicasOf({ start: 0n, end: 10n }))).toEqual(['p', 'q', 's']);
    // Starting at s (r2): then p (r1), and no further repeats for RF 2.
    expect(addresses(replicaPlacement(racked, { class: 'NetworkTopologyStrategy', dc: '2' }).replicasOf({ start: 20n, end: 30n }))).toEqual(['s', 't']);
  });

  it('reads factors written as full/transient, and places LocalStrategy and unknown strategies on every node', () => {
    const p = replicaPlacement(NODES, { class: 'NetworkTopologyStrategy', dc1: '3/1' });
    expect(p.replicasOf({ start: 0n, end: 1_000n })).toHaveLength(3);
    expect(addresses(replicaPlacement(NODES, { class: 'org.apache.cassandra.locator.LocalStrategy' }).replicasOf({ start: 0n, end: 1n })).sort()).toEqual(['a', 'b', 'c', 'x', 'y']);
    expect(() => replicaPlacement(NODES, { class: 'SimpleStrategy', replication_factor: 'three' })).toThrow(/not a replication factor/);
  });
});

interface FakeHost extends RouteHost {
  up: boolean;
}

function hosts(): FakeHost[] {
  return NODES.map((n) => ({ address: n.address, datacenter: n.datacenter, rack: n.rack, tokens: n.tokens.map(String), up: true, isUp(this: FakeHost) { return this.up; } }));
}

describe('readRouter', () => {
  it('spreads ranges evenly over the local replicas and never routes to another DC', () => {
    // The same ring, tokens spread over the whole Murmur3 range so every node owns a fair share.
    const wide = hosts().map((h) => ({ ...h, tokens: (h.tokens ?? []).map((t) => String(BigInt(t) * 10n ** 15n)) }));
    const router = readRouter(wide, { keyspace: 'ks', localDc: 'dc1', replication: { class: 'NetworkTopologyStrategy', dc1: '2', dc2: '1' } });
    const ranges = splitRing(wide.flatMap((h) => (h.tokens ?? []).map(BigInt)), 300);
    const counts = new Map<string, number>();
    for (const range of ranges) {
      const route = router.route(range);
      expect(route.localReplicas).toHaveLength(2);
      const first = route.attempt(1)?.node as string;
      expect(route.localReplicas[0]).toBe(first);
      counts.set(first, (counts.get(first) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(['a', 'b', 'c']);
    const shares = [...counts.values()];
    expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(Math.ceil(ranges.length * 0.05));
  });

  it('moves each retry to the next up replica, and pins nothing when no local replica is up', () => {
    const fleet = hosts();
    const router = readRouter(fleet, { keyspace: 'ks', localDc: 'dc1', replication: { class: 'NetworkTopologyStrategy', dc1: '3', dc2: '1' } });
    const route = router.route({ start: -1_000n, end: 0n });
    expect(route.localReplicas).toHaveLength(3);
    const [first, second, third] = route.localReplicas as [string, string, string];
    expect([1, 2, 3, 4].map((n) => route.attempt(n)?.node)).toEqual([first, second, third, first]);
    expect(route.attempt(1)?.routing).toEqual({ host: fleet.find((h) => h.address === first) });
    (fleet.find((h) => h.address === first) as FakeHost).up = false;
    expect([1, 2, 3].map((n) => route.attempt(n)?.node)).toEqual([second, third, second]);
    expect(route.down()).toEqual([`${first} (dc1)`]);
    expect(route.describe()).toContain(`${first} (dc1, down)`);
    expect(route.describe()).toMatch(/x \(dc2\)(,|$)/);
    for (const h of fleet) if (h.datacenter === 'dc1') h.up = false;
    expect(route.attempt(1)).toBeUndefined();
  });

  it('has no local replica to pin for a keyspace kept only in another DC', () => {
    const router = readRouter(hosts(), { keyspace: 'ks', localDc: 'dc1', replication: { class: 'NetworkTopologyStrategy', dc2: '2' } });
    const route = router.route({ start: 0n, end: 1_000n });
    expect(route.localReplicas).toEqual([]);
    expect(route.attempt(1)).toBeUndefined();
  });
});
