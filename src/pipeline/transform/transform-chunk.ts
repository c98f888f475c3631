/**
 * One chunk through the offline transform: read the source chunk (checksum verified before any
 * of its output is kept), re-encrypt the configured columns of each row (rekey-row.ts), and stream
 * the rows into ONE new chunk of the target backup, in the same order. The values no key opens
 * are listed (table, column, primary key — never a value) in a quarantine file next to it. The
 * caller writes the chunk's marker once this resolves, so a chunk is either done or redone whole.
 *
 * Runs on a worker thread in the CLI (transform-worker.ts) and in-process in tests; it needs only
 * a BlobStore and a ColumnCipher.
 */
import { writeChunks } from '../export/chunk-writer.js';
import { readChunkRows } from '../chunks/read-chunk.js';
import type { ColumnCipher } from '../../crypto/cipher.js';
import type { ChunkEntry } from '../../manifest/format.js';
import { chunkKey, chunkRelativeKey, quarantineKey } from '../../manifest/keys.js';
import type { QuarantineEntry } from '../../manifest/rekey-format.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { rekeyRow, type RowRotationPlan, type StoredRow } from './rekey-row.js';

/** One chunk of work: plain data, so it can cross to a worker thread. */
export interface ChunkTransformTask {
  readonly sourceBackupId: string;
  /** Undefined for a dry run: nothing is written. */
  readonly targetBackupId: string | undefined;
  readonly table: string;
  readonly range: number;
  /** The chunk's position in its range's chunk list. */
  readonly chunk: number;
  readonly source: ChunkEntry;
  readonly plan: RowRotationPlan;
  /** 8 hex digits, new for every attempt: the new chunk's key never collides with an abandoned one. */
  readonly attempt: string;
  readonly gzipLevel: number;
}

export interface ChunkTransformResult {
  /** The new chunk; undefined in a dry run. */
  readonly entry: ChunkEntry | undefined;
  readonly rows: number;
  readonly rawBytes: number;
  readonly rowsChanged: number;
  readonly rowsSkipped: number;
  readonly valuesRotated: number;
  readonly valuesAlreadyCurrent: number;
  readonly valuesQuarantined: number;
  /** The quarantine file (repository key), when values were quarantined and this is not a dry run. */
  readonly quarantineKey: string | undefined;
  /** The first quarantined values (up to {@link QUARANTINE_SAMPLE}), for reports. */
  readonly quarantineSample: readonly QuarantineEntry[];
}

export const QUARANTINE_SAMPLE = 20;

export interface ChunkTransformDeps {
  readonly store: BlobStore;
  readonly cipher: ColumnCipher;
  readonly signal?: AbortSignal;
}

export async function transformChunk(task: ChunkTransformTask, deps: ChunkTransformDeps): Promise<ChunkTransformResult> {
  const what = `chunk ${task.source.key} of backup ${task.sourceBackupId}`;
  const dryRun = task.targetBackupId === undefined;
  const counts = { rows: 0, rawBytes: 0, rowsChanged: 0, rowsSkipped: 0, valuesRotated: 0, valuesAlreadyCurrent: 0 };
  const quarantine: QuarantineEntry[] = [];
  const source = readChunkRows(deps.store, chunkKey(task.sourceBackupId, task.source.key), task.source, what);
  const lines = async function* (): AsyncGenerator<string[]> {
    for await (const rows of source) {
      deps.signal?.throwIfAborted();
      const out: string[] = [];
      for (const row of rows as StoredRow[]) {
        const outcome = await rekeyRow(row, task.plan, deps.cipher, dryRun);
        counts.rows++;
        if (outcome.changed) counts.rowsChanged++;
        if (outcome.skipped) counts.rowsSkipped++;
        counts.valuesRotated += outcome.rotated;
        counts.valuesAlreadyCurrent += outcome.alreadyCurrent;
        for (const column of outcome.quarantined) quarantine.push({ table: task.table, column, key: row.k });
        if (!dryRun) out.push(JSON.stringify(outcome.row));
      }
      yield out;
    }
  };
  let entry: ChunkEntry | undefined;
  if (task.targetBackupId === undefined) {
    for await (const _ of lines()) {
      // a dry run only decrypts
    }
  } else {
    const target = task.targetBackupId;
    const relativeKey = chunkRelativeKey(task.table, task.range, task.attempt, task.chunk);
    const entries = await writeChunks(lines(), {
      store: deps.store,
      keyFor: () => ({ key: chunkKey(target, relativeKey), relativeKey }),
      gzipLevel: task.gzipLevel,
      maxChunkBytes: Number.POSITIVE_INFINITY,
      ...(deps.signal === undefined ? {} : { signal: deps.signal }),
    });
    if (entries.length !== 1) throw new Error(`internal: ${what} became ${entries.length} chunks`);
    entry = entries[0];
    counts.rawBytes = entry?.rawBytes ?? 0;
  }
  let qKey: string | undefined;
  if (quarantine.length > 0 && task.targetBackupId !== undefined) {
    qKey = quarantineKey(task.targetBackupId, task.table, task.range, task.chunk, task.attempt);
    await deps.store.put(qKey, `${quarantine.map((q) => JSON.stringify(q)).join('\n')}\n`, { ifAbsent: true });
  }
  return {
    entry,
    ...counts,
    valuesQuarantined: quarantine.length,
    quarantineKey: qKey,
    quarantineSample: quarantine.slice(0, QUARANTINE_SAMPLE),
  };
}
