/**
 * `cassette diff` against the real Cassandra: a backup of a keyspace with every CQL type, collections,
 * user types, TTL'd cells, explicit writetimes and counters (tens of thousands of rows over many
 * ranges) is identical to the keyspace it was taken from and to a restored copy of it (despite the
 * copy's expiries landing up to 2 s later and its counters' new writetimes); after a row is deleted,
 * one inserted, a value updated, a writetime changed alone and a TTL added, diff exits 12 listing
 * exactly those keys.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import cassandra from 'cassandra-driver';
import { runBackup } from '../../src/commands/backup.js';
import { runRestore } from '../../src/commands/restore.js';
import { runDiff, type DiffRequest } from '../../src/commands/compare/diff.js';
import { silentProgress } from '../../src/commands/progress.js';
import type { ClusterHandle } from '../../src/cli/compose.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { createDataset, type Dataset } from '../support/backup-dataset.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { cliEnv, clusterFor, runCli } from '../support/cassette.js';

describe('cassette diff', () => {
  const services = inject('services');
  const source = uniqueName('cmp_diff');
  const copy = `${source}_copy`;
  const work = mkdtempSync(join(tmpdir(), 'cassette-diff-'));
  const repo = join(work, 'repo');
  const store = new FsStore(repo);
  const connection = ['--hosts', services.cassandra.host, '--port', String(services.cassandra.port), '--dc', services.cassandra.dc];
  let client: cassandra.Client;
  let cluster: ClusterHandle;
  let dataset: Dataset;
  let backupId: string;

  const deps = () => ({ store, cluster, progress: silentProgress, signal: new AbortController().signal, now: Date.now });
  const request = (extra: Partial<DiffRequest> = {}): DiffRequest => ({ backupId, parallel: 4, fetchSize: 1000, maxKeys: 100, maxDrillRows: 500_000, ...extra });

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    dataset = await createDataset(client, source, { wideRows: 6_000, smallPartitions: 2_400 });
    cluster = await clusterFor(services.cassandra);
    const backup = await runBackup({ keyspace: source, splits: 24, parallel: 4, fetchSize: 1000, gzipLevel: 1, maxChunkBytes: 256 * 1024, consistency: 'LOCAL_QUORUM' }, {
      ...deps(), toolVersion: 'test', resumeHint: (id: string) => `--resume ${id}`,
    } as never);
    backupId = backup.backupId;
  }, 240_000);

  afterAll(async () => {
    for (const ks of [source, copy]) await client?.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
    await client?.shutdown();
    await cluster?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('finds the keyspace identical to its own backup, over every range (CLI: exit 0)', async () => {
    const report = await runDiff(request(), deps());
    expect(report.identical).toBe(true);
    expect(report.backupRows).toBe(dataset.totalRows);
    expect(report.liveRows).toBe(dataset.totalRows);
    expect(report.backupRows).toBeGreaterThan(30_000);
    for (const t of report.tables) {
      expect(t.ranges, t.name).toBeGreaterThanOrEqual(24); // --splits 24, cut again at the ring's tokens
      expect(t.missing + t.extra + t.different, t.name).toBe(0);
    }
    const cli = runCli(['diff', backupId, '--repo', repo, ...connection, '--tables', 'all_types,hits', '--json'], cliEnv());
    expect(cli.stderr).toBe('');
    expect(cli.status).toBe(0);
    expect((JSON.parse(cli.stdout) as { identical: boolean; tables: unknown[] }).tables).toHaveLength(2);
  }, 240_000);

  it('finds a restored copy in another keyspace identical despite its later expiries and new counter writetimes', async () => {
    await runRestore({ backupId, targetKeyspace: copy, schemaMode: 'create', guard: { kind: 'none' }, maxInFlight: 64, maxErrors: 0, batchBytes: 4096, parallel: 2, verify: false }, {
      ...deps(), toolVersion: 'test', resumeHint: (id: string) => `--resume ${id}`,
    } as never);
    const report = await runDiff(request({ keyspace: copy }), deps());
    expect(report.tables.filter((t) => !t.identical).map((t) => t.name)).toEqual([]);
    expect(report.identical).toBe(true);
    expect(report.keyspace).toBe(copy);
    expect(report.liveRows).toBe(dataset.totalRows);
  }, 300_000);

  it('lists exactly the rows deleted, inserted and changed (value, writetime alone, TTL added), by key; the CLI exits 12', async () => {
    const events = dataset.expected.get('events') as NonNullable<ReturnType<typeof dataset.expected.get>>;
    // Rows without TTL in the dataset, so "add a TTL" adds the only one.
    const plain = [...events.values()].filter((row) => row.c.note?.e === undefined && (row.k[0] as number) > 0).slice(0, 10);
    const [deleted, updated, retimed, expiring] = plain.map((row) => row.k as [number, number]) as [[number, number], [number, number], [number, number], [number, number]];
    const noteOf = (k: readonly unknown[]) => events.get(JSON.stringify(k))?.c.note as { v: string; t: number };
    const cql = async (q: string, params: unknown[]) => client.execute(q, params, { prepare: true });
    await cql(`DELETE FROM ${source}.events WHERE pk = ? AND ck = ?`, deleted as unknown[]);
    await cql(`INSERT INTO ${source}.events (pk, ck, note) VALUES (?, ?, ?)`, [999_999, 7, 'inserted']);
    await cql(`UPDATE ${source}.events USING TIMESTAMP ? SET note = ? WHERE pk = ? AND ck = ?`, [cassandra.types.Long.fromNumber(noteOf(updated).t), 'zzz changed', ...updated]);
    await cql(`UPDATE ${source}.events USING TIMESTAMP ? SET note = ? WHERE pk = ? AND ck = ?`, [cassandra.types.Long.fromNumber(noteOf(retimed).t + 1), noteOf(retimed).v, ...retimed]);
    await cql(`UPDATE ${source}.events USING TIMESTAMP ? AND TTL 86400 SET note = ? WHERE pk = ? AND ck = ?`, [cassandra.types.Long.fromNumber(noteOf(expiring).t + 1), noteOf(expiring).v, ...expiring]);

    const report = await runDiff(request({ tables: ['events', 'profiles'] }), deps());
    expect(report.identical).toBe(false);
    const t = report.tables.find((x) => x.name === 'events');
    expect(t?.missingKeys).toEqual([deleted]);
    expect(t?.extraKeys).toEqual([[999_999, 7]]);
    expect([t?.missing, t?.extra, t?.different]).toEqual([1, 1, 3]);
    const different = new Map((t?.differentRows ?? []).map((d) => [JSON.stringify(d.key), d.columns]));
    expect(different.get(JSON.stringify(updated))).toEqual([{ column: 'note', kind: 'changed', value: true, writetime: false, expiry: false }]);
    expect(different.get(JSON.stringify(retimed))).toEqual([{ column: 'note', kind: 'changed', value: false, writetime: true, expiry: false }]);
    expect(different.get(JSON.stringify(expiring))).toEqual([{ column: 'note', kind: 'changed', value: false, writetime: true, expiry: true }]);
    expect(report.tables.find((x) => x.name === 'profiles')?.identical).toBe(true);
    // The same verdicts when every differing range is read again (no rows kept from the digest pass),
    // and when a range is too big to list.
    const reread = await runDiff(request({ tables: ['events', 'profiles'], keepRows: 0 }), deps());
    expect(reread.tables.map(({ rangesDrilled: _d, ...t }) => t)).toEqual(report.tables.map(({ rangesDrilled: _d, ...t }) => t));
    const tooBig = await runDiff(request({ tables: ['events'], keepRows: 0, maxDrillRows: 1 }), deps());
    expect(tooBig.identical).toBe(false);
    expect(tooBig.tables[0]?.rangesNotListed).toBeGreaterThan(0);
    expect(tooBig.tables[0]?.rangesNotListed).toBe(tooBig.tables[0]?.rangesDiffering);

    const cli = runCli(['diff', backupId, '--repo', repo, ...connection, '--tables', 'events'], cliEnv());
    expect(cli.status).toBe(12);
    expect(cli.stdout).toContain(`missing: ${JSON.stringify(deleted)}`);
    expect(cli.stdout).toContain('extra: [999999,7]');
    expect(cli.stdout).toContain(`different: ${JSON.stringify(retimed)}: note (writetime)`);
    expect(cli.stdout).not.toContain('zzz changed'); // keys and column names only, never a value
    expect(cli.stderr).toMatch(/differs from backup .*1 rows missing, 1 extra, 3 different/);
  }, 240_000);

  it('refuses an unknown keyspace (3) and an unknown backup (6)', () => {
    const ks = runCli(['diff', backupId, '--repo', repo, ...connection, '--keyspace', 'cmp_no_such_keyspace'], cliEnv());
    expect(ks.status).toBe(3);
    expect(ks.stderr).toContain('cmp_no_such_keyspace');
    const backup = runCli(['diff', '20260101T000000Z-abcdef', '--repo', repo, ...connection], cliEnv());
    expect(backup.status).toBe(6);
  }, 120_000);
});
