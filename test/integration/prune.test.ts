/**
 * `cassette prune` and writer leases against the real Cassandra and MinIO / a file repository.
 * Backups of other days are copies of one real backup under ids and `createdAt` of those days
 * (test/support/copy-backup.ts): byte-identical chunks, rewritten backup.json and manifest.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { setTimeout as sleep } from 'node:timers/promises';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runBackup, type BackupDeps } from '../../src/commands/backup.js';
import { silentProgress } from '../../src/commands/progress.js';
import { runPrune } from '../../src/commands/prune/prune.js';
import { runRestore } from '../../src/commands/restore.js';
import type { ClusterHandle } from '../../src/cli/compose.js';
import { backupFolder, chunkKey, deletingKey, leaseKey, leasesFolder, manifestKey } from '../../src/manifest/keys.js';
import { listBackups, readCompleteManifest } from '../../src/manifest/repository.js';
import { LeaseHolder } from '../../src/pipeline/lease-holder.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { cliEnv, clusterFor, runCli, s3StoreFor, startCli } from '../support/cassette.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { copyBackupAs } from '../support/copy-backup.js';
import { backupDigest } from '../support/read-backup.js';

const ITEMS = 3_000;
const BIG = 30_000;

async function snapshot(store: BlobStore, prefix = ''): Promise<Map<string, number>> {
  const all = new Map<string, number>();
  for await (const e of store.list(prefix)) all.set(e.key, e.size);
  return all;
}

const bytesUnder = (snap: ReadonlyMap<string, number>, prefix: string): number => [...snap].filter(([k]) => k.startsWith(prefix)).reduce((n, [, s]) => n + s, 0);

describe('cassette prune', () => {
  const services = inject('services');
  const keyspace = uniqueName('prune_ks');
  const restored = `${keyspace}_r`;
  const work = mkdtempSync(join(tmpdir(), 'cassette-prune-'));
  const connection = ['--hosts', services.cassandra.host, '--port', String(services.cassandra.port), '--dc', services.cassandra.dc];
  let client: cassandra.Client;
  let cluster: ClusterHandle;

  const backupDeps = (store: BlobStore, leases?: LeaseHolder): BackupDeps => ({
    store, cluster, progress: silentProgress, signal: new AbortController().signal, now: Date.now, toolVersion: 'test',
    resumeHint: (id) => `--resume ${id}`, ...(leases === undefined ? {} : { leases }),
  });
  const holder = (store: BlobStore, command: string, host = 'test-host'): LeaseHolder => new LeaseHolder(store, { command, host, pid: 4242, now: Date.now });

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    await client.execute(`CREATE TABLE ${keyspace}.items (id int PRIMARY KEY, v text, n int)`);
    await client.execute(`CREATE TABLE ${keyspace}.big (id int, c int, payload text, PRIMARY KEY (id, c))`);
    await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${keyspace}.items (id, v, n) VALUES (?, ?, ?)`,
      Array.from({ length: ITEMS }, (_, i) => [i, `item ${i}`, i * 7]), { concurrencyLevel: 64 });
    await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${keyspace}.big (id, c, payload) VALUES (?, ?, ?)`,
      Array.from({ length: BIG }, (_, i) => [i % 1000, i, `payload ${i} `.padEnd(120, 'x')]), { concurrencyLevel: 64 });
    cluster = await clusterFor(services.cassandra);
  });

  afterAll(async () => {
    await cluster?.close();
    await client?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await client?.execute(`DROP KEYSPACE IF EXISTS ${restored}`);
    await client?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  describe.each([
    ['a file repository', () => new FsStore(mkdtempSync(join(work, 'fs-')))],
    ['MinIO', () => s3StoreFor(services.s3, uniqueName('it-prune'))],
  ] as const)('in %s', (name, makeStore) => {
    it('removes exactly what the policy drops and the garbage of abandoned attempts, honours live leases only, finishes an interrupted prune', async () => {
      const store = makeStore();
      const backupLeases = holder(store, 'backup');
      const real = await runBackup({ keyspace, tables: ['items'], splits: 4, parallel: 2, fetchSize: 500, gzipLevel: 1, maxChunkBytes: 64 * 1024, consistency: 'LOCAL_QUORUM' },
        backupDeps(store, backupLeases));
      expect((await snapshot(store, leasesFolder())).size).toBe(1); // the backup's lease, held while it ran
      await backupLeases.release();
      expect((await snapshot(store, leasesFolder())).size).toBe(0);

      const copy = (at: string, suffix: string, complete = true): Promise<string> => copyBackupAs(store, real.backupId, at, suffix, { complete });
      // Days before today's real backup (UTC midnights, so two backups share a day whatever the time now).
      const day = (daysAgo: number, hour: number): string => new Date((Math.floor(Date.now() / 86_400_000) - daysAgo) * 86_400_000 + hour * 3_600_000).toISOString();
      const old = await copy(day(70, 10), 'a00001');
      const interrupted = await copy(day(30, 10), 'a00002');
      const leased = await copy(day(11, 10), 'a00003');
      const staleLeased = await copy(day(10, 10), 'a00004');
      const newestOfDay = await copy(day(10, 12), 'a00005');
      const incomplete = await copy(day(5, 10), 'a00006', false);

      // An abandoned attempt in the real backup: a chunk of range 0 under an attempt id no marker names.
      const manifest = await readCompleteManifest(store, real.backupId);
      const firstChunk = manifest.tables[0]?.ranges.flatMap((r) => r.chunks)[0];
      expect(firstChunk).toBeDefined();
      const abandoned = chunkKey(real.backupId, 'data/items/00000-deadbeef-00000.ndjson.gz');
      await store.put(abandoned, await store.get(chunkKey(real.backupId, firstChunk?.key as string)));
      // A restore reading `leased` right now; a holder that died an hour ago on `staleLeased`.
      const reader = holder(store, 'restore');
      await reader.hold({ kind: 'backup', id: leased }, 'read');
      const dead = new LeaseHolder(store, { command: 'restore', host: 'gone', pid: 1, now: () => Date.now() - 3_600_000 });
      await dead.hold({ kind: 'backup', id: staleLeased }, 'read');
      // A prune that stopped after the tombstone and the manifest.
      await store.put(deletingKey(interrupted), '{"formatVersion":1,"kind":"cassette-deleting"}');
      await store.delete(manifestKey(interrupted));
      expect((await listBackups(store)).find((b) => b.backupId === interrupted)?.status).toBe('deleting');

      const policy = { keepDaily: 2 };
      const before = await snapshot(store);
      const expectedBytes = bytesUnder(before, backupFolder(old)) + bytesUnder(before, backupFolder(staleLeased)) + bytesUnder(before, backupFolder(interrupted)) - (before.get(deletingKey(interrupted)) ?? 0) +
        (before.get(abandoned) ?? 0);

      const dry = await runPrune({ policy, dryRun: true, parallel: 8 }, { store, progress: silentProgress, signal: new AbortController().signal, now: Date.now });
      expect(await snapshot(store)).toEqual(before);
      expect(dry.removed.map((b) => b.backupId)).toEqual([old, interrupted, staleLeased]);
      expect(dry.bytesFreed).toBe(expectedBytes);

      const pruner = holder(store, 'prune');
      const report = await runPrune({ policy, dryRun: false, parallel: 8 }, { store, leases: pruner, progress: silentProgress, signal: new AbortController().signal, now: Date.now });
      await pruner.release();
      expect(report.removed.map((b) => [b.backupId, b.state])).toEqual([[old, 'complete'], [interrupted, 'deleting'], [staleLeased, 'complete']]);
      expect(report.garbage).toEqual([{ backupId: real.backupId, objects: 1, bytes: before.get(abandoned) }]);
      expect(report.bytesFreed).toBe(expectedBytes);
      expect(report.staleLeases).toBe(1);
      const reasons = new Map(report.kept.map((b) => [b.backupId, b.reasons.join('; ')]));
      expect(reasons.get(real.backupId)).toBe('keep-daily');
      expect(reasons.get(newestOfDay)).toBe('keep-daily');
      expect(reasons.get(leased)).toMatch(/^in use: host test-host pid 4242 \(`cassette restore`, read/);
      expect(reasons.get(incomplete)).toMatch(/^incomplete, resumable/);

      const after = await snapshot(store);
      for (const key of before.keys()) {
        const gone = key.startsWith(backupFolder(old)) || key.startsWith(backupFolder(interrupted)) || key.startsWith(backupFolder(staleLeased)) || key === abandoned || key === leaseKey('backup', staleLeased, dead.holder);
        expect(after.has(key), key).toBe(!gone);
      }
      expect([...after.keys()].filter((k) => !before.has(k))).toEqual([]);
      expect((await listBackups(store)).map((b) => b.backupId)).toEqual([leased, newestOfDay, incomplete, real.backupId].sort());
      await reader.release();
      // Every chunk of the kept real backup is there and whole (checksums), with every row.
      expect((await backupDigest(store, real.backupId)).rows).toBe(ITEMS);
      if (name === 'a file repository') {
        const restore = await runRestore({ backupId: real.backupId, targetKeyspace: restored, schemaMode: 'create', guard: { kind: 'none' }, maxInFlight: 64, maxErrors: 0, batchBytes: 4096, parallel: 2, verify: false },
          { store, cluster, progress: silentProgress, signal: new AbortController().signal, now: Date.now, toolVersion: 'test', resumeHint: (id) => id });
        expect(restore.written).toBe(ITEMS);
        expect(Number((await client.execute(`SELECT count(*) FROM ${restored}.items`)).rows[0]?.get(0))).toBe(ITEMS);
      }
    });
  });

  it('CLI: a resume while the first run is live exits 14 naming the holder; prune needs a keep flag (2); --dry-run --json', async () => {
    const repo = mkdtempSync(join(work, 'cli-'));
    const store = new FsStore(repo);
    const first = runCli(['backup', '--repo', repo, '--keyspace', keyspace, '--tables', 'items', '--splits', '2', ...connection, '--json'], cliEnv());
    expect(first.status, first.stderr).toBe(0);
    const id = (JSON.parse(first.stdout) as { backupId: string }).backupId;
    expect((await snapshot(store, leasesFolder())).size).toBe(0); // released when the run ended
    const unfinished = await copyBackupAs(store, id, new Date(Date.now() - 3 * 86_400_000).toISOString(), 'b00001', { complete: false });
    const live = holder(store, 'backup', 'other-host');
    await live.hold({ kind: 'backup', id: unfinished }, 'write');
    const refused = runCli(['backup', '--repo', repo, '--resume', unfinished, ...connection], cliEnv());
    expect(refused.status, refused.stderr).toBe(14);
    expect(refused.stderr).toContain(`backup ${unfinished} is in use by another cassette process: host other-host pid 4242 (\`cassette backup\`, write`);
    expect(refused.stderr).toContain('not renewed for 10 minutes is stale');
    await live.release();
    // A restore of a backup a prune on another host is deleting: refused before anything is written.
    const deleting = holder(store, 'prune', 'other-host');
    await deleting.hold({ kind: 'backup', id }, 'delete');
    const restore = runCli(['restore', id, '--repo', repo, '--target-keyspace', `${keyspace}_never`, ...connection], cliEnv());
    expect(restore.status, restore.stderr).toBe(14);
    expect(restore.stderr).toContain(`backup ${id} is in use by another cassette process: host other-host pid 4242 (\`cassette prune\`, delete`);
    expect([...(await snapshot(store, backupFolder(id))).keys()].some((k) => k.includes('/restores/'))).toBe(false);
    await deleting.release();

    const bare = runCli(['prune', '--repo', repo], cliEnv());
    expect(bare.status).toBe(2);
    expect(bare.stderr).toContain('prune needs at least one of --keep-last');
    const dry = runCli(['prune', '--repo', repo, '--keep-last', '1', '--forget-incomplete-older-than', '1d', '--dry-run', '--json'], cliEnv());
    expect(dry.status, dry.stderr).toBe(0);
    const report = JSON.parse(dry.stdout) as { dryRun: boolean; removed: { backupId: string }[]; kept: { backupId: string }[] };
    expect(report.dryRun).toBe(true);
    expect(report.removed.map((b) => b.backupId)).toEqual([unfinished]);
    expect(report.kept.map((b) => b.backupId)).toEqual([id]);
    const text = runCli(['prune', '--repo', repo, '--keep-last', '1', '--forget-incomplete-older-than', '1d'], cliEnv());
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^prune of .*: removed 1 backup, 0 unreferenced chunks, 0 stale leases; .* freed`));
    expect(text.stdout).toContain(`removed ${unfinished}`);
    expect((await snapshot(store, leasesFolder())).size).toBe(0);
  });

  it('a prune while a real backup is being written leaves it and its unreferenced in-flight chunks alone; the backup completes whole', async () => {
    const repo = mkdtempSync(join(work, 'live-'));
    const store = new FsStore(repo);
    const child = startCli(['backup', '--repo', repo, '--keyspace', keyspace, '--tables', 'big', '--splits', '8', '--parallel', '1', '--fetch-size', '100',
      '--max-chunk-bytes', '64KiB', ...connection, '--json'], cliEnv());
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    // Wait for the run itself: its lease and a chunk of a range still being read (no marker names
    // it yet, so without the lease it would look like garbage). Frozen first, then looked at, so the
    // chunk cannot be finished between the look and the freeze; thawed and tried again otherwise.
    let objects = new Map<string, number>();
    let inFlight: string[] = [];
    const deadline = Date.now() + 60_000;
    for (;;) {
      child.kill('SIGSTOP');
      objects = await snapshot(store);
      const named = new Set<string>();
      for (const key of [...objects.keys()].filter((k) => k.includes('/ranges/'))) {
        const marker = JSON.parse(await text(await store.get(key))) as { chunks: { key: string }[] };
        for (const c of marker.chunks) named.add(c.key);
      }
      inFlight = [...objects.keys()].filter((k) => k.includes('/data/') && !named.has(k.slice(k.indexOf('/data/') + 1)));
      if ([...objects.keys()].some((k) => k.startsWith(leasesFolder())) && inFlight.length > 0) break;
      child.kill('SIGCONT');
      if (Date.now() > deadline || [...objects.keys()].some((k) => k.endsWith('/manifest.json'))) {
        throw new Error('the backup never had a chunk in flight while it was looked at (it finished, or never started)');
      }
      await sleep(25);
    }
    try {
      expect([...objects.keys()].some((k) => k.endsWith('/manifest.json'))).toBe(false);
      const pruner = holder(store, 'prune');
      const report = await runPrune({ policy: { keepLast: 1 }, forgetIncompleteOlderThanMs: 1, dryRun: false, parallel: 8 },
        { store, leases: pruner, progress: silentProgress, signal: new AbortController().signal, now: Date.now });
      await pruner.release();
      expect(report.removed).toEqual([]);
      expect(report.garbage).toEqual([]);
      expect(report.kept[0]?.reasons.join('; ')).toMatch(/^in use: host .* \(`cassette backup`, write/);
      const after = await snapshot(store);
      for (const key of objects.keys()) expect(after.has(key), key).toBe(true);
    } finally {
      child.kill('SIGCONT');
    }
    expect(await exited).toBe(0);
    const id = (JSON.parse(stdout) as { backupId: string }).backupId;
    expect((await backupDigest(store, id)).rows).toBe(BIG);
    expect((await snapshot(store, leasesFolder())).size).toBe(0); // the backup released its lease when it ended
  });
});
