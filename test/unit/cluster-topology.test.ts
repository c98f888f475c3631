/**
 * The source topology in a backup (docs/format.md §2, optional `cluster.topology`) and restoring
 * across topologies, with fakes: a backup records the cluster's nodes in backup.json and
 * manifest.json; `list --json` and `status` show it, and nothing when a backup has none; the
 * driver's hosts become the recorded nodes; a restore creates the keyspace with the replication
 * `--dc-map` renames, and refuses — before writing anything — a replication the target cannot hold.
 */
import { describe, expect, it } from 'vitest';
import { runBackup } from '../../src/commands/backup.js';
import { describeSource, runList } from '../../src/commands/list.js';
import { silentProgress } from '../../src/commands/progress.js';
import { runRestore, type RestoreCluster, type RestoreRequest } from '../../src/commands/restore.js';
import { formatStatus, runStatus } from '../../src/commands/status/status.js';
import { topologyOf } from '../../src/cli/compose.js';
import { CassetteError } from '../../src/errors.js';
import { BackupHeader, Manifest, parseDocument, type ClusterTopology } from '../../src/manifest/format.js';
import { readHeader, readManifest } from '../../src/manifest/repository.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { FAKE_TOPOLOGY, fakeCluster, fakeClusterSession } from '../support/fakes/fake-cluster.js';
import { FakeWriteSession } from '../support/fakes/fake-write-session.js';
import { MemoryStore } from '../support/fakes/memory-store.js';
import { keyspaceSchema, tableSchema, writeSyntheticBackup } from '../support/synthetic-backup.js';

const MURMUR3 = 'org.apache.cassandra.dht.Murmur3Partitioner';
const NTS = 'org.apache.cassandra.locator.NetworkTopologyStrategy';

/** The test cluster of `scripts/services up --cluster`, as a backup records it. */
const FOUR_NODES: ClusterTopology = {
  nodes: [
    ...['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((address) => ({ address, datacenter: 'dc1', rack: 'rack1', tokens: 16, releaseVersion: '5.0.8' })),
    { address: '127.0.0.5', datacenter: 'dc2', rack: 'rack1', tokens: 16, releaseVersion: '5.0.8' },
  ],
};

async function fakeBackup(store: BlobStore): Promise<string> {
  const session = fakeClusterSession({ keyspace: 'ks', tables: [{ name: 't', rows: 5 }] });
  const report = await runBackup({ keyspace: 'ks', splits: 2, parallel: 1, fetchSize: 10, gzipLevel: 1, maxChunkBytes: 1 << 20, consistency: 'LOCAL_QUORUM' }, {
    store, cluster: fakeCluster(session), progress: silentProgress, signal: new AbortController().signal, now: Date.now, toolVersion: 'test', resumeHint: (id) => id,
  });
  return report.backupId;
}

describe('the source topology in a backup', () => {
  it('is recorded in backup.json and manifest.json', async () => {
    const store = new MemoryStore();
    const id = await fakeBackup(store);
    expect((await readHeader(store, id))?.cluster).toEqual({ name: 'fake', partitioner: MURMUR3, releaseVersion: '5.0.8', topology: FAKE_TOPOLOGY });
    expect((await readManifest(store, id))?.cluster.topology).toEqual(FAKE_TOPOLOGY);
  });

  it('is optional in format version 1, and validated when present', () => {
    const header = { formatVersion: 1, kind: 'cassette-backup', backupId: 'b', createdAt: 'now', tool: { name: 'cassette', version: '0.1.0' },
      cluster: { name: 'prod', partitioner: MURMUR3, releaseVersion: '5.0.8' }, keyspace: keyspaceSchema('ks', []), schemaFingerprint: 'sha256:x',
      options: { compression: 'gzip', gzipLevel: 1, maxChunkBytes: 1024, consistency: 'LOCAL_QUORUM' }, tables: [] };
    expect(parseDocument(BackupHeader, header, 'backup.json').cluster.topology).toBeUndefined();
    const withTopology = { ...header, cluster: { ...header.cluster, topology: FOUR_NODES } };
    expect(parseDocument(BackupHeader, withTopology, 'backup.json').cluster.topology).toEqual(FOUR_NODES);
    const broken = { ...header, cluster: { ...header.cluster, topology: { nodes: [{ ...FOUR_NODES.nodes[0], tokens: -1 }] } } };
    expect(() => parseDocument(BackupHeader, broken, 'backup.json')).toThrow(/backup.json is malformed \(cluster\.topology\.nodes\.0\.tokens:/);
    const manifest = { ...header, completedAt: 'later', tables: [], totals: { tables: 0, ranges: 0, chunks: 0, rows: 0, bytes: 0 } };
    expect(parseDocument(Manifest, { ...manifest, cluster: withTopology.cluster }, 'manifest').cluster.topology?.nodes).toHaveLength(4);
  });

  it('is built from the driver\'s hosts: addresses without the port, sorted by datacenter then address', () => {
    const tokens = (n: number): string[] => Array.from({ length: n }, (_, i) => String(i));
    expect(topologyOf([
      { address: '127.0.0.5:9042', datacenter: 'dc2', rack: 'r1', tokens: tokens(16), cassandraVersion: '5.0.8' },
      { address: '127.0.0.10:9042', datacenter: 'dc1', rack: 'r2', tokens: tokens(16), cassandraVersion: '5.0.8' },
      { address: '127.0.0.2:9042', datacenter: 'dc1', rack: 'r1', tokens: tokens(256), cassandraVersion: '5.0.7' },
      { address: '::1:9042', datacenter: null, rack: null, tokens: null, cassandraVersion: null },
      { address: '[fe80::2]:9142', datacenter: 'dc1', rack: 'r1', tokens: tokens(1), cassandraVersion: '5.0.8' },
    ]).nodes).toEqual([
      { address: '127.0.0.2', datacenter: 'dc1', rack: 'r1', tokens: 256, releaseVersion: '5.0.7' },
      { address: '127.0.0.10', datacenter: 'dc1', rack: 'r2', tokens: 16, releaseVersion: '5.0.8' },
      { address: 'fe80::2', datacenter: 'dc1', rack: 'r1', tokens: 1, releaseVersion: '5.0.8' },
      { address: '127.0.0.5', datacenter: 'dc2', rack: 'r1', tokens: 16, releaseVersion: '5.0.8' },
      { address: '::1', datacenter: 'unknown', rack: 'unknown', tokens: 0, releaseVersion: 'unknown' },
    ]);
  });

  it('is described in one line for people', () => {
    const cluster = { name: 'cassette-cluster', partitioner: MURMUR3, releaseVersion: '5.0.8' };
    expect(describeSource({ ...cluster, topology: FOUR_NODES })).toBe('cluster cassette-cluster, Cassandra 5.0.8, Murmur3Partitioner, 4 nodes: dc1 ×3, dc2 ×1, 16 tokens each');
    expect(describeSource({ ...cluster, topology: { nodes: [{ ...FOUR_NODES.nodes[0] as ClusterTopology['nodes'][number], tokens: 1 }] } }))
      .toBe('cluster cassette-cluster, Cassandra 5.0.8, Murmur3Partitioner, 1 node: dc1 ×1, 1 token each');
    const mixed = FOUR_NODES.nodes.map((n, i) => (i === 0 ? { ...n, tokens: 256, releaseVersion: '5.0.7' } : n));
    expect(describeSource({ ...cluster, topology: { nodes: mixed } }))
      .toBe('cluster cassette-cluster, Cassandra 5.0.7 + 5.0.8 (mixed), Murmur3Partitioner, 4 nodes: dc1 ×3, dc2 ×1, 16–256 tokens per node');
    expect(describeSource(cluster)).toBeUndefined();
    expect(describeSource(undefined)).toBeUndefined();
  });

  it('is shown by list --json and status (text and JSON), and nothing is shown for a backup without it', async () => {
    const store = new MemoryStore();
    const old = '20261122T120000Z-aaaaaa';
    await writeSyntheticBackup(store, old, keyspaceSchema('ks', [tableSchema('t', [['id', 'int', 'partition_key']])]), [{ name: 't', ranges: [[[{ k: [1], c: {} }]]] }]);
    const id = await fakeBackup(store);

    const list = JSON.parse(JSON.stringify(await runList({ store }))) as { backups: { backupId: string; cluster?: { topology?: unknown } }[] };
    expect(list.backups.find((b) => b.backupId === id)?.cluster).toEqual({ name: 'fake', partitioner: MURMUR3, releaseVersion: '5.0.8', topology: FAKE_TOPOLOGY });
    const listedOld = list.backups.find((b) => b.backupId === old);
    expect(listedOld?.cluster).toEqual({ name: 'synthetic', partitioner: MURMUR3, releaseVersion: '5.0.8' });
    expect(listedOld?.cluster).not.toHaveProperty('topology');

    const status = await runStatus(id, { store });
    expect(formatStatus(status).split('\n')[1]).toBe('  source: cluster fake, Cassandra 5.0.8, Murmur3Partitioner, 1 node: datacenter1 ×1, 1 token each');
    expect(JSON.parse(JSON.stringify(status))).toMatchObject({ kind: 'backup', backup: { cluster: { topology: FAKE_TOPOLOGY } } });
    const oldStatus = formatStatus(await runStatus(old, { store }));
    expect(oldStatus).not.toContain('source:');
    expect(oldStatus.trim().split('\n')).toHaveLength(1);
  });
});

describe('restore across topologies', () => {
  const BACKUP = '20261122T120000Z-bbbbbb';
  const table = tableSchema('t', [['id', 'int', 'partition_key'], ['v', 'text', 'regular']]);
  const rows = [{ k: [1], c: { v: { v: 'one', t: 1700000000000001 } } }, { k: [2], c: { v: { v: 'two', t: 1700000000000002 } } }];

  async function setup(replication: Record<string, string>, target: Record<string, number>): Promise<{ store: MemoryStore; session: FakeWriteSession; cluster: RestoreCluster }> {
    const store = new MemoryStore();
    await writeSyntheticBackup(store, BACKUP, { ...keyspaceSchema('ks', [table]), replication }, [{ name: 't', ranges: [[rows]] }]);
    const session = new FakeWriteSession();
    const nodes = Object.entries(target).flatMap(([datacenter, n]) => Array.from({ length: n }, (_, i) => ({ address: `10.0.${datacenter.length}.${i}`, datacenter, rack: 'r', tokens: 16, releaseVersion: '5.0.8' })));
    return { store, session, cluster: { session, consistency: 6, name: 'target', hosts: ['10.0.0.1'], topology: { nodes } } };
  }

  const request = (extra: Partial<RestoreRequest> = {}): RestoreRequest => ({
    backupId: BACKUP, schemaMode: 'create', guard: { kind: 'none' }, maxInFlight: 4, maxErrors: 0, batchBytes: 4096, parallel: 1, verify: false, ...extra,
  });
  const deps = (store: BlobStore, cluster: RestoreCluster) => ({
    store, cluster, progress: silentProgress, signal: new AbortController().signal, now: Date.now, toolVersion: 'test', resumeHint: (id: string) => id,
  });
  const created = (session: FakeWriteSession): string[] => session.sent.flat().filter((cql) => cql.startsWith('CREATE'));
  async function restoreDocuments(store: BlobStore): Promise<string[]> {
    const keys: string[] = [];
    for await (const entry of store.list(`backups/${BACKUP}/restores/`)) keys.push(entry.key);
    return keys;
  }
  async function refusal(promise: Promise<unknown>): Promise<CassetteError> {
    const err = await promise.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CassetteError);
    return err as CassetteError;
  }

  it('creates the keyspace with the datacenters --dc-map renames, the larger factor winning, and reports it', async () => {
    const { store, session, cluster } = await setup({ class: NTS, dc1: '3', dc2: '1' }, { datacenter1: 3 });
    const report = await runRestore(request({ dcMap: new Map([['dc1', 'datacenter1'], ['dc2', 'datacenter1']]) }), deps(store, cluster));
    expect(created(session)[0]).toBe(`CREATE KEYSPACE ks WITH replication = {'class': '${NTS}', 'datacenter1': '3'} AND durable_writes = true`);
    expect(report.replication).toEqual({ created: true, map: { class: NTS, datacenter1: '3' } });
    expect(report.written).toBe(2);
  });

  it('takes --replication in the target\'s terms with a --dc-map of the backup\'s datacenters (nothing to rename)', async () => {
    const { store, session, cluster } = await setup({ class: NTS, dc1: '3', dc2: '1' }, { datacenter1: 1 });
    const report = await runRestore(request({ replication: { class: 'NetworkTopologyStrategy', datacenter1: '1' }, dcMap: new Map([['dc1', 'datacenter1'], ['dc2', 'datacenter1']]) }), deps(store, cluster));
    expect(created(session)[0]).toMatch(/^CREATE KEYSPACE ks WITH replication = \{'class': 'NetworkTopologyStrategy', 'datacenter1': '1'\}/);
    expect(report.replication).toEqual({ created: true, map: { class: 'NetworkTopologyStrategy', datacenter1: '1' } });
  });

  it('renames the datacenters of --replication when both are given', async () => {
    const { store, session, cluster } = await setup({ class: NTS, dc1: '3', dc2: '1' }, { datacenter1: 1 });
    const report = await runRestore(request({ replication: { class: 'NetworkTopologyStrategy', east: '1', west: '1' }, dcMap: new Map([['east', 'datacenter1'], ['west', 'datacenter1']]) }), deps(store, cluster));
    expect(created(session)[0]).toMatch(/^CREATE KEYSPACE ks WITH replication = \{'class': 'NetworkTopologyStrategy', 'datacenter1': '1'\}/);
    expect(report.replication.map).toEqual({ class: 'NetworkTopologyStrategy', datacenter1: '1' });
  });

  it.each([
    ['a factor above the nodes of a target datacenter', { dcMap: new Map([['dc1', 'datacenter1'], ['dc2', 'datacenter1']]) },
      /^the keyspace cannot be created with the backup's replication renamed by --dc-map \{"class":"NetworkTopologyStrategy","datacenter1":"3"\}: replication factor 3 in datacenter "datacenter1" is more than its 1 node/],
    ['a datacenter the target does not have', {},
      /^the keyspace cannot be created with the backup's replication .*: datacenter "dc1" is not in the target cluster; datacenter "dc2" is not in the target cluster; the target has datacenter1 \(1 node\)$/],
    ['a --replication override naming a missing datacenter', { replication: { class: 'NetworkTopologyStrategy', dc9: '1' } }, /with the --replication override .*datacenter "dc9" is not in the target cluster/],
    ['a source datacenter the replication does not name', { dcMap: new Map([['dc3', 'datacenter1']]) }, /^--dc-map names datacenter "dc3", which the backup's replication .* does not name$/],
    ['a source datacenter neither the override nor the backup names', { replication: { class: 'NetworkTopologyStrategy', datacenter1: '1' }, dcMap: new Map([['dc1', 'datacenter1'], ['dc9', 'datacenter1']]) },
      /^--dc-map names datacenter "dc9", which neither the --replication override \{"class":"NetworkTopologyStrategy","datacenter1":"1"\} nor the backup's replication \{"class":"NetworkTopologyStrategy","dc1":"3","dc2":"1"\} names$/],
    ['--dc-map with a SimpleStrategy override', { replication: { class: 'SimpleStrategy', replication_factor: '1' }, dcMap: new Map([['dc1', 'datacenter1']]) },
      /^--dc-map renames the datacenters of a NetworkTopologyStrategy replication, but the --replication override is \{"class":"SimpleStrategy","replication_factor":"1"\}$/],
  ])('refuses %s (exit 3) before writing anything', async (_what, extra, message) => {
    const { store, session, cluster } = await setup({ class: NTS, dc1: '3', dc2: '1' }, { datacenter1: 1 });
    const err = await refusal(runRestore(request(extra), deps(store, cluster)));
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.exitCode).toBe(3);
    expect(err.message).toMatch(message);
    expect(created(session)).toEqual([]);
    expect(await restoreDocuments(store)).toEqual([]);
  });

  it('refuses --dc-map for a backup whose replication is SimpleStrategy', async () => {
    const { store, cluster } = await setup({ class: 'org.apache.cassandra.locator.SimpleStrategy', replication_factor: '1' }, { datacenter1: 1 });
    const err = await refusal(runRestore(request({ dcMap: new Map([['dc1', 'datacenter1']]) }), deps(store, cluster)));
    expect(err.message).toBe(`--dc-map renames the datacenters of a NetworkTopologyStrategy replication, but the backup's replication is {"class":"SimpleStrategy","replication_factor":"1"}`);
    expect(await restoreDocuments(store)).toEqual([]);
  });

  it('restores a SimpleStrategy backup into a one-node cluster unchanged', async () => {
    const { store, session, cluster } = await setup({ class: 'org.apache.cassandra.locator.SimpleStrategy', replication_factor: '1' }, { datacenter1: 1 });
    const report = await runRestore(request(), deps(store, cluster));
    expect(created(session)[0]).toMatch(/'class': 'org.apache.cassandra.locator.SimpleStrategy', 'replication_factor': '1'/);
    expect(report.replication.created).toBe(true);
  });
});
