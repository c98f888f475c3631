/**
 * The crash matrix (docs/testing.md): the built CLI SIGKILLed at 20 points spread over `backup`
 * (directory repository and MinIO), `restore`, `rekey` and `rotate`, each run resumed — and the
 * resume itself killed at the next point — until it completes; then the result must equal an
 * undisturbed run's:
 * - backup: the order-independent digest of the rows (values and writetimes) and schema.cql;
 * - restore: the target's tables cell by cell (values, writetimes, expiries) equal the source's;
 * - rekey: the derived backup's rows with every encrypted value opened under the new key alone
 *   (its ciphertext is random) equal the undisturbed rekey's, copied tables byte for byte;
 * - rotate: every row opened under the new key alone equals the undisturbed rotation's (each value
 *   sealed once, WRITETIME + 1 µs), which equals the seed.
 * Points are conditions on the objects the run wrote (markers counted through the store's own
 * listing), never on time; where a point is a window (a rotation's stages, the verification after
 * the last chunk), where the kill landed is recorded and the assertions do not depend on it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClusterHandle } from '../../src/cli/compose.js';
import type { ColumnCipher } from '../../src/crypto/cipher.js';
import { createCipher } from '../../src/crypto/registry.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { cliEnv, clusterFor, runCli, s3StoreFor } from '../support/cassette.js';
import { finished, killWhen, start, type KillPoint } from '../support/crash-points.js';
import { countFinished } from '../support/finished-blobs.js';
import { backupDigest, readBackup } from '../support/read-backup.js';
import { expectSame, snapshot } from '../support/table-snapshot.js';

const EVENT_PARTITIONS = 1_200;
const EVENTS_PER_PARTITION = 10;
const ACCOUNTS = 6_000;
const BASE_TS = 1_700_000_000_000_000; // µs
const CONTEXT = { keyspace: 'x', table: 'x', column: 'x' };

function fernetKey(): string {
  return randomBytes(32).toString('base64url').padEnd(44, '=');
}

/**
 * Rows the last units of a job hold at least: the "end of the job" points kill once every marker
 * is written but those of the last units holding ≥ this many rows, so the kill lands inside them
 * however small the very last range or chunk is (a range can be a sliver of the ring).
 */
const TAIL_ROWS = 1_000;

/**
 * The marker count at which the units still to do (processed in `rows` order, one at a time) hold
 * at least TAIL_ROWS rows: the largest k with rows[k] + … + rows[last] ≥ TAIL_ROWS.
 */
function tailPoint(rows: readonly number[]): number {
  let left = 0;
  for (let k = rows.length - 1; k >= 0; k--) {
    left += rows[k] as number;
    if (left >= TAIL_ROWS) return k;
  }
  return 0;
}

interface PlannedManifest {
  readonly tables: readonly { readonly name: string; readonly ranges: readonly { readonly start: string; readonly end: string; readonly rows: number; readonly chunks: readonly { readonly rows: number }[] }[] }[];
}

/** Finished objects under `prefix` of any store (the listing skips temporary names). */
async function countIn(store: BlobStore, prefix: string): Promise<number> {
  let n = 0;
  for await (const _entry of store.list(prefix)) n++;
  return n;
}

describe('crash matrix: SIGKILL and resume of backup, restore, rekey and rotate (CLI)', () => {
  const services = inject('services');
  const ks = uniqueName('crash');
  const target = `${ks}_restored`;
  const work = mkdtempSync(join(tmpdir(), 'cassette-crash-'));
  const refRepo = join(work, 'reference');
  const connection = ['--hosts', services.cassandra.host, '--port', String(services.cassandra.port), '--dc', services.cassandra.dc];
  const keys = { REKEY_OLD_KEY: fernetKey(), REKEY_NEW_KEY: fernetKey(), DECOY_KEY: fernetKey() };
  const env = cliEnv(undefined, { REKEY_OLD_KEY: keys.REKEY_OLD_KEY, REKEY_NEW_KEY: keys.REKEY_NEW_KEY });
  const points: KillPoint[] = [];
  let client: cassandra.Client;
  let handle: ClusterHandle;
  let newKeyOnly: ColumnCipher;
  let refId: string;
  let refDigest: { digest: string; rows: number };
  /** The undisturbed backup's manifest: its plan (every backup here plans the same ranges) and rows per range and chunk. */
  let refManifest: PlannedManifest;
  /** The marker count from which the ranges still to read hold ≥ TAIL_ROWS rows (ranges go in plan order with --parallel 1). */
  const rangeTail = (): number => tailPoint(refManifest.tables.flatMap((t) => t.ranges.map((r) => r.rows)));
  /** Ranges of a backup's plan, to check it is the reference's. */
  const planOf = (tables: PlannedManifest['tables'] | readonly { readonly ranges: readonly { start: string; end: string }[] }[]): string[] =>
    tables.flatMap((t) => t.ranges.map((r) => `${r.start}:${r.end}`));

  const backupArgs = ['--keyspace', ks, '--tables', 'events,accounts', ...connection, '--splits', '24', '--max-chunk-bytes', '64KiB'];
  /** Slow enough that the points land mid-run: one range at a time, small pages. */
  const slow = ['--parallel', '1', '--fetch-size', '100'];

  /** Opens a stored encrypted value under the new key alone; fails when it is not under it. */
  async function openNew(stored: Buffer, what: string): Promise<string> {
    const opened = await newKeyOnly.open(stored, CONTEXT);
    expect(opened?.current, `${what} is not under the new key`).toBe(true);
    return (opened as { plaintext: Buffer }).plaintext.toString('utf8');
  }

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    handle = await clusterFor(services.cassandra);
    await client.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    await client.execute(`CREATE TABLE ${ks}.events (pk int, ck int, note text, n bigint, PRIMARY KEY (pk, ck))`);
    const events: unknown[][] = [];
    for (let pk = 0; pk < EVENT_PARTITIONS; pk++) {
      for (let ck = 0; ck < EVENTS_PER_PARTITION; ck++) {
        const i = pk * EVENTS_PER_PARTITION + ck;
        events.push([pk, ck, `note ${i} ✓`, cassandra.types.Long.fromNumber(i * 7919), i % 10 === 0 ? 86_400 : 0, cassandra.types.Long.fromNumber(BASE_TS + i)]);
      }
    }
    await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${ks}.events (pk, ck, note, n) VALUES (?, ?, ?, ?) USING TTL ? AND TIMESTAMP ?`, events, { concurrencyLevel: 64 });

    const underOld = await createCipher({ type: 'fernet', newKey: { source: { env: 'REKEY_OLD_KEY' } }, oldKeys: [{ source: { env: 'DECOY_KEY' } }], options: {} }, keys);
    newKeyOnly = await createCipher({ type: 'fernet', newKey: { source: { env: 'REKEY_NEW_KEY' } }, oldKeys: [{ source: { env: 'DECOY_KEY' } }], options: {} }, keys);
    const accounts: unknown[][] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      const ssn = Buffer.from(await underOld.seal(Buffer.from(`ssn-${String(i).padStart(9, '0')}`), CONTEXT));
      const email = i % 10 === 3 ? null : Buffer.from(await underOld.seal(Buffer.from(`user${i}@example.com`), CONTEXT)).toString('utf8');
      accounts.push([i, ssn, email, `name ${i}`, cassandra.types.Long.fromNumber(BASE_TS + i * 3)]);
    }
    // `accounts` is backed up (and rekeyed); the rotations rotate copies of it in place.
    for (const table of ['accounts', 'rot_ref', 'rot_chain']) {
      await client.execute(`CREATE TABLE ${ks}.${table} (id int PRIMARY KEY, ssn blob, email text, name text, key_version text)`);
      await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${ks}.${table} (id, ssn, email, name, key_version) VALUES (?, ?, ?, ?, '1') USING TIMESTAMP ?`, accounts, { concurrencyLevel: 64 });
    }

    const r = runCli(['backup', '--repo', refRepo, ...backupArgs, '--json'], env);
    expect(r.status, r.stderr).toBe(0);
    refId = (JSON.parse(r.stdout) as { backupId: string }).backupId;
    refDigest = await backupDigest(new FsStore(refRepo), refId);
    refManifest = JSON.parse(readFileSync(join(refRepo, 'backups', refId, 'manifest.json'), 'utf8')) as PlannedManifest;
    expect(refDigest.rows).toBe(EVENT_PARTITIONS * EVENTS_PER_PARTITION + ACCOUNTS);
  }, 180_000);

  afterAll(async () => {
    console.log(`crash matrix: ${points.length} kill points\n${points.map((p) => `  ${p.command}: ${p.point} → ${p.landed}`).join('\n')}`);
    for (const keyspace of [ks, target]) await client?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await handle?.close();
    await client?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  /**
   * Runs `first`, then `resume` after each kill, killing run i when `points[i].reached(count)`
   * holds (`count` = finished objects under the folder `counted` names), until the last run finishes.
   */
  async function chain(command: string, store: BlobStore, counted: () => string | undefined, runs: readonly {
    readonly args: () => readonly string[];
    readonly point?: string;
    /** `count`: finished objects now; `previous`: when the previous run was killed (−1 before the first). */
    readonly reached?: (count: number, previous: number) => boolean | Promise<boolean>;
    readonly env?: NodeJS.ProcessEnv;
  }[]): Promise<string> {
    let last = '';
    let previous = -1;
    for (const run of runs) {
      const job = start(run.args(), run.env ?? env);
      const { point, reached } = run;
      if (point === undefined || reached === undefined) {
        last = JSON.stringify(await finished(job));
        break;
      }
      const count = async (): Promise<number> => {
        const folder = counted();
        return folder === undefined ? -1 : countIn(store, folder);
      };
      await killWhen(job, `${command}: ${point}`, async () => reached(await count(), previous));
      previous = await count();
      points.push({ command, point, landed: `${previous} finished under ${counted() ?? '-'}` });
    }
    return last;
  }

  /** The id of the only backup folder in a directory repository other than `except`, once its backup.json exists. */
  function newBackupIn(repo: string, except: readonly string[] = []): string | undefined {
    const dir = join(repo, 'backups');
    if (!existsSync(dir)) return undefined;
    return readdirSync(dir).find((id) => !except.includes(id) && existsSync(join(dir, id, 'backup.json')));
  }

  function plannedRanges(repo: string, id: string): number {
    const header = JSON.parse(readFileSync(join(repo, 'backups', id, 'backup.json'), 'utf8')) as { tables: { ranges: unknown[] }[] };
    return header.tables.reduce((n, t) => n + t.ranges.length, 0);
  }

  it('backup into a directory: killed after backup.json, after 1, 1/3 and 2/3 of the range markers and with the last ranges in flight; the resumed backup equals the undisturbed one', async () => {
    const repo = join(work, 'backup-fs');
    const store = new FsStore(repo);
    let id: string | undefined;
    const markers = (): string | undefined => (id ??= newBackupIn(repo)) === undefined ? undefined : `backups/${id}/ranges/`;
    const n = (): number => plannedRanges(repo, id as string);
    const resume = (): string[] => ['backup', '--repo', repo, ...connection, '--resume', id as string, ...slow];
    /** At least k markers, and more than when the previous run was killed (the resume made progress). */
    const atLeast = (k: () => number) => (count: number, previous: number): boolean => count >= Math.max(k(), previous + 1);
    await chain('backup', store, markers, [
      { args: () => ['backup', '--repo', repo, ...backupArgs, ...slow], point: 'after backup.json, before the first range marker', reached: (c) => c >= 0 },
      { args: resume, point: 'after 1 range marker', reached: atLeast(() => 1) },
      { args: resume, point: 'after 1/3 of the range markers', reached: atLeast(() => Math.ceil(n() / 3)) },
      { args: resume, point: 'after 2/3 of the range markers', reached: atLeast(() => Math.ceil((2 * n()) / 3)) },
      {
        args: resume,
        point: `the last ranges in flight (every range marker but those of the last ${TAIL_ROWS} rows; manifest.json follows the last marker with no I/O between)`,
        reached: atLeast(() => {
          expect(planOf(JSON.parse(readFileSync(join(repo, 'backups', id as string, 'backup.json'), 'utf8')).tables)).toEqual(planOf(refManifest.tables));
          return Math.min(rangeTail(), n() - 1);
        }),
      },
      { args: () => [...resume(), '--json'] },
    ]);
    expect(await backupDigest(store, id as string)).toEqual(refDigest);
    expect(readFileSync(join(repo, 'backups', id as string, 'schema.cql'), 'utf8')).toBe(readFileSync(join(refRepo, 'backups', refId, 'schema.cql'), 'utf8'));
  }, 300_000);

  it('backup into MinIO: killed after 1/3 of the range markers and with the last ranges in flight; the resumed backup equals the undisturbed one', async () => {
    const prefix = uniqueName('crash');
    const repo = `s3://${services.s3.bucket}/${prefix}`;
    const store = s3StoreFor(services.s3, prefix);
    const s3env = cliEnv(services.s3);
    const s3args = ['--repo', repo, '--s3-endpoint', services.s3.endpoint];
    let id: string | undefined;
    let planned = 0;
    const markers = (): string | undefined => (id === undefined ? undefined : `backups/${id}/ranges/`);
    const findId = async (): Promise<void> => {
      if (id !== undefined) return;
      for await (const entry of store.list('backups/')) {
        if (entry.key.endsWith('/backup.json')) {
          id = entry.key.split('/')[1] as string;
          const parts: Buffer[] = [];
          for await (const part of await store.get(entry.key)) parts.push(part as Buffer);
          const header = JSON.parse(Buffer.concat(parts).toString('utf8')) as { tables: { ranges: unknown[] }[] };
          planned = header.tables.reduce((n, t) => n + t.ranges.length, 0);
        }
      }
    };
    const resume = (): string[] => ['backup', ...s3args, ...connection, '--resume', id as string, ...slow];
    await chain('backup (MinIO)', store, markers, [
      { args: () => ['backup', ...s3args, ...backupArgs, ...slow], env: s3env, point: 'after 1/3 of the range markers', reached: async (c) => { await findId(); return planned > 0 && c >= Math.ceil(planned / 3); } },
      { args: resume, env: s3env, point: `the last ranges in flight (every range marker but those of the last ${TAIL_ROWS} rows)`, reached: (c, previous) => c >= Math.max(Math.min(rangeTail(), planned - 1), previous + 1) },
      { args: () => [...resume(), '--json'], env: s3env },
    ]);
    expect(await backupDigest(store, id as string)).toEqual(refDigest);
  }, 300_000);

  it('restore: killed after restore.json, after 1/3 of the chunk markers, with the last chunks in flight and while verifying; the target equals the source cell by cell', async () => {
    const store = new FsStore(refRepo);
    const restores = join(refRepo, 'backups', refId, 'restores');
    const manifest = JSON.parse(readFileSync(join(refRepo, 'backups', refId, 'manifest.json'), 'utf8')) as { totals: { chunks: number } };
    const n = manifest.totals.chunks;
    let rid: string | undefined;
    const done = (): string | undefined => {
      rid ??= existsSync(restores) ? readdirSync(restores).find((r) => existsSync(join(restores, r, 'restore.json'))) : undefined;
      return rid === undefined ? undefined : `backups/${refId}/restores/${rid}/done/`;
    };
    const resume = (): string[] => ['restore', refId, '--repo', refRepo, ...connection, '--resume', rid as string, '--parallel', '1'];
    await chain('restore', store, done, [
      { args: () => ['restore', refId, '--repo', refRepo, '--target-keyspace', target, ...connection, '--parallel', '1'], point: 'after restore.json, before the first chunk marker', reached: (c) => c >= 0 },
      { args: resume, point: 'after 1/3 of the chunk markers', reached: (c, previous) => c >= Math.max(Math.ceil(n / 3), previous + 1) },
      {
        args: resume,
        point: `the last chunks in flight (every chunk marker but those of the last ${TAIL_ROWS} rows)`,
        reached: (c, previous) => c >= Math.max(tailPoint(refManifest.tables.flatMap((t) => t.ranges.flatMap((r) => r.chunks.map((k) => k.rows)))), previous + 1),
      },
      {
        args: () => [...resume(), '--verify'],
        point: 'every chunk marker written, report.json not yet (--verify counting the target)',
        reached: (c) => c === n && !existsSync(join(restores, rid as string, 'report.json')),
      },
      { args: () => [...resume(), '--verify', '--json'] },
    ]);
    expect(existsSync(join(restores, rid as string, 'report.json'))).toBe(true);
    const source = await snapshot(handle, ks, ['events', 'accounts']);
    const restored = await snapshot(handle, target, ['events', 'accounts']);
    expect(restored.rows.get('events')?.size).toBe(EVENT_PARTITIONS * EVENTS_PER_PARTITION);
    expectSame(source.rows, restored.rows);
  }, 300_000);

  /** A backup's rows with every encrypted value opened under the new key alone, as a digest. */
  async function openedDigest(store: BlobStore, id: string): Promise<string> {
    const { rows } = await readBackup(store, id);
    const lines: string[] = [];
    for (const [table, list] of rows) {
      for (const { row } of list) {
        const cells: Record<string, unknown> = {};
        for (const [name, cell] of Object.entries(row.c).sort(([a], [b]) => a.localeCompare(b))) {
          const stored = name === 'ssn' ? Buffer.from(String(cell.v), 'base64') : Buffer.from(String(cell.v), 'utf8');
          const v = table === 'accounts' && (name === 'ssn' || name === 'email') ? await openNew(stored, `${table} ${JSON.stringify(row.k)} ${name}`) : cell.v;
          cells[name] = { v, t: cell.t };
        }
        lines.push(`${table} ${JSON.stringify(row.k)} ${JSON.stringify(cells)}`);
      }
    }
    return createHash('sha256').update(lines.sort().join('\n')).digest('hex');
  }

  it('rekey: killed after the new backup.json, after 1 and 1/2 of the chunk checkpoints and with the last chunks in flight; the resumed backup equals the undisturbed rekey', async () => {
    const config = join(work, 'rekey.yaml');
    writeFileSync(config, [
      `cluster: {contact_points: [${services.cassandra.host}], port: ${services.cassandra.port}, keyspace: ${ks}}`,
      'provider: {type: fernet, old_key_env: REKEY_OLD_KEY, new_key_env: REKEY_NEW_KEY, old_key_version: "1", new_key_version: "2"}',
      'tables:',
      '  - name: accounts',
      '    encrypted_columns: [ssn, email]',
      '',
    ].join('\n'));
    const store = new FsStore(refRepo);
    const straight = runCli(['rekey', refId, '--config', config, '--repo', refRepo, '--threads', '1', '--json'], env);
    expect(straight.status, straight.stderr).toBe(0);
    const straightId = (JSON.parse(straight.stdout) as { backupId: string }).backupId;
    const manifest = JSON.parse(readFileSync(join(refRepo, 'backups', refId, 'manifest.json'), 'utf8')) as { tables: { name: string; ranges: { chunks: unknown[] }[] }[] };
    const n = manifest.tables.find((t) => t.name === 'accounts')?.ranges.reduce((k, r) => k + r.chunks.length, 0) ?? 0;
    let id: string | undefined;
    const checkpoints = (): string | undefined => (id ??= newBackupIn(refRepo, [refId, straightId])) === undefined ? undefined : `backups/${id}/rekey/accounts/`;
    const resume = (): string[] => ['rekey', '--resume', id as string, '--config', config, '--repo', refRepo, '--threads', '1'];
    await chain('rekey', store, checkpoints, [
      { args: () => ['rekey', refId, '--config', config, '--repo', refRepo, '--threads', '1'], point: 'after the new backup.json, before the first chunk checkpoint', reached: (c) => c >= 0 },
      { args: resume, point: 'after 1 chunk checkpoint (re-encrypting)', reached: (c, previous) => c >= Math.max(1, previous + 1) },
      { args: resume, point: 'after 1/2 of the chunk checkpoints (re-encrypting)', reached: (c, previous) => c >= Math.max(Math.ceil(n / 2), previous + 1) },
      {
        args: resume,
        point: `the last chunks in flight (every checkpoint but those of the last ${TAIL_ROWS} rows)`,
        reached: (c, previous) => c >= Math.max(tailPoint(refManifest.tables.filter((t) => t.name === 'accounts').flatMap((t) => t.ranges.flatMap((r) => r.chunks.map((k) => k.rows)))), previous + 1),
      },
      { args: () => [...resume(), '--json'] },
    ]);
    expect(await openedDigest(store, id as string)).toBe(await openedDigest(store, straightId));
    expect(readFileSync(join(refRepo, 'backups', id as string, 'schema.cql'), 'utf8')).toBe(readFileSync(join(refRepo, 'backups', refId, 'schema.cql'), 'utf8'));
  }, 300_000);

  /** Every row of a rotated table with its values opened under the new key alone, and every WRITETIME, sorted. */
  async function rotatedDump(table: string): Promise<string[]> {
    const rs = await client.execute(`SELECT id, ssn, email, name, key_version, WRITETIME(ssn) AS w_ssn, WRITETIME(email) AS w_email, WRITETIME(name) AS w_name,
      WRITETIME(key_version) AS w_kv FROM ${ks}.${table}`, [], { fetchSize: 100_000 });
    const out: string[] = [];
    for (const r of rs.rows) {
      const email = r.get('email') as string | null;
      out.push(JSON.stringify([
        r.get('id'), await openNew(r.get('ssn') as Buffer, `${table} ${String(r.get('id'))} ssn`), email === null ? null : await openNew(Buffer.from(email, 'utf8'), `${table} email`),
        r.get('name'), r.get('key_version'), String(r.get('w_ssn')), String(r.get('w_email')), String(r.get('w_name')), String(r.get('w_kv')),
      ]));
    }
    return out.sort();
  }

  it('rotate: killed after job.json, inside an export, a transform and a write-back, and in the verification round; the table equals the undisturbed rotation', async () => {
    const configFor = (table: string): { config: string; repo: string } => {
      const repo = join(work, `rotate-${table}`);
      const config = join(work, `${table}.yaml`);
      writeFileSync(config, [
        `cluster: {contact_points: [${services.cassandra.host}], port: ${services.cassandra.port}, local_dc: ${services.cassandra.dc}, keyspace: ${ks}}`,
        `repo: ${repo}`,
        'provider: {type: fernet, old_key_env: REKEY_OLD_KEY, new_key_env: REKEY_NEW_KEY, old_key_version: "1", new_key_version: "2"}',
        'tables:',
        `  - name: ${table}`,
        '    encrypted_columns: [ssn, email]',
        '    chunks: 16',
        'execution: {workers: 1}',
        '',
      ].join('\n'));
      return { config, repo };
    };
    const ref = configFor('rot_ref');
    const straight = runCli(['rotate', '--config', ref.config, '--json'], env);
    expect(straight.status, straight.stderr).toBe(0);

    const { config, repo } = configFor('rot_chain');
    const rotations = join(repo, 'rotations');
    const jobId = (): string | undefined => (existsSync(rotations) ? readdirSync(rotations).find((j) => existsSync(join(rotations, j, 'job.json'))) : undefined);
    /** Finished round-0 markers of each stage (later stages read first, so a stage never looks behind the next). */
    const stages = async (): Promise<{ ranges: number; exported: number; transformed: number; written: number; verified: boolean }> => {
      const job = jobId();
      if (job === undefined) return { ranges: 0, exported: -1, transformed: -1, written: -1, verified: false };
      const plan = JSON.parse(readFileSync(join(rotations, job, 'job.json'), 'utf8')) as { tables: { ranges: unknown[] }[] };
      const round = `rotations/${job}/rounds/000/`;
      const verified = existsSync(join(repo, round, 'verified.json'));
      const written = await countFinished(repo, `${round}written/rot_chain/`);
      const transformed = await countFinished(repo, `${round}transform/done/rot_chain/`);
      const exported = await countFinished(repo, `${round}export/ranges/rot_chain/`);
      return { ranges: plan.tables[0]?.ranges.length ?? 0, exported, transformed, written, verified };
    };
    let after = 0;
    /** Inside `stage` of range k = written, past the ranges finished at the previous kill; not the last range. */
    const inside = (stage: 'export' | 'transform' | 'write-back') => async (): Promise<boolean> => {
      const m = await stages();
      if (m.written < Math.max(2, after + 1) || m.written >= m.ranges - 1) return false;
      const yes = stage === 'export' ? m.exported === m.written && m.transformed === m.written
        : stage === 'transform' ? m.exported === m.written + 1 && m.transformed === m.written
          : m.exported === m.written + 1 && m.transformed === m.written + 1;
      if (yes) after = m.written;
      return yes;
    };
    const store = new FsStore(repo);
    const rotate = (...extra: string[]) => (): string[] => ['rotate', '--config', config, ...extra];
    const landed = async (): Promise<string> => JSON.stringify(await stages());
    const kill = async (point: string, args: readonly string[], reached: () => Promise<boolean>): Promise<void> => {
      const job = start(args, env);
      await killWhen(job, `rotate: ${point}`, reached);
      points.push({ command: 'rotate', point, landed: await landed() });
    };
    await kill('after job.json, before the first export marker', rotate()(), async () => (await stages()).exported === 0);
    await kill('inside the export of a range', rotate('--fetch-size', '50')(), inside('export'));
    await kill('inside the transform of a range', rotate()(), inside('transform'));
    // --rate stretches the write-back of a range over ~0.3 s.
    await kill('inside the write-back of a range', rotate('--rate', '1500')(), inside('write-back'));
    // The killed run's rate is kept with the job: lift it.
    await kill('in the verification round (every range written back, report.json not yet)', rotate('--rate', '1000000')(), async () => {
      const m = await stages();
      return m.ranges > 0 && m.written === m.ranges && !existsSync(join(rotations, jobId() as string, 'report.json'));
    });
    const report = JSON.parse(await chain('rotate', store, () => undefined, [{ args: rotate('--json') }])) as { jobId: string; resumed: boolean };
    expect(report).toMatchObject({ jobId: jobId(), resumed: true });
    expect(readdirSync(rotations)).toHaveLength(1);

    const expected = await rotatedDump('rot_ref');
    expect(expected).toHaveLength(ACCOUNTS);
    // The undisturbed rotation: each value sealed once under the new key, WRITETIME + 1 µs, name untouched.
    for (const line of expected) {
      const i = (JSON.parse(line) as [number])[0];
      const wt = BigInt(BASE_TS + i * 3);
      expect(JSON.parse(line)).toEqual([
        i, `ssn-${String(i).padStart(9, '0')}`, i % 10 === 3 ? null : `user${i}@example.com`, `name ${i}`, '2', String(wt + 1n), i % 10 === 3 ? 'null' : String(wt + 1n), String(wt), String(wt + 1n),
      ]);
    }
    expect(await rotatedDump('rot_chain')).toEqual(expected);
  }, 300_000);

  it('covers at least 20 kill points', () => {
    expect(points.length).toBeGreaterThanOrEqual(20);
  });
});
