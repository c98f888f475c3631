/**
 * The built `cassette backup` / `cassette list` end to end: SIGKILL mid-run and --resume giving the
 * same rows as an uninterrupted run, SIGINT printing the resume command, and bad input answered in
 * one line with the documented exit code and nothing written.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type cassandra from 'cassandra-driver';
import { FsStore } from '../../src/storage/fs-store.js';
import { createDataset } from '../support/backup-dataset.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { cliEnv, runCli, startCli } from '../support/cassette.js';
import { countFinished } from '../support/finished-blobs.js';
import { backupDigest } from '../support/read-backup.js';

/** Order-independent digest of every row of every table, and the row count. */
function digestOf(repo: string, backupId: string): Promise<{ digest: string; rows: number }> {
  return backupDigest(new FsStore(repo), backupId);
}

function backupIds(repo: string): string[] {
  const dir = join(repo, 'backups');
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** Finished range markers of one table, or of all tables (the store's listing: no temporary files). */
function countMarkers(repo: string, id: string, table?: string): Promise<number> {
  return countFinished(repo, `backups/${id}/ranges/${table === undefined ? '' : `${table}/`}`);
}

describe('cassette backup (CLI)', () => {
  const services = inject('services');
  const keyspace = uniqueName('it_backup_cli');
  const work = mkdtempSync(join(tmpdir(), 'cassette-cli-'));
  const connection = ['--hosts', services.cassandra.host, '--port', String(services.cassandra.port), '--dc', services.cassandra.dc];
  let client: cassandra.Client;

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    await createDataset(client, keyspace, { wideRows: 10_000, smallPartitions: 4_000 });
  });

  afterAll(async () => {
    await client?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await client?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  it('after SIGKILL mid-run, --resume ends with the same rows as an uninterrupted backup, no duplicates', async () => {
    const whole = join(work, 'whole');
    const straight = runCli(['backup', '--repo', whole, '--keyspace', keyspace, ...connection, '--json', '--splits', '64'], cliEnv());
    expect(straight.status, straight.stderr).toBe(0);
    const report = JSON.parse(straight.stdout) as { backupId: string; rows: number };
    const reference = await digestOf(whole, report.backupId);
    expect(reference.rows).toBe(report.rows);

    const killed = join(work, 'killed');
    // One range at a time and small pages, so the run is long enough to be killed in the middle.
    const child = startCli(['backup', '--repo', killed, '--keyspace', keyspace, ...connection, '--splits', '64', '--parallel', '1', '--fetch-size', '100'], cliEnv());
    let id: string | undefined;
    // Kill once ranges with rows are saved: `events` holds most rows (all_types' ranges are mostly empty).
    for (let i = 0; i < 600 && (id === undefined || (await countMarkers(killed, id, 'events')) < 5); i++) {
      await sleep(50);
      id = backupIds(killed)[0];
    }
    expect(id).toBeDefined();
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(await countMarkers(killed, id as string, 'events')).toBeGreaterThanOrEqual(5);
    expect(await countMarkers(killed, id as string)).toBeLessThan(5 * 64); // really interrupted
    expect(existsSync(join(killed, 'backups', id as string, 'manifest.json'))).toBe(false);

    const listed = runCli(['list', '--repo', killed, '--json'], cliEnv());
    expect(JSON.parse(listed.stdout).backups[0]).toMatchObject({ backupId: id, status: 'incomplete' });

    const resumed = runCli(['backup', '--repo', killed, ...connection, '--resume', id as string, '--json'], cliEnv());
    expect(resumed.status, resumed.stderr).toBe(0);
    const resumedReport = JSON.parse(resumed.stdout) as { backupId: string; rows: number; resumed: boolean; rowsThisRun: number };
    expect(resumedReport).toMatchObject({ backupId: id, resumed: true, rows: report.rows });
    expect(resumedReport.rowsThisRun).toBeLessThan(report.rows);
    expect(await digestOf(killed, id as string)).toEqual(reference);
  });

  it('on SIGINT abandons ranges in flight, keeps finished ones and prints the exact resume command (exit 130)', async () => {
    const repo = join(work, 'interrupted');
    const child = startCli(['backup', '--repo', repo, '--keyspace', keyspace, ...connection, '--splits', '64', '--parallel', '1', '--fetch-size', '100'], cliEnv());
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    let id: string | undefined;
    for (let i = 0; i < 600 && (id === undefined || (await countMarkers(repo, id, 'events')) < 3); i++) {
      await sleep(50);
      id = backupIds(repo)[0];
    }
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(130);
    expect(stderr).toContain(`backup ${id} interrupted`);
    const hint = /resume with: (cassette .*)$/m.exec(stderr)?.[1];
    expect(hint).toBe(`cassette backup --repo ${repo} --keyspace ${keyspace} ${connection.join(' ')} --splits 64 --parallel 1 --fetch-size 100 --resume ${id}`);
    const args = (hint as string).split(' ').slice(1);
    const resumed = runCli(args, cliEnv());
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(existsSync(join(repo, 'backups', id as string, 'manifest.json'))).toBe(true);
  });

  it('refuses an unknown keyspace (exit 3) and writes nothing', () => {
    const repo = join(work, 'unknown-ks');
    const r = runCli(['backup', '--repo', repo, '--keyspace', 'no_such_keyspace', ...connection], cliEnv());
    expect(r.status).toBe(3);
    expect(r.stderr.split('\n')[0]).toBe('cassette: keyspace "no_such_keyspace" does not exist in the cluster');
    expect(existsSync(repo)).toBe(false);
  });

  it('refuses unknown tables, naming them (exit 3), and writes nothing', () => {
    const repo = join(work, 'unknown-table');
    const r = runCli(['backup', '--repo', repo, '--keyspace', keyspace, '--tables', 'events,nope,nada', ...connection], cliEnv());
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/nope/);
    expect(r.stderr).toMatch(/nada/);
    expect(existsSync(repo)).toBe(false);
  });

  it('names an unreachable cluster in one line (exit 4) and writes nothing', () => {
    const repo = join(work, 'unreachable');
    const r = runCli(['backup', '--repo', repo, '--keyspace', keyspace, '--hosts', '127.0.0.1', '--port', '1', '--dc', 'dc1'], cliEnv());
    expect(r.status).toBe(4);
    expect(r.stderr.split('\n')[0]).toMatch(/^cassette: cannot connect to Cassandra at 127\.0\.0\.1:1: /);
    expect(existsSync(repo)).toBe(false);
  });

  it('names an unreachable repository (exit 5) once --retry-for has passed', () => {
    // The default --retry-for would wait 5 minutes for the endpoint to come up (docs/config.md).
    const r = runCli(['backup', '--repo', 's3://cassette-test/x', '--s3-endpoint', 'http://127.0.0.1:1', '--retry-for', '2s', '--keyspace', keyspace, ...connection], cliEnv(services.s3));
    expect(r.status).toBe(5);
    expect(r.stderr.split('\n')[0]).toMatch(/^cassette: .*127\.0\.0\.1:1: connection refused .*still failing after --retry-for 2s/);
  });

  it('names an unwritable repository directory (exit 5)', () => {
    // Root may write anywhere, so when the suite runs as root the CLI runs as "nobody".
    const asRoot = process.getuid?.() === 0;
    const repo = join(work, 'read-only');
    mkdirSync(repo, { mode: 0o555 });
    chmodSync(work, 0o755);
    const r = runCli(['backup', '--repo', repo, '--keyspace', keyspace, '--tables', 'hits', ...connection], cliEnv(undefined, { HOME: tmpdir() }), asRoot ? { uid: 65534, gid: 65534 } : undefined);
    expect(r.status, r.stderr).toBe(5);
    expect(r.stderr.split('\n')[0]).toMatch(new RegExp(`^cassette: cannot write leases/backup-\\S+\\.json in repository ${repo}: permission denied \\(EACCES\\)$`)); // the lease is the first write
    expect(readdirSync(repo)).toEqual([]);
  });

  it('refuses to resume a backup that does not exist (exit 6)', () => {
    const r = runCli(['backup', '--repo', join(work, 'empty'), '--resume', '20260101T000000Z-abcdef', ...connection], cliEnv());
    expect(r.status).toBe(6);
    expect(r.stderr.split('\n')[0]).toMatch(/backup 20260101T000000Z-abcdef not found/);
  });

  it('backs up into MinIO through the CLI with credentials from the AWS environment only', () => {
    const repo = `s3://${services.s3.bucket}/${uniqueName('cli')}`;
    const r = runCli(['backup', '--repo', repo, '--s3-endpoint', services.s3.endpoint, '--keyspace', keyspace, '--tables', 'profiles,hits', ...connection, '--json'], cliEnv(services.s3));
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { rows: number; tables: { name: string }[]; rowsPerSecond: number; durationMs: number; bytes: number };
    expect(report.tables.map((t) => t.name).sort()).toEqual(['hits', 'profiles']);
    expect(report.rows).toBe(24);
    expect(r.stdout + r.stderr).not.toContain(services.s3.secretAccessKey);
    const listed = runCli(['list', '--repo', repo, '--s3-endpoint', services.s3.endpoint], cliEnv(services.s3));
    expect(listed.status).toBe(0);
    expect(listed.stdout).toMatch(/complete/);
  });
});
