/**
 * `cassette status <id>`: the state of a backup (complete or how many ranges are done) and its
 * restore runs, or of one restore run (chunks done, rows written, rejects, races, complete or not).
 */
import { CassetteError } from '../../errors.js';
import { BACKUP_ID_PATTERN, RESTORE_ID_PATTERN, backupFolder, backupsFolder, restoreFolder, restoreHeaderKey, restoreIdOf, restoreReportKey } from '../../manifest/keys.js';
import { listBackups, readChunkMarkers, readDocument, readHeader, readManifest, readMarkers, type BackupSummary } from '../../manifest/repository.js';
import { formatRunView, runView, type PlannedUnit, type RunView } from './workers.js';
import { RestoreHeader } from '../../manifest/restore-format.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { describeSource } from '../list.js';

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
  /** An unfinished run: per table, its workers, the ranges in progress and by whom, rate, ETA. */
  readonly run?: RunView;
}

export type Status =
  | { readonly kind: 'backup'; readonly backup: BackupSummary; readonly restores: readonly RestoreStatus[]; readonly run?: RunView }
  | RestoreStatus;

export interface StatusDeps {
  readonly store: BlobStore;
  /** The reader's clock (heartbeat ages, the last minute's rate); default: the system clock. */
  readonly now?: () => number;
}

async function restoreStatus(store: BlobStore, backupId: string, restoreId: string, nowMs: number): Promise<RestoreStatus> {
  const header = await readDocument(store, restoreHeaderKey(backupId, restoreId), RestoreHeader, `restore ${restoreId}`);
  if (header === undefined) throw new CassetteError('INVALID_INPUT', `restore ${restoreId} has no restore.json in ${store.description}`);
  const manifest = await readManifest(store, backupId);
  const total = manifest?.tables.filter((t) => header.tables.includes(t.name)).reduce((n, t) => n + t.ranges.reduce((m, r) => m + r.chunks.length, 0), 0) ?? 0;
  const markers = await readChunkMarkers(store, backupId, restoreId);
  const sum = (f: (m: (typeof markers)[number]) => number): number => markers.reduce((n, m) => n + f(m), 0);
  const complete = (await store.head(restoreReportKey(backupId, restoreId))) !== undefined;
  // A range is done when every chunk of it is: the unit workers claim (format.md §13).
  const units: PlannedUnit[] = [];
  for (const table of manifest?.tables.filter((t) => header.tables.includes(t.name)) ?? []) {
    for (const range of table.ranges) {
      const mine = markers.filter((m) => m.table === table.name && m.range === range.index);
      const doneAll = mine.length >= range.chunks.length;
      units.push({ table: table.name, index: range.index, ...(doneAll ? { done: { rows: mine.reduce((n, m) => n + m.rows, 0), at: mine.map((m) => m.doneAt).sort().at(-1) ?? '' } } : {}) });
    }
  }
  const run = complete ? undefined : await runView(store, { kind: 'restore', id: restoreId }, restoreFolder(backupId, restoreId), units, nowMs);
  return { kind: 'restore', restoreId, backupId, targetKeyspace: header.target.keyspace, complete, chunks: { done: markers.length, total },
    rows: sum((m) => m.rows), written: sum((m) => m.written), rejected: sum((m) => m.rejected), races: sum((m) => m.races), ...(run === undefined ? {} : { run }) };
}

/** The view of an unfinished backup: its plan's ranges and their markers. */
async function backupRun(store: BlobStore, backupId: string, nowMs: number): Promise<RunView | undefined> {
  const header = await readHeader(store, backupId);
  if (header === undefined) return undefined;
  const units: PlannedUnit[] = [];
  for (const table of header.tables) {
    const markers = await readMarkers(store, backupId, table.name);
    for (const range of table.ranges) {
      const marker = markers.get(range.index);
      units.push({ table: table.name, index: range.index, ...(marker === undefined ? {} : { done: { rows: marker.rows, at: marker.readAt } }) });
    }
  }
  return runView(store, { kind: 'backup', id: backupId }, backupFolder(backupId), units, nowMs);
}

export async function runStatus(id: string, deps: StatusDeps): Promise<Status> {
  const { store } = deps;
  const nowMs = (deps.now ?? Date.now)();
  if (RESTORE_ID_PATTERN.test(id)) {
    for await (const entry of store.list(backupsFolder())) {
      const found = restoreIdOf(entry.key);
      if (found?.restoreId === id) return restoreStatus(store, found.backupId, id, nowMs);
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
  for (const restoreId of [...restoreIds].sort()) restores.push(await restoreStatus(store, id, restoreId, nowMs));
  const run = backup.status === 'complete' ? undefined : await backupRun(store, id, nowMs);
  return { kind: 'backup', backup, restores, ...(run === undefined ? {} : { run }) };
}

function formatRestore(r: RestoreStatus): string {
  return `restore ${r.restoreId} of backup ${r.backupId} into ${r.targetKeyspace}: ${r.complete ? 'complete' : 'incomplete'}, ` +
    `${r.chunks.done}/${r.chunks.total} chunks, ${r.written.toLocaleString('en-US')} of ${r.rows.toLocaleString('en-US')} rows written, ${r.rejected} rejected, ${r.races} races`;
}

export function formatStatus(status: Status): string {
  if (status.kind === 'restore') return `${[formatRestore(status), ...(status.run === undefined ? [] : formatRunView(status.run, '  '))].join('\n')}\n`;
  const b = status.backup;
  const lines = [`backup ${b.backupId} of keyspace ${b.keyspace ?? '?'}: ${b.status}, ${b.ranges.done}/${b.ranges.total} ranges, ${b.rows.toLocaleString('en-US')} rows, tables ${b.tables.join(', ')}`];
  const source = describeSource(b.cluster);
  if (source !== undefined) lines.push(`  source: ${source}`);
  if (status.run !== undefined) lines.push(...formatRunView(status.run, '  '));
  for (const r of status.restores) lines.push(`  ${formatRestore(r)}`, ...(r.run === undefined ? [] : formatRunView(r.run, '    ')));
  return `${lines.join('\n')}\n`;
}
