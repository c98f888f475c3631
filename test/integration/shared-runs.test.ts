/**
 * Runs shared by three worker processes (docs/format.md §13), on the real Cassandra and a 500k-row
 * table. Backup: every worker runs the same command with one --backup-id; the backup they make
 * together is complete, holds every range exactly once and equals a single-process backup of the
 * same table. Restore: three workers with one --restore-id load a backup into a new keyspace that
 * `cassette diff` then finds identical to the backup. In both, with one worker SIGKILLed halfway
 * the others take over its claims and still complete the run.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FsStore } from '../../src/storage/fs-store.js';
import { cliEnv, runCli } from '../support/cassette.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { createEventsKeyspace } from '../support/backup-dataset.js';
import { finished, killWhen, start } from '../support/crash-points.js';
import { backupDigest } from '../support/read-backup.js';

const ROWS = 500_000;

interface Report { backupId: string; rows: number; rowsThisRun: number; ranges: number; shared?: { rangesMine: number } }

interface StatusRun {
  tables: { name: string; done: number; inProgress: number; total: number }[];
  workers: { host: string; pid: number; mode: string; live: boolean }[];
  inProgress: { table: string; index: number; pid: number }[];
  rowsPerSecondLastMinute: number;
}
interface RestoreReport { restoreId: string; rows: number; written: number; shared?: { rangesMine: number } }

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
  /**
   * The single-process backup every shared run is compared with, and its plan's range count: 48 asked
   * for, a few more when ring tokens fall inside (ranges never cross one; the node's tokens are random).
   */
  let single: { repo: string; id: string; ranges: number };
  const connection = (): string[] => ['--hosts', services.cassandra.host, '--port', String(services.cassandra.port), '--dc', services.cassandra.dc];

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    await createEventsKeyspace(client, keyspace, ROWS, { perPartition: 5, timestamp: 1700000000000000 });
    const repo = join(work, 'single');
    const r = runCli(['backup', '--repo', repo, '--keyspace', keyspace, ...connection(), '--splits', '48', '--json'], cliEnv());
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    single = { repo, id: report.backupId, ranges: report.ranges };
  }, 300_000);

  afterAll(async () => {
    for (const ks of [keyspace, ...targets]) await client?.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
    await client?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  const restoreArgs = (target: string, id: string): string[] => ['restore', single.id, '--repo', single.repo, '--target-keyspace', target, ...connection(), '--restore-id', id, '--parallel', '1', '--json'];
  const targets: string[] = [];
  const list = (dir: string): string[] => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  /** Whether `target` holds every row of the single-process backup, values and writetimes (cassette diff, exit 0). */
  const identical = (target: string): ReturnType<typeof runCli> => runCli(['diff', single.id, '--repo', single.repo, '--keyspace', target, ...connection(), '--json'], cliEnv());

  const workerArgs = (repo: string, id: string): string[] => ['backup', '--repo', repo, '--keyspace', keyspace, ...connection(), '--splits', '48', '--backup-id', id, '--workers', '3', '--parallel', '1', '--json'];

  it('three workers make one complete backup, every range once, equal to a single-process backup', async () => {
    const repo = join(work, 'three');
    const id = freshId();
    const workers = [1, 2, 3].map(() => start(workerArgs(repo, id), cliEnv()));
    // Mid-run, `cassette status` sums every worker's markers and claims into one view.
    const ranges = join(repo, 'backups', id, 'ranges', 'events');
    for (let i = 0; list(ranges).length < 8; i++) {
      if (workers.some((w) => w.exited()) || i > 2400) throw new Error(`the run ended or stalled before 8 ranges were done:\n${workers.map((w) => w.stderr()).join('\n')}`);
      await sleep(25);
    }
    const status = runCli(['status', id, '--repo', repo, '--json'], cliEnv());
    expect(status.status, status.stderr).toBe(0);
    const view = (JSON.parse(status.stdout) as { run: StatusRun }).run;
    expect(view.tables).toEqual([expect.objectContaining({ name: 'events', total: single.ranges })]);
    expect(view.tables[0]?.done).toBeGreaterThanOrEqual(8);
    expect(view.workers.filter((w) => w.live && w.mode === 'work').length).toBeGreaterThanOrEqual(2);
    expect(new Set(view.workers.map((w) => w.pid))).toEqual(new Set(view.workers.map((w) => w.pid).filter((pid) => workers.some((wk) => wk.child.pid === pid))));
    expect(view.rowsPerSecondLastMinute).toBeGreaterThan(0);
    for (const unit of view.inProgress) expect(workers.map((w) => w.child.pid)).toContain(unit.pid);
    const reports = await Promise.all(workers.map((w) => finished<Report>(w)));
    // Every worker returns once the backup is complete, and reports it whole.
    expect(reports.map((r) => r.rows)).toEqual([ROWS, ROWS, ROWS]);
    expect(reports.reduce((n, r) => n + (r.shared?.rangesMine ?? 0), 0)).toBe(single.ranges);
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

  it('three restore workers load one backup once, into a keyspace identical to it', async () => {
    const target = uniqueName('it_shared_rs');
    targets.push(target);
    const id = `r${freshId()}`;
    const workers = [1, 2, 3].map(() => start(restoreArgs(target, id), cliEnv()));
    const reports = await Promise.all(workers.map((w) => finished<RestoreReport>(w)));
    // Every worker returns once every chunk is loaded, and reports the whole run.
    expect(reports.map((r) => r.rows)).toEqual([ROWS, ROWS, ROWS]);
    expect(reports.reduce((n, r) => n + (r.shared?.rangesMine ?? 0), 0)).toBe(single.ranges);
    expect(list(join(single.repo, 'backups', single.id, 'restores', id, 'done', 'events'))).toHaveLength(single.ranges);
    const diff = identical(target);
    expect(diff.status, diff.stdout + diff.stderr).toBe(0);
  }, 300_000);

  it('one of three restore workers SIGKILLed halfway: the others take over its claims and finish', async () => {
    const target = uniqueName('it_shared_rk');
    targets.push(target);
    const id = `r${freshId()}`;
    const run = join(single.repo, 'backups', single.id, 'restores', id);
    const workers = [1, 2, 3].map(() => start(restoreArgs(target, id), cliEnv()));
    const pid = workers[0]?.child.pid;
    let open: string | undefined;
    /** A range the first worker has claimed and not loaded (no done-marker), once a third of them are loaded. */
    const holdsOpenClaim = (): boolean => {
      const done = list(join(run, 'done', 'events')).filter((name) => name.endsWith('.json'));
      if (done.length < 16) return false;
      const claims = join(run, 'claims', 'events');
      open = list(claims).find((range) => !done.some((d) => d.startsWith(`${range}-`)) && list(join(claims, range)).filter((gen) => /^\d{5}\.json$/.test(gen)).some((gen) => {
        try {
          return (JSON.parse(readFileSync(join(claims, range, gen), 'utf8')) as { pid: number }).pid === pid;
        } catch {
          return false;
        }
      }));
      return open !== undefined;
    };
    await killWhen(workers[0] as NonNullable<(typeof workers)[0]>, 'a third of the ranges loaded and a range of its own in flight', holdsOpenClaim);
    const reports = await Promise.all(workers.slice(1).map((w) => finished<RestoreReport>(w)));
    expect(reports.map((r) => r.rows)).toEqual([ROWS, ROWS]);
    expect(list(join(run, 'claims', 'events', open as string))).toContain('00001.json');
    const diff = identical(target);
    expect(diff.status, diff.stdout + diff.stderr).toBe(0);
  }, 300_000);
});
