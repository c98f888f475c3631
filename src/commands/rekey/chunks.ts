/**
 * The pieces of `cassette rekey` (rekey.ts) that touch single chunks: copying a chunk of a table
 * that is not rotated, reading the chunk markers of earlier runs, and the rekey description that
 * backup.json records (format.md §8).
 */
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import type { RotationConfig } from '../../config/rotation-types.js';
import type { ColumnCipher } from '../../crypto/cipher.js';
import type { ChunkEntry, RangeMarker, RekeyDescription } from '../../manifest/format.js';
import { chunkKey, rekeyChunksFolder } from '../../manifest/keys.js';
import { RekeyChunkDone } from '../../manifest/rekey-format.js';
import { readDocument } from '../../manifest/repository.js';
import { checkDigest, openChunk } from '../../pipeline/chunks/read-chunk.js';
import { BlobExistsError, type BlobStore } from '../../storage/blob-store.js';
import { DigestCounter } from '../../storage/body.js';

/** A chunk of the source backup to re-encrypt (or, for a table not rotated, to copy). */
export interface ChunkItem {
  readonly table: string;
  readonly range: RangeMarker;
  readonly chunk: number;
  readonly entry: ChunkEntry;
  readonly rotate: boolean;
}

export function describe(config: RotationConfig, cipher: ColumnCipher, tables: readonly string[]): RekeyDescription {
  return {
    provider: cipher.type,
    newKeyVersion: cipher.newKeyVersion,
    oldKeyVersions: [...cipher.oldKeyVersions],
    keyVersionColumn: config.keyVersionColumn,
    tables: tables.map((name) => ({ name, columns: [...(config.tables.find((t) => t.name === name)?.encryptedColumns ?? [])] })),
  };
}

/**
 * Copies a chunk of a table that is not rotated, checking size and SHA-256 on the way. A copy an
 * earlier attempt already stored (its answer lost in an outage) is checked instead.
 */
export async function copyChunk(store: BlobStore, from: string, to: string, entry: ChunkEntry, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  const what = `chunk ${entry.key} of backup ${from}`;
  const digest = new DigestCounter();
  try {
    await store.put(chunkKey(to, entry.key), (await openChunk(store, chunkKey(from, entry.key), what)).pipe(digest), { ifAbsent: true });
  } catch (err) {
    if (!(err instanceof BlobExistsError)) throw err;
    const stored = new DigestCounter();
    await pipeline(await openChunk(store, chunkKey(to, entry.key), `chunk ${entry.key} of backup ${to}`), stored, new Writable({ write: (_c, _e, done) => done() }));
    checkDigest(entry, stored.bytes, stored.digest(), `chunk ${entry.key} of backup ${to}`);
    return;
  }
  try {
    checkDigest(entry, digest.bytes, digest.digest(), what);
  } catch (err) {
    await store.delete(chunkKey(to, entry.key));
    throw err;
  }
}

export async function readChunkDone(store: BlobStore, backupId: string): Promise<Map<string, RekeyChunkDone>> {
  const done = new Map<string, RekeyChunkDone>();
  for await (const entry of store.list(rekeyChunksFolder(backupId))) {
    const marker = await readDocument(store, entry.key, RekeyChunkDone, `rekey chunk marker ${entry.key}`);
    if (marker !== undefined) done.set(`${marker.table}/${marker.range}/${marker.chunk}`, marker);
  }
  return done;
}

/** A chunk marker that must exist (written by this worker or another). */
export async function readChunkMarker(store: BlobStore, key: string): Promise<RekeyChunkDone> {
  const marker = await readDocument(store, key, RekeyChunkDone, `rekey chunk marker ${key}`);
  if (marker === undefined) throw new Error(`internal: rekey chunk marker ${key} vanished`);
  return marker;
}
