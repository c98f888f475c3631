/**
 * `cassette verify <backup-id>`: can this backup be trusted? Reads, writes nothing.
 *
 * 1. Structure (pipeline/check/backup-structure.ts, shared with restore): one listing of the
 *    backup's folder; backup.json, manifest.json and every range marker read and cross-checked;
 *    every chunk present with its recorded size; each table's ranges cover the ring exactly once.
 * 2. Data (pipeline/check/check-chunk.ts), for the chunks `--read-data-subset` selects
 *    (chunk-subset.ts): size and SHA-256, gunzip, every line a row of its table with every cell
 *    decoding under its CQL type, every row's token in its range, the row count.
 * 3. With `--config`, on a rekeyed backup: a sample of the re-encrypted values opened with the new
 *    key (rekey-sample.ts).
 *
 * Every finding names the object (repository key) and what is wrong with it; the CLI exits 13
 * (BACKUP_DAMAGED) when there is any. A backup that cannot be verified at all — not found,
 * incomplete, or in a format version this build cannot read — is BACKUP_INVALID (6), thrown.
 */
import { findTable, type KeyspaceSchema } from '../../cassandra/schema/model.js';
import { tableShapeFor, type TableShape } from '../../cassandra/writes/row-shape.js';
import type { RotationConfig } from '../../config/rotation-types.js';
import type { ColumnCipher } from '../../crypto/cipher.js';
import { CassetteError } from '../../errors.js';
import { manifestKey } from '../../manifest/keys.js';
import { checkBackupStructure, type ChunkRef } from '../../pipeline/check/backup-structure.js';
import { checkChunkData, tableTokenOf } from '../../pipeline/check/check-chunk.js';
import { checkSealedIndex } from '../../pipeline/check/sealed-index.js';
import { readEncryption } from '../../manifest/sealed-store.js';
import { describeDataSubset, selectsChunk, type DataSubset } from '../../pipeline/check/chunk-subset.js';
import type { BackupProblem } from '../../pipeline/check/cross-checks.js';
import { forEachBounded } from '../../pipeline/retry.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { ProgressSink } from '../progress.js';
import { rekeySampler, SAMPLE_ROWS_PER_CHUNK, type RekeySampleTotals, type RekeySampler } from './rekey-sample.js';

export interface VerifyRequest {
  readonly backupId: string;
  /** Which chunks' data is read; `none` checks presence and sizes only. */
  readonly subset: DataSubset;
  /** Chunks (and markers) read at once. */
  readonly parallel: number;
  /** A rekeyed backup's rotation config: open a sample of its values with the new key (needs `cipher`). */
  readonly config?: RotationConfig;
  /** Whether `store` was given an identity that opens encrypted backups (else they are checked as stored only). */
  readonly canDecrypt?: boolean;
}

export interface VerifyDeps {
  readonly store: BlobStore;
  /** The repository as stored, without decryption: an encrypted backup's stored SHA-256s are checked on it. */
  readonly storedObjects?: BlobStore;
  /** Built from `config` by the caller; required with it. */
  readonly cipher?: ColumnCipher;
  readonly progress: ProgressSink;
  readonly signal: AbortSignal;
  readonly now: () => number;
}

export interface VerifyReport {
  readonly backupId: string;
  readonly repository: string;
  /** True when nothing is wrong: no problem found. */
  readonly ok: boolean;
  readonly keyspace: string | undefined;
  /** From the manifest: what the backup claims. */
  readonly tables: number;
  readonly ranges: number;
  readonly chunks: number;
  readonly rows: number;
  readonly bytes: number;
  /** Objects in the backup's folder (listing). */
  readonly objects: number;
  /** `all`, `none`, `10%` or `3/7` (chunk-subset.ts). */
  readonly dataSubset: string;
  readonly chunksRead: number;
  readonly rowsRead: number;
  readonly bytesRead: number;
  /** Tables whose rows' tokens were not checked (a partition key type key-token.ts does not cover). */
  readonly tokenCheckSkipped: readonly string[];
  readonly rekeySample?: RekeySampleTotals;
  /** Every problem: the object's repository key and what is wrong with it, sorted by key. */
  readonly problems: readonly BackupProblem[];
  /** Objects under data/ no range names: chunks of abandoned attempts. Information, not damage. */
  readonly unreferenced: readonly { readonly key: string; readonly size: number }[];
  readonly durationMs: number;
  readonly bytesPerSecond: number;
  /** Encrypted backups: to whom, and whether the contents were checked (with an identity) or only the stored objects. */
  readonly encryption?: { readonly scheme: 'age'; readonly recipients: readonly string[]; readonly contentsChecked: boolean };
}

/** Verifies a backup (see the file comment). */
export async function runVerify(request: VerifyRequest, deps: VerifyDeps): Promise<VerifyReport> {
  const startedAt = deps.now();
  const { store } = deps;
  const encryption = await readEncryption(store, request.backupId);
  if (encryption !== undefined && request.canDecrypt !== true) return verifyStored(request, deps, encryption.recipients, startedAt);
  const stored = encryption === undefined || deps.storedObjects === undefined ? undefined
    : await checkSealedIndex(deps.storedObjects, request.backupId, { parallel: request.parallel, readChunk: (key) => selectsChunk(request.subset, key), signal: deps.signal });
  const structure = await checkBackupStructure(store, request.backupId, { parallel: request.parallel, signal: deps.signal });
  const { manifest } = structure;
  const problems: BackupProblem[] = [...structure.problems, ...(stored?.problems ?? [])];
  const sampler = manifest !== undefined && request.config !== undefined ? await rekeySampler(store, manifest, request.config, requireCipher(deps.cipher)) : undefined;

  const shapes = new Map<string, TableShape>();
  const tokenCheckSkipped: string[] = [];
  if (manifest !== undefined) {
    const schema = manifest.keyspace as unknown as KeyspaceSchema;
    for (const { name } of manifest.tables) {
      const table = findTable(schema, name);
      if (table === undefined) continue; // named by the cross-checks
      try {
        const shape = tableShapeFor(schema.name, table, schema.types);
        shapes.set(name, shape);
        if (tableTokenOf(shape) === undefined) tokenCheckSkipped.push(name);
      } catch (err) {
        if (!(err instanceof CassetteError)) throw err;
        problems.push({ key: manifestKey(request.backupId), problem: `table ${name}: ${err.message}` });
      }
    }
  }
  const selected = structure.chunks.filter((c) => c.stored && shapes.has(c.table) && selectsChunk(request.subset, c.entry.key));
  let rowsRead = 0;
  let bytesRead = 0;
  const parts = new Map<string, number>();
  for (const c of selected) parts.set(c.table, (parts.get(c.table) ?? 0) + 1);
  deps.progress.start({ title: `verify ${request.backupId}`, job: request.backupId, unitName: 'chunks', parts: [...parts].map(([name, units]) => ({ name, units })) });
  try {
    await forEachBounded(selected, request.parallel, async (chunk) => {
      const found = await checkChunk(store, chunk, shapes.get(chunk.table) as TableShape, sampler, deps.progress);
      for (const problem of found.problems) problems.push({ key: chunk.key, problem });
      rowsRead += found.rows;
      bytesRead += chunk.entry.bytes;
      deps.progress.unitDone(chunk.table, chunk.key);
    }, deps.signal);
  } catch (err) {
    if (deps.signal.aborted) throw new CassetteError('INTERRUPTED', `verify of backup ${request.backupId} interrupted`, { hint: 'verify writes nothing; run it again', cause: err });
    throw err;
  } finally {
    deps.progress.stop();
  }

  problems.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const durationMs = Math.max(1, deps.now() - startedAt);
  return {
    backupId: request.backupId,
    repository: store.description,
    ok: problems.length === 0,
    keyspace: manifest?.keyspace.name,
    tables: manifest?.totals.tables ?? 0,
    ranges: manifest?.totals.ranges ?? 0,
    chunks: manifest?.totals.chunks ?? 0,
    rows: manifest?.totals.rows ?? 0,
    bytes: manifest?.totals.bytes ?? 0,
    objects: structure.objects,
    dataSubset: describeDataSubset(request.subset),
    chunksRead: selected.length,
    rowsRead,
    bytesRead,
    tokenCheckSkipped,
    ...(sampler === undefined ? {} : { rekeySample: sampler.totals() }),
    problems,
    unreferenced: structure.unreferenced,
    durationMs,
    bytesPerSecond: Math.round((bytesRead * 1000) / durationMs),
    ...(encryption === undefined ? {} : { encryption: { scheme: 'age' as const, recipients: encryption.recipients, contentsChecked: true } }),
  };
}

/** An encrypted backup without its identity: presence, stored sizes and stored SHA-256 against index.json. */
async function verifyStored(request: VerifyRequest, deps: VerifyDeps, recipients: readonly string[], startedAt: number): Promise<VerifyReport> {
  const raw = deps.storedObjects;
  if (raw === undefined) throw new Error('internal: verifying an encrypted backup without its identity needs the stored objects');
  const found = await checkSealedIndex(raw, request.backupId, { parallel: request.parallel, readChunk: (key) => selectsChunk(request.subset, key), signal: deps.signal });
  const { index } = found;
  const durationMs = Math.max(1, deps.now() - startedAt);
  return {
    backupId: request.backupId, repository: deps.store.description, ok: found.problems.length === 0, keyspace: index.keyspace,
    tables: index.totals.tables, ranges: index.totals.ranges, chunks: index.totals.chunks, rows: index.totals.rows, bytes: index.totals.bytes,
    objects: found.objects, dataSubset: describeDataSubset(request.subset), chunksRead: found.chunksRead, rowsRead: 0, bytesRead: found.bytesRead,
    tokenCheckSkipped: [], problems: found.problems, unreferenced: found.unreferenced, durationMs,
    bytesPerSecond: Math.round((found.bytesRead * 1000) / durationMs),
    encryption: { scheme: 'age', recipients, contentsChecked: false },
  };
}

function requireCipher(cipher: ColumnCipher | undefined): ColumnCipher {
  if (cipher === undefined) throw new Error('internal: verify --config needs a cipher');
  return cipher;
}

/** The data check of one chunk, with the rekey sample of its first rows. */
async function checkChunk(store: BlobStore, chunk: ChunkRef, shape: TableShape, sampler: RekeySampler | undefined, progress: ProgressSink): Promise<{ problems: string[]; rows: number }> {
  const sampleProblems: string[] = [];
  let sampled = 0;
  const sampling = sampler?.samples(chunk.table) === true ? sampler : undefined;
  const result = await checkChunkData(store, chunk.key, chunk.entry, {
    shape,
    range: chunk.range,
    tokenOf: tableTokenOf(shape),
    onRows: (rows, rawBytes) => progress.rows(chunk.table, rows, rawBytes),
    ...(sampling === undefined ? {} : {
      onRow: async (row) => {
        if (sampled++ < SAMPLE_ROWS_PER_CHUNK) sampleProblems.push(...(await sampling.openRow(chunk.table, row)));
      },
    }),
  });
  return { problems: [...result.problems, ...sampleProblems], rows: result.rows };
}
