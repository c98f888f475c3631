/**
 * What `cassette prune` finds in a repository: every backup with its objects, its state, its live
 * leases, and the chunks nothing references (garbage).
 *
 * The order of the reads is what makes garbage safe to delete while writers run (format.md §10):
 * objects are listed first, leases read second, markers and manifests last. A writer holds its
 * lease before its first write and until after its last marker, so a backup with no live lease at
 * the second step has every marker of the listed chunks written before the third step reads them;
 * a writer that starts later writes chunks under new attempt ids, which the listing does not hold.
 */
import { BackupHeader } from '../../manifest/format.js';
import { backupFolder, backupHeaderKey, backupIdOf, backupsFolder, deletingKey, manifestKey, rekeyChunksFolder } from '../../manifest/keys.js';
import { isLeaseLive, readAllLeases, type StoredLease } from '../../manifest/leases.js';
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
  /** Every object under the backup's folder, as listed. */
  readonly objects: readonly BlobEntry[];
  /** Live leases of the backup, whatever their mode. */
  readonly liveLeases: readonly StoredLease[];
  /** Chunks under data/ that no manifest entry (complete) or marker or rekey checkpoint (incomplete) references; empty while a lease is live. */
  readonly garbage: readonly BlobEntry[];
}

export interface RepositoryInventory {
  readonly backups: readonly BackupInventory[];
  readonly staleLeases: readonly StoredLease[];
}

/** Reads the repository's backups and leases; `keyspace` limits the backups read to that keyspace's. */
export async function takeInventory(store: BlobStore, nowMs: () => number, keyspace?: string): Promise<RepositoryInventory> {
  const objects = new Map<string, BlobEntry[]>();
  for await (const entry of store.list(backupsFolder())) {
    const id = backupIdOf(entry.key);
    if (id !== undefined) objects.set(id, [...(objects.get(id) ?? []), entry]);
  }
  const leases = await readAllLeases(store);
  const now = nowMs();
  const live = leases.filter((s) => isLeaseLive(s.lease, now));
  const staleLeases = leases.filter((s) => !isLeaseLive(s.lease, now));

  const backups: BackupInventory[] = [];
  for (const [backupId, listed] of [...objects].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const liveLeases = live.filter((s) => s.lease.target.kind === 'backup' && s.lease.target.id === backupId);
    const has = (key: string): boolean => listed.some((o) => o.key === key);
    const header = has(backupHeaderKey(backupId)) ? await readDocument(store, backupHeaderKey(backupId), BackupHeader, `backup.json of backup ${backupId}`).catch(() => undefined) : undefined;
    if (keyspace !== undefined && header?.keyspace.name !== keyspace) continue;
    const base = { backupId, keyspace: header?.keyspace.name, createdAt: header?.createdAt, objects: listed, liveLeases };
    if (has(deletingKey(backupId))) {
      backups.push({ ...base, state: 'deleting', rows: 0, garbage: [] });
      continue;
    }
    const manifest = has(manifestKey(backupId)) ? await readManifest(store, backupId).catch(() => undefined) : undefined;
    if (header === undefined && manifest === undefined) {
      backups.push({ ...base, state: 'damaged', rows: 0, garbage: [] });
      continue;
    }
    const referenced = new Set<string>();
    let rows = 0;
    if (manifest !== undefined) {
      rows = manifest.totals.rows;
      for (const t of manifest.tables) for (const r of t.ranges) for (const c of r.chunks) referenced.add(`${backupFolder(backupId)}${c.key}`);
    } else if (header !== undefined) {
      for (const t of header.tables) {
        for (const marker of (await readMarkers(store, backupId, t.name)).values()) {
          rows += marker.rows;
          for (const c of marker.chunks) referenced.add(`${backupFolder(backupId)}${c.key}`);
        }
      }
      for (const o of listed.filter((entry) => entry.key.startsWith(rekeyChunksFolder(backupId)))) {
        const done = await readDocument(store, o.key, RekeyChunkDone, `rekey checkpoint ${o.key}`);
        if (done !== undefined) referenced.add(`${backupFolder(backupId)}${done.entry.key}`);
      }
    }
    const dataFolder = `${backupFolder(backupId)}data/`;
    const garbage = liveLeases.length > 0 ? [] : listed.filter((o) => o.key.startsWith(dataFolder) && !referenced.has(o.key));
    backups.push({ ...base, createdAt: manifest?.createdAt ?? base.createdAt, state: manifest !== undefined ? 'complete' : 'incomplete', rows, garbage });
  }
  return { backups, staleLeases };
}
