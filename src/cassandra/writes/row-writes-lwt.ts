/**
 * Guard lwt: each row becomes ONE conditional write, `UPDATE … SET … WHERE <full primary key>
 * IF <column> = ?`, that carries every live non-key value of the row, so a row is replaced only
 * while the target still holds the expected value (e.g. `key_version = 'v1'` during a rekey);
 * `[applied] = false` means someone else changed the row, which the caller reports as a race.
 *
 * What an LWT cannot do, and the decisions taken:
 * - No USING TIMESTAMP: Cassandra rejects it on conditional updates and batches (peers.md §0.1). Every
 *   cell gets the Paxos ballot time; original writetimes are not preserved.
 * - One TTL per statement. Cells of a row with different expiries go in a conditional BATCH of one
 *   `UPDATE … USING TTL ?` per expiry (the IF on the first), which Cassandra applies as one Paxos
 *   round, all-or-nothing: every cell keeps its own remaining TTL. A cell without TTL gets `TTL 0`
 *   so the table default does not apply. When all cells share one expiry (the common case) it is a
 *   single UPDATE. Expired cells are skipped and counted, as without a guard.
 * - Multi-cell columns are written as whole values, replacing what the target holds (the point of
 *   a guarded overwrite): `s = ?` writes a collection tombstone at ballot−1 and the elements at
 *   the ballot, so stale elements (e.g. old ciphertexts) do not survive; elements with other
 *   expiries follow as `s = s + ?` / `u.f = ?` in the batch statement of their expiry, at the same
 *   ballot, above the tombstone. Lists are sent the same way (`l = ?`, then `l = l + ?` for each
 *   later run of equal expiry, in list order): within one LWT Cassandra derives the elements' cell
 *   paths from the ballot with a counter that runs across the batch's statements in order
 *   (CQL3CasRequest.CASUpdateParameters), so order is kept — and, unlike an unguarded append, a
 *   retried LWT cannot duplicate elements: it re-evaluates the condition. So under lwt
 *   `RowPlan.lists` is always empty: writing lists after the condition, outside the LWT, could
 *   neither replace a stale list nor be guarded.
 * - Columns absent from the backed-up row (null, or every cell expired) are left as the target has
 *   them: a guarded restore writes values, never tombstones.
 * - Rows with no live cell produce no statement (an UPDATE needs something to set; a marker-only
 *   row has nothing a guard could protect). A static-only row (`k` = [pk, null]) can be guarded
 *   only by a static column: a condition on a regular column needs a clustering key.
 * - Counter tables are refused: Cassandra has no conditional counter updates.
 */
import { CassetteError } from '../../errors.js';
import { CqlMap } from '../values/cql-map.js';
import { quoteIdentifier } from '../values/identifiers.js';
import {
  keyFor, rowError, ttlFor, whereClause,
  type DecodedRow, type ElementValue, type MultiValue, type ShapeColumn, type TableShape,
} from './row-shape.js';
import type { RowPlan } from './row-plan.js';
import type { WriteStatement } from './statement.js';
import { decodeValue, type JsonValue } from '../values/value-codec.js';
import { ValueCodecError } from '../values/value-codec-error.js';

/** The guard column and the bindable value it must hold. */
export interface ConditionalGuard {
  readonly column: ShapeColumn;
  readonly expected: unknown;
  readonly expectedBytes: number;
}

/**
 * Validates an lwt guard for the table and decodes its expected value (§6.3 JSON, or null).
 *
 * @throws CassetteError INVALID_INPUT for a counter table, a column that is not a non-key column,
 *   or a value that is not of the column's type.
 */
export function conditionalGuardFor(shape: TableShape, columnName: string, expected: unknown): ConditionalGuard {
  const where = `${shape.keyspace}.${shape.table}`;
  if (shape.isCounter) {
    throw new CassetteError('INVALID_INPUT', `--guard lwt cannot restore counter table ${where}: Cassandra has no conditional counter updates`, {
      hint: 'restore counter tables into empty tables with --guard none',
    });
  }
  const column = shape.columns.get(columnName);
  if (column === undefined) {
    const isKey = [...shape.partitionKey, ...shape.clustering].some((key) => key.name === columnName);
    throw new CassetteError('INVALID_INPUT', `guard column "${columnName}" is ${isKey ? 'a primary-key column' : 'not a column'} of ${where}`, {
      hint: `name a non-key column: ${[...shape.columns.keys()].join(', ')} (names are case-sensitive)`,
    });
  }
  if (expected === null) return { column, expected: null, expectedBytes: 4 };
  try {
    const json = expected as JsonValue;
    return { column, expected: decodeValue(column.type, json), expectedBytes: 4 + Buffer.byteLength(JSON.stringify(json), 'utf8') };
  } catch (error) {
    if (!(error instanceof ValueCodecError)) throw error;
    throw new CassetteError('INVALID_INPUT', `guard value for ${where}.${columnName} is not a ${error.cqlType}: ${error.message}`, {
      hint: 'give the value as JSON in the backup format (docs/format.md §6.3), e.g. "v1" for text or 3 for int',
    });
  }
}

/** One `col = ?` (or `col = col + ?`, `u.f = ?`) of an UPDATE. */
interface Assignment {
  readonly text: string;
  readonly params: readonly unknown[];
  readonly bytes: number;
}

/** The assignments that share one TTL: one UPDATE. */
interface Unit {
  readonly expiresAt: number | null;
  readonly assignments: Assignment[];
}

/** The conditional write of a decoded row (see this file's comment). */
export function planConditionalRow(shape: TableShape, row: DecodedRow, nowSeconds: number, guard: ConditionalGuard): RowPlan {
  if (row.clustering === null && !guard.column.isStatic) {
    throw rowError(shape, row.k, `a static-only row cannot be guarded by the regular column "${guard.column.name}"`, 'INVALID_INPUT',
      'guard with a static column, or restore this table with --guard timestamp');
  }
  const units: Unit[] = [];
  const unitFor = (expiresAt: number | null): Unit => units.find((unit) => unit.expiresAt === expiresAt) ?? newUnit(expiresAt);
  const newUnit = (expiresAt: number | null): Unit => {
    const unit = { expiresAt, assignments: [] };
    units.push(unit);
    return unit;
  };
  for (const cell of row.singles) {
    unitFor(cell.expiresAt).assignments.push({ text: `${cell.column.quoted} = ?`, params: [cell.value], bytes: cell.bytes });
  }
  const lists = row.multis.filter((multi) => multi.column.type.kind === 'list');
  for (const multi of row.multis) {
    if (multi.column.type.kind !== 'list') addCollection(multi, unitFor);
  }
  // Lists last: a later run of a list always goes into a new unit at the end, after its earlier runs.
  for (const multi of lists) {
    runsOfEqualExpiry(multi.elements).forEach((run, i) => {
      const unit = i === 0 ? unitFor(run[0]?.expiresAt ?? null) : newUnit(run[0]?.expiresAt ?? null);
      const name = multi.column.quoted;
      unit.assignments.push({ text: i === 0 ? `${name} = ?` : `${name} = ${name} + ?`, params: [run.map((e) => e.value)], bytes: sumBytes(run) });
    });
  }
  if (units.length === 0) return { statements: [], expiredCells: row.expiredCells, lists: [] };

  const key = keyFor(shape, row, false);
  const where = whereClause(key.columns);
  const updates = units.map((unit, i) => ({
    cql: `UPDATE ${shape.qualified} USING TTL ? SET ${unit.assignments.map((a) => a.text).join(', ')} WHERE ${where}${i === 0 ? ` IF ${guard.column.quoted} = ?` : ''}`,
    params: [ttlFor(unit.expiresAt, nowSeconds), ...unit.assignments.flatMap((a) => a.params), ...key.params, ...(i === 0 ? [guard.expected] : [])],
    bytes: 4 + key.bytes + unit.assignments.reduce((n, a) => n + a.bytes, 0),
  }));
  // Each update's first parameter is its TTL.
  const ttls: { index: number; expiresAt: number }[] = [];
  let offset = 0;
  units.forEach((unit, i) => {
    if (unit.expiresAt !== null) ttls.push({ index: offset, expiresAt: unit.expiresAt });
    offset += (updates[i] as (typeof updates)[number]).params.length;
  });
  const statement: WriteStatement = {
    cql: updates.length === 1 ? (updates[0] as (typeof updates)[number]).cql : `BEGIN BATCH ${updates.map((u) => `${u.cql}; `).join('')}APPLY BATCH`,
    params: updates.flatMap((u) => u.params),
    ...(ttls.length === 0 ? {} : { ttls }),
    // A retry after a timeout could find its own write and report [applied] = false: never retry blindly.
    idempotent: false,
    conditional: true,
    bytes: guard.expectedBytes + updates.reduce((n, u) => n + u.bytes, 0),
  };
  return { statements: [statement], expiredCells: row.expiredCells, lists: [] };
}

/** A set, map or user type: whole value for the first expiry group, additions for the others. */
function addCollection(multi: MultiValue, unitFor: (expiresAt: number | null) => Unit): void {
  const { column } = multi;
  const name = column.quoted;
  groupByExpiry(multi.elements).forEach((group, i) => {
    const unit = unitFor(group[0]?.expiresAt ?? null);
    const bytes = sumBytes(group);
    switch (column.type.kind) {
      case 'set':
        unit.assignments.push({ text: i === 0 ? `${name} = ?` : `${name} = ${name} + ?`, params: [group.map((e) => e.key)], bytes });
        break;
      case 'map':
        unit.assignments.push({ text: i === 0 ? `${name} = ?` : `${name} = ${name} + ?`, params: [new CqlMap(group.map((e) => [e.key, e.value] as const))], bytes });
        break;
      case 'udt': {
        if (i === 0) {
          // The whole value: fields of other expiry groups null here (a null field writes no cell).
          const fields = new Map(group.map((e) => [e.key as string, e.value]));
          const value = Object.fromEntries(column.type.fields.map((field) => [field.name, fields.get(field.name) ?? null]));
          unit.assignments.push({ text: `${name} = ?`, params: [value], bytes });
        } else {
          for (const e of group) unit.assignments.push({ text: `${name}.${quoteIdentifier(e.key as string)} = ?`, params: [e.value], bytes: e.bytes });
        }
        break;
      }
      case 'list':
      case 'native':
      case 'tuple':
      case 'vector':
        throw new Error(`addCollection: "${column.name}" is not a non-frozen set, map or user type`);
    }
  });
}

function groupByExpiry(elements: readonly ElementValue[]): ElementValue[][] {
  const groups = new Map<number | null, ElementValue[]>();
  for (const element of elements) {
    const group = groups.get(element.expiresAt);
    if (group === undefined) groups.set(element.expiresAt, [element]);
    else group.push(element);
  }
  return [...groups.values()];
}

/** Consecutive elements with equal expiry, in list order. */
function runsOfEqualExpiry(elements: readonly ElementValue[]): ElementValue[][] {
  const runs: ElementValue[][] = [];
  for (const element of elements) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last[0]?.expiresAt === element.expiresAt) last.push(element);
    else runs.push([element]);
  }
  return runs;
}

function sumBytes(elements: readonly ElementValue[]): number {
  return elements.reduce((n, e) => n + e.bytes, 0);
}
