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
import { captureKeyspace } from '../../src/cassandra/schema/capture.js';
import { tableReaderFor } from '../../src/cassandra/reads/table-reader.js';
import { MAX_TOKEN, MIN_TOKEN } from '../../src/cassandra/ring/token-ranges.js';
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

  /**
   * all_types: the codec's exactness for every type is proven against Cassandra in
   * value-codec.test.ts; here the backed-up rows must equal the same table read live and encoded
   * by the same reader (so paging, chunking, gzip and storage lose nothing), and pin a few values.
   */
  async function expectAllTypesAsLive(backedUp: readonly { row: BackupRow }[]): Promise<void> {
    const schema = await captureKeyspace(cluster.session, keyspace);
    const reader = tableReaderFor(schema, 'all_types');
    const live = await cluster.session.execute(reader.cql, [MIN_TOKEN, MAX_TOKEN], { fetchSize: 1000 });
    const readAt = Math.floor(Date.now() / 1000);
    const expected = new Map(live.rows.map((r) => {
      const row = JSON.parse(reader.encodeRow(r, readAt)) as BackupRow;
      return [JSON.stringify(row.k), row];
    }));
    expect(backedUp).toHaveLength(dataset.allTypesRows);
    expect(expected.size).toBe(dataset.allTypesRows);
    for (const { row } of backedUp) {
      const want = expected.get(JSON.stringify(row.k)) as BackupRow;
      for (const [name, cell] of Object.entries(want.c)) {
        expect(row.c[name]?.v, name).toEqual(cell.v);
        expect(row.c[name]?.t, name).toEqual(cell.t);
        if (cell.e === undefined) expect(row.c[name]?.e).toBeUndefined();
      }
      expect(Object.keys(row.c).sort()).toEqual(Object.keys(want.c).sort());
    }
    const byKey = new Map(backedUp.map(({ row }) => [JSON.stringify(row.k), row]));
    const r1 = byKey.get('[1,1]') as BackupRow;
    expect(r1.c.bi).toEqual({ v: '9223372036854775807', t: 1700000000000000 });
    expect(r1.c.db?.v).toBe('NaN');
    expect(r1.c.fl?.v).toBe('-0');
    expect(r1.c.de?.v).toBe('150E-2');
    expect(r1.c.tx?.v).toBe('héllo ✓ 🎉\n"x"');
    expect(r1.c.vc?.v).toBe('');
    expect(r1.c.md?.v).toEqual([['-0', 1], [0, 2]]);
    expect(r1.c.m?.v).toEqual([[1, 'one'], [2, 'two'], [3, 'three']]);
    expect(r1.c.m?.t).toEqual([1700000000000000, 1700000000000000, 1700000000000005]);
    expect((r1.c.m?.e as (number | null)[])[0]).toBeNull();
    expect(r1.c.fll?.v).toEqual([[1, 2], [], [3]]);
    expect(r1.c.tup?.v).toEqual([1, null, [7]]);
    const r2 = byKey.get('[1,2]') as BackupRow;
    expect(r2.c.bi?.v).toBe('-9223372036854775808');
    expect(r2.c.bl?.v).toBe('');
    expect(r2.c.ts?.v).toBe(-2147483647999);
    expect(r2.c.bi?.e).toBeGreaterThan(readAt + 3500);
    expect(byKey.get('[2,null]')?.c).toEqual({ st: { v: 'static only', t: 1700000000000007 } });
    expect(byKey.get('[3,1]')?.c).toEqual({}); // exists only through its primary key
  }

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
    await expectAllTypesAsLive(rows.get('all_types') ?? []);
    for (const table of dataset.tables.filter((t) => t !== 'all_types')) {
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
