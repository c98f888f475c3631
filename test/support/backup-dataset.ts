/**
 * A keyspace for backup tests with known contents: a wide partition (12,000 rows), many small
 * partitions (~100,000 rows in all), explicitly timestamped and TTL'd cells, static columns,
 * key-only rows and counters. `expected` holds, per table, the exact NDJSON row each source row
 * must become (docs/format.md §6), keyed by its `k` array, with expiries as [min, max] windows.
 */
import { randomBytes } from 'node:crypto';
import cassandra from 'cassandra-driver';
import { ALL_TYPES_ROW_COUNT, allTypesRows, allTypesSchema } from '../fixtures/all-types.mjs';

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
  /** The keyspace's replication as CQL; default `{'class': 'SimpleStrategy', 'replication_factor': 1}`. */
  readonly replication?: string;
}

/** Creates and fills the keyspace. Takes ~10 s for the default 100,000 rows on two cores. */
export async function createDataset(client: cassandra.Client, keyspace: string, options: DatasetOptions = {}): Promise<Dataset> {
  const wideRows = options.wideRows ?? 12_000;
  const smallPartitions = options.smallPartitions ?? 8_800;
  const perSmall = options.rowsPerSmallPartition ?? 10;
  await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = ${options.replication ?? "{'class': 'SimpleStrategy', 'replication_factor': 1}"}`);
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

/** `all_types` (test/fixtures/all-types.mjs). Returns its row count. */
async function createAllTypes(client: cassandra.Client, ks: string): Promise<number> {
  for (const cql of [...allTypesSchema(ks), ...allTypesRows(ks, { rowTtl: 3600, elementTtl: 7200 })]) await client.execute(cql);
  return ALL_TYPES_ROW_COUNT;
}

/**
 * A keyspace (RF 1) with one plain table `events (id int, seq int, payload text)` of `rows` rows,
 * `perPartition` to a partition, all written at `timestamp` (µs) when given — the shape the
 * many-worker, deploy and metrics tests read and write.
 */
export async function createEventsKeyspace(client: cassandra.Client, keyspace: string, rows: number, options: { perPartition: number; timestamp?: number }): Promise<void> {
  await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
  await client.execute(`CREATE TABLE ${keyspace}.events (id int, seq int, payload text, PRIMARY KEY ((id), seq))`);
  const params = Array.from({ length: rows }, (_, i) => [Math.floor(i / options.perPartition), i % options.perPartition, `payload-${i}`]);
  const using = options.timestamp === undefined ? '' : ` USING TIMESTAMP ${options.timestamp}`;
  await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${keyspace}.events (id, seq, payload) VALUES (?, ?, ?)${using}`, params, { concurrencyLevel: 96 });
}
