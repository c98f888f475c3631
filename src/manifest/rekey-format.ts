/**
 * The checkpoint of `cassette rekey` (docs/format.md §8): one marker per re-encrypted chunk of the
 * new backup, written after the chunk (and its quarantine list, if any) is stored.
 */
import { z } from 'zod';
import { ChunkEntry } from './format.js';

export const RekeyChunkDone = z.object({
  formatVersion: z.number().int().positive(),
  table: z.string(),
  range: z.number().int().nonnegative(),
  chunk: z.number().int().nonnegative(),
  /** The new chunk, as the range marker will list it. */
  entry: ChunkEntry,
  rowsChanged: z.number().int().nonnegative(),
  rowsSkipped: z.number().int().nonnegative(),
  valuesRotated: z.number().int().nonnegative(),
  valuesAlreadyCurrent: z.number().int().nonnegative(),
  valuesQuarantined: z.number().int().nonnegative(),
  quarantineKey: z.string().optional(),
  doneAt: z.string(),
});
export type RekeyChunkDone = z.infer<typeof RekeyChunkDone>;

/** One line of a quarantine file: where a value is that no key opened. Never the value. */
export interface QuarantineEntry {
  readonly table: string;
  readonly column: string;
  /** The row's primary key: partition key values, then clustering values (format §6.1 `k`). */
  readonly key: readonly unknown[];
}
