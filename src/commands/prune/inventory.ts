/**
 * What `cassette prune` finds in a repository: every backup with its state, size, live leases and
 * the chunks nothing references (garbage). Memory stays bounded by the number of backups and of
 * garbage chunks: the listing is sorted, so each backup's objects arrive together and are
 * summed as they stream by.
 *
 * The order of the reads is what makes garbage safe to delete while writers run (format.md §11):
 * per backup, its objects are listed first, its leases read second, its markers and manifest
 * last. A writer holds its lease before its first write and until after its last marker, so a
 * backup with no live lease at the second step has every marker of the listed chunks written
 * before the third step reads them; a writer that starts later writes chunks under new attempt
 * ids, which the listing does not hold.
 */
import { BackupHeader } from '../../manifest/format.js';
import { backupFolder, backupHeaderKey, backupIdOf, backupsFolder, deletingKey, encryptionKey, indexKey, manifestKey, rekeyChunksFolder } from '../../manifest/keys.js';
import { BackupIndex } from '../../manifest/encryption-format.js';
import { isLeaseLive, readAllLeases, readTargetLeases, type StoredLease } from '../../manifest/leases.js';
import { readDocument, readManifest, readMarkers } from '../../manifest/repository.js';
import { RekeyChunkDone } from '../../manifest/rekey-format.js';
import type { BlobEntry, BlobStore } from '../../storage/blob-store.js';

export type BackupState = 'complete' | 'incomplete' | 'deleting' | 'damaged';

export interface BackupInventory {
  readonly backupId: string;
  readonly state: BackupState;
  readonly keyspace: string | undefined;
  readonly createdAt: string | undefined;
  readonly rows: number;
  /** Objects under the backup's folder and their bytes, an interrupted prune's tombstone not counted. */
  readonly objects: number;
  readonly bytes: number;
  /** Live leases of the backup, whatever their mode. */
  readonly liveLeases: readonly StoredLease[];
  /** Chunks under data/ that no manifest entry (complete) or marker or rekey checkpoint (incomplete) references; empty while a lease is live. */
  readonly garbage: readonly BlobEntry[];
}

/** One backup's objects as the listing yields them, reduced to what prune needs. */
interface Listed {
  readonly backupId: string;
  objects: number;
  bytes: number;
  readonly keys: Set<string>;
  readonly data: BlobEntry[];
  readonly rekeyCheckpoints: string[];
}

/**
 * Reads the repository's backups, oldest first; `keyspace` limits them to that keyspace's. Stale
 * leases are found by {@link readStaleLeases}.
 */
export async function takeInventory(store: BlobStore, nowMs: () => number, keyspace?: string): Promise<BackupInventory[]> {
  const backups: BackupInventory[] = [];
  let current: Listed | undefined;
  const finish = async (): Promise<void> => {
    if (current === undefined) return;
    const found = await inspect(store, current, nowMs);
    if (keyspace === undefined || found.keyspace === keyspace) backups.push(found);
  };
  for await (const entry of store.list(backupsFolder())) {
    const id = backupIdOf(entry.key);
    if (id === undefined) continue;
    if (current?.backupId !== id) {
      await finish();
      current = { backupId: id, objects: 0, bytes: 0, keys: new Set(), data: [], rekeyCheckpoints: [] };
    }
    const folder = backupFolder(id);
    if (entry.key !== deletingKey(id)) {
      current.objects++;
      current.bytes += entry.size;
    }
    if (entry.key.startsWith(`${folder}data/`)) current.data.push(entry);
    else if (entry.key.startsWith(rekeyChunksFolder(id))) current.rekeyCheckpoints.push(entry.key);
    else if (!entry.key.startsWith(`${folder}ranges/`) && !entry.key.startsWith(`${folder}restores/`)) current.keys.add(entry.key);
  }
  await finish();
  return backups;
}

/** Every lease that is stale now (its holder is gone): prune deletes them. */
export async function readStaleLeases(store: BlobStore, nowMs: number): Promise<StoredLease[]> {
  return (await readAllLeases(store)).filter((s) => !isLeaseLive(s.lease, nowMs));
}

async function inspect(store: BlobStore, listed: Listed, nowMs: () => number): Promise<BackupInventory> {
  const { backupId } = listed;
  const liveLeases = (await readTargetLeases(store, { kind: 'backup', id: backupId })).filter((s) => isLeaseLive(s.lease, nowMs()));
  const header = listed.keys.has(backupHeaderKey(backupId))
    ? await readDocument(store, backupHeaderKey(backupId), BackupHeader, `backup.json of backup ${backupId}`).catch(() => undefined)
    : undefined;
  const base = { backupId, keyspace: header?.keyspace.name, createdAt: header?.createdAt, objects: listed.objects, bytes: listed.bytes, liveLeases };
  if (listed.keys.has(deletingKey(backupId))) return { ...base, state: 'deleting', rows: 0, garbage: [] };
  if (listed.keys.has(encryptionKey(backupId))) {
    // An encrypted backup is judged from its plaintext index.json, with or without the identity.
    const index = listed.keys.has(indexKey(backupId)) ? await readDocument(store, indexKey(backupId), BackupIndex, `index.json of backup ${backupId}`).catch(() => undefined) : undefined;
    if (index !== undefined) {
      const folder = backupFolder(backupId);
      const referenced = new Set(index.tables.flatMap((t) => t.ranges.flatMap((r) => r.chunks.map((c) => `${folder}${c.key}`))));
      const garbage = liveLeases.length > 0 ? [] : listed.data.filter((o) => !referenced.has(o.key));
      return { ...base, keyspace: index.keyspace, createdAt: index.createdAt, state: 'complete', rows: index.totals.rows, garbage };
    }
    // Incomplete: its markers are sealed, so which chunks they name is known only with the identity.
    if (header === undefined) return { ...base, state: 'incomplete', rows: 0, garbage: [] };
  }
  const manifest = listed.keys.has(manifestKey(backupId)) ? await readManifest(store, backupId).catch(() => undefined) : undefined;
  if (header === undefined && manifest === undefined) return { ...base, state: 'damaged', rows: 0, garbage: [] };

  const folder = backupFolder(backupId);
  const referenced = new Set<string>();
  let rows = 0;
  if (manifest !== undefined) {
    rows = manifest.totals.rows;
    for (const t of manifest.tables) for (const r of t.ranges) for (const c of r.chunks) referenced.add(`${folder}${c.key}`);
  } else if (header !== undefined) {
    for (const t of header.tables) {
      for (const marker of (await readMarkers(store, backupId, t.name)).values()) {
        rows += marker.rows;
        for (const c of marker.chunks) referenced.add(`${folder}${c.key}`);
      }
    }
    for (const key of listed.rekeyCheckpoints) {
      const done = await readDocument(store, key, RekeyChunkDone, `rekey checkpoint ${key}`);
      if (done !== undefined) referenced.add(`${folder}${done.entry.key}`);
    }
  }
  const garbage = liveLeases.length > 0 ? [] : listed.data.filter((o) => !referenced.has(o.key));
  return { ...base, createdAt: manifest?.createdAt ?? base.createdAt, state: manifest !== undefined ? 'complete' : 'incomplete', rows, garbage };
}
