/** The writes of one backed-up row, as row-writes.ts and row-writes-lwt.ts plan them. */
import type { ListWrite } from './list-writes.js';
import type { WriteStatement } from './statement.js';

/** The writes of one row. */
export interface RowPlan {
  /** All for the row's partition, in the order they must be applied. */
  readonly statements: readonly WriteStatement[];
  /** Cells (for multi-cell columns: element cells) skipped because their expiry passed. Never resurrected. */
  readonly expiredCells: number;
  /** Non-frozen list columns, to be written with writeList after `statements` (and only if a conditional one applied). */
  readonly lists: readonly ListWrite[];
}
