/**
 * The data check of one chunk (docs/format.md §6): stream it once through SHA-256 and gunzip
 * (read-chunk.ts), and check that every line is a §6.1 row of its table whose every cell decodes
 * under its column's CQL type (row-shape.ts's decodeRow, the restore's own decoder), that each
 * row's partition token lies in the chunk's range, and that the row count, size and SHA-256 are
 * the manifest's. Memory stays bounded: one batch of lines at a
 * time. A chunk that fails to decode is read a second time, to the end, only to tell whether its
 * bytes are the recorded ones — the more precise finding (damaged chunks only, so this is rare).
 */
import { CassetteError } from '../../errors.js';
import { keyTokenOf } from '../../cassandra/ring/key-token.js';
import { containsToken } from '../../cassandra/ring/token-ranges.js';
import type { JsonValue } from '../../cassandra/values/json-value.js';
import { decodeRow, describeKey, type BackupRow, type TableShape } from '../../cassandra/writes/row-shape.js';
import type { ChunkEntry } from '../../manifest/format.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { readChunkRows, verifyChunk } from '../chunks/read-chunk.js';

/** What the data check needs to know of the chunk's table and range. */
export interface ChunkCheckContext {
  readonly shape: TableShape;
  readonly range: { readonly start: string; readonly end: string };
  /** The token of a row's key ({@link tableTokenOf}); undefined skips the token check. */
  readonly tokenOf: ((k: readonly JsonValue[]) => bigint) | undefined;
  /** Each row that decoded, in order (the rekey sample reads some). */
  readonly onRow?: (row: BackupRow) => void | Promise<void>;
  /** Rows read and (estimated from the entry) their uncompressed bytes, for progress. */
  readonly onRows?: (rows: number, rawBytes: number) => void;
}

/** What the data check of one chunk found. */
export interface ChunkCheck {
  /** Empty when the chunk is sound. */
  readonly problems: readonly string[];
  readonly rows: number;
}

/** The token function of a table's partition key, or undefined when a key type is not covered (key-token.ts). */
export function tableTokenOf(shape: TableShape): ((k: readonly JsonValue[]) => bigint) | undefined {
  return keyTokenOf(shape.partitionKey.map((column) => column.type));
}

const ROW_KEYS = new Set(['k', 'c']);

/** Checks one stored chunk (see the file comment). Throws only when the repository fails. */
export async function checkChunkData(store: BlobStore, key: string, entry: ChunkEntry, context: ChunkCheckContext): Promise<ChunkCheck> {
  const range = { start: BigInt(context.range.start), end: BigInt(context.range.end) };
  const pkCount = context.shape.partitionKey.length;
  let rows = 0;
  let rowProblem: string | undefined;
  try {
    for await (const batch of readChunkRows(store, key, entry, 'chunk')) {
      for (const value of batch) {
        rows++;
        rowProblem = rowProblemOf(value, context, range, pkCount);
        if (rowProblem !== undefined) {
          rowProblem = `line ${rows}: ${rowProblem}`;
          break;
        }
        await context.onRow?.(value as BackupRow);
      }
      context.onRows?.(batch.length, entry.rows === 0 ? 0 : Math.round((entry.rawBytes * batch.length) / entry.rows));
      if (rowProblem !== undefined) break;
    }
  } catch (err) {
    if (!(err instanceof CassetteError) || err.code !== 'BACKUP_INVALID') throw err;
    // readChunkRows reports the digest at the end; a decode failure stops it before.
    if (/does not match its checksum/.test(err.message)) return { problems: [err.message], rows };
    return { problems: [...(await digestProblem(store, key, entry)), err.message], rows };
  }
  if (rowProblem !== undefined) return { problems: [...(await digestProblem(store, key, entry)), rowProblem], rows };
  return { problems: [], rows };
}

/** The size/SHA-256 finding of a chunk read a second time, or none when its bytes are the recorded ones. */
async function digestProblem(store: BlobStore, key: string, entry: ChunkEntry): Promise<string[]> {
  try {
    await verifyChunk(store, key, entry, 'chunk');
    return [];
  } catch (err) {
    if (err instanceof CassetteError && err.code === 'BACKUP_INVALID') return [err.message];
    throw err;
  }
}

function rowProblemOf(value: unknown, context: ChunkCheckContext, range: { start: bigint; end: bigint }, pkCount: number): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a row object {"k": […], "c": {…}}';
  const extra = Object.keys(value).filter((k) => !ROW_KEYS.has(k));
  if (extra.length > 0) return `unknown row field "${extra[0] ?? ''}"`;
  const row = value as BackupRow;
  try {
    decodeRow(context.shape, row, 0);
  } catch (err) {
    if (err instanceof CassetteError) return err.message;
    throw err;
  }
  if (context.tokenOf !== undefined) {
    const token = context.tokenOf(row.k.slice(0, pkCount));
    if (!containsToken(range, token)) {
      return `row ${describeKey(row.k)} has token ${token}, outside the chunk's range (${context.range.start}, ${context.range.end}]`;
    }
  }
  return undefined;
}
