/**
 * Re-encrypting the configured columns of one backed-up row (docs/format.md §6.1), the core of
 * both the offline transform (`cassette rekey`) and `cassette rotate`. Pure apart from the cipher:
 * no I/O, no logging, and no plaintext outlives the call.
 *
 * Per encrypted cell present in the row (a null column is absent from `c` and never decrypted):
 * - opened by the new key → already rotated, left byte-identical;
 * - opened by an old key → sealed under the new key, written at the original WRITETIME + 1 µs
 *   with the same expiry (so the rotated cell beats the cell it replaces deterministically, while
 *   any later application write still wins — the restore issue's timestamp guard);
 * - opened by no key → left as it is and reported as quarantined (table, column, primary key).
 *
 * The key-version cell is set to the new version when every encrypted cell of the row is under
 * the new key afterwards and it did not already say so: at a timestamp above every encrypted cell
 * written and above its own old cell, keeping its own expiry (or, when it had no cell, the latest
 * expiry of the encrypted cells when they all expire, so it never keeps an expired row alive).
 * A row whose key-version cell already holds the new version is skipped without decrypting.
 */
import type { Int64Json } from '../../cassandra/values/cell-codec.js';
import type { CipherContext, ColumnCipher } from '../../crypto/cipher.js';

/** A row as chunks store it. */
export interface StoredRow {
  readonly k: readonly unknown[];
  readonly c: Readonly<Record<string, unknown>>;
}

/** How one table's row is rotated. */
export interface RowRotationPlan {
  readonly keyspace: string;
  readonly table: string;
  /** The encrypted columns and how each stores its ciphertext. */
  readonly columns: readonly { readonly name: string; readonly storage: 'blob' | 'text' }[];
  /** The key-version column and the JSON (format §6.3) of the new version in its type; null when none. */
  readonly keyVersion: { readonly name: string; readonly newValue: string | number } | null;
}

/** What happened to one row. */
export interface RowOutcome {
  /** The row to store: the input object itself when nothing changed. */
  readonly row: StoredRow;
  readonly changed: boolean;
  /**
   * Whether re-encrypting stores a changed row: `changed`, except in decrypt-only mode (dry
   * runs), where `row` is the input and this says what a real run would do.
   */
  readonly wouldChange: boolean;
  /** The key-version cell already held the new version: nothing was decrypted. */
  readonly skipped: boolean;
  readonly rotated: number;
  readonly alreadyCurrent: number;
  /** Encrypted columns of the row that are null (absent). */
  readonly nulls: number;
  /** Columns whose value no key opens; left as they were. */
  readonly quarantined: readonly string[];
}

interface SingleCellJson {
  readonly v: unknown;
  readonly t: Int64Json;
  readonly e?: number;
}

function isSingleCell(cell: unknown): cell is SingleCellJson {
  if (typeof cell !== 'object' || cell === null) return false;
  const { t, e } = cell as { t?: unknown; e?: unknown };
  return (typeof t === 'number' || typeof t === 'string') && (e === undefined || typeof e === 'number');
}

function toMicros(t: Int64Json): bigint {
  return BigInt(t);
}

function fromMicros(value: bigint): Int64Json {
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  return value >= -max && value <= max ? Number(value) : value.toString();
}

/** The ciphertext bytes of a stored value, or undefined when it cannot be one (wrong JSON type, bad base64). */
function ciphertextOf(value: unknown, storage: 'blob' | 'text', cipher: ColumnCipher): Buffer | undefined {
  if (typeof value !== 'string') return undefined;
  if (storage === 'blob') return Buffer.from(value, 'base64');
  if (cipher.textEncoding === 'utf8') return Buffer.from(value, 'utf8');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) return undefined;
  return Buffer.from(value, 'base64');
}

function storedValueOf(ciphertext: Buffer, storage: 'blob' | 'text', cipher: ColumnCipher): string {
  if (storage === 'blob' || cipher.textEncoding === 'base64') return ciphertext.toString('base64');
  return ciphertext.toString('utf8');
}

/**
 * Rotates one row. `decryptOnly` (dry runs) opens every value but seals nothing and returns the
 * input row. Rejects only when the cipher itself fails (PROVIDER_UNAVAILABLE).
 */
export async function rekeyRow(row: StoredRow, plan: RowRotationPlan, cipher: ColumnCipher, decryptOnly = false): Promise<RowOutcome> {
  const kv = plan.keyVersion;
  const kvCell = kv === null ? undefined : row.c[kv.name];
  if (kv !== null && isSingleCell(kvCell) && kvCell.v === kv.newValue) {
    return { row, changed: false, wouldChange: false, skipped: true, rotated: 0, alreadyCurrent: 0, nulls: 0, quarantined: [] };
  }
  let cells: Record<string, unknown> | undefined;
  let rotated = 0;
  let alreadyCurrent = 0;
  let nulls = 0;
  const quarantined: string[] = [];
  // The key-version cell's new timestamp and expiry candidates.
  let maxTimestamp: bigint | undefined;
  let allExpire = true;
  let latestExpiry = 0;
  for (const column of plan.columns) {
    const cell = row.c[column.name];
    if (cell === undefined || cell === null) {
      nulls++;
      continue;
    }
    const context: CipherContext = { keyspace: plan.keyspace, table: plan.table, column: column.name };
    const ciphertext = isSingleCell(cell) ? ciphertextOf(cell.v, column.storage, cipher) : undefined;
    const opened = ciphertext === undefined || !isSingleCell(cell) ? undefined : await cipher.open(ciphertext, context);
    if (opened === undefined || !isSingleCell(cell)) {
      quarantined.push(column.name);
      continue;
    }
    const written = toMicros(cell.t);
    if (cell.e === undefined) allExpire = false;
    else latestExpiry = Math.max(latestExpiry, cell.e);
    if (opened.current) {
      alreadyCurrent++;
      maxTimestamp = maxTimestamp === undefined || written > maxTimestamp ? written : maxTimestamp;
      opened.plaintext.fill(0);
      continue;
    }
    rotated++;
    const timestamp = written + 1n;
    maxTimestamp = maxTimestamp === undefined || timestamp > maxTimestamp ? timestamp : maxTimestamp;
    if (decryptOnly) {
      opened.plaintext.fill(0);
      continue;
    }
    const sealed = await cipher.seal(opened.plaintext, context);
    opened.plaintext.fill(0);
    cells ??= { ...row.c };
    const next: { v: string; t: Int64Json; e?: number } = { v: storedValueOf(sealed, column.storage, cipher), t: fromMicros(timestamp) };
    if (cell.e !== undefined) next.e = cell.e;
    cells[column.name] = next;
  }
  const counts = { skipped: false, rotated, alreadyCurrent, nulls, quarantined };
  const setsKeyVersion = kv !== null && quarantined.length === 0 && maxTimestamp !== undefined;
  if (decryptOnly) return { row, changed: false, wouldChange: rotated > 0 || setsKeyVersion, ...counts };
  // kv and maxTimestamp are checked again only so that the type checker narrows them.
  if (setsKeyVersion && kv !== null && maxTimestamp !== undefined) {
    let timestamp = maxTimestamp;
    let expiry: number | undefined;
    if (isSingleCell(kvCell)) {
      const own = toMicros(kvCell.t) + 1n;
      if (own > timestamp) timestamp = own;
      expiry = kvCell.e;
    } else if (allExpire) {
      expiry = latestExpiry;
    }
    cells ??= { ...row.c };
    const next: { v: string | number; t: Int64Json; e?: number } = { v: kv.newValue, t: fromMicros(timestamp) };
    if (expiry !== undefined) next.e = expiry;
    cells[kv.name] = next;
  }
  if (cells === undefined) return { row, changed: false, wouldChange: false, ...counts };
  return { row: { k: row.k, c: cells }, changed: true, wouldChange: true, ...counts };
}
