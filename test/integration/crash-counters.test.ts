/**
 * The crash matrix for counter tables (docs/testing.md, docs/config.md "counters"): counters are
 * restored by adding, so a chunk reloaded on resume would add again. A restore SIGKILLed in the
 * middle of a counter chunk — and its resume SIGKILLed in the middle of the same chunk again —
 * must end with every counter equal to the source's, none added twice; a resume that finds a
 * counter row changed by someone else refuses (exit 3) before writing anything.
 *
 * Determinism: every counter row lives in one partition, so the backup holds them in one chunk
 * (one range); `--rate` stretches that chunk over seconds and the kills trigger on rows visible
 * in the target (count(*)), never on time.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FsStore } from '../../src/storage/fs-store.js';
import { readManifest } from '../../src/manifest/repository.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { cliEnv, runCli } from '../support/cassette.js';
import { countFinished } from '../support/finished-blobs.js';
import { finished, killWhen, start } from '../support/crash-points.js';

const ROWS = 4_000;
/** Rows/s of the killed runs: the chunk takes ROWS / RATE = 5 s. */
const RATE = 800;

/** views and clicks of slot i: large, negative and zero counters. */
function countersOf(i: number): { views: bigint; clicks: bigint } {
  return { views: BigInt(i) * 1_000_003n + (i % 100 === 0 ? 2n ** 40n : 1n), clicks: i % 5 === 0 ? 0n : -BigInt(i) };
}

describe('crash matrix: counter restores SIGKILLed mid-chunk (CLI)', () => {
  const services = inject('services');
  const ks = uniqueName('crash_cnt');
  const targets = [`${ks}_a`, `${ks}_b`];
  const work = mkdtempSync(join(tmpdir(), 'cassette-crash-cnt-'));
  const repo = join(work, 'repo');
  const connection = ['--hosts', services.cassandra.host, '--port', String(services.cassandra.port), '--dc', services.cassandra.dc];
  const env = cliEnv();
  let client: cassandra.Client;
  let backupId: string;

  /** slot → "views clicks" of a keyspace's hits table. */
  async function counters(keyspace: string): Promise<Map<number, string>> {
    const rs = await client.execute(`SELECT slot, views, clicks FROM ${keyspace}.hits WHERE page = 0`, [], { fetchSize: 100_000 });
    return new Map(rs.rows.map((r) => [r.get('slot') as number, `${String(r.get('views'))} ${String(r.get('clicks'))}`]));
  }

  async function rowsIn(keyspace: string): Promise<number> {
    const rs = await client.execute(`SELECT count(*) AS n FROM ${keyspace}.hits WHERE page = 0`);
    return Number(rs.rows[0]?.get('n'));
  }

  /** The one restore run of the backup into `keyspace` (its folder), once restore.json exists. */
  function restoreIdOf(keyspace: string): string | undefined {
    const dir = join(repo, 'backups', backupId, 'restores');
    if (!existsSync(dir)) return undefined;
    return readdirSync(dir).find((id) => existsSync(join(dir, id, 'restore.json'))
      && (JSON.parse(readFileSync(join(dir, id, 'restore.json'), 'utf8')) as { target: { keyspace: string } }).target.keyspace === keyspace);
  }

  /** Starts a restore into `keyspace` and kills it once the target holds `atLeast` rows. */
  async function killFreshRestore(keyspace: string, atLeast: number): Promise<{ restoreId: string; rows: number }> {
    const job = start(['restore', backupId, '--repo', repo, '--target-keyspace', keyspace, ...connection, '--rate', String(RATE), '--parallel', '1'], env);
    // The table exists once the schema is applied; before that the count fails.
    await killWhen(job, `${atLeast} counter rows in ${keyspace}`, async () => (await rowsIn(keyspace).catch(() => 0)) >= atLeast);
    const rows = await rowsIn(keyspace);
    expect(rows, 'the kill landed after the chunk was complete').toBeLessThan(ROWS);
    const restoreId = restoreIdOf(keyspace) as string;
    expect(restoreId).toBeDefined();
    return { restoreId, rows };
  }

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    await client.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    await client.execute(`CREATE TABLE ${ks}.hits (page int, slot int, views counter, clicks counter, PRIMARY KEY (page, slot))`);
    const params = Array.from({ length: ROWS }, (_, i) => {
      const { views, clicks } = countersOf(i);
      return [cassandra.types.Long.fromString(String(views)), cassandra.types.Long.fromString(String(clicks)), i];
    });
    await cassandra.concurrent.executeConcurrent(client, `UPDATE ${ks}.hits SET views = views + ?, clicks = clicks + ? WHERE page = 0 AND slot = ?`, params, { concurrencyLevel: 32 });
    const r = runCli(['backup', '--repo', repo, '--keyspace', ks, ...connection, '--json'], env);
    expect(r.status, r.stderr).toBe(0);
    backupId = (JSON.parse(r.stdout) as { backupId: string }).backupId;
    // Every row in one chunk: the kills below land inside it.
    const manifest = await readManifest(new FsStore(repo), backupId);
    const chunks = manifest?.tables[0]?.ranges.flatMap((range) => range.chunks) ?? [];
    expect(chunks.map((c) => c.rows)).toEqual([ROWS]);
  }, 120_000);

  afterAll(async () => {
    for (const keyspace of [ks, ...targets]) await client?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await client?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  it('killed in the middle of the chunk, and its resume killed in the middle again: every counter ends equal to the source, none added twice', async () => {
    const target = targets[0] as string;
    const source = await counters(ks);
    expect(source.size).toBe(ROWS);
    const first = await killFreshRestore(target, 1_000);
    const runFolder = `backups/${backupId}/restores/${first.restoreId}/`;
    expect(await countFinished(repo, `${runFolder}done/`)).toBe(0);
    expect(await countFinished(repo, `${runFolder}started/`)).toBe(1);

    // The resume reads the chunk back (the rows the killed run added are skipped), then writes on: kill it mid-chunk too.
    const resume = start(['restore', backupId, '--repo', repo, '--resume', first.restoreId, ...connection, '--rate', String(RATE)], env);
    await killWhen(resume, `${first.rows + 1_000} counter rows`, async () => (await rowsIn(target)) >= first.rows + 1_000);
    const second = await rowsIn(target);
    expect(second).toBeLessThan(ROWS);

    const last = start(['restore', backupId, '--repo', repo, '--resume', first.restoreId, ...connection, '--json'], env);
    const report = await finished<{ resumed: boolean; rows: number; written: number; rejected: number }>(last);
    expect(report).toMatchObject({ resumed: true, rows: ROWS, written: ROWS, rejected: 0 });
    expect(await counters(target)).toEqual(source);
    expect(resume.stderr()).toMatch(new RegExp(`counter table ${target}\\.hits: chunk 0 of range \\d+ was being written when the restore stopped; reading its ${ROWS} rows back from the target`));
  }, 180_000);

  it('a resume that finds a counter row changed by someone else refuses (exit 3), naming table, range, chunk and row, and writes nothing', async () => {
    const target = targets[1] as string;
    const killed = await killFreshRestore(target, 500);
    const [slot, value] = [...(await counters(target))][0] as [number, string];
    await client.execute(`UPDATE ${target}.hits SET views = views + 1 WHERE page = 0 AND slot = ?`, [slot], { prepare: true });
    const before = await counters(target);

    const r = runCli(['restore', backupId, '--repo', repo, '--resume', killed.restoreId, ...connection], env);
    expect(r.status, r.stderr).toBe(3);
    const views = BigInt(value.split(' ')[0] as string);
    expect(r.stderr.split('\n').find((line) => line.startsWith('cassette: '))).toBe(`cassette: restore ${killed.restoreId} cannot resume counter table ${target}.hits: 1 row of chunk 0 of range ${
      /chunk 0 of range (\d+)/.exec(r.stderr)?.[1]} of table hits holds counters that are neither 0 nor the backup's (first: row [0,${slot}], clicks=${
      countersOf(slot).clicks}/${countersOf(slot).clicks}, views=${views + 1n}/${views} as target/backup); the table was written by someone else since the restore started`);
    expect(r.stderr).toMatch(new RegExp(`hint: nothing was written; TRUNCATE ${target}\\.hits and restore the backup again in a new run`));
    expect(await counters(target)).toEqual(before);
    expect(await countFinished(repo, `backups/${backupId}/restores/${killed.restoreId}/done/`)).toBe(0);
  }, 120_000);
});
