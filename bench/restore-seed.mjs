// Seeds, without Cassandra, a backup shaped like issue 12's dataset straight into a directory
// repository through cassette's own chunk writer (dist/, docs/format.md): table
//   wide (tenant uuid, shard bigint, at timestamp, token_a blob, token_b blob, note text,
//         amount double, key_version text, PRIMARY KEY ((tenant, shard), at))
// with ~120-byte blobs (Fernet-token sized), a 60-character text, every cell with its own
// writetime, and every tenth row's cells expiring (30 days from the seeding). Rows of one partition
// are consecutive (--rows-per-partition, default 10), partitions sorted by Murmur3 token into 16
// ranges, chunks of at most 8 MiB of NDJSON (the backup default), gzip level 1.
//
//   npm run build && node bench/restore-seed.mjs --rows 300000 --dir /tmp/cassette-bench-restore
//
// Prints the backup id; reused while --rows and --rows-per-partition match (unless --reseed).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const dist = (path) => import(new URL(`../dist/${path}`, import.meta.url).href);
const { murmur3Token } = await dist('cassandra/ring/murmur3.js');
const { writeChunks } = await dist('pipeline/export/chunk-writer.js');
const { FORMAT_VERSION } = await dist('manifest/format.js');
const { backupHeaderKey, chunkKey, chunkRelativeKey, manifestKey, markerKey, schemaCqlKey } = await dist('manifest/keys.js');
const { writeDocument } = await dist('manifest/repository.js');
const { buildManifest } = await dist('commands/backup.js');
const { FsStore } = await dist('storage/fs-store.js');
const { schemaFingerprint } = await dist('cassandra/schema/model.js');

const argv = process.argv.slice(2);
const opt = (name, fallback) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : fallback; };
const rows = Number(opt('--rows', '300000'));
const perPartition = Number(opt('--rows-per-partition', '10'));
const dir = opt('--dir', join(tmpdir(), 'cassette-bench-restore'));
const RANGES = 16;
const KEYSPACE = 'bench_wide';
const SOURCE_ID = '20261204T000000Z-10ad00';
const repo = join(dir, 'repo');
const seedFile = join(dir, 'seed.json');

if (!argv.includes('--reseed') && existsSync(seedFile)) {
  const seeded = JSON.parse(readFileSync(seedFile, 'utf8'));
  if (seeded.rows === rows && seeded.perPartition === perPartition) {
    console.log(JSON.stringify(seeded));
    process.exit(0);
  }
}
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const started = performance.now();
const store = new FsStore(repo);
const columns = [
  ['tenant', 'uuid', 'partition_key', 0], ['shard', 'bigint', 'partition_key', 1], ['at', 'timestamp', 'clustering', 0],
  ['amount', 'double', 'regular', -1], ['key_version', 'text', 'regular', -1], ['note', 'text', 'regular', -1],
  ['token_a', 'blob', 'regular', -1], ['token_b', 'blob', 'regular', -1],
].map(([name, type, kind, position]) => ({ name, type, kind, position, ...(kind === 'clustering' ? { order: 'asc' } : {}) }));
const cql = `CREATE TABLE ${KEYSPACE}.wide (tenant uuid, shard bigint, at timestamp, amount double, key_version text, note text, token_a blob, token_b blob, PRIMARY KEY ((tenant, shard), at))`;
const schema = {
  name: KEYSPACE, replication: { class: 'org.apache.cassandra.locator.SimpleStrategy', replication_factor: '1' }, durableWrites: true,
  types: [], tables: [{ name: 'wide', columns, options: {}, isCounter: false, cql }], indexes: [], views: [],
};
const uuidText = (b) => `${b.toString('hex', 0, 4)}-${b.toString('hex', 4, 6)}-${b.toString('hex', 6, 8)}-${b.toString('hex', 8, 10)}-${b.toString('hex', 10, 16)}`;
const partitions = Math.ceil(rows / perPartition);
const keys = Array.from({ length: partitions }, (_, p) => {
  const id = randomBytes(16);
  const shard = BigInt(p % 64);
  const serialized = Buffer.alloc(2 + 16 + 1 + 2 + 8 + 1); // composite partition key: (len, bytes, 0) per component
  serialized.writeUInt16BE(16, 0); id.copy(serialized, 2); serialized[18] = 0;
  serialized.writeUInt16BE(8, 19); serialized.writeBigInt64BE(shard, 21); serialized[29] = 0;
  return { p, tenant: uuidText(id), shard: shard.toString(), token: murmur3Token(serialized) };
}).sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
const span = (2n ** 64n) / BigInt(RANGES);
const bounds = Array.from({ length: RANGES }, (_, index) => {
  const start = -(2n ** 63n) + span * BigInt(index);
  return { index, start, end: index === RANGES - 1 ? 2n ** 63n - 1n : start + span };
});
const header = {
  formatVersion: FORMAT_VERSION, kind: 'cassette-backup', backupId: SOURCE_ID, createdAt: new Date().toISOString(),
  tool: { name: 'cassette', version: 'bench' },
  cluster: { name: 'bench', partitioner: 'org.apache.cassandra.dht.Murmur3Partitioner', releaseVersion: '5.0.8' },
  keyspace: schema, schemaFingerprint: schemaFingerprint(schema),
  options: { compression: 'gzip', gzipLevel: 1, maxChunkBytes: 8 << 20, consistency: 'LOCAL_QUORUM' },
  tables: [{ name: 'wide', ranges: bounds.map(({ index, start, end }) => ({ index, start: start.toString(), end: end.toString() })) }],
};
await writeDocument(store, backupHeaderKey(SOURCE_ID), header);
await store.put(schemaCqlKey(SOURCE_ID), `CREATE KEYSPACE ${KEYSPACE} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};\n${cql};\n`, { ifAbsent: true });
const nowMicros = Date.now() * 1000;
const expiry = Math.floor(Date.now() / 1000) + 30 * 24 * 3600;
const markers = new Map([['wide', new Map()]]);
let written = 0;
for (const range of bounds) {
  const inRange = keys.filter((t) => t.token > range.start && t.token <= range.end);
  const batches = async function* () {
    for (const key of inRange) {
      const lines = [];
      for (let j = 0; j < perPartition; j++) {
        const i = key.p * perPartition + j;
        if (i >= rows) break;
        const t = nowMicros - 86_400_000_000 + i * 7;
        const e = i % 10 === 0 ? { e: expiry - (i % 1000) } : {};
        lines.push(JSON.stringify({
          k: [key.tenant, key.shard, 1_700_000_000_000 + j * 1000],
          c: {
            amount: { v: i * 1.25 + 0.1, t: t + 1, ...e },
            key_version: { v: '1', t, ...e },
            note: { v: `note ${String(i).padStart(10, '0')} `.padEnd(60, 'x'), t: t + 2, ...e },
            token_a: { v: randomBytes(120).toString('base64'), t, ...e },
            token_b: { v: randomBytes(120).toString('base64'), t: t + 3, ...e },
          },
        }));
      }
      written += lines.length;
      yield lines;
    }
  };
  const attempt = randomBytes(4).toString('hex');
  const chunks = await writeChunks(batches(), {
    store, gzipLevel: 1, maxChunkBytes: 8 << 20,
    keyFor: (seq) => { const relativeKey = chunkRelativeKey('wide', range.index, attempt, seq); return { key: chunkKey(SOURCE_ID, relativeKey), relativeKey }; },
  });
  const marker = {
    formatVersion: FORMAT_VERSION, table: 'wide', index: range.index, start: range.start.toString(), end: range.end.toString(), attempt,
    rows: chunks.reduce((n, c) => n + c.rows, 0), bytes: chunks.reduce((n, c) => n + c.bytes, 0), readAt: new Date().toISOString(), chunks,
  };
  await writeDocument(store, markerKey(SOURCE_ID, 'wide', range.index), marker);
  markers.get('wide').set(range.index, marker);
}
const manifest = buildManifest(header, markers, Date.now());
await writeDocument(store, manifestKey(SOURCE_ID), manifest);
const seeded = { backupId: SOURCE_ID, repo, keyspace: KEYSPACE, rows: written, perPartition, chunks: manifest.totals.chunks, bytes: manifest.totals.bytes, seedSeconds: (performance.now() - started) / 1000 };
writeFileSync(seedFile, JSON.stringify(seeded));
console.log(JSON.stringify(seeded));
