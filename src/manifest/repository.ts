/**
 * Reading and writing the format's JSON documents in a BlobStore, and listing backups. Every
 * document is written once (`ifAbsent`), so a second writer of the same key fails instead of
 * silently replacing it.
 */
import { text } from 'node:stream/consumers';
import type { z } from 'zod';
import { CassetteError } from '../errors.js';
import { BlobNotFoundError, type BlobStore } from '../storage/blob-store.js';
import { BackupHeader, Manifest, RangeMarker, parseDocument, type ClusterDescription } from './format.js';
import { BackupIndex } from './encryption-format.js';
import { backupHeaderKey, backupIdOf, backupsFolder, chunkDoneFolder, deletingKey, encryptionKey, indexKey, manifestKey, markersFolder } from './keys.js';
import { ChunkDone } from './restore-format.js';

/** Writes `doc` as pretty JSON at `key`, write-once. */
export async function writeDocument(store: BlobStore, key: string, doc: unknown): Promise<void> {
  await store.put(key, `${JSON.stringify(doc, null, 2)}\n`, { ifAbsent: true });
}

/** Reads and validates a document; undefined when the object does not exist. */
export async function readDocument<T>(store: BlobStore, key: string, schema: z.ZodType<T>, what: string): Promise<T | undefined> {
  let body: string;
  try {
    body = await text(await store.get(key));
  } catch (err) {
    if (err instanceof BlobNotFoundError) return undefined;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new CassetteError('BACKUP_INVALID', `${what} is not valid JSON (${store.description}/${key})`, {
      hint: 'the object was damaged; use another backup',
    });
  }
  return parseDocument(schema, json, what);
}

export function readHeader(store: BlobStore, backupId: string): Promise<BackupHeader | undefined> {
  return readDocument(store, backupHeaderKey(backupId), BackupHeader, `backup.json of backup ${backupId}`);
}

export function readManifest(store: BlobStore, backupId: string): Promise<Manifest | undefined> {
  return readDocument(store, manifestKey(backupId), Manifest, `manifest of backup ${backupId}`);
}

/**
 * The manifest of a complete backup; BACKUP_INVALID naming the problem when the backup is missing
 * or incomplete (no manifest.json).
 */
export async function readCompleteManifest(store: BlobStore, backupId: string): Promise<Manifest> {
  await requireNotDeleting(store, backupId);
  const manifest = await readManifest(store, backupId);
  if (manifest !== undefined) return manifest;
  if ((await readHeader(store, backupId)) !== undefined) {
    throw new CassetteError('BACKUP_INVALID', `backup ${backupId} is incomplete (no manifest.json)`, {
      hint: `finish it with \`cassette backup --resume ${backupId}\`, or use a complete backup (see \`cassette list\`)`,
    });
  }
  throw new CassetteError('BACKUP_INVALID', `backup ${backupId} not found in ${store.description}`, { hint: 'run `cassette list` with the same --repo to see the backups there' });
}

/** BACKUP_INVALID when `cassette prune` is deleting the backup (its tombstone, format.md §11, exists). */
export async function requireNotDeleting(store: BlobStore, backupId: string): Promise<void> {
  if ((await store.head(deletingKey(backupId))) === undefined) return;
  throw new CassetteError('BACKUP_INVALID', `backup ${backupId} is being deleted by \`cassette prune\` (it has a deleting.json tombstone)`, {
    hint: 'use another backup (see `cassette list`); the next `cassette prune` finishes the deletion',
  });
}

/** Every range marker of one table in a backup, by range index. */
export async function readMarkers(store: BlobStore, backupId: string, table: string): Promise<Map<number, RangeMarker>> {
  const markers = new Map<number, RangeMarker>();
  for await (const entry of store.list(markersFolder(backupId, table))) {
    if (!entry.key.endsWith('.json')) continue;
    const marker = await readDocument(store, entry.key, RangeMarker, `range marker ${entry.key}`);
    if (marker !== undefined) markers.set(marker.index, marker);
  }
  return markers;
}

/** Every chunk-completion marker of a restore run (its checkpoints), in key order. */
export async function readChunkMarkers(store: BlobStore, backupId: string, restoreId: string): Promise<ChunkDone[]> {
  const markers: ChunkDone[] = [];
  for await (const entry of store.list(chunkDoneFolder(backupId, restoreId))) {
    const marker = await readDocument(store, entry.key, ChunkDone, `chunk marker ${entry.key}`);
    if (marker !== undefined) markers.push(marker);
  }
  return markers;
}

/** One line of `cassette list`. */
export interface BackupSummary {
  readonly backupId: string;
  readonly createdAt: string | undefined;
  readonly status: 'complete' | 'incomplete' | 'damaged' | 'deleting';
  readonly keyspace: string | undefined;
  readonly tables: readonly string[];
  /** Rows and stored bytes: from the manifest when complete, else from the finished ranges so far. */
  readonly rows: number;
  readonly bytes: number;
  readonly ranges: { readonly done: number; readonly total: number };
  /** The source cluster as backup.json records it (its `topology` only in backups that have one); absent when damaged. */
  readonly cluster?: ClusterDescription;
  /** True for a backup encrypted with age (format.md §12). */
  readonly encrypted?: boolean;
}

/**
 * Lists every backup in the repository, oldest first. A backup without backup.json is "damaged";
 * one with a tombstone is "deleting" (an interrupted prune; the next one finishes it).
 */
export async function listBackups(store: BlobStore): Promise<BackupSummary[]> {
  const ids = new Set<string>();
  const markerKeys = new Map<string, number>();
  const deleting = new Set<string>();
  const encrypted = new Set<string>();
  for await (const entry of store.list(backupsFolder())) {
    const id = backupIdOf(entry.key);
    if (id === undefined) continue;
    ids.add(id);
    if (entry.key === deletingKey(id)) deleting.add(id);
    if (entry.key === encryptionKey(id)) encrypted.add(id);
    if (entry.key.includes('/ranges/')) markerKeys.set(id, (markerKeys.get(id) ?? 0) + 1);
  }
  const summaries: BackupSummary[] = [];
  for (const backupId of [...ids].sort()) {
    if (deleting.has(backupId)) {
      const header = await readHeader(store, backupId).catch(() => undefined);
      summaries.push({ backupId, createdAt: header?.createdAt, status: 'deleting', keyspace: header?.keyspace.name, tables: header?.tables.map((t) => t.name) ?? [], rows: 0, bytes: 0, ranges: { done: 0, total: 0 } });
      continue;
    }
    if (encrypted.has(backupId)) {
      // Listed from its plaintext index (no key needed); incomplete ones only with the identity.
      const index = await readDocument(store, indexKey(backupId), BackupIndex, `index.json of backup ${backupId}`).catch(() => undefined);
      if (index !== undefined) {
        summaries.push({
          backupId, createdAt: index.createdAt, status: 'complete', keyspace: index.keyspace, tables: index.tables.map((t) => t.name),
          rows: index.totals.rows, bytes: index.totals.bytes, ranges: { done: index.totals.ranges, total: index.totals.ranges }, encrypted: true,
        });
        continue;
      }
    }
    const manifest = await readManifest(store, backupId).catch(() => undefined);
    if (manifest !== undefined) {
      summaries.push({
        backupId, createdAt: manifest.createdAt, status: 'complete', keyspace: manifest.keyspace.name,
        tables: manifest.tables.map((t) => t.name), rows: manifest.totals.rows, bytes: manifest.totals.bytes,
        ranges: { done: manifest.totals.ranges, total: manifest.totals.ranges }, cluster: manifest.cluster,
      });
      continue;
    }
    const header = await readHeader(store, backupId).catch(() => undefined);
    if (header === undefined && encrypted.has(backupId)) {
      summaries.push({ backupId, createdAt: undefined, status: 'incomplete', keyspace: undefined, tables: [], rows: 0, bytes: 0, ranges: { done: markerKeys.get(backupId) ?? 0, total: 0 }, encrypted: true });
      continue;
    }
    if (header === undefined) {
      summaries.push({ backupId, createdAt: undefined, status: 'damaged', keyspace: undefined, tables: [], rows: 0, bytes: 0, ranges: { done: 0, total: 0 } });
      continue;
    }
    let rows = 0;
    let bytes = 0;
    for (const table of header.tables) {
      for (const marker of (await readMarkers(store, backupId, table.name)).values()) {
        rows += marker.rows;
        bytes += marker.bytes;
      }
    }
    summaries.push({
      backupId, createdAt: header.createdAt, status: 'incomplete', keyspace: header.keyspace.name,
      tables: header.tables.map((t) => t.name), rows, bytes,
      ranges: { done: markerKeys.get(backupId) ?? 0, total: header.tables.reduce((n, t) => n + t.ranges.length, 0) }, cluster: header.cluster,
      ...(encrypted.has(backupId) ? { encrypted: true } : {}),
    });
  }
  return summaries;
}
