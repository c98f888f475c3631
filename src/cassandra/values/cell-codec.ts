/**
 * Cells of format.md §6.2: a column's value with its write timestamp(s) and expiry, and the select
 * list that reads them.
 *
 * What Cassandra 5.0 returns (checked by test/integration/value-codec.test.ts):
 * - WRITETIME/TTL are rejected on primary-key columns ("Cannot use selection function writetime on
 *   PRIMARY KEY part k"). They are accepted on static columns, which behave like regular ones.
 * - Counters: WRITETIME(counter) is accepted and returns the cell's timestamp (microseconds, like
 *   any other write); TTL(counter) is accepted and always null.
 * - Multi-cell columns: WRITETIME returns list<bigint> and TTL list<int>, one entry per live cell in
 *   element order (list index, set element, map key); a non-frozen user type gets one entry per
 *   field, null for a field without a cell. An empty or null multi-cell column has no cells: its
 *   value, WRITETIME and TTL are all null, so it is absent from the row (§6.1).
 * - A TTL entry is null for a cell without TTL, so TTL lists mix nulls and numbers, which the driver
 *   4.10.0 mis-decodes without installNullListElementFix() (driver-list-decoding.ts).
 *   `toJson(TTL(col))` is no way around it: Cassandra 5.0 fails it with a NullPointerException
 *   when the list holds a null.
 */
import { formatCqlType, isMultiCell, type CqlType } from './cql-type.js';
import { quoteIdentifier } from './identifiers.js';
import { isNullListElementFixInstalled } from './driver-list-decoding.js';
import { isIntegerText } from './driver-values.js';
import { collectionElements, decodeValue, encodeValue, mapEntries, type JsonValue } from './value-codec.js';
import { ValueCodecError } from './value-codec-error.js';

/** A signed 64-bit integer in JSON: a number when |x| ≤ 2^53−1, else a decimal string. */
export type Int64Json = number | string;

/** A single-cell column: any scalar, any frozen type, a counter. `e` is absent without TTL. */
export interface SingleCell {
  readonly v: JsonValue;
  readonly t: Int64Json;
  readonly e?: number;
}

/**
 * A multi-cell column (non-frozen list, set, map, user type): `t` and `e` have one entry per element
 * (list index, set element, map entry) or per field (null for a field without a cell); `e` entries
 * are null for cells without TTL, and `e` is absent when no cell has one.
 */
export interface MultiCell {
  readonly v: JsonValue;
  readonly t: readonly (Int64Json | null)[];
  readonly e?: readonly (number | null)[];
}

/** A cell of format.md §6.2. */
export type Cell = SingleCell | MultiCell;

/** One cell of a multi-cell column, ready to be written back on its own. */
export interface ElementCell {
  /** The cell's path: the list index, the set element, the map key, or the user-type field name. */
  readonly key: unknown;
  /** What the cell holds: the list or set element, the map value, or the field value. Bindable. */
  readonly value: unknown;
  readonly writetime: bigint;
  /** Absolute expiry in seconds since the epoch, or null when the cell has no TTL. */
  readonly expiresAt: number | null;
}

/** A decoded cell: the whole value (bindable, see decodeValue) and its timestamps. */
export type DecodedCell =
  | { readonly kind: 'single'; readonly value: unknown; readonly writetime: bigint; readonly expiresAt: number | null }
  | { readonly kind: 'multi'; readonly value: unknown; readonly cells: readonly ElementCell[] };

/** A non-key column as the cell codec needs it. */
export interface CellColumn {
  readonly name: string;
  readonly type: CqlType;
  /** format.md §5 column kind, when known: key columns are refused (WRITETIME rejects them). */
  readonly kind?: string;
}

/** The select list for a table's non-key columns and the encoder of the rows it returns. */
export interface CellProjection {
  /**
   * Three select-list expressions per column, in column order: `"col"`, `WRITETIME("col")`,
   * `TTL("col")` (column names always quoted). Column i's value is at offset 3i.
   */
  readonly selectors: readonly string[];
  /**
   * The `c` object of a row (§6.1): `values` is the row's values in select-list order, this
   * projection's first at `values[start]`. Null columns are left out.
   * @throws ValueCodecError naming the column.
   */
  encodeCells(values: readonly unknown[], start: number, readAtSeconds: number): Record<string, Cell>;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * The projection of `columns`, which must be the table's non-key columns. Refuses (plain Error: a
 * bug) key columns, and multi-cell columns until installNullListElementFix() has run.
 */
export function cellProjection(columns: readonly CellColumn[]): CellProjection {
  for (const column of columns) {
    if (column.kind === 'partition_key' || column.kind === 'clustering') {
      throw new Error(`cellProjection: "${column.name}" is a primary-key column; WRITETIME/TTL reject it`);
    }
  }
  if (columns.some((column) => isMultiCell(column.type)) && !isNullListElementFixInstalled()) {
    throw new Error('cellProjection: call installNullListElementFix() before reading WRITETIME/TTL of multi-cell columns');
  }
  const selectors = columns.flatMap((column) => {
    const name = quoteIdentifier(column.name);
    return [name, `WRITETIME(${name})`, `TTL(${name})`];
  });
  const frozenColumns = columns.map((column) => ({ name: column.name, type: column.type }));
  return Object.freeze({
    selectors: Object.freeze(selectors),
    encodeCells(values: readonly unknown[], start: number, readAtSeconds: number): Record<string, Cell> {
      const cells: Record<string, Cell> = {};
      for (let i = 0; i < frozenColumns.length; i++) {
        const column = frozenColumns[i] as CellColumn;
        const at = start + 3 * i;
        const value = values[at];
        if (value === null || value === undefined) continue;
        try {
          cells[column.name] = encodeCell(column, value, values[at + 1], values[at + 2], readAtSeconds);
        } catch (error) {
          throw error instanceof ValueCodecError ? error.inColumn(column.name) : error;
        }
      }
      return cells;
    },
  });
}

/**
 * Encodes one column of a row (§6.2). `value`, `writetime` and `ttl` are what the driver returned
 * for `col`, `WRITETIME(col)` and `TTL(col)`; `value` must not be null. `readAtSeconds` is when the
 * page was read (whole seconds since the epoch); an expiry is `readAtSeconds + ttl`.
 *
 * @throws ValueCodecError (encode) for a value the format cannot hold, or timestamps that do not
 *   line up with the value's elements.
 */
export function encodeCell(column: { readonly type: CqlType }, value: unknown, writetime: unknown, ttl: unknown, readAtSeconds: number): Cell {
  const { type } = column;
  if (value === null || value === undefined) throw cellError('encode', type, value, 'a null column has no cell: leave it out');
  const v = encodeValue(type, value);
  if (isMultiCell(type)) return encodeMultiCell(type, v, writetime, ttl, readAtSeconds);
  if (typeof writetime !== 'bigint') throw cellError('encode', type, writetime, 'WRITETIME is not a bigint');
  const t = int64ToJson(writetime);
  if (ttl === null || ttl === undefined || (type.kind === 'native' && type.name === 'counter')) return { v, t };
  if (typeof ttl !== 'number' || !Number.isInteger(ttl)) throw cellError('encode', type, ttl, 'TTL is not an integer');
  return { v, t, e: readAtSeconds + ttl };
}

/**
 * Decodes one cell (§6.2) of a column of `type`, validating its shape: `t`/`e` arrays must line up
 * with the value's elements or fields.
 *
 * @throws ValueCodecError (decode) naming the type and the problem.
 */
export function decodeCell(column: { readonly type: CqlType }, json: JsonValue): DecodedCell {
  const { type } = column;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw cellError('decode', type, json, 'a cell is an object {v, t, e?}');
  const cell = json as { readonly [key: string]: JsonValue };
  for (const key of Object.keys(cell)) {
    if (key !== 'v' && key !== 't' && key !== 'e') throw cellError('decode', type, json, `unknown cell key "${key}"`);
  }
  const { v, t, e } = cell;
  if (v === undefined || v === null) throw cellError('decode', type, json, 'the cell has no value "v"');
  if (t === undefined) throw cellError('decode', type, json, 'the cell has no write timestamp "t"');
  const value = decodeValue(type, v);
  if (isMultiCell(type)) return { kind: 'multi', value, cells: decodeElementCells(type, value, t, e) };
  if (e !== undefined && type.kind === 'native' && type.name === 'counter') {
    throw cellError('decode', type, json, 'a counter cell has no expiry');
  }
  return { kind: 'single', value, writetime: int64FromJson(type, t), expiresAt: e === undefined ? null : expiryFromJson(type, e) };
}

/** A 64-bit integer as §6.2 writes it: a number when it is a safe integer, else a decimal string. */
export function int64ToJson(value: bigint): Int64Json {
  return value >= -MAX_SAFE && value <= MAX_SAFE ? Number(value) : value.toString();
}

function encodeMultiCell(type: CqlType, v: JsonValue, writetime: unknown, ttl: unknown, readAtSeconds: number): MultiCell {
  const present = cellPresence(type, v);
  if (!Array.isArray(writetime) || writetime.length !== present.length) {
    throw cellError('encode', type, writetime, `WRITETIME is not a list of ${present.length} timestamps`);
  }
  const t = new Array<Int64Json | null>(present.length);
  for (let i = 0; i < present.length; i++) {
    const entry: unknown = writetime[i];
    if (present[i] === true) {
      if (typeof entry !== 'bigint') throw cellError('encode', type, writetime, `WRITETIME entry ${i} of a live cell is not a bigint`);
      t[i] = int64ToJson(entry);
    } else if (entry === null) {
      t[i] = null;
    } else {
      throw cellError('encode', type, writetime, `WRITETIME entry ${i} belongs to a null field`);
    }
  }
  if (ttl === null || ttl === undefined) return { v, t };
  if (!Array.isArray(ttl) || ttl.length !== present.length) {
    throw cellError('encode', type, ttl, `TTL is not a list of ${present.length} entries`);
  }
  let anyTtl = false;
  const e = new Array<number | null>(present.length);
  for (let i = 0; i < present.length; i++) {
    const entry: unknown = ttl[i];
    if (entry === null) {
      e[i] = null;
    } else if (typeof entry === 'number' && Number.isInteger(entry) && present[i] === true) {
      e[i] = readAtSeconds + entry;
      anyTtl = true;
    } else {
      throw cellError('encode', type, ttl, `TTL entry ${i} is not an integer of a live cell`);
    }
  }
  return anyTtl ? { v, t, e } : { v, t };
}

/** For each cell position of a multi-cell value's JSON: whether a cell exists there. */
export function cellPresence(type: CqlType, v: JsonValue): readonly boolean[] {
  if (type.kind === 'udt') {
    const record = v as { readonly [key: string]: JsonValue };
    return type.fields.map((field) => record[field.name] !== null);
  }
  return new Array<boolean>((v as readonly JsonValue[]).length).fill(true);
}

function decodeElementCells(type: CqlType, value: unknown, t: JsonValue, e: JsonValue | undefined): ElementCell[] {
  const slots = elementSlots(type, value);
  if (!Array.isArray(t) || t.length !== slots.length) {
    throw cellError('decode', type, t, `"t" is not an array of ${slots.length} timestamps`);
  }
  if (e !== undefined && (!Array.isArray(e) || e.length !== slots.length)) {
    throw cellError('decode', type, e, `"e" is not an array of ${slots.length} expiries`);
  }
  const timestamps = t as readonly JsonValue[];
  const expiries = e as readonly JsonValue[] | undefined;
  const cells: ElementCell[] = [];
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i] as { readonly key: unknown; readonly value: unknown };
    const timestamp = timestamps[i] ?? null;
    const expiry = expiries?.[i] ?? null;
    if (slot.value === null) {
      // A user-type field without a cell: nothing to write back.
      if (timestamp !== null || expiry !== null) throw cellError('decode', type, t, `entry ${i} has a timestamp but its field is null`);
      continue;
    }
    if (timestamp === null) throw cellError('decode', type, t, `entry ${i} has no timestamp`);
    cells.push({
      key: slot.key,
      value: slot.value,
      writetime: int64FromJson(type, timestamp),
      expiresAt: expiry === null ? null : expiryFromJson(type, expiry),
    });
  }
  return cells;
}

/** The (key, value) of each cell position of a decoded multi-cell value, in cell order. */
function elementSlots(type: CqlType, value: unknown): readonly { readonly key: unknown; readonly value: unknown }[] {
  switch (type.kind) {
    case 'list':
      return (collectionElements(value) ?? []).map((element, index) => ({ key: index, value: element }));
    case 'set':
      return (collectionElements(value) ?? []).map((element) => ({ key: element, value: element }));
    case 'map':
      return (mapEntries(value) ?? []).map(([key, entryValue]) => ({ key, value: entryValue }));
    case 'udt': {
      const record = value as Readonly<Record<string, unknown>>;
      return type.fields.map((field) => ({ key: field.name, value: record[field.name] ?? null }));
    }
    case 'native':
    case 'tuple':
    case 'vector':
      return [];
  }
}

function int64FromJson(type: CqlType, json: JsonValue): bigint {
  if (typeof json === 'number' && Number.isSafeInteger(json)) return BigInt(json);
  if (typeof json === 'string' && isIntegerText(json, 0, json.length)) {
    const value = BigInt(json);
    if (value >= INT64_MIN && value <= INT64_MAX) return value;
  }
  throw cellError('decode', type, json, 'a write timestamp is a signed 64-bit integer (number or decimal string)');
}

function expiryFromJson(type: CqlType, json: JsonValue): number {
  if (typeof json === 'number' && Number.isSafeInteger(json)) return json;
  throw cellError('decode', type, json, 'an expiry is an integer number of seconds');
}

function cellError(direction: 'encode' | 'decode', type: CqlType, value: unknown, problem: string): ValueCodecError {
  return new ValueCodecError(direction, `cell of ${formatCqlType(type)}`, value, problem);
}
