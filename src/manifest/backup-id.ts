import { randomBytes } from 'node:crypto';

/** A new backup id for a backup started at `nowMs`: `20261122T125144Z-3fa9c1` (docs/format.md §1). */
export function newBackupId(nowMs: number): string {
  return `${stamp(nowMs)}-${randomBytes(3).toString('hex')}`;
}

/** A new restore-run id: `r` + the same form as a backup id. */
export function newRestoreId(nowMs: number): string {
  return `r${newBackupId(nowMs)}`;
}

/** A new attempt id: 8 random hex digits, new for every attempt at writing a range's or chunk's data. */
export function newAttemptId(): string {
  return randomBytes(4).toString('hex');
}

function stamp(nowMs: number): string {
  const iso = new Date(nowMs).toISOString(); // 2026-11-22T12:51:44.123Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}
