/**
 * `cassette verify` against real backups: a keyspace with every CQL type, ~25,000 rows, and tables
 * whose partition keys are composite keys of every native key type and frozen collections, tuples
 * and user types (so the client-side token check is held against Cassandra's own tokens), backed
 * up into a file repository and into MinIO. Both verify clean — every chunk read, every row's token
 * in its range — through the function and the built CLI (exit 0, `--json`); `--read-data-subset`
 * reads exactly the chunks its documented rule selects, and `--no-read-data` none; `--config`
 * opens a sample of the golden rekeyed backup's values with the new key.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import cassandra from 'cassandra-driver';
import { runBackup } from '../../src/commands/backup.js';
import { silentProgress } from '../../src/commands/progress.js';
import { runVerify, type VerifyReport } from '../../src/commands/verify/verify.js';
import type { ClusterHandle } from '../../src/cli/compose.js';
import { backupFolder } from '../../src/manifest/keys.js';
import { readManifest } from '../../src/manifest/repository.js';
import { selectsChunk, type DataSubset } from '../../src/pipeline/check/chunk-subset.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { createDataset } from '../support/backup-dataset.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { cliEnv, clusterFor, repoRoot, runCli, s3StoreFor } from '../support/cassette.js';

/** A store that records the keys it was asked to read. */
function recording(store: BlobStore): { store: BlobStore; reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    store: {
      description: store.description,
      put: (key, body, options) => store.put(key, body, options),
      get: (key): Promise<Readable> => {
        reads.push(key);
        return store.get(key);
      },
      head: (key) => store.head(key),
      list: (prefix) => store.list(prefix),
      delete: (key) => store.delete(key),
    },
  };
}

/** Rows whose partition keys are composite keys of every native key type, and frozen collections, tuples and UDTs. */
async function createKeyTables(client: cassandra.Client, ks: string): Promise<number> {
  await client.execute(`CREATE TYPE ${ks}.addr (street text, no int, tags frozen<set<text>>)`);
  await client.execute(`CREATE TABLE ${ks}.native_keys (a text, b bigint, c uuid, d date, e decimal, f varint, g inet, h boolean, i double, j timestamp,
    k smallint, l tinyint, m time, n float, o blob, p timeuuid, q ascii, r int, ck int, v text, PRIMARY KEY ((a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r), ck))`);
  await client.execute(`CREATE TABLE ${ks}.frozen_keys (pk frozen<tuple<int, text, frozen<list<int>>, frozen<map<text, bigint>>, frozen<set<double>>>>, u frozen<addr>, v text, PRIMARY KEY ((pk, u)))`);
  await client.execute(`CREATE TABLE ${ks}.udt_key (pk frozen<addr> PRIMARY KEY, v int)`);
  const { Long, Uuid, TimeUuid, BigDecimal, Integer, InetAddress, LocalDate, LocalTime, Tuple } = cassandra.types;
  const rows = 300;
  const native: unknown[][] = [];
  const frozen: unknown[][] = [];
  const udt: unknown[][] = [];
  for (let i = 0; i < rows; i++) {
    const neg = i % 2 === 0 ? -1 : 1;
    native.push([`kä${i}`, Long.fromString(String(neg * i * 1_000_000_007)), Uuid.random(), LocalDate.fromDate(new Date(Date.UTC(1900 + i, 0, 1))),
      BigDecimal.fromString(`${neg * i}.${i}`), Integer.fromString(String(BigInt(neg) * 2n ** BigInt(i % 90))), InetAddress.fromString(i % 3 === 0 ? `::ffff:10.0.0.${i % 255}` : `10.${i % 255}.0.1`),
      i % 2 === 0, neg * i / 7, new Date(1_700_000_000_000 + neg * i * 86_400_000), i % 32_000, (i % 256) - 128, LocalTime.fromMilliseconds(i * 1000),
      neg * i / 4, Buffer.from([i % 256, 0, 255]), TimeUuid.now(), `ascii ${i}`, neg * i, i, `v${i}`]);
    frozen.push([new Tuple(i, i % 5 === 0 ? null : `t${i}`, [i, -i], { [`m${i}`]: Long.fromNumber(i) }, [i / 2, -i]), { street: `s${i}`, no: i % 4 === 0 ? null : i, tags: [`a${i}`] }, `v${i}`]);
    udt.push([{ street: `u${i}`, no: i, tags: i % 3 === 0 ? null : [`x${i}`, `y${i}`] }, i]);
  }
  const qs = (n: number): string => Array.from({ length: n }, () => '?').join(', ');
  await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${ks}.native_keys (a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, ck, v) VALUES (${qs(20)})`, native, { concurrencyLevel: 32 });
  await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${ks}.frozen_keys (pk, u, v) VALUES (?, ?, ?)`, frozen, { concurrencyLevel: 32 });
  await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${ks}.udt_key (pk, v) VALUES (?, ?)`, udt, { concurrencyLevel: 32 });
  return rows * 3;
}

describe('cassette verify', () => {
  const services = inject('services');
  const keyspace = uniqueName('verify_src');
  const work = mkdtempSync(join(tmpdir(), 'cassette-verify-'));
  const repo = join(work, 'repo');
  const fsStore = new FsStore(repo);
  const s3Prefix = uniqueName('verify-it');
  const s3Store = s3StoreFor(services.s3, s3Prefix);
  let client: cassandra.Client;
  let cluster: ClusterHandle;
  let totalRows: number;
  let fsId: string;
  let s3Id: string;

  const verify = (store: BlobStore, backupId: string, subset: DataSubset = { kind: 'all' }): Promise<VerifyReport> =>
    runVerify({ backupId, subset, parallel: 4 }, { store, progress: silentProgress, signal: new AbortController().signal, now: Date.now });
  const backup = async (store: BlobStore): Promise<string> => (await runBackup(
    { keyspace, parallel: 4, fetchSize: 1000, gzipLevel: 1, maxChunkBytes: 64 * 1024, consistency: 'LOCAL_QUORUM', splits: 16 },
    { store, cluster, progress: silentProgress, signal: new AbortController().signal, now: Date.now, toolVersion: 'test', resumeHint: (id: string) => id } as never,
  )).backupId;

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    const dataset = await createDataset(client, keyspace, { wideRows: 5_000, smallPartitions: 2_000 });
    totalRows = dataset.totalRows + await createKeyTables(client, keyspace);
    cluster = await clusterFor(services.cassandra);
    fsId = await backup(fsStore);
    s3Id = await backup(s3Store);
  });

  afterAll(async () => {
    await client?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await client?.shutdown();
    await cluster?.close();
    for await (const entry of s3Store.list('')) await s3Store.delete(entry.key);
    rmSync(work, { recursive: true, force: true });
  });

  it('finds a backup of every type and key type sound: every chunk read, every row decoded and in its range', async () => {
    for (const [store, id] of [[fsStore, fsId], [s3Store, s3Id]] as const) {
      const report = await verify(store, id);
      expect(report.problems).toEqual([]);
      expect(report).toMatchObject({ ok: true, rows: totalRows, rowsRead: totalRows, chunksRead: report.chunks, tokenCheckSkipped: [], unreferenced: [] });
      expect(report.chunks).toBeGreaterThan(64); // many chunks: 16 ranges per table, 64 KiB chunks
    }
  });

  it('reads exactly the chunks --read-data-subset selects by its documented rule, and none with --no-read-data', async () => {
    const manifest = await readManifest(fsStore, fsId);
    const all = (manifest?.tables ?? []).flatMap((t) => t.ranges.flatMap((r) => r.chunks.map((c) => c.key)));
    for (const subset of [{ kind: 'percent', percent: 10 }, { kind: 'slice', n: 2, m: 3 }, { kind: 'none' }] as const) {
      const { store, reads } = recording(fsStore);
      const report = await verify(store, fsId, subset);
      const expected = all.filter((key) => selectsChunk(subset, key)).map((key) => `${backupFolder(fsId)}${key}`).sort();
      expect(reads.filter((key) => key.includes('/data/')).sort()).toEqual(expected);
      expect(report).toMatchObject({ ok: true, chunksRead: expected.length });
      if (subset.kind !== 'none') expect(expected.length).toBeGreaterThan(0);
      expect(expected.length).toBeLessThan(all.length);
    }
  });

  it('exits 0 through the built CLI, with a text report and a --json report, on both repositories', () => {
    const text = runCli(['verify', fsId, '--repo', repo], cliEnv());
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout.split('\n')[0]).toBe(`backup ${fsId} in ${repo}: OK`);
    expect(text.stdout).toMatch(/data read \(subset all\): [\d,]+ chunks, [\d,]+ rows/);
    const json = runCli(['verify', s3Id, '--repo', `s3://${services.s3.bucket}/${s3Prefix}`, '--s3-endpoint', services.s3.endpoint, '--read-data-subset', '1/4', '--json'], cliEnv(services.s3));
    expect(json.status, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as VerifyReport;
    expect(report).toMatchObject({ backupId: s3Id, ok: true, keyspace, dataSubset: '1/4', rows: totalRows, problems: [], unreferenced: [] });
    expect(Object.keys(report).sort()).toEqual(['backupId', 'bytes', 'bytesPerSecond', 'bytesRead', 'chunks', 'chunksRead', 'dataSubset', 'durationMs', 'keyspace', 'objects', 'ok',
      'problems', 'ranges', 'repository', 'rows', 'rowsRead', 'tables', 'tokenCheckSkipped', 'unreferenced']);
    const quick = runCli(['verify', fsId, '--repo', repo, '--no-read-data', '--json'], cliEnv());
    expect(quick.status, quick.stderr).toBe(0);
    expect(JSON.parse(quick.stdout)).toMatchObject({ ok: true, dataSubset: 'none', chunksRead: 0 });
  });

  it('opens a sample of a rekeyed backup\'s values with the new key through the CLI (--config), printing no key or value', () => {
    const dir = join(repoRoot, 'test/fixtures/format-v1-rekey');
    const generator = readFileSync(join(dir, 'make-fixture.mjs'), 'utf8');
    const keyOf = (name: string): string => /= '([^']+)'/.exec(generator.split('\n').find((l) => l.startsWith(`export const ${name}`)) ?? '')?.[1] ?? '';
    const env = cliEnv(undefined, { REKEY_OLD_KEY: keyOf('OLD_KEY'), REKEY_NEW_KEY: keyOf('NEW_KEY') });
    const derived = readdirSync(join(dir, 'repo/backups')).find((id) => readFileSync(join(dir, 'repo/backups', id, 'manifest.json'), 'utf8').includes('"derivedFrom"')) as string;
    const r = runCli(['verify', derived, '--repo', join(dir, 'repo'), '--config', join(dir, 'rekey.yaml')], env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('rekey sample: 6 values opened with key version 2, 0 did not, 1 quarantined by the rekey (no key opened them)');
    for (const secret of [env.REKEY_OLD_KEY, env.REKEY_NEW_KEY, 'ssn-1', 'one@example.com']) expect(r.stdout + r.stderr).not.toContain(secret);
  });

  it('refuses a backup that does not exist (exit 6) and a bad subset (exit 2)', () => {
    const missing = runCli(['verify', '20260101T000000Z-abcdef', '--repo', repo], cliEnv());
    expect(missing.status).toBe(6);
    expect(missing.stderr.split('\n')[0]).toBe(`cassette: backup 20260101T000000Z-abcdef not found in ${repo}`);
    const bad = runCli(['verify', fsId, '--repo', repo, '--read-data-subset', '150%'], cliEnv());
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--read-data-subset must be a percentage/);
  });
});
