/**
 * One backup shared by three worker processes (docs/format.md §13), on the real Cassandra: every
 * worker runs the same command with one --backup-id; the backup they make together is complete,
 * holds every range exactly once and equals a single-process backup of the same table; with one
 * worker SIGKILLed halfway, the others take over its claims and still complete it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FsStore } from '../../src/storage/fs-store.js';
import { cliEnv, runCli } from '../support/cassette.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { finished, killWhen, start } from '../support/crash-points.js';
import { backupDigest } from '../support/read-backup.js';

const ROWS = 500_000;

interface Report { backupId: string; rows: number; rowsThisRun: number; shared?: { rangesMine: number } }

/** A fresh backup id (UTC time and 6 hex digits), unique per call. */
let seq = 0;
function freshId(): string {
  const t = new Date(Date.now() + 1000 * seq++).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${t}-${(0xa00000 + seq).toString(16)}`;
}

describe('a backup shared by three workers (--backup-id)', () => {
  const services = inject('services');
  const work = mkdtempSync(join(tmpdir(), 'cassette-shared-'));
  const keyspace = uniqueName('it_shared');
  let client: cassandra.Client;
  let single: { repo: string; id: string };
  const connection = (): string[] => ['--hosts', services.cassandra.host, '--port', String(services.cassandra.port), '--dc', services.cassandra.dc];

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    await client.execute(`CREATE TABLE ${keyspace}.events (id int, seq int, payload text, PRIMARY KEY ((id), seq))`);
    const params = Array.from({ length: ROWS }, (_, i) => [Math.floor(i / 5), i % 5, `payload-${i}`]);
    await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${keyspace}.events (id, seq, payload) VALUES (?, ?, ?) USING TIMESTAMP 1700000000000000`, params, { concurrencyLevel: 96 });
    const repo = join(work, 'single');
    const r = runCli(['backup', '--repo', repo, '--keyspace', keyspace, ...connection(), '--splits', '48', '--json'], cliEnv());
    expect(r.status, r.stderr).toBe(0);
    single = { repo, id: (JSON.parse(r.stdout) as Report).backupId };
  }, 300_000);

  afterAll(async () => {
    await client?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
    await client?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  const workerArgs = (repo: string, id: string): string[] => ['backup', '--repo', repo, '--keyspace', keyspace, ...connection(), '--splits', '48', '--backup-id', id, '--workers', '3', '--parallel', '1', '--json'];

  it('three workers make one complete backup, every range once, equal to a single-process backup', async () => {
    const repo = join(work, 'three');
    const id = freshId();
    const workers = [1, 2, 3].map(() => start(workerArgs(repo, id), cliEnv()));
    const reports = await Promise.all(workers.map((w) => finished<Report>(w)));
    // Every worker returns once the backup is complete, and reports it whole.
    expect(reports.map((r) => r.rows)).toEqual([ROWS, ROWS, ROWS]);
    expect(reports.reduce((n, r) => n + (r.shared?.rangesMine ?? 0), 0)).toBe(48);
    expect(reports.reduce((n, r) => n + r.rowsThisRun, 0)).toBe(ROWS);
    expect((await backupDigest(new FsStore(repo), id))).toEqual(await backupDigest(new FsStore(single.repo), single.id));
    const verify = runCli(['verify', id, '--repo', repo], cliEnv());
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
  }, 300_000);

  it('one of three SIGKILLed halfway: the others take over its claims and complete the backup', async () => {
    const repo = join(work, 'killed');
    const id = freshId();
    const workers = [1, 2, 3].map(() => start(workerArgs(repo, id), cliEnv()));
    const folder = join(repo, 'backups', id, 'claims', 'events');
    const ranges = join(repo, 'backups', id, 'ranges', 'events');
    const list = (dir: string): string[] => {
      try {
        return readdirSync(dir);
      } catch {
        return [];
      }
    };
    const pid = workers[0]?.child.pid;
    /** A range the first worker has claimed and not finished (no marker yet), once a third of the ranges are done. */
    let open: string | undefined;
    const holdsOpenClaim = (): boolean => {
      if (list(ranges).length < 16) return false;
      open = list(folder).find((range) => !list(ranges).includes(`${range}.json`) && list(join(folder, range)).filter((gen) => /^\d{5}\.json$/.test(gen)).some((gen) => {
        try {
          return (JSON.parse(readFileSync(join(folder, range, gen), 'utf8')) as { pid: number }).pid === pid;
        } catch {
          return false;
        }
      }));
      return open !== undefined;
    };
    await killWhen(workers[0] as NonNullable<(typeof workers)[0]>, 'a third of the ranges done and a range of its own in flight', holdsOpenClaim);
    const reports = await Promise.all(workers.slice(1).map((w) => finished<Report>(w)));
    expect(reports.map((r) => r.rows)).toEqual([ROWS, ROWS]);
    expect((await backupDigest(new FsStore(repo), id))).toEqual(await backupDigest(new FsStore(single.repo), single.id));
    // Its range in flight was taken over (claim generation 1) by a worker that saw it dead.
    expect(list(join(folder, open as string)), `range ${open} of the killed worker: ${JSON.stringify(list(join(folder, open as string)))}`).toContain('00001.json');
  }, 300_000);
});
