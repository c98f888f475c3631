/**
 * Writing a non-frozen list back exactly — values, order, per-element WRITETIME and TTL — in a way
 * that is safe to retry and resume (shared/reference/collections.md §3, option (a)).
 *
 * Why lists need their own protocol: an element's cell path is a time UUID the coordinator makes
 * from its own clock, not from USING TIMESTAMP, so writing the same element twice makes two
 * elements (CASSANDRA-11368): no list write is idempotent. `SET l = [...]` does not help either: it
 * writes a collection tombstone at t−1, which cannot remove a previous attempt's cells at t.
 *
 * The protocol ({@link writeList}):
 * 1. Read the list (`SELECT l, WRITETIME(l)`) at the configured consistency.
 * 2. Empty → send every element in ONE single-partition UNLOGGED batch of
 *    `UPDATE … USING TIMESTAMP ti AND TTL ri SET l = l + [ei]`, in list order, marked
 *    non-idempotent so the driver never retries or speculates it. Cassandra applies a
 *    single-partition batch as one mutation, atomically, with the statements' appends in order
 *    (each gets the next time UUID), so the list afterwards holds 0, n, 2n, … elements: whole copies.
 * 3. Already the expected n elements (same values, same writetimes, in order) → nothing to do.
 * 4. k ≥ 2 whole copies → delete the surplus copies with `DELETE l[i] … USING TIMESTAMP wi`, highest
 *    index first so that no deletion shifts an index still to be deleted (a repeated `DELETE l[i]`
 *    then fails with "out of bound" instead of hitting another element). `wi` is the element's own
 *    writetime: the cell tombstone wins the tie with exactly that cell and shadows nothing else.
 * 5. Read again to verify; anything else → a CassetteError naming table, key and column.
 *
 * Cassandra 4.x cannot return WRITETIME of a non-frozen list: against such a target
 * (`readsWritetimes` false) steps 1, 3 and 5 compare the elements' values alone, and step 4 deletes
 * a surplus copy at the writetime of the expected element it matched (the one the batch wrote).
 *
 * `DELETE l[i]` reads before it writes: Cassandra refuses it when the guardrail
 * `read_before_write_list_operations_enabled` (default true) is off; the error says so.
 *
 * A batch that timed out may still be applied later (e.g. from a hint): a re-run of writeList
 * (restore --resume, or a verification pass) converges again, but a copy landing after the final
 * read of a call is only found by the next call. Reading at QUORUM/ALL narrows that window.
 */
import { CassetteError } from '../../errors.js';
import type { CqlType } from '../values/cql-type.js';
import { jsonBytes, keyFor, ttlFor, whereClause, type DecodedRow, type MultiValue, type TableShape } from './row-shape.js';
import type { WriteStatement } from './statement.js';
import type { CqlWriteSession, QueryOptions } from '../connection/session.js';
import { encodeValue, type JsonValue } from '../values/value-codec.js';

/** One element to append, as it must end up in the target. */
export interface ListElement {
  /** Bindable element value. */
  readonly value: unknown;
  /** The element's §6.3 JSON: what a read of the target must encode to. */
  readonly json: JsonValue;
  /** The writetime to write (the backed-up one, plus 1 µs under guard timestamp). */
  readonly writetime: bigint;
  /** Absolute expiry in seconds, or null without TTL. */
  readonly expiresAt: number | null;
}

/** A non-frozen list column of one row, to be written by {@link writeList}. */
export interface ListWrite {
  readonly keyspace: string;
  readonly table: string;
  readonly column: string;
  /** The row's key as in the backup (`k`), for messages. */
  readonly k: readonly JsonValue[];
  /** Bound values of the WHERE clause: the partition key, then (unless the list is static) the clustering key. */
  readonly key: readonly unknown[];
  readonly elementType: CqlType;
  /** In list order; never empty. */
  readonly elements: readonly ListElement[];
  /** `SELECT "l", WRITETIME("l") FROM … WHERE <key>`, or `SELECT "l" FROM …` when the target cannot read list writetimes. */
  readonly selectCql: string;
  /** `UPDATE … USING TIMESTAMP ? AND TTL ? SET "l" = "l" + ? WHERE <key>`, bound as [writetime, ttl, [element], …key]. */
  readonly appendCql: string;
  /** `DELETE "l"[?] FROM … USING TIMESTAMP ? WHERE <key>`, bound as [index, writetime, …key]. */
  readonly deleteCql: string;
  /** Approximate serialized size of the bound key values (part of every statement). */
  readonly keyBytes: number;
  /** Approximate serialized size of the whole append batch. */
  readonly bytes: number;
}

export interface WriteListOptions {
  /** Consistency of the read, the batch and the deletions (driver code); the session's default when absent. */
  readonly consistency?: number;
  /** Current time in whole seconds since the epoch; TTLs are computed from it when the batch is sent. */
  readonly nowSeconds?: () => number;
}

/** What {@link writeList} did. */
export interface ListWriteOutcome {
  /** Elements appended by this call: 0 when the target already held the list. */
  readonly appended: number;
  /** Surplus elements (whole copies from an earlier or retried batch) deleted. */
  readonly removed: number;
  /** Elements not written because their expiry passed between planning and writing. */
  readonly expired: number;
}

/**
 * Builds the ListWrite of `multi` (a list column of `row`); writetimes go through `shiftTimestamp`
 * (the guard's +1 µs). `readsWritetimes`: whether the target returns WRITETIME of a list (5.0).
 */
export function listWriteFor(shape: TableShape, row: DecodedRow, multi: MultiValue, shiftTimestamp: (writetime: bigint) => bigint, readsWritetimes = true): ListWrite {
  const { column } = multi;
  if (column.type.kind !== 'list') throw new Error(`listWriteFor: "${column.name}" is not a list`);
  const key = keyFor(shape, row, column.isStatic);
  const where = whereClause(key.columns);
  const elements = multi.elements.map((element) => ({
    value: element.value,
    json: element.json,
    writetime: shiftTimestamp(element.writetime),
    expiresAt: element.expiresAt,
  }));
  return {
    keyspace: shape.keyspace,
    table: shape.table,
    column: column.name,
    k: row.k,
    key: key.params,
    elementType: column.type.element,
    elements,
    selectCql: `SELECT ${column.quoted}${readsWritetimes ? `, WRITETIME(${column.quoted})` : ''} FROM ${shape.qualified} WHERE ${where}`,
    appendCql: `UPDATE ${shape.qualified} USING TIMESTAMP ? AND TTL ? SET ${column.quoted} = ${column.quoted} + ? WHERE ${where}`,
    deleteCql: `DELETE ${column.quoted}[?] FROM ${shape.qualified} USING TIMESTAMP ? WHERE ${where}`,
    keyBytes: key.bytes,
    bytes: multi.elements.reduce((n, element) => n + appendBytes(element.json, key.bytes), 0),
  };
}

/**
 * The statements of the append batch at `nowSeconds` (TTL = expiry − now), in list order; elements
 * whose expiry has passed are left out and counted. All non-idempotent. Send them as ONE batch.
 */
export function listAppendBatch(list: ListWrite, nowSeconds: number): { readonly statements: readonly WriteStatement[]; readonly expiredElements: number } {
  const statements: WriteStatement[] = [];
  let expiredElements = 0;
  for (const element of list.elements) {
    if (element.expiresAt !== null && element.expiresAt <= nowSeconds) {
      expiredElements++;
      continue;
    }
    statements.push({
      cql: list.appendCql,
      params: [element.writetime, ttlFor(element.expiresAt, nowSeconds), [element.value], ...list.key],
      idempotent: false,
      conditional: false,
      bytes: appendBytes(element.json, list.keyBytes),
    });
  }
  return { statements, expiredElements };
}

/** The calls of writeList in progress, by list (statement and key): one list is written by one call at a time. */
const writing = new Map<string, Promise<unknown>>();

/**
 * Makes the target list equal to `list` (protocol in this file's comment). Safe to call again after
 * any failure, and again when it succeeded (it then only reads). Calls for the same list (a static
 * list is in every row of its partition, and rows of one partition may load at once) run one after
 * another, so that two calls never both find it empty and append it twice.
 *
 * @throws CassetteError INVALID_INPUT when the target list holds anything but whole copies of the
 *   expected elements (restore lists into empty tables), or when a written batch is not visible to
 *   the read; the driver's error (unchanged) when a statement fails.
 */
export async function writeList(session: CqlWriteSession, list: ListWrite, options: WriteListOptions = {}): Promise<ListWriteOutcome> {
  const id = `${list.selectCql}\n${JSON.stringify(list.k.slice(0, list.key.length))}`;
  const before = writing.get(id) ?? Promise.resolve();
  const run = before.catch(() => undefined).then(() => writeListAlone(session, list, options));
  writing.set(id, run);
  try {
    return await run;
  } finally {
    if (writing.get(id) === run) writing.delete(id);
  }
}

async function writeListAlone(session: CqlWriteSession, list: ListWrite, options: WriteListOptions): Promise<ListWriteOutcome> {
  const now = options.nowSeconds ?? ((): number => Math.floor(Date.now() / 1000));
  const queryOptions: QueryOptions = { prepare: true, ...(options.consistency === undefined ? {} : { consistency: options.consistency }) };
  const expected = list.elements.map((element) => ({ ...element, text: JSON.stringify(element.json) }));
  let appended = 0;
  let removed = 0;
  let expired = 0;
  // Read → act → read again: write, verify (finding a late duplicate), delete, verify; one spare round.
  for (let round = 0; round < 5; round++) {
    const current = await readList(session, list, queryOptions);
    const nowSeconds = now();
    if (current.length === 0) {
      if (appended > 0) {
        if (expected.some((element) => isRequired(element, nowSeconds))) {
          throw listError(list, 'the batch that appended the list was applied but a read does not see it', 'read and write at a consistency that overlaps (e.g. QUORUM), then resume');
        }
        return { appended, removed, expired };
      }
      const batch = listAppendBatch(list, nowSeconds);
      expired = batch.expiredElements;
      if (batch.statements.length === 0) return { appended, removed, expired };
      await session.batch(batch.statements, { ...queryOptions, isIdempotent: false });
      appended = batch.statements.length;
      continue;
    }
    const copies = matchCopies(current, expected, nowSeconds);
    const keep = copies?.firstEnd;
    if (copies === undefined || keep === undefined) {
      throw listError(list, `the target list holds ${describeList(current)}, which is not ${expected.length} expected element(s) or whole copies of them`,
        'restore lists into an empty table: a list cannot be merged with elements it already holds (under --guard timestamp too, whose writetimes are +1 µs)');
    }
    if (keep === current.length) return { appended, removed, expired };
    for (let i = current.length - 1; i >= keep; i--) {
      const writetime = (current[i] as ReadElement).writetime ?? (copies.matched[i] as ExpectedElement).writetime;
      try {
        await session.execute(list.deleteCql, [i, writetime, ...list.key], { ...queryOptions, isIdempotent: false });
      } catch (error) {
        throw guardrailError(list, error);
      }
      removed++;
    }
  }
  throw listError(list, 'the list did not settle after writing and removing duplicate copies', 'another writer may be changing the list; resume the restore when it has stopped');
}

// Writetime (8) and TTL (4) besides the element (in a one-element list: +4) and the key.
function appendBytes(json: JsonValue, keyBytes: number): number {
  return 16 + jsonBytes(json) + keyBytes;
}

/** An element read from the target: its §6.3 JSON text and writetime (null: the target cannot say, 4.x). */
export interface ReadElement {
  readonly text: string;
  readonly writetime: bigint | null;
}

/** An expected element with its JSON text. */
export interface ExpectedElement extends ListElement {
  readonly text: string;
}

// Elements expiring within this many seconds may or may not be visible (clock skew between us and
// the nodes, whole-second rounding): they are matched when present and skipped when absent.
const EXPIRY_MARGIN_SECONDS = 2;

function isRequired(element: ListElement, nowSeconds: number): boolean {
  return element.expiresAt === null || element.expiresAt > nowSeconds + EXPIRY_MARGIN_SECONDS;
}

/**
 * Where the first copy of `expected` ends in `current`, when `current` is whole copies of it (each
 * element matching value and writetime, in order; an element about to expire may be missing);
 * undefined otherwise.
 */
export function firstCopyEnd(current: readonly ReadElement[], expected: readonly ExpectedElement[], nowSeconds: number): number | undefined {
  return matchCopies(current, expected, nowSeconds)?.firstEnd;
}

/**
 * firstCopyEnd, and the expected element each position of `current` matched. A read element
 * without a writetime (a 4.x target) matches on its value alone.
 */
function matchCopies(current: readonly ReadElement[], expected: readonly ExpectedElement[], nowSeconds: number): { firstEnd: number | undefined; matched: ExpectedElement[] } | undefined {
  let pos = 0;
  let firstEnd: number | undefined;
  const matched: ExpectedElement[] = [];
  while (pos < current.length) {
    const start = pos;
    for (const element of expected) {
      const read = current[pos];
      if (read !== undefined && (read.writetime === null || read.writetime === element.writetime) && read.text === element.text) matched[pos++] = element;
      else if (isRequired(element, nowSeconds)) return undefined;
    }
    if (pos === start) return undefined;
    firstEnd ??= pos;
  }
  return { firstEnd, matched };
}

async function readList(session: CqlWriteSession, list: ListWrite, options: QueryOptions): Promise<ReadElement[]> {
  const result = await session.execute(list.selectCql, list.key, options);
  const row = result.rows[0];
  if (row === undefined) return [];
  const [values, writetimes] = row.values();
  if (values === null || values === undefined) return [];
  if (!Array.isArray(values)) throw listError(list, 'the target returned a list column that is not a list', 'report this as a bug');
  // Without WRITETIME in the select (a 4.x target), elements are known by their values alone.
  if (writetimes === undefined) return values.map((value: unknown) => ({ text: JSON.stringify(encodeValue(list.elementType, value)), writetime: null }));
  if (!Array.isArray(writetimes) || values.length !== writetimes.length) {
    throw listError(list, 'the target returned a list whose WRITETIME does not line up with its elements', 'report this as a bug');
  }
  return values.map((value: unknown, i) => {
    const writetime: unknown = writetimes[i];
    if (typeof writetime !== 'bigint') throw listError(list, 'WRITETIME of the target list is not a list of bigint', 'create the client with DRIVER_ENCODING');
    return { text: JSON.stringify(encodeValue(list.elementType, value)), writetime };
  });
}

function describeList(elements: readonly ReadElement[]): string {
  const shown = elements.slice(0, 5).map((element) => `${element.text}${element.writetime === null ? '' : `@${element.writetime}`}`).join(', ');
  return `${elements.length} element(s) [${shown}${elements.length > 5 ? ', …' : ''}]`;
}

function listError(list: ListWrite, problem: string, hint: string): CassetteError {
  return new CassetteError('INVALID_INPUT', `${list.keyspace}.${list.table} row ${JSON.stringify(list.k)} list "${list.column}": ${problem}`, { hint });
}

function guardrailError(list: ListWrite, error: unknown): unknown {
  if (error instanceof Error && /read_before_write_list_operations/i.test(error.message)) {
    return new CassetteError('INVALID_INPUT', `${list.keyspace}.${list.table} row ${JSON.stringify(list.k)} list "${list.column}": cannot remove a duplicated copy: ${error.message}`, {
      hint: 'set read_before_write_list_operations_enabled: true in cassandra.yaml (the default) so DELETE l[i] is allowed, then resume',
      cause: error,
    });
  }
  return error;
}
