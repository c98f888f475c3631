// Shared runs (issue 14): backup and restore rows/s with 1, 2 and 4 worker processes on one run
// (`--backup-id` / `--restore-id`, docs/format.md §13), and where the time goes: the workers' CPU
// (user + sys, from /usr/bin/time), Cassandra's CPU (its /proc/<pid>/stat before and after) and the
// wall time, against the machine's cores. Every worker gets the same --parallel, so 4 workers ask
// 4 times the concurrency of one.
// Usage, with `scripts/services up` running:
//   npm run build && eval "$(scripts/services env)" && node bench/workers.mjs [--rows 1000000] [--runs 2] [--workers 1,2,4]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import cassandra from 'cassandra-driver';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'bin', 'cassette.js');
const argv = process.argv.slice(2);
const opt = (name, fallback) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : fallback; };
const rows = Number(opt('--rows', '1000000'));
const runs = Number(opt('--runs', '2'));
const counts = opt('--workers', '1,2,4').split(',').map(Number);
const env = process.env;
if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) { console.error('bench: build first (npm run build)'); process.exit(2); }
if (!env.CASSETTE_TEST_CASSANDRA_HOST) { console.error('bench: run `eval "$(scripts/services env)"` with the services up'); process.exit(2); }
const connection = ['--hosts', env.CASSETTE_TEST_CASSANDRA_HOST, '--port', env.CASSETTE_TEST_CASSANDRA_PORT, '--dc', env.CASSETTE_TEST_CASSANDRA_DC];
const pidFile = join(env.CASSETTE_SERVICES_DIR ?? join(tmpdir(), 'cassette-services'), 'cassandra', 'pid');

/** Cassandra's CPU seconds so far (utime + stime of its JVM). */
function cassandraCpu() {
  const stat = readFileSync(`/proc/${readFileSync(pidFile, 'utf8').trim()}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const stamp = (prefix = '') => `${prefix}${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;

/** Runs `n` workers of one command at once; resolves with the wall time, their CPU and peak RSS. */
async function workers(n, args) {
  const started = performance.now();
  const cpuBefore = cassandraCpu();
  const results = await Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', 'TIME %U %S %M', cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`worker exited ${code}: ${err}`));
      const [, user, sys, rssKb] = /TIME (\S+) (\S+) (\d+)/.exec(err) ?? [];
      resolve({ report: JSON.parse(out.trim().split('\n').at(-1)), cpu: Number(user) + Number(sys), rssMb: Number(rssKb) / 1024 });
    });
  })));
  const wall = (performance.now() - started) / 1000;
  return { wall, clientCpu: results.reduce((s, r) => s + r.cpu, 0), cassandraCpu: cassandraCpu() - cpuBefore, peakRssMb: Math.max(...results.map((r) => r.rssMb)), reports: results.map((r) => r.report) };
}

const client = new cassandra.Client({ contactPoints: [`${env.CASSETTE_TEST_CASSANDRA_HOST}:${env.CASSETTE_TEST_CASSANDRA_PORT}`], localDataCenter: env.CASSETTE_TEST_CASSANDRA_DC, socketOptions: { readTimeout: 60_000 } });
await client.connect();
const keyspace = 'bench_workers';
await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
await client.execute(`CREATE TABLE ${keyspace}.accounts (id int, bucket int, name text, email text, secret blob, updated timestamp, PRIMARY KEY (id, bucket))`);
const loadStart = performance.now();
const params = Readable.from((function* () {
  for (let i = 0; i < rows; i++) yield [Math.floor(i / 4), i % 4, `name ${i}`, `user${i}@example.com`, Buffer.alloc(64, i % 251), new Date(1_700_000_000_000 + i)];
})(), { objectMode: true });
await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${keyspace}.accounts (id, bucket, name, email, secret, updated) VALUES (?, ?, ?, ?, ?, ?)`, params, { concurrencyLevel: 128 });
console.error(`bench: loaded ${rows} rows in ${((performance.now() - loadStart) / 1000).toFixed(1)} s`);

const work = mkdtempSync(join(tmpdir(), 'cassette-workers-bench-'));
const lines = [];
const row = (what, n, run, r) => {
  const rate = Math.round(rows / r.wall);
  lines.push({ what, workers: n, run, wall: r.wall, rate, clientCpu: r.clientCpu, cassandraCpu: r.cassandraCpu, busy: (r.clientCpu + r.cassandraCpu) / (r.wall * availableParallelism()), peakRssMb: r.peakRssMb });
  console.error(`bench: ${what} ×${n} run ${run}: ${r.wall.toFixed(1)} s, ${rate} rows/s, client CPU ${r.clientCpu.toFixed(1)} s, Cassandra CPU ${r.cassandraCpu.toFixed(1)} s, peak RSS ${r.peakRssMb.toFixed(0)} MiB`);
};
for (let run = 1; run <= runs; run++) {
  for (const n of counts) {
    const repo = join(work, `w${n}-r${run}`);
    const backupId = stamp();
    row('backup', n, run, await workers(n, ['backup', '--keyspace', keyspace, '--repo', repo, ...connection, '--backup-id', backupId, '--workers', String(n), '--json']));
    const target = `bench_workers_r${n}_${run}`;
    row('restore', n, run, await workers(n, ['restore', backupId, '--repo', repo, ...connection, '--target-keyspace', target, '--restore-id', stamp('r'), '--json']));
    await client.execute(`DROP KEYSPACE IF EXISTS ${target}`);
    rmSync(repo, { recursive: true, force: true });
  }
}
await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
await client.shutdown();
rmSync(work, { recursive: true, force: true });

// The median run of each (command, workers) by wall time (the lower of the two middle ones), as a
// markdown table; every figure of a row is of that one run.
console.log(`| command | workers | wall (s) | rows/s | workers' CPU (s) | Cassandra CPU (s) | both cores busy | peak RSS per worker (MiB) |`);
console.log('|---|---|---|---|---|---|---|---|');
for (const what of ['backup', 'restore']) {
  for (const n of counts) {
    const mine = lines.filter((l) => l.what === what && l.workers === n).sort((a, b) => a.wall - b.wall);
    const l = mine[Math.floor((mine.length - 1) / 2)];
    console.log(`| ${what} | ${n} | ${l.wall.toFixed(1)} | ${l.rate.toLocaleString('en-US')} | ${l.clientCpu.toFixed(1)} | ${l.cassandraCpu.toFixed(1)} | ${(l.busy * 100).toFixed(0)}% | ${l.peakRssMb.toFixed(0)} |`);
  }
}
