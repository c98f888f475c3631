import { describe, expect, it } from 'vitest';
import { CassetteError } from '../../src/errors.js';
import {
  MURMUR3_PARTITIONER,
  pinnedOptionsFor,
  planRoutes,
  readPartitioner,
  readRingTokens,
  requireMurmur3,
  type RingClient,
  type RingHost,
} from '../../src/cassandra/ring/ring.js';
import type { CqlSession } from '../../src/cassandra/connection/session.js';
import { splitRing, formatToken } from '../../src/cassandra/ring/token-ranges.js';

interface FakeHost extends RingHost {
  up: boolean;
}

function host(address: string, datacenter: string, tokens: readonly bigint[]): FakeHost {
  return { address, datacenter, tokens: tokens.map(formatToken), up: true, isUp() { return this.up; } };
}

/**
 * A two-DC cluster: dc1 = a, b, c; dc2 = x, y. Replicas follow a NetworkTopologyStrategy-like walk:
 * from the first ring token ≥ t, the first `perDc` distinct hosts of each DC, in ring order.
 */
function fakeCluster(perDc = 2): { client: RingClient<FakeHost>; hosts: FakeHost[]; lookups: string[] } {
  const hosts = [
    host('a', 'dc1', [-9_000n, -3_000n, 3_000n]),
    host('b', 'dc1', [-7_000n, -1_000n, 5_000n]),
    host('c', 'dc1', [-5_000n, 1_000n, 7_000n]),
    host('x', 'dc2', [-8_000n, 0n]),
    host('y', 'dc2', [-4_000n, 4_000n]),
  ];
  const ring = hosts.flatMap((h) => (h.tokens ?? []).map((t) => ({ token: BigInt(t), host: h }))).sort((p, q) => (p.token < q.token ? -1 : 1));
  const lookups: string[] = [];
  const keyspaces: Record<string, unknown> = {};
  const client: RingClient<FakeHost> = {
    hosts: { values: () => hosts },
    metadata: {
      keyspaces,
      newToken: (decimal) => ({ toString: () => decimal }),
      refreshKeyspace: async (name) => {
        if (name === 'app') keyspaces[name] = { name };
      },
      getReplicas: (keyspace, token) => {
        if (keyspaces[keyspace] === undefined) return null;
        const t = BigInt(token.toString());
        lookups.push(token.toString());
        const first = Math.max(0, ring.findIndex((p) => p.token >= t));
        const out: FakeHost[] = [];
        for (let i = 0; i < ring.length; i++) {
          const h = ring[(first + i) % ring.length]?.host;
          if (h !== undefined && !out.includes(h) && out.filter((o) => o.datacenter === h.datacenter).length < perDc) out.push(h);
        }
        return out;
      },
    },
  };
  return { client, hosts, lookups };
}

describe('readRingTokens', () => {
  it('returns every DC’s tokens, ascending and distinct', () => {
    const { client } = fakeCluster();
    const tokens = readRingTokens(client);
    expect(tokens).toHaveLength(13);
    expect(tokens).toEqual([...tokens].sort((a, b) => (a < b ? -1 : 1)));
    expect(tokens).toContain(0n);
    expect(tokens).toContain(-8_000n);
  });

  it('refuses an empty ring and tokens of other partitioners', () => {
    const noTokens: RingClient = { ...fakeCluster().client, hosts: { values: () => [{ address: 'a', datacenter: 'dc1', tokens: null, isUp: () => true }] } };
    expect(() => readRingTokens(noTokens)).toThrow(expect.objectContaining({ code: 'CLUSTER_UNAVAILABLE' }));
    const random: RingClient = { ...noTokens, hosts: { values: () => [{ address: 'a', datacenter: 'dc1', tokens: ['85070591730234615865843651857942052864'], isUp: () => true }] } };
    expect(() => readRingTokens(random)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});

describe('planRoutes', () => {
  it('asks for the replicas of each range’s end token and keeps only the local DC’s', async () => {
    const { client, lookups } = fakeCluster();
    const ranges = splitRing(readRingTokens(client), 40);
    const routes = await planRoutes(client, ranges, { keyspace: 'app', localDc: 'dc1' });
    expect(lookups).toEqual(ranges.map((r) => formatToken(r.end)));
    for (const route of routes) {
      expect(route.replicas).toHaveLength(2);
      expect(route.replicas.every((h) => h.datacenter === 'dc1')).toBe(true);
      expect(route.options).toEqual({ keyspace: 'app', routingKey: expect.anything() });
      expect(route.options.routingKey.toString()).toBe(formatToken(route.range.end));
    }
    const dc2 = await planRoutes(client, ranges, { keyspace: 'app', localDc: 'dc2' });
    expect(dc2.every((r) => r.replicas.every((h) => h.datacenter === 'dc2'))).toBe(true);
  });

  it('owns a range by its end token: (4000, 5000] is b’s primary range, the wrap-around range is a’s', async () => {
    const { client } = fakeCluster(1);
    const routes = await planRoutes(client, [{ start: 4_000n, end: 5_000n }, { start: 7_000n, end: 2n ** 63n - 1n }], { keyspace: 'app', localDc: 'dc1' });
    expect(routes.map((r) => r.replicas.map((h) => h.address))).toEqual([['b'], ['a']]);
  });

  it('rotates the replica order by range index so consecutive ranges spread over the replicas', async () => {
    const { client } = fakeCluster();
    const sameInterval = splitRing([], 6).filter((r) => r.end <= -9_000n || r.start >= 7_000n);
    const routes = await planRoutes(client, sameInterval, { keyspace: 'app', localDc: 'dc1' });
    const firsts = routes.map((r) => r.replicas[0]?.address);
    expect(new Set(firsts).size).toBe(2);
    expect(routes.map((r) => new Set(r.replicas.map((h) => h.address)))).toEqual(routes.map(() => new Set(['a', 'b'])));
  });

  it('says so when the keyspace does not exist', async () => {
    const { client } = fakeCluster();
    await expect(planRoutes(client, splitRing([], 1), { keyspace: 'nope', localDc: 'dc1' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});

describe('pinnedOptionsFor', () => {
  it('cycles through the up replicas by attempt and gives up when none is up', async () => {
    const { client, hosts } = fakeCluster();
    const [route] = await planRoutes(client, [{ start: -2_000n, end: -1_000n }], { keyspace: 'app', localDc: 'dc1' });
    if (route === undefined) throw new Error('no route');
    expect([0, 1, 2].map((k) => pinnedOptionsFor(route, k)?.host.address)).toEqual(['b', 'c', 'b']);
    const b = hosts.find((h) => h.address === 'b');
    if (b !== undefined) b.up = false;
    expect([0, 1].map((k) => pinnedOptionsFor(route, k)?.host.address)).toEqual(['c', 'c']);
    for (const h of hosts) h.up = false;
    expect(pinnedOptionsFor(route, 0)).toBeUndefined();
  });
});

describe('partitioner', () => {
  it('reads it from system.local and accepts only Murmur3Partitioner', async () => {
    const session: CqlSession = {
      execute: async (cql) => {
        expect(cql).toBe('SELECT partitioner FROM system.local');
        return { rows: [{ get: () => MURMUR3_PARTITIONER, values: () => [MURMUR3_PARTITIONER] }] };
      },
    };
    const name = await readPartitioner(session);
    expect(() => requireMurmur3(name)).not.toThrow();
    const err = (() => {
      try {
        requireMurmur3('org.apache.cassandra.dht.RandomPartitioner');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(CassetteError);
    expect(err).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('RandomPartitioner') });
  });
});
