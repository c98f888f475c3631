import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TableReader } from '../../src/cassandra/reads/table-reader.js';
import { CassetteError } from '../../src/errors.js';
import { backupFolder, chunkKey, markerKey } from '../../src/manifest/keys.js';
import { readMarkers } from '../../src/manifest/repository.js';
import { exportRange, type ExportRangeDeps, type ExportRangeSettings, type RangeJob } from '../../src/pipeline/export/export-range.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import type { RangeRoute } from '../../src/cassandra/ring/read-routes.js';
import cassandra from 'cassandra-driver';
import { readAll } from '../support/blob-store-contract.js';
import { FakeSession, operationTimedOut, row, tokenRangeRows, type TokenedRow } from '../support/fakes/fake-session.js';
import { tempFaultyStore, type FaultyStore } from '../support/fakes/faulty-store.js';

const BACKUP_ID = '20261122T125144Z-3fa9c1';
const CQL = 'SELECT "id", "v" FROM "ks"."t" WHERE token("id") > ? AND token("id") <= ?';
const NOW_MS = Date.UTC(2026, 10, 22, 12, 52, 1, 250);

/** 10 rows in the range (-100, 100], in token order, and one outside it. */
const ROWS: TokenedRow[] = [
  ...Array.from({ length: 10 }, (_, i) => ({ token: BigInt(-90 + 20 * i), row: row({ id: i, v: `v${i}` }) })),
  { token: 100_000n, row: row({ id: 99, v: 'outside' }) },
];

/** A stand-in for the real table reader: the line records the row and the page's read time. */
const reader: TableReader = {
  cql: CQL,
  encodeRow: (r, readAtSeconds) => JSON.stringify({ k: [r.get('id')], c: { v: r.get('v') }, readAtSeconds }),
};

const job: RangeJob = { folder: backupFolder(BACKUP_ID), table: 't', index: 7, range: { start: -100n, end: 100n }, reader };

/** One chunk per page (any page reaches 1 byte), three rows per page: pages of 3, 3, 3, 1 rows. */
const settings: ExportRangeSettings = { fetchSize: 3, consistency: 6, gzipLevel: 1, maxChunkBytes: 1, attempts: 3, retryBaseDelayMs: 1 };

function session(): FakeSession {
  return new FakeSession().answer('FROM "ks"."t"', tokenRangeRows(ROWS));
}

interface Recorded {
  readonly deps: ExportRangeDeps;
  readonly rows: number[];
  readonly retries: string[];
  readonly controller: AbortController;
}

function deps(s: FakeSession, store: BlobStore): Recorded {
  const rows: number[] = [];
  const retries: string[] = [];
  const controller = new AbortController();
  return {
    rows,
    retries,
    controller,
    deps: {
      session: s,
      store,
      signal: controller.signal,
      now: () => NOW_MS,
      onRows: (n) => rows.push(n),
      onRetry: (line) => retries.push(line),
    },
  };
}

/** A route over `nodes` (all up unless listed in `down`): attempt n pins the n-th up node, cycling. */
function fakeRoute(nodes: readonly string[], down: ReadonlySet<string> = new Set()): RangeRoute {
  const up = (): string[] => nodes.filter((n) => !down.has(n));
  return {
    localReplicas: nodes,
    attempt: (n) => {
      const node = up()[(n - 1) % Math.max(1, up().length)];
      return node === undefined ? undefined : { routing: { pinned: node }, node };
    },
    describe: () => nodes.map((n) => `${n} (dc1, ${down.has(n) ? 'down' : 'up'})`).join(', '),
    down: () => nodes.filter((n) => down.has(n)).map((n) => `${n} (dc1)`),
  };
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** The attempt id in a chunk key `data/t/00007-<attempt>-<seq>.ndjson.gz`. */
function attemptOf(key: string): string {
  const m = /^data\/t\/00007-([0-9a-f]{8})-\d{5}\.ndjson\.gz$/.exec(key);
  if (m === null) throw new Error(`not a chunk key of range 7: ${key}`);
  return m[1] as string;
}

async function chunkLines(store: BlobStore, relativeKey: string): Promise<unknown[]> {
  const text = gunzipSync(await readAll(await store.get(chunkKey(BACKUP_ID, relativeKey)))).toString('utf8');
  return text.trimEnd().split('\n').map((line) => JSON.parse(line) as unknown);
}

async function dataKeys(store: BlobStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of store.list(`backups/${BACKUP_ID}/data/`)) keys.push(entry.key.slice(`backups/${BACKUP_ID}/`.length));
  return keys;
}

describe('exportRange', () => {
  let store: FaultyStore;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ store, cleanup } = await tempFaultyStore());
  });
  afterEach(() => cleanup());

  it('writes the range as chunks of one attempt, then its marker', async () => {
    const s = session();
    const r = deps(s, store);
    const marker = await exportRange({ ...job, route: fakeRoute(['replica-1']) }, settings, r.deps);

    expect(marker).toMatchObject({
      formatVersion: 1, table: 't', index: 7, start: '-100', end: '100', rows: 10, readAt: '2026-11-22T12:52:01.250Z',
    });
    expect(marker.chunks.map((c) => c.rows)).toEqual([3, 3, 3, 1]);
    expect(marker.chunks.map((c) => attemptOf(c.key))).toEqual(Array(4).fill(marker.attempt));
    expect(marker.chunks.map((c) => c.key.slice(-15))).toEqual(['00000.ndjson.gz', '00001.ndjson.gz', '00002.ndjson.gz', '00003.ndjson.gz']);
    expect(marker.bytes).toBe(sum(marker.chunks.map((c) => c.bytes)));
    expect((await readMarkers(store, BACKUP_ID, 't')).get(7)).toEqual(marker);
    expect(store.putKeys().at(-1)).toBe(markerKey(BACKUP_ID, 't', 7)); // the marker is the last write

    const lines = (await Promise.all(marker.chunks.map((c) => chunkLines(store, c.key)))).flat();
    expect(lines).toEqual(Array.from({ length: 10 }, (_, i) => ({ k: [i], c: { v: `v${i}` }, readAtSeconds: Math.floor(NOW_MS / 1000) })));
    expect(sum(r.rows)).toBe(10);
    expect(r.retries).toEqual([]);
    expect(s.calls.every((c) => (c.options.routing as { pinned?: string } | undefined)?.pinned === 'replica-1')).toBe(true);
  });

  it('writes a marker without chunks for a range with no rows', async () => {
    const s = new FakeSession().answer('FROM "ks"."t"', []);
    const marker = await exportRange(job, settings, deps(s, store).deps);
    expect(marker).toMatchObject({ rows: 0, bytes: 0, chunks: [] });
    expect(await dataKeys(store)).toEqual([]);
    expect(store.putKeys()).toEqual([markerKey(BACKUP_ID, 't', 7)]);
  });

  it('abandons the attempt on a read timeout mid-range and re-reads the range from its start under a new attempt id', async () => {
    const s = session().failCall(3); // page 3 of the first attempt
    const r = deps(s, store);
    const marker = await exportRange(job, settings, r.deps);

    // Calls 1-3 are the first attempt; call 4 starts over without a pageState.
    expect(s.calls.map((c) => c.options.pageState)).toEqual([undefined, 'fake-page:3', 'fake-page:6', undefined, 'fake-page:3', 'fake-page:6', 'fake-page:9']);
    const stored = await dataKeys(store);
    const abandoned = stored.filter((k) => attemptOf(k) !== marker.attempt);
    expect(abandoned).toHaveLength(1); // page 1's chunk was complete before page 3 failed
    expect(attemptOf(abandoned[0] as string)).not.toBe(marker.attempt);
    // The marker lists only the final attempt's chunks, and they hold every row once.
    expect(marker.chunks.map((c) => attemptOf(c.key))).toEqual(Array(4).fill(marker.attempt));
    expect(stored.filter((k) => attemptOf(k) === marker.attempt)).toEqual(marker.chunks.map((c) => c.key));
    expect(marker.rows).toBe(10);
    // Progress: the failed attempt's 6 rows are taken back before the range is read again.
    expect(r.rows).toEqual([3, 3, -6, 3, 3, 3, 1]);
    expect(r.retries).toHaveLength(1);
    expect(r.retries[0]).toMatch(/^t range 7: attempt 1 failed \(Operation timed out\); re-reading the range in \d+ ms$/);
  });

  it.each([
    ['a chunk put fails', (k: string) => k.includes('/data/') && k.endsWith('-00001.ndjson.gz')],
    ['the marker put fails', (k: string) => k.includes('/ranges/')],
  ])('retries the range under a new attempt when %s (REPOSITORY_UNAVAILABLE)', async (_what, failing) => {
    store.failPutWhen(failing);
    const s = session();
    const r = deps(s, store);
    const marker = await exportRange(job, settings, r.deps);
    expect(store.puts.filter((p) => p.outcome === 'injected-failure')).toHaveLength(1);
    const attempts = new Set((await dataKeys(store)).map(attemptOf));
    expect(attempts.size).toBe(2);
    expect(marker.chunks.map((c) => attemptOf(c.key))).toEqual(Array(4).fill(marker.attempt));
    expect(sum(r.rows)).toBe(10);
    expect(r.rows.filter((n) => n < 0)).toHaveLength(1);
    expect(r.retries).toHaveLength(1);
    expect((await readMarkers(store, BACKUP_ID, 't')).get(7)).toEqual(marker);
  });

  it('retries CLUSTER_UNAVAILABLE', async () => {
    const s = session().failCall(1, new CassetteError('CLUSTER_UNAVAILABLE', 'no host available'));
    const marker = await exportRange(job, settings, deps(s, store).deps);
    expect(marker.rows).toBe(10);
  });

  it.each([
    ['INVALID_INPUT from the session', () => new CassetteError('INVALID_INPUT', 'unsupported value')],
    ['BACKUP_INVALID from the session', () => new CassetteError('BACKUP_INVALID', 'bad')],
    ['an AbortError', () => Object.assign(new Error('The operation was aborted'), { name: 'AbortError' })],
  ])('does not retry %s', async (_what, makeError) => {
    const error = makeError();
    const s = session().failCall(2, error);
    const r = deps(s, store);
    await expect(exportRange(job, settings, r.deps)).rejects.toBe(error);
    expect(s.calls).toHaveLength(2);
    expect(r.retries).toEqual([]);
    expect(sum(r.rows)).toBe(0);
    // Page 1's chunk was still open (its body reads ahead) and its put has already given up when
    // exportRange rejects: nothing stored, and no write still running while afterEach removes the store.
    expect(store.puts.map((p) => p.outcome)).toEqual(['failed']);
    expect(await dataKeys(store)).toEqual([]);
    expect(await readMarkers(store, BACKUP_ID, 't')).toEqual(new Map());
  });

  it('does not retry a row the reader cannot encode (INVALID_INPUT)', async () => {
    const s = session();
    const r = deps(s, store);
    const failure = new CassetteError('INVALID_INPUT', 'column v: a value the format cannot hold');
    const broken: TableReader = { cql: CQL, encodeRow: (rw, at) => (rw.get('id') === 4 ? ((): never => { throw failure; })() : reader.encodeRow(rw, at)) };
    await expect(exportRange({ ...job, reader: broken }, settings, r.deps)).rejects.toBe(failure);
    expect(r.retries).toEqual([]);
    expect(s.calls.filter((c) => c.options.pageState === undefined)).toHaveLength(1);
  });

  it('does not retry once the signal has aborted, whatever the error', async () => {
    const s = session();
    const r = deps(s, store);
    const reason = new Error('interrupted by SIGINT');
    s.onExecute((call) => {
      if (call.seq === 2) r.controller.abort(reason);
    });
    const err = await exportRange(job, settings, r.deps).then(() => undefined, (e: unknown) => e);
    // The abort reason itself, or a stream's AbortError caused by it.
    expect(err === reason || (err instanceof Error && err.name === 'AbortError')).toBe(true);
    expect(s.calls.filter((c) => c.options.pageState === undefined)).toHaveLength(1);
    expect(r.retries).toEqual([]);
    expect(sum(r.rows)).toBe(0);
    expect(await readMarkers(store, BACKUP_ID, 't')).toEqual(new Map());
  });

  it('stops waiting to retry when the signal aborts during the backoff', async () => {
    const s = session().failCall(1);
    const r = deps(s, store);
    const slow = { ...settings, retryBaseDelayMs: 60_000 };
    const reason = new Error('interrupted by SIGTERM');
    const failing = exportRange(job, slow, { ...r.deps, onRetry: () => r.controller.abort(reason) });
    await expect(failing).rejects.toMatchObject({ name: 'AbortError' });
    expect(s.calls).toHaveLength(1);
  });

  it('retries each attempt on the next up replica and reports which node read the range', async () => {
    const s = session().failCall(1).failCall(2);
    const r = deps(s, store);
    const read: string[] = [];
    const marker = await exportRange({ ...job, route: fakeRoute(['a', 'b', 'c'], new Set(['b'])) }, settings, { ...r.deps, onRead: (node) => read.push(node) });
    expect(marker.rows).toBe(10);
    const firstPages = s.calls.filter((c) => c.options.pageState === undefined);
    expect(firstPages.map((c) => (c.options.routing as { pinned: string }).pinned)).toEqual(['a', 'c', 'a']);
    expect(r.retries.map((line) => line.replace(/in \d+ ms/, 'in N ms'))).toEqual([
      't range 7: attempt 1 failed (Operation timed out); re-reading the range in N ms on c',
      't range 7: attempt 2 failed (Operation timed out); re-reading the range in N ms on a',
    ]);
    expect(read).toEqual(['a']);
  });

  it('names the range and its down replicas when the retries run out (CLUSTER_UNAVAILABLE)', async () => {
    const last = new Error('Cannot achieve consistency level LOCAL_QUORUM');
    const s = session().failWhen(() => true, last, Number.POSITIVE_INFINITY);
    const r = deps(s, store);
    const err = await exportRange({ ...job, route: fakeRoute(['a', 'b', 'c'], new Set(['b', 'c'])) }, { ...settings, attempts: 2 }, r.deps).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CassetteError);
    expect(err).toMatchObject({ code: 'CLUSTER_UNAVAILABLE', cause: last });
    expect((err as CassetteError).message).toBe('could not read t range 7 (-100, 100] after 2 attempts: Cannot achieve consistency level LOCAL_QUORUM; replicas: a (dc1, up), b (dc1, down), c (dc1, down)');
    expect((err as CassetteError).hint).toMatch(/^replicas b \(dc1\), c \(dc1\) are down: bring them back/);
  });

  it('fails at once, with its own message, on a read the cluster refuses as invalid', async () => {
    const refused = new cassandra.errors.ResponseError(cassandra.types.responseErrorCodes.invalid, 'Cannot use selection function writeTime on non-frozen collection l');
    const s = session().failCall(1, refused);
    const r = deps(s, store);
    const err = await exportRange(job, settings, r.deps).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_INPUT', cause: refused });
    expect((err as CassetteError).message).toBe('the cluster refused the read of t range 7 (-100, 100]: Cannot use selection function writeTime on non-frozen collection l');
    expect(r.retries).toEqual([]);
    expect(s.calls).toHaveLength(1);
  });

  it('gives up after `attempts` attempts with the last error, writing no marker', async () => {
    const last = operationTimedOut();
    const s = session().failCall(1).failCall(2).failCall(3, last);
    const r = deps(s, store);
    await expect(exportRange(job, { ...settings, attempts: 3 }, r.deps)).rejects.toMatchObject({ code: 'CLUSTER_UNAVAILABLE', cause: last });
    expect(s.calls).toHaveLength(3);
    expect(s.calls.every((c) => c.options.pageState === undefined)).toBe(true);
    expect(r.retries.map((line) => line.replace(/\d+ ms$/, 'N ms'))).toEqual([
      't range 7: attempt 1 failed (Operation timed out); re-reading the range in N ms',
      't range 7: attempt 2 failed (Operation timed out); re-reading the range in N ms',
    ]);
    expect(await readMarkers(store, BACKUP_ID, 't')).toEqual(new Map());
  });

  it('backs off within [ceiling/2, ceiling], the ceiling doubling from retryBaseDelayMs', async () => {
    const s = session().failWhen(() => true, operationTimedOut(), Number.POSITIVE_INFINITY);
    const r = deps(s, store);
    await expect(exportRange(job, { ...settings, attempts: 4, retryBaseDelayMs: 2 }, r.deps)).rejects.toBeDefined();
    const delays = r.retries.map((line) => Number(/in (\d+) ms$/.exec(line)?.[1]));
    expect(delays).toHaveLength(3);
    [2, 4, 8].forEach((ceiling, i) => {
      expect(delays[i]).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delays[i]).toBeLessThanOrEqual(ceiling);
    });
  });
});
