// Backup and restore rows/s on the 4-node two-DC test cluster against the single node, same data.
// Loads the same rows into both (single node: SimpleStrategy RF 1; cluster: NetworkTopologyStrategy
// dc1 3, dc2 1, read and written at LOCAL_QUORUM from dc1), then per run: `cassette backup` into a
// directory, and `cassette restore` of that backup into a new keyspace with the same replication.
// Usage, with `scripts/services up --cluster` running:
//   npm run build && eval "$(scripts/services env)" && node bench/cluster-vs-single.mjs [--rows 300000] [--runs 3]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import cassandra from 'cassandra-driver';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'bin', 'cassette.js');
const argv = process.argv.slice(2);
const opt = (name, fallback) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : fallback; };
const rows = Number(opt('--rows', '300000'));
const runs = Number(opt('--runs', '3'));
const env = process.env;
if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) { console.error('bench: build first (npm run build)'); process.exit(2); }
if (!env.CASSETTE_TEST_CLUSTER_HOSTS || !env.CASSETTE_TEST_CASSANDRA_HOST) { console.error('bench: run `eval "$(scripts/services env)"` with the main node and the cluster up'); process.exit(2); }

const targets = [
  {
    name: 'single node',
    hosts: [env.CASSETTE_TEST_CASSANDRA_HOST], port: Number(env.CASSETTE_TEST_CASSANDRA_PORT), dc: env.CASSETTE_TEST_CASSANDRA_DC,
    replication: { class: 'SimpleStrategy', replication_factor: '1' },
  },
  {
    name: '4 nodes (dc1 ×3 + dc2 ×1), RF dc1:3 dc2:1',
    hosts: env.CASSETTE_TEST_CLUSTER_HOSTS.split(','), port: Number(env.CASSETTE_TEST_CLUSTER_PORT), dc: env.CASSETTE_TEST_CLUSTER_DC,
    replication: { class: 'NetworkTopologyStrategy', dc1: '3', dc2: '1' },
  },
];
const cql = (r) => `{${Object.entries(r).map(([k, v]) => `'${k}': '${v}'`).join(', ')}}`;
const keyspace = 'bench_cluster';
const work = mkdtempSync(join(tmpdir(), 'cassette-cluster-bench-'));
const results = [];

for (const target of targets) {
  const client = new cassandra.Client({
    contactPoints: target.hosts.map((h) => `${h}:${target.port}`), localDataCenter: target.dc,
    queryOptions: { consistency: cassandra.types.consistencies.localQuorum }, socketOptions: { readTimeout: 60_000 },
  });
  await client.connect();
  await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = ${cql(target.replication)}`);
  await client.execute(`CREATE TABLE ${keyspace}.accounts (id int, bucket int, name text, email text, secret blob, updated timestamp, PRIMARY KEY (id, bucket))`);
  const loadStart = performance.now();
  const params = Readable.from((function* () {
    for (let i = 0; i < rows; i++) yield [Math.floor(i / 4), i % 4, `name ${i}`, `user${i}@example.com`, Buffer.alloc(64, i % 251), new Date(1_700_000_000_000 + i)];
  })(), { objectMode: true });
  await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${keyspace}.accounts (id, bucket, name, email, secret, updated) VALUES (?, ?, ?, ?, ?, ?)`, params, { concurrencyLevel: 128 });
  console.error(`bench: ${target.name}: loaded ${rows} rows in ${((performance.now() - loadStart) / 1000).toFixed(1)} s`);
  const connection = ['--hosts', target.hosts.join(','), '--port', String(target.port), '--dc', target.dc];
  for (let run = 1; run <= runs; run++) {
    const repo = join(work, `${target.name.split(' ')[0]}-${run}`);
    const backup = JSON.parse(execFileSync(cli, ['backup', '--keyspace', keyspace, '--repo', repo, '--json', ...connection], { encoding: 'utf8' }));
    const restoreKs = `${keyspace}_r${run}`;
    const restore = JSON.parse(execFileSync(cli, ['restore', backup.backupId, '--repo', repo, '--target-keyspace', restoreKs, '--replication', JSON.stringify(target.replication), '--json', ...connection], { encoding: 'utf8' }));
    results.push({ target: target.name, run, rows: backup.rows, ranges: backup.ranges, backupRate: backup.rowsPerSecond, backupS: backup.durationMs / 1000, restoreRate: restore.rowsPerSecond, restoreS: restore.durationMs / 1000, byNode: backup.rangesByNode });
    console.error(`bench: ${target.name} run ${run}: backup ${backup.rowsPerSecond} rows/s, restore ${restore.rowsPerSecond} rows/s; ranges by node ${JSON.stringify(backup.rangesByNode)}`);
    await client.execute(`DROP KEYSPACE IF EXISTS ${restoreKs}`);
    rmSync(repo, { recursive: true, force: true });
  }
  await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await client.shutdown();
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`cassette cluster vs single node, ${new Date().toISOString()}, Node ${process.version}, ${rows.toLocaleString('en-US')} rows, ${runs} run(s) each, CLI defaults (LOCAL_QUORUM)\n`);
console.log('| cluster | backup rows/s (median, min–max) | restore rows/s (median, min–max) | ranges | backup ranges per node (last run) |\n|---|---:|---:|---:|---|');
for (const target of targets) {
  const mine = results.filter((r) => r.target === target.name);
  const fmt = (xs) => `${median(xs).toLocaleString('en-US')} (${Math.min(...xs).toLocaleString('en-US')}–${Math.max(...xs).toLocaleString('en-US')})`;
  console.log(`| ${target.name} | ${fmt(mine.map((r) => r.backupRate))} | ${fmt(mine.map((r) => r.restoreRate))} | ${mine.at(-1).ranges} | ${Object.entries(mine.at(-1).byNode).map(([n, c]) => `${n} ${c}`).join(', ')} |`);
}
rmSync(work, { recursive: true, force: true });
