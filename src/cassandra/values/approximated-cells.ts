/**
 * The cells of a table read from a cluster that cannot return WRITETIME/TTL of multi-cell columns
 * (Cassandra 4.x; see reads/read-capabilities.ts): docs/format.md §6.4.
 *
 * Single-cell columns are read and encoded exactly as by cellProjection (cell-codec.ts). A
 * multi-cell column (non-frozen list, set, map, user type) is read by its value alone, and its cell
 * keeps the §6.2 multi-cell shape — one `t` (and `e`) entry per element or field — with every entry
 * set to an approximation taken from the same row:
 * - `t`: the largest WRITETIME of the row's live single-cell columns of the same kind (static
 *   columns for a static column, regular columns for a regular one); when it has none, `fallback`
 *   (a backup passes the time it started, so every row of a partition gives its static columns
 *   the same writetime), or else the time the page was read (its whole second, in microseconds).
 * - `e`: when there are such cells and every one of them expires, the latest of their expiries;
 *   otherwise none (the elements are written back without TTL).
 *
 * Only backups of such clusters use this projection; Cassandra 5.0's path (cellProjection) is
 * untouched by it.
 */
import { isMultiCell } from './cql-type.js';
import { quoteIdentifier } from './identifiers.js';
import { cellPresence, encodeCell, int64ToJson, type Cell, type CellColumn, type CellProjection, type MultiCell } from './cell-codec.js';
import { encodeValue } from './value-codec.js';
import { ValueCodecError } from './value-codec-error.js';

/** A projection whose multi-cell columns get approximated writetimes and expiries. */
export interface ApproximatedProjection extends CellProjection {
  /** The multi-cell columns whose `t`/`e` are approximations, in column order. */
  readonly approximated: readonly string[];
}

interface Slot {
  readonly column: CellColumn;
  /** Offset of the column's value from the projection's start. */
  readonly at: number;
  readonly multi: boolean;
  readonly isStatic: boolean;
}

/** The writetimes and expiries of a row's single-cell columns of one kind. */
interface Reference {
  maxWritetime: bigint | undefined;
  allExpire: boolean;
  latestExpiry: number;
}

/**
 * The projection of `columns` (the table's non-key columns, or a selection of them) for a cluster
 * without WRITETIME/TTL of multi-cell columns. Selects `"col", WRITETIME("col"), TTL("col")` for a
 * single-cell column and `"col"` alone for a multi-cell one. Refuses key columns (a bug).
 */
export function approximatedCellProjection(columns: readonly CellColumn[], fallback?: bigint): ApproximatedProjection {
  const slots: Slot[] = [];
  const selectors: string[] = [];
  for (const column of columns) {
    if (column.kind === 'partition_key' || column.kind === 'clustering') {
      throw new Error(`approximatedCellProjection: "${column.name}" is a primary-key column; WRITETIME/TTL reject it`);
    }
    const name = quoteIdentifier(column.name);
    const multi = isMultiCell(column.type);
    slots.push({ column: { name: column.name, type: column.type }, at: selectors.length, multi, isStatic: column.kind === 'static' });
    if (multi) selectors.push(name);
    else selectors.push(name, `WRITETIME(${name})`, `TTL(${name})`);
  }
  return Object.freeze({
    selectors: Object.freeze(selectors),
    approximated: Object.freeze(slots.filter((slot) => slot.multi).map((slot) => slot.column.name)),
    encodeCells(values: readonly unknown[], start: number, readAtSeconds: number): Record<string, Cell> {
      const encoded = new Array<Cell | undefined>(slots.length);
      const regular: Reference = { maxWritetime: undefined, allExpire: true, latestExpiry: 0 };
      const statics: Reference = { maxWritetime: undefined, allExpire: true, latestExpiry: 0 };
      for (let i = 0; i < slots.length; i++) {
        const slot = slots[i] as Slot;
        const value = values[start + slot.at];
        if (slot.multi || value === null || value === undefined) continue;
        const writetime = values[start + slot.at + 1];
        const cell = inColumn(slot, () => encodeCell(slot.column, value, writetime, values[start + slot.at + 2], readAtSeconds));
        encoded[i] = cell;
        const reference = slot.isStatic ? statics : regular;
        if (reference.maxWritetime === undefined || (writetime as bigint) > reference.maxWritetime) reference.maxWritetime = writetime as bigint;
        if (cell.e === undefined) reference.allExpire = false;
        else reference.latestExpiry = Math.max(reference.latestExpiry, cell.e as number);
      }
      for (let i = 0; i < slots.length; i++) {
        const slot = slots[i] as Slot;
        const value = values[start + slot.at];
        if (!slot.multi || value === null || value === undefined) continue;
        const reference = slot.isStatic ? statics : regular;
        const writetime = reference.maxWritetime ?? fallback ?? BigInt(readAtSeconds) * 1_000_000n;
        const expiresAt = reference.maxWritetime !== undefined && reference.allExpire ? reference.latestExpiry : null;
        encoded[i] = inColumn(slot, () => approximatedMultiCell(slot.column, value, writetime, expiresAt));
      }
      const cells: Record<string, Cell> = {};
      for (let i = 0; i < slots.length; i++) {
        const cell = encoded[i];
        if (cell !== undefined) cells[(slots[i] as Slot).column.name] = cell;
      }
      return cells;
    },
  });
}

/**
 * A multi-cell column's cell (§6.2 shape) whose every cell has `writetime` and `expiresAt` (null:
 * no TTL). A user type's field without a value has null entries, as always.
 *
 * @throws ValueCodecError (encode) for a value the format cannot hold.
 */
export function approximatedMultiCell(column: { readonly type: CellColumn['type'] }, value: unknown, writetime: bigint, expiresAt: number | null): MultiCell {
  const v = encodeValue(column.type, value);
  const present = cellPresence(column.type, v);
  const t = int64ToJson(writetime);
  const timestamps = present.map((live) => (live ? t : null));
  if (expiresAt === null) return { v, t: timestamps };
  return { v, t: timestamps, e: present.map((live) => (live ? expiresAt : null)) };
}

function inColumn<T>(slot: Slot, encode: () => T): T {
  try {
    return encode();
  } catch (error) {
    throw error instanceof ValueCodecError ? error.inColumn(slot.column.name) : error;
  }
}
