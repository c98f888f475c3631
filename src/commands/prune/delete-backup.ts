/**
 * Removing one backup in an order that never lets it look complete with objects missing and that
 * a later prune can finish (docs/format.md §11): the `deleting.json` tombstone first, then
 * `manifest.json` (the backup is no longer complete), the range markers (no marker names a
 * missing chunk), every other object in bounded parallel, `backup.json`, and the tombstone last.
 */
import { FORMAT_VERSION } from '../../manifest/format.js';
import { backupFolder, backupHeaderKey, deletingKey, manifestKey } from '../../manifest/keys.js';
import { forEachBounded } from '../../pipeline/retry.js';
import { BlobExistsError, type BlobEntry, type BlobStore } from '../../storage/blob-store.js';

export interface DeleteOptions {
  readonly parallel: number;
  readonly signal: AbortSignal;
  readonly now: () => number;
  /** Called after each object is deleted. */
  readonly onDeleted: (entry: BlobEntry) => void;
}

/** Deletes every object of `backupId`; resolves with what was there (the tombstone excluded). */
export async function deleteBackup(store: BlobStore, backupId: string, options: DeleteOptions): Promise<{ objects: number; bytes: number }> {
  const tombstone = deletingKey(backupId);
  const doc = { formatVersion: FORMAT_VERSION, kind: 'cassette-deleting', backupId, startedAt: new Date(options.now()).toISOString() };
  try {
    await store.put(tombstone, `${JSON.stringify(doc, null, 2)}\n`, { ifAbsent: true });
  } catch (err) {
    if (!(err instanceof BlobExistsError)) throw err; // an interrupted prune's: finish its work
  }
  const folder = backupFolder(backupId);
  const all: BlobEntry[] = [];
  for await (const entry of store.list(folder)) if (entry.key !== tombstone) all.push(entry);
  const markers = `${folder}ranges/`;
  const last = new Set([manifestKey(backupId), backupHeaderKey(backupId)]);
  const phases: BlobEntry[][] = [
    all.filter((e) => e.key === manifestKey(backupId)),
    all.filter((e) => e.key.startsWith(markers)),
    all.filter((e) => !last.has(e.key) && !e.key.startsWith(markers)),
    all.filter((e) => e.key === backupHeaderKey(backupId)),
  ];
  for (const phase of phases) {
    await forEachBounded(phase, options.parallel, async (entry) => {
      await store.delete(entry.key);
      options.onDeleted(entry);
    }, options.signal);
  }
  await store.delete(tombstone);
  return { objects: all.length, bytes: all.reduce((n, e) => n + e.size, 0) };
}
