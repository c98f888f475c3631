/**
 * The built `cassette restore` end to end: a restore killed with SIGKILL mid-run and resumed ends
 * identical to an uninterrupted one; `cassette status` shows the run; exit codes for bad input.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type cassandra from 'cassandra-driver';
import { createDataset } from '../support/backup-dataset.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { cliEnv, runCli, startCli } from '../support/cassette.js';
import { countFinished } from '../support/finished-blobs.js';

/** Every row of a table as sorted text lines: values, writetimes (TTL-free tables). */
async function dump(client: cassandra.Client, keyspace: string, table: string): Promise<string[]> {
  const rs = await client.execute(`SELECT pk, ck, payload, note, WRITETIME(note) AS wt FROM ${keyspace}.${table}`, [], { fetchSize: 100_000 });
  return rs.rows.map((r) => `${r.get('pk')} ${r.get('ck')} ${(r.get('payload') as Buffer).toString('hex')} ${JSON.stringify(r.get('note'))} ${String(r.get('wt'))}`).sort();
}

/** The restore run other than `except`, and how many of its chunks are done (finished markers only). */
async function doneMarkers(repo: string, backupId: string, except: string): Promise<{ restoreId: string | undefined; count: number }> {
  const dir = join(repo, 'backups', backupId, 'restores');
  const restoreId = existsSync(dir) ? readdirSync(dir).find((id) => id !== except) : undefined;
  if (restoreId === undefined) return { restoreId, count: 0 };
  return { restoreId, count: await countFinished(repo, `backups/${backupId}/restores/${restoreId}/done/events/`) };
}

describe('cassette restore (CLI)', () => {
  const services = inject('services');
  const source = uniqueName('it_rcli_src');
  const targets: string[] = [];
  const work = mkdtempSync(join(tmpdir(), 'cassette-rcli-'));
  const repo = join(work, 'repo');
  const connection = ['--hosts', services.cassandra.host, '--port', String(services.cassandra.port), '--dc', services.cassandra.dc];
  let client: cassandra.Client;
  let backupId: string;

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    await createDataset(client, source, { wideRows: 5_000, smallPartitions: 1_500 });
    await client.execute(`ALTER TABLE ${source}.events WITH default_time_to_live = 0`);
    const r = runCli(['backup', '--repo', repo, '--keyspace', source, '--tables', 'events', ...connection, '--max-chunk-bytes', '64KiB', '--json'], cliEnv());
    expect(r.status, r.stderr).toBe(0);
    backupId = (JSON.parse(r.stdout) as { backupId: string }).backupId;
  });

  afterAll(async () => {
    for (const ks of [source, ...targets]) await client?.execute(`DROP KEYSPACE IF EXISTS ${ks}`);
    await client?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  it('after SIGKILL mid-run, --resume ends identical to an uninterrupted restore', async () => {
    const straight = uniqueName('it_rcli_straight');
    const killed = uniqueName('it_rcli_killed');
    targets.push(straight, killed);
    const whole = runCli(['restore', backupId, '--repo', repo, '--target-keyspace', straight, ...connection, '--verify', '--json'], cliEnv());
    expect(whole.status, whole.stderr).toBe(0);
    const straightId = (JSON.parse(whole.stdout) as { restoreId: string }).restoreId;

    const child = startCli(['restore', backupId, '--repo', repo, '--target-keyspace', killed, ...connection, '--parallel', '1', '--max-in-flight', '2'], cliEnv());
    let state = await doneMarkers(repo, backupId, straightId);
    for (let i = 0; i < 1200 && state.count < 5; i++) {
      await sleep(25);
      state = await doneMarkers(repo, backupId, straightId);
    }
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(state.count).toBeGreaterThanOrEqual(5);
    const restoreId = state.restoreId as string;
    const status = JSON.parse(runCli(['status', restoreId, '--repo', repo, '--json'], cliEnv()).stdout) as { targetKeyspace: string; complete: boolean; chunks: { done: number; total: number } };
    expect(status).toMatchObject({ targetKeyspace: killed, complete: false });
    expect(status.chunks.done).toBeLessThan(status.chunks.total); // really interrupted

    const resumed = runCli(['restore', backupId, '--repo', repo, ...connection, '--resume', restoreId, '--verify', '--json'], cliEnv());
    expect(resumed.status, resumed.stderr).toBe(0);
    const report = JSON.parse(resumed.stdout) as { resumed: boolean; targetKeyspace: string; verified: boolean; tables: { chunksSkipped: number }[] };
    expect(report).toMatchObject({ resumed: true, targetKeyspace: killed, verified: true });
    expect(report.tables[0]?.chunksSkipped).toBeGreaterThanOrEqual(5);
    expect(await dump(client, killed, 'events')).toEqual(await dump(client, straight, 'events'));
    expect(await dump(client, killed, 'events')).toEqual(await dump(client, source, 'events'));
  });

  it('refuses an incomplete backup (exit 6) and an unknown one (exit 6)', () => {
    const unknown = runCli(['restore', '20260101T000000Z-abcdef', '--repo', repo, ...connection], cliEnv());
    expect(unknown.status).toBe(6);
    expect(unknown.stderr.split('\n')[0]).toMatch(/^cassette: backup 20260101T000000Z-abcdef not found in /);
  });

  it('refuses an unreachable target cluster (exit 4)', () => {
    const r = runCli(['restore', backupId, '--repo', repo, '--hosts', '127.0.0.1', '--port', '1', '--dc', 'dc1'], cliEnv());
    expect(r.status).toBe(4);
  });
});
