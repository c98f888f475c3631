import { withFreshTtls } from '../../src/cassandra/writes/statement.js';
/**
 * The writes planned for hand-built backed-up rows (docs/format.md §6.1), and the list protocol
 * against an in-memory list that behaves like Cassandra's (appends make new cells, DELETE l[i]
 * reads before it writes). The same plans run against the real Cassandra 5.0 in
 * test/integration/row-writes.test.ts.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CassetteError } from '../../src/errors.js';
import { CqlMap } from '../../src/cassandra/values/cql-map.js';
import { firstCopyEnd } from '../../src/cassandra/writes/list-writes.js';
import {
  listAppendBatch, tableWriterFor, writeList,
  type BackupRow, type Guard, type ListWrite, type TableWriter, type WriteStatement,
} from '../../src/cassandra/writes/row-writes.js';
import type { ColumnSchema, TableSchema, UserTypeSchema } from '../../src/cassandra/schema/model.js';
import type { BatchStatement, CqlWriteSession, QueryOptions, QueryResult } from '../../src/cassandra/connection/session.js';
import type { JsonValue } from '../../src/cassandra/values/value-codec.js';
import { ValueCodecError } from '../../src/cassandra/values/value-codec-error.js';

const NOW = 1_800_000_000; // s
const MARKER = 1_700_000_000_000_000n; // µs

function column(name: string, type: string, kind: ColumnSchema['kind'] = 'regular', position = -1): ColumnSchema {
  return { name, type, kind, position };
}

function table(name: string, columns: ColumnSchema[], isCounter = false): TableSchema {
  return { name, columns, options: {}, isCounter, cql: '' };
}

const TYPES: UserTypeSchema[] = [{ name: 'addr', fields: [{ name: 'street', type: 'text' }, { name: 'No', type: 'int' }, { name: 'zip', type: 'text' }] }];

// pk, ck, a static, regular scalars and every multi-cell kind.
const EVENTS = table('events', [
  column('pk', 'int', 'partition_key', 0), column('ck', 'int', 'clustering', 0),
  column('st', 'text', 'static'), column('sl', 'list<int>', 'static'),
  column('a', 'text'), column('b', 'bigint'), column('bl', 'blob'), column('ts', 'timestamp'), column('fl', 'frozen<list<int>>'),
  column('s', 'set<text>'), column('m', 'map<int, text>'), column('u', 'addr'), column('l', 'list<text>'),
]);

const HITS = table('hits', [column('page', 'text', 'partition_key', 0), column('views', 'counter'), column('likes', 'counter')], true);

function writer(schema: TableSchema, guard: Guard = { kind: 'none' }): TableWriter {
  return tableWriterFor({ keyspace: 'ks', table: schema, types: TYPES }, guard, { markerTimestampMicros: MARKER });
}

const row = (k: JsonValue[], c: Record<string, JsonValue>): BackupRow => ({ k, c });

/** cql → params, in plan order. */
function shapes(statements: readonly WriteStatement[]): [string, readonly unknown[]][] {
  return statements.map((s) => [s.cql, s.params]);
}

describe('tableWriterFor: single-cell columns', () => {
  it('groups cells by (writetime, expiry) into INSERTs that carry the full key, TTL = expiry − now, TTL 0 without expiry', () => {
    // Columns go in the table's order (static, then regular, by name), whatever the JSON's order.
    const plan = writer(EVENTS).planRow(row([1, 2], {
      a: { v: 'x', t: 100 }, b: { v: '7', t: 100 }, bl: { v: 'AQI=', t: 100, e: NOW + 50 }, ts: { v: 86_400_000, t: 200 },
    }), NOW);
    expect(shapes(plan.statements)).toEqual([
      ['INSERT INTO "ks"."events" ("pk", "ck", "a", "b") VALUES (?, ?, ?, ?) USING TIMESTAMP ? AND TTL ?', [1, 2, 'x', 7n, 100n, 0]],
      ['INSERT INTO "ks"."events" ("pk", "ck", "bl") VALUES (?, ?, ?) USING TIMESTAMP ? AND TTL ?', [1, 2, Buffer.from([1, 2]), 100n, 50]],
      ['INSERT INTO "ks"."events" ("pk", "ck", "ts") VALUES (?, ?, ?) USING TIMESTAMP ? AND TTL ?', [1, 2, new Date(86_400_000), 200n, 0]],
    ]);
    expect(plan.expiredCells).toBe(0);
    expect(plan.lists).toEqual([]);
    for (const s of plan.statements) expect(s).toMatchObject({ idempotent: true, conditional: false });
    // Sent 20 s later, an expiring cell's TTL is what is left then; TTL 0 (no expiry) stays 0.
    expect(plan.statements.map((s) => withFreshTtls(s, NOW + 20).params.at(-1))).toEqual([0, 30, 0]);
  });

  it('skips and counts cells whose expiry is now or past; a row left without cells gets no marker', () => {
    const plan = writer(EVENTS).planRow(row([1, 2], { a: { v: 'x', t: 1, e: NOW }, b: { v: '1', t: 1, e: NOW - 100 }, bl: { v: '', t: 1, e: NOW + 1 } }), NOW);
    expect(plan.expiredCells).toBe(2);
    expect(shapes(plan.statements)).toEqual([
      ['INSERT INTO "ks"."events" ("pk", "ck", "bl") VALUES (?, ?, ?) USING TIMESTAMP ? AND TTL ?', [1, 2, Buffer.alloc(0), 1n, 1]],
    ]);
    const gone = writer(EVENTS).planRow(row([1, 3], { a: { v: 'x', t: 1, e: NOW - 1 } }), NOW);
    expect(gone).toEqual({ statements: [], expiredCells: 1, lists: [] });
  });

  it('writes a key-only row as an INSERT of its key at markerTimestampMicros with TTL 0', () => {
    const plan = writer(EVENTS).planRow(row([4, 5], {}), NOW);
    expect(shapes(plan.statements)).toEqual([['INSERT INTO "ks"."events" ("pk", "ck") VALUES (?, ?) USING TIMESTAMP ? AND TTL ?', [4, 5, MARKER, 0]]]);
    // Static cells repeat in every row (§6.1): they do not make the row exist, so the marker is still written.
    const withStatic = writer(EVENTS).planRow(row([4, 5], { st: { v: 'gold', t: 9 } }), NOW);
    expect(shapes(withStatic.statements)).toEqual([
      ['INSERT INTO "ks"."events" ("pk", "st") VALUES (?, ?) USING TIMESTAMP ? AND TTL ?', [4, 'gold', 9n, 0]],
      ['INSERT INTO "ks"."events" ("pk", "ck") VALUES (?, ?) USING TIMESTAMP ? AND TTL ?', [4, 5, MARKER, 0]],
    ]);
  });

  it('writes static cells with the partition key only; a static-only row (null clustering) gets static writes only', () => {
    const plan = writer(EVENTS).planRow(row([7, null], { st: { v: 'only', t: 3, e: NOW + 9 }, sl: { v: [1], t: [4] } }), NOW);
    expect(shapes(plan.statements)).toEqual([['INSERT INTO "ks"."events" ("pk", "st") VALUES (?, ?) USING TIMESTAMP ? AND TTL ?', [7, 'only', 3n, 9]]]);
    expect(plan.lists).toHaveLength(1);
    expect(plan.lists[0]?.key).toEqual([7]);
    expect(plan.lists[0]?.appendCql).toBe('UPDATE "ks"."events" USING TIMESTAMP ? AND TTL ? SET "sl" = "sl" + ? WHERE "pk" = ?');
  });

  it('decodes values to what the driver binds: bigint, Buffer, Date, the empty frozen list as 4 zero bytes', () => {
    const plan = writer(EVENTS).planRow(row([-1, 0], { b: { v: '-9223372036854775808', t: '9007199254740993' }, fl: { v: [], t: 5 } }), NOW);
    const [first, second] = plan.statements;
    expect(first?.params).toEqual([-1, 0, -(2n ** 63n), 9_007_199_254_740_993n, 0]);
    expect(second?.params).toEqual([-1, 0, Buffer.alloc(4), 5n, 0]);
  });

  it('quotes case-sensitive and reserved names everywhere', () => {
    const mixed = table('Mixed "Case"', [column('Id', 'int', 'partition_key', 0), column('select', 'text'), column('Tags', 'set<text>')]);
    const plan = tableWriterFor({ keyspace: 'My_KS', table: mixed, types: [] }, { kind: 'none' }, { markerTimestampMicros: MARKER })
      .planRow(row([1], { select: { v: 'x', t: 1 }, Tags: { v: ['a'], t: [2] } }), NOW);
    expect(plan.statements.map((s) => s.cql)).toEqual([
      'INSERT INTO "My_KS"."Mixed ""Case""" ("Id", "select") VALUES (?, ?) USING TIMESTAMP ? AND TTL ?',
      'UPDATE "My_KS"."Mixed ""Case""" USING TIMESTAMP ? AND TTL ? SET "Tags" = "Tags" + ? WHERE "Id" = ?',
    ]);
  });

  it('estimates bytes from the values, so bigger values weigh more', () => {
    const small = writer(EVENTS).planRow(row([1, 1], { a: { v: 'x', t: 1 } }), NOW).statements[0]?.bytes ?? 0;
    const big = writer(EVENTS).planRow(row([1, 1], { a: { v: 'x'.repeat(10_000), t: 1 } }), NOW).statements[0]?.bytes ?? 0;
    expect(small).toBeGreaterThan(0);
    expect(big - small).toBeGreaterThanOrEqual(9_999);
  });
});

describe('tableWriterFor: multi-cell columns and counters', () => {
  it('adds set and map elements per (writetime, expiry) group, never overwriting the collection', () => {
    const plan = writer(EVENTS).planRow(row([1, 1], {
      s: { v: ['a', 'b', 'c'], t: [10, 20, 10], e: [null, NOW + 5, null] },
      m: { v: [[1, 'one'], [2, 'two']], t: [10, 10], e: [NOW + 7, NOW + 7] },
    }), NOW);
    expect(shapes(plan.statements)).toEqual([
      ['UPDATE "ks"."events" USING TIMESTAMP ? AND TTL ? SET "m" = "m" + ? WHERE "pk" = ? AND "ck" = ?', [10n, 7, new CqlMap([[1, 'one'], [2, 'two']]), 1, 1]],
      ['UPDATE "ks"."events" USING TIMESTAMP ? AND TTL ? SET "s" = "s" + ? WHERE "pk" = ? AND "ck" = ?', [10n, 0, ['a', 'c'], 1, 1]],
      ['UPDATE "ks"."events" USING TIMESTAMP ? AND TTL ? SET "s" = "s" + ? WHERE "pk" = ? AND "ck" = ?', [20n, 5, ['b'], 1, 1]],
    ]);
    expect(plan.statements.map((s) => withFreshTtls(s, NOW + 3).params[1])).toEqual([4, 0, 2]);
    const map = plan.statements[0]?.params[2];
    expect(map).toBeInstanceOf(CqlMap);
    expect([...(map as CqlMap<number, string>).entries()]).toEqual([[1, 'one'], [2, 'two']]);
    // A row with only multi-cell regular cells gets no marker (see row-writes.ts).
    expect(plan.statements.every((s) => s.cql.startsWith('UPDATE'))).toBe(true);
  });

  it('writes non-null user-type fields by name, grouped; null fields are left alone', () => {
    const plan = writer(EVENTS).planRow(row([1, 1], {
      u: { v: { street: 'Main', No: 5, zip: null }, t: [30, 30, null], e: [null, null, null] },
    }), NOW);
    expect(shapes(plan.statements)).toEqual([
      ['UPDATE "ks"."events" USING TIMESTAMP ? AND TTL ? SET "u"."street" = ?, "u"."No" = ? WHERE "pk" = ? AND "ck" = ?', [30n, 0, 'Main', 5, 1, 1]],
    ]);
  });

  it('counts expired elements and writes the rest', () => {
    const plan = writer(EVENTS).planRow(row([1, 1], { s: { v: ['a', 'b'], t: [1, 1], e: [NOW - 1, null] }, l: { v: ['x', 'y'], t: [1, 2], e: [NOW, NOW + 3] } }), NOW);
    expect(plan.expiredCells).toBe(2);
    expect(plan.statements[0]?.params[2]).toEqual(['b']);
    expect(plan.lists[0]?.elements.map((e) => e.value)).toEqual(['y']);
  });

  it('returns non-frozen lists as ListWrites, in list order, with their own timestamps and expiries', () => {
    const plan = writer(EVENTS).planRow(row([1, 1], { l: { v: ['b', 'a', 'b'], t: [5, 3, 5], e: [null, NOW + 60, null] } }), NOW);
    expect(plan.statements).toEqual([]);
    const [list] = plan.lists;
    expect(list).toMatchObject({
      keyspace: 'ks', table: 'events', column: 'l', k: [1, 1], key: [1, 1],
      selectCql: 'SELECT "l", WRITETIME("l") FROM "ks"."events" WHERE "pk" = ? AND "ck" = ?',
      deleteCql: 'DELETE "l"[?] FROM "ks"."events" USING TIMESTAMP ? WHERE "pk" = ? AND "ck" = ?',
    });
    expect(list?.elements).toEqual([
      { value: 'b', json: 'b', writetime: 5n, expiresAt: null },
      { value: 'a', json: 'a', writetime: 3n, expiresAt: NOW + 60 },
      { value: 'b', json: 'b', writetime: 5n, expiresAt: null },
    ]);
    const batch = listAppendBatch(list as ListWrite, NOW + 10);
    expect(batch.expiredElements).toBe(0);
    expect(batch.statements.map((s) => s.params)).toEqual([[5n, 0, ['b'], 1, 1], [3n, 50, ['a'], 1, 1], [5n, 0, ['b'], 1, 1]]);
    expect(batch.statements.every((s) => !s.idempotent)).toBe(true);
    expect(listAppendBatch(list as ListWrite, NOW + 60).expiredElements).toBe(1);
  });

  it('increments counters without timestamp or TTL, one non-idempotent UPDATE per column', () => {
    const plan = writer(HITS).planRow(row(['home'], { views: { v: '9223372036854775807', t: 1 }, likes: { v: '-1', t: 2 } }), NOW);
    expect(shapes(plan.statements)).toEqual([
      ['UPDATE "ks"."hits" SET "likes" = "likes" + ? WHERE "page" = ?', [-1n, 'home']],
      ['UPDATE "ks"."hits" SET "views" = "views" + ? WHERE "page" = ?', [2n ** 63n - 1n, 'home']],
    ]);
    expect(plan.statements.every((s) => !s.idempotent && !s.conditional)).toBe(true);
  });
});

describe('tableWriterFor: guard timestamp', () => {
  it('writes every timestamp + 1 µs: INSERT groups, element updates, list elements, the marker', () => {
    const w = writer(EVENTS, { kind: 'timestamp' });
    const plan = w.planRow(row([1, 1], { a: { v: 'x', t: 100 }, s: { v: ['a'], t: [200] }, u: { v: { street: 's', No: null, zip: null }, t: [300, null, null] }, l: { v: ['q'], t: [400] } }), NOW);
    expect(plan.statements.map((s) => s.params.find((p) => typeof p === 'bigint'))).toEqual([101n, 201n, 301n]);
    expect(plan.lists[0]?.elements[0]?.writetime).toBe(401n);
    expect(w.planRow(row([1, 2], {}), NOW).statements[0]?.params).toEqual([1, 2, MARKER + 1n, 0]);
    // Counters cannot take a timestamp: the guard does not change them.
    expect(writer(HITS, { kind: 'timestamp' }).planRow(row(['p'], { views: { v: '1', t: 1 } }), NOW).statements[0]?.params).toEqual([1n, 'p']);
  });

  it('refuses a writetime that + 1 µs would overflow', () => {
    expect(() => writer(EVENTS, { kind: 'timestamp' }).planRow(row([1, 1], { a: { v: 'x', t: '9223372036854775807' } }), NOW)).toThrow(/overflows/);
  });
});

describe('tableWriterFor: guard lwt', () => {
  const lwt = (expected: unknown = 'v1'): Guard => ({ kind: 'lwt', column: 'a', expected });

  it('carries every live value of the row in ONE conditional UPDATE without USING TIMESTAMP', () => {
    const plan = writer(EVENTS, lwt()).planRow(row([1, 1], { a: { v: 'v2', t: 1 }, bl: { v: 'AA==', t: 2 }, st: { v: 'S', t: 3 } }), NOW);
    expect(shapes(plan.statements)).toEqual([[
      'UPDATE "ks"."events" USING TTL ? SET "st" = ?, "a" = ?, "bl" = ? WHERE "pk" = ? AND "ck" = ? IF "a" = ?',
      [0, 'S', 'v2', Buffer.from([0]), 1, 1, 'v1'],
    ]]);
    expect(plan.statements[0]).toMatchObject({ idempotent: false, conditional: true });
    expect(plan.lists).toEqual([]);
  });

  it('keeps differing expiries exact with a conditional BATCH of one UPDATE per expiry, the IF on the first', () => {
    const plan = writer(EVENTS, lwt()).planRow(row([1, 1], { a: { v: 'v2', t: 1, e: NOW + 10 }, b: { v: '5', t: 1 }, bl: { v: 'AA==', t: 9, e: NOW + 10 } }), NOW);
    expect(shapes(plan.statements)).toEqual([[
      'BEGIN BATCH UPDATE "ks"."events" USING TTL ? SET "a" = ?, "bl" = ? WHERE "pk" = ? AND "ck" = ? IF "a" = ?; '
        + 'UPDATE "ks"."events" USING TTL ? SET "b" = ? WHERE "pk" = ? AND "ck" = ?; APPLY BATCH',
      [10, 'v2', Buffer.from([0]), 1, 1, 'v1', 0, 5n, 1, 1],
    ]]);
  });

  it('replaces multi-cell columns whole, adding elements of other expiries; lists keep their order', () => {
    const plan = writer(EVENTS, lwt()).planRow(row([1, 1], {
      s: { v: ['a', 'b'], t: [1, 2], e: [null, NOW + 5] },
      u: { v: { street: 'x', No: 3, zip: null }, t: [1, 1, null], e: [null, NOW + 5, null] },
      l: { v: ['p', 'q', 'r'], t: [1, 1, 1], e: [null, NOW + 5, null] },
    }), NOW);
    expect(plan.statements).toHaveLength(1);
    const cql = plan.statements[0]?.cql ?? '';
    expect(cql.split('; ').slice(0, -1)).toEqual([
      'BEGIN BATCH UPDATE "ks"."events" USING TTL ? SET "s" = ?, "u" = ?, "l" = ? WHERE "pk" = ? AND "ck" = ? IF "a" = ?',
      'UPDATE "ks"."events" USING TTL ? SET "s" = "s" + ?, "u"."No" = ? WHERE "pk" = ? AND "ck" = ?',
      'UPDATE "ks"."events" USING TTL ? SET "l" = "l" + ? WHERE "pk" = ? AND "ck" = ?',
      'UPDATE "ks"."events" USING TTL ? SET "l" = "l" + ? WHERE "pk" = ? AND "ck" = ?',
    ]);
    expect(plan.statements[0]?.params).toEqual([
      0, ['a'], { street: 'x', No: null, zip: null }, ['p'], 1, 1, 'v1',
      5, ['b'], 3, 1, 1,
      5, ['q'], 1, 1,
      0, ['r'], 1, 1,
    ]);
  });

  it('decodes the expected value by the column type; null means "is null"', () => {
    const big = tableWriterFor({ keyspace: 'ks', table: EVENTS, types: TYPES }, { kind: 'lwt', column: 'b', expected: '42' }, { markerTimestampMicros: MARKER });
    expect(big.planRow(row([1, 1], { a: { v: 'x', t: 1 } }), NOW).statements[0]?.params.at(-1)).toBe(42n);
    expect(writer(EVENTS, lwt(null)).planRow(row([1, 1], { a: { v: 'x', t: 1 } }), NOW).statements[0]?.params.at(-1)).toBeNull();
  });

  it('refuses counter tables, key or unknown columns, values of the wrong type', () => {
    const fails = (schema: TableSchema, guard: Guard, pattern: RegExp): void => {
      let error: unknown;
      try {
        writer(schema, guard);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CassetteError);
      expect((error as CassetteError).code).toBe('INVALID_INPUT');
      expect((error as CassetteError).message).toMatch(pattern);
    };
    fails(HITS, { kind: 'lwt', column: 'views', expected: '1' }, /counter table ks.hits/);
    fails(EVENTS, { kind: 'lwt', column: 'ck', expected: 1 }, /"ck" is a primary-key column/);
    fails(EVENTS, { kind: 'lwt', column: 'nope', expected: 1 }, /"nope" is not a column/);
    fails(EVENTS, { kind: 'lwt', column: 'b', expected: 1.5 }, /guard value for ks.events.b is not a bigint/);
  });

  it('plans nothing for a row without live cells and refuses static-only rows guarded by a regular column', () => {
    expect(writer(EVENTS, lwt()).planRow(row([1, 1], {}), NOW).statements).toEqual([]);
    expect(writer(EVENTS, lwt()).planRow(row([1, 1], { a: { v: 'x', t: 1, e: NOW } }), NOW)).toEqual({ statements: [], expiredCells: 1, lists: [] });
    expect(() => writer(EVENTS, lwt()).planRow(row([1, null], { st: { v: 'x', t: 1 } }), NOW)).toThrow(/static-only row cannot be guarded by the regular column "a"/);
    const staticGuard = writer(EVENTS, { kind: 'lwt', column: 'st', expected: 'old' }).planRow(row([1, null], { st: { v: 'new', t: 1 } }), NOW);
    expect(staticGuard.statements[0]?.cql).toBe('UPDATE "ks"."events" USING TTL ? SET "st" = ? WHERE "pk" = ? IF "st" = ?');
  });
});

describe('tableWriterFor: rows that do not fit the table', () => {
  const invalid = (r: BackupRow, pattern: RegExp, schema: TableSchema = EVENTS): void => {
    let error: unknown;
    try {
      writer(schema).planRow(r, NOW);
    } catch (e) {
      error = e;
    }
    expect(error, JSON.stringify(r)).toBeInstanceOf(CassetteError);
    expect((error as CassetteError).code).toBe('BACKUP_INVALID');
    expect((error as CassetteError).message).toMatch(pattern);
  };

  it('rejects bad keys and cells with BACKUP_INVALID naming the table, key and column', () => {
    invalid(row([1], {}), /ks.events row \[1\]: "k" must hold 2 key values/);
    invalid(row([null, 1], {}), /key column "pk" is null/);
    invalid(row([1, 1], { pk: { v: 1, t: 1 } }), /"pk", which is not a non-key column/);
    invalid(row([1, 1], { zz: { v: 1, t: 1 } }), /"zz"/);
    invalid(row([1, null], { a: { v: 'x', t: 1 } }), /static-only\) has regular cells/);
    invalid(row([1, null], {}), /static-only\) has no static cell/);
    invalid(row(['home'], {}), /counter table has no counter cell/, HITS);
    invalid(row([1, 1], { a: { v: 1, t: 1 } }), /column "a": cannot decode text value 1/);
    expect(() => writer(EVENTS).planRow(row([1, 1], { a: { v: 'x', t: 1 } }), NOW)).not.toThrow();
    expect(() => writer(EVENTS).planRow(row(['x', 1], {}), NOW)).toThrow(ValueCodecError);
  });
});

/**
 * A list as Cassandra stores it: every append makes a new cell (so a batch applied twice makes two
 * copies), `DELETE l[i]` resolves the index at execution and refuses one out of bounds.
 */
class FakeListSession implements CqlWriteSession {
  cells: { value: string; writetime: bigint }[] = [];
  /** Apply the next batch this many times (a batch a timeout made the driver, or a hint, deliver again). */
  deliverNextBatch = 1;
  readonly log: string[] = [];

  execute(cql: string, params: readonly unknown[] = [], options: QueryOptions = {}): Promise<QueryResult> {
    expect(options.prepare).toBe(true);
    if (cql.startsWith('SELECT')) {
      this.log.push('read');
      const values = this.cells.length === 0 ? null : this.cells.map((cell) => cell.value);
      const row = [values, values === null ? null : this.cells.map((cell) => cell.writetime)];
      return Promise.resolve({ rows: [{ get: (i: string | number) => row[Number(i)], values: () => row }] });
    }
    if (cql.startsWith('DELETE')) {
      expect(options.isIdempotent).toBe(false);
      const [index, writetime] = params as [number, bigint];
      this.log.push(`delete ${index}`);
      if (index >= this.cells.length) return Promise.reject(new Error(`List index ${index} out of bound, list has size ${this.cells.length}`));
      if ((this.cells[index]?.writetime ?? 0n) <= writetime) this.cells.splice(index, 1);
      return Promise.resolve({ rows: [] });
    }
    return Promise.reject(new Error(`unexpected ${cql}`));
  }

  batch(statements: readonly BatchStatement[], options: QueryOptions = {}): Promise<QueryResult> {
    expect(options.isIdempotent).toBe(false);
    this.log.push(`batch ${statements.length}`);
    for (let copy = 0; copy < this.deliverNextBatch; copy++) {
      for (const s of statements) {
        const [writetime, , [value]] = s.params as [bigint, number, string[]];
        this.cells.push({ value: value as string, writetime });
      }
    }
    this.deliverNextBatch = 1;
    return Promise.resolve({ rows: [] });
  }
}

describe('writeList', () => {
  const plan = (l: JsonValue): ListWrite => writer(EVENTS).planRow(row([1, 1], { l }), NOW).lists[0] as ListWrite;
  const list = plan({ v: ['b', 'a', 'b'], t: [5, 3, 5], e: [null, NOW + 600, null] });
  const expected = [{ value: 'b', writetime: 5n }, { value: 'a', writetime: 3n }, { value: 'b', writetime: 5n }];
  const options = { nowSeconds: () => NOW };

  it('writes an empty list in one batch and verifies it; a second call only reads', async () => {
    const session = new FakeListSession();
    expect(await writeList(session, list, options)).toEqual({ appended: 3, removed: 0, expired: 0 });
    expect(session.cells).toEqual(expected);
    expect(await writeList(session, list, options)).toEqual({ appended: 0, removed: 0, expired: 0 });
    expect(session.log).toEqual(['read', 'batch 3', 'read', 'read']);
  });

  it('removes whole surplus copies, highest index first, and verifies', async () => {
    const session = new FakeListSession();
    session.deliverNextBatch = 3;
    expect(await writeList(session, list, options)).toEqual({ appended: 3, removed: 6, expired: 0 });
    expect(session.cells).toEqual(expected);
    expect(session.log).toEqual(['read', 'batch 3', 'read', 'delete 8', 'delete 7', 'delete 6', 'delete 5', 'delete 4', 'delete 3', 'read']);
  });

  it('repairs a list that an earlier attempt left duplicated', async () => {
    const session = new FakeListSession();
    session.cells = [...expected, ...expected];
    expect(await writeList(session, list, options)).toEqual({ appended: 0, removed: 3, expired: 0 });
    expect(session.cells).toEqual(expected);
  });

  it('refuses a list holding anything else, naming table, key and column', async () => {
    for (const cells of [[{ value: 'other', writetime: 1n }], [...expected, expected[0]], [{ value: 'b', writetime: 6n }, ...expected.slice(1)]]) {
      const session = new FakeListSession();
      session.cells = cells as { value: string; writetime: bigint }[];
      await expect(writeList(session, list, options)).rejects.toThrow(/ks.events row \[1,1\] list "l": the target list holds/);
      expect(session.log).not.toContain('batch 3');
    }
  });

  it('leaves out elements that expired since planning, and tolerates ones expiring while it runs', async () => {
    const session = new FakeListSession();
    expect(await writeList(session, list, { nowSeconds: () => NOW + 600 })).toEqual({ appended: 2, removed: 0, expired: 1 });
    expect(session.cells.map((c) => c.value)).toEqual(['b', 'b']);
    // 'a' (about to expire) is missing from the target: still a whole copy.
    expect(await writeList(session, list, { nowSeconds: () => NOW + 599 })).toEqual({ appended: 0, removed: 0, expired: 0 });
    // …but not when it should live a while longer.
    await expect(writeList(session, list, { nowSeconds: () => NOW + 500 })).rejects.toThrow(/not 3 expected element/);
  });

  it('explains a DELETE refused by the read-before-write guardrail', async () => {
    const session = new FakeListSession();
    session.cells = [...expected, ...expected];
    session.execute = (cql: string, params?: readonly unknown[], o?: QueryOptions): Promise<QueryResult> => cql.startsWith('DELETE')
      ? Promise.reject(new Error('Guardrail read_before_write_list_operations violated: Setting of list items by index requiring read before write is not allowed'))
      : FakeListSession.prototype.execute.call(session, cql, params, o);
    await expect(writeList(session, list, options)).rejects.toMatchObject({ code: 'INVALID_INPUT', hint: expect.stringMatching(/read_before_write_list_operations_enabled/) as unknown });
  });

  it('firstCopyEnd: k whole copies give n; anything that is not whole copies gives undefined', () => {
    const element = fc.record({ text: fc.constantFrom('"a"', '"b"', '"c"'), writetime: fc.bigInt({ min: 1n, max: 3n }) });
    fc.assert(fc.property(fc.array(element, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 4 }), fc.nat(), (elements, k, cut) => {
      const wanted = elements.map((e) => ({ ...e, value: e.text, json: e.text, expiresAt: null }));
      const copies = Array.from({ length: k }, () => elements).flat();
      expect(firstCopyEnd(copies, wanted, NOW)).toBe(elements.length);
      const partial = copies.slice(0, copies.length - 1 - (cut % elements.length));
      if (partial.length > 0 && partial.length % elements.length !== 0) expect(firstCopyEnd(partial, wanted, NOW)).toBeUndefined();
    }));
  });
});
