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
  return rangeMarkerKeyIn(backupFolder(backupId), table, rangeIndex);
}

/**
 * A range marker in a folder laid out like a backup (`<folder>ranges/<table>/<range>.json`, chunks
 * at `<folder>` + their relative key): a backup's folder, or a stage folder of a rotation job.
 */
export function rangeMarkerKeyIn(folder: string, table: string, rangeIndex: number): string {
  return `${folder}ranges/${table}/${pad5(rangeIndex)}.json`;
}

/** The backup id of a key under backups/, or undefined for anything else. */
export function backupIdOf(key: string): string | undefined {
  const [root, id] = key.split('/');
  return root === BACKUPS && id !== undefined && BACKUP_ID_PATTERN.test(id) ? id : undefined;
}

/** `r20261122T125144Z-3fa9c1`: a restore run's id; the `r` tells it from a backup id. */
export const RESTORE_ID_PATTERN = /^r\d{8}T\d{6}Z-[0-9a-f]{6}$/;

/** The folder of one restore run, stored with the backup it restores. */
export function restoreFolder(backupId: string, restoreId: string): string {
  return `${backupFolder(backupId)}restores/${restoreId}/`;
}

export function restoreHeaderKey(backupId: string, restoreId: string): string {
  return `${restoreFolder(backupId, restoreId)}restore.json`;
}

export function restoreReportKey(backupId: string, restoreId: string): string {
  return `${restoreFolder(backupId, restoreId)}report.json`;
}

/** The completion marker of one chunk in a restore run. */
export function chunkDoneKey(backupId: string, restoreId: string, table: string, rangeIndex: number, chunk: number): string {
  return `${restoreFolder(backupId, restoreId)}done/${table}/${pad5(rangeIndex)}-${pad5(chunk)}.json`;
}

export function chunkDoneFolder(backupId: string, restoreId: string): string {
  return `${restoreFolder(backupId, restoreId)}done/`;
}

/**
 * The intent marker of one chunk of a counter table in a restore run: written before the chunk's
 * first write, so a resume knows which counter chunks may be partly added (format.md §7).
 */
export function chunkStartedKey(backupId: string, restoreId: string, table: string, rangeIndex: number, chunk: number): string {
  return `${chunkStartedFolder(backupId, restoreId)}${table}/${pad5(rangeIndex)}-${pad5(chunk)}.json`;
}

export function chunkStartedFolder(backupId: string, restoreId: string): string {
  return `${restoreFolder(backupId, restoreId)}started/`;
}

/** Where a restore run's rejects files live. */
export function rejectsFolder(backupId: string, restoreId: string): string {
  return `${restoreFolder(backupId, restoreId)}rejects/`;
}

/** Rows of one chunk that could not be written, with the reason (one attempt per file). */
export function rejectsKey(backupId: string, restoreId: string, table: string, rangeIndex: number, chunk: number, attempt: string): string {
  return `${rejectsFolder(backupId, restoreId)}${table}/${pad5(rangeIndex)}-${pad5(chunk)}-${attempt}.ndjson`;
}

/** The restore id of a key under backups/<id>/restores/, with its backup id. */
export function restoreIdOf(key: string): { backupId: string; restoreId: string } | undefined {
  const [root, backupId, folder, restoreId] = key.split('/');
  if (root !== BACKUPS || backupId === undefined || folder !== 'restores' || restoreId === undefined) return undefined;
  return BACKUP_ID_PATTERN.test(backupId) && RESTORE_ID_PATTERN.test(restoreId) ? { backupId, restoreId } : undefined;
}

/** The completion marker of one re-encrypted chunk of a rekey's new backup (its checkpoint). */
export function rekeyChunkKey(backupId: string, table: string, rangeIndex: number, chunk: number): string {
  return `${rekeyChunksFolder(backupId)}${table}/${pad5(rangeIndex)}-${pad5(chunk)}.json`;
}

export function rekeyChunksFolder(backupId: string): string {
  return `${backupFolder(backupId)}rekey/`;
}

/** Where a rekey lists the values no key opened: table, column and primary key, never a value. */
export function quarantineFolder(backupId: string): string {
  return `${backupFolder(backupId)}quarantine/`;
}

export function quarantineKey(backupId: string, table: string, rangeIndex: number, chunk: number, attempt: string): string {
  return `${quarantineFolder(backupId)}${table}/${pad5(rangeIndex)}-${pad5(chunk)}-${attempt}.ndjson`;
}

const ROTATIONS = 'rotations';

/** `j20261122T125144Z-3fa9c1`: a rotation job's id; the `j` tells it from backup and restore ids. */
export const JOB_ID_PATTERN = /^j\d{8}T\d{6}Z-[0-9a-f]{6}$/;

/** Where all rotation jobs live; listing it finds every job. */
export function rotationsFolder(): string {
  return `${ROTATIONS}/`;
}

export function rotationFolder(jobId: string): string {
  return `${ROTATIONS}/${jobId}/`;
}

/** job.json: the plan (written first). */
export function rotationJobKey(jobId: string): string {
  return `${rotationFolder(jobId)}job.json`;
}

/** report.json: written last; the job is complete. */
export function rotationReportKey(jobId: string): string {
  return `${rotationFolder(jobId)}report.json`;
}

/** The job id of a key under rotations/, or undefined. */
export function jobIdOf(key: string): string | undefined {
  const [root, id] = key.split('/');
  return root === ROTATIONS && id !== undefined && JOB_ID_PATTERN.test(id) ? id : undefined;
}

/** One pass over the job's ranges: round 0 rotates every range, later rounds the ranges verification found rows left behind in. */
export function roundFolder(jobId: string, round: number): string {
  return `${rotationFolder(jobId)}rounds/${String(round).padStart(3, '0')}/`;
}

/** Stage 1 output, laid out like a backup folder: `data/…` chunks and `ranges/<table>/<range>.json` markers. */
export function exportStageFolder(jobId: string, round: number): string {
  return `${roundFolder(jobId, round)}export/`;
}

/** Stage 2 output: transformed chunks (`data/…`) and quarantine lists. */
export function transformStageFolder(jobId: string, round: number): string {
  return `${roundFolder(jobId, round)}transform/`;
}

export function transformedKey(jobId: string, round: number, table: string, rangeIndex: number): string {
  return `${transformStageFolder(jobId, round)}done/${table}/${pad5(rangeIndex)}.json`;
}

export function rotationQuarantineKey(jobId: string, round: number, table: string, rangeIndex: number, chunk: number, attempt: string): string {
  return `${transformStageFolder(jobId, round)}quarantine/${table}/${pad5(rangeIndex)}-${pad5(chunk)}-${attempt}.ndjson`;
}

/** Stage 3 marker: the range's re-encrypted values are written back. */
export function writtenKey(jobId: string, round: number, table: string, rangeIndex: number): string {
  return `${roundFolder(jobId, round)}written/${table}/${pad5(rangeIndex)}.json`;
}

export function writtenFolder(jobId: string, round: number): string {
  return `${roundFolder(jobId, round)}written/`;
}

/** The verification after a round: rows still under an old key. */
export function verifiedKey(jobId: string, round: number): string {
  return `${roundFolder(jobId, round)}verified.json`;
}

/** Operator commands to a running job (pause, resume, throttle), one write-once document each. */
export function controlFolder(jobId: string): string {
  return `${rotationFolder(jobId)}control/`;
}

export function controlKey(jobId: string, stamp: string, suffix: string): string {
  return `${controlFolder(jobId)}${stamp}-${suffix}.json`;
}

/** `d20261122T140102Z-a1b2c3`: a DR drill's id; the `d` tells it from backup, restore and job ids. */
export const DRILL_ID_PATTERN = /^d\d{8}T\d{6}Z-[0-9a-f]{6}$/;

/** Where the drills of one backup keep their evidence (format.md §10). */
export function drillsFolder(backupId: string): string {
  return `${backupFolder(backupId)}drills/`;
}

/** drill.json: a drill started (its scratch keyspace and target), written before the restore. */
export function drillHeaderKey(backupId: string, drillId: string): string {
  return `${drillsFolder(backupId)}${drillId}/drill.json`;
}

/** report.json: the drill's evidence report, written last, pass or fail. */
export function drillReportKey(backupId: string, drillId: string): string {
  return `${drillsFolder(backupId)}${drillId}/report.json`;
}

/**
 * The tombstone of a backup `cassette prune` is deleting (format.md §11): written before its
 * first object is removed, deleted after its last. A backup with one is `deleting`.
 */
export function deletingKey(backupId: string): string {
  return `${backupFolder(backupId)}deleting.json`;
}

/** An encrypted backup's plaintext description of its encryption (format.md §12), written first. */
export function encryptionKey(backupId: string): string {
  return `${backupFolder(backupId)}encryption.json`;
}

/** An encrypted backup's plaintext index (format.md §12): what listing and verifying need, no row data. */
export function indexKey(backupId: string): string {
  return `${backupFolder(backupId)}index.json`;
}

const LEASES = 'leases';

/** What a lease protects: a backup, a restore run or a rotation job, by id. */
export type LeaseTargetKind = 'backup' | 'restore' | 'rotation';

/** Where all leases live; listing it finds every lease of the repository. */
export function leasesFolder(): string {
  return `${LEASES}/`;
}

/** The leases of one target, one object per holder: `leases/<kind>-<id>/`. */
export function leaseTargetFolder(kind: LeaseTargetKind, id: string): string {
  return `${LEASES}/${kind}-${id}/`;
}

/** One holder's lease of one target (the repository's one object that is overwritten: renewals). */
export function leaseKey(kind: LeaseTargetKind, id: string, holder: string): string {
  return `${leaseTargetFolder(kind, id)}${holder}.json`;
}

/**
 * The claims of one unit of work (a range of a table) of a run shared by many workers
 * (format.md §13): `runFolder` is the run's folder (a backup's, or a restore run's).
 */
export function claimsFolder(runFolder: string, table: string, rangeIndex: number): string {
  return `${runClaimsFolder(runFolder)}${table}/${pad5(rangeIndex)}/`;
}

/** Every claim of a shared run. */
export function runClaimsFolder(runFolder: string): string {
  return `${runFolder}claims/`;
}

/** Generation `gen` of a unit's claim. */
export function claimKey(runFolder: string, table: string, rangeIndex: number, gen: number): string {
  return `${claimsFolder(runFolder, table, rangeIndex)}${pad5(gen)}.json`;
}
