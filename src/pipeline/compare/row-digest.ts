/**
 * Order-independent digests of the rows of a token range, as the backup format encodes them
 * (docs/format.md §6.1/§6.2), so a range's stored chunks and a live read of the same range can be
 * compared without sorting either side (docs/config.md, `cassette diff`).
 *
 * A row's hash is the SHA-256 of a canonical form: its key, then its columns by name, each with
 * its value and writetime exactly and its expiry coarsely — whether each cell expires, and the
 * hour it expires in. Expiries are not exact across a backup and a restore (Cassandra takes a TTL,
 * not an expiry: a copy expires 0–2 s after its source, and each read rounds to the client's
 * second), so the digest may only look at a bucket; the row matcher compares them with a
 * tolerance. A range's digest is the row count and the sum of the row hashes modulo 2^256:
 * independent of the order of rows and, unlike XOR, not cancelled by a duplicated row.
 *
 * Cells whose expiry has passed by a cutoff are dropped first (`withoutExpired`): a backup holds
 * cells that have legitimately expired in the live table since.
 */
import { createHash } from 'node:crypto';

/** A cell of format.md §6.2 as JSON.parse returns it. */
export interface StoredCell {
  readonly v: unknown;
  readonly t: unknown;
  readonly e?: number | readonly (number | null)[];
}

/** A row of format.md §6.1 as JSON.parse returns it. */
export interface StoredRow {
  readonly k: readonly unknown[];
  readonly c: Readonly<Record<string, StoredCell>>;
}

/** Width of the expiry buckets in row hashes: the hour a cell expires in. */
export const EXPIRY_BUCKET_SECONDS = 3600;

/** Largest difference between two expiries of one cell that still counts as equal (seconds). */
export const EXPIRY_TOLERANCE_SECONDS = 5;

const isMulti = (cell: StoredCell): boolean => Array.isArray(cell.t);

/**
 * The cell without its parts that expire at or before `cutoff` (seconds since the epoch), or
 * undefined when nothing of it is left. A multi-cell column loses the expired elements (list, set,
 * map entries: `v`, `t` and `e` are aligned) or fields (a user type: the field becomes null).
 */
export function cellWithoutExpired(cell: StoredCell, cutoff: number): StoredCell | undefined {
  const { e } = cell;
  if (e === undefined) return cell;
  if (!Array.isArray(e)) return (e as number) <= cutoff ? undefined : cell;
  const expired = e.map((x) => x !== null && x <= cutoff);
  if (!expired.includes(true)) return cell;
  const t = cell.t as readonly unknown[];
  let v: unknown;
  let kept: number[];
  if (Array.isArray(cell.v) && cell.v.length === t.length) {
    kept = t.map((_, i) => i).filter((i) => expired[i] !== true);
    v = kept.map((i) => (cell.v as unknown[])[i]);
    const left = { v, t: kept.map((i) => t[i]), e: kept.map((i) => e[i] ?? null) };
    return finish(left);
  }
  if (typeof cell.v === 'object' && cell.v !== null && !Array.isArray(cell.v)) {
    // A user type: fields in declaration order, one t/e entry each (null for a field without a cell).
    const fields = Object.entries(cell.v as Record<string, unknown>);
    const value = Object.fromEntries(fields.map(([name, fv], i) => [name, expired[i] === true ? null : fv]));
    const left = { v: value, t: t.map((x, i) => (expired[i] === true ? null : x)), e: e.map((x, i) => (expired[i] === true ? null : x)) };
    return finish(left);
  }
  return cell; // a shape this reader does not know: compared as it is
}

/** A multi-cell remainder: absent when no cell is left; `e` absent when no cell left expires (as a read encodes it). */
function finish(cell: { v: unknown; t: readonly unknown[]; e: readonly (number | null)[] }): StoredCell | undefined {
  if (cell.t.every((x) => x === null)) return undefined;
  return cell.e.every((x) => x === null) ? { v: cell.v, t: cell.t } : cell;
}

/** What is left of a row at `cutoff`, and whether it had cells and lost all of them (then it may be gone). */
export function withoutExpired(row: StoredRow, cutoff: number): { readonly row: StoredRow; readonly expiredAway: boolean } {
  let changed = false;
  const c: Record<string, StoredCell> = {};
  const names = Object.keys(row.c);
  for (const name of names) {
    const cell = row.c[name] as StoredCell;
    const left = cellWithoutExpired(cell, cutoff);
    if (left !== cell) changed = true;
    if (left !== undefined) c[name] = left;
  }
  if (!changed) return { row, expiredAway: false };
  return { row: { k: row.k, c }, expiredAway: names.length > 0 && Object.keys(c).length === 0 };
}

/** The key that matches a row across the two sides. */
export function rowKey(row: StoredRow): string {
  return JSON.stringify(row.k);
}

const bucket = (e: number | null): number | null => (e === null ? null : Math.floor(e / EXPIRY_BUCKET_SECONDS));

/**
 * The canonical text of a row: key, then columns by name with value, writetime (null for the
 * `valueOnly` columns: counters, whose writetime a restore cannot keep) and expiry bucket(s).
 */
export function canonicalRow(row: StoredRow, valueOnly: ReadonlySet<string>): string {
  const columns = Object.keys(row.c).sort().map((name) => {
    const cell = row.c[name] as StoredCell;
    const e = cell.e === undefined ? null : Array.isArray(cell.e) ? cell.e.map(bucket) : bucket(cell.e as number);
    return [name, cell.v, valueOnly.has(name) ? null : cell.t, isMulti(cell) && e === null ? [] : e];
  });
  return JSON.stringify([row.k, columns]);
}

/** SHA-256 of the canonical row as an unsigned 256-bit integer. */
export function rowHash(row: StoredRow, valueOnly: ReadonlySet<string>): bigint {
  return BigInt(`0x${createHash('sha256').update(canonicalRow(row, valueOnly)).digest('hex')}`);
}

/** The digest of a set of rows: a count and the sum of their hashes modulo 2^256. */
export class RangeDigest {
  #rows = 0;
  #sum = 0n;

  add(hash: bigint): void {
    this.#rows++;
    this.#sum = BigInt.asUintN(256, this.#sum + hash);
  }

  get rows(): number {
    return this.#rows;
  }

  /** The sum as 64 hex digits. */
  get sum(): string {
    return this.#sum.toString(16).padStart(64, '0');
  }

  equals(other: RangeDigest): boolean {
    return this.#rows === other.#rows && this.#sum === other.#sum;
  }
}
