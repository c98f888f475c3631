import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { runBackup, type BackupDeps, type BackupRequest } from '../../src/commands/backup.js';
import { silentProgress, type ProgressSink } from '../../src/commands/progress.js';
import { CassetteError } from '../../src/errors.js';
import { backupHeaderKey, manifestKey, schemaCqlKey } from '../../src/manifest/keys.js';
import { readMarkers } from '../../src/manifest/repository.js';
import { readBackup } from '../support/read-backup.js';
import { fakeCluster, fakeClusterSession, FAKE_WRITETIME, isDataQuery, type FakeClusterOptions } from '../support/fakes/fake-cluster.js';
import type { FakeSession } from '../support/fakes/fake-session.js';
import { memoryFaultyStore, type FaultyStore } from '../support/fakes/faulty-store.js';

const KEYSPACE: FakeClusterOptions = { keyspace: 'ks', tables: [{ name: 'a', rows: 30 }, { name: 'b', rows: 7 }] };
const NOW_MS = Date.UTC(2026, 10, 22, 12, 51, 44, 123);

const REQUEST: BackupRequest = {
  keyspace: 'ks', splits: 4, parallel: 2, fetchSize: 4, gzipLevel: 1, maxChunkBytes: 64 * 1024,
  consistency: 'LOCAL_QUORUM', attempts: 2, retryBaseDelayMs: 1,
};

const resumeHint = (id: string): string => `cassette backup --keyspace ks --resume ${id}`;

/** The request that resumes backup `id` (no --keyspace: it comes from backup.json). */
function resumeRequest(id: string): BackupRequest {
  const { keyspace: _keyspace, ...rest } = REQUEST;
  return { ...rest, resume: id };
}

function setup(options: FakeClusterOptions = KEYSPACE): { session: FakeSession; store: FaultyStore; deps: BackupDeps; controller: AbortController } {
  const session = fakeClusterSession(options);
  const store = memoryFaultyStore();
  const controller = new AbortController();
  let ms = NOW_MS;
  const deps: BackupDeps = {
    store,
    cluster: fakeCluster(session),
    progress: silentProgress,
    signal: controller.signal,
    now: () => (ms += 10),
    toolVersion: '0.0.0-test',
    resumeHint,
  };
  return { session, store, deps, controller };
}

/** The one backup id in the store. */
function backupIdIn(store: FaultyStore): string {
  const ids = new Set(store.putKeys().map((k) => k.split('/')[1] as string));
  expect(ids.size).toBe(1);
  return [...ids][0] as string;
}

async function markerCount(store: FaultyStore, backupId: string, table: string): Promise<number> {
  return (await readMarkers(store, backupId, table)).size;
}

/** [table, range start] of every data query that began a range (no pageState). */
function rangesRead(session: FakeSession, from = 0): string[] {
  return session.calls.slice(from).filter((c) => isDataQuery(c) && c.options.pageState === undefined)
    .map((c) => `${/FROM "ks"\."(\w+)"/.exec(c.cql)?.[1]}:${String(c.params[0])}`);
}

async function failure(promise: Promise<unknown>): Promise<CassetteError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(CassetteError);
  return err as CassetteError;
}

describe('runBackup over a fake cluster and an in-memory repository', () => {
  it('backs up every row of every table: backup.json first, then schema.cql, chunks and markers, manifest.json last', async () => {
    const { session, store, deps } = setup();
    const report = await runBackup(REQUEST, deps);
    const id = report.backupId;
    expect(report).toMatchObject({ keyspace: 'ks', resumed: false, ranges: 8, rows: 37, rowsThisRun: 37 });
    expect(report.tables.map((t) => [t.name, t.ranges, t.rangesSkipped, t.rows])).toEqual([['a', 4, 0, 30], ['b', 4, 0, 7]]);

    const keys = store.putKeys();
    expect(keys.slice(0, 2)).toEqual([backupHeaderKey(id), schemaCqlKey(id)]);
    expect(keys.at(-1)).toBe(manifestKey(id));
    expect(store.puts.every((p) => p.ifAbsent && p.outcome === 'stored')).toBe(true);

    const back = await readBackup(store, id);
    expect(back.rows.get('a')?.map((r) => r.row.k[0])).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(back.rows.get('b')?.[3]?.row).toEqual({ k: [3], c: { v: { v: 'b row 3', t: Number(FAKE_WRITETIME) } } });
    // Every range of every table was read once, at the requested consistency and fetch size.
    expect(rangesRead(session)).toHaveLength(8);
    expect(session.calls.filter(isDataQuery).every((c) => c.options.consistency === 6 && c.options.fetchSize === 4)).toBe(true);
  });

  it('never reads more ranges at once than --parallel', async () => {
    const { session, deps } = setup();
    session.delayPages(1);
    await runBackup({ ...REQUEST, splits: 8, parallel: 3 }, deps);
    expect(session.peakInFlight(isDataQuery)).toBe(3);
  });

  it('writes nothing and reads no data when the keyspace does not exist', async () => {
    const { session, store, deps } = setup();
    const err = await failure(runBackup({ ...REQUEST, keyspace: 'KS' }, deps));
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.hint).toContain('did you mean "ks"');
    expect(store.puts).toEqual([]);
    expect(session.calls.filter(isDataQuery)).toEqual([]);
  });

  it('writes nothing for an unknown table or a partitioner other than Murmur3', async () => {
    const { store, deps } = setup();
    expect((await failure(runBackup({ ...REQUEST, tables: ['a', 'nope'] }, deps))).code).toBe('INVALID_INPUT');
    const random = { ...deps, cluster: { ...deps.cluster, partitioner: 'org.apache.cassandra.dht.RandomPartitioner' } };
    expect((await failure(runBackup(REQUEST, random))).code).toBe('INVALID_INPUT');
    expect(store.puts).toEqual([]);
  });

  it('on an abort mid-run throws INTERRUPTED with the resume command, and the resume finishes the backup', async () => {
    const { session, store, deps, controller } = setup();
    const reason = new Error('interrupted by SIGINT');
    session.onExecute((call) => {
      // Abort while table a's third range is being read.
      if (rangesRead(session).length === 3 && isDataQuery(call)) controller.abort(reason);
    });
    const err = await failure(runBackup({ ...REQUEST, parallel: 1 }, deps));
    const id = backupIdIn(store);
    const saved = await markerCount(store, id, 'a') + await markerCount(store, id, 'b');
    expect(err.code).toBe('INTERRUPTED');
    expect(err.message).toBe(`backup ${id} interrupted; ${saved} of 8 ranges are saved`);
    expect(err.hint).toBe(`resume with: ${resumeHint(id)}`);
    expect(saved).toBeGreaterThanOrEqual(2);
    expect(saved).toBeLessThan(8);
    expect(await store.head(manifestKey(id))).toBeUndefined();
    expect(rangesRead(session)).toHaveLength(3); // nothing started after the abort

    const again = setup();
    const resumed = await runBackup(resumeRequest(id), { ...again.deps, store });
    expect(resumed).toMatchObject({ backupId: id, resumed: true, ranges: 8, rows: 37 });
    expect(rangesRead(again.session)).toHaveLength(8 - saved);
  });

  it('a run killed between backup.json and schema.cql: the resume writes schema.cql (crash matrix)', async () => {
    const { session, store, deps, controller } = setup();
    session.onExecute((call) => {
      if (rangesRead(session).length === 2 && isDataQuery(call)) controller.abort(new Error('killed'));
    });
    await failure(runBackup({ ...REQUEST, parallel: 1 }, deps));
    const id = backupIdIn(store);
    const written = await text(await store.get(schemaCqlKey(id)));
    await store.delete(schemaCqlKey(id)); // what a SIGKILL right after backup.json leaves
    const again = setup();
    await runBackup(resumeRequest(id), { ...again.deps, store });
    expect(await text(await store.get(schemaCqlKey(id)))).toBe(written);
  });

  it('resume skips the ranges that already have markers and keeps their chunks', async () => {
    const { store, deps } = setup();
    // The marker of table a's range 2 cannot be written (a hint-less repository error), with no retry.
    store.failPutWhen((key) => key.endsWith('/ranges/a/00002.json'), { error: new CassetteError('REPOSITORY_UNAVAILABLE', 'disk went away') });
    const err = await failure(runBackup({ ...REQUEST, parallel: 1, attempts: 1 }, deps));
    const id = backupIdIn(store);
    expect(err.code).toBe('REPOSITORY_UNAVAILABLE');
    expect(err.hint).toBe(`fix the cause, then resume with: ${resumeHint(id)}`);
    const before = await readMarkers(store, id, 'a');
    expect([...before.keys()].sort()).toEqual([0, 1]);
    expect(await markerCount(store, id, 'b')).toBe(0); // scheduling stopped at the failure

    const again = setup();
    const report = await runBackup(resumeRequest(id), { ...again.deps, store });
    expect(report.tables.map((t) => [t.name, t.rangesSkipped])).toEqual([['a', 2], ['b', 0]]);
    expect(report.rows).toBe(37);
    // Only ranges 2 and 3 of a, and all of b, were read again.
    const [a, b] = (await readBackup(store, id)).manifest.tables.map((t) => t.ranges.map((r) => r.start));
    expect(rangesRead(again.session)).toEqual([`a:${a?.[2]}`, `a:${a?.[3]}`, ...(b ?? []).map((start) => `b:${start}`)]);
    const after = await readMarkers(store, id, 'a');
    expect(after.get(0)).toEqual(before.get(0));
    expect(after.get(1)).toEqual(before.get(1));
    expect(report.rowsThisRun).toBe(37 - (before.get(0)?.rows ?? 0) - (before.get(1)?.rows ?? 0));
  });

  it('resuming a complete backup reads no data and writes nothing', async () => {
    const { store, deps } = setup();
    const first = await runBackup(REQUEST, deps);
    const putsBefore = store.puts.length;
    const again = setup();
    const report = await runBackup({ ...REQUEST, resume: first.backupId }, { ...again.deps, store });
    expect(report).toMatchObject({ backupId: first.backupId, resumed: true, rows: 37, rowsThisRun: 0 });
    expect(again.session.calls.filter(isDataQuery)).toEqual([]);
    expect(store.puts).toHaveLength(putsBefore);
  });

  it('refuses to resume once the schema has changed, writing nothing', async () => {
    const { store, deps } = setup();
    store.failPutWhen((key) => key.includes('/ranges/'), { error: new CassetteError('REPOSITORY_UNAVAILABLE', 'gone'), times: Number.POSITIVE_INFINITY });
    await failure(runBackup({ ...REQUEST, attempts: 1 }, deps));
    const id = backupIdIn(store);
    const putsBefore = store.puts.length;
    const changed = setup({ ...KEYSPACE, tables: [{ name: 'a', rows: 30, valueType: 'ascii' }, { name: 'b', rows: 7 }] });
    const err = await failure(runBackup({ ...REQUEST, resume: id }, { ...changed.deps, store }));
    expect(err.code).toBe('INVALID_INPUT');
    expect(store.puts).toHaveLength(putsBefore);
    expect(changed.session.calls.filter(isDataQuery)).toEqual([]);
  });

  it('reports progress that adds up to the rows read, rolling back a retried range and noting the retry', async () => {
    const { session, deps } = setup();
    // The first second page of any range times out once: that range is re-read from its start.
    session.failWhen((call) => isDataQuery(call) && call.options.pageState !== undefined);
    const rows = new Map<string, number>();
    const negative: number[] = [];
    const notes: string[] = [];
    const progress: ProgressSink = {
      ...silentProgress,
      rows: (part, n) => {
        rows.set(part, (rows.get(part) ?? 0) + n);
        if (n < 0) negative.push(n);
      },
      note: (line) => notes.push(line),
    };
    const report = await runBackup(REQUEST, { ...deps, progress });
    expect(Object.fromEntries(rows)).toEqual({ a: 30, b: 7 });
    expect(negative).toEqual([-4]); // the one page of 4 rows read before the timeout
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/^a range 0: attempt 1 failed \(Operation timed out\); re-reading the range in \d+ ms$/);
    expect(report.rowsThisRun).toBe(37);
  });

  it('turns a range that still fails after every retry into CLUSTER_UNAVAILABLE with the resume command', async () => {
    const { session, store, deps } = setup();
    session.failWhen(isDataQuery, undefined, Infinity);
    const err = await failure(runBackup({ ...REQUEST, attempts: 2 }, deps));
    const id = backupIdIn(store);
    expect(err.code).toBe('CLUSTER_UNAVAILABLE');
    expect(err.message).toBe('could not read a range 0 (-9223372036854775808, -4611686018427387904] after 2 attempts: Operation timed out; replicas: none known');
    expect(err.hint).toBe(`check the cluster's health (nodetool status); then resume with: ${resumeHint(id)}`);
  });

  it('keeps the code of a repository outage that outlasts --retry-for and adds the resume command to its hint', async () => {
    const { store, deps } = setup();
    store.failPutWhen((key) => key.includes('/ranges/'), { times: Infinity });
    const err = await failure(runBackup({ ...REQUEST, retryForMs: 0 }, deps));
    expect(err.code).toBe('REPOSITORY_UNAVAILABLE');
    expect(err.hint).toBe(`injected by FaultyStore; a longer --retry-for waits out longer outages; then resume with: ${resumeHint(backupIdIn(store))}`);
  });
});
