/**
 * The documents of a DR drill (`cassette drill`), stored with the backup it drills
 * (docs/format.md §10): drill.json when it starts, report.json — the evidence — when it ends.
 * Readers of backups ignore the `drills/` folder.
 */
import { z } from 'zod';
import { newBackupId } from './backup-id.js';

/** A new drill id: `d` + the form of a backup id. */
export function newDrillId(nowMs: number): string {
  return `d${newBackupId(nowMs)}`;
}

export const DrillTarget = z.object({
  cluster: z.string(),
  hosts: z.array(z.string()),
  releaseVersion: z.string(),
});
export type DrillTarget = z.infer<typeof DrillTarget>;

/** drill.json: what the drill restores where; how a later drill recognizes a leftover scratch keyspace. */
export const DrillHeader = z.object({
  formatVersion: z.number().int().positive(),
  kind: z.literal('cassette-drill'),
  drillId: z.string(),
  backupId: z.string(),
  createdAt: z.string(),
  tool: z.object({ name: z.string(), version: z.string() }),
  scratchKeyspace: z.string(),
  target: DrillTarget,
  /** The target's node addresses: a leftover is recognized only on a cluster that shares one of them. */
  nodes: z.array(z.string()),
  tables: z.array(z.string()),
});
export type DrillHeader = z.infer<typeof DrillHeader>;

/** One table's result in the evidence report: counts only, keys of differing rows at most a sample. */
export const DrillTableResult = z.object({
  name: z.string(),
  backupRows: z.number().int().nonnegative(),
  restoredRows: z.number().int().nonnegative(),
  ranges: z.number().int().nonnegative(),
  rangesDiffering: z.number().int().nonnegative(),
  expectedAbsent: z.number().int().nonnegative(),
  missing: z.number().int().nonnegative(),
  extra: z.number().int().nonnegative(),
  different: z.number().int().nonnegative(),
  sampleKeys: z.object({ missing: z.array(z.array(z.unknown())), extra: z.array(z.array(z.unknown())), different: z.array(z.array(z.unknown())) }),
  result: z.enum(['PASS', 'FAIL']),
});
export type DrillTableResult = z.infer<typeof DrillTableResult>;

/** report.json: the evidence. `result` is FAIL on any difference and when the drill failed (`error`). */
export const DrillReport = z.object({
  formatVersion: z.number().int().positive(),
  kind: z.literal('cassette-drill-report'),
  drillId: z.string(),
  backupId: z.string(),
  backupCreatedAt: z.string(),
  /** Seconds between the backup's start and the drill's start. */
  backupAgeSeconds: z.number().int(),
  startedAt: z.string(),
  completedAt: z.string(),
  tool: z.object({ name: z.string(), version: z.string() }),
  source: z.object({ cluster: z.string(), releaseVersion: z.string(), keyspace: z.string() }),
  target: DrillTarget,
  scratchKeyspace: z.string(),
  /** `dropped`, `kept` (--keep), or `drop-failed` (the message says why). */
  scratch: z.enum(['dropped', 'kept', 'drop-failed']),
  restoreId: z.string().optional(),
  /** The recovery time measured: schema creation and every row written. */
  restoreDurationMs: z.number().int().nonnegative(),
  compareDurationMs: z.number().int().nonnegative(),
  rows: z.number().int().nonnegative(),
  tables: z.array(DrillTableResult),
  result: z.enum(['PASS', 'FAIL']),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type DrillReport = z.infer<typeof DrillReport>;
