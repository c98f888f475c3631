/**
 * The built `cassette rotate` end to end against the real Cassandra: a job SIGKILLed inside the
 * export, the transform and the write-back of a range resumes as the same job and rotates every
 * value exactly once (it opens under the new key alone to the original plaintext, not to a Fernet
 * token), loses nothing and keeps WRITETIME + 1 µs; `rotate pause` stops a running job,
 * `rotate throttle` changes its rate while it runs and `rotate resume` lets it finish; a re-run
 * after completion is a new job that changes nothing.
 *
 * With `execution.workers: 1` the ranges go one after another, so the stage the job is in shows
 * in the repository: range k is in export while k ranges have every marker, in transform while
 * k + 1 are exported and k transformed, in write-back while k + 1 are transformed and k written.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ColumnCipher } from '../../src/crypto/cipher.js';
import { createCipher } from '../../src/crypto/registry.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { cliEnv, runCli } from '../support/cassette.js';
import { finished, killWhen, start, type RunningCli } from '../support/crash-points.js';

const ROWS = 30_000;
/**
 * Rows and ranges of the pause/throttle test: every row of the seed, cut finely enough that a
 * range takes about a second at the throttled rate. Wall-time phases (rate measurements, CLI
 * calls) decide how much is done before the pause, so the rest must outlast them even on a busy
 * machine.
 */
const PAUSE_ROWS = 30_000;
const PAUSE_RANGES = 48;
/**
 * The `chunks` asked of the config. The job may plan a few more ranges: ranges never cross a ring
 * token, so a vnode interval too narrow for its share still gets one (the count depends on the
 * cluster's random tokens). Tests use the planned count from job.json ({@link Markers.ranges}).
 */
const RANGES = 32;
const BASE_TS = 1_700_000_000_000_000; // µs

/** A Fernet key as Python's Fernet.generate_key() writes it. */
function fernetKey(): string {
  return randomBytes(32).toString('base64url').padEnd(44, '=');
}

/** Row i of the dataset: its key, plaintexts, clear columns and WRITETIME. */
interface SeedRow {
  readonly tenant: string;
  readonly userId: number;
  readonly eventTime: number;
  readonly ssn: string;
  /** Every tenth row has no email: a null encrypted column stays null. */
  readonly email: string | null;
  readonly name: string;
  readonly writetime: number;
}

function seedRow(i: number): SeedRow {
  return {
    tenant: `tenant-${i % 50}`,
    userId: Math.floor(i / 50),
    eventTime: 1_700_000_000_000 + i,
    ssn: `ssn-${String(i).padStart(9, '0')}`,
    email: i % 10 === 3 ? null : `user${i}@example.com`,
    name: `name ${i}`,
    writetime: BASE_TS + i * 3,
  };
}

type Stage = 'export' | 'transform' | 'write-back';

/** Markers of the round-0 stages of the newest job in a directory repository. */
interface Markers {
  readonly jobIds: readonly string[];
  /** Ranges the job planned for the table (0 before job.json exists). */
  readonly ranges: number;
  readonly exported: number;
  readonly transformed: number;
  readonly written: number;
}

function countMarkers(dir: string): number {
  return existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.json') && !name.startsWith('.')).length : 0;
}

function markersOf(repo: string, table: string): Markers {
  const root = join(repo, 'rotations');
  const jobIds = existsSync(root) ? readdirSync(root).filter((name) => name.startsWith('j')).sort() : [];
  const job = jobIds.at(-1);
  if (job === undefined) return { jobIds, ranges: 0, exported: 0, transformed: 0, written: 0 };
  const plan = join(root, job, 'job.json');
  const ranges = existsSync(plan)
    ? ((JSON.parse(readFileSync(plan, 'utf8')) as { tables: { name: string; ranges: unknown[] }[] }).tables.find((t) => t.name === table)?.ranges.length ?? 0)
    : 0;
  const round = join(root, job, 'rounds', '000');
  // Later stages first: a marker appearing between the reads can only make an earlier stage look further on.
  const written = countMarkers(join(round, 'written', table));
  const transformed = countMarkers(join(round, 'transform', 'done', table));
  const exported = countMarkers(join(round, 'export', 'ranges', table));
  return { jobIds, ranges, exported, transformed, written };
}

/** Sum of `written` over the job's write-back markers: rows of finished ranges. */
function rowsOfWrittenRanges(repo: string, table: string, jobId: string): number {
  const dir = join(repo, 'rotations', jobId, 'rounds', '000', 'written', table);
  return readdirSync(dir).filter((n) => n.endsWith('.json')).reduce((sum, n) => sum + (JSON.parse(readFileSync(join(dir, n), 'utf8')) as { written: number }).written, 0);
}

/** True when the job is inside `stage` of range k = markers.written (k ≥ 2, not the last range). */
function isInside(stage: Stage, m: Markers): boolean {
  if (m.written < 2 || m.written >= m.ranges - 1) return false;
  switch (stage) {
    case 'export':
      return m.exported === m.written && m.transformed === m.written;
    case 'transform':
      return m.exported === m.written + 1 && m.transformed === m.written;
    case 'write-back':
      return m.exported === m.written + 1 && m.transformed === m.written + 1;
  }
}

/** A started CLI with its output collected and its end observable. */
/** Waits until `condition` holds; fails clearly when the job ends first or time runs out. */
async function waitUntil(job: RunningCli, what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (job.exited()) throw new Error(`the job ended before ${what}:\n${job.stderr()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('cassette rotate: SIGKILL and resume, pause/resume/throttle (CLI)', () => {
  const services = inject('services');
  const ks = uniqueName('it_rotres');
  const work = mkdtempSync(join(tmpdir(), 'cassette-rotres-'));
  const keys = { REKEY_OLD_KEY: fernetKey(), REKEY_NEW_KEY: fernetKey(), DECOY_KEY: fernetKey() };
  const env = cliEnv(undefined, { REKEY_OLD_KEY: keys.REKEY_OLD_KEY, REKEY_NEW_KEY: keys.REKEY_NEW_KEY });
  const rows = Array.from({ length: ROWS }, (_, i) => seedRow(i));
  const indexOf = new Map(rows.map((r, i) => [`${r.tenant}|${r.userId}|${r.eventTime}`, i]));
  let client: cassandra.Client;
  /** The seeded values as stored: sealed under the old key once, reused for every table. */
  let sealed: { ssn: Buffer; email: string | null }[];
  /** Opens only what the NEW key sealed (its "old key" is a key nothing was sealed with). */
  let newKeyOnly: ColumnCipher;
  let finishedWriteBack: { table: string; repo: string; config: string } | undefined;

  /** Creates `table`, fills it with the first `count` rows, and writes a config rotating it into its own repository. */
  async function prepare(table: string, count: number, ranges = RANGES): Promise<{ repo: string; config: string }> {
    await client.execute(`CREATE TABLE ${ks}.${table} (tenant text, user_id int, event_time timestamp, ssn blob, email text, name text, key_version text,
      PRIMARY KEY ((tenant, user_id), event_time))`);
    const insert = `INSERT INTO ${ks}.${table} (tenant, user_id, event_time, ssn, email, name, key_version) VALUES (?, ?, ?, ?, ?, ?, '1') USING TIMESTAMP ?`;
    const params = rows.slice(0, count).map((r, i) => [r.tenant, r.userId, new Date(r.eventTime), sealed[i]?.ssn, sealed[i]?.email, r.name, r.writetime]);
    await cassandra.concurrent.executeConcurrent(client, insert, params, { concurrencyLevel: 64 });
    const repo = join(work, `repo-${table}`);
    const config = join(work, `${table}.yaml`);
    writeFileSync(config, [
      `cluster: {contact_points: [${services.cassandra.host}], port: ${services.cassandra.port}, local_dc: ${services.cassandra.dc}, keyspace: ${ks}}`,
      `repo: ${repo}`,
      'provider: {type: fernet, old_key_env: REKEY_OLD_KEY, new_key_env: REKEY_NEW_KEY, old_key_version: "1", new_key_version: "2"}',
      'tables:',
      `  - name: ${table}`,
      '    partition_key: [tenant, user_id]',
      '    clustering_key: [event_time]',
      '    encrypted_columns: [ssn, email]',
      `    chunks: ${ranges}`,
      'execution: {workers: 1}',
      '',
    ].join('\n'));
    return { repo, config };
  }

  /** Rows of `table` whose key_version is '2'. */
  async function rotatedRows(table: string): Promise<number> {
    const rs = await client.execute(`SELECT key_version FROM ${ks}.${table}`, [], { fetchSize: 100_000 });
    return rs.rows.filter((r) => r.get('key_version') === '2').length;
  }

  /** Every row, values and WRITETIMEs, as sorted lines (to compare a table before and after). */
  async function dump(table: string): Promise<string[]> {
    const rs = await client.execute(`SELECT tenant, user_id, event_time, ssn, email, name, key_version, WRITETIME(ssn) AS w_ssn,
      WRITETIME(email) AS w_email, WRITETIME(name) AS w_name, WRITETIME(key_version) AS w_kv FROM ${ks}.${table}`, [], { fetchSize: 100_000 });
    return rs.rows.map((r) => [
      r.get('tenant'), r.get('user_id'), (r.get('event_time') as Date).getTime(), (r.get('ssn') as Buffer).toString('hex'), r.get('email'), r.get('name'),
      r.get('key_version'), String(r.get('w_ssn')), String(r.get('w_email')), String(r.get('w_name')), String(r.get('w_kv')),
    ].join(' ')).sort();
  }

  /**
   * The whole table against the seed: `count` rows, each encrypted value opening under the new key
   * alone to its original plaintext (sealed once — twice would open to a Fernet token), clear
   * columns unchanged, key_version '2', WRITETIMEs of the rotated cells = original + 1 µs.
   */
  async function expectRotatedOnce(table: string, count: number): Promise<void> {
    const rs = await client.execute(`SELECT tenant, user_id, event_time, ssn, email, name, key_version, WRITETIME(ssn) AS w_ssn,
      WRITETIME(email) AS w_email, WRITETIME(name) AS w_name, WRITETIME(key_version) AS w_kv FROM ${ks}.${table}`, [], { fetchSize: 100_000 });
    const problems: string[] = [];
    const seen = new Set<number>();
    const context = (column: string) => ({ keyspace: ks, table, column });
    const opens = async (stored: Buffer, column: string, plaintext: string, at: string): Promise<void> => {
      const opened = await newKeyOnly.open(stored, context(column));
      if (opened === undefined || !opened.current) problems.push(`${at}: ${column} does not open under the new key`);
      else if (opened.plaintext.toString('utf8') !== plaintext) {
        problems.push(`${at}: ${column} opens to ${opened.plaintext.toString('utf8').startsWith('gAAAAA') ? 'a Fernet token (sealed twice)' : 'another value'}`);
      }
    };
    for (const r of rs.rows) {
      const at = `${String(r.get('tenant'))}/${String(r.get('user_id'))}`;
      const i = indexOf.get(`${String(r.get('tenant'))}|${Number(r.get('user_id'))}|${(r.get('event_time') as Date).getTime()}`);
      if (i === undefined || i >= count) {
        problems.push(`${at}: a row that was never seeded`);
        continue;
      }
      seen.add(i);
      const want = rows[i] as SeedRow;
      const original = BigInt(want.writetime);
      if (r.get('name') !== want.name) problems.push(`${at}: name changed`);
      if (BigInt(String(r.get('w_name'))) !== original) problems.push(`${at}: WRITETIME(name) changed`);
      if (r.get('key_version') !== '2') problems.push(`${at}: key_version ${String(r.get('key_version'))}`);
      if (BigInt(String(r.get('w_kv'))) !== original + 1n) problems.push(`${at}: WRITETIME(key_version) ${String(r.get('w_kv'))}, want original + 1`);
      await opens(r.get('ssn') as Buffer, 'ssn', want.ssn, at);
      if (BigInt(String(r.get('w_ssn'))) !== original + 1n) problems.push(`${at}: WRITETIME(ssn) ${String(r.get('w_ssn'))}, want original + 1`);
      const email = r.get('email') as string | null;
      if (want.email === null) {
        if (email !== null) problems.push(`${at}: email was null and is not`);
      } else if (email === null) {
        problems.push(`${at}: email lost`);
      } else {
        await opens(Buffer.from(email, 'utf8'), 'email', want.email, at);
        if (BigInt(String(r.get('w_email'))) !== original + 1n) problems.push(`${at}: WRITETIME(email) ${String(r.get('w_email'))}, want original + 1`);
      }
    }
    expect(problems.slice(0, 10), `${problems.length} problems`).toEqual([]);
    expect(rs.rows.length).toBe(count);
    expect(seen.size).toBe(count);
  }

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    await client.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    const underOld = await createCipher({ type: 'fernet', newKey: { source: { env: 'REKEY_OLD_KEY' } }, oldKeys: [{ source: { env: 'DECOY_KEY' } }], options: {} }, keys);
    newKeyOnly = await createCipher({ type: 'fernet', newKey: { source: { env: 'REKEY_NEW_KEY' } }, oldKeys: [{ source: { env: 'DECOY_KEY' } }], options: {} }, keys);
    sealed = [];
    for (const r of rows) {
      const context = (column: string) => ({ keyspace: ks, table: 'users', column });
      sealed.push({
        ssn: Buffer.from(await underOld.seal(Buffer.from(r.ssn), context('ssn'))),
        email: r.email === null ? null : Buffer.from(await underOld.seal(Buffer.from(r.email), context('email'))).toString('utf8'),
      });
    }
  });

  afterAll(async () => {
    await client?.execute(`DROP KEYSPACE IF EXISTS ${ks}`);
    await client?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  /**
   * SIGKILLs a job inside `stage` of some range (settling `settleMs` first, so the kill lands
   * within the stage rather than at its edge), then reads from the markers where it died: undefined
   * when a marker landed between the last look and the kill (the stage had just ended).
   */
  async function killInside(job: RunningCli, repo: string, table: string, stage: Stage, settleMs: number): Promise<Markers | undefined> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (job.exited()) {
        throw new Error(`the job ended before it was seen inside the ${stage} stage of a range (markers ${JSON.stringify(markersOf(repo, table))}):\n${job.stderr()}`);
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the ${stage} stage`);
      const seen = markersOf(repo, table);
      if (isInside(stage, seen)) {
        await sleep(settleMs);
        const now = markersOf(repo, table);
        if (now.exported === seen.exported && now.transformed === seen.transformed && now.written === seen.written) {
          job.child.kill('SIGKILL');
          const end = await job.ended;
          expect(end.signal, `the job exited by itself (${String(end.code)}):\n${job.stderr()}`).toBe('SIGKILL');
          const after = markersOf(repo, table);
          return isInside(stage, after) ? after : undefined;
        }
        continue;
      }
      await sleep(2);
    }
  }

  const stageCases: readonly { stage: Stage; settleMs: number; args: readonly string[] }[] = [
    // Pages of 100 rows: a range's export is ~10 round trips, a window wide enough to land in.
    { stage: 'export', settleMs: 10, args: ['--fetch-size', '100'] },
    { stage: 'transform', settleMs: 10, args: [] },
    // 2,000 rows/s: a range's write-back takes ~0.5 s; kill ~0.15 s into it, mid-range.
    { stage: 'write-back', settleMs: 150, args: ['--rate', '2000'] },
  ];

  for (const { stage, settleMs, args } of stageCases) {
    it(`after SIGKILL inside the ${stage} stage, re-running resumes the same job and rotates every value exactly once`, async () => {
      // A kill can land just after the stage ended (a marker written between the last look and the
      // signal); then the scenario runs again on a fresh table, up to 3 times.
      let landed: { table: string; repo: string; config: string; killed: Markers } | undefined;
      const edges: string[] = [];
      for (let attempt = 0; attempt < 3 && landed === undefined; attempt++) {
        const table = `users_${stage.replace('-', '_')}${attempt === 0 ? '' : `_${attempt}`}`;
        const { repo, config } = await prepare(table, ROWS);
        const job = start(['rotate', '--config', config, '--json', ...args], env);
        const killed = await killInside(job, repo, table, stage, settleMs);
        if (killed === undefined) edges.push(JSON.stringify(markersOf(repo, table)));
        else landed = { table, repo, config, killed };
      }
      expect(landed, `every kill landed just outside the ${stage} stage: ${edges.join(', ')}`).toBeDefined();
      const { table, repo, config, killed } = landed as NonNullable<typeof landed>;
      expect(killed.jobIds).toHaveLength(1);
      const jobId = killed.jobIds[0] as string;
      const doneBefore = rowsOfWrittenRanges(repo, table, jobId);
      if (stage === 'write-back') {
        // Really mid-range: more rows carry the new version than the finished ranges hold.
        const rotated = await rotatedRows(table);
        expect(rotated).toBeGreaterThan(doneBefore);
        expect(rotated).toBeLessThan(ROWS);
      }
      const status = runCli(['rotate', 'status', '--config', config, '--json'], env);
      expect(status.status, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ jobId, state: 'unfinished', tables: [{ written: killed.written, exported: killed.exported }] });

      // The killed run's --rate is recorded with the job (a control document): raise it so the resume is quick.
      const resumed = runCli(['rotate', '--config', config, '--json', ...(stage === 'write-back' ? ['--rate', '1000000'] : [])], env);
      expect(resumed.status, resumed.stderr).toBe(0);
      const report = JSON.parse(resumed.stdout) as { jobId: string; resumed: boolean; rounds: number; durationMs: number; rowsPerSecond: number; tables: unknown[] };
      expect(report).toMatchObject({ jobId, resumed: true, rounds: 1 });
      // The rate is of the rows this run wrote: the ranges the killed run had not finished.
      expect(report.rowsPerSecond).toBe(Math.round(((ROWS - doneBefore) * 1000) / report.durationMs));
      expect(report.tables).toEqual([expect.objectContaining({
        name: table, ranges: markersOf(repo, table).ranges, rowsExported: ROWS, rowsChanged: ROWS, rowsSkipped: 0, valuesRotated: ROWS * 2 - ROWS / 10, valuesQuarantined: 0, written: ROWS, raced: 0,
      })]);
      expect(readdirSync(join(repo, 'rotations'))).toEqual([jobId]);
      await expectRotatedOnce(table, ROWS);
      if (stage === 'write-back') finishedWriteBack = { table, repo, config };
    }, 360_000);
  }

  it('re-running after completion starts a new job that skips every row and changes nothing', async () => {
    expect(finishedWriteBack, 'needs the table the write-back test rotated').toBeDefined();
    const { table, repo, config } = finishedWriteBack as { table: string; repo: string; config: string };
    const [firstJob] = readdirSync(join(repo, 'rotations'));
    const before = await dump(table);
    const again = runCli(['rotate', '--config', config, '--json'], env);
    expect(again.status, again.stderr).toBe(0);
    const report = JSON.parse(again.stdout) as { jobId: string; tables: unknown[] };
    expect(report).toMatchObject({ resumed: false, valuesRotated: 0, valuesQuarantined: 0 });
    expect(report.jobId).not.toBe(firstJob);
    expect(report.tables).toEqual([expect.objectContaining({ rowsExported: ROWS, rowsChanged: 0, rowsSkipped: ROWS, valuesRotated: 0, written: 0 })]);
    expect(readdirSync(join(repo, 'rotations')).sort()).toEqual([firstJob, report.jobId].sort());
    expect(await dump(table)).toEqual(before);
  }, 60_000);

  it('throttle changes the rate of a running job, pause stops it, resume lets it finish', async () => {
    const table = 'users_paused';
    const { repo, config } = await prepare(table, PAUSE_ROWS, PAUSE_RANGES);
    const status = (): { state: string; rate: number | null; lastRange?: { rate: number | null }; tables: { written: number; exported: number }[] } => {
      const r = runCli(['rotate', 'status', '--config', config, '--json'], env);
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as ReturnType<typeof status>;
    };
    const control = (...args: string[]): void => {
      const r = runCli(['rotate', ...args, '--config', config], env);
      expect(r.status, r.stderr).toBe(0);
    };
    /** Rows written back per second over `ms`, from the rows carrying the new version. */
    const rateOver = async (ms: number): Promise<number> => {
      const measure = async (): Promise<{ rows: number; at: number }> => {
        const from = Date.now();
        const rows = await rotatedRows(table);
        return { rows, at: (from + Date.now()) / 2 };
      };
      const first = await measure();
      await sleep(ms);
      const second = await measure();
      expect(second.rows, 'the job finished during a measurement').toBeLessThan(PAUSE_ROWS);
      return ((second.rows - first.rows) * 1000) / (second.at - first.at);
    };

    const job = start(['rotate', '--config', config, '--rate', '2000'], env);
    await waitUntil(job, 'three ranges were written', () => markersOf(repo, table).written >= 3);
    // Well above the bound checked under the throttle, so that bound tells the two apart.
    const before = await rateOver(2_000);
    expect(before, `rows/s at --rate 2000: ${before.toFixed(0)}`).toBeGreaterThan(900);

    // Throttle while it writes: the next tick applies it to the write-back in flight.
    control('throttle', '--rate', '500');
    expect(status()).toMatchObject({ state: 'unfinished', rate: 500 });
    await sleep(1_500);
    const throttled = await rateOver(4_000);
    expect(throttled, `rows/s while throttled to 500: ${throttled.toFixed(0)}`).toBeLessThanOrEqual(800);
    expect(throttled).toBeGreaterThan(100);
    expect(status()).toMatchObject({ state: 'unfinished', rate: 500, lastRange: { rate: 500 } });

    // Pause: the range in flight finishes, then no new range starts.
    control('pause');
    const pausedAt = Date.now();
    let written = markersOf(repo, table).written;
    let quietSince = Date.now();
    while (Date.now() - quietSince < 3_000) {
      expect(Date.now() - pausedAt, 'the job kept writing ranges after the pause').toBeLessThan(8_000);
      expect(job.exited(), `the job ended while paused:\n${job.stderr()}`).toBe(false);
      await sleep(50);
      const now = markersOf(repo, table).written;
      if (now !== written) {
        written = now;
        quietSince = Date.now();
      }
    }
    const stopped = markersOf(repo, table);
    expect(stopped.written).toBeLessThan(stopped.ranges);
    // It waits before the next range's export: nothing of the next range has started.
    expect(stopped.exported).toBe(stopped.written);
    const rotatedWhilePaused = await rotatedRows(table);
    await sleep(1_500);
    expect(await rotatedRows(table)).toBe(rotatedWhilePaused);
    expect(markersOf(repo, table).written).toBe(written);
    expect(status()).toMatchObject({ state: 'paused', rate: 500, tables: [{ written }] });
    // Throttled further while paused, so that the job is certainly still running when the rate is
    // lifted below, however long the CLI calls in between take on a busy machine.
    control('throttle', '--rate', '100');
    expect(status()).toMatchObject({ state: 'paused', rate: 100, tables: [{ written }] });

    // Resume: it writes again, at the rate set while paused; lifting the rate lets it complete.
    control('resume');
    await waitUntil(job, 'a range written after the resume', () => markersOf(repo, table).written > written, 30_000);
    expect(status()).toMatchObject({ state: 'unfinished', rate: 100 });
    control('throttle', '--rate', 'unlimited');
    const end = await Promise.race([job.ended, sleep(90_000).then(() => undefined)]);
    expect(end, 'the job did not finish after the rate was lifted').toBeDefined();
    expect(end?.code, job.stderr()).toBe(0);
    expect(job.stdout()).toMatch(/^rotation j\S+ of keyspace \S+ complete: every row is under key version 2/);
    expect(job.stderr()).toMatch(/rate set to 500 rows\/s/);
    expect(job.stderr()).toMatch(/pause requested/);
    expect(job.stderr()).toMatch(/rate set to 100 rows\/s/);
    expect(job.stderr()).toMatch(/: resumed/);
    expect(job.stderr()).toMatch(/rate set to unlimited/);
    expect(status()).toMatchObject({ state: 'complete', rate: null });
    expect(readdirSync(join(repo, 'rotations'))).toHaveLength(1);
    await expectRotatedOnce(table, PAUSE_ROWS);
  }, 150_000);
  it('a schema change while the job runs stops it before the next write-back (exit 11); --new starts a job on the new schema', async () => {
    const table = 'drift';
    const { repo, config } = await prepare(table, 6_000);
    const job = start(['rotate', '--config', config, '--rate', '500'], env);
    await waitUntil(job, 'two ranges written back', () => markersOf(repo, table).written >= 2, 60_000);
    await client.execute(`ALTER TABLE ${ks}.${table} ADD added_later text`);
    const end = await Promise.race([job.ended, sleep(60_000).then(() => undefined)]);
    expect(end, 'the job did not stop after the schema change').toBeDefined();
    expect(end?.code, job.stderr()).toBe(11);
    expect(job.stderr()).toMatch(new RegExp(`the schema of ${ks}\\.${table} changed since rotation j\\S+ was planned; nothing more is written`));
    expect(markersOf(repo, table).written).toBeLessThan(markersOf(repo, table).ranges);

    // Running it again resumes the same job, which refuses at once; --new plans a job on the new schema.
    const again = runCli(['rotate', '--config', config], env);
    expect(again.status, again.stderr).toBe(11);
    const fresh = runCli(['rotate', '--config', config, '--new', '--json'], env);
    expect(fresh.status, fresh.stderr).toBe(0);
    expect(readdirSync(join(repo, 'rotations'))).toHaveLength(2);
    await expectRotatedOnce(table, 6_000);
  }, 150_000);

  /** A fresh job id for a shared job (j, UTC time, 6 hex digits). */
  const sharedJobId = (): string => `j${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
  interface SharedReport { jobId: string; resumed: boolean; valuesRotated: number; tables: { written: number; ranges: number }[] }
  const listed = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);

  it('three workers on one job (--job-id, docs/format.md §13) rotate every value exactly once', async () => {
    const table = 'users_shared';
    const { repo, config } = await prepare(table, ROWS);
    const id = sharedJobId();
    const workers = [1, 2, 3].map(() => start(['rotate', '--config', config, '--job-id', id, '--json'], env));
    const reports = await Promise.all(workers.map((w) => finished<SharedReport>(w)));
    // One job, whoever planned it; every worker returns once the job is verified, with its totals.
    expect(readdirSync(join(repo, 'rotations'))).toEqual([id]);
    expect(reports.map((r) => r.jobId)).toEqual([id, id, id]);
    expect(reports.map((r) => r.valuesRotated)).toEqual(Array(3).fill(ROWS * 2 - ROWS / 10));
    expect(reports.filter((r) => !r.resumed)).toHaveLength(1);
    expect(listed(join(repo, 'rotations', id, 'rounds', '000', 'written', table))).toHaveLength(markersOf(repo, table).ranges);
    await expectRotatedOnce(table, ROWS);
  }, 360_000);

  it('one of three workers SIGKILLed halfway: the others take over its claim and the job completes', async () => {
    const table = 'users_shared_kill';
    const { repo, config } = await prepare(table, ROWS);
    const id = sharedJobId();
    // 2,000 rows/s per worker: a range's write-back takes ~0.5 s, so the first worker holds a range
    // in flight, and the other two still work for seconds after the kill (while status is read).
    const workers = [1, 2, 3].map(() => start(['rotate', '--config', config, '--job-id', id, '--rate', '2000', '--json'], env));
    const pid = workers[0]?.child.pid;
    const round = join(repo, 'rotations', id, 'rounds', '000');
    let open: string | undefined;
    /** A range the first worker claimed and has not written back, once a third of the ranges are. */
    const holdsOpenClaim = (): boolean => {
      const written = listed(join(round, 'written', table));
      const ranges = markersOf(repo, table).ranges;
      if (ranges === 0 || written.length < ranges / 3) return false;
      const claims = join(round, 'claims', table);
      open = listed(claims).find((range) => !written.includes(`${range}.json`) && listed(join(claims, range)).filter((gen) => /^\d{5}\.json$/.test(gen)).some((gen) => {
        try {
          return (JSON.parse(readFileSync(join(claims, range, gen), 'utf8')) as { pid: number }).pid === pid;
        } catch {
          return false;
        }
      }));
      return open !== undefined;
    };
    await killWhen(workers[0] as RunningCli, 'a third of the ranges written back and a range of its own in flight', holdsOpenClaim);
    // `rotate status` sums every worker's markers and claims: three workers' leases (the killed
    // one's too, until it is judged dead), the round's ranges, the last minute's rate.
    const status = runCli(['rotate', 'status', '--config', config, '--job', id, '--json'], env);
    expect(status.status, status.stderr).toBe(0);
    const view = (JSON.parse(status.stdout) as { state: string; run?: { tables: { total: number; done: number }[]; workers: { pid: number; live: boolean }[]; rowsPerSecondLastMinute: number } });
    expect(view.state, 'the job is still running when its status is read').toBe('unfinished');
    expect(view.run?.tables[0]?.total).toBe(markersOf(repo, table).ranges);
    expect(view.run?.tables[0]?.done).toBeGreaterThan(0);
    expect(view.run?.workers.map((w) => w.pid).sort()).toEqual(workers.map((w) => w.child.pid).sort());
    expect(view.run?.rowsPerSecondLastMinute).toBeGreaterThan(0);
    const reports = await Promise.all(workers.slice(1).map((w) => finished<SharedReport>(w)));
    expect(reports.map((r) => r.valuesRotated)).toEqual([ROWS * 2 - ROWS / 10, ROWS * 2 - ROWS / 10]);
    expect(listed(join(round, 'claims', table, open as string))).toContain('00001.json');
    await expectRotatedOnce(table, ROWS);
  }, 360_000);
});
