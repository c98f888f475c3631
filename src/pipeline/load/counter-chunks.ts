/**
 * Counter tables in a restore (docs/config.md "counters", docs/format.md §7). Counters are
 * restored by adding, which is not idempotent, so:
 * - a fresh restore refuses a counter table that is not empty in the target
 *   ({@link requireEmptyCounterTables}): every counter then starts at 0;
 * - before the first write of a counter chunk, an intent marker `started/<table>/<range>-<chunk>.json`
 *   is stored ({@link CounterChunks.begin});
 * - a resume reads back, before it writes anything, every row of each counter chunk that has an
 *   intent marker but no completion marker (the chunks the interrupted run was writing): a row whose
 *   counters equal the backup's was added and is skipped, a row whose counters are all 0 was not
 *   and is written, and any other state (someone else wrote the table) refuses the resume, naming
 *   the table, range, chunk and row. So a chunk interrupted in the middle is finished exactly.
 *
 * The read-back sees what the cluster holds when the resume starts: a counter write the killed
 * process had sent, and that a coordinator is still applying then (for at most the cluster's
 * counter write timeout, 5 s by default), could be missed. Resume no sooner than that.
 */
import { CassetteError } from '../../errors.js';
import { SYSTEM_READ, type CqlSession } from '../../cassandra/connection/session.js';
import { findTable, type KeyspaceSchema } from '../../cassandra/schema/capture.js';
import { quoteIdentifier } from '../../cassandra/values/identifiers.js';
import { counterReadBackFor, type CounterReadBack } from '../../cassandra/writes/counter-read-back.js';
import type { BackupRow } from '../../cassandra/writes/row-shape.js';
import { reasonOf } from '../../cassandra/writes/write-errors.js';
import { FORMAT_VERSION, type ChunkEntry } from '../../manifest/format.js';
import { chunkKey, chunkStartedFolder, chunkStartedKey } from '../../manifest/keys.js';
import { readDocument, writeDocument } from '../../manifest/repository.js';
import { ChunkStarted } from '../../manifest/restore-format.js';
import { readChunkRows } from '../chunks/read-chunk.js';
import { BlobExistsError, type BlobStore } from '../../storage/blob-store.js';

/** Counter rows read back at once during a resume's check. */
const READ_BACK_CONCURRENCY = 32;

/**
 * Refuses a counter table of `tables` that exists in `keyspace` and holds a row: counters are
 * restored by adding to them, so they must start empty. Refuses, too, a counter table with static
 * columns: every backed-up row carries its partition's static value (format.md §6.1), so adding
 * it once per row would multiply it — not supported yet.
 *
 * @throws CassetteError INVALID_INPUT naming the table.
 */
export async function requireEmptyCounterTables(session: CqlSession, consistency: number, schema: KeyspaceSchema, keyspace: string, tables: readonly string[]): Promise<void> {
  for (const name of tables) {
    const table = findTable(schema, name);
    if (table?.isCounter !== true) continue;
    const statics = table.columns.filter((column) => column.kind === 'static').map((column) => column.name);
    if (statics.length > 0) {
      throw new CassetteError('INVALID_INPUT', `counter table ${name} has static counters (${statics.join(', ')}), which cassette cannot restore yet: each backed-up row carries its partition's static value, and adding it once per row would multiply it`, {
        hint: 'leave the table out with --tables (list the others)',
      });
    }
    const exists = await session.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?', [keyspace, name], SYSTEM_READ);
    if (exists.rows.length === 0) continue; // the restore creates it, empty
    const rs = await session.execute(`SELECT * FROM ${quoteIdentifier(keyspace)}.${quoteIdentifier(name)} LIMIT 1`, [], { consistency });
    if (rs.rows.length > 0) {
      throw new CassetteError('INVALID_INPUT', `counter table ${keyspace}.${name} in the target is not empty; counters are restored by adding to them, so they must start empty`, {
        hint: 'TRUNCATE it, or restore into a new keyspace with --target-keyspace',
      });
    }
  }
}

/** One chunk of a restore run. */
export interface RestoreChunk {
  readonly table: string;
  readonly range: number;
  readonly chunk: number;
  readonly entry: ChunkEntry;
}

export interface CounterChunksDeps {
  readonly store: BlobStore;
  readonly session: CqlSession;
  /** Driver code of the read-back (the restore's --consistency). */
  readonly consistency: number;
  readonly backupId: string;
  readonly restoreId: string;
  /** The target keyspace. */
  readonly keyspace: string;
  /** The backup's schema. */
  readonly schema: KeyspaceSchema;
  readonly now: () => number;
  readonly note: (line: string) => void;
}

/** The rows of a chunk to load, and how many of its rows an interrupted run had already added. */
export interface ChunkRows {
  readonly rows: AsyncIterable<unknown[]>;
  readonly alreadyApplied: number;
}

/** The counter chunks of one restore run (see the file comment). */
export interface CounterChunks {
  /**
   * Call right before loading `job`'s rows (`rows`, the chunk as read): for a counter chunk, stores
   * its intent marker first, and leaves out the rows an interrupted run already added. Other
   * tables' rows pass through.
   */
  begin(job: RestoreChunk, rows: AsyncIterable<unknown[]>): Promise<ChunkRows>;
}

/**
 * Prepares the counter chunks among `jobs` (the chunks this run still loads): reads back every
 * row of those with an intent marker, before anything is written.
 *
 * @throws CassetteError INVALID_INPUT when a counter row in the target is neither untouched nor
 *   the backup's (nothing is written then); CLUSTER_UNAVAILABLE when a read-back fails.
 */
export async function openCounterChunks(deps: CounterChunksDeps, jobs: readonly RestoreChunk[]): Promise<CounterChunks> {
  const readBacks = new Map<string, CounterReadBack>();
  for (const job of jobs) {
    const table = findTable(deps.schema, job.table);
    if (table?.isCounter === true && !readBacks.has(job.table)) readBacks.set(job.table, counterReadBackFor({ keyspace: deps.keyspace, table, types: deps.schema.types }));
  }
  const started = new Set<string>();
  if (readBacks.size > 0) {
    for await (const entry of deps.store.list(chunkStartedFolder(deps.backupId, deps.restoreId))) {
      const marker = await readDocument(deps.store, entry.key, ChunkStarted, `intent marker ${entry.key}`);
      if (marker !== undefined) started.add(idOf(marker));
    }
  }
  const applied = new Map<string, ReadonlySet<number>>();
  for (const job of jobs) {
    const readBack = readBacks.get(job.table);
    if (readBack === undefined || !started.has(idOf(job))) continue;
    deps.note(`counter table ${deps.keyspace}.${job.table}: chunk ${job.chunk} of range ${job.range} was being written when the restore stopped; reading its ${job.entry.rows} rows back from the target`);
    applied.set(idOf(job), await appliedRows(deps, job, readBack));
  }

  return Object.freeze({
    async begin(job: RestoreChunk, rows: AsyncIterable<unknown[]>): Promise<ChunkRows> {
      if (!readBacks.has(job.table)) return { rows, alreadyApplied: 0 };
      if (!started.has(idOf(job))) {
        const marker: ChunkStarted = { formatVersion: FORMAT_VERSION, table: job.table, range: job.range, chunk: job.chunk, key: job.entry.key, startedAt: new Date(deps.now()).toISOString() };
        try {
          await writeDocument(deps.store, chunkStartedKey(deps.backupId, deps.restoreId, job.table, job.range, job.chunk), marker);
        } catch (err) {
          if (!(err instanceof BlobExistsError)) throw err;
        }
        return { rows, alreadyApplied: 0 };
      }
      const skip = applied.get(idOf(job)) ?? new Set<number>();
      return { rows: skip.size === 0 ? rows : without(rows, skip), alreadyApplied: skip.size };
    },
  });
}

function idOf(chunk: { readonly table: string; readonly range: number; readonly chunk: number }): string {
  return `${chunk.table}/${chunk.range}/${chunk.chunk}`;
}

/** The positions (0-based, in chunk order) of the chunk's rows already added to the target. */
async function appliedRows(deps: CounterChunksDeps, job: RestoreChunk, readBack: CounterReadBack): Promise<Set<number>> {
  const what = `chunk ${job.chunk} of range ${job.range} of table ${job.table}`;
  const applied = new Set<number>();
  const different: { k: unknown; columns: string }[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let position = 0;
  for await (const batch of readChunkRows(deps.store, chunkKey(deps.backupId, job.entry.key), job.entry, what)) {
    for (const value of batch) {
      if (failure !== undefined) break;
      const row = value as BackupRow;
      const at = position++;
      const read = readBack.check(deps.session, row, deps.consistency).then(
        (state) => {
          if (state.kind === 'applied') applied.add(at);
          else if (state.kind === 'different') different.push({ k: row.k, columns: state.columns });
        },
        (error: unknown) => { failure ??= { error }; },
      ).finally(() => inFlight.delete(read));
      inFlight.add(read);
      if (inFlight.size >= READ_BACK_CONCURRENCY) await Promise.race(inFlight);
    }
    if (failure !== undefined) break;
  }
  await Promise.all(inFlight);
  const qualified = `${deps.keyspace}.${job.table}`;
  if (failure !== undefined) {
    throw new CassetteError('CLUSTER_UNAVAILABLE', `restore ${deps.restoreId}: cannot read the rows of ${what} back from counter table ${qualified}: ${reasonOf(failure.error)}`, {
      hint: 'nothing was written; bring the cluster back, then resume again',
      cause: failure.error,
    });
  }
  const [first] = different;
  if (first !== undefined) {
    throw new CassetteError('INVALID_INPUT', `restore ${deps.restoreId} cannot resume counter table ${qualified}: ${different.length === 1 ? '1 row' : `${different.length} rows`} of ${what} ${different.length === 1 ? 'holds' : 'hold'} counters that are neither 0 nor the backup's (first: row ${JSON.stringify(first.k)}, ${first.columns} as target/backup); the table was written by someone else since the restore started`, {
      hint: `nothing was written; TRUNCATE ${qualified} and restore the backup again in a new run`,
    });
  }
  return applied;
}

/** `rows` without the rows at the positions in `skip`. */
async function* without(rows: AsyncIterable<unknown[]>, skip: ReadonlySet<number>): AsyncGenerator<unknown[]> {
  let position = 0;
  for await (const batch of rows) {
    const kept = batch.filter(() => !skip.has(position++));
    if (kept.length > 0) yield kept;
  }
}
