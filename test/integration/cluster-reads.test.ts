/**
 * Replica-aware reads on the real 4-node, two-datacenter cluster (dc1: nodes 1-3, dc2: node 4):
 * cassette's own replica placement agrees with the driver's (computed without our encoding, which
 * keeps the strategy), and a backup's range reads are coordinated by local replicas only, evenly —
 * counted by the nodes themselves (system_views.coordinator_scan_latency is per node).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readReplication, readRouter } from '../../src/cassandra/ring/read-routes.js';
import { readRingTokens } from '../../src/cassandra/ring/ring.js';
import { formatToken, splitRing } from '../../src/cassandra/ring/token-ranges.js';
import type { CqlSession } from '../../src/cassandra/connection/session.js';
import { cliEnv, runCli } from '../support/cassette.js';
import { clusterClient } from '../support/cluster.js';
import { uniqueName } from '../support/clients.js';

const ROWS = 6_000;
const SPLITS = 96;

describe('replica-aware reads on the 4-node two-DC cluster', () => {
  const settings = inject('services').cluster;
  const client = clusterClient(settings);
  // Every node at distance `local`, so a statement can be pinned to any of them (the default policy ignores dc2).
  const anyNode = new cassandra.Client({
    contactPoints: settings.hosts.map((h) => `${h}:${settings.port}`),
    localDataCenter: settings.dc,
    protocolOptions: { port: settings.port },
    policies: { loadBalancing: new cassandra.policies.loadBalancing.RoundRobinPolicy() },
  });
  const session: CqlSession = {
    async execute(cql, params = [], options = {}) {
      const rs = await client.execute(cql, [...params], { prepare: true, ...options });
      return { rows: rs.rows, pageState: rs.pageState ?? undefined };
    },
  };
  const rf3 = uniqueName('it_reads_rf3');
  const rf1 = uniqueName('it_reads_rf1');
  const simple = uniqueName('it_reads_simple');
  const work = mkdtempSync(join(tmpdir(), 'cassette-cluster-reads-'));
  const connection = ['--hosts', settings.hosts.join(','), '--port', String(settings.port)];

  /** Range scans of `keyspace`.kv that each node has coordinated, read on that node itself. */
  async function coordinatorScans(keyspace: string): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const host of anyNode.hosts.values()) {
      const rs = await anyNode.execute('SELECT count FROM system_views.coordinator_scan_latency WHERE keyspace_name = ? AND table_name = ?', [keyspace, 'kv'], { host });
      counts.set(host.address, Number(rs.first()?.get('count') ?? 0));
    }
    return counts;
  }

  function backup(keyspace: string, dc: string): { rangesByNode: Record<string, number>; rows: number; ranges: number } {
    const r = runCli(['backup', '--keyspace', keyspace, '--repo', join(work, `${keyspace}-${dc}`), '--dc', dc, '--splits', String(SPLITS), '--fetch-size', '50000', '--json', ...connection], cliEnv());
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { rangesByNode: Record<string, number>; rows: number; ranges: number };
  }

  beforeAll(async () => {
    await client.connect();
    await anyNode.connect();
    for (const [keyspace, replication] of [
      [rf3, `{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 1}`],
      [rf1, `{'class': 'NetworkTopologyStrategy', 'dc1': 1, 'dc2': 1}`],
      [simple, `{'class': 'SimpleStrategy', 'replication_factor': 2}`],
    ] as const) {
      await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = ${replication}`);
      await client.execute(`CREATE TABLE ${keyspace}.kv (id int PRIMARY KEY, v text)`);
      // The SimpleStrategy keyspace is only placed, never read: LOCAL_QUORUM writes to it fail
      // where a range's two replicas are one in dc1 and one in dc2.
      if (keyspace === simple) continue;
      await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${keyspace}.kv (id, v) VALUES (?, ?)`,
        Array.from({ length: ROWS }, (_, i) => [i, `value ${i}`]));
    }
  }, 300_000);

  afterAll(async () => {
    for (const keyspace of [rf3, rf1, simple]) await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await client.shutdown();
    await anyNode.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  it('sees four nodes, three in dc1 and one in dc2, 16 tokens each', () => {
    const hosts = client.hosts.values();
    expect(hosts.map((h) => h.datacenter).sort()).toEqual(['dc1', 'dc1', 'dc1', 'dc2']);
    expect(hosts.every((h) => h.tokens.length === 16)).toBe(true);
    expect(readRingTokens(client)).toHaveLength(64);
  });

  it('places replicas as the driver does, for NetworkTopologyStrategy and SimpleStrategy', async () => {
    const ranges = splitRing(readRingTokens(client), 256);
    for (const keyspace of [rf3, rf1, simple]) {
      await client.metadata.refreshKeyspace(keyspace);
      const router = readRouter(client.hosts.values(), { keyspace, localDc: 'dc1', replication: await readReplication(session, keyspace) });
      const expectedSize = keyspace === rf3 ? 3 : keyspace === rf1 ? 1 : undefined;
      for (const range of ranges) {
        const theirs = client.metadata.getReplicas(keyspace, client.metadata.newToken(formatToken(range.end)) as unknown as Buffer) ?? [];
        const local = theirs.filter((h) => h.datacenter === 'dc1').map((h) => h.address);
        expect(theirs.length).toBeGreaterThan(0);
        const ours = router.route(range);
        expect([...ours.localReplicas].sort(), `${keyspace} ${formatToken(range.end)}`).toEqual([...local].sort());
        if (expectedSize !== undefined) expect(ours.localReplicas).toHaveLength(expectedSize);
      }
    }
  });

  it('reads a keyspace with RF 3 in dc1 from all three dc1 nodes in roughly equal shares, never from dc2', async () => {
    const before = await coordinatorScans(rf3);
    const report = backup(rf3, 'dc1');
    expect(report.rows).toBe(ROWS);
    const after = await coordinatorScans(rf3);
    const served = new Map([...after].map(([host, n]) => [host, n - (before.get(host) ?? 0)]));
    const dc1 = client.hosts.values().filter((h) => h.datacenter === 'dc1').map((h) => h.address);
    const dc2 = client.hosts.values().filter((h) => h.datacenter === 'dc2').map((h) => h.address);
    // The report and the nodes agree: one scan per range (one page each), on the node the report names.
    expect(Object.keys(report.rangesByNode).sort()).toEqual([...dc1].sort());
    for (const host of dc1) expect(served.get(host), host).toBe(report.rangesByNode[host]);
    for (const host of dc2) expect(served.get(host), host).toBe(0);
    // --splits is a target: intervals between ring tokens are never merged, so there may be a few more.
    expect(report.ranges).toBeGreaterThanOrEqual(SPLITS);
    expect(dc1.reduce((n, h) => n + (served.get(h) ?? 0), 0)).toBe(report.ranges);
    for (const host of dc1) {
      expect(served.get(host), host).toBeGreaterThanOrEqual(Math.floor(report.ranges / 3) - 1);
      expect(served.get(host), host).toBeLessThanOrEqual(Math.ceil(report.ranges / 3) + 1);
    }
  });

  it('with --dc dc2 reads only from the dc2 replica', async () => {
    const before = await coordinatorScans(rf3);
    const report = backup(rf3, 'dc2');
    expect(report.rows).toBe(ROWS);
    const after = await coordinatorScans(rf3);
    const node4 = client.hosts.values().find((h) => h.datacenter === 'dc2')?.address as string;
    expect(report.rangesByNode).toEqual({ [node4]: report.ranges });
    for (const [host, n] of after) expect(n - (before.get(host) ?? 0), host).toBe(host === node4 ? report.ranges : 0);
  });

  it('never reads from a node that is not a replica (RF 1 in dc1: each range from its one dc1 replica)', async () => {
    // Where the driver (not cassette) places each planned range's dc1 replica.
    const expected = new Map<string, number>();
    const ranges = splitRing(readRingTokens(client), SPLITS);
    await client.metadata.refreshKeyspace(rf1);
    for (const range of ranges) {
      const replica = (client.metadata.getReplicas(rf1, client.metadata.newToken(formatToken(range.end)) as unknown as Buffer) ?? []).find((h) => h.datacenter === 'dc1');
      expect(replica).toBeDefined();
      expected.set(replica?.address as string, (expected.get(replica?.address as string) ?? 0) + 1);
    }
    const before = await coordinatorScans(rf1);
    const report = backup(rf1, 'dc1');
    expect(report.rows).toBe(ROWS);
    const after = await coordinatorScans(rf1);
    for (const [host, n] of after) expect(n - (before.get(host) ?? 0), host).toBe(expected.get(host) ?? 0);
    expect(report.rangesByNode).toEqual(Object.fromEntries([...expected].sort(([a], [b]) => (a < b ? -1 : 1))));
  });
});
