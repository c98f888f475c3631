import { describe, expect, it } from 'vitest';
import { CassetteError } from '../../src/errors.js';
import {
  MURMUR3_PARTITIONER,
  readPartitioner,
  readRingTokens,
  requireMurmur3,
  type RingClient,
  type RingHost,
} from '../../src/cassandra/ring/ring.js';
import type { CqlSession } from '../../src/cassandra/connection/session.js';
import { splitRing, formatToken } from '../../src/cassandra/ring/token-ranges.js';

function host(address: string, datacenter: string, tokens: readonly bigint[]): RingHost {
  return { address, datacenter, tokens: tokens.map(formatToken) };
}

/** A two-DC cluster: dc1 = a, b, c; dc2 = x, y. */
function fakeCluster(): { client: RingClient } {
  const hosts = [
    host('a', 'dc1', [-9_000n, -3_000n, 3_000n]),
    host('b', 'dc1', [-7_000n, -1_000n, 5_000n]),
    host('c', 'dc1', [-5_000n, 1_000n, 7_000n]),
    host('x', 'dc2', [-8_000n, 0n]),
    host('y', 'dc2', [-4_000n, 4_000n]),
  ];
  return { client: { hosts: { values: () => hosts } } };
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
    const noTokens: RingClient = { hosts: { values: () => [{ address: 'a', datacenter: 'dc1', tokens: null }] } };
    expect(() => readRingTokens(noTokens)).toThrow(expect.objectContaining({ code: 'CLUSTER_UNAVAILABLE' }));
    const random: RingClient = { hosts: { values: () => [{ address: 'a', datacenter: 'dc1', tokens: ['85070591730234615865843651857942052864'] }] } };
    expect(() => readRingTokens(random)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
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
