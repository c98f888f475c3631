/**
 * A backup shared by several workers (docs/decisions/0011), over a fake cluster and one in-memory
 * repository: the same command with --backup-id in every worker gives one complete backup with
 * every range exactly once, equal to a single-process backup; a worker that died holding a claim
 * costs only its claim.
 */
import { describe, expect, it } from 'vitest';
import { runBackup, type BackupDeps, type BackupRequest } from '../../src/commands/backup.js';
import { silentProgress } from '../../src/commands/progress.js';
import { backupFolder, claimKey, markerKey } from '../../src/manifest/keys.js';
import { readManifest } from '../../src/manifest/repository.js';
import { LeaseHolder } from '../../src/pipeline/lease-holder.js';
import { backupDigest } from '../support/read-backup.js';
import { fakeCluster, fakeClusterSession, type FakeClusterOptions } from '../support/fakes/fake-cluster.js';
import { MemoryStore } from '../support/fakes/memory-store.js';

const KEYSPACE: FakeClusterOptions = { keyspace: 'ks', tables: [{ name: 'a', rows: 300 }, { name: 'b', rows: 70 }] };
const ID = '20261204T170000Z-5ba7ed';
const REQUEST: BackupRequest = { keyspace: 'ks', splits: 12, parallel: 2, fetchSize: 7, gzipLevel: 1, maxChunkBytes: 64 * 1024, consistency: 'LOCAL_QUORUM', attempts: 2, retryBaseDelayMs: 1, claimPollMs: 10 };

function worker(store: MemoryStore, n: number): { deps: BackupDeps; leases: LeaseHolder } {
  const leases = new LeaseHolder(store, { command: 'backup', host: `host-${n}`, pid: n, now: Date.now });
  const deps: BackupDeps = {
    store, cluster: fakeCluster(fakeClusterSession(KEYSPACE)), progress: silentProgress, signal: new AbortController().signal,
    now: Date.now, toolVersion: '0.0.0-test', resumeHint: (id) => id, leases,
  };
  return { deps, leases };
}

describe('runBackup shared by several workers (--backup-id)', () => {
  it('three workers give one complete backup, every range once, equal to a single-process backup', async () => {
    const store = new MemoryStore();
    const workers = [1, 2, 3].map((n) => worker(store, n));
    const reports = await Promise.all(workers.map(({ deps }) => runBackup({ ...REQUEST, backupId: ID }, deps)));
    await Promise.all(workers.map(({ leases }) => leases.release()));
    const manifest = await readManifest(store, ID);
    expect(manifest?.totals).toMatchObject({ tables: 2, ranges: 24, rows: 370 });
    expect(reports.reduce((n, r) => n + (r.shared?.rangesMine ?? 0), 0)).toBeGreaterThanOrEqual(24);
    // Every worker waits until the backup is complete, and reports it whole.
    expect(reports.map((r) => r.rows)).toEqual([370, 370, 370]);

    const single = new MemoryStore();
    const alone = await runBackup(REQUEST, worker(single, 9).deps);
    expect((await backupDigest(store, ID)).digest).toBe((await backupDigest(single, alone.backupId)).digest);
  });

  it('a claim of a worker that died (no live lease) is taken over; the backup completes', async () => {
    const store = new MemoryStore();
    // A dead worker's claim on range 3 of table a, and nothing else of it.
    const first = worker(store, 1);
    const started = runBackup({ ...REQUEST, backupId: ID }, first.deps);
    await started;
    await first.leases.release();
    expect(await store.head(markerKey(ID, 'a', 3))).toBeDefined();

    const other = new MemoryStore();
    await other.put(claimKey(backupFolder(ID), 'a', 3, 0), JSON.stringify({ formatVersion: 1, kind: 'cassette-claim', holder: 'dead0000dead0000', host: 'gone', pid: 1, claimedAt: new Date().toISOString() }));
    const second = worker(other, 2);
    const report = await runBackup({ ...REQUEST, backupId: ID }, second.deps);
    await second.leases.release();
    expect(report.shared).toEqual({ rangesMine: 24 });
    expect(await other.head(claimKey(backupFolder(ID), 'a', 3, 1))).toBeDefined();
    expect((await readManifest(other, ID))?.totals.rows).toBe(370);
  });
});
