/**
 * `cassette restore` against the real clusters: a backup restored into a new keyspace on the same
 * cluster, and into the second cluster with a replication override, equals the source cell by cell
 * (values and WRITETIMEs exact, expiries within 1 s); a tampered chunk is refused before any of its
 * rows is written; a missing or incomplete backup is refused.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type cassandra from 'cassandra-driver';
import { runBackup } from '../../src/commands/backup.js';
import { runRestore, type RestoreRequest } from '../../src/commands/restore.js';
import { silentProgress } from '../../src/commands/progress.js';
import type { ClusterHandle } from '../../src/cli/compose.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { CassetteError } from '../../src/errors.js';
import { createDataset, type Dataset } from '../support/backup-dataset.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { clusterFor } from '../support/cassette.js';
import { expectSame, snapshot } from '../support/table-snapshot.js';

describe('cassette restore', () => {
  const services = inject('services');
  const source = uniqueName('it_restore_src');
  const targets: string[] = [];
  const work = mkdtempSync(join(tmpdir(), 'cassette-restore-'));
  const store = new FsStore(join(work, 'repo'));
  let client: cassandra.Client;
  let cluster: ClusterHandle;
  let second: ClusterHandle;
  let dataset: Dataset;
  let backupId: string;

  const deps = (target: ClusterHandle) => ({
    store, cluster: target, progress: silentProgress, signal: new AbortController().signal, now: Date.now, toolVersion: 'test',
    resumeHint: (id: string) => `--resume ${id}`,
  });
  const request = (extra: Partial<RestoreRequest>): RestoreRequest => ({
    backupId, schemaMode: 'create', guard: { kind: 'none' }, maxInFlight: 64, maxErrors: 0, batchBytes: 4096, parallel: 2, verify: true, ...extra,
  });

  /** TTL of the cell that expires between backup and restore. */
  const BRIEF_TTL_S = 15;

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    dataset = await createDataset(client, source, { wideRows: 2_000, smallPartitions: 500 });
    // A table with a default TTL, a cell without TTL, and a cell about to expire.
    await client.execute(`CREATE TABLE ${source}.defaults (id int PRIMARY KEY, keep text, brief text) WITH default_time_to_live = 86400`);
    await client.execute(`INSERT INTO ${source}.defaults (id, keep) VALUES (1, 'no ttl') USING TIMESTAMP 1700000000000000 AND TTL 0`);
    // Long enough to be read by the backup even on a busy machine; the restore starts after it passed.
    const briefWritten = Date.now();
    await client.execute(`INSERT INTO ${source}.defaults (id, brief) VALUES (1, 'expires soon') USING TIMESTAMP 1700000000000001 AND TTL ${BRIEF_TTL_S}`);
    await client.execute(`INSERT INTO ${source}.defaults (id, keep, brief) VALUES (2, 'two', 'long') USING TIMESTAMP 1700000000000002 AND TTL 0`);
    cluster = await clusterFor(services.cassandra);
    second = await clusterFor(services.second);
    backupId = (await runBackup({ keyspace: source, parallel: 4, fetchSize: 1000, gzipLevel: 1, maxChunkBytes: 256 * 1024, consistency: 'LOCAL_QUORUM' }, deps(cluster) as never)).backupId;
    // Let the short TTL pass (with a second to spare for rounding).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, briefWritten + (BRIEF_TTL_S + 1) * 1000 - Date.now())));
  });

  afterAll(async () => {
    for (const ks of [source, ...targets]) await client?.execute(`DROP KEYSPACE IF EXISTS ${ks}`);
    const other = cassandraClient(services.second);
    for (const ks of targets) await other.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
    await other.shutdown();
    await cluster?.close();
    await second?.close();
    await client?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  it('restores into a new keyspace equal to the source cell by cell', async () => {
    const target = uniqueName('it_restore_dst');
    targets.push(target);
    const tables = [...dataset.tables, 'defaults'];
    const report = await runRestore(request({ targetKeyspace: target }), deps(cluster));
    expect(report.rejected).toBe(0);
    expect(report.verified).toBe(true);
    expect(report.expiredCells).toBe(1); // 'expires soon' expired between backup and restore
    const before = await snapshot(cluster, source, tables);
    const after = await snapshot(cluster, target, tables);
    expectSame(before.rows, after.rows, new Set(['hits']));
    expect(after.rows.get('defaults')?.get('[1]')).toEqual({ keep: { v: 'no ttl', t: 1700000000000000 } }); // no TTL despite the default
    // TTLs read at the same moment: source, target, source again; a pair whose two source reads
    // agree was read within one second, and there the target's TTL is within 1 s of the source's.
    const expiring = (await client.execute(`SELECT pk, ck FROM ${source}.events WHERE ck = 0 ALLOW FILTERING`)).rows.slice(0, 400);
    let compared = 0;
    for (const row of expiring) {
      const params = [row.get('pk'), row.get('ck')];
      const ttl = async (ks: string): Promise<number | null> => (await client.execute(`SELECT TTL(note) AS t FROM ${ks}.events WHERE pk = ? AND ck = ?`, params, { prepare: true })).first().get('t') as number | null;
      const [s1, t, s2] = [await ttl(source), await ttl(target), await ttl(source)];
      if (s1 === null) {
        expect(t).toBeNull();
        continue;
      }
      if (s1 !== s2) continue; // crossed a second boundary: not the same moment
      expect(Math.abs((t as number) - s1), `TTL of events ${JSON.stringify(params)}`).toBeLessThanOrEqual(1);
      compared++;
    }
    expect(compared).toBeGreaterThan(20);
    expect((after.rows.get('hits')?.get('["page-3"]'))?.views?.v).toBe('3001');
  });

  it('migrates into the second cluster with a replication override, equal to the source', async () => {
    const target = uniqueName('it_restore_mig');
    targets.push(target);
    const report = await runRestore(request({ targetKeyspace: target, replication: { class: 'SimpleStrategy', replication_factor: '1' }, tables: ['all_types', 'events'] }), deps(second));
    expect(report.targetCluster).toBe('cassette-second');
    expect(report.verified).toBe(true);
    const before = await snapshot(cluster, source, ['all_types', 'events']);
    const after = await snapshot(second, target, ['all_types', 'events']);
    expectSame(before.rows, after.rows);
  });

  it('refuses a tampered chunk before writing any of its rows', async () => {
    const copy = new FsStore(join(work, 'tampered'));
    const id = (await runBackup({ keyspace: source, tables: ['profiles'], parallel: 1, fetchSize: 1000, gzipLevel: 1, maxChunkBytes: 1 << 20, consistency: 'LOCAL_QUORUM', splits: 1 }, { ...deps(cluster), store: copy } as never)).backupId;
    const dataDir = join(work, 'tampered', 'backups', id, 'data', 'profiles');
    const [file] = readdirSync(dataDir);
    const path = join(dataDir, file as string);
    const bytes = readFileSync(path);
    const tamperedKeys = gunzipSync(bytes).toString('utf8').trim().split('\n').map((line) => (JSON.parse(line) as { k: [number, number | null] }).k);
    bytes[bytes.length - 9] = (bytes[bytes.length - 9] ?? 0) ^ 0xff; // inside the gzip trailer's CRC
    writeFileSync(path, bytes);
    const target = uniqueName('it_restore_bad');
    targets.push(target);
    const err = await runRestore({ ...request({ targetKeyspace: target }), backupId: id }, { ...deps(cluster), store: copy }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CassetteError);
    expect((err as CassetteError).code).toBe('BACKUP_INVALID');
    expect((err as Error).message).toMatch(/does not match its checksum/);
    // Other chunks may have been loaded; none of the tampered chunk's rows may be.
    const present = (await client.execute(`SELECT pk, ck FROM ${target}.profiles`)).rows.map((r) => JSON.stringify([r.get('pk'), r.get('ck')]));
    expect(tamperedKeys.length).toBeGreaterThan(0);
    for (const key of tamperedKeys) expect(present).not.toContain(JSON.stringify(key));
  });

  it('refuses a backup that does not exist, naming it', async () => {
    const err = await runRestore(request({ targetKeyspace: 'nowhere' , }), { ...deps(cluster), store: new FsStore(join(work, 'empty')) }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'BACKUP_INVALID', message: expect.stringMatching(/^backup \S+ not found/) });
  });
});
