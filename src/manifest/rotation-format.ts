/**
 * The documents of a rotation job (docs/format.md §9), kept in the repository like everything
 * else: job.json (the plan, first), per round and range a marker per stage (exported, transformed,
 * written), verified.json per round, operator control documents, and report.json (last).
 */
import { z } from 'zod';
import { ChunkEntry, PlannedRange } from './format.js';

export const RotationTablePlan = z.object({
  name: z.string(),
  columns: z.array(z.string()),
  guard: z.enum(['timestamp', 'lwt']),
  preserveTtl: z.boolean(),
  preserveWritetime: z.boolean(),
  consistency: z.object({ read: z.string(), write: z.string() }),
  /** sha256 of the table's schema (columns, options) when the job was planned: drift is refused. */
  schemaFingerprint: z.string(),
  ranges: z.array(PlannedRange),
});
export type RotationTablePlan = z.infer<typeof RotationTablePlan>;

/** job.json. */
export const RotationJob = z.object({
  formatVersion: z.number().int().positive(),
  kind: z.literal('cassette-rotation'),
  jobId: z.string(),
  createdAt: z.string(),
  tool: z.object({ name: z.string(), version: z.string() }),
  configFile: z.string(),
  /** What identifies "the same rotation": keyspace, tables, columns, key versions. */
  rotationFingerprint: z.string(),
  keyspace: z.string(),
  cluster: z.string(),
  provider: z.string(),
  newKeyVersion: z.string(),
  oldKeyVersions: z.array(z.string()),
  keyVersionColumn: z.string(),
  tables: z.array(RotationTablePlan),
  options: z.object({ fetchSize: z.number().int().positive(), gzipLevel: z.number().int(), maxChunkBytes: z.number().int().positive() }),
});
export type RotationJob = z.infer<typeof RotationJob>;

const counts = {
  rowsChanged: z.number().int().nonnegative(),
  rowsSkipped: z.number().int().nonnegative(),
  valuesRotated: z.number().int().nonnegative(),
  valuesAlreadyCurrent: z.number().int().nonnegative(),
  valuesQuarantined: z.number().int().nonnegative(),
};

/** transform/done/<table>/<range>.json: the range's changed rows are in `chunks`. */
export const TransformedRange = z.object({
  formatVersion: z.number().int().positive(),
  table: z.string(),
  index: z.number().int().nonnegative(),
  /** Rows exported from the range. */
  rows: z.number().int().nonnegative(),
  ...counts,
  chunks: z.array(ChunkEntry),
  quarantineKeys: z.array(z.string()),
  doneAt: z.string(),
});
export type TransformedRange = z.infer<typeof TransformedRange>;

/** written/<table>/<range>.json: the range's rotated values are back in the table. */
export const WrittenRange = z.object({
  formatVersion: z.number().int().positive(),
  table: z.string(),
  index: z.number().int().nonnegative(),
  /** Rows sent (changed rows of the range). */
  rows: z.number().int().nonnegative(),
  written: z.number().int().nonnegative(),
  /** LWT rows found already holding this job's values (a write-back redone after a crash). */
  alreadyWritten: z.number().int().nonnegative(),
  /** LWT rows the application changed after the export: not overwritten; verification picks them up. */
  raced: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  expiredCells: z.number().int().nonnegative(),
  /** Read and write p99 (ms) and the rate in force when the range finished, for status. */
  readP99Ms: z.number().nullable(),
  writeP99Ms: z.number().nullable(),
  rate: z.number().nullable(),
  doneAt: z.string(),
});
export type WrittenRange = z.infer<typeof WrittenRange>;

/** verified.json: what the pass over the key-version column found after a round. */
export const VerifiedRound = z.object({
  formatVersion: z.number().int().positive(),
  round: z.number().int().nonnegative(),
  /** Rows with an encrypted value whose key version is not the new one (quarantined rows excluded). */
  leftBehind: z.number().int().nonnegative(),
  /** Rows left under an old key because no configured key opens a value of theirs. */
  quarantinedRows: z.number().int().nonnegative(),
  /** Per table, the ranges holding rows left behind: the next round's work. */
  ranges: z.record(z.string(), z.array(z.number().int().nonnegative())),
  /** The first rows left behind, by primary key (never a value). */
  sample: z.array(z.object({ table: z.string(), key: z.array(z.unknown()) })),
  doneAt: z.string(),
});
export type VerifiedRound = z.infer<typeof VerifiedRound>;

/** control/<stamp>-<suffix>.json: an operator's command to the running job. */
export const ControlCommand = z.discriminatedUnion('action', [
  z.object({ action: z.literal('pause'), at: z.string() }),
  z.object({ action: z.literal('resume'), at: z.string() }),
  z.object({ action: z.literal('throttle'), at: z.string(), rate: z.number().positive().nullable() }),
]);
export type ControlCommand = z.infer<typeof ControlCommand>;

/** report.json: the job is complete. */
export const RotationReportDoc = z.object({
  formatVersion: z.number().int().positive(),
  jobId: z.string(),
  completedAt: z.string(),
  rounds: z.number().int().positive(),
  tables: z.array(z.object({
    name: z.string(),
    ranges: z.number().int().nonnegative(),
    rowsExported: z.number().int().nonnegative(),
    ...counts,
    written: z.number().int().nonnegative(),
    raced: z.number().int().nonnegative(),
  })),
});
export type RotationReportDoc = z.infer<typeof RotationReportDoc>;
