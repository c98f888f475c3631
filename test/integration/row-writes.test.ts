/**
 * Row writes against the real Cassandra 5.0: back up every shape of row from a source keyspace
 * through the table reader (docs/format.md §6), plan the writes with tableWriterFor, run them into
 * an identically created empty keyspace, and read the target back the same way: values and
 * writetimes must be equal, expiries within 1 s, expired cells absent. Then the list protocol's
 * retry safety and the two guards.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import cassandra from 'cassandra-driver';
import { installNullListElementFix } from '../../src/cassandra/values/driver-list-decoding.js';
import {
  listAppendBatch, tableWriterFor, writeList,
  type BackupRow, type Guard, type ListWrite, type RowPlan, type TableWriter,
} from '../../src/cassandra/writes/row-writes.js';
import { captureKeyspace } from '../../src/cassandra/schema/capture.js';
import { findTable, type KeyspaceSchema, type TableSchema } from '../../src/cassandra/schema/model.js';
import type { CqlWriteSession, QueryOptions } from '../../src/cassandra/connection/session.js';
import { tableReaderFor } from '../../src/cassandra/reads/table-reader.js';
import { DRIVER_ENCODING, type JsonValue } from '../../src/cassandra/values/value-codec.js';
import { allTypesRows, allTypesSchema } from '../fixtures/all-types.mjs';
import { uniqueName } from '../support/clients.js';
import { sessionFrom } from '../support/session.js';

const MIN_TOKEN = -(2n ** 63n);
const MAX_TOKEN = 2n ** 63n - 1n;
const BACKUP_MICROS = 1_750_000_000_000_000n; // the marker timestamp of key-only rows
const TABLES = ['all_types', 'defaults', 'expiring', 'hits', 'lists', 'MixedCase'] as const;

function schemaCql(ks: string): string[] {
  return [
    ...allTypesSchema(ks),
    `CREATE TABLE ${ks}.defaults (pk int, ck int, a text, b text, PRIMARY KEY (pk, ck)) WITH default_time_to_live = 3600`,
    `CREATE TABLE ${ks}.expiring (pk int, ck int, a text, b text, s set<int>, PRIMARY KEY (pk, ck))`,
    `CREATE TABLE ${ks}.hits (page text PRIMARY KEY, views counter, likes counter)`,
    `CREATE TABLE ${ks}.lists (pk int, ck int, l list<text>, sl list<int> static, fl frozen<list<int>>, PRIMARY KEY (pk, ck))`,
    `CREATE TABLE ${ks}."MixedCase" ("Id" int, "Ck" text, "Value" text, "Tags" set<text>, "Where" map<text, int>, PRIMARY KEY ("Id", "Ck"))`,
  ];
}

function sourceRows(ks: string): string[] {
  return [
    ...allTypesRows(ks, { rowTtl: 3600, elementTtl: 7200 }),
    // A cell without TTL in a table with a default TTL, one with the default, a key-only row.
    `INSERT INTO ${ks}.defaults (pk, ck, a) VALUES (1, 1, 'forever') USING TIMESTAMP 1000 AND TTL 0`,
    `UPDATE ${ks}.defaults USING TIMESTAMP 2000 SET b = 'default ttl' WHERE pk = 1 AND ck = 1`,
    `INSERT INTO ${ks}.defaults (pk, ck) VALUES (1, 2) USING TIMESTAMP 3000 AND TTL 0`,
    `UPDATE ${ks}.hits SET views = views + 42, likes = likes - 7 WHERE page = 'home'`,
    `UPDATE ${ks}.hits SET views = views + 9223372036854775807 WHERE page = 'max'`,
    // Lists: elements with their own timestamps and TTLs, a duplicate value, a prepend, a static list.
    `UPDATE ${ks}.lists USING TIMESTAMP 100 SET l = l + ['a'] WHERE pk = 1 AND ck = 1`,
    `UPDATE ${ks}.lists USING TIMESTAMP 50 AND TTL 3600 SET l = l + ['b'] WHERE pk = 1 AND ck = 1`,
    `UPDATE ${ks}.lists USING TIMESTAMP 200 AND TTL 7200 SET l = l + ['c', 'c'] WHERE pk = 1 AND ck = 1`,
    `UPDATE ${ks}.lists USING TIMESTAMP 300 SET l = ['z'] + l WHERE pk = 1 AND ck = 1`,
    `UPDATE ${ks}.lists USING TIMESTAMP 400 SET sl = sl + [1, 2] WHERE pk = 1`,
    `UPDATE ${ks}.lists USING TIMESTAMP 450 AND TTL 3600 SET sl = sl + [3] WHERE pk = 1`,
    `INSERT INTO ${ks}.lists (pk, ck, fl) VALUES (1, 2, [7, 8]) USING TIMESTAMP 500`,
    `INSERT INTO ${ks}.lists (pk, ck, l) VALUES (2, 1, ['x', 'x', 'y']) USING TIMESTAMP 600 AND TTL 3600`,
    `INSERT INTO ${ks}."MixedCase" ("Id", "Ck", "Value", "Tags", "Where") VALUES (1, 'A', 'v', {'t1', 't2'}, {'k': 1}) USING TIMESTAMP 700`,
    // Last, right before the backup reads them: cells and a whole row that expire 2 s later.
    `INSERT INTO ${ks}.expiring (pk, ck, a) VALUES (1, 1, 'stays') USING TIMESTAMP 10`,
    `UPDATE ${ks}.expiring USING TIMESTAMP 11 AND TTL 2 SET b = 'goes' WHERE pk = 1 AND ck = 1`,
    `UPDATE ${ks}.expiring USING TIMESTAMP 12 SET s = s + {1} WHERE pk = 1 AND ck = 1`,
    `UPDATE ${ks}.expiring USING TIMESTAMP 13 AND TTL 2 SET s = s + {2} WHERE pk = 1 AND ck = 1`,
    `INSERT INTO ${ks}.expiring (pk, ck, a) VALUES (1, 2, 'row goes') USING TIMESTAMP 14 AND TTL 2`,
  ];
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

interface Cell { v: JsonValue; t: JsonValue; e?: JsonValue }

/** The row with every cell (or element cell) whose expiry is ≤ now removed; undefined if nothing is left. */
function withoutExpired(row: BackupRow, now: number): BackupRow | undefined {
  const c: Record<string, JsonValue> = {};
  for (const [name, json] of Object.entries(row.c)) {
    const cell = json as unknown as Cell;
    if (!Array.isArray(cell.t)) {
      if (typeof cell.e !== 'number' || cell.e > now) c[name] = json;
      continue;
    }
    const e = (cell.e ?? cell.t.map(() => null)) as (number | null)[];
    const live = e.map((x) => x === null || x > now);
    let v: JsonValue;
    let t: JsonValue[];
    let kept: (number | null)[];
    if (Array.isArray(cell.v)) {
      v = cell.v.filter((_, i) => live[i]);
      t = cell.t.filter((_, i) => live[i]);
      kept = e.filter((_, i) => live[i]);
      if (v.length === 0) continue;
    } else {
      const fields = Object.entries(cell.v as Record<string, JsonValue>);
      v = Object.fromEntries(fields.map(([f, x], i) => [f, live[i] === true ? x : null]));
      t = cell.t.map((x, i) => (live[i] === true ? x : null));
      kept = e.map((x, i) => (live[i] === true ? x : null));
      if (t.every((x) => x === null)) continue;
    }
    c[name] = (kept.some((x) => x !== null) ? { v, t, e: kept } : { v, t }) as unknown as JsonValue;
  }
  if (Object.keys(row.c).length > 0 && Object.keys(c).length === 0) return undefined;
  return { k: row.k, c };
}

/** Asserts two tables' rows are equal: values and writetimes exactly, expiries within 1 s (or values only). */
function expectSameRows(actual: ReadonlyMap<string, BackupRow>, expected: ReadonlyMap<string, BackupRow>, what: string, valuesOnly = false): void {
  expect([...actual.keys()].sort(), what).toEqual([...expected.keys()].sort());
  for (const [key, row] of expected) {
    const got = actual.get(key) as BackupRow;
    expect(Object.keys(got.c).sort(), `${what} ${key}`).toEqual(Object.keys(row.c).sort());
    for (const [name, json] of Object.entries(row.c)) {
      const want = json as unknown as Cell;
      const have = got.c[name] as unknown as Cell;
      const where = `${what} ${key} ${name}`;
      expect(have.v, where).toEqual(want.v);
      if (valuesOnly) continue;
      expect(have.t, where).toEqual(want.t);
      const flat = (e: JsonValue | undefined): (number | null)[] => (e === undefined ? [] : Array.isArray(e) ? (e as (number | null)[]) : [e as number]);
      const [a, b] = [flat(have.e), flat(want.e)];
      expect(a.map((x) => x === null), `${where} e`).toEqual(b.map((x) => x === null));
      b.forEach((x, i) => { if (x !== null) expect(Math.abs((a[i] as number) - x), `${where} e[${i}]`).toBeLessThanOrEqual(1); });
    }
  }
}

describe('row writes against real Cassandra 5.0', () => {
  const settings = inject('services').cassandra;
  const src = uniqueName('it_rw_src');
  const dst = uniqueName('it_rw_dst');
  let client: cassandra.Client;
  let session: CqlWriteSession;
  let srcSchema: KeyspaceSchema;
  let dstSchema: KeyspaceSchema;
  /** The backup: table → k as JSON → row, read before the expiring cells expired. */
  const backup = new Map<string, Map<string, BackupRow>>();

  const run = (cql: string, params: unknown[] = []): Promise<cassandra.types.ResultSet> => client.execute(cql, params, { prepare: true });

  async function readTable(schema: KeyspaceSchema, table: string): Promise<Map<string, BackupRow>> {
    const reader = tableReaderFor(schema, table);
    const readAt = nowSeconds(); // before the query: keeps expiries within 1 s (see expectSameRows)
    const result = await session.execute(reader.cql, [MIN_TOKEN, MAX_TOKEN], { prepare: true, fetchSize: 10_000 });
    const rows = new Map<string, BackupRow>();
    for (const row of result.rows) {
      const parsed = JSON.parse(reader.encodeRow(row, readAt)) as BackupRow;
      rows.set(JSON.stringify(parsed.k), parsed);
    }
    return rows;
  }

  function writerFor(table: TableSchema, guard: Guard = { kind: 'none' }): TableWriter {
    return tableWriterFor({ keyspace: dst, table, types: srcSchema.types }, guard, { markerTimestampMicros: BACKUP_MICROS });
  }

  /** Runs a plan as the restore does: conditional statements alone, the rest as one single-partition batch, then the lists. */
  async function apply(plan: RowPlan): Promise<boolean> {
    for (const statement of plan.statements.filter((s) => s.conditional)) {
      const result = await session.execute(statement.cql, statement.params, { prepare: true, isIdempotent: false });
      if (result.rows[0]?.get('[applied]') === false) return false;
    }
    const plain = plan.statements.filter((s) => !s.conditional);
    const idempotent = plain.every((s) => s.idempotent);
    if (plain.length === 1) await session.execute(plain[0]?.cql ?? '', plain[0]?.params, { prepare: true, isIdempotent: idempotent });
    else if (plain.length > 1) await session.batch(plain, { isIdempotent: idempotent });
    for (const list of plan.lists) await writeList(session, list);
    return true;
  }

  beforeAll(async () => {
    installNullListElementFix();
    client = new cassandra.Client({ contactPoints: [`${settings.host}:${settings.port}`], localDataCenter: settings.dc, encoding: DRIVER_ENCODING });
    await client.connect();
    const base = sessionFrom(client);
    session = {
      execute: (cql: string, params?: readonly unknown[], options: QueryOptions = {}) => base.execute(cql, params, { prepare: true, ...options }),
      async batch(statements, options = {}) {
        await client.batch(statements.map((s) => ({ query: s.cql, params: [...s.params] })), {
          prepare: true,
          logged: false,
          ...(options.consistency === undefined ? {} : { consistency: options.consistency }),
          ...(options.isIdempotent === undefined ? {} : { isIdempotent: options.isIdempotent }),
        });
        return { rows: [] };
      },
    };
    for (const ks of [src, dst]) {
      await client.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
      for (const cql of schemaCql(ks)) await client.execute(cql);
    }
    await client.execute(`CREATE TABLE ${dst}.lists_retry (pk int, ck int, l list<text>, sl list<int> static, fl frozen<list<int>>, PRIMARY KEY (pk, ck))`);
    await client.execute(`CREATE TABLE ${dst}.guarded (pk int PRIMARY KEY, v text)`);
    await client.execute(`CREATE TABLE ${dst}.rekey (pk int, ck int, key_version text, secret blob, note text, tags set<text>, l list<int>, PRIMARY KEY (pk, ck))`);
    await client.execute(`CREATE TABLE ${dst}.big (pk int, ck int, b blob, PRIMARY KEY (pk, ck))`);
    for (const cql of sourceRows(src)) await client.execute(cql);
    srcSchema = await captureKeyspace(session, src);
    dstSchema = await captureKeyspace(session, dst);
    for (const table of TABLES) backup.set(table, await readTable(srcSchema, table));
    // Let the 2 s TTLs run out before anything is planned.
    const latest = Math.max(...[...(backup.get('expiring')?.values() ?? [])].flatMap((row) => Object.values(row.c).flatMap((cell) => {
      const e = (cell as unknown as Cell).e;
      return Array.isArray(e) ? (e.filter((x) => typeof x === 'number') as number[]) : typeof e === 'number' ? [e] : [];
    })));
    while (nowSeconds() < latest + 1) await sleep(250);
  });

  afterAll(async () => {
    for (const ks of [src, dst]) await client?.execute(`DROP KEYSPACE IF EXISTS ${ks}`);
    await client?.shutdown();
  });

  it('backs up the shapes the tests rely on', () => {
    expect(backup.get('expiring')?.get('[1,2]')?.c.a).toMatchObject({ v: 'row goes', t: 14 });
    expect(backup.get('lists')?.get('[1,1]')?.c.l).toMatchObject({ v: ['z', 'a', 'b', 'c', 'c'], t: [300, 100, 50, 200, 200] });
    expect(backup.get('all_types')?.get('[3,1]')?.c).toEqual({});
    expect(backup.get('all_types')?.get('[2,null]')?.c).toMatchObject({ st: { v: 'static only' } });
  });

  it('restores every table exactly: values and writetimes equal, expiries within 1 s, expired cells absent', async () => {
    let expiredCells = 0;
    let now = 0;
    for (const name of TABLES) {
      const writer = writerFor(findTable(srcSchema, name) as TableSchema);
      now = nowSeconds();
      for (const row of backup.get(name)?.values() ?? []) {
        const plan = writer.planRow(row, now);
        expiredCells += plan.expiredCells;
        await apply(plan);
      }
    }
    // b and s[2] of [1,1], a of [1,2] in `expiring`.
    expect(expiredCells).toBe(3);
    for (const name of TABLES) {
      const expected = new Map<string, BackupRow>();
      for (const [key, row] of backup.get(name) ?? []) {
        const live = withoutExpired(row, now);
        if (live !== undefined) expected.set(key, live);
      }
      expectSameRows(await readTable(dstSchema, name), expected, name, name === 'hits');
    }
    const expiring = await readTable(dstSchema, 'expiring');
    expect([...expiring.keys()]).toEqual(['[1,1]']);
    expect(expiring.get('[1,1]')?.c).toEqual({ a: { v: 'stays', t: 10 }, s: { v: [1], t: [12] } });
  });

  it('writes cells that had no TTL with TTL 0, so the table default does not give them one', async () => {
    const row = (await run(`SELECT a, TTL(a), b, TTL(b) FROM ${dst}.defaults WHERE pk = 1 AND ck = 1`)).first();
    expect(row.get(0)).toBe('forever');
    expect(row.get(1)).toBeNull();
    expect(row.get(3)).toBeGreaterThan(3000);
    // The key-only row exists (its marker was written with TTL 0: nothing would make it disappear).
    expect((await run(`SELECT * FROM ${dst}.defaults WHERE pk = 1 AND ck = 2`)).rowLength).toBe(1);
  });

  it('writeList is safe to run twice and repairs batches that were applied twice or three times', async () => {
    const writer = writerFor(findTable(dstSchema, 'lists_retry') as TableSchema);
    const source = backup.get('lists')?.get('[1,1]') as BackupRow;
    const list = writer.planRow(source, nowSeconds()).lists.find((l) => l.column === 'l') as ListWrite;
    const n = list.elements.length;
    const readL = async (): Promise<JsonValue> => (await readTable(dstSchema, 'lists_retry')).get('[1,1]')?.c.l ?? null;
    const expectExact = async (): Promise<void> => {
      expectSameRows(new Map([['k', { k: [], c: { l: await readL() } }]]), new Map([['k', { k: [], c: { l: source.c.l as JsonValue } }]]), 'lists_retry');
    };

    // A batch delivered twice (e.g. retried by a driver after a timeout) makes two whole copies.
    const { statements } = listAppendBatch(list, nowSeconds());
    await session.batch(statements, { isIdempotent: false });
    await session.batch(statements, { isIdempotent: false });
    expect(((await readL()) as unknown as Cell).v).toHaveLength(2 * n);
    expect(await writeList(session, list)).toEqual({ appended: 0, removed: n, expired: 0 });
    await expectExact();
    expect(await writeList(session, list)).toEqual({ appended: 0, removed: 0, expired: 0 });
    await expectExact();

    await session.batch(statements, { isIdempotent: false });
    await session.batch(statements, { isIdempotent: false });
    expect(await writeList(session, list)).toEqual({ appended: 0, removed: 2 * n, expired: 0 });
    await expectExact();

    // A fresh key: written once, then a rerun (a resumed restore) only reads.
    const other = writer.planRow({ k: [5, 5], c: { l: source.c.l as JsonValue } }, nowSeconds()).lists[0] as ListWrite;
    expect(await writeList(session, other)).toEqual({ appended: n, removed: 0, expired: 0 });
    expect(await writeList(session, other)).toEqual({ appended: 0, removed: 0, expired: 0 });

    // A list holding something else is never merged into.
    await run(`UPDATE ${dst}.lists_retry SET l = l + ['foreign'] WHERE pk = 9 AND ck = 9`);
    const foreign = writer.planRow({ k: [9, 9], c: { l: source.c.l as JsonValue } }, nowSeconds()).lists[0] as ListWrite;
    await expect(writeList(session, foreign)).rejects.toThrow(/lists_retry row \[9,9\] list "l": the target list holds 1 element/);
  });

  it('guard timestamp: +1 µs wins the tie with the old value, and a later application write still wins', async () => {
    const table = findTable(dstSchema, 'guarded') as TableSchema;
    const read = async (): Promise<[unknown, unknown]> => {
      const row = (await run(`SELECT v, WRITETIME(v) FROM ${dst}.guarded WHERE pk = 1`)).first();
      return [row.get(0), row.get(1)];
    };
    await run(`INSERT INTO ${dst}.guarded (pk, v) VALUES (1, 'zzz old') USING TIMESTAMP 1000000`);
    const restored: BackupRow = { k: [1], c: { v: { v: 'aaa new', t: 1000000 } } };
    // Without the guard the tie goes to the larger value bytes: the old value stays (peers.md §0.3).
    await apply(writerFor(table).planRow(restored, nowSeconds()));
    expect(await read()).toEqual(['zzz old', 1000000n]);
    await apply(writerFor(table, { kind: 'timestamp' }).planRow(restored, nowSeconds()));
    expect(await read()).toEqual(['aaa new', 1000001n]);
    await run(`UPDATE ${dst}.guarded USING TIMESTAMP 1000010 SET v = 'app' WHERE pk = 1`);
    await apply(writerFor(table, { kind: 'timestamp' }).planRow(restored, nowSeconds()));
    expect(await read()).toEqual(['app', 1000010n]);
  });

  it('guard lwt: applied while the condition holds, [applied] = false otherwise; values, TTLs and collections exact', async () => {
    const table = findTable(dstSchema, 'rekey') as TableSchema;
    const writer = writerFor(table, { kind: 'lwt', column: 'key_version', expected: 'v1' });
    await run(`INSERT INTO ${dst}.rekey (pk, ck, key_version, secret, note, tags, l) VALUES (1, 1, 'v1', 0x01, 'old', {'old'}, [9, 9]) USING TIMESTAMP 5`);
    await run(`INSERT INTO ${dst}.rekey (pk, ck, key_version, secret) VALUES (1, 2, 'v1', 0x01) USING TIMESTAMP 5`);
    await run(`INSERT INTO ${dst}.rekey (pk, ck, key_version, secret) VALUES (2, 1, 'v0', 0x01) USING TIMESTAMP 5`);
    const now = nowSeconds();
    const mixed: BackupRow = { k: [1, 1], c: {
      key_version: { v: 'v2', t: 10 }, secret: { v: 'Ag==', t: 10 }, note: { v: 'n', t: 10, e: now + 100 },
      tags: { v: ['new1', 'new2'], t: [10, 10], e: [null, now + 200] },
      l: { v: [1, 2, 3], t: [10, 10, 10], e: [null, now + 300, null] },
    } };
    const plan = writer.planRow(mixed, now);
    expect(plan.statements).toHaveLength(1);
    expect(plan.statements[0]?.cql).toMatch(/^BEGIN BATCH UPDATE .* IF "key_version" = \?; UPDATE/);
    expect(plan.lists).toEqual([]);
    expect(await apply(plan)).toBe(true);
    const row = (await run(`SELECT key_version, secret, note, TTL(note), tags, TTL(tags), l, TTL(l), WRITETIME(secret) FROM ${dst}.rekey WHERE pk = 1 AND ck = 1`)).first();
    const near = (actual: unknown, expected: number): void => expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(2);
    expect(row.get(0)).toBe('v2');
    expect(row.get(1)).toEqual(Buffer.from([2]));
    expect(row.get(2)).toBe('n');
    near(row.get(3), 100);
    expect(row.get(4)).toEqual(['new1', 'new2']); // 'old' replaced, not merged
    expect((row.get(5) as unknown[])[0]).toBeNull();
    near((row.get(5) as unknown[])[1], 200);
    expect(row.get(6)).toEqual([1, 2, 3]); // [9, 9] replaced, order kept across the batch's statements
    expect((row.get(7) as unknown[]).map((x) => x === null)).toEqual([true, false, true]);
    near((row.get(7) as unknown[])[1], 300);
    // The LWT writes at its ballot time: the original writetime (10) cannot be kept.
    expect(Number(row.get(8) as bigint) / 1e6).toBeGreaterThan(now - 60);

    // A second run finds key_version = 'v2': a race, nothing written.
    expect(await apply(writer.planRow(mixed, nowSeconds()))).toBe(false);
    // One expiry for all cells: a single conditional UPDATE.
    const single = writer.planRow({ k: [1, 2], c: { key_version: { v: 'v2', t: 1 }, secret: { v: 'Aw==', t: 1 } } }, nowSeconds());
    expect(single.statements[0]?.cql).toMatch(/^UPDATE .* USING TTL \? SET .* IF "key_version" = \?$/);
    expect(await apply(single)).toBe(true);
    expect((await run(`SELECT secret FROM ${dst}.rekey WHERE pk = 1 AND ck = 2`)).first().get(0)).toEqual(Buffer.from([3]));
    // The target does not hold the expected value: not applied, untouched.
    expect(await apply(writer.planRow({ k: [2, 1], c: { key_version: { v: 'v2', t: 1 }, secret: { v: 'Ag==', t: 1 } } }, nowSeconds()))).toBe(false);
    const untouched = (await run(`SELECT key_version, secret FROM ${dst}.rekey WHERE pk = 2 AND ck = 1`)).first();
    expect([untouched.get(0), untouched.get(1)]).toEqual(['v0', Buffer.from([1])]);
  });

  it('accepts a single-partition unlogged batch beyond batch_size_fail_threshold (50 KiB), refuses a multi-partition one', async () => {
    // Cassandra checks batch size only for batches spanning several partitions (CASSANDRA-10876).
    const insert = `INSERT INTO ${dst}.big (pk, ck, b) VALUES (?, ?, ?)`;
    const blob = Buffer.alloc(8 * 1024, 7);
    const onePartition = Array.from({ length: 10 }, (_, i) => ({ cql: insert, params: [1, i, blob] }));
    await session.batch(onePartition);
    expect((await run(`SELECT COUNT(*) FROM ${dst}.big WHERE pk = 1`)).first().get(0)).toBe(10n);
    const manyPartitions = Array.from({ length: 10 }, (_, i) => ({ cql: insert, params: [100 + i, 0, blob] }));
    await expect(session.batch(manyPartitions)).rejects.toThrow(/Batch too large/);
  });
});
