/**
 * One token range of one table through the three stages of `cassette rotate`, each ending in a
 * write-once marker in the repository so a job killed at any point resumes at the stage it was in:
 *
 * 1. export — the primary key, the encrypted columns and the key-version column, with WRITETIME
 *    and expiry (the backup format, docs/format.md §6), into `rounds/<r>/export/`;
 * 2. transform — each exported chunk re-encrypted (rekey-row.ts), keeping only the rows that
 *    changed with only their changed cells and the exported values under `p`, into
 *    `rounds/<r>/transform/`; values no key opens are listed in quarantine files;
 * 3. write-back — the changed cells written in place (rotation-writes.ts) under the timestamp or
 *    LWT guard, through the shared RequestGate (rate, backpressure); LWT rows whose condition
 *    failed are read back: holding this job's values means an earlier attempt wrote them,
 *    anything else is an application write that raced the job and was left alone.
 *
 * Redoing a stage is safe: export and transform write under new attempt ids, and the write-back
 * of a stored transform is idempotent (same values, same timestamps; an LWT cannot apply twice).
 */
import type { RotationWriter } from '../../cassandra/writes/rotation-writes.js';
import type { CqlWriteSession } from '../../cassandra/connection/session.js';
import type { TableReader } from '../../cassandra/reads/table-reader.js';
import type { TokenRange } from '../../cassandra/ring/token-ranges.js';
import type { RangeRoute } from '../../cassandra/ring/read-routes.js';
import { CassetteError } from '../../errors.js';
import { newAttemptId } from '../../manifest/backup-id.js';
import { FORMAT_VERSION, RangeMarker, type ChunkEntry } from '../../manifest/format.js';
import {
  exportStageFolder, rangeMarkerKeyIn, rotationQuarantineKey, transformStageFolder, transformedKey, writtenKey,
} from '../../manifest/keys.js';
import { readDocument, writeDocument } from '../../manifest/repository.js';
import { TransformedRange, WrittenRange } from '../../manifest/rotation-format.js';
import { BlobExistsError, type BlobStore } from '../../storage/blob-store.js';
import { readChunkRows } from '../chunks/read-chunk.js';
import { exportRange } from '../export/export-range.js';
import { loadChunk, type StoredRow } from '../load/load-chunk.js';
import type { RequestGate } from '../load/request-gate.js';
import type { RowRotationPlan } from '../transform/rekey-row.js';
import { addTotals, totalsOf, ZERO_TOTALS } from '../transform/rekey-totals.js';
import type { ChunkTransformer } from '../transform/transformer.js';

export interface RangeWork {
  readonly jobId: string;
  readonly round: number;
  readonly table: string;
  readonly index: number;
  readonly range: TokenRange;
  readonly plan: RowRotationPlan;
  readonly reader: TableReader;
  readonly writer: RotationWriter;
  readonly partitionKeyColumns: number;
  /** The columns compared when a raced LWT row is read back: encrypted and key-version columns. */
  readonly conditionColumns: readonly string[];
  /** Where the export's reads go (read-routes.ts). */
  readonly route?: RangeRoute;
}

export interface StageSettings {
  readonly fetchSize: number;
  readonly gzipLevel: number;
  readonly maxChunkBytes: number;
  readonly readConsistency: number;
  readonly writeConsistency: number;
  readonly serialConsistency?: number;
  readonly batchBytes: number;
  readonly retryForMs: number;
  readonly attempts?: number;
  readonly retryBaseDelayMs: number;
}

export interface StageDeps {
  readonly store: BlobStore;
  readonly session: CqlWriteSession;
  readonly transformer: ChunkTransformer;
  readonly gate: RequestGate;
  readonly signal: AbortSignal;
  readonly now: () => number;
  /** Checked before the write-back: throws SCHEMA_DRIFT when the table changed since planning. */
  readonly beforeWrite: () => Promise<void>;
  /** Called for every row that could not be written; may throw to stop the job. */
  readonly onReject: (table: string, key: readonly unknown[], reason: string) => void;
  readonly onRows: (table: string, rows: number) => void;
  readonly onRetry: (line: string) => void;
  /** Backpressure figures when the range finishes, recorded in its marker for `status`. */
  readonly snapshot: () => { readP99Ms: number | null; writeP99Ms: number | null; rate: number | null };
}

export interface RangeOutcome {
  readonly exportedRows: number;
  readonly transformed: TransformedRange;
  readonly written: WrittenRange;
}

export async function runRangeStages(work: RangeWork, settings: StageSettings, deps: StageDeps): Promise<RangeOutcome> {
  const exported = await exportStage(work, settings, deps);
  deps.signal.throwIfAborted();
  const transformed = await transformStage(work, exported, settings, deps);
  deps.signal.throwIfAborted();
  const written = await writeStage(work, transformed, settings, deps);
  return { exportedRows: exported.rows, transformed, written };
}

async function exportStage(work: RangeWork, settings: StageSettings, deps: StageDeps): Promise<RangeMarker> {
  const folder = exportStageFolder(work.jobId, work.round);
  const key = rangeMarkerKeyIn(folder, work.table, work.index);
  const done = await readDocument(deps.store, key, RangeMarker, `export marker ${key}`);
  if (done !== undefined) return done;
  return firstStored(() => exportRange(
    { folder, table: work.table, index: work.index, range: work.range, reader: work.reader, ...(work.route === undefined ? {} : { route: work.route }) },
    {
      fetchSize: settings.fetchSize, consistency: settings.readConsistency, gzipLevel: settings.gzipLevel,
      maxChunkBytes: settings.maxChunkBytes, retryForMs: settings.retryForMs, retryBaseDelayMs: settings.retryBaseDelayMs,
      ...(settings.attempts === undefined ? {} : { attempts: settings.attempts }),
    },
    { session: deps.session, store: deps.store, signal: deps.signal, now: deps.now, onRows: () => undefined, onRetry: deps.onRetry },
  ), () => readDocument(deps.store, key, RangeMarker, `export marker ${key}`));
}

/**
 * Runs `stage`, whose last step writes the stage's write-once marker at `key`. When another worker
 * of a shared job (format.md §13) finished the same stage first, its marker is the stage's result:
 * this attempt's chunks are never referenced, and a repeated write-back is harmless under the guard.
 */
async function firstStored<T>(stage: () => Promise<T>, readStored: () => Promise<T | undefined>): Promise<T> {
  try {
    return await stage();
  } catch (err) {
    if (!(err instanceof BlobExistsError)) throw err;
    const stored = await readStored();
    if (stored === undefined) throw err;
    return stored;
  }
}

async function transformStage(work: RangeWork, exported: RangeMarker, settings: StageSettings, deps: StageDeps): Promise<TransformedRange> {
  const key = transformedKey(work.jobId, work.round, work.table, work.index);
  const done = await readDocument(deps.store, key, TransformedRange, `transform marker ${key}`);
  if (done !== undefined) return done;
  const exportFolder = exportStageFolder(work.jobId, work.round);
  const folder = transformStageFolder(work.jobId, work.round);
  const chunks: ChunkEntry[] = [];
  const quarantineKeys: string[] = [];
  let counts = ZERO_TOTALS;
  for (const [chunk, entry] of exported.chunks.entries()) {
    const attempt = newAttemptId();
    const result = await deps.transformer.run({
      sourceKey: `${exportFolder}${entry.key}`, source: entry,
      target: { folder, quarantineKey: rotationQuarantineKey(work.jobId, work.round, work.table, work.index, chunk, attempt) },
      table: work.table, range: work.index, chunk, plan: work.plan, attempt, gzipLevel: settings.gzipLevel, changedOnly: true,
    }, deps.signal);
    if (result.entry !== undefined) chunks.push(result.entry);
    if (result.quarantineKey !== undefined) quarantineKeys.push(result.quarantineKey);
    counts = addTotals(counts, totalsOf(result));
  }
  const marker: TransformedRange = {
    formatVersion: FORMAT_VERSION, table: work.table, index: work.index, rows: exported.rows, ...counts, chunks, quarantineKeys,
    doneAt: new Date(deps.now()).toISOString(),
  };
  return firstStored(async () => {
    await writeDocument(deps.store, key, marker);
    return marker;
  }, () => readDocument(deps.store, key, TransformedRange, `transform marker ${key}`));
}

async function writeStage(work: RangeWork, transformed: TransformedRange, settings: StageSettings, deps: StageDeps): Promise<WrittenRange> {
  const key = writtenKey(work.jobId, work.round, work.table, work.index);
  const done = await readDocument(deps.store, key, WrittenRange, `write-back marker ${key}`);
  if (done !== undefined) return done;
  await deps.beforeWrite();
  const folder = transformStageFolder(work.jobId, work.round);
  let rows = 0;
  let written = 0;
  let raced = 0;
  let alreadyWritten = 0;
  let rejected = 0;
  let expiredCells = 0;
  for (const entry of transformed.chunks) {
    const what = `transformed chunk ${entry.key} of rotation ${work.jobId}`;
    const result = await loadChunk(readChunkRows(deps.store, `${folder}${entry.key}`, entry, what), work.writer, work.partitionKeyColumns, {
      batchBytes: settings.batchBytes,
      retryForMs: settings.retryForMs,
      ...(settings.attempts === undefined ? {} : { attempts: settings.attempts }),
      retryBaseDelayMs: settings.retryBaseDelayMs,
      consistency: settings.writeConsistency,
      ...(settings.serialConsistency === undefined ? {} : { serialConsistency: settings.serialConsistency }),
    }, {
      session: deps.session,
      gate: deps.gate,
      signal: deps.signal,
      now: deps.now,
      onRows: (n) => deps.onRows(work.table, n),
      onReject: (reject) => {
        rejected++;
        deps.onReject(work.table, reject.row.k, reject.reason);
      },
    });
    rows += result.rows;
    written += result.written;
    expiredCells += result.expiredCells;
    if (result.races.length > 0) {
      const mine = await ownWrites(work, settings, deps, folder, entry, what, result.races);
      alreadyWritten += mine;
      raced += result.races.length - mine;
    }
  }
  const figures = deps.snapshot();
  const marker: WrittenRange = {
    formatVersion: FORMAT_VERSION, table: work.table, index: work.index, rows, written, alreadyWritten, raced, rejected, expiredCells,
    readP99Ms: figures.readP99Ms, writeP99Ms: figures.writeP99Ms, rate: figures.rate, doneAt: new Date(deps.now()).toISOString(),
  };
  return firstStored(async () => {
    await writeDocument(deps.store, key, marker);
    return marker;
  }, () => readDocument(deps.store, key, WrittenRange, `write-back marker ${key}`));
}

/**
 * Of the rows whose LWT did not apply, how many already hold exactly what this job would write
 * (an earlier attempt of this write-back got there before a crash or a timeout).
 */
async function ownWrites(work: RangeWork, settings: StageSettings, deps: StageDeps, folder: string, entry: ChunkEntry, what: string, races: readonly unknown[][]): Promise<number> {
  const wanted = new Set(races.map((k) => JSON.stringify(k)));
  const rows: StoredRow[] = [];
  for await (const batch of readChunkRows(deps.store, `${folder}${entry.key}`, entry, what)) {
    for (const row of batch as StoredRow[]) if (wanted.has(JSON.stringify(row.k))) rows.push(row);
  }
  let mine = 0;
  for (const row of rows) {
    const rs = await deps.session.execute(work.writer.readBackCql, work.writer.keyParams(row), { consistency: settings.readConsistency });
    const current = rs.rows[0];
    if (current === undefined) continue;
    const holds = work.conditionColumns.every((name) => {
      const ours = (row.c as Record<string, { v?: unknown } | undefined>)[name];
      if (ours === undefined) return true; // not written by this job: nothing to compare
      return sameValue(current.get(name), ours.v);
    });
    if (holds) mine++;
  }
  return mine;
}

/** A driver value against its format JSON (blob base64, text, integers as number or decimal string). */
function sameValue(driverValue: unknown, json: unknown): boolean {
  if (driverValue === null || driverValue === undefined) return json === null || json === undefined;
  if (Buffer.isBuffer(driverValue)) return typeof json === 'string' && driverValue.toString('base64') === json;
  return String(driverValue) === String(json);
}

/** A rejected row's problem, or a job stopping because too many rows failed. */
export function tooManyRejects(jobId: string, limit: number): CassetteError {
  return new CassetteError('TOO_MANY_ERRORS', `rotation ${jobId} stopped: more than ${limit} rows could not be written back`, {
    hint: 'check the cluster (nodetool status, logs), then run the same `cassette rotate` again to resume',
  });
}
