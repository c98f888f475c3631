// The ceiling for an export: the same rows and the same content a backup reads (every column, and the
// WRITETIME and TTL of every regular cell), read through cassandra-driver alone and thrown away.
// 16 equal token ranges, 4 at a time, prepared, 5,000 rows per page; prints `{"rows": n}`.
//
//   node bench/peers/driver-read.mjs <host> <port> <dc> <keyspace>
import cassandra from 'cassandra-driver';
import { TABLE } from './dataset.mjs';

const [host, port, dc, keyspace] = process.argv.slice(2);
const RANGES = 16;
const PARALLEL = 4;
const regular = ['secret', 'card', 'note', 'amount', 'key_version'];
const query = `SELECT id, shard, at, ${regular.map((c) => `${c}, writetime(${c}), ttl(${c})`).join(', ')} FROM ${keyspace}.${TABLE} ` +
  'WHERE token(id, shard) > ? AND token(id, shard) <= ?';
const client = new cassandra.Client({ contactPoints: [`${host}:${port}`], localDataCenter: dc });
await client.connect();
const min = -(2n ** 63n);
const span = (2n ** 64n) / BigInt(RANGES);
const ranges = Array.from({ length: RANGES }, (_, i) => [min + span * BigInt(i), i === RANGES - 1 ? 2n ** 63n - 1n : min + span * BigInt(i + 1)]);
let rows = 0;
let next = 0;
const worker = async () => {
  while (next < ranges.length) {
    const [start, end] = ranges[next++];
    const params = [cassandra.types.Long.fromString(start.toString()), cassandra.types.Long.fromString(end.toString())];
    for await (const row of client.stream(query, params, { prepare: true, fetchSize: 5000 })) if (row) rows++;
  }
};
await Promise.all(Array.from({ length: PARALLEL }, worker));
await client.shutdown();
console.log(JSON.stringify({ rows }));
