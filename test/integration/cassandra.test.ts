import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type cassandra from 'cassandra-driver';
import { cassandraClient, uniqueName } from '../support/clients.js';

describe('real Cassandra 5.0 on loopback', () => {
  const settings = inject('services').cassandra;
  const keyspace = uniqueName('it_cassandra');
  let client: cassandra.Client;

  beforeAll(async () => {
    client = cassandraClient(settings);
    await client.connect();
  });

  afterAll(async () => {
    await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await client.shutdown();
  });

  it('is Apache Cassandra 5.0 with 16 vnodes on one node', async () => {
    const local = (await client.execute('SELECT release_version, tokens, cluster_name FROM system.local')).first();
    expect(local.get('release_version')).toMatch(/^5\.0\./);
    expect(local.get('tokens')).toHaveLength(16);
    expect(local.get('cluster_name')).toBe('cassette-test');
  });

  it('creates a keyspace and table, writes rows and reads them back', async () => {
    await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    await client.execute(`CREATE TABLE ${keyspace}.users (id int PRIMARY KEY, name text, secret blob)`);
    const insert = `INSERT INTO ${keyspace}.users (id, name, secret) VALUES (?, ?, ?)`;
    const rows = Array.from({ length: 200 }, (_, i) => [i, `user-${i} ✓`, Buffer.from([i % 256, 0, 255])]);
    for (const params of rows) await client.execute(insert, params, { prepare: true });

    const result = await client.execute(`SELECT id, name, secret FROM ${keyspace}.users`, [], { fetchSize: 1000 });
    expect(result.rows).toHaveLength(200);
    const byId = new Map(result.rows.map((r) => [r.get('id') as number, r]));
    for (const [id, name, secret] of rows) {
      const row = byId.get(id as number);
      expect(row?.get('name')).toBe(name);
      expect(Buffer.compare(row?.get('secret') as Buffer, secret as Buffer)).toBe(0);
    }
  });
});

describe('the second cluster (for migration tests)', () => {
  it('is an independent Cassandra 5.0 cluster with its own name', async () => {
    const client = cassandraClient(inject('services').second);
    try {
      await client.connect();
      const local = (await client.execute('SELECT cluster_name, release_version FROM system.local')).first();
      expect(local.get('cluster_name')).toBe('cassette-second');
      expect(local.get('release_version')).toMatch(/^5\.0\./);
    } finally {
      await client.shutdown();
    }
  });
});
