/**
 * Riding out outages (issue 11): MinIO restarted — down 20 s, longer than the old 15 s retry
 * budget — in the middle of a backup, a restore and a rekey, and the only Cassandra node restarted
 * in the middle of a backup and a restore. Each run exits 0, says what it waited for, and its result
 * is identical to an undisturbed run (the backup's order-independent digest, the restored tables
 * cell by cell, the rekeyed backup's rows with every value opened under the new key).
 *
 * The test restarts services, so it owns a private MinIO and Cassandra (`scripts/services up` with
 * its own run directory and port offset, stopped again in afterAll): neither the suite's services
 * nor anybody else's are touched. CASSETTE_TEST_OUTAGE_SERVICES_DIR and _OFFSET name an already
 * running private set to use instead (for development; it is left running).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import cassandra from 'cassandra-driver';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectCluster } from '../../src/cli/compose.js';
import { decodeFernetToken, fernetKey, openFernetData, sealFernetToken } from '../../src/crypto/fernet.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { cliEnv, s3StoreFor, startCli } from '../support/cassette.js';
import { uniqueName } from '../support/clients.js';
import { backupDigest, readBackup } from '../support/read-backup.js';
import type { CassandraSettings, S3Settings } from '../support/settings.js';
import { expectSame, snapshot } from '../support/table-snapshot.js';

const script = fileURLToPath(new URL('../../scripts/services', import.meta.url));
const providedDir = process.env.CASSETTE_TEST_OUTAGE_SERVICES_DIR;
const runDir = providedDir ?? mkdtempSync(join(tmpdir(), 'cassette-outages-'));
const OFFSET = providedDir === undefined ? 1500 : Number(process.env.CASSETTE_TEST_OUTAGE_SERVICES_OFFSET ?? 1500);
const servicesEnv = { ...process.env, CASSETTE_SERVICES_DIR: runDir, CASSETTE_SERVICES_PORT_OFFSET: String(OFFSET) };
/** How long MinIO stays down: longer than the old budget of 5 attempts from 1 s (about 15 s). */
const MINIO_DOWN_SECONDS = 20;

const KEYSPACE = uniqueName('outage_data');
const PARTITIONS = 200;
const ROWS_PER_PARTITION = 100;
const COUNTERS = 2000;
const SECRETS = 3000;
/** Token ranges per table: 3 tables × 64 ranges, read one at a time by the disturbed backups. */
const SPLITS = 64;

let s3: S3Settings;
let node: CassandraSettings;
let started = false;
const work = mkdtempSync(join(tmpdir(), 'cassette-outages-work-'));
const keys = { REKEY_OLD_KEY: randomBytes(32).toString('base64url'), REKEY_NEW_KEY: randomBytes(32).toString('base64url') };

/** Runs scripts/services on the private set; throws with its stderr when it fails. */
function services(args: readonly string[]): string {
  const r = spawnSync(script, args, { encoding: 'utf8', env: servicesEnv, timeout: 900_000 });
  if (r.status !== 0) throw new Error(`scripts/services ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Restarts a private service without blocking the event loop (the CLI's output keeps flowing). */
function restart(name: 'minio' | 'cassandra', downSeconds = 0): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(script, ['restart', name, '--down', String(downSeconds)], { env: servicesEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`restart ${name} failed (${code}): ${stderr}`))));
  });
}

/** A CLI run in the background, its output collected. */
interface Running {
  readonly child: ChildProcess;
  output(): { stdout: string; stderr: string };
  exit: Promise<number | null>;
}

/** CLI runs still going; a failed test stops its own in afterEach, so the next one starts clean. */
const runs = new Set<ChildProcess>();

function background(args: readonly string[], extra: Record<string, string> = {}): Running {
  const child = startCli(args, cliEnv(s3, extra));
  runs.add(child);
  child.once('exit', () => runs.delete(child));
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, output: () => ({ stdout, stderr }), exit };
}

async function finish(run: Running): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const status = await run.exit;
  return { status, ...run.output() };
}

function connectionArgs(): string[] {
  return ['--hosts', node.host, '--port', String(node.port), '--dc', node.dc];
}

function s3Args(prefix: string): string[] {
  return ['--repo', `s3://${s3.bucket}/${prefix}`, '--s3-endpoint', s3.endpoint];
}

/** Counts the objects under `prefix` whose key matches `pattern`, through cassette's own listing. */
async function countKeys(store: BlobStore, prefix: string, pattern: RegExp): Promise<number> {
  let n = 0;
  for await (const entry of store.list(prefix)) if (pattern.test(entry.key)) n++;
  return n;
}

/** Polls the repository until `count()` reaches `n` (or the run ended first: then it fails). */
async function waitForProgress(run: Running, count: () => Promise<number>, n: number, what: string): Promise<void> {
  let ended = false;
  void run.exit.then(() => { ended = true; });
  for (;;) {
    if ((await count()) >= n) return;
    if (ended) throw new Error(`the run ended before ${what}: ${run.output().stderr}`);
    await sleep(100);
  }
}

/** Counts the chunks restores of `backupId` finish from now on (markers of earlier restores left out). */
async function chunksRestoredFrom(store: BlobStore, backupId: string): Promise<() => Promise<number>> {
  const done = /\/restores\/[^/]+\/done\/.*\.json$/;
  const before = await countKeys(store, `backups/${backupId}/restores/`, done);
  return async () => (await countKeys(store, `backups/${backupId}/restores/`, done)) - before;
}

function backupIdIn(stdout: string): string {
  return (JSON.parse(stdout) as { backupId: string }).backupId;
}

/**
 * The new backup's id from a text report (`backup <id> complete: …`, `rekey of … : new backup
 * <id>`). The disturbed runs print text, not --json: --json silences the progress display, whose
 * `waiting for …` lines the tests check.
 */
function idInText(stdout: string, pattern: RegExp): string {
  const id = pattern.exec(stdout)?.[1];
  if (id === undefined) throw new Error(`no backup id in: ${stdout}`);
  return id;
}

async function loadData(): Promise<void> {
  const client = new cassandra.Client({ contactPoints: [`${node.host}:${node.port}`], localDataCenter: node.dc });
  try {
    await client.connect();
    await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${KEYSPACE} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    await client.execute(`CREATE TABLE IF NOT EXISTS ${KEYSPACE}.events (p int, c int, v text, n bigint, tags set<text>, PRIMARY KEY (p, c))`);
    await client.execute(`CREATE TABLE IF NOT EXISTS ${KEYSPACE}.hits (k int PRIMARY KEY, n counter)`);
    await client.execute(`CREATE TABLE IF NOT EXISTS ${KEYSPACE}.secrets (p int PRIMARY KEY, secret text, key_version text, note text)`);
    const events = Array.from({ length: PARTITIONS * ROWS_PER_PARTITION }, (_, i) => [
      Math.floor(i / ROWS_PER_PARTITION), i % ROWS_PER_PARTITION, `value ${i} ${'x'.repeat(i % 40)}`, cassandra.types.Long.fromNumber(i * 7919),
      i % 3 === 0 ? null : [`t${i % 5}`, `u${i % 7}`], cassandra.types.Long.fromNumber(1_700_000_000_000_000 + i),
    ]);
    await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${KEYSPACE}.events (p, c, v, n, tags) VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?`, events, { concurrencyLevel: 64 });
    const hits = Array.from({ length: COUNTERS }, (_, k) => [cassandra.types.Long.fromNumber(k % 17 + 1), k]);
    await cassandra.concurrent.executeConcurrent(client, `UPDATE ${KEYSPACE}.hits SET n = n + ? WHERE k = ?`, hits, { concurrencyLevel: 64 });
    const key = fernetKey(Buffer.from(keys.REKEY_OLD_KEY, 'base64url'), '1');
    const secrets = Array.from({ length: SECRETS }, (_, p) => [
      p, sealFernetToken(key, Buffer.from(`secret-${p}`), 1_700_000_000 + p, randomBytes(16)).toString('latin1'), '1', `note ${p}`,
    ]);
    await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${KEYSPACE}.secrets (p, secret, key_version, note) VALUES (?, ?, ?, ?)`, secrets, { concurrencyLevel: 64 });
  } finally {
    await client.shutdown();
  }
}

/** Rows of a rekeyed backup with every secret opened under the new key, as one sorted digest input. */
async function rekeyedRows(store: BlobStore, backupId: string): Promise<string[]> {
  const key = fernetKey(Buffer.from(keys.REKEY_NEW_KEY, 'base64url'), '2');
  const { rows } = await readBackup(store, backupId);
  const lines: string[] = [];
  for (const [table, list] of rows) {
    for (const { row } of list) {
      const cells = Object.fromEntries(Object.entries(row.c).map(([name, cell]) => {
        if (table === 'secrets' && name === 'secret') {
          const data = decodeFernetToken(Buffer.from(String(cell.v), 'latin1'));
          const plain = data === undefined ? undefined : openFernetData(key, data);
          return [name, { v: plain?.toString() ?? 'NOT-OPENED-UNDER-THE-NEW-KEY' }];
        }
        // Rotated rows get new writetimes (a rekey re-writes them); other tables keep theirs.
        return [name, table === 'secrets' ? { v: cell.v } : { v: cell.v, t: cell.t }];
      }));
      lines.push(`${table} ${JSON.stringify(row.k)} ${JSON.stringify(cells)}`);
    }
  }
  return lines.sort();
}

describe('riding out outages (private MinIO and Cassandra, restarted on purpose)', () => {
  /** The undisturbed backup every disturbed run is compared with. */
  let reference: { id: string; digest: { digest: string; rows: number } };
  let referenceStore: BlobStore;

  beforeAll(async () => {
    const out = JSON.parse(services(['up', '--json'])) as { started: string[]; env: Record<string, string> };
    started = out.started.length > 0;
    const env = out.env;
    const get = (name: string): string => {
      const value = env[name];
      if (value === undefined) throw new Error(`scripts/services up printed no ${name}`);
      return value;
    };
    s3 = {
      endpoint: get('CASSETTE_TEST_S3_ENDPOINT'), bucket: get('CASSETTE_TEST_S3_BUCKET'), region: get('CASSETTE_TEST_S3_REGION'),
      accessKeyId: get('CASSETTE_TEST_S3_ACCESS_KEY_ID'), secretAccessKey: get('CASSETTE_TEST_S3_SECRET_ACCESS_KEY'),
    };
    node = { host: get('CASSETTE_TEST_CASSANDRA_HOST'), port: Number(get('CASSETTE_TEST_CASSANDRA_PORT')), dc: get('CASSETTE_TEST_CASSANDRA_DC') };
    await loadData();
    const prefix = `outages-${randomBytes(4).toString('hex')}/reference`;
    const straight = await finish(background(['backup', '--keyspace', KEYSPACE, ...connectionArgs(), ...s3Args(prefix), '--splits', String(SPLITS), '--json']));
    expect(straight.status, straight.stderr).toBe(0);
    referenceStore = s3StoreFor(s3, prefix);
    const id = backupIdIn(straight.stdout);
    reference = { id, digest: await backupDigest(referenceStore, id) };
    expect(reference.digest.rows).toBe(PARTITIONS * ROWS_PER_PARTITION + COUNTERS + SECRETS);
  }, 900_000);

  afterEach(async () => {
    for (const child of runs) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });

  afterAll(() => {
    if (started) services(['down']);
    if (providedDir === undefined) rmSync(runDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }, 300_000);

  /** A backup under way in `prefix` (one range at a time, small pages: it runs long enough to be caught in the middle). */
  function startBackup(prefix: string): Running {
    return background(['backup', '--keyspace', KEYSPACE, ...connectionArgs(), ...s3Args(prefix), '--splits', String(SPLITS), '--parallel', '1', '--fetch-size', '100']);
  }

  async function markersOf(store: BlobStore): Promise<number> {
    return countKeys(store, 'backups/', /\/ranges\/[^/]+\/\d+\.json$/);
  }

  it(`a backup waits out MinIO down for ${MINIO_DOWN_SECONDS} s in its middle and holds exactly the rows of an undisturbed one`, async () => {
    const prefix = `outages-${randomBytes(4).toString('hex')}/minio-backup`;
    const store = s3StoreFor(s3, prefix);
    const run = startBackup(prefix);
    await waitForProgress(run, () => markersOf(store), 10, '10 ranges were saved');
    await restart('minio', MINIO_DOWN_SECONDS);
    const result = await finish(run);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(new RegExp(`waiting for the repository s3://${s3.bucket}/${prefix}: .*\\(retrying for up to \\d`));
    expect(await backupDigest(store, idInText(result.stdout, /^backup (\S+) complete/m))).toEqual(reference.digest);
  }, 600_000);

  it('a restore waits out MinIO down in its middle — counters included, never added twice — and the target equals the source cell by cell', async () => {
    const target = uniqueName('outage_minio_restore');
    const restoredChunks = await chunksRestoredFrom(referenceStore, reference.id);
    const run = background(['restore', reference.id, ...connectionArgs(), ...s3Args(referenceStore.description.replace(`s3://${s3.bucket}/`, '')),
      '--target-keyspace', target, '--parallel', '2']);
    await waitForProgress(run, () => restoredChunks(), 20, '20 chunks were restored');
    await restart('minio', MINIO_DOWN_SECONDS);
    const result = await finish(run);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain('waiting for the repository');
    const cluster = await connectCluster({ hosts: [node.host], port: node.port, dc: node.dc, consistency: 'LOCAL_QUORUM', requestTimeoutMs: 30_000 });
    try {
      const tables = ['events', 'hits', 'secrets'];
      // Counter cells carry no client timestamp (Cassandra stamps them when it applies the
      // increment), so their writetimes differ by nature; their values must be equal: an increment
      // added twice would show here.
      expectSame((await snapshot(cluster, KEYSPACE, tables)).rows, (await snapshot(cluster, target, tables)).rows, new Set(['hits']));
    } finally {
      await cluster.close();
    }
  }, 600_000);

  it('a rekey waits out MinIO down in its middle and writes the same rows as an undisturbed rekey, every value under the new key', async () => {
    const config = join(work, 'rekey.yaml');
    writeFileSync(config, [
      `cluster: {contact_points: [${node.host}], port: ${node.port}, keyspace: ${KEYSPACE}}`,
      'provider: {type: fernet, old_key_env: REKEY_OLD_KEY, new_key_env: REKEY_NEW_KEY, old_key_version: "1", new_key_version: "2"}',
      'tables:',
      '  - name: secrets',
      '    encrypted_columns: [secret]',
      '',
    ].join('\n'));
    const repoPrefix = referenceStore.description.replace(`s3://${s3.bucket}/`, '');
    const straight = await finish(background(['rekey', reference.id, '--config', config, ...s3Args(repoPrefix), '--threads', '1', '--json'], keys));
    expect(straight.status, straight.stderr).toBe(0);
    const expected = await rekeyedRows(referenceStore, backupIdIn(straight.stdout));
    expect(expected.filter((l) => l.includes('NOT-OPENED'))).toEqual([]);

    const rekeyed = /\/rekey\/secrets\/\d+-\d+\.json$/;
    const before = await countKeys(referenceStore, 'backups/', rekeyed);
    const run = background(['rekey', reference.id, '--config', config, ...s3Args(repoPrefix), '--threads', '1'], keys);
    await waitForProgress(run, async () => (await countKeys(referenceStore, 'backups/', rekeyed)) - before, 10, '10 chunks were re-encrypted');
    await restart('minio', MINIO_DOWN_SECONDS);
    const result = await finish(run);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain('waiting for the repository');
    expect(await rekeyedRows(referenceStore, idInText(result.stdout, /: new backup (\S+)/))).toEqual(expected);
  }, 600_000);

  it('a backup waits out its only Cassandra node restarting in its middle and holds exactly the rows of an undisturbed one', async () => {
    const prefix = `outages-${randomBytes(4).toString('hex')}/cassandra-backup`;
    const store = s3StoreFor(s3, prefix);
    const run = startBackup(prefix);
    await waitForProgress(run, () => markersOf(store), 10, '10 ranges were saved');
    await restart('cassandra');
    const result = await finish(run);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/waiting for Cassandra replicas of \w+ range \d+: /);
    expect(await backupDigest(store, idInText(result.stdout, /^backup (\S+) complete/m))).toEqual(reference.digest);
  }, 600_000);

  it('a restore waits out its only Cassandra node restarting in its middle and the target equals the source cell by cell', async () => {
    // No counter table here: a counter increment that reached the node and then lost its answer
    // cannot be retried without maybe adding it twice, so it is rejected (exit 7) — restore's rule.
    const target = uniqueName('outage_cassandra_restore');
    const restoredChunks = await chunksRestoredFrom(referenceStore, reference.id);
    const run = background(['restore', reference.id, ...connectionArgs(), ...s3Args(referenceStore.description.replace(`s3://${s3.bucket}/`, '')),
      '--target-keyspace', target, '--tables', 'events,secrets', '--parallel', '2']);
    await waitForProgress(run, () => restoredChunks(), 20, '20 chunks were restored');
    await restart('cassandra');
    const result = await finish(run);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain('waiting for Cassandra');
    const cluster = await connectCluster({ hosts: [node.host], port: node.port, dc: node.dc, consistency: 'LOCAL_QUORUM', requestTimeoutMs: 30_000 });
    try {
      const tables = ['events', 'secrets'];
      expectSame((await snapshot(cluster, KEYSPACE, tables)).rows, (await snapshot(cluster, target, tables)).rows);
    } finally {
      await cluster.close();
    }
  }, 600_000);
});
