/**
 * The golden fixture of a backup that records its source topology (test/fixtures/format-v1-topology,
 * made by its make-fixture.mjs from the real 4-node, two-datacenter test cluster through the built
 * CLI; docs/format.md §2, the optional `cluster.topology` of format version 1) must stay readable
 * by every later build: its documents validate and carry the topology, its chunks match their
 * checksums and decode, and `list`/`status` show the topology. The fixture without topology
 * (test/fixtures/format-v1) still reads, and shows none.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { describeSource } from '../../src/commands/list.js';
import { formatStatus, runStatus } from '../../src/commands/status/status.js';
import { chunkKey } from '../../src/manifest/keys.js';
import { listBackups, readHeader, readManifest } from '../../src/manifest/repository.js';
import { readChunkRows, verifyChunk } from '../../src/pipeline/chunks/read-chunk.js';
import { FsStore } from '../../src/storage/fs-store.js';

const store = new FsStore(fileURLToPath(new URL('../fixtures/format-v1-topology/repo', import.meta.url)));
const oldStore = new FsStore(fileURLToPath(new URL('../fixtures/format-v1/repo', import.meta.url)));

async function onlyBackup(of: FsStore): Promise<string> {
  const [summary, ...others] = await listBackups(of);
  expect(others).toEqual([]);
  return summary?.backupId as string;
}

const NODES = [
  { address: '127.0.0.2', datacenter: 'dc1', rack: 'rack1', tokens: 16, releaseVersion: '5.0.8' },
  { address: '127.0.0.3', datacenter: 'dc1', rack: 'rack1', tokens: 16, releaseVersion: '5.0.8' },
  { address: '127.0.0.4', datacenter: 'dc1', rack: 'rack1', tokens: 16, releaseVersion: '5.0.8' },
  { address: '127.0.0.5', datacenter: 'dc2', rack: 'rack1', tokens: 16, releaseVersion: '5.0.8' },
];

describe('format version 1 golden fixture with the source topology', () => {
  it('is a complete backup whose backup.json and manifest.json carry the topology', async () => {
    const backupId = await onlyBackup(store);
    const header = await readHeader(store, backupId);
    const manifest = await readManifest(store, backupId);
    const cluster = { name: 'cassette-cluster', partitioner: 'org.apache.cassandra.dht.Murmur3Partitioner', releaseVersion: '5.0.8', topology: { nodes: NODES } };
    expect(header?.formatVersion).toBe(1);
    expect(header?.cluster).toEqual(cluster);
    expect(manifest?.cluster).toEqual(cluster);
    expect(manifest?.keyspace.replication).toEqual({ class: 'org.apache.cassandra.locator.NetworkTopologyStrategy', dc1: '3', dc2: '1' });
    expect(manifest?.totals).toMatchObject({ tables: 1, rows: 2, ranges: 65 });
  });

  it('has chunks that match their checksums and hold the two rows', async () => {
    const backupId = await onlyBackup(store);
    const manifest = await readManifest(store, backupId);
    const rows: unknown[] = [];
    for (const range of manifest?.tables[0]?.ranges ?? []) {
      for (const chunk of range.chunks) {
        await verifyChunk(store, chunkKey(backupId, chunk.key), chunk, chunk.key);
        for await (const batch of readChunkRows(store, chunkKey(backupId, chunk.key), chunk, chunk.key)) rows.push(...batch);
      }
    }
    expect(rows).toEqual(expect.arrayContaining([
      { k: [1], c: { v: { v: 'one', t: 1700000000000001 } } },
      { k: [2], c: { v: { v: 'two', t: 1700000000000002, e: expect.any(Number) as number } } },
    ]));
    expect(rows).toHaveLength(2);
  });

  it('is shown by list and status', async () => {
    const backupId = await onlyBackup(store);
    const [summary] = await listBackups(store);
    expect(summary?.cluster?.topology?.nodes).toEqual(NODES);
    expect(describeSource(summary?.cluster)).toBe('cluster cassette-cluster, Cassandra 5.0.8, Murmur3Partitioner, 4 nodes: dc1 ×3, dc2 ×1, 16 tokens each');
    expect(formatStatus(await runStatus(backupId, { store }))).toContain('\n  source: cluster cassette-cluster, Cassandra 5.0.8, Murmur3Partitioner, 4 nodes: dc1 ×3, dc2 ×1, 16 tokens each\n');
  });

  it('leaves backups without a topology readable, showing none', async () => {
    const backupId = await onlyBackup(oldStore);
    const manifest = await readManifest(oldStore, backupId);
    expect(manifest?.cluster).toEqual({ name: 'cassette-test', partitioner: 'org.apache.cassandra.dht.Murmur3Partitioner', releaseVersion: '5.0.8' });
    expect(formatStatus(await runStatus(backupId, { store: oldStore }))).not.toContain('source:');
  });
});
