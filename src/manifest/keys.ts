/**
 * The ONLY code that builds object keys of a repository (docs/format.md §1). Keys are relative to
 * the repository root; chunk keys inside markers are relative to the backup's folder.
 */

const BACKUPS = 'backups';

/** `20261122T125144Z-3fa9c1`: UTC start time, then 6 random hex digits. Sorts by creation time. */
export const BACKUP_ID_PATTERN = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;

function pad5(n: number): string {
  return String(n).padStart(5, '0');
}

/** The folder of one backup, with a trailing slash. */
export function backupFolder(backupId: string): string {
  return `${BACKUPS}/${backupId}/`;
}

/** Where all backups live, with a trailing slash; listing it finds every backup. */
export function backupsFolder(): string {
  return `${BACKUPS}/`;
}

export function backupHeaderKey(backupId: string): string {
  return `${backupFolder(backupId)}backup.json`;
}

export function schemaCqlKey(backupId: string): string {
  return `${backupFolder(backupId)}schema.cql`;
}

export function manifestKey(backupId: string): string {
  return `${backupFolder(backupId)}manifest.json`;
}

/** A chunk's key relative to the backup folder, as markers record it. */
export function chunkRelativeKey(table: string, rangeIndex: number, attempt: string, seq: number): string {
  return `data/${table}/${pad5(rangeIndex)}-${attempt}-${pad5(seq)}.ndjson.gz`;
}

/** Resolves a marker's relative chunk key to a repository key. */
export function chunkKey(backupId: string, relativeKey: string): string {
  return `${backupFolder(backupId)}${relativeKey}`;
}

export function markersFolder(backupId: string, table: string): string {
  return `${backupFolder(backupId)}ranges/${table}/`;
}

export function markerKey(backupId: string, table: string, rangeIndex: number): string {
  return `${markersFolder(backupId, table)}${pad5(rangeIndex)}.json`;
}

/** The backup id of a key under backups/, or undefined for anything else. */
export function backupIdOf(key: string): string | undefined {
  const [root, id] = key.split('/');
  return root === BACKUPS && id !== undefined && BACKUP_ID_PATTERN.test(id) ? id : undefined;
}
