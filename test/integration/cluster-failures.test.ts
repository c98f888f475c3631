/**
 * Node failures on the real 4-node, two-datacenter cluster (dc1: nodes 1-3, dc2: node 4), with a
 * keyspace of RF 3 in dc1 and 1 in dc2, at LOCAL_QUORUM (the default), through the built CLI:
 * - a dc1 node SIGKILLed in the middle of a backup or a restore: the job finishes, and its result
 *   equals an undisturbed run (order-independent digest of the backup; the restored keyspace
 *   compared cell by cell with the source);
 * - two dc1 nodes down: LOCAL_QUORUM cannot be met, the backup stops with exit 4 naming the down
 *   replicas, and `--resume` after they return finishes with every row exactly once.
 * Every test restarts what it stopped and waits until the driver sees all four nodes up.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import cassandra from 'cassandra-driver';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectCluster, type ClusterHandle } from '../../src/cli/compose.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { cliEnv, runCli, startCli } from '../support/cassette.js';
import { clusterClient, killNode, nodeAddress, startNode, waitForHostsUp } from '../support/cluster.js';
import { uniqueName } from '../support/clients.js';
import { countFinished } from '../support/finished-blobs.js';
import { backupDigest } from '../support/read-backup.js';
import { expectSame, snapshot } from '../support/table-snapshot.js';

const PARTITIONS = 3_000;
const PER_PARTITION = 10;
const ROWS = PARTITIONS * PER_PARTITION;
const BASE_TS = 1_700_000_000_000_000;

interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Starts the CLI and collects its output; `ended` resolves when it exits. */
function start(args: readonly string[]): { child: ChildProcess; ended: Promise<Finished>; exited: () => boolean } {
  const child = startCli(args, cliEnv());
  let stdout = '';
  let stderr = '';
  let done = false;
  child.stdout?.on('data', (c: Buffer) => { stdout += c.toString('utf8'); });
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
  const ended = new Promise<Finished>((resolve) => child.once('exit', (code, signal) => {
    done = true;
    resolve({ code, signal, stdout, stderr });
  }));
  return { child, ended, exited: () => done };
}

describe('node failures on the 4-node two-DC cluster at LOCAL_QUORUM', () => {
  const settings = inject('services').cluster;
  const ks = uniqueName('it_fail');
  const work = mkdtempSync(join(tmpdir(), 'cassette-cluster-failures-'));
  const connection = ['--hosts', settings.hosts.join(','), '--port', String(settings.port), '--dc', settings.dc];
  const client = clusterClient(settings);
  const all = settings.hosts.map((h) => `${h}`);
  let handle: ClusterHandle;
  let reference: { repo: string; id: string; digest: { digest: string; rows: number } };
  const killed = new Set<number>();

  function kill(n: number): void {
    killed.add(n);
    killNode(n);
  }

  /** Waits until `repo` holds `count` finished objects under `prefix`, failing if the job ends first. */
  async function waitForFinished(job: { exited: () => boolean; ended: Promise<Finished> }, repo: string, prefix: string, count: number): Promise<void> {
    const deadline = Date.now() + 120_000;
    while ((await countFinished(repo, prefix)) < count) {
      if (job.exited()) throw new Error(`the job ended before ${count} objects were finished under ${prefix}:\n${(await job.ended).stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} objects under ${prefix}`);
      await sleep(20);
    }
  }

  beforeAll(async () => {
    await client.connect();
    await client.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 1}`);
    await client.execute(`CREATE TABLE ${ks}.events (id int, seq int, v text, tags map<text, int>, PRIMARY KEY (id, seq))`);
    const params: unknown[][] = [];
    for (let id = 0; id < PARTITIONS; id++) {
      for (let seq = 0; seq < PER_PARTITION; seq++) params.push([id, seq, `event ${id}/${seq}`, { a: id, b: seq }, (id % 7 === 0 ? 86_400 : 0), BASE_TS + id * 100 + seq]);
    }
    await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${ks}.events (id, seq, v, tags) VALUES (?, ?, ?, ?) USING TTL ? AND TIMESTAMP ?`, params, { concurrencyLevel: 64 });
    handle = await connectCluster({ hosts: settings.hosts, port: settings.port, dc: settings.dc, consistency: 'LOCAL_QUORUM', requestTimeoutMs: 30_000 });
    // The undisturbed run everything is compared with.
    const repo = join(work, 'reference');
    const r = runCli(['backup', '--keyspace', ks, '--repo', repo, '--splits', '128', '--max-chunk-bytes', '64KiB', '--json', ...connection], cliEnv());
    expect(r.status, r.stderr).toBe(0);
    const id = (JSON.parse(r.stdout) as { backupId: string }).backupId;
    reference = { repo, id, digest: await backupDigest(new FsStore(repo), id) };
    expect(reference.digest.rows).toBe(ROWS);
  }, 300_000);

  afterEach(async () => {
    for (const n of killed) startNode(n);
    killed.clear();
    await waitForHostsUp(client, all);
  }, 300_000);

  afterAll(async () => {
    await client.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
    await client.execute(`DROP KEYSPACE IF EXISTS ${ks}_restored`).catch(() => undefined);
    await handle?.close();
    await client.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  it('backup: a dc1 node SIGKILLed mid-run; the backup finishes identical to the undisturbed one', async () => {
    const repo = join(work, 'backup-kill');
    const job = start(['backup', '--keyspace', ks, '--repo', repo, '--splits', '256', '--parallel', '3', '--fetch-size', '100', '--json', ...connection]);
    await waitForFinished(job, repo, 'backups/', 40);
    expect(job.exited(), 'the backup finished before the kill').toBe(false);
    kill(2);
    const end = await job.ended;
    expect(end.code, end.stderr).toBe(0);
    const report = JSON.parse(end.stdout) as { backupId: string; rows: number; rangesByNode: Record<string, number> };
    expect(report.rows).toBe(ROWS);
    expect(await backupDigest(new FsStore(repo), report.backupId)).toEqual(reference.digest);
    // The other dc1 replicas took over; dc2 was never read.
    expect(Object.keys(report.rangesByNode).every((node) => !node.startsWith(nodeAddress(settings, 4)))).toBe(true);
  }, 300_000);

  it('backup: with two dc1 nodes down it stops with exit 4 naming them, and --resume after they return finishes identical', async () => {
    kill(2);
    kill(3);
    await waitForHostsUp(client, [nodeAddress(settings, 1), nodeAddress(settings, 4)]);
    const repo = join(work, 'backup-unavailable');
    // The nodes stay down: --retry-for 10s instead of the default 5 minutes of waiting for them.
    const failed = runCli(['backup', '--keyspace', ks, '--repo', repo, '--splits', '64', '--retry-for', '10s', '--json', ...connection], cliEnv());
    expect(failed.status, failed.stderr).toBe(4);
    const message = failed.stderr.trim();
    expect(message).toMatch(/could not read events range \d+ .* after \d+ attempts/);
    expect(message).toContain(`${nodeAddress(settings, 2)}:${settings.port} (dc1, down)`);
    expect(message).toContain(`${nodeAddress(settings, 3)}:${settings.port} (dc1, down)`);
    expect(message).toMatch(/replicas .* are down: bring them back/);
    const resume = /resume with: (.*)$/m.exec(message)?.[1];
    expect(resume).toContain('--resume');
    const id = /--resume (\S+)/.exec(resume ?? '')?.[1] as string;

    for (const n of [2, 3]) startNode(n);
    killed.clear();
    await waitForHostsUp(client, all);
    const resumed = runCli(['backup', '--resume', id, '--repo', repo, '--json', ...connection], cliEnv());
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(await backupDigest(new FsStore(repo), id)).toEqual(reference.digest);
  }, 300_000);

  it('restore: a dc1 node SIGKILLed mid-run; the restored keyspace equals the source cell by cell', async () => {
    const target = `${ks}_restored`;
    const job = start(['restore', reference.id, '--repo', reference.repo, '--target-keyspace', target, '--rate', '3000', '--json', ...connection]);
    await waitForFinished(job, reference.repo, `backups/${reference.id}/restores/`, 30);
    expect(job.exited(), 'the restore finished before the kill').toBe(false);
    kill(3);
    const end = await job.ended;
    expect(end.code, end.stderr).toBe(0);
    expect((JSON.parse(end.stdout) as { rows: number }).rows).toBe(ROWS);
    // Compared with every node back (full-table scans with a node down time out on two busy cores).
    startNode(3);
    killed.delete(3);
    await waitForHostsUp(client, all);
    const source = await snapshot(handle, ks, ['events']);
    const restored = await snapshot(handle, target, ['events']);
    expect(restored.rows.get('events')?.size).toBe(ROWS);
    expectSame(source.rows, restored.rows);
  }, 300_000);
});
