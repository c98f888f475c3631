/** Reads a finished backup back, row by row, through cassette's own chunk reader. */
import { createHash } from 'node:crypto';
import { containsToken, parseToken } from '../../src/cassandra/ring/token-ranges.js';
import { readManifest } from '../../src/manifest/repository.js';
import { chunkKey } from '../../src/manifest/keys.js';
import type { Manifest } from '../../src/manifest/format.js';
import { readChunkRows } from '../../src/pipeline/chunks/read-chunk.js';
import type { BlobStore } from '../../src/storage/blob-store.js';

export interface BackupRow {
  readonly k: unknown[];
  readonly c: Record<string, { v: unknown; t: number | string; e?: unknown }>;
}

export interface ReadBack {
  readonly manifest: Manifest;
  /** table → rows in chunk order, with the range index each came from. */
  readonly rows: ReadonlyMap<string, readonly { row: BackupRow; range: number }[]>;
}

export async function readBackup(store: BlobStore, backupId: string): Promise<ReadBack> {
  const manifest = await readManifest(store, backupId);
  if (manifest === undefined) throw new Error(`backup ${backupId} has no manifest`);
  const rows = new Map<string, { row: BackupRow; range: number }[]>();
  for (const table of manifest.tables) {
    const out: { row: BackupRow; range: number }[] = [];
    for (const range of table.ranges) {
      for (const chunk of range.chunks) {
        for await (const batch of readChunkRows(store, chunkKey(backupId, chunk.key), chunk, chunk.key)) {
          for (const row of batch) out.push({ row: row as BackupRow, range: range.index });
        }
      }
    }
    rows.set(table.name, out);
  }
  return { manifest, rows };
}

/** True when `token` lies in the manifest range with that index. */
export function rangeHolds(manifest: Manifest, table: string, index: number, token: bigint): boolean {
  const range = manifest.tables.find((t) => t.name === table)?.ranges.find((r) => r.index === index);
  if (range === undefined) return false;
  return containsToken({ start: parseToken(range.start) as bigint, end: parseToken(range.end) as bigint }, token);
}

/**
 * Order-independent digest of every row of every table (values and writetimes; expiries are
 * computed at read time, so they are left out), and the row count. A row read twice changes it.
 */
export async function backupDigest(store: BlobStore, backupId: string): Promise<{ digest: string; rows: number }> {
  const { rows } = await readBackup(store, backupId);
  const lines: string[] = [];
  for (const [table, list] of rows) {
    for (const { row } of list) {
      const cells = Object.fromEntries(Object.entries(row.c).map(([name, cell]) => [name, { v: cell.v, t: cell.t }]));
      lines.push(`${table} ${JSON.stringify(row.k)} ${JSON.stringify(cells)}`);
    }
  }
  lines.sort();
  const hash = createHash('sha256');
  for (const line of lines) hash.update(`${line}\n`);
  return { digest: hash.digest('hex'), rows: lines.length };
}
