/**
 * The value and cell codecs against the real Cassandra 5.0: write edge values of every CQL type with
 * the driver, read them with WRITETIME/TTL, encode → JSON text → decode, write the decoded values
 * into an identical table cell by cell (as a restore does), and compare both tables re-encoded.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import cassandra from 'cassandra-driver';
import { cellProjection, decodeCell, type Cell, type CellColumn, type MultiCell } from '../../src/cassandra/values/cell-codec.js';
import { CqlMap } from '../../src/cassandra/values/cql-map.js';
import { parseCqlType, type UserTypeDefinition } from '../../src/cassandra/values/cql-type.js';
import { quoteIdentifier } from '../../src/cassandra/values/identifiers.js';
import { installNullListElementFix } from '../../src/cassandra/values/driver-list-decoding.js';
import { DRIVER_ENCODING, type JsonValue } from '../../src/cassandra/values/value-codec.js';
import { uniqueName } from '../support/clients.js';

const { BigDecimal, Duration, InetAddress, LocalDate, LocalTime, Long, TimeUuid, Tuple, Uuid, Vector } = cassandra.types;
const LocalDateFromDays = LocalDate as unknown as new (days: number) => cassandra.types.LocalDate;

const USER_TYPES: UserTypeDefinition[] = [
  { name: 'point', fields: [{ name: 'x', type: 'double' }, { name: 'label', type: 'text' }] },
  { name: 'shape', fields: [{ name: 'name', type: 'text' }, { name: 'center', type: 'frozen<point>' }, { name: 'tags', type: 'frozen<set<text>>' }] },
  { name: 'MyType', fields: [{ name: 'a', type: 'int' }, { name: 'B', type: 'text' }, { name: 'c', type: 'int' }] },
];

// Every CQL type; static, non-frozen and frozen collections and UDTs, nested UDT, tuple, vectors.
const COLUMNS: readonly { name: string; type: string; kind?: string }[] = [
  { name: 'st', type: 'text', kind: 'static' },
  { name: 'a', type: 'ascii' }, { name: 'bi', type: 'bigint' }, { name: 'bl', type: 'blob' }, { name: 'bo', type: 'boolean' },
  { name: 'da', type: 'date' }, { name: 'de', type: 'decimal' }, { name: 'db', type: 'double' }, { name: 'du', type: 'duration' },
  { name: 'fl', type: 'float' }, { name: 'ip', type: 'inet' }, { name: 'i', type: 'int' }, { name: 'si', type: 'smallint' },
  { name: 'tx', type: 'text' }, { name: 'tm', type: 'time' }, { name: 'ts', type: 'timestamp' }, { name: 'tu', type: 'timeuuid' },
  { name: 'ti', type: 'tinyint' }, { name: 'uu', type: 'uuid' }, { name: 'vc', type: 'varchar' }, { name: 'vi', type: 'varint' },
  { name: 'l', type: 'list<int>' }, { name: 's', type: 'set<text>' }, { name: 'm', type: 'map<int, text>' },
  { name: 'md', type: 'map<double, int>' }, { name: 'sd', type: 'set<double>' }, { name: 'ms', type: 'map<text, frozen<set<uuid>>>' },
  { name: 'fll', type: 'frozen<list<frozen<list<int>>>>' }, { name: 'fs', type: 'frozen<set<text>>' },
  { name: 'fm', type: 'frozen<map<text, frozen<list<double>>>>' },
  { name: 'u', type: '"MyType"' }, { name: 'fu', type: 'frozen<shape>' }, { name: 'lu', type: 'list<frozen<point>>' },
  { name: 'tup', type: 'frozen<tuple<int, text, frozen<list<int>>>>' },
  { name: 'v', type: 'vector<float, 3>' }, { name: 'vt', type: 'vector<text, 2>' },
];

const columns: CellColumn[] = COLUMNS.map((c) => ({ name: c.name, type: parseCqlType(c.type, USER_TYPES), ...(c.kind === undefined ? {} : { kind: c.kind }) }));
const BASE_TS = 1_000_000n; // µs; element updates below use larger timestamps so the INSERT's collection tombstone (BASE_TS-1) does not hide them
const EMPTY = Buffer.alloc(4); // a serialized empty list/set: the driver binds [] as null

const q = quoteIdentifier;

describe('value codec against real Cassandra 5.0', () => {
  const settings = inject('services').cassandra;
  const ks = uniqueName('it_value_codec');
  let client: cassandra.Client;

  const run = (cql: string, params: unknown[] = []): Promise<cassandra.types.ResultSet> => client.execute(cql, params, { prepare: true });
  const nowSeconds = (): number => Math.floor(Date.now() / 1000);

  /** Reads a table with the projection and encodes each row as format.md §6.1 would. */
  async function readRows(table: string): Promise<Map<string, Record<string, Cell>>> {
    const projection = cellProjection(columns);
    const result = await run(`SELECT pk, ck, ${projection.selectors.join(', ')} FROM ${ks}.${table}`);
    const readAt = nowSeconds();
    const rows = new Map<string, Record<string, Cell>>();
    for (const row of result.rows) {
      const values = row.values();
      rows.set(JSON.stringify([values[0], values[1]]), projection.encodeCells(values, 2, readAt));
    }
    return rows;
  }

  /** Writes one decoded cell into the copy table, cell by cell, as a restore would. */
  async function restoreCell(table: string, key: readonly [number, number | null], column: CellColumn, json: JsonValue): Promise<void> {
    const decoded = decodeCell(column, json);
    const where = column.kind === 'static' ? 'WHERE pk = ?' : 'WHERE pk = ? AND ck = ?';
    const keyParams = column.kind === 'static' ? [key[0]] : [...key];
    const using = 'USING TIMESTAMP ? AND TTL ?';
    const ttlOf = (expiresAt: number | null): number => (expiresAt === null ? 0 : Math.max(1, expiresAt - nowSeconds()));
    const name = q(column.name);
    if (decoded.kind === 'single') {
      await run(`UPDATE ${ks}.${table} ${using} SET ${name} = ? ${where}`, [decoded.writetime, ttlOf(decoded.expiresAt), decoded.value, ...keyParams]);
      return;
    }
    for (const cell of decoded.cells) {
      const params = [cell.writetime, ttlOf(cell.expiresAt)];
      switch (column.type.kind) {
        case 'list':
          await run(`UPDATE ${ks}.${table} ${using} SET ${name} = ${name} + ? ${where}`, [...params, [cell.value], ...keyParams]);
          break;
        case 'set':
          await run(`UPDATE ${ks}.${table} ${using} SET ${name} = ${name} + ? ${where}`, [...params, [cell.key], ...keyParams]);
          break;
        case 'map':
          await run(`UPDATE ${ks}.${table} ${using} SET ${name} = ${name} + ? ${where}`, [...params, new CqlMap([[cell.key, cell.value]]), ...keyParams]);
          break;
        case 'udt':
          await run(`UPDATE ${ks}.${table} ${using} SET ${name}.${q(cell.key as string)} = ? ${where}`, [...params, cell.value, ...keyParams]);
          break;
        default:
          throw new Error(`not multi-cell: ${column.name}`);
      }
    }
  }

  /** The cell without `e`, and `e` apart: expiries are compared within a tolerance. */
  function splitExpiry(cell: Cell): { rest: unknown; e: readonly (number | null)[] } {
    const { e, ...rest } = cell as MultiCell & { e?: number | readonly (number | null)[] };
    return { rest, e: e === undefined ? [] : typeof e === 'number' ? [e] : e };
  }

  beforeAll(async () => {
    installNullListElementFix();
    client = new cassandra.Client({
      contactPoints: [`${settings.host}:${settings.port}`],
      localDataCenter: settings.dc,
      encoding: DRIVER_ENCODING,
    });
    await client.connect();
    await client.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    await client.execute(`CREATE TYPE ${ks}.point (x double, label text)`);
    await client.execute(`CREATE TYPE ${ks}.shape (name text, center frozen<point>, tags frozen<set<text>>)`);
    await client.execute(`CREATE TYPE ${ks}."MyType" (a int, "B" text, c int)`);
    const body = COLUMNS.map((c) => `${q(c.name)} ${c.type}${c.kind === 'static' ? ' static' : ''}`).join(', ');
    for (const table of ['every', 'copy']) {
      await client.execute(`CREATE TABLE ${ks}.${table} (pk int, ck int, ${body}, PRIMARY KEY (pk, ck))`);
      await client.execute(`CREATE TABLE ${ks}.${table}_counts (pk int PRIMARY KEY, n counter, z counter)`);
    }
    await insertEdgeRows();
  });

  afterAll(async () => {
    await client?.execute(`DROP KEYSPACE IF EXISTS ${ks}`);
    await client?.shutdown();
  });

  async function insertEdgeRows(): Promise<void> {
    const names = COLUMNS.map((c) => q(c.name));
    const insert = `INSERT INTO ${ks}.every (pk, ck, ${names.join(', ')}) VALUES (?, ?, ${names.map(() => '?').join(', ')}) USING TIMESTAMP ?`;
    const decimal = (unscaled: string, scale: number): unknown => {
      const magnitude = Buffer.from(BigInt.asUintN(64, BigInt(unscaled)).toString(16).padStart(16, '0'), 'hex');
      const bytes = Buffer.alloc(12);
      bytes.writeInt32BE(scale, 0);
      magnitude.copy(bytes, 4);
      return BigDecimal.fromBuffer(bytes);
    };
    const high: Record<string, unknown> = {
      st: 'static ✓', a: '\u0000~\u007f', bi: 2n ** 63n - 1n, bl: Buffer.alloc(70_000, 0xfe), bo: true,
      da: new LocalDateFromDays(2 ** 31 - 1), de: BigDecimal.fromString(`0.${'0'.repeat(399)}1`), db: NaN,
      du: new Duration(-1, -2, -3), fl: -0, ip: InetAddress.fromString('::ffff:1.2.3.4'), i: -(2 ** 31), si: 32767,
      tx: 'héllo\u0000\n😀', tm: new LocalTime(Long.fromString('86399999999999')), ts: new Date(-86_400_000),
      tu: TimeUuid.fromDate(new Date(0), 0, 'abcdef', 'ab'), ti: -128, uu: Uuid.fromString('00112233-4455-6677-8899-aabbccddeeff'),
      vc: '', vi: 10n ** 400n, l: [3, 1, 2], s: ['b', 'a'], m: new CqlMap([[2, 'two'], [1, 'one']]),
      md: new CqlMap([[-0, 2], [0, 1]]), sd: [0, -0, NaN, -Infinity], ms: new CqlMap<string, unknown>([['k', [Uuid.random()]], ['e', EMPTY]]),
      fll: [EMPTY, [1]], fs: EMPTY, fm: new CqlMap<string, unknown>([['a', EMPTY], ['b', [NaN, -0]]]),
      u: { a: 1, B: null, c: 3 }, fu: { name: 'tri', center: { x: -0, label: null }, tags: EMPTY },
      lu: [{ x: 1.5, label: 'p' }, { x: 2, label: null }], tup: Tuple.fromArray([1, null, EMPTY]),
      v: new Vector([0.5, NaN, -0], 'float'), vt: new Vector(['', 'ü'], 'text'),
    };
    const low: Record<string, unknown> = {
      st: 'static ✓', a: '', bi: -(2n ** 63n), bl: Buffer.alloc(0), bo: false, da: new LocalDateFromDays(-(2 ** 31)),
      de: decimal('150', 2), db: -Infinity, du: new Duration(0, 0, 0), fl: 2 ** -149, ip: InetAddress.fromString('::1'),
      i: 2 ** 31 - 1, si: -32768, tx: '', tm: new LocalTime(Long.ZERO), ts: new Date(-8.64e15), tu: TimeUuid.now(), ti: 127,
      uu: Uuid.random(), vc: 'x', vi: -(10n ** 400n), l: [0], s: [''], m: null, md: null, sd: null, ms: null,
      fll: EMPTY, fs: ['z', 'a'], fm: new CqlMap(), u: { a: null, B: 'only', c: null }, fu: null, lu: null,
      tup: Tuple.fromArray([null, null, null]), v: new Vector([Infinity, -Infinity, 2 ** -149], 'float'), vt: null,
    };
    await run(insert, [1, 1, ...COLUMNS.map((c) => high[c.name]), BASE_TS]);
    await run(insert, [1, 2, ...COLUMNS.map((c) => low[c.name] ?? null), BASE_TS]);
    await run(`INSERT INTO ${ks}.every (pk, ck, i, l, s, u) VALUES (2, 1, 5, [], {}, {a: null, "B": null, c: null}) USING TIMESTAMP ${BASE_TS}`);
    await run(`INSERT INTO ${ks}.every (pk, st) VALUES (3, 'static only') USING TIMESTAMP ${BASE_TS}`);
    // Elements with their own timestamps and TTLs.
    const where = 'WHERE pk = 1 AND ck = 1';
    await run(`UPDATE ${ks}.every USING TIMESTAMP 2000000 AND TTL 86400 SET s = s + {'late'} ${where}`);
    await run(`UPDATE ${ks}.every USING TIMESTAMP 3000000 SET m = m + {7: 'seven'} ${where}`);
    await run(`UPDATE ${ks}.every USING TIMESTAMP 4000000 AND TTL 500 SET m = m + {8: 'eight'} ${where}`);
    await run(`UPDATE ${ks}.every USING TIMESTAMP 5000000 AND TTL 600 SET u.c = 33 ${where}`);
    await run(`UPDATE ${ks}.every USING TIMESTAMP 6000000 AND TTL 700 SET l = l + [9] ${where}`);
    await run(`UPDATE ${ks}.every USING TIMESTAMP 9007199254740993 AND TTL 800 SET i = 7 WHERE pk = 1 AND ck = 2`);
    await run(`UPDATE ${ks}.every USING TIMESTAMP -5 SET vc = 'neg' WHERE pk = 2 AND ck = 1`);
    await run(`UPDATE ${ks}.every_counts SET n = n + 9223372036854775807, z = z + -1 WHERE pk = 1`);
    await run(`UPDATE ${ks}.every_counts SET n = n + -9223372036854775807 WHERE pk = 2`);
    await run(`UPDATE ${ks}.every_counts SET n = n + -1 WHERE pk = 2`);
  }

  it('returns what the spec says for WRITETIME/TTL of multi-cell columns', async () => {
    const rows = await readRows('every');
    const high = rows.get('[1,1]') ?? {};
    const readAt = nowSeconds();
    const near = (actual: number | null | undefined, expected: number): void => {
      expect(actual).not.toBeNull();
      expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(3);
    };
    const base = Number(BASE_TS);
    // set<text>: element order (comparator order) with the element's own timestamp and expiry.
    const s = high.s as MultiCell;
    expect(s.v).toEqual(['a', 'b', 'late']);
    expect(s.t).toEqual([base, base, 2_000_000]);
    expect(s.e?.slice(0, 2)).toEqual([null, null]);
    near(s.e?.[2], readAt + 86_400);
    // map<int, text>: key order; an element without TTL has null in e.
    const m = high.m as MultiCell;
    expect(m.v).toEqual([[1, 'one'], [2, 'two'], [7, 'seven'], [8, 'eight']]);
    expect(m.t).toEqual([base, base, 3_000_000, 4_000_000]);
    expect(m.e?.slice(0, 3)).toEqual([null, null, null]);
    near(m.e?.[3], readAt + 500);
    // list<int>: index order, appended element last.
    const l = high.l as MultiCell;
    expect(l.v).toEqual([3, 1, 2, 9]);
    expect(l.t).toEqual([base, base, base, 6_000_000]);
    near(l.e?.[3], readAt + 700);
    // Non-frozen UDT: one entry per field, null for the field without a cell (needs the list fix).
    const u = high.u as MultiCell;
    expect(u.v).toEqual({ a: 1, B: null, c: 33 });
    expect(u.t).toEqual([base, null, 5_000_000]);
    expect(u.e?.slice(0, 2)).toEqual([null, null]);
    near(u.e?.[2], readAt + 600);
    // Both zeros of a double are distinct keys / elements in Cassandra; CqlMap and arrays keep them.
    expect(high.md?.v).toEqual([['-0', 2], [0, 1]]);
    expect((high.md as MultiCell).t).toHaveLength(2);
    expect(high.sd?.v).toEqual(['-Infinity', '-0', 0, 'NaN']);
    expect((high.sd as MultiCell).t).toHaveLength(4);
    // A UDT with nulls at both ends.
    expect(rows.get('[1,2]')?.u).toEqual({ v: { a: null, B: 'only', c: null }, t: [null, base, null] });
    // A timestamp beyond 2^53 is a string; a negative one a number.
    expect(rows.get('[1,2]')?.i).toMatchObject({ v: 7, t: '9007199254740993' });
    expect(rows.get('[2,1]')?.vc).toEqual({ v: 'neg', t: -5 });
  });

  it('leaves out empty non-frozen collections and UDTs without field cells (value, WRITETIME, TTL all null)', async () => {
    const row = (await run(`SELECT l, WRITETIME(l), TTL(l), s, WRITETIME(s), u, WRITETIME(u), TTL(u) FROM ${ks}.every WHERE pk = 2 AND ck = 1`)).first();
    expect(row.values()).toEqual([null, null, null, null, null, null, null, null]);
    const rows = await readRows('every');
    expect(Object.keys(rows.get('[2,1]') ?? {}).sort()).toEqual(['i', 'vc']);
    // Empty frozen collections are real values with a timestamp.
    expect(rows.get('[1,2]')?.fll).toEqual({ v: [], t: Number(BASE_TS) });
    expect(rows.get('[1,1]')?.fs).toEqual({ v: [], t: Number(BASE_TS) });
    expect(rows.get('[1,1]')?.ip?.v).toBe('::ffff:1.2.3.4');
    // A partition with only a static column: one row, clustering key null.
    expect(rows.get('[3,null]')).toEqual({ st: { v: 'static only', t: Number(BASE_TS) } });
  });

  it('rejects WRITETIME/TTL on primary-key columns, accepts them on counters (TTL always null)', async () => {
    await expect(run(`SELECT WRITETIME(ck) FROM ${ks}.every`)).rejects.toThrow(/Cannot use selection function writetime on PRIMARY KEY part ck/);
    await expect(run(`SELECT TTL(pk) FROM ${ks}.every`)).rejects.toThrow(/PRIMARY KEY part pk/);
    const row = (await run(`SELECT n, WRITETIME(n), TTL(n) FROM ${ks}.every_counts WHERE pk = 1`)).first();
    expect(row.get(0)).toBe(2n ** 63n - 1n);
    expect(typeof row.get(1)).toBe('bigint');
    // Counter timestamps are microseconds like any other write.
    expect(Math.abs(Number(row.get(1) as bigint) / 1000 - Date.now())).toBeLessThan(10 * 60_000);
    expect(row.get(2)).toBeNull();
  });

  it('restores every cell exactly: encode → JSON text → decode → write → read gives the same JSON', async () => {
    const original = await readRows('every');
    for (const [keyText, cells] of original) {
      // Through NDJSON text, as a chunk stores it.
      const line = JSON.stringify({ k: JSON.parse(keyText) as JsonValue, c: cells });
      const parsed = JSON.parse(line) as { k: [number, number | null]; c: Record<string, JsonValue> };
      for (const column of columns) {
        const cell = parsed.c[column.name];
        if (cell !== undefined) await restoreCell('copy', parsed.k, column, cell);
      }
    }
    const copy = await readRows('copy');
    expect([...copy.keys()].sort()).toEqual([...original.keys()].sort());
    for (const [key, cells] of original) {
      const copied = copy.get(key) ?? {};
      expect(Object.keys(copied).sort(), key).toEqual(Object.keys(cells).sort());
      for (const [name, cell] of Object.entries(cells)) {
        const a = splitExpiry(cell);
        const b = splitExpiry(copied[name] as Cell);
        expect(JSON.stringify(b.rest), `${key} ${name}`).toBe(JSON.stringify(a.rest));
        expect(b.e.map((x) => x === null), `${key} ${name} e`).toEqual(a.e.map((x) => x === null));
        a.e.forEach((expiry, i) => {
          if (expiry !== null) expect(Math.abs((b.e[i] as number) - expiry)).toBeLessThanOrEqual(2);
        });
      }
    }
    // The 16-byte IPv4-mapped address stayed 16 bytes.
    const ip = (await run(`SELECT ip FROM ${ks}.copy WHERE pk = 1 AND ck = 1`)).first().get(0) as cassandra.types.InetAddress;
    expect(ip.getBuffer()).toHaveLength(16);
  });

  it('restores counters by increment (no timestamp or TTL can be written)', async () => {
    const counterColumns: CellColumn[] = [{ name: 'n', type: parseCqlType('counter') }, { name: 'z', type: parseCqlType('counter') }];
    const projection = cellProjection(counterColumns);
    const read = async (table: string): Promise<Record<string, JsonValue>> => {
      const result = await run(`SELECT pk, ${projection.selectors.join(', ')} FROM ${ks}.${table}`);
      const out: Record<string, JsonValue> = {};
      for (const row of result.rows) {
        const cells = projection.encodeCells(row.values(), 1, nowSeconds());
        out[String(row.get(0))] = Object.fromEntries(Object.entries(cells).map(([name, cell]) => {
          expect(cell).not.toHaveProperty('e');
          return [name, cell.v];
        }));
      }
      return out;
    };
    const original = await read('every_counts');
    expect(original).toEqual({ 1: { n: '9223372036854775807', z: '-1' }, 2: { n: '-9223372036854775808' } });
    for (const [pk, cells] of Object.entries(original)) {
      for (const column of counterColumns) {
        const json = (cells as Record<string, JsonValue>)[column.name];
        if (json === undefined) continue;
        const decoded = decodeCell(column, { v: json, t: 0 });
        await run(`UPDATE ${ks}.copy_counts SET ${column.name} = ${column.name} + ? WHERE pk = ?`, [decoded.value, Number(pk)]);
      }
    }
    expect(await read('copy_counts')).toEqual(original);
  });
});
