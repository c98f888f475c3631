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
import type { ColumnCipher, KmsCalls } from '../../crypto/cipher.js';
import type { ChunkEntry } from '../../manifest/format.js';
import { chunkRelativeKey } from '../../manifest/keys.js';
import type { QuarantineEntry } from '../../manifest/rekey-format.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { rekeyRow, type RowOutcome, type RowRotationPlan, type StoredRow } from './rekey-row.js';

/** One chunk of work: plain data, so it can cross to a worker thread. */
export interface ChunkTransformTask {
  /** The source chunk's repository key and its marker entry. */
  readonly sourceKey: string;
  readonly source: ChunkEntry;
  /**
   * Where the new chunk goes: `folder` + its relative key (keys.ts chunkRelativeKey), and the
   * repository key of its quarantine list. Undefined for a dry run: nothing is written.
   */
  readonly target: { readonly folder: string; readonly quarantineKey: string } | undefined;
  readonly table: string;
  readonly range: number;
  /** The chunk's position in its range's chunk list: the new chunk's sequence number. */
  readonly chunk: number;
  readonly plan: RowRotationPlan;
  /** 8 hex digits, new for every attempt: the new chunk's key never collides with an abandoned one. */
  readonly attempt: string;
  readonly gzipLevel: number;
  /**
   * Rotate's write-back form: keep only rows that changed, with only their changed cells, and the
   * values the row held before under `p` (the LWT guard's condition). Off for rekey, whose new
   * chunk holds every row, whole.
   */
  readonly changedOnly: boolean;
}

export interface ChunkTransformResult {
  /** The new chunk; undefined in a dry run, or when rotate kept no row. */
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
  /** KMS calls this chunk made (aws-kms provider; one chunk per worker thread at a time, so exact). */
  readonly kmsCalls?: KmsCalls;
}

export const QUARANTINE_SAMPLE = 20;

/** Rotates `rows` with up to `width` rows at once; outcomes in the rows' order. */
async function rekeyRows(rows: readonly StoredRow[], plan: RowRotationPlan, cipher: ColumnCipher, dryRun: boolean, width: number): Promise<RowOutcome[]> {
  const outcomes: RowOutcome[] = [];
  for (let start = 0; start < rows.length; start += width) {
    outcomes.push(...(await Promise.all(rows.slice(start, start + width).map((row) => rekeyRow(row, plan, cipher, dryRun)))));
  }
  return outcomes;
}

export interface ChunkTransformDeps {
  readonly store: BlobStore;
  readonly cipher: ColumnCipher;
  readonly signal?: AbortSignal;
}

export async function transformChunk(task: ChunkTransformTask, deps: ChunkTransformDeps): Promise<ChunkTransformResult> {
  const what = `chunk ${task.sourceKey}`;
  const dryRun = task.target === undefined;
  const counts = { rows: 0, rawBytes: 0, rowsChanged: 0, rowsSkipped: 0, valuesRotated: 0, valuesAlreadyCurrent: 0 };
  const quarantine: QuarantineEntry[] = [];
  const source = readChunkRows(deps.store, task.sourceKey, task.source, what);
  // The columns whose exported values the LWT guard compares (changed-only form).
  const conditionColumns = [...task.plan.columns.map((x) => x.name), ...(task.plan.keyVersion === null ? [] : [task.plan.keyVersion.name])];
  const width = deps.cipher.parallelism ?? 1;
  const kmsBefore = deps.cipher.kmsCalls?.();
  const lines = async function* (): AsyncGenerator<string[]> {
    for await (const rows of source) {
      deps.signal?.throwIfAborted();
      const out: string[] = [];
      const batch = rows as StoredRow[];
      // A remote provider (KMS) answers faster with calls in flight together; local ciphers go row by row.
      const outcomes = width > 1 ? await rekeyRows(batch, task.plan, deps.cipher, dryRun, width) : undefined;
      for (const [i, row] of batch.entries()) {
        const outcome = outcomes === undefined ? await rekeyRow(row, task.plan, deps.cipher, dryRun) : (outcomes[i] as RowOutcome);
        counts.rows++;
        // In a dry run, the rows a real run would change.
        if (outcome.wouldChange) counts.rowsChanged++;
        if (outcome.skipped) counts.rowsSkipped++;
        counts.valuesRotated += outcome.rotated;
        counts.valuesAlreadyCurrent += outcome.alreadyCurrent;
        for (const column of outcome.quarantined) quarantine.push({ table: task.table, column, key: row.k });
        if (dryRun) continue;
        if (!task.changedOnly) out.push(JSON.stringify(outcome.row));
        else if (outcome.changed) out.push(JSON.stringify(changesOf(row, outcome.row, conditionColumns)));
      }
      yield out;
    }
  };
  let entry: ChunkEntry | undefined;
  if (task.target === undefined) {
    for await (const _ of lines()) {
      // a dry run only decrypts
    }
  } else {
    const { folder } = task.target;
    const relativeKey = chunkRelativeKey(task.table, task.range, task.attempt, task.chunk);
    const entries = await writeChunks(lines(), {
      store: deps.store,
      keyFor: () => ({ key: `${folder}${relativeKey}`, relativeKey }),
      gzipLevel: task.gzipLevel,
      maxChunkBytes: Number.POSITIVE_INFINITY,
      ...(deps.signal === undefined ? {} : { signal: deps.signal }),
    });
    // One chunk in, one out; none when rotate kept no row of it.
    if (entries.length > 1 || (entries.length === 0 && !task.changedOnly)) throw new Error(`internal: ${what} became ${entries.length} chunks`);
    entry = entries[0];
    counts.rawBytes = entry?.rawBytes ?? 0;
  }
  let qKey: string | undefined;
  if (quarantine.length > 0 && task.target !== undefined) {
    qKey = task.target.quarantineKey;
    await deps.store.put(qKey, `${quarantine.map((q) => JSON.stringify(q)).join('\n')}\n`, { ifAbsent: true });
  }
  return {
    entry,
    ...counts,
    valuesQuarantined: quarantine.length,
    quarantineKey: qKey,
    quarantineSample: quarantine.slice(0, QUARANTINE_SAMPLE),
    ...(kmsBefore === undefined ? {} : { kmsCalls: kmsSince(kmsBefore, deps.cipher) }),
  };
}

function kmsSince(before: KmsCalls, cipher: ColumnCipher): KmsCalls {
  const now = cipher.kmsCalls?.() ?? before;
  return { generateDataKey: now.generateDataKey - before.generateDataKey, decrypt: now.decrypt - before.decrypt };
}

/**
 * Rotate's write-back row: the changed cells only, and under `p` the values the encrypted and
 * key-version columns held when exported (null when absent), for the LWT guard's condition.
 */
function changesOf(before: StoredRow, after: StoredRow, conditionColumns: readonly string[]): { k: readonly unknown[]; c: Record<string, unknown>; p: Record<string, unknown> } {
  const c: Record<string, unknown> = {};
  for (const [name, cell] of Object.entries(after.c)) if (before.c[name] !== cell) c[name] = cell;
  const p: Record<string, unknown> = {};
  for (const name of conditionColumns) {
    const cell = before.c[name] as { v?: unknown } | undefined;
    p[name] = cell?.v ?? null;
  }
  return { k: before.k, c, p };
}
