/**
 * `cassette backup` against the real Cassandra, into a local directory and into MinIO: every row
 * exactly once with exact values, writetimes and expiries; ranges that start and end exactly at
 * real keys' tokens; `cassette list`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type cassandra from 'cassandra-driver';
import { runBackup, type BackupRequest } from '../../src/commands/backup.js';
import { runList } from '../../src/commands/list.js';
import { silentProgress } from '../../src/commands/progress.js';
import type { ClusterHandle } from '../../src/cli/compose.js';
import { FsStore } from '../../src/storage/fs-store.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { createDataset, type Dataset, type ExpectedRow } from '../support/backup-dataset.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { clusterFor, s3StoreFor } from '../support/cassette.js';
import { readBackup, rangeHolds, type BackupRow } from '../support/read-backup.js';

const request = (keyspace: string, extra: Partial<BackupRequest> = {}): BackupRequest => ({
  keyspace, parallel: 4, fetchSize: 2000, gzipLevel: 1, maxChunkBytes: 128 * 1024, consistency: 'LOCAL_QUORUM', splits: 24, ...extra,
});

function deps(store: BlobStore, cluster: ClusterHandle) {
  return { store, cluster, progress: silentProgress, signal: new AbortController().signal, now: Date.now, toolVersion: 'test', resumeHint: (id: string) => `--resume ${id}` };
}

/** Asserts a backed-up row matches the dataset's expectation cell by cell. */
function expectRow(table: string, actual: BackupRow, expected: ExpectedRow): void {
  expect(Object.keys(actual.c).sort(), `${table} ${JSON.stringify(actual.k)}`).toEqual(Object.keys(expected.c).sort());
  for (const [name, want] of Object.entries(expected.c)) {
    const got = actual.c[name] as BackupRow['c'][string];
    expect(got.v).toEqual(want.v);
    if (want.t === -1) expect(Number(got.t)).toBeGreaterThan(0); // counters: the server's clock
    else expect(got.t).toBe(want.t);
    if (want.e === undefined) expect(got.e).toBeUndefined();
    else {
      expect(got.e).toBeGreaterThanOrEqual(want.e[0]);
      expect(got.e).toBeLessThanOrEqual(want.e[1]);
    }
  }
}

describe('cassette backup', () => {
  const services = inject('services');
  const keyspace = uniqueName('it_backup');
  let client: cassandra.Client;
  let cluster: ClusterHandle;
  let dataset: Dataset;
  const dir = mkdtempSync(join(tmpdir(), 'cassette-backup-'));

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    dataset = await createDataset(client, keyspace);
    cluster = await clusterFor(services.cassandra);
  });

  afterAll(async () => {
    await cluster?.close();
    await client?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await client?.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  const repositories: [string, () => BlobStore][] = [
    ['a local directory', () => new FsStore(join(dir, 'repo'))],
    ['MinIO', () => s3StoreFor(services.s3, uniqueName('it-backup'))],
  ];

  it.each(repositories)('backs up every row exactly once, values, writetimes and expiries exact (%s)', async (_name, makeStore) => {
    const store = makeStore();
    const report = await runBackup(request(keyspace), deps(store, cluster));
    expect(report.rows).toBe(dataset.totalRows);
    expect(report.rows).toBeGreaterThanOrEqual(100_000);
    expect(report.tables.map((t) => t.name).sort()).toEqual([...dataset.tables].sort());

    const { manifest, rows } = await readBackup(store, report.backupId);
    expect(manifest.totals.rows).toBe(dataset.totalRows);
    const events = manifest.tables.find((t) => t.name === 'events');
    expect(events?.ranges.filter((r) => r.chunks.length >= 2).length).toBeGreaterThan(10); // 128 KiB chunks roll
    for (const table of dataset.tables) {
      const expected = dataset.expected.get(table) as ReadonlyMap<string, ExpectedRow>;
      const seen = new Set<string>();
      for (const { row } of rows.get(table) ?? []) {
        const key = JSON.stringify(row.k);
        expect(seen.has(key), `${table} row ${key} twice`).toBe(false);
        seen.add(key);
        const want = expected.get(key);
        expect(want, `${table} row ${key} unexpected`).toBeDefined();
        expectRow(table, row, want as ExpectedRow);
      }
      expect(seen.size, table).toBe(expected.size);
    }
    const wide = (rows.get('events') ?? []).filter(({ row }) => row.k[0] === 0);
    expect(wide).toHaveLength(12_000);

    const listed = await runList({ store });
    expect(listed.backups).toEqual([expect.objectContaining({ backupId: report.backupId, status: 'complete', rows: dataset.totalRows, keyspace })]);
  });

  it('captures keys whose tokens are exactly range starts and ends once each', async () => {
    const tokens = (await client.execute(`SELECT token(pk) AS t, pk FROM ${keyspace}.events PER PARTITION LIMIT 1`)).rows
      .map((r) => ({ token: BigInt(String(r.get('t'))), pk: r.get('pk') as number }));
    const edges = tokens.filter((_, i) => i % 97 === 0).slice(0, 60);
    expect(edges.length).toBeGreaterThanOrEqual(50);
    const store = new FsStore(join(dir, 'edges'));
    const report = await runBackup(request(keyspace, { tables: ['events'], extraBoundaries: edges.map((e) => e.token) }), deps(store, cluster));
    const { manifest, rows } = await readBackup(store, report.backupId);
    const ends = new Set(manifest.tables[0]?.ranges.map((r) => r.end));
    const starts = new Set(manifest.tables[0]?.ranges.map((r) => r.start));
    const byPk = new Map<number, number[]>();
    for (const { row, range } of rows.get('events') ?? []) {
      if (row.k[1] !== 0) continue;
      const list = byPk.get(row.k[0] as number) ?? [];
      list.push(range);
      byPk.set(row.k[0] as number, list);
    }
    for (const edge of edges) {
      expect(ends.has(String(edge.token)) && starts.has(String(edge.token))).toBe(true); // a range ends, the next starts, exactly there
      const ranges = byPk.get(edge.pk) ?? [];
      expect(ranges, `partition ${edge.pk}`).toHaveLength(1);
      expect(rangeHolds(manifest, 'events', ranges[0] as number, edge.token)).toBe(true);
      const holder = manifest.tables[0]?.ranges.find((r) => r.index === ranges[0]);
      expect(holder?.end).toBe(String(edge.token));
    }
    expect(report.rows).toBe(dataset.expected.get('events')?.size);
  });
});
