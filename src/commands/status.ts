/**
 * `cassette status <id>`: the state of a backup (complete or how many ranges are done) and its
 * restore runs, or of one restore run (chunks done, rows written, rejects, races, complete or not).
 */
import { CassetteError } from '../errors.js';
import { BACKUP_ID_PATTERN, RESTORE_ID_PATTERN, backupsFolder, restoreHeaderKey, restoreIdOf, restoreReportKey } from '../manifest/keys.js';
import { listBackups, readChunkMarkers, readDocument, readManifest, type BackupSummary } from '../manifest/repository.js';
import { RestoreHeader } from '../manifest/restore-format.js';
import type { BlobStore } from '../storage/blob-store.js';
import { describeSource } from './list.js';

export interface RestoreStatus {
  readonly kind: 'restore';
  readonly restoreId: string;
  readonly backupId: string;
  readonly targetKeyspace: string;
  readonly complete: boolean;
  readonly chunks: { readonly done: number; readonly total: number };
  readonly rows: number;
  readonly written: number;
  readonly rejected: number;
  readonly races: number;
}

export type Status =
  | { readonly kind: 'backup'; readonly backup: BackupSummary; readonly restores: readonly RestoreStatus[] }
  | RestoreStatus;

async function restoreStatus(store: BlobStore, backupId: string, restoreId: string): Promise<RestoreStatus> {
  const header = await readDocument(store, restoreHeaderKey(backupId, restoreId), RestoreHeader, `restore ${restoreId}`);
  if (header === undefined) throw new CassetteError('INVALID_INPUT', `restore ${restoreId} has no restore.json in ${store.description}`);
  const manifest = await readManifest(store, backupId);
  const total = manifest?.tables.filter((t) => header.tables.includes(t.name)).reduce((n, t) => n + t.ranges.reduce((m, r) => m + r.chunks.length, 0), 0) ?? 0;
  const markers = await readChunkMarkers(store, backupId, restoreId);
  const sum = (f: (m: (typeof markers)[number]) => number): number => markers.reduce((n, m) => n + f(m), 0);
  const complete = (await store.head(restoreReportKey(backupId, restoreId))) !== undefined;
  return { kind: 'restore', restoreId, backupId, targetKeyspace: header.target.keyspace, complete, chunks: { done: markers.length, total },
    rows: sum((m) => m.rows), written: sum((m) => m.written), rejected: sum((m) => m.rejected), races: sum((m) => m.races) };
}

export async function runStatus(id: string, deps: { readonly store: BlobStore }): Promise<Status> {
  const { store } = deps;
  if (RESTORE_ID_PATTERN.test(id)) {
    for await (const entry of store.list(backupsFolder())) {
      const found = restoreIdOf(entry.key);
      if (found?.restoreId === id) return restoreStatus(store, found.backupId, id);
    }
    throw new CassetteError('INVALID_INPUT', `restore ${id} not found in ${store.description}`);
  }
  if (!BACKUP_ID_PATTERN.test(id)) {
    throw new CassetteError('USAGE', `"${id}" is neither a backup id (20261122T125144Z-3fa9c1) nor a restore id (r20261122T125144Z-3fa9c1)`);
  }
  const backup = (await listBackups(store)).find((b) => b.backupId === id);
  if (backup === undefined) throw new CassetteError('BACKUP_INVALID', `backup ${id} not found in ${store.description}`, { hint: 'run `cassette list`' });
  const restoreIds = new Set<string>();
  for await (const entry of store.list(`${backupsFolder()}${id}/restores/`)) {
    const found = restoreIdOf(entry.key);
    if (found !== undefined) restoreIds.add(found.restoreId);
  }
  const restores = [];
  for (const restoreId of [...restoreIds].sort()) restores.push(await restoreStatus(store, id, restoreId));
  return { kind: 'backup', backup, restores };
}

function formatRestore(r: RestoreStatus): string {
  return `restore ${r.restoreId} of backup ${r.backupId} into ${r.targetKeyspace}: ${r.complete ? 'complete' : 'incomplete'}, ` +
    `${r.chunks.done}/${r.chunks.total} chunks, ${r.written.toLocaleString('en-US')} of ${r.rows.toLocaleString('en-US')} rows written, ${r.rejected} rejected, ${r.races} races`;
}

export function formatStatus(status: Status): string {
  if (status.kind === 'restore') return `${formatRestore(status)}\n`;
  const b = status.backup;
  const lines = [`backup ${b.backupId} of keyspace ${b.keyspace ?? '?'}: ${b.status}, ${b.ranges.done}/${b.ranges.total} ranges, ${b.rows.toLocaleString('en-US')} rows, tables ${b.tables.join(', ')}`];
  const source = describeSource(b.cluster);
  if (source !== undefined) lines.push(`  source: ${source}`);
  for (const r of status.restores) lines.push(`  ${formatRestore(r)}`);
  return `${lines.join('\n')}\n`;
}
