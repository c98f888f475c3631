/**
 * `cassette drill` against the real clusters: a drill on the same cluster passes, stores its
 * evidence report in the repository (read back here) and drops its scratch keyspace; a drill onto
 * the second cluster (`--hosts`) passes too; a backup changed consistently (a row moved into a range
 * it does not belong to, checksums and manifest updated, so the restore succeeds) fails the drill
 * with exit 12, keeps the scratch keyspace with --keep, and the next drill recognizes that leftover;
 * an existing keyspace that is no drill's is refused (3).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type cassandra from 'cassandra-driver';
import { runBackup } from '../../src/commands/backup.js';
import { runDrill, scratchKeyspaceFor, type DrillRequest } from '../../src/commands/compare/drill.js';
import { silentProgress } from '../../src/commands/progress.js';
import type { ClusterHandle } from '../../src/cli/compose.js';
import { murmur3Token } from '../../src/cassandra/ring/murmur3.js';
import { containsToken, parseToken } from '../../src/cassandra/ring/token-ranges.js';
import { DrillReport } from '../../src/manifest/drill-format.js';
import { readDocument } from '../../src/manifest/repository.js';
import { FsStore } from '../../src/storage/fs-store.js';
import type { CassetteError } from '../../src/errors.js';
import { createDataset } from '../support/backup-dataset.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { cliEnv, clusterFor, runCli } from '../support/cassette.js';

interface ManifestJson { totals: { bytes: number }; tables: { name: string; bytes: number; ranges: { index: number; start: string; end: string; chunks: { key: string; bytes: number; sha256: string }[] }[] }[] }

describe('cassette drill', () => {
  const services = inject('services');
  const source = uniqueName('cmp_drill');
  const work = mkdtempSync(join(tmpdir(), 'cassette-drill-'));
  const repo = join(work, 'repo');
  const store = new FsStore(repo);
  const connection = ['--hosts', services.cassandra.host, '--port', String(services.cassandra.port), '--dc', services.cassandra.dc];
  const dropped: string[] = [];
  let client: cassandra.Client;
  let secondClient: cassandra.Client;
  let cluster: ClusterHandle;
  let second: ClusterHandle;
  let backupId: string;

  const deps = (target: ClusterHandle) => ({ store, cluster: target, progress: silentProgress, signal: new AbortController().signal, now: Date.now, toolVersion: 'test' });
  const request = (id: string, extra: Partial<DrillRequest> = {}): DrillRequest => ({
    backupId: id, keep: false, parallel: 4, fetchSize: 1000, maxKeys: 100, maxDrillRows: 500_000, restoreParallel: 2, maxInFlight: 64, batchBytes: 4096, maxErrors: 0, ...extra,
  });
  const backup = async (): Promise<string> => (await runBackup({ keyspace: source, splits: 8, parallel: 4, fetchSize: 1000, gzipLevel: 1, maxChunkBytes: 64 * 1024, consistency: 'LOCAL_QUORUM' }, {
    ...deps(cluster), resumeHint: (id: string) => `--resume ${id}`,
  } as never)).backupId;
  const exists = async (c: cassandra.Client, ks: string): Promise<boolean> =>
    (await c.execute('SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [ks])).rows.length > 0;

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    secondClient = cassandraClient(services.second);
    await client.connect();
    await secondClient.connect();
    await createDataset(client, source, { wideRows: 1_500, smallPartitions: 300 });
    cluster = await clusterFor(services.cassandra);
    second = await clusterFor(services.second);
    backupId = await backup();
  }, 240_000);

  afterAll(async () => {
    for (const ks of [source, ...dropped]) await client?.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
    await secondClient?.execute(`DROP KEYSPACE IF EXISTS ${scratchKeyspaceFor(source, backupId)}`).catch(() => undefined);
    await client?.shutdown();
    await secondClient?.shutdown();
    await cluster?.close();
    await second?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('passes on the same cluster, prints and stores its evidence report, and drops the scratch keyspace (CLI)', async () => {
    const r = runCli(['drill', backupId, '--repo', repo, ...connection, '--json'], cliEnv());
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const printed = DrillReport.parse(JSON.parse(r.stdout));
    expect(printed.result).toBe('PASS');
    expect(printed.scratch).toBe('dropped');
    expect(printed.scratchKeyspace).toBe(scratchKeyspaceFor(source, backupId));
    expect(printed.source.keyspace).toBe(source);
    expect(printed.target.cluster).toBe(cluster.name);
    expect(printed.target.releaseVersion).toMatch(/^5\./);
    expect(printed.backupAgeSeconds).toBeGreaterThanOrEqual(0);
    expect(printed.restoreDurationMs).toBeGreaterThan(0);
    expect(printed.tables.map((t) => t.name).sort()).toEqual(['all_types', 'events', 'hits', 'keys_only', 'profiles']);
    for (const t of printed.tables) expect([t.name, t.result, t.restoredRows]).toEqual([t.name, 'PASS', t.backupRows]);
    // The evidence, read back from the repository.
    const stored = await readDocument(store, `backups/${backupId}/drills/${printed.drillId}/report.json`, DrillReport, 'drill report');
    expect(stored).toEqual(printed);
    expect(await exists(client, printed.scratchKeyspace)).toBe(false);
    const text = runCli(['drill', backupId, '--repo', repo, ...connection, '--tables', 'profiles'], cliEnv());
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/DR drill d\S+ of backup \S+: PASS/);
    expect(text.stdout).toContain('the recovery time measured');
  }, 300_000);

  it('passes onto another cluster (--hosts of the second node)', async () => {
    const outcome = await runDrill(request(backupId, { tables: ['events', 'all_types'] }), deps(second));
    expect(outcome.report.result).toBe('PASS');
    expect(outcome.report.target.cluster).toBe(second.name);
    expect(outcome.report.target.cluster).not.toBe(outcome.report.source.cluster);
    expect(outcome.report.target.hosts).toEqual([`${services.second.host}`]);
    expect(await exists(secondClient, outcome.report.scratchKeyspace)).toBe(false);
  }, 300_000);

  it('fails (12) on a backup changed consistently so the restore succeeds but the data differ; --keep keeps the keyspace, and the next drill recognizes the leftover', async () => {
    const tampered = await backup();
    // Move one row of events into a range it does not belong to: give it a partition key whose token
    // lies in another range. Chunk, manifest entry and marker are all rewritten to match.
    const manifestPath = join(repo, 'backups', tampered, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as ManifestJson;
    const events = manifest.tables.find((t) => t.name === 'events') as ManifestJson['tables'][number];
    const range = events.ranges.find((r) => r.chunks.length > 0) as ManifestJson['tables'][number]['ranges'][number];
    const entry = range.chunks[0] as ManifestJson['tables'][number]['ranges'][number]['chunks'][number];
    const chunkPath = join(repo, 'backups', tampered, entry.key);
    const lines = gunzipSync(readFileSync(chunkPath)).toString('utf8').split('\n');
    const row = JSON.parse(lines[0] as string) as { k: [number, number]; c: unknown };
    const bounds = { start: parseToken(range.start) as bigint, end: parseToken(range.end) as bigint };
    let pk = 700_000;
    const tokenOf = (n: number): bigint => { const b = Buffer.alloc(4); b.writeInt32BE(n); return murmur3Token(b); };
    while (containsToken(bounds, tokenOf(pk))) pk++;
    const moved = [pk, row.k[1]];
    lines[0] = JSON.stringify({ k: moved, c: row.c });
    const gz = gzipSync(Buffer.from(lines.join('\n'), 'utf8'), { level: 1 });
    writeFileSync(chunkPath, gz);
    const sha256 = createHash('sha256').update(gz).digest('hex');
    const markerPath = join(repo, 'backups', tampered, 'ranges', 'events', `${String(range.index).padStart(5, '0')}.json`);
    const marker = JSON.parse(readFileSync(markerPath, 'utf8')) as { bytes: number; chunks: { bytes: number; sha256: string }[] };
    const grown = gz.length - entry.bytes;
    // Every byte count that includes the chunk moves with it: range entry and marker, table, totals.
    for (const doc of [range, marker]) {
      const e = doc.chunks[0] as { bytes: number; sha256: string };
      (doc as { bytes: number }).bytes += grown;
      e.bytes = gz.length;
      e.sha256 = sha256;
    }
    events.bytes += grown;
    manifest.totals.bytes += grown;
    writeFileSync(markerPath, JSON.stringify(marker));
    writeFileSync(manifestPath, JSON.stringify(manifest));

    const scratch = scratchKeyspaceFor(source, tampered);
    dropped.push(scratch);
    const r = runCli(['drill', tampered, '--repo', repo, ...connection, '--tables', 'events', '--keep'], cliEnv());
    expect(r.status).toBe(12);
    expect(r.stdout).toMatch(/DR drill d\S+ of backup \S+: FAIL/);
    expect(r.stdout).toContain(`scratch keyspace ${scratch} kept`);
    expect(r.stderr).toMatch(/FAILED: the restored data differ .*1 rows missing, 1 extra, 0 different/);
    expect(await exists(client, scratch)).toBe(true);
    const drillId = /DR drill (d\S+)/.exec(r.stdout)?.[1] as string;
    const report = await readDocument(store, `backups/${tampered}/drills/${drillId}/report.json`, DrillReport, 'drill report');
    expect(report?.result).toBe('FAIL');
    expect(report?.scratch).toBe('kept');
    expect(report?.tables[0]?.sampleKeys).toEqual({ missing: [moved], extra: [moved], different: [] });

    // The kept keyspace is a recognized leftover of a drill of this backup: the next drill drops it first.
    const again = await runDrill(request(tampered, { tables: ['profiles'] }), deps(cluster));
    expect(again.report.result).toBe('PASS');
    expect(again.notes.join('\n')).toContain(`left over from drill ${drillId}`);
    expect(await exists(client, scratch)).toBe(false);
  }, 300_000);

  it('interrupted mid-restore, still drops its scratch keyspace, says so, and stores a FAIL report', async () => {
    const controller = new AbortController();
    // Abort once the restore has written rows into the scratch keyspace (its first progress report).
    const progress = { ...silentProgress, rows: () => controller.abort() };
    const scratch = `${source}_int`;
    dropped.push(scratch);
    const error = await runDrill(request(backupId, { scratchKeyspace: scratch, tables: ['events'] }), { ...deps(cluster), progress, signal: controller.signal })
      .then(() => undefined, (err: unknown) => err as CassetteError);
    expect(error?.code).toBe('INTERRUPTED');
    expect(error?.message).toContain(`scratch keyspace ${scratch} dropped`);
    expect(await exists(client, scratch)).toBe(false);
    const key = /report in (.*)\)$/.exec(error?.message ?? '')?.[1]?.slice(repo.length + 1) as string;
    const report = await readDocument(store, key, DrillReport, 'drill report');
    expect(report?.result).toBe('FAIL');
    expect(report?.error?.code).toBe('INTERRUPTED');
    expect(report?.scratch).toBe('dropped');
  }, 300_000);

  it('refuses a scratch keyspace that exists and is no drill\'s (3), leaving it alone', async () => {
    const other = `${source}_other`;
    dropped.push(other);
    await client.execute(`CREATE KEYSPACE ${other} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    const r = runCli(['drill', backupId, '--repo', repo, ...connection, '--scratch-keyspace', other], cliEnv());
    expect(r.status).toBe(3);
    expect(r.stderr).toContain(`keyspace ${other} already exists`);
    expect(await exists(client, other)).toBe(true);
    const itself = runCli(['drill', backupId, '--repo', repo, ...connection, '--scratch-keyspace', source], cliEnv());
    expect(itself.status).toBe(3);
    expect(await exists(client, source)).toBe(true);
  }, 120_000);
});
