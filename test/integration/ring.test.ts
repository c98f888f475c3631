import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import cassandra from 'cassandra-driver';
import { uniqueName } from '../support/clients.js';
import type { CqlSession } from '../../src/cassandra/connection/session.js';
import { murmur3Token, partitionKeyBytes } from '../../src/cassandra/ring/murmur3.js';
import { readReplication, readRouter } from '../../src/cassandra/ring/read-routes.js';
import {
  MURMUR3_PARTITIONER,
  readPartitioner,
  readRingTokens,
  requireMurmur3,
} from '../../src/cassandra/ring/ring.js';
import { MAX_TOKEN, MIN_TOKEN, containsToken, formatToken, splitRing } from '../../src/cassandra/ring/token-ranges.js';

const KEYS = 2000;
const toBigInt = (value: unknown): bigint => BigInt(String(value));

describe('token ring and replica routing on the real Cassandra (one node, 16 vnodes)', () => {
  const settings = inject('services').cassandra;
  const keyspace = uniqueName('it_ring');
  const client = new cassandra.Client({
    contactPoints: [`${settings.host}:${settings.port}`],
    localDataCenter: settings.dc,
    encoding: { useBigIntAsLong: true },
  });
  const session: CqlSession = {
    async execute(cql, params = [], options = {}) {
      const rs = await client.execute(cql, [...params], { ...options });
      return { rows: rs.rows, pageState: rs.pageState ?? undefined };
    },
  };
  const execute = (cql: string, params: unknown[], options: object = {}): Promise<cassandra.types.ResultSet> =>
    client.execute(cql, params, { prepare: true, fetchSize: 10_000, ...options });

  beforeAll(async () => {
    await client.connect();
    await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    await client.execute(`CREATE TABLE ${keyspace}.kv (id int PRIMARY KEY, v text)`);
    await client.execute(`CREATE TABLE ${keyspace}.names (name text PRIMARY KEY)`);
    await client.execute(`CREATE TABLE ${keyspace}.blobs (k blob PRIMARY KEY)`);
    await client.execute(`CREATE TABLE ${keyspace}.pairs (a int, b text, c int, PRIMARY KEY ((a, b), c))`);
    // executeConcurrent always prepares (lib/concurrent/index.js). Ids span the whole int range.
    const ids = Array.from({ length: KEYS }, (_, i) => (i === 0 ? -(2 ** 31) : i === 1 ? 2 ** 31 - 1 : (i * 2_147_483) | 0));
    await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${keyspace}.kv (id, v) VALUES (?, ?)`, ids.map((id) => [id, `v${id}`]));
    // Every tail length 0–15 and several blocks; bytes ≥ 0x80 exercise Cassandra's signed tail bytes.
    const names = Array.from({ length: 300 }, (_, i) => `${'é✓ab'.repeat(i % 13)}${i}`);
    await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${keyspace}.names (name) VALUES (?)`, names.map((n) => [n]));
    const blobs = Array.from({ length: 300 }, (_, i) => randomBytes(1 + (i % 40)));
    await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${keyspace}.blobs (k) VALUES (?)`, blobs.map((b) => [b]));
    const pairs = Array.from({ length: 200 }, (_, i) => [i * 7919 - 500_000, `b-${i}-ü`, i]);
    await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${keyspace}.pairs (a, b, c) VALUES (?, ?, ?)`, pairs);
  });

  afterAll(async () => {
    await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await client.shutdown();
  });

  it('reports Murmur3Partitioner and a ring of the node’s 16 tokens', async () => {
    const partitioner = await readPartitioner(session);
    expect(partitioner).toBe(MURMUR3_PARTITIONER);
    expect(() => requireMurmur3(partitioner)).not.toThrow();
    const ring = readRingTokens(client);
    expect(ring).toHaveLength(16);
    const local = (await client.execute('SELECT tokens FROM system.local')).first().get('tokens') as string[];
    expect(ring.map(formatToken).sort()).toEqual([...local].sort());
  });

  it('routes every range to the node, pinned, and pinned reads cover the table exactly once', async () => {
    const ranges = splitRing(readRingTokens(client), 64);
    const router = readRouter(client.hosts.values(), { keyspace, localDc: settings.dc, replication: await readReplication(session, keyspace) });
    const count = `SELECT count(*) FROM ${keyspace}.kv WHERE token(id) > ? AND token(id) <= ?`;
    const [only] = client.hosts.values();
    let total = 0;
    for (const range of ranges) {
      const route = router.route(range);
      expect(route.localReplicas).toEqual([only?.address]);
      const attempt = route.attempt(1);
      expect(attempt?.routing).toEqual({ host: only });
      const rs = await execute(count, [range.start, range.end], attempt?.routing ?? {});
      expect(rs.info.queriedHost).toBe(only?.address);
      total += Number(rs.first().get(0));
    }
    expect(total).toBe(KEYS);
    await expect(readReplication(session, 'no_such_keyspace')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('splits the rows exactly when ranges start and end at real keys’ tokens', async () => {
    const all = (await execute(`SELECT token(id), id FROM ${keyspace}.kv`, [])).rows.map((r) => ({ token: toBigInt(r.get(0)), id: r.get(1) as number }));
    expect(all).toHaveLength(KEYS);
    const sorted = [...all].sort((a, b) => (a.token < b.token ? -1 : 1));
    const edgeKeys = Array.from({ length: 50 }, (_, i) => sorted[i * 40 + 7]).filter((k) => k !== undefined);
    const ranges = splitRing([...readRingTokens(client), ...edgeKeys.map((k) => k.token)], 100);
    expect(ranges[0]?.start).toBe(MIN_TOKEN);
    expect(ranges.at(-1)?.end).toBe(MAX_TOKEN);

    const rangeOf = new Map<number, number>();
    const select = `SELECT token(id), id FROM ${keyspace}.kv WHERE token(id) > ? AND token(id) <= ?`;
    for (const [index, range] of ranges.entries()) {
      for (const row of (await execute(select, [range.start, range.end])).rows) {
        const id = row.get(1) as number;
        expect(containsToken(range, toBigInt(row.get(0)))).toBe(true);
        expect(rangeOf.has(id), `key ${id} read twice`).toBe(false);
        rangeOf.set(id, index);
      }
    }
    expect(rangeOf.size).toBe(KEYS);
    for (const key of edgeKeys) {
      const index = rangeOf.get(key.id);
      expect(ranges[index ?? -1]?.end).toBe(key.token);
      // …and the next range starts exactly at this key's token without reading it.
      expect(ranges[(index ?? -1) + 1]?.start).toBe(key.token);
    }
  });

  it('computes the same token as Cassandra for int, text, blob and composite partition keys', async () => {
    const int32 = (n: number): Buffer => {
      const b = Buffer.alloc(4);
      b.writeInt32BE(n);
      return b;
    };
    const checks: Array<[string, (row: cassandra.types.Row) => Buffer]> = [
      [`SELECT token(id), id FROM ${keyspace}.kv`, (r) => int32(r.get(1) as number)],
      [`SELECT token(name), name FROM ${keyspace}.names`, (r) => Buffer.from(r.get(1) as string, 'utf8')],
      [`SELECT token(k), k FROM ${keyspace}.blobs`, (r) => r.get(1) as Buffer],
      [`SELECT token(a, b), a, b FROM ${keyspace}.pairs`, (r) => partitionKeyBytes([int32(r.get(1) as number), Buffer.from(r.get(2) as string, 'utf8')])],
    ];
    for (const [cql, keyBytes] of checks) {
      const rows = (await execute(cql, [])).rows;
      expect(rows.length).toBeGreaterThanOrEqual(200);
      const mismatches = rows.filter((r) => murmur3Token(keyBytes(r)) !== toBigInt(r.get(0)));
      expect(mismatches.map((r) => r.values()), cql).toEqual([]);
    }
  });
});
