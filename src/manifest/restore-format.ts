/**
 * The documents of a restore run, stored with the backup it restores (docs/format.md §7):
 * restore.json (started), one completion marker per loaded chunk (the checkpoint), rejects files,
 * and report.json (written last).
 */
import { z } from 'zod';

export const GuardDescription = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }),
  z.object({ kind: z.literal('timestamp') }),
  z.object({ kind: z.literal('lwt'), column: z.string(), expected: z.unknown() }),
]);

/** restore.json: what this run restores, where, and how. */
export const RestoreHeader = z.object({
  formatVersion: z.number().int().positive(),
  kind: z.literal('cassette-restore'),
  restoreId: z.string(),
  backupId: z.string(),
  createdAt: z.string(),
  tool: z.object({ name: z.string(), version: z.string() }),
  target: z.object({ keyspace: z.string(), cluster: z.string(), hosts: z.array(z.string()) }),
  tables: z.array(z.string()),
  guard: GuardDescription,
  schemaMode: z.enum(['create', 'skip', 'require-existing']),
});
export type RestoreHeader = z.infer<typeof RestoreHeader>;

/** done/<table>/<range>-<chunk>.json: a chunk whose rows are all written (or rejected). */
export const ChunkDone = z.object({
  formatVersion: z.number().int().positive(),
  table: z.string(),
  range: z.number().int().nonnegative(),
  chunk: z.number().int().nonnegative(),
  key: z.string(),
  rows: z.number().int().nonnegative(),
  written: z.number().int().nonnegative(),
  expiredCells: z.number().int().nonnegative(),
  expiredRows: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  races: z.number().int().nonnegative(),
  rejectsKey: z.string().optional(),
  doneAt: z.string(),
});
export type ChunkDone = z.infer<typeof ChunkDone>;

/**
 * started/<table>/<range>-<chunk>.json: a chunk of a counter table whose writes may have begun
 * (written before the first). A resume reads the target back for such a chunk without a
 * completion marker, so no counter is added twice.
 */
export const ChunkStarted = z.object({
  formatVersion: z.number().int().positive(),
  table: z.string(),
  range: z.number().int().nonnegative(),
  chunk: z.number().int().nonnegative(),
  key: z.string(),
  startedAt: z.string(),
});
export type ChunkStarted = z.infer<typeof ChunkStarted>;
