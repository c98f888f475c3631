// Export hot path benchmark helpers (docs/benchmarks.md, "Export hot path").
// Usage:
//   node bench/export-hot-path.mjs load  --rows 300000 [--keyspace exp_bench]   load issue 12's wide rows
//   node bench/export-hot-path.mjs read  [--keyspace exp_bench] [--parallel 4] [--fetch-size 2000]
//        the ceiling: the backup's SELECT (every cell with WRITETIME and TTL) read through
//        cassandra-driver by token range and thrown away; prints rows, wall and CPU seconds.
// Connection: CASSANDRA_HOST (127.0.0.1), CASSANDRA_PORT (9042), CASSANDRA_DC (datacenter1).
import cassandra from 'cassandra-driver';
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';

const args = process.argv.slice(2);
const command = args[0];
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : args[i + 1];
};
const keyspace = flag('keyspace', 'exp_bench');
const rows = Number(flag('rows', '300000'));
const client = new cassandra.Client({
  contactPoints: [`${process.env.CASSANDRA_HOST ?? '127.0.0.1'}:${process.env.CASSANDRA_PORT ?? '9042'}`],
  localDataCenter: process.env.CASSANDRA_DC ?? 'datacenter1',
  socketOptions: { readTimeout: 120_000 },
  encoding: { useBigIntAsLong: true, useBigIntAsVarint: true, map: Map },
  ...(process.env.CASSANDRA_USERNAME ? { credentials: { username: process.env.CASSANDRA_USERNAME, password: process.env.CASSANDRA_PASSWORD ?? '' } } : {}),
});
await client.connect();
try {
  if (command === 'load') await load();
  else if (command === 'read') await read();
  else throw new Error('usage: export-hot-path.mjs load|read …');
} finally {
  await client.shutdown();
}

async function load() {
  await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
  await client.execute(`CREATE TABLE ${keyspace}.wide (tenant uuid, shard bigint, at timestamp, secret_a blob, secret_b blob, note text, score double, key_version text,
    PRIMARY KEY ((tenant, shard), at))`);
  // Two writes per row with different timestamps, so cells carry their own writetimes; 10% with a TTL.
  const insert = `INSERT INTO ${keyspace}.wide (tenant, shard, at, secret_a, note, score) VALUES (?, ?, ?, ?, ?, ?) USING TTL ? AND TIMESTAMP ?`;
  const update = `UPDATE ${keyspace}.wide USING TTL ? AND TIMESTAMP ? SET secret_b = ?, key_version = ? WHERE tenant = ? AND shard = ? AND at = ?`;
  const base = 1_700_000_000_000_000n;
  const fernet = () => Buffer.from(`gAAAAA${randomBytes(84).toString('base64url')}`.slice(0, 120));
  const note = () => randomBytes(45).toString('base64').slice(0, 60);
  let tenant = randomUUID();
  const params = function* () {
    for (let i = 0; i < rows; i++) {
      if (i % 4 === 0) tenant = randomUUID();
      const shard = BigInt(i % 7);
      const at = new Date(1_700_000_000_000 + i * 1000);
      const ttl = i % 10 === 0 ? 30 * 86400 : 0;
      const ts = base + BigInt(i) * 1000n;
      yield { kind: 'i', p: [cassandra.types.Uuid.fromString(tenant), shard, at, fernet(), note(), Math.random() * 1e6, ttl, ts] };
      yield { kind: 'u', p: [ttl, ts + 17n, fernet(), i % 3 === 0 ? 'k2' : 'k1', cassandra.types.Uuid.fromString(tenant), shard, at] };
    }
  };
  const started = Date.now();
  const source = Readable.from((function* () { for (const x of params()) yield x; })());
  const inFlight = new Set();
  for await (const item of source) {
    const promise = client.execute(item.kind === 'i' ? insert : update, item.p, { prepare: true }).finally(() => inFlight.delete(promise));
    inFlight.add(promise);
    if (inFlight.size >= 96) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  console.log(`loaded ${rows} rows into ${keyspace}.wide in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function read() {
  const parallel = Number(flag('parallel', '4'));
  const fetchSize = Number(flag('fetch-size', '2000'));
  const cols = ['secret_a', 'secret_b', 'note', 'score', 'key_version'];
  const select = ['tenant', 'shard', 'at', ...cols.flatMap((c) => [c, `WRITETIME(${c})`, `TTL(${c})`])].join(', ');
  const cql = `SELECT ${select} FROM ${keyspace}.wide WHERE token(tenant, shard) > ? AND token(tenant, shard) <= ?`;
  const splits = Number(flag('splits', '64'));
  const min = -(2n ** 63n);
  const width = (2n ** 64n - 1n) / BigInt(splits);
  const ranges = Array.from({ length: splits }, (_, i) => [min + width * BigInt(i), i === splits - 1 ? 2n ** 63n - 1n : min + width * BigInt(i + 1)]);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let count = 0;
  let next = 0;
  const worker = async () => {
    while (next < ranges.length) {
      const [start, end] = ranges[next++];
      let pageState;
      do {
        const rs = await client.execute(cql, [start, end], { prepare: true, fetchSize, pageState });
        count += rs.rows.length;
        pageState = rs.pageState;
      } while (pageState);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ rows: count, wallS: +wall.toFixed(2), cpuS: +((cpu.user + cpu.system) / 1e6).toFixed(2), rowsPerS: Math.round(count / wall), rssMiB: Math.round(process.resourceUsage().maxRSS / 1024) }));
}
