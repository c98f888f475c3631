/**
 * Copies a backup's objects under another id and creation time — how the prune tests get backups
 * of many days without waiting for them: every chunk byte-identical, backup.json and manifest.json
 * rewritten with the new `backupId` and `createdAt` (restore runs are not copied).
 */
import { text } from 'node:stream/consumers';
import { backupFolder, backupHeaderKey, manifestKey } from '../../src/manifest/keys.js';
import type { BlobStore } from '../../src/storage/blob-store.js';

/** A backup id for `iso` (its time, then `suffix`, 6 hex digits). */
export function backupIdAt(iso: string, suffix: string): string {
  return `${iso.slice(0, 19).replace(/[-:]/g, '')}Z-${suffix}`;
}

export async function copyBackupAs(store: BlobStore, sourceId: string, createdAt: string, suffix: string, options: { complete?: boolean } = {}): Promise<string> {
  const targetId = backupIdAt(createdAt, suffix);
  const from = backupFolder(sourceId);
  for await (const entry of store.list(from)) {
    const relative = entry.key.slice(from.length);
    if (relative.startsWith('restores/')) continue;
    const key = `${backupFolder(targetId)}${relative}`;
    if (entry.key === backupHeaderKey(sourceId) || entry.key === manifestKey(sourceId)) {
      if (entry.key === manifestKey(sourceId) && options.complete === false) continue;
      const doc = JSON.parse(await text(await store.get(entry.key))) as Record<string, unknown>;
      doc.backupId = targetId;
      doc.createdAt = createdAt;
      if ('completedAt' in doc) doc.completedAt = createdAt;
      await store.put(key, `${JSON.stringify(doc, null, 2)}\n`, { ifAbsent: true });
    } else {
      await store.put(key, await store.get(entry.key), { ifAbsent: true });
    }
  }
  return targetId;
}
