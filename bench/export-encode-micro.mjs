// Micro-benchmark of the export's per-row work on real rows (docs/benchmarks.md, "Export hot path"):
// reads `--rows` rows of exp_bench.wide once through the driver (the backup's SELECT and client
// settings), then times encodeRow + join + gzip of them, alternating the two builds given.
// Usage: [NO_GZIP=1] CASSANDRA_PORT=… node bench/export-encode-micro.mjs <distA> <distB> [--rows 20000] [--rounds 5]
import cassandra from 'cassandra-driver';
import { gzipSync } from 'node:zlib';
import { resolve } from 'node:path';

const [distA, distB] = process.argv.slice(2, 4).map((d) => resolve(d));
const flag = (name, fallback) => { const i = process.argv.indexOf(`--${name}`); return i === -1 ? fallback : process.argv[i + 1]; };
const want = Number(flag('rows', '20000'));
const rounds = Number(flag('rounds', '5'));
const load = async (dist) => ({
  capture: await import(`${dist}/cassandra/schema/capture.js`),
  reader: await import(`${dist}/cassandra/reads/table-reader.js`),
  codec: await import(`${dist}/cassandra/values/value-codec.js`),
});
const A = await load(distA);
const B = await load(distB);
const client = new cassandra.Client({
  contactPoints: [`127.0.0.1:${process.env.CASSANDRA_PORT ?? '9042'}`], localDataCenter: 'datacenter1', encoding: A.codec.DRIVER_ENCODING,
});
await client.connect();
const schema = await A.capture.captureKeyspace({ execute: async (cql, params, options) => { const rs = await client.execute(cql, params, options); return { rows: rs.rows, pageState: rs.pageState ?? undefined }; } }, 'exp_bench');
const readerA = A.reader.tableReaderFor(schema, 'wide');
const readerB = B.reader.tableReaderFor(schema, 'wide');
const rows = [];
let pageState;
do {
  const rs = await client.execute(readerA.cql, [-(2n ** 63n), 2n ** 63n - 1n], { prepare: true, fetchSize: 5000, pageState });
  rows.push(...rs.rows);
  pageState = rs.pageState ?? undefined;
} while (pageState !== undefined && rows.length < want);
await client.shutdown();
const readAt = Math.floor(Date.now() / 1000);
for (let i = 0; i < rows.length; i++) {
  if (readerA.encodeRow(rows[i], readAt) !== readerB.encodeRow(rows[i], readAt)) throw new Error(`row ${i} differs`);
}
const time = (reader) => {
  const cpu = process.cpuUsage();
  let bytes = 0;
  for (let start = 0; start < rows.length; start += 2000) {
    const lines = rows.slice(start, start + 2000).map((row) => reader.encodeRow(row, readAt));
    const buffer = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    bytes += process.env.NO_GZIP ? buffer.length : gzipSync(buffer, { level: 1 }).length;
  }
  const used = process.cpuUsage(cpu);
  return { us: (used.user + used.system) / rows.length, bytes };
};
console.error(`captured ${rows.length} rows`);
const results = { A: [], B: [] };
for (let r = 0; r < rounds; r++) {
  results.A.push(time(readerA).us);
  results.B.push(time(readerB).us);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log('min', Math.min(...results.A).toFixed(2), Math.min(...results.B).toFixed(2));
console.log(JSON.stringify({ rows: rows.length, identical: true, cpuMicrosPerRow: { A: +median(results.A).toFixed(2), B: +median(results.B).toFixed(2) }, all: results }));
