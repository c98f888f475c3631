/**
 * A keyspace for backup tests with known contents: a wide partition (12,000 rows), many small
 * partitions (~100,000 rows in all), explicitly timestamped and TTL'd cells, static columns,
 * key-only rows and counters. `expected` holds, per table, the exact NDJSON row each source row
 * must become (docs/format.md §6), keyed by its `k` array, with expiries as [min, max] windows.
 */
import { randomBytes } from 'node:crypto';
import cassandra from 'cassandra-driver';

export interface ExpectedCell {
  readonly v: unknown;
  readonly t: number;
  /** Acceptable absolute-expiry window (inclusive), or absent when the cell has no TTL. */
  readonly e?: readonly [number, number];
}

export interface ExpectedRow {
  readonly k: readonly unknown[];
  readonly c: Readonly<Record<string, ExpectedCell>>;
}

export interface Dataset {
  readonly keyspace: string;
  readonly tables: readonly string[];
  /** table → JSON.stringify(k) → expected row */
  readonly expected: ReadonlyMap<string, ReadonlyMap<string, ExpectedRow>>;
  readonly totalRows: number;
  /** Rows of `all_types`, whose expectation is a live read (see backup.test.ts), not `expected`. */
  readonly allTypesRows: number;
}

const BASE_TS = 1_700_000_000_000_000; // µs
const TTL = 86_400;

export interface DatasetOptions {
  readonly wideRows?: number;
  readonly smallPartitions?: number;
  readonly rowsPerSmallPartition?: number;
}

/** Creates and fills the keyspace. Takes ~10 s for the default 100,000 rows on two cores. */
export async function createDataset(client: cassandra.Client, keyspace: string, options: DatasetOptions = {}): Promise<Dataset> {
  const wideRows = options.wideRows ?? 12_000;
  const smallPartitions = options.smallPartitions ?? 8_800;
  const perSmall = options.rowsPerSmallPartition ?? 10;
  await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
  await client.execute(`CREATE TABLE ${keyspace}.events (pk int, ck int, payload blob, note text, PRIMARY KEY (pk, ck))`);
  await client.execute(`CREATE TABLE ${keyspace}.profiles (pk int, ck int, tier text static, score int, PRIMARY KEY (pk, ck))`);
  await client.execute(`CREATE TABLE ${keyspace}.keys_only (pk int, ck text, PRIMARY KEY (pk, ck))`);
  await client.execute(`CREATE TABLE ${keyspace}.hits (page text PRIMARY KEY, views counter)`);
  const expected = new Map<string, Map<string, ExpectedRow>>();
  const put = (table: string, row: ExpectedRow): void => {
    let rows = expected.get(table);
    if (rows === undefined) expected.set(table, (rows = new Map()));
    rows.set(JSON.stringify(row.k), row);
  };

  // events: every row has an explicit timestamp; every 10th note carries a TTL.
  const insertPlain = `INSERT INTO ${keyspace}.events (pk, ck, payload, note) VALUES (?, ?, ?, ?) USING TIMESTAMP ?`;
  const insertTtl = `INSERT INTO ${keyspace}.events (pk, ck, payload, note) VALUES (?, ?, ?, ?) USING TIMESTAMP ? AND TTL ${TTL}`;
  const plain: unknown[][] = [];
  const ttl: unknown[][] = [];
  const addEvent = (pk: number, ck: number, i: number): void => {
    const payload = randomBytes(48);
    const note = i % 7 === 0 ? '' : `note ${i} ✓\n"quoted"`;
    const ts = BASE_TS + i;
    (i % 10 === 0 ? ttl : plain).push([pk, ck, payload, note, cassandra.types.Long.fromNumber(ts)]);
    const expiring = i % 10 === 0;
    put('events', {
      k: [pk, ck],
      c: {
        payload: { v: payload.toString('base64'), t: ts, ...(expiring ? { e: [0, 0] as const } : {}) },
        note: { v: note, t: ts, ...(expiring ? { e: [0, 0] as const } : {}) },
      },
    });
  };
  let i = 0;
  for (let ck = 0; ck < wideRows; ck++) addEvent(0, ck, i++);
  for (let pk = 1; pk <= smallPartitions; pk++) for (let ck = 0; ck < perSmall; ck++) addEvent(pk, ck, i++);
  const before = Math.floor(Date.now() / 1000);
  await cassandra.concurrent.executeConcurrent(client, insertPlain, plain, { concurrencyLevel: 64 });
  await cassandra.concurrent.executeConcurrent(client, insertTtl, ttl, { concurrencyLevel: 64 });
  const after = Math.ceil(Date.now() / 1000);
  for (const row of expected.get('events')?.values() ?? []) {
    for (const cell of Object.values(row.c) as ExpectedCell[]) {
      if (cell.e !== undefined) (cell as { e: readonly [number, number] }).e = [before + TTL - 1, after + TTL + 1];
    }
  }

  // profiles: a static column; partition 1 has rows, partition 2 only its static value.
  await client.execute(`INSERT INTO ${keyspace}.profiles (pk, tier) VALUES (1, 'gold') USING TIMESTAMP ${BASE_TS}`);
  await client.execute(`INSERT INTO ${keyspace}.profiles (pk, tier) VALUES (2, 'static only') USING TIMESTAMP ${BASE_TS + 1}`);
  for (let ck = 0; ck < 3; ck++) {
    await client.execute(`INSERT INTO ${keyspace}.profiles (pk, ck, score) VALUES (1, ${ck}, ${ck * 10}) USING TIMESTAMP ${BASE_TS + 10 + ck}`);
    put('profiles', { k: [1, ck], c: { tier: { v: 'gold', t: BASE_TS }, score: { v: ck * 10, t: BASE_TS + 10 + ck } } });
  }
  put('profiles', { k: [2, null], c: { tier: { v: 'static only', t: BASE_TS + 1 } } });

  // keys_only: rows that exist only through their primary key.
  for (let pk = 0; pk < 50; pk++) {
    await client.execute(`INSERT INTO ${keyspace}.keys_only (pk, ck) VALUES (${pk}, 'k${pk}') USING TIMESTAMP ${BASE_TS}`);
    put('keys_only', { k: [pk, `k${pk}`], c: {} });
  }

  // hits: counters (their write timestamps are the server's, so `t` is checked loosely).
  for (let p = 0; p < 20; p++) {
    await client.execute(`UPDATE ${keyspace}.hits SET views = views + ${p * 1000 + 1} WHERE page = 'page-${p}'`);
    put('hits', { k: [`page-${p}`], c: { views: { v: String(p * 1000 + 1), t: -1 } } });
  }

  const allTypes = await createAllTypes(client, keyspace);
  const totalRows = [...expected.values()].reduce((n, rows) => n + rows.size, 0) + allTypes;
  return { keyspace, tables: ['all_types', 'events', 'hits', 'keys_only', 'profiles'], expected, totalRows, allTypesRows: allTypes };
}

/**
 * `all_types`: every CQL type and shape of docs/format.md §6.3 — edge values, empty values, nulls,
 * frozen and non-frozen collections and user types with per-element timestamps and TTLs, a nested
 * user type, tuples with null fields, vectors, a static column. Returns its row count.
 */
async function createAllTypes(client: cassandra.Client, ks: string): Promise<number> {
  await client.execute(`CREATE TYPE ${ks}.point (x double, label text)`);
  await client.execute(`CREATE TYPE ${ks}.shape (name text, center frozen<point>, tags frozen<set<text>>)`);
  await client.execute(`CREATE TABLE ${ks}.all_types (
    pk int, ck int, st text STATIC,
    a ascii, bi bigint, bl blob, bo boolean, da date, de decimal, db double, du duration, fl float, ip inet,
    i int, si smallint, tx text, tm time, ts timestamp, tu timeuuid, ti tinyint, uu uuid, vc varchar, vi varint,
    l list<int>, s set<text>, m map<int, text>, md map<double, int>, fll frozen<list<frozen<list<int>>>>,
    fs frozen<set<text>>, fm frozen<map<text, frozen<list<double>>>>, u shape, fu frozen<shape>,
    tup frozen<tuple<int, text, frozen<list<int>>>>, v vector<float, 3>,
    PRIMARY KEY (pk, ck))`);
  const statements = [
    `INSERT INTO ${ks}.all_types (pk, ck, st, a, bi, bl, bo, da, de, db, du, fl, ip, i, si, tx, tm, ts, tu, ti, uu, vc, vi,
       l, s, m, md, fll, fs, fm, u, fu, tup, v) VALUES (1, 1, 'static ✓', 'ascii', 9223372036854775807, 0xcafe00ff, true,
       '4294967295', 1.50, NaN, -1mo2d3ns, -0.0, '2001:db8::1', 2147483647, 32767, 'héllo ✓ 🎉
"x"', '23:59:59.999999999',
       -1, 50554d6e-29bb-11e5-b345-feff819cdc9f, 127, 3f2504e0-4f89-41d3-9a0c-0305e82c3301, '', 123456789012345678901234567890123456789,
       [3, 1, 2, 1], {'b', 'a'}, {2: 'two', 1: 'one'}, {-0.0: 1, 0.0: 2}, [[1, 2], [], [3]], {'z', 'y'}, {'k': [1.5, -2.25]},
       {name: 'n', center: {x: 1.5, label: null}, tags: {'t'}}, {name: 'frozen', center: null, tags: {}},
       (1, null, [7]), [0.5, -1.25, 3]) USING TIMESTAMP 1700000000000000`,
    `INSERT INTO ${ks}.all_types (pk, ck, bi, db, fl, de, vi, da, tm, ts, i, si, ti, bl, ip, du, tx)
       VALUES (1, 2, -9223372036854775808, -Infinity, Infinity, 0.000000000000000000000000000000000001, -98765432109876543210987654321,
       '0', '00:00:00', '1901-12-13 20:45:52.001+0000', -2147483648, -32768, -128, 0x, '10.0.0.1', 89h4m48s, '')
       USING TIMESTAMP 1600000000000000 AND TTL 3600`,
    `UPDATE ${ks}.all_types USING TIMESTAMP 1700000000000005 AND TTL 7200 SET m = m + {3: 'three'}, s = s + {'c'} WHERE pk = 1 AND ck = 1`,
    `UPDATE ${ks}.all_types USING TIMESTAMP 1700000000000006 SET u.name = 'renamed' WHERE pk = 1 AND ck = 1`,
    `INSERT INTO ${ks}.all_types (pk, st) VALUES (2, 'static only') USING TIMESTAMP 1700000000000007`,
    `INSERT INTO ${ks}.all_types (pk, ck) VALUES (3, 1) USING TIMESTAMP 1700000000000008`,
  ];
  for (const cql of statements) await client.execute(cql);
  return 4;
}
