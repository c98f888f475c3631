/**
 * Counter chunks of a restore (src/pipeline/load/counter-chunks.ts): the intent marker before the
 * first write, and the exact resume of a chunk an interrupted run was writing — rows whose
 * counters the target holds are skipped, untouched rows are written, a row someone else changed
 * refuses the resume before anything is written. The target is a fake session answering the
 * read-back from a map; the integration side is test/integration/crash-counters.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { CqlSession, QueryResult } from '../../src/cassandra/connection/session.js';
import { CassetteError } from '../../src/errors.js';
import { FORMAT_VERSION, type Manifest } from '../../src/manifest/format.js';
import { chunkKey, chunkStartedKey } from '../../src/manifest/keys.js';
import { writeDocument } from '../../src/manifest/repository.js';
import { readChunkRows } from '../../src/pipeline/chunks/read-chunk.js';
import { openCounterChunks, requireEmptyCounterTables, type RestoreChunk } from '../../src/pipeline/load/counter-chunks.js';
import { MemoryStore } from '../support/fakes/memory-store.js';
import { keyspaceSchema, tableSchema, writeSyntheticBackup } from '../support/synthetic-backup.js';

const BACKUP = '20261122T120000Z-000001';
const RESTORE = 'r20261122T130000Z-000002';
const ROWS = 6;
const schema = keyspaceSchema('ks', [
  tableSchema('hits', [['page', 'int', 'partition_key'], ['views', 'counter', 'regular'], ['clicks', 'counter', 'regular']], true),
  tableSchema('plain', [['id', 'int', 'partition_key'], ['v', 'text', 'regular']]),
]);

/** Row i of `hits`: views i + 1, clicks −i (0 for the first row). */
function hit(i: number): { views: bigint; clicks: bigint } {
  return { views: BigInt(i + 1), clicks: BigInt(-i) };
}

async function setup(): Promise<{ store: MemoryStore; jobs: RestoreChunk[] }> {
  const store = new MemoryStore();
  const rows = Array.from({ length: ROWS }, (_, i) => ({ k: [i], c: { views: { v: String(hit(i).views), t: 1 }, clicks: { v: String(hit(i).clicks), t: 1 } } }));
  const manifest: Manifest = await writeSyntheticBackup(store, BACKUP, schema, [
    { name: 'hits', ranges: [[rows]] },
    { name: 'plain', ranges: [[[{ k: [1], c: { v: { v: 'x', t: 1 } } }]]] },
  ]);
  const jobs = manifest.tables.flatMap((t) => t.ranges.flatMap((r) => r.chunks.map((entry, chunk) => ({ table: t.name, range: r.index, chunk, entry }))));
  return { store, jobs };
}

/** A target whose `hits` rows are `rows` (page → counters); `fail` makes every read fail. */
function target(rows: ReadonlyMap<number, { views: bigint; clicks: bigint }>, fail = false): CqlSession & { reads: number } {
  const session = {
    reads: 0,
    async execute(cql: string, params: readonly unknown[] = []): Promise<QueryResult> {
      session.reads++;
      if (fail) throw new Error('Operation timed out');
      expect(cql).toBe('SELECT "clicks", "views" FROM "ks_t"."hits" WHERE "page" = ?');
      const row = rows.get(params[0] as number);
      if (row === undefined) return { rows: [] };
      const values = [row.clicks, row.views];
      return { rows: [{ get: (i: string | number) => values[i as number], values: () => values }] };
    },
  };
  return session;
}

function deps(store: MemoryStore, session: CqlSession, notes: string[] = []) {
  return { store, session, consistency: 6, backupId: BACKUP, restoreId: RESTORE, keyspace: 'ks_t', schema, now: () => Date.UTC(2026, 10, 22, 13), note: (line: string) => notes.push(line) };
}

async function pages(rows: AsyncIterable<unknown[]>): Promise<number[]> {
  const out: number[] = [];
  for await (const batch of rows) for (const row of batch) out.push((row as { k: number[] }).k[0] as number);
  return out;
}

async function markStarted(store: MemoryStore, job: RestoreChunk): Promise<void> {
  await writeDocument(store, chunkStartedKey(BACKUP, RESTORE, job.table, job.range, job.chunk), { formatVersion: FORMAT_VERSION, table: job.table, range: job.range, chunk: job.chunk, key: job.entry.key, startedAt: 'x' });
}

const rowsOf = (store: MemoryStore, job: RestoreChunk): AsyncIterable<unknown[]> => readChunkRows(store, chunkKey(BACKUP, job.entry.key), job.entry, 'chunk');

describe('counter chunks of a restore', () => {
  it('a counter chunk not started before: stores its intent marker before handing out every row; other tables pass through without one', async () => {
    const { store, jobs } = await setup();
    const session = target(new Map());
    const chunks = await openCounterChunks(deps(store, session), jobs);
    expect(session.reads).toBe(0);
    const [hits, plain] = jobs as [RestoreChunk, RestoreChunk];
    const begun = await chunks.begin(hits, rowsOf(store, hits));
    expect(await store.head(chunkStartedKey(BACKUP, RESTORE, 'hits', 0, 0))).toBeDefined();
    expect(begun.alreadyApplied).toBe(0);
    expect(await pages(begun.rows)).toEqual([0, 1, 2, 3, 4, 5]);
    const other = await chunks.begin(plain, rowsOf(store, plain));
    expect(await store.head(chunkStartedKey(BACKUP, RESTORE, 'plain', 0, 0))).toBeUndefined();
    expect(other.alreadyApplied).toBe(0);
  });

  it('a started counter chunk without completion marker: rows the target holds are skipped, untouched rows written', async () => {
    const { store, jobs } = await setup();
    const [hits] = jobs as [RestoreChunk];
    await markStarted(store, hits);
    // Rows 0, 1 and 4 were added by the killed run (row 0's clicks is 0: the read returns 0 as well as null).
    const session = target(new Map([[0, hit(0)], [1, hit(1)], [4, hit(4)]]));
    const notes: string[] = [];
    const chunks = await openCounterChunks(deps(store, session, notes), jobs);
    expect(session.reads).toBe(ROWS);
    expect(notes).toEqual(['counter table ks_t.hits: chunk 0 of range 0 was being written when the restore stopped; reading its 6 rows back from the target']);
    const begun = await chunks.begin(hits, rowsOf(store, hits));
    expect(begun.alreadyApplied).toBe(3);
    expect(await pages(begun.rows)).toEqual([2, 3, 5]);
  });

  it('refuses the resume, before writing anything, when a counter row is neither untouched nor the backup\'s', async () => {
    const { store, jobs } = await setup();
    const [hits] = jobs as [RestoreChunk];
    await markStarted(store, hits);
    const session = target(new Map([[0, hit(0)], [3, { views: hit(3).views + 1n, clicks: hit(3).clicks }]]));
    const error = await openCounterChunks(deps(store, session), jobs).then(() => undefined, (e: unknown) => e) as CassetteError;
    expect(error).toBeInstanceOf(CassetteError);
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toBe(`restore ${RESTORE} cannot resume counter table ks_t.hits: 1 row of chunk 0 of range 0 of table hits holds counters that are neither 0 nor the backup's `
      + '(first: row [3], clicks=-3/-3, views=5/4 as target/backup); the table was written by someone else since the restore started');
    expect(error.hint).toBe('nothing was written; TRUNCATE ks_t.hits and restore the backup again in a new run');
  });

  it('a read-back that fails stops the resume with CLUSTER_UNAVAILABLE, before writing anything', async () => {
    const { store, jobs } = await setup();
    const [hits] = jobs as [RestoreChunk];
    await markStarted(store, hits);
    const error = await openCounterChunks(deps(store, target(new Map(), true)), jobs).then(() => undefined, (e: unknown) => e) as CassetteError;
    expect(error.code).toBe('CLUSTER_UNAVAILABLE');
    expect(error.message).toMatch(/^restore r\S+: cannot read the rows of chunk 0 of range 0 of table hits back from counter table ks_t\.hits: Operation timed out/);
  });

  it('refuses a counter table with static counters before any query (they would be added once per row)', async () => {
    const session = target(new Map());
    const withStatic = keyspaceSchema('ks', [tableSchema('totals', [['pk', 'int', 'partition_key'], ['ck', 'int', 'clustering'], ['s', 'counter', 'static'], ['n', 'counter', 'regular']], true)]);
    const error = await requireEmptyCounterTables(session, 6, withStatic, 'ks_t', ['totals']).then(() => undefined, (e: unknown) => e) as CassetteError;
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toBe("counter table totals has static counters (s), which cassette cannot restore yet: each backed-up row carries its partition's static value, and adding it once per row would multiply it");
    expect(session.reads).toBe(0);
  });
});
