/**
 * `cassette rotate` (the built CLI) against the real Cassandra and MinIO, with values encrypted and
 * checked by Python's `cryptography` Fernet:
 *
 * 1. timestamp guard, 100,000 rows: every value opens under the new key only (in Python) to its
 *    original plaintext, key_version is the new version, WRITETIMEs are the originals + 1 µs, TTLs
 *    keep running, the non-encrypted column is untouched, nulls are skipped;
 * 2. LWT guard racing a concurrent application: no application write is ever overwritten by the
 *    rotation of an older value, and rows the application put back under the old key are rotated
 *    again by the verification rounds;
 * 3. a plaintext canary appears nowhere: not in any repository object (gzipped or not, as text or
 *    base64), not on stdout/stderr (with and without --json), not in temporary files.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer, text } from 'node:stream/consumers';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import cassandra from 'cassandra-driver';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { cliEnv, runCli, s3StoreFor, startCli } from '../support/cassette.js';
import { fernetDecryptInPython, fernetEncryptInPython, fernetGenerateKeyInPython } from '../support/python.js';
import type { S3Settings } from '../support/settings.js';

const T0 = 1_700_000_000_000_000n;
const DAY = 86_400;

interface RotateReport {
  jobId: string;
  rounds: number;
  valuesRotated: number;
  valuesQuarantined: number;
  raced: number;
  durationMs: number;
  rowsPerSecond: number;
  writetimesPreserved: boolean;
  tables: { name: string; rowsExported: number; rowsChanged: number; rowsSkipped: number; valuesRotated: number; valuesAlreadyCurrent: number; written: number; raced: number }[];
}

/** A row read, with when its page was requested and when it arrived (ms): its TTLs were computed in between. */
interface Read {
  readonly row: cassandra.types.Row;
  readonly sent: number;
  readonly at: number;
}

/** Every row of a SELECT, paged. */
async function selectAll(client: cassandra.Client, cql: string): Promise<Read[]> {
  const rows: Read[] = [];
  let pageState: string | undefined;
  do {
    const sent = Date.now();
    const rs = await client.execute(cql, [], { prepare: true, fetchSize: 5_000, ...(pageState === undefined ? {} : { pageState }) });
    const at = Date.now();
    for (const row of rs.rows) rows.push({ row, sent, at });
    pageState = rs.pageState ?? undefined;
  } while (pageState !== undefined);
  return rows;
}

/** A WRITETIME as bigint (the driver returns a Long), null when the cell is absent. */
function micros(value: unknown): bigint | null {
  return value === null || value === undefined ? null : BigInt(String(value));
}

/** The text of a Fernet token stored in a blob (its ASCII bytes) or a text column. */
function tokenOf(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('ascii') : (value as string);
}

/** The needles that find `canary` in a byte stream: as is, and base64 (standard and url-safe) at each of the three alignments. */
function needlesFor(canary: string): Buffer[] {
  const bytes = Buffer.from(canary, 'utf8');
  const needles = [bytes];
  for (let shift = 0; shift < 3; shift++) {
    const whole = bytes.subarray(shift, shift + 3 * Math.floor((bytes.length - shift) / 3));
    const b64 = whole.toString('base64');
    needles.push(Buffer.from(b64), Buffer.from(b64.replace(/\+/g, '-').replace(/\//g, '_')));
  }
  return needles;
}

/** Where a needle occurs in `data`, or in its gunzipped form when it is gzip. */
function findNeedle(data: Buffer, needles: readonly Buffer[]): string | undefined {
  const hit = (b: Buffer): boolean => needles.some((n) => b.includes(n));
  if (hit(data)) return 'raw bytes';
  if (data.length > 2 && data[0] === 0x1f && data[1] === 0x8b) {
    if (hit(gunzipSync(data))) return 'gunzipped bytes';
  }
  return undefined;
}

/** Every object of a store holding the canary (raw or gunzipped); also returns how many objects were read. */
async function objectsHolding(store: BlobStore, needles: readonly Buffer[]): Promise<{ hits: string[]; objects: number; gzipped: number }> {
  const hits: string[] = [];
  let objects = 0;
  let gzipped = 0;
  for await (const entry of store.list('')) {
    const data = await buffer(await store.get(entry.key));
    objects++;
    if (entry.key.endsWith('.gz')) {
      gzipped++;
      expect(data[0] === 0x1f && data[1] === 0x8b, `${entry.key} is gzip`).toBe(true);
    }
    const where = findNeedle(data, needles);
    if (where !== undefined) hits.push(`${entry.key} (${where})`);
  }
  return { hits, objects, gzipped };
}

/** Files under `dir` modified at or after `since` (ms) holding the canary; skips what the services own. */
function tempFilesHolding(dir: string, since: number, needles: readonly Buffer[], skip: readonly string[]): { hits: string[]; scanned: number } {
  const hits: string[] = [];
  let scanned = 0;
  const walk = (path: string): void => {
    if (skip.some((s) => path === s || path.startsWith(`${s}/`))) return;
    let entries: string[];
    try {
      entries = readdirSync(path);
    } catch {
      return; // unreadable, or gone meanwhile
    }
    for (const name of entries) {
      const full = join(path, name);
      let st;
      try {
        st = statSync(full, { throwIfNoEntry: false });
      } catch {
        continue;
      }
      if (st === undefined) continue;
      if (st.isDirectory()) walk(full);
      else if (st.isFile() && st.mtimeMs >= since && st.size <= 64 << 20) {
        let data: Buffer;
        try {
          data = readFileSync(full);
        } catch {
          continue;
        }
        scanned++;
        let where: string | undefined;
        try {
          where = findNeedle(data, needles);
        } catch {
          where = needles.some((n) => data.includes(n)) ? 'raw bytes' : undefined; // a truncated .gz being written
        }
        if (where !== undefined) hits.push(`${full} (${where})`);
      }
    }
  };
  walk(dir);
  return { hits, scanned };
}

interface TableOptions {
  readonly name: string;
  readonly partitionKey: readonly string[];
  readonly clusteringKey: readonly string[];
  readonly lwt: boolean;
  readonly extra?: string;
}

/** A rotation config (docs/config.md) for one table; keys come from REKEY_OLD_KEY / REKEY_NEW_KEY. */
function writeConfig(path: string, keyspace: string, repo: string, table: TableOptions, execution = 'execution: {workers: 4}'): void {
  const list = (names: readonly string[]): string => `[${names.join(', ')}]`;
  writeFileSync(path, [
    `cluster: {contact_points: [127.0.0.1], port: 9042, keyspace: ${keyspace}}`,
    `repo: ${repo}`,
    'provider: {type: fernet, old_key_env: REKEY_OLD_KEY, new_key_env: REKEY_NEW_KEY, old_key_version: "1", new_key_version: "2"}',
    'tables:',
    `  - name: ${table.name}`,
    `    partition_key: ${list(table.partitionKey)}`,
    `    clustering_key: ${list(table.clusteringKey)}`,
    '    encrypted_columns: [ssn, email]',
    `    use_lwt_guard: ${table.lwt}`,
    ...(table.extra === undefined ? [] : [`    ${table.extra}`]),
    execution,
    '',
  ].join('\n'));
}

describe('cassette rotate (CLI) on the real services', () => {
  const services = inject('services');
  const work = mkdtempSync(join(tmpdir(), 'cassette-rotate-'));
  const keyspaces: string[] = [];
  const s3Prefixes: string[] = [];
  let client: cassandra.Client;
  let oldKey: string;
  let newKey: string;

  const connection = (): string[] => ['--hosts', services.cassandra.host, '--port', String(services.cassandra.port), '--dc', services.cassandra.dc];
  const env = (s3?: S3Settings): NodeJS.ProcessEnv => cliEnv(s3, { REKEY_OLD_KEY: oldKey, REKEY_NEW_KEY: newKey });

  async function createKeyspace(prefix: string): Promise<string> {
    const ks = uniqueName(prefix);
    keyspaces.push(ks);
    await client.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    return ks;
  }

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    oldKey = await fernetGenerateKeyInPython();
    newKey = await fernetGenerateKeyInPython();
  });

  afterAll(async () => {
    for (const ks of keyspaces) await client?.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
    for (const prefix of s3Prefixes) {
      const store = s3StoreFor(services.s3, prefix);
      for await (const entry of store.list('')) await store.delete(entry.key);
    }
    await client?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  it('timestamp guard, 100,000 rows: new key only, original plaintexts, WRITETIME + 1 µs, TTLs kept, nulls skipped', async () => {
    const PARTITIONS = 20_000;
    const PER_PARTITION = 5;
    const ROWS = PARTITIONS * PER_PARTITION;
    const ks = await createKeyspace('it_rotate_ts');
    await client.execute(`CREATE TABLE ${ks}.users (tenant text, user_id int, event_time timestamp, ssn blob, email text, name text, key_version text, PRIMARY KEY ((tenant, user_id), event_time))`);
    const canary = `CANARY-${randomBytes(12).toString('hex')}`;
    const CANARY_ROW = 12_345;

    // Row i: partition (tenant, user_id) = (t<p % 50>, p), event_time = minute c; a distinct
    // writetime T0 + 10·i; a third of the rows with TTL; every 997th email null.
    const ssnPlain: Buffer[] = [];
    const emailPlain: Buffer[] = [];
    const nullEmail = (i: number): boolean => i % 997 === 3;
    for (let i = 0; i < ROWS; i++) {
      ssnPlain.push(Buffer.from(i === CANARY_ROW ? canary : `${String(i % 1000).padStart(3, '0')}-${String(i % 100).padStart(2, '0')}-${randomBytes(4).toString('hex')}`));
      emailPlain.push(Buffer.from(i === CANARY_ROW ? `${canary}@example.org` : `user${i}.${randomBytes(3).toString('hex')}@example.org`));
    }
    const tokens = await fernetEncryptInPython(oldKey, [...ssnPlain, ...emailPlain]);
    const insertStarted = Date.now();
    const params = ssnPlain.map((_, i) => {
      const p = Math.floor(i / PER_PARTITION);
      const c = i % PER_PARTITION;
      return [
        `t${p % 50}`, p, new Date(1_600_000_000_000 + c * 60_000),
        Buffer.from(tokens[i] as string, 'ascii'),
        nullEmail(i) ? cassandra.types.unset : tokens[ROWS + i],
        `name-${i}`, '1',
        cassandra.types.Long.fromString(String(T0 + 10n * BigInt(i))),
        i % 3 === 0 ? DAY : 0,
      ];
    });
    await cassandra.concurrent.executeConcurrent(client,
      `INSERT INTO ${ks}.users (tenant, user_id, event_time, ssn, email, name, key_version) VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ? AND TTL ?`,
      params, { concurrencyLevel: 256 });
    const insertMs = Date.now() - insertStarted;
    const nulls = params.filter((_, i) => nullEmail(i)).length;

    const select = `SELECT user_id, event_time, ssn, email, name, key_version, WRITETIME(ssn) AS wt_ssn, WRITETIME(email) AS wt_email, WRITETIME(name) AS wt_name, ` +
      `WRITETIME(key_version) AS wt_kv, TTL(ssn) AS ttl_ssn, TTL(email) AS ttl_email, TTL(name) AS ttl_name FROM ${ks}.users`;
    const indexOf = (row: cassandra.types.Row): number => (row.get('user_id') as number) * PER_PARTITION + ((row.get('event_time') as Date).getTime() - 1_600_000_000_000) / 60_000;
    const before = new Map<number, Read>((await selectAll(client, select)).map((read) => [indexOf(read.row), read]));
    expect(before.size).toBe(ROWS);
    const unexpected = [...before].filter(([i, { row }]) => micros(row.get('wt_ssn')) !== T0 + 10n * BigInt(i) || (row.get('ttl_ssn') === null) !== (i % 3 !== 0));
    expect(unexpected.map(([i]) => i)).toEqual([]);

    const prefix = `${uniqueName('it-rotate')}/repo`;
    s3Prefixes.push(prefix);
    const config = join(work, 'timestamp.yaml');
    writeConfig(config, ks, `s3://${services.s3.bucket}/${prefix}`, { name: 'users', partitionKey: ['tenant', 'user_id'], clusteringKey: ['event_time'], lwt: false });
    const started = Date.now();
    const run = runCli(['rotate', '--config', config, '--s3-endpoint', services.s3.endpoint, ...connection(), '--json'], env(services.s3));
    const runMs = Date.now() - started;
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as RotateReport;
    console.log(`rotate timestamp guard: ${ROWS} rows inserted in ${insertMs} ms; rotate CLI ${runMs} ms wall ` +
      `(${Math.round(ROWS / (runMs / 1000))} rows/s end to end; report ${report.rowsPerSecond} rows/s over ${report.durationMs} ms)`);
    const afterReads = await selectAll(client, select);
    const after = afterReads.map((read) => read.row);
    expect(after).toHaveLength(ROWS);

    // The report: every non-null value rotated once, in one round, nothing raced or quarantined.
    expect(report.rounds).toBe(1);
    expect(report.valuesRotated).toBe(2 * ROWS - nulls);
    expect(report.tables[0]).toMatchObject({ name: 'users', rowsExported: ROWS, rowsChanged: ROWS, rowsSkipped: 0, valuesRotated: 2 * ROWS - nulls, written: ROWS, raced: 0 });
    expect(report.valuesQuarantined).toBe(0);
    expect(report.writetimesPreserved).toBe(true);

    // Cells: writetimes + 1 µs, TTLs still running, the plain column untouched. Problems are
    // collected (the first few reported) rather than asserted cell by cell: 100,000 rows.
    const problems: string[] = [];
    const check = (ok: boolean, what: () => string): void => {
      if (!ok && problems.length < 20) problems.push(what());
    };
    let ttlCells = 0;
    let drift = { min: Infinity, max: -Infinity };
    for (const read of afterReads) {
      const { row } = read;
      const i = indexOf(row);
      const earlier = before.get(i) as Read;
      const was = earlier.row;
      const t = T0 + 10n * BigInt(i);
      const is = (column: string, value: unknown, got: unknown): void => check(got === value, () => `row ${i} ${column}: ${String(got)}, expected ${String(value)}`);
      is('key_version', '2', row.get('key_version'));
      is('WRITETIME(ssn)', t + 1n, micros(row.get('wt_ssn')));
      is('WRITETIME(email)', nullEmail(i) ? null : t + 1n, micros(row.get('wt_email')));
      is('WRITETIME(key_version)', t + 1n, micros(row.get('wt_kv')));
      is('name', `name-${i}`, row.get('name'));
      is('WRITETIME(name)', t, micros(row.get('wt_name')));
      is('email', true, nullEmail(i) === (row.get('email') === null));
      check(!(row.get('ssn') as Buffer).equals(was.get('ssn') as Buffer), () => `row ${i}: ssn unchanged`);
      for (const column of ['ttl_ssn', 'ttl_email', 'ttl_name'] as const) {
        const ttl = row.get(column) as number | null;
        const old = was.get(column) as number | null;
        if (old === null) {
          is(column, null, ttl);
          continue;
        }
        if (column !== 'ttl_name') ttlCells++;
        // Cassandra reports TTL = expiry − its current whole second, taken between sending the
        // query and the page's arrival: each read bounds the expiry to an interval. The expiry may
        // have moved by D seconds; D is bounded by the two intervals, and must be able to be
        // within ±2 s (the rotation plans TTLs to the second, docs/config.md).
        const lowest = (r: Read, t: number): number => Math.floor(r.sent / 1000) + t;
        const highest = (r: Read, t: number): number => Math.floor(r.at / 1000) + t;
        if (ttl === null) {
          check(false, () => `row ${i} ${column}: no TTL any more`);
          continue;
        }
        const least = lowest(read, ttl) - highest(earlier, old);
        const most = highest(read, ttl) - lowest(earlier, old);
        if (column === 'ttl_ssn') drift = { min: Math.min(drift.min, most), max: Math.max(drift.max, least) };
        check(least <= 2 && most >= -2, () => `row ${i} ${column}: ${ttl} now, ${old} ${((read.at - earlier.at) / 1000).toFixed(1)} s before: expiry moved by ${least}..${most} s`);
      }
    }
    console.log(`rotate timestamp guard: expiry drift, proven by the reads: up to ${drift.max} s later, up to ${-drift.min} s earlier (≤ 0: none proven)`);
    expect(problems).toEqual([]);
    const withTtl = [...before.keys()].filter((i) => i % 3 === 0);
    expect(ttlCells).toBe(2 * withTtl.length - withTtl.filter(nullEmail).length);

    // Python: under the new key alone every token (cassette's) opens to the original plaintext;
    // under the old key alone none opens.
    const order = after.map(indexOf);
    const rotated = [
      ...after.map((row) => tokenOf(row.get('ssn'))),
      ...after.filter((row) => row.get('email') !== null).map((row) => tokenOf(row.get('email'))),
    ];
    const expected = [...order.map((i) => ssnPlain[i] as Buffer), ...order.filter((i) => !nullEmail(i)).map((i) => emailPlain[i] as Buffer)];
    expect(rotated).toHaveLength(2 * ROWS - nulls);
    const underNew = await fernetDecryptInPython(newKey, rotated);
    let mismatches = 0;
    underNew.forEach((plain, n) => {
      if (plain === null || !plain.equals(expected[n] as Buffer)) mismatches++;
    });
    expect(mismatches).toBe(0);
    const underOld = await fernetDecryptInPython(oldKey, rotated);
    expect(underOld.filter((p) => p !== null)).toHaveLength(0);

    // The canary row was rotated like every other; its plaintext is nowhere cassette wrote.
    const needles = needlesFor(canary);
    expect(findNeedle(Buffer.from(run.stdout), needles)).toBeUndefined();
    expect(findNeedle(Buffer.from(run.stderr), needles)).toBeUndefined();
    const scan = await objectsHolding(s3StoreFor(services.s3, prefix), needles);
    expect(scan.hits).toEqual([]);
    expect(scan.gzipped).toBeGreaterThan(0);

    console.log(`rotate timestamp guard: ${scan.objects} repository objects scanned for the canary`);
  }, 600_000);

  it('LWT guard with a concurrent application: no application write lost, old-key writes re-rotated by verification rounds', async () => {
    const ROWS = 20_000;
    const ks = await createKeyspace('it_rotate_lwt');
    await client.execute(`CREATE TABLE ${ks}.accounts (id int PRIMARY KEY, ssn blob, email text, name text, key_version text)`);
    const ssnPlain = Array.from({ length: ROWS }, (_, i) => Buffer.from(`ssn-${i}-${randomBytes(4).toString('hex')}`));
    const emailPlain = Array.from({ length: ROWS }, (_, i) => Buffer.from(`acct${i}@example.org`));
    const tokens = await fernetEncryptInPython(oldKey, [...ssnPlain, ...emailPlain]);
    await cassandra.concurrent.executeConcurrent(client,
      `INSERT INTO ${ks}.accounts (id, ssn, email, name, key_version) VALUES (?, ?, ?, ?, '1')`,
      ssnPlain.map((_, i) => [i, Buffer.from(tokens[i] as string, 'ascii'), tokens[ROWS + i], `name-${i}`]), { concurrencyLevel: 256 });

    // The application's values, sealed by Python ahead of time: a pool under each key.
    const POOL = 6_000;
    const appPlain = (key: 'old' | 'new', n: number, column: 'ssn' | 'email'): Buffer => Buffer.from(`app-${key}-${column}-${n}`);
    const pool = async (key: 'old' | 'new', keyText: string): Promise<{ ssn: string[]; email: string[] }> => {
      const all = await fernetEncryptInPython(keyText, [
        ...Array.from({ length: POOL }, (_, n) => appPlain(key, n, 'ssn')), ...Array.from({ length: POOL }, (_, n) => appPlain(key, n, 'email')),
      ]);
      return { ssn: all.slice(0, POOL), email: all.slice(POOL) };
    };
    const pools = { old: await pool('old', oldKey), new: await pool('new', newKey) };

    const repo = join(work, 'lwt-repo');
    const config = join(work, 'lwt.yaml');
    writeConfig(config, ks, repo, { name: 'accounts', partitionKey: ['id'], clusteringKey: [], lwt: true, extra: 'preserve_writetime: false' });

    // Round 0's write-back progress, from the job's markers in the directory repository.
    const roundZero = (): { ranges: number; written: number } | undefined => {
      const root = join(repo, 'rotations');
      if (!existsSync(root)) return undefined;
      const job = readdirSync(root)[0];
      if (job === undefined || !existsSync(join(root, job, 'job.json'))) return undefined;
      const plan = JSON.parse(readFileSync(join(root, job, 'job.json'), 'utf8')) as { tables: { ranges: unknown[] }[] };
      const dir = join(root, job, 'rounds', '000', 'written', 'accounts');
      const written = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).length : 0;
      return { ranges: plan.tables[0]?.ranges.length ?? 0, written };
    };

    const started = Date.now();
    const child = startCli(['rotate', '--config', config, ...connection(), '--json'], env());
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    let running = true;
    void exited.then(() => (running = false));

    // The application: random rows, never two updates of one row in flight, each row's last value
    // remembered. Its updates are conditional (IF EXISTS) because the job writes with LWT: a plain
    // write carries a client timestamp that can be older than the job's Paxos ballot and lose to
    // it although it was made later — mixing LWT and plain writes on the same cells is unsafe in
    // Cassandra (docs/config.md, `--guard lwt`). Old-key writes stop once half of round 0's
    // ranges are written back, so they land both before and after the job reaches their rows but
    // all before the first verification; new-key writes go on until the job exits.
    const update = `UPDATE ${ks}.accounts SET ssn = ?, email = ?, key_version = ? WHERE id = ? IF EXISTS`;
    const last = new Map<number, { key: 'old' | 'new'; n: number }>();
    const inFlight = new Set<number>();
    const used = { old: 0, new: 0 };
    let oldKeyWrites = true;
    let retries = 0;
    let lastUpdateAt = 0;
    const appWorker = async (): Promise<void> => {
      while (running) {
        const progress = oldKeyWrites ? roundZero() : undefined;
        if (progress !== undefined && progress.ranges > 0 && progress.written * 2 >= progress.ranges) oldKeyWrites = false;
        const key: 'old' | 'new' = oldKeyWrites && Math.random() < 0.5 ? 'old' : 'new';
        let id: number;
        do id = Math.floor(Math.random() * ROWS); while (inFlight.has(id));
        inFlight.add(id);
        const n = used[key]++ % POOL; // a value may come round again, on another row
        const values = [Buffer.from(pools[key].ssn[n] as string, 'ascii'), pools[key].email[n], key === 'old' ? '1' : '2', id];
        for (let attempts = 0; ;) {
          try {
            const rs = await client.execute(update, values, { prepare: true });
            expect(rs.rows[0]?.get('[applied]')).toBe(true);
            break;
          } catch (err) {
            // A CAS timeout leaves the outcome unknown: writing the same value again settles it.
            const transient = err instanceof cassandra.errors.ResponseError || err instanceof cassandra.errors.OperationTimedOutError;
            if (!transient || ++attempts > 20) throw err;
            retries++;
            await sleep(50);
          }
        }
        last.set(id, { key, n });
        lastUpdateAt = Date.now();
        inFlight.delete(id);
        await sleep(10);
      }
    };
    try {
      await Promise.all(Array.from({ length: 8 }, appWorker));
    } catch (err) {
      child.kill('SIGKILL'); // the application failed: do not leave the job running
      throw err;
    }
    const status = await exited;
    const exitedAt = Date.now();
    const runMs = exitedAt - started;
    expect(status, stderr).toBe(0);
    const report = JSON.parse(stdout) as RotateReport;

    const rows = (await selectAll(client, `SELECT id, ssn, email, name, key_version FROM ${ks}.accounts`)).map((read) => read.row);
    expect(rows).toHaveLength(ROWS);
    const expectedSsn: Buffer[] = [];
    const expectedEmail: Buffer[] = [];
    for (const row of rows) {
      const id = row.get('id') as number;
      const app = last.get(id);
      expect(row.get('key_version'), `row ${id}`).toBe('2');
      expect(row.get('name'), `row ${id}`).toBe(`name-${id}`);
      expectedSsn.push(app === undefined ? ssnPlain[id] as Buffer : appPlain(app.key, app.n, 'ssn'));
      expectedEmail.push(app === undefined ? emailPlain[id] as Buffer : appPlain(app.key, app.n, 'email'));
    }
    const stored = [...rows.map((r) => tokenOf(r.get('ssn'))), ...rows.map((r) => tokenOf(r.get('email')))];
    const expected = [...expectedSsn, ...expectedEmail];
    const underNew = await fernetDecryptInPython(newKey, stored);
    const lost: number[] = [];
    underNew.forEach((plain, n) => {
      if (plain === null || !plain.equals(expected[n] as Buffer)) lost.push(rows[n % ROWS]?.get('id') as number);
    });
    expect(lost, 'rows whose value is not the application\'s last write (or the original) under the new key').toEqual([]);
    expect((await fernetDecryptInPython(oldKey, stored)).filter((p) => p !== null)).toHaveLength(0);

    // The application really raced the job, with both keys, and the verification rounds re-rotated
    // the old-key writes that landed behind the job.
    const appOld = [...last.values()].filter((v) => v.key === 'old').length;
    expect(used.old).toBeGreaterThan(100);
    expect(used.new).toBeGreaterThan(100);
    expect(lastUpdateAt).toBeGreaterThan(exitedAt - 5_000); // the application wrote until the job ended
    expect(report.raced).toBeGreaterThan(0);
    expect(report.rounds).toBeGreaterThanOrEqual(2);
    const verified = (round: number): { leftBehind: number } =>
      JSON.parse(readFileSync(join(repo, 'rotations', report.jobId, 'rounds', String(round).padStart(3, '0'), 'verified.json'), 'utf8')) as { leftBehind: number };
    expect(verified(0).leftBehind).toBeGreaterThan(0);
    expect(verified(report.rounds - 1).leftBehind).toBe(0);
    expect(report.writetimesPreserved).toBe(false);
    expect(report.valuesQuarantined).toBe(0);
    console.log(`rotate LWT guard: ${ROWS} rows in ${runMs} ms wall (${Math.round(ROWS / (runMs / 1000))} rows/s; report ${report.rowsPerSecond} rows/s), ` +
      `${report.rounds} rounds, ${report.raced} raced, ${report.valuesRotated} values rotated; application: ${used.old} old-key and ${used.new} new-key updates ` +
      `(${appOld} rows last written under the old key), ${retries} retried`);
  }, 600_000);

  it('the plaintext canary is in no repository object, no output (with and without --json) and no temporary file', async () => {
    const ROWS = 2_000;
    const ks = await createKeyspace('it_rotate_canary');
    await client.execute(`CREATE TABLE ${ks}.people (id int, seq int, ssn blob, email text, key_version text, PRIMARY KEY (id, seq))`);
    const canary = `CANARY-${randomBytes(12).toString('hex')}`;
    const needles = needlesFor(canary);
    const plain = Array.from({ length: ROWS }, (_, i) => (i === 777 ? [Buffer.from(canary), Buffer.from(`${canary}@example.org`)] : [Buffer.from(`ssn-${i}`), Buffer.from(`p${i}@example.org`)]));
    const tokens = await fernetEncryptInPython(oldKey, plain.flat());
    const load = async (): Promise<void> => {
      await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${ks}.people (id, seq, ssn, email, key_version) VALUES (?, ?, ?, ?, '1')`,
        plain.map((_, i) => [Math.floor(i / 4), i % 4, Buffer.from(tokens[2 * i] as string, 'ascii'), tokens[2 * i + 1]]), { concurrencyLevel: 128 });
    };
    const table: TableOptions = { name: 'people', partitionKey: ['id'], clusteringKey: ['seq'], lwt: false };
    const rotatedCanary = async (): Promise<void> => {
      const row = (await client.execute(`SELECT ssn, email, key_version FROM ${ks}.people WHERE id = ? AND seq = ?`, [Math.floor(777 / 4), 777 % 4], { prepare: true })).rows[0];
      expect(row?.get('key_version')).toBe('2');
      const opened = await fernetDecryptInPython(newKey, [tokenOf(row?.get('ssn')), tokenOf(row?.get('email'))]);
      expect(opened.map((b) => b?.toString())).toEqual([canary, `${canary}@example.org`]);
    };

    // Without --json (progress lines and notes on stderr, the text report on stdout), directory repository.
    await load();
    const since = Date.now() - 1_000;
    const repo = join(work, 'canary-repo');
    const textConfig = join(work, 'canary-text.yaml');
    writeConfig(textConfig, ks, repo, table);
    const plainRun = runCli(['rotate', '--config', textConfig, ...connection()], env());
    expect(plainRun.status, plainRun.stderr).toBe(0);
    expect(plainRun.stdout).toContain('complete');
    expect(plainRun.stderr).toContain('verifying the key version'); // progress and notes were printed
    await rotatedCanary();

    // With --json, a MinIO repository, after the old values are put back (a new job: the first is complete).
    await load();
    const prefix = `${uniqueName('it-rotate-canary')}/repo`;
    s3Prefixes.push(prefix);
    const jsonConfig = join(work, 'canary-json.yaml');
    writeConfig(jsonConfig, ks, `s3://${services.s3.bucket}/${prefix}`, table);
    const jsonRun = runCli(['rotate', '--config', jsonConfig, '--s3-endpoint', services.s3.endpoint, ...connection(), '--json'], env(services.s3));
    expect(jsonRun.status, jsonRun.stderr).toBe(0);
    const report = JSON.parse(jsonRun.stdout) as RotateReport;
    expect(report.valuesRotated).toBe(2 * ROWS);
    await rotatedCanary();

    for (const [what, output] of [['stdout', plainRun.stdout], ['stderr', plainRun.stderr], ['--json stdout', jsonRun.stdout], ['--json stderr', jsonRun.stderr]] as const) {
      expect(findNeedle(Buffer.from(output), needles), what).toBeUndefined();
    }
    const dirScan = await objectsHolding(new FsStore(repo), needles);
    const s3Scan = await objectsHolding(s3StoreFor(services.s3, prefix), needles);
    expect(dirScan.hits).toEqual([]);
    expect(s3Scan.hits).toEqual([]);
    expect(dirScan.gzipped).toBeGreaterThan(0);
    expect(s3Scan.gzipped).toBeGreaterThan(0);
    // The report document itself, as stored.
    const stored = await text(await s3StoreFor(services.s3, prefix).get(`rotations/${report.jobId}/report.json`));
    expect(findNeedle(Buffer.from(stored), needles)).toBeUndefined();

    // Best effort: files under the temporary directory written since the first run (the directory
    // repository among them), except the services' own data.
    const servicesDir = process.env['CASSETTE_SERVICES_DIR'] ?? join(tmpdir(), 'cassette-services');
    const temp = tempFilesHolding(tmpdir(), since, needles, [servicesDir]);
    expect(temp.hits).toEqual([]);
    expect(temp.scanned).toBeGreaterThan(dirScan.objects - 1);
  }, 300_000);
});
