/**
 * Across topologies, with the built CLI against the real clusters: a backup of a keyspace with RF 3
 * in dc1 and 1 in dc2 on the 4-node, two-datacenter cluster records that cluster's topology (4
 * nodes, dc1 ×3, dc2 ×1, 16 tokens each), which `list --json` and `status` show; it restores into
 * the single-node cluster with `--dc-map` (refused while the factor does not fit, accepted with a
 * `--replication` the node can hold) equal to the source cell by cell — values, writetimes, TTLs;
 * and back: a single-node backup restores into the cluster with RF 3 in dc1 and 1 in dc2 (refused
 * first while its datacenter is not in the cluster), equal cell by cell, every row in dc2 too.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectCluster, type ClusterHandle } from '../../src/cli/compose.js';
import { readHeader, readManifest } from '../../src/manifest/repository.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { createDataset } from '../support/backup-dataset.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { cliEnv, clusterFor, runCli } from '../support/cassette.js';
import { expectSame, snapshot } from '../support/table-snapshot.js';

const TABLES = ['all_types', 'events', 'hits', 'keys_only', 'profiles'];
/** Counters are restored by adding to them: their writetimes are the target's own. */
const COUNTER_TABLES = new Set(['hits']);

describe('backup and restore across topologies (4-node cluster ↔ single node)', () => {
  const services = inject('services');
  const four = services.cluster;
  const one = services.cassandra;
  const work = mkdtempSync(join(tmpdir(), 'cassette-topology-'));
  const repo = join(work, 'repo');
  const store = new FsStore(repo);
  const onFour = ['--hosts', four.hosts.join(','), '--port', String(four.port), '--dc', four.dc];
  const onOne = ['--hosts', one.host, '--port', String(one.port), '--dc', one.dc];
  const clusterSource = uniqueName('it_topo_four');
  const singleSource = uniqueName('it_topo_one');
  const intoOne = uniqueName('it_topo_to_one');
  const intoFour = uniqueName('it_topo_to_four');
  let fourWriter: cassandra.Client;
  let oneClient: cassandra.Client;
  let fourHandle: ClusterHandle;
  let oneHandle: ClusterHandle;
  let backupId: string;

  const cli = (args: readonly string[]): { status: number | null; stdout: string; stderr: string } => runCli(args, cliEnv());
  const backup = (keyspace: string, connection: readonly string[]): string => {
    const run = cli(['backup', '--repo', repo, '--keyspace', keyspace, ...connection, '--json']);
    expect(run.status, run.stderr).toBe(0);
    return (JSON.parse(run.stdout) as { backupId: string }).backupId;
  };
  const replicationOf = async (client: cassandra.Client, keyspace: string): Promise<unknown> =>
    Object.fromEntries(Object.entries((await client.execute('SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?', [keyspace])).first().get('replication') as Record<string, string>));
  const keyspaceExists = async (client: cassandra.Client, keyspace: string): Promise<boolean> =>
    (await client.execute('SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [keyspace])).rows.length > 0;

  beforeAll(async () => {
    // Written at ALL, so every replica in both datacenters holds every row before the backup.
    fourWriter = new cassandra.Client({
      contactPoints: four.hosts.map((h) => `${h}:${four.port}`), localDataCenter: four.dc,
      queryOptions: { consistency: cassandra.types.consistencies.all },
    });
    await fourWriter.connect();
    oneClient = cassandraClient(one);
    await oneClient.connect();
    await createDataset(fourWriter, clusterSource, { wideRows: 1_000, smallPartitions: 300, replication: `{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 1}` });
    backupId = backup(clusterSource, onFour);
    fourHandle = await connectCluster({ hosts: four.hosts, port: four.port, dc: four.dc, consistency: 'LOCAL_QUORUM', requestTimeoutMs: 30_000 });
    oneHandle = await clusterFor(one);
  });

  afterAll(async () => {
    for (const ks of [clusterSource, intoFour]) await fourWriter?.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
    for (const ks of [singleSource, intoOne]) await oneClient?.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
    await fourHandle?.close();
    await oneHandle?.close();
    await fourWriter?.shutdown();
    await oneClient?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  it('records the source topology in backup.json and manifest.json: 4 nodes, dc1 ×3, dc2 ×1, 16 tokens each', async () => {
    const header = await readHeader(store, backupId);
    const cluster = header?.cluster;
    expect(cluster?.partitioner).toBe('org.apache.cassandra.dht.Murmur3Partitioner');
    const nodes = cluster?.topology?.nodes ?? [];
    expect(nodes.map((n) => [n.address, n.datacenter])).toEqual(four.hosts.map((host, i) => [host, i < 3 ? 'dc1' : 'dc2']));
    for (const node of nodes) {
      expect(node.tokens, node.address).toBe(16);
      expect(node.releaseVersion, node.address).toBe(cluster?.releaseVersion);
      expect(node.rack, node.address).not.toBe('');
    }
    expect((await readManifest(store, backupId))?.cluster).toEqual(cluster);
  });

  it('shows it in list --json and status (text and --json)', async () => {
    const cluster = (await readHeader(store, backupId))?.cluster;
    const list = cli(['list', '--repo', repo, '--json']);
    expect(list.status, list.stderr).toBe(0);
    const listed = (JSON.parse(list.stdout) as { backups: { backupId: string; cluster?: unknown }[] }).backups.find((b) => b.backupId === backupId);
    expect(listed?.cluster).toEqual(cluster);

    const status = cli(['status', backupId, '--repo', repo]);
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toContain(`\n  source: cluster ${cluster?.name}, Cassandra ${cluster?.releaseVersion}, Murmur3Partitioner, 4 nodes: dc1 ×3, dc2 ×1, 16 tokens each\n`);
    const json = cli(['status', backupId, '--repo', repo, '--json']);
    expect(json.status, json.stderr).toBe(0);
    expect((JSON.parse(json.stdout) as { backup: { cluster: unknown } }).backup.cluster).toEqual(cluster);
  });

  it('refuses --dc-map alone into the single node, whose one node cannot hold factor 3, before writing anything', async () => {
    const run = cli(['restore', backupId, '--repo', repo, ...onOne, '--target-keyspace', intoOne, '--dc-map', 'dc1:datacenter1,dc2:datacenter1']);
    expect(run.status, run.stderr).toBe(3);
    const [message, hint, ...rest] = run.stderr.trim().split('\n');
    expect(message).toMatch(/the keyspace cannot be created with the backup's replication renamed by --dc-map \{"class":"NetworkTopologyStrategy","datacenter1":"3"\}: replication factor 3 in datacenter "datacenter1" is more than its 1 node/);
    expect(hint).toContain(`--replication '{"class":"NetworkTopologyStrategy","datacenter1":"1"}'`);
    expect(rest).toEqual([]);
    expect(await keyspaceExists(oneClient, intoOne)).toBe(false);
    expect(existsSync(join(repo, 'backups', backupId, 'restores'))).toBe(false);
  });

  it('restores into the single node with --dc-map and --replication, equal to the source cell by cell', async () => {
    const run = cli(['restore', backupId, '--repo', repo, ...onOne, '--target-keyspace', intoOne,
      '--dc-map', 'dc1:datacenter1,dc2:datacenter1', '--replication', '{"class":"NetworkTopologyStrategy","datacenter1":"1"}', '--verify', '--json']);
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { replication: unknown; verified: boolean; rejected: number };
    expect(report).toMatchObject({ verified: true, rejected: 0, replication: { created: true, map: { class: 'NetworkTopologyStrategy', datacenter1: '1' } } });
    expect(await replicationOf(oneClient, intoOne)).toEqual({ class: 'org.apache.cassandra.locator.NetworkTopologyStrategy', datacenter1: '1' });
    const before = await snapshot(fourHandle, clusterSource, TABLES);
    const after = await snapshot(oneHandle, intoOne, TABLES);
    expect(after.rows.get('events')?.size).toBe(4_000);
    expectSame(before.rows, after.rows, COUNTER_TABLES);
  });

  it('restores a single-node backup into the cluster with RF 3 in dc1 and 1 in dc2, equal cell by cell', async () => {
    await createDataset(oneClient, singleSource, { wideRows: 1_000, smallPartitions: 300, replication: `{'class': 'NetworkTopologyStrategy', 'datacenter1': 1}` });
    const id = backup(singleSource, onOne);

    // The backup's datacenter1 is not in the cluster: refused, with a replication that fits as the hint.
    const refused = cli(['restore', id, '--repo', repo, ...onFour, '--target-keyspace', intoFour]);
    expect(refused.status, refused.stderr).toBe(3);
    expect(refused.stderr).toMatch(/datacenter "datacenter1" is not in the target cluster; the target has dc1 \(3 nodes\), dc2 \(1 node\)\n/);
    expect(refused.stderr).toContain(`--replication '{"class":"NetworkTopologyStrategy","dc1":"3","dc2":"1"}'`);
    expect(await keyspaceExists(fourWriter, intoFour)).toBe(false);

    const run = cli(['restore', id, '--repo', repo, ...onFour, '--target-keyspace', intoFour,
      '--replication', '{"class":"NetworkTopologyStrategy","dc1":"3","dc2":"1"}', '--verify']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain(`keyspace ${intoFour} created with replication {"class":"NetworkTopologyStrategy","dc1":"3","dc2":"1"}`);
    expect(run.stdout).toContain('verified: row counts match');
    expect(await replicationOf(fourWriter, intoFour)).toEqual({ class: 'org.apache.cassandra.locator.NetworkTopologyStrategy', dc1: '3', dc2: '1' });
    const before = await snapshot(oneHandle, singleSource, TABLES);
    const after = await snapshot(fourHandle, intoFour, TABLES);
    expectSame(before.rows, after.rows, COUNTER_TABLES);

    // dc2's one replica holds every row too (written there asynchronously by the LOCAL_QUORUM writes).
    const dc2 = new cassandra.Client({ contactPoints: [`${four.hosts[3]}:${four.port}`], localDataCenter: 'dc2', queryOptions: { consistency: cassandra.types.consistencies.localOne } });
    try {
      let count = -1;
      for (let i = 0; i < 60 && count !== 4_000; i++) {
        if (i > 0) await sleep(500);
        count = Number((await dc2.execute(`SELECT count(*) FROM ${intoFour}.events`)).first().get('count'));
      }
      expect(count).toBe(4_000);
    } finally {
      await dc2.shutdown();
    }
  });
});
