#!/usr/bin/env node
// Benchmark of `cassette backup`: peak RSS and throughput at several table sizes (default 100k and
// 1M rows), to check that peak RSS stays flat as the data grows (within 20% for 10× the rows).
// A benchmark script, not a timed test; results and method are in docs/benchmarks.md.
//
//   npm run build && eval "$(scripts/services env)" && node bench/backup-rss.mjs [options]
//
// Datasets: keyspace bench_backup_<size> (bench_backup_100k, bench_backup_1m), table accounts,
// loaded once with the driver and reused while bench_backup.datasets says it is complete. The
// backup runs as a child process (the built CLI), once per size per run, sizes interleaved.
//
// Peak RSS is GNU time's "Maximum resident set size": the kernel's high-water mark of the child's
// resident set (ru_maxrss from wait4), read after the child has exited, so no short spike between
// samples is missed and there is no race with the exit (a zombie's /proc/<pid>/status no longer
// has VmHWM). VmRSS is also sampled every 100 ms from /proc, as a timeline and a cross-check.
import { execFileSync, spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const CLI = join(ROOT, 'bin', 'cassette.js');
const GNU_TIME = '/usr/bin/time';
/** Bump when the row shape changes: loaded datasets of another generator are reloaded. */
const GENERATOR = 'accounts-v1';
const TTL_SECONDS = 30 * 24 * 3600;
/** Datasets older than this are reloaded: their TTL rows (20%) would soon expire. */
const MAX_DATASET_AGE_MS = 20 * 24 * 3600 * 1000;
const MIB = 1024 * 1024;

const USAGE = `usage: node bench/backup-rss.mjs [options]
  --sizes <n,n>          table sizes in rows (default 100000,1000000)
  --runs <n>             backups per size and repository (default 3); the median is reported
  --s3                   also back up into MinIO (CASSETTE_TEST_S3_* from \`scripts/services env\`)
  --parallel <n>         passed to \`cassette backup --parallel\` (default: the CLI's)
  --cli-flags=<flags>    more \`cassette backup\` flags, e.g. --cli-flags="--fetch-size 500"
  --node-flags=<flags>   flags for the child's node, e.g. --node-flags=--max-semi-space-size=64
  --idle-wait <s>        before each backup, wait up to this long for the machine to be idle (default 60, 0: no wait)
  --load-concurrency <n> in-flight inserts while loading a dataset (default 96)
  --reload               reload the datasets even if they are complete
  --keep-data            keep the loaded keyspaces for later runs (the default)
  --drop                 drop the bench keyspaces at the end
  --out <file>           also write every measurement (with RSS timelines) as JSON
  --hosts/--port/--dc    Cassandra (default CASSETTE_TEST_CASSANDRA_* or 127.0.0.1:9042/datacenter1)
exit: 0 PASS, 1 FAIL (peak RSS differs by 20% or more), 2 cannot run`;

class SetupError extends Error {}

function parseOptions(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        sizes: { type: 'string', default: '100000,1000000' },
        runs: { type: 'string', default: '3' },
        s3: { type: 'boolean', default: false },
        parallel: { type: 'string' },
        'cli-flags': { type: 'string', default: '' },
        'node-flags': { type: 'string', default: '' },
        'idle-wait': { type: 'string', default: '60' },
        'load-concurrency': { type: 'string', default: '96' },
        reload: { type: 'boolean', default: false },
        'keep-data': { type: 'boolean', default: false },
        drop: { type: 'boolean', default: false },
        out: { type: 'string' },
        hosts: { type: 'string', default: process.env.CASSETTE_TEST_CASSANDRA_HOST ?? '127.0.0.1' },
        port: { type: 'string', default: process.env.CASSETTE_TEST_CASSANDRA_PORT ?? '9042' },
        dc: { type: 'string', default: process.env.CASSETTE_TEST_CASSANDRA_DC ?? 'datacenter1' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new SetupError(`${err.message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const int = (text, flag) => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 1) throw new SetupError(`${flag} must be a positive integer, not "${text}"`);
    return n;
  };
  if (values.drop && values['keep-data']) throw new SetupError('--drop and --keep-data contradict each other');
  const sizes = [...new Set(values.sizes.split(',').map((s) => int(s.trim(), '--sizes')))].sort((a, b) => a - b);
  return {
    sizes,
    runs: int(values.runs, '--runs'),
    s3: values.s3,
    parallel: values.parallel === undefined ? undefined : int(values.parallel, '--parallel'),
    cliFlags: values['cli-flags'].split(/\s+/).filter((f) => f !== ''),
    nodeFlags: values['node-flags'].split(/\s+/).filter((f) => f !== ''),
    idleWaitSeconds: values['idle-wait'] === '0' ? 0 : int(values['idle-wait'], '--idle-wait'),
    loadConcurrency: int(values['load-concurrency'], '--load-concurrency'),
    reload: values.reload,
    drop: values.drop,
    out: values.out,
    hosts: values.hosts,
    port: int(values.port, '--port'),
    dc: values.dc,
  };
}

/** 100000 → bench_backup_100k, 1000000 → bench_backup_1m. */
function keyspaceFor(size) {
  const label = size % 1_000_000 === 0 ? `${size / 1_000_000}m` : size % 1000 === 0 ? `${size / 1000}k` : String(size);
  return `bench_backup_${label}`;
}

const log = (line) => process.stderr.write(`bench: ${line}\n`);

// ---------------------------------------------------------------------------------------------
// Preconditions

function requireBuiltCli() {
  const main = join(ROOT, 'dist', 'cli', 'main.js');
  if (!existsSync(main)) throw new SetupError('the CLI is not built (dist/cli/main.js is missing): run `npm run build` first');
  const newestSource = (dir) => readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .reduce((t, e) => Math.max(t, statSync(join(e.parentPath ?? e.path, e.name)).mtimeMs), 0);
  if (newestSource(join(ROOT, 'src')) > statSync(main).mtimeMs) log('warning: src/ is newer than dist/; run `npm run build` to measure the current code');
}

async function connectCassandra(cassandra, options) {
  const client = new cassandra.Client({
    contactPoints: options.hosts.split(',').map((h) => `${h.trim()}:${options.port}`),
    localDataCenter: options.dc,
    socketOptions: { connectTimeout: 5000, readTimeout: 120_000 },
    queryOptions: { prepare: true, consistency: cassandra.types.consistencies.localOne },
    pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 2 } },
  });
  try {
    await client.connect();
  } catch (err) {
    await client.shutdown().catch(() => undefined);
    throw new SetupError(`Cassandra is unreachable at ${options.hosts}:${options.port} (dc ${options.dc}): ${String(err.message).split('\n')[0]}; ` +
      'start it with `scripts/services up`, or pass --hosts/--port/--dc');
  }
  return client;
}

function s3Settings() {
  const env = process.env;
  const names = ['ENDPOINT', 'BUCKET', 'REGION', 'ACCESS_KEY_ID', 'SECRET_ACCESS_KEY'];
  const missing = names.filter((n) => !env[`CASSETTE_TEST_S3_${n}`]);
  if (missing.length > 0) throw new SetupError(`--s3 needs ${missing.map((n) => `CASSETTE_TEST_S3_${n}`).join(', ')}: run \`eval "$(scripts/services env)"\` first`);
  return {
    endpoint: env.CASSETTE_TEST_S3_ENDPOINT,
    bucket: env.CASSETTE_TEST_S3_BUCKET,
    region: env.CASSETTE_TEST_S3_REGION,
    credentials: { accessKeyId: env.CASSETTE_TEST_S3_ACCESS_KEY_ID, secretAccessKey: env.CASSETTE_TEST_S3_SECRET_ACCESS_KEY },
  };
}

/** The test services' pids and nodetool, when the bench targets them (scripts/services). */
async function localServices(options) {
  const { CASSANDRA_PROFILES, cassandraLibDir } = await import('../scripts/lib/services/config.mjs');
  const { runningPid } = await import('../scripts/lib/services/process.mjs');
  const { findJava17 } = await import('../scripts/lib/services/provision.mjs');
  const profile = CASSANDRA_PROFILES.main;
  const cassandraPid = options.port === profile.native ? runningPid(profile.name) : undefined;
  let java;
  try { java = cassandraPid === undefined ? undefined : findJava17(); } catch { java = undefined; }
  const nodetool = java === undefined ? undefined : (args) => {
    // NodeTool needs a few of jvm17-clients.options' module flags; its history file goes to a temp home.
    const home = mkdtempSync(join(tmpdir(), 'cassette-bench-nodetool-'));
    try {
      execFileSync(java, [
        '-Xmx256m', `-Duser.home=${home}`, `-Dcassandra.logdir=${home}`, '-Dlogback.configurationFile=none',
        '--add-exports', 'java.base/sun.nio.ch=ALL-UNNAMED', '--add-exports', 'java.base/jdk.internal.ref=ALL-UNNAMED',
        '--add-opens', 'java.base/jdk.internal.ref=ALL-UNNAMED',
        '-cp', `${cassandraLibDir}/*`, 'org.apache.cassandra.tools.NodeTool', '-h', '127.0.0.1', '-p', String(profile.jmx), ...args,
      ], { stdio: 'ignore', timeout: 30 * 60_000 });
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  };
  return { cassandraPid, minioPid: runningPid('minio'), nodetool };
}

// ---------------------------------------------------------------------------------------------
// Datasets

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Margaret', 'Dennis', 'Radia', 'Leslie'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Hamilton', 'Ritchie', 'Perlman', 'Lamport'];

/**
 * Insert parameters for `size` rows, generated lazily: partitions of 1–4 rows (buckets), a 96-byte
 * random secret, 20% of rows with a 30-day TTL (TTL 0 = none), an explicit write timestamp.
 */
function* accountRows(cassandra, size) {
  const { Uuid, Long } = cassandra.types;
  const baseMs = Date.UTC(2026, 0, 1);
  const poolRows = 4096;
  let secrets;
  let id;
  let buckets = 0;
  for (let i = 0, bucket = 0, partition = 0; i < size; i++, bucket++) {
    if (bucket >= buckets) {
      id = Uuid.random();
      buckets = 1 + (partition++ % 4);
      bucket = 0;
    }
    // A fresh pool per 4096 rows: rows still in flight keep their slice of the old one.
    const slot = i % poolRows;
    if (slot === 0) secrets = randomFillSync(Buffer.allocUnsafe(96 * poolRows));
    const first = FIRST[i % FIRST.length];
    const last = LAST[Math.floor(i / FIRST.length) % LAST.length];
    yield [
      id, bucket, `${first} ${last}`, `${first}.${last}.${i}@example.com`.toLowerCase(),
      secrets.subarray(slot * 96, slot * 96 + 96), 1 + (i % 3), new Date(baseMs + i * 1000),
      i % 5 === 0 ? TTL_SECONDS : 0, Long.fromNumber((baseMs + i) * 1000),
    ];
  }
}

async function ensureDataset(cassandra, client, size, options, services) {
  const keyspace = keyspaceFor(size);
  const replication = `{'class': 'NetworkTopologyStrategy', '${options.dc}': 1}`;
  await client.execute(`CREATE KEYSPACE IF NOT EXISTS bench_backup WITH replication = ${replication}`);
  await client.execute('CREATE TABLE IF NOT EXISTS bench_backup.datasets (keyspace_name text PRIMARY KEY, row_count bigint, generator text, loaded_at timestamp, load_seconds double)');
  const marker = (await client.execute('SELECT row_count, generator, loaded_at, load_seconds FROM bench_backup.datasets WHERE keyspace_name = ?', [keyspace])).first();
  const fresh = marker !== null && Number(marker.row_count) === size && marker.generator === GENERATOR &&
    Date.now() - marker.loaded_at.getTime() < MAX_DATASET_AGE_MS;
  if (fresh && !options.reload) {
    log(`${keyspace}: reusing ${size.toLocaleString('en-US')} rows loaded ${marker.loaded_at.toISOString()}`);
    return { keyspace, size, loadSeconds: marker.load_seconds, loadedNow: false };
  }
  log(`${keyspace}: loading ${size.toLocaleString('en-US')} rows (concurrency ${options.loadConcurrency})`);
  await client.execute('DELETE FROM bench_backup.datasets WHERE keyspace_name = ?', [keyspace]);
  await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = ${replication}`);
  await client.execute(`CREATE TABLE ${keyspace}.accounts (id uuid, bucket int, name text, email text, secret blob, key_version int, updated timestamp, PRIMARY KEY ((id), bucket))`);
  const insert = `INSERT INTO ${keyspace}.accounts (id, bucket, name, email, secret, key_version, updated) VALUES (?, ?, ?, ?, ?, ?, ?) USING TTL ? AND TIMESTAMP ?`;
  const started = performance.now();
  let sent = 0;
  const counted = (function* () {
    for (const row of accountRows(cassandra, size)) { sent++; yield row; }
  })();
  const ticker = setInterval(() => log(`${keyspace}: ${sent.toLocaleString('en-US')} rows sent, ${Math.round(sent / ((performance.now() - started) / 1000))} rows/s`), 10_000);
  try {
    await cassandra.concurrent.executeConcurrent(client, insert, Readable.from(counted), { concurrencyLevel: options.loadConcurrency });
  } finally {
    clearInterval(ticker);
  }
  const loadSeconds = (performance.now() - started) / 1000;
  log(`${keyspace}: loaded in ${loadSeconds.toFixed(1)} s (${Math.round(size / loadSeconds)} rows/s)`);
  if (services.nodetool !== undefined) {
    // Every run then scans the same single SSTable, not a mix of memtable and fresh SSTables.
    const t = performance.now();
    services.nodetool(['flush', keyspace, 'accounts']);
    services.nodetool(['compact', keyspace, 'accounts']);
    log(`${keyspace}: flushed and compacted in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  } else {
    log(`${keyspace}: not the local test service, so no nodetool flush/compact; runs may read memtables`);
  }
  await client.execute('INSERT INTO bench_backup.datasets (keyspace_name, row_count, generator, loaded_at, load_seconds) VALUES (?, ?, ?, ?, ?)',
    [keyspace, cassandra.types.Long.fromNumber(size), GENERATOR, new Date(), loadSeconds]);
  return { keyspace, size, loadSeconds, loadedNow: true };
}

// ---------------------------------------------------------------------------------------------
// Measuring one backup

const CLK_TCK = (() => { try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100; } catch { return 100; } })();

/** utime + stime of a process, in seconds; undefined when it is gone. */
function processCpuSeconds(pid) {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch { return undefined; }
}

/** Busy and total jiffies of the whole machine (all cores). */
function machineJiffies() {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - fields[3] - fields[4], total };
}

/**
 * Other sessions may share the machine (test suites against the same Cassandra). Waits until the
 * machine is idle, under 15% busy over 2 s, for at most `seconds`; says so when it gives up.
 */
async function waitForIdle(seconds) {
  const deadline = performance.now() + seconds * 1000;
  while (performance.now() < deadline) {
    const a = machineJiffies();
    await new Promise((r) => setTimeout(r, 2000));
    const b = machineJiffies();
    if ((b.busy - a.busy) / Math.max(1, b.total - a.total) < 0.15) return;
  }
  if (seconds > 0) log(`the machine stayed busy for ${seconds} s; measuring anyway (see "other CPU s")`);
}

function statusKiB(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]);
  } catch { return undefined; }
}

/** The node process: the child itself, or GNU time's only child. */
function measuredPid(childPid, viaTime) {
  if (!viaTime) return childPid;
  try {
    const pid = Number(readFileSync(`/proc/${childPid}/task/${childPid}/children`, 'utf8').trim().split(' ')[0]);
    return pid > 0 ? pid : undefined;
  } catch { return undefined; }
}

function parseGnuTime(text) {
  const field = (label) => {
    const m = new RegExp(`^\\s*${label}: (.+)$`, 'm').exec(text);
    return m === null ? undefined : m[1].trim();
  };
  return {
    maxRssKiB: Number(field('Maximum resident set size \\(kbytes\\)')),
    userSeconds: Number(field('User time \\(seconds\\)')),
    systemSeconds: Number(field('System time \\(seconds\\)')),
  };
}

/** Runs `node args…` (under GNU time when present); resolves with its output and measurements. */
function runMeasured(args, env, workDir, services) {
  const viaTime = existsSync(GNU_TIME);
  const timeFile = join(workDir, `time-${process.hrtime.bigint()}.txt`);
  // Without node flags the CLI runs as operators run it: the executable bin with its own shebang flags.
  const invocation = args[0] === CLI ? args : [process.execPath, ...args];
  const [command, argv] = viaTime ? [GNU_TIME, ['-v', '-o', timeFile, ...invocation]] : [invocation[0], invocation.slice(1)];
  const before = { cassandra: processCpuSeconds(services.cassandraPid), minio: processCpuSeconds(services.minioPid), machine: machineJiffies() };
  const started = performance.now();
  const child = spawn(command, argv, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const timeline = [];
  let sampledPeakKiB = 0;
  let lastHwmKiB;
  let lastCpu;
  let pid;
  const sample = () => {
    pid ??= measuredPid(child.pid, viaTime);
    if (pid === undefined) return;
    const rss = statusKiB(pid, 'VmRSS');
    if (rss === undefined) return;
    sampledPeakKiB = Math.max(sampledPeakKiB, rss);
    lastHwmKiB = statusKiB(pid, 'VmHWM') ?? lastHwmKiB;
    lastCpu = processCpuSeconds(pid) ?? lastCpu;
    timeline.push([Math.round(performance.now() - started), rss]);
  };
  const sampler = setInterval(sample, 100);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(sampler);
      const wallSeconds = (performance.now() - started) / 1000;
      const machine = machineJiffies();
      const after = { cassandra: processCpuSeconds(services.cassandraPid), minio: processCpuSeconds(services.minioPid) };
      const time = viaTime && existsSync(timeFile) ? parseGnuTime(readFileSync(timeFile, 'utf8')) : undefined;
      rmSync(timeFile, { force: true });
      const delta = (k) => (before[k] === undefined || after[k] === undefined ? undefined : after[k] - before[k]);
      const machineBusySeconds = (machine.busy - before.machine.busy) / CLK_TCK;
      const clientCpuSeconds = time === undefined ? lastCpu : time.userSeconds + time.systemSeconds;
      resolve({
        code, signal, stdout, stderr, wallSeconds,
        // Without GNU time: the last VmHWM read (a lower bound if the peak came in the last 100 ms).
        peakRssKiB: time?.maxRssKiB ?? Math.max(lastHwmKiB ?? 0, sampledPeakKiB),
        peakRssSource: time === undefined ? 'VmHWM sampled' : 'GNU time ru_maxrss',
        sampledPeakKiB,
        lastHwmKiB,
        clientCpuSeconds,
        clientUserSeconds: time?.userSeconds,
        clientSystemSeconds: time?.systemSeconds,
        cassandraCpuSeconds: delta('cassandra'),
        minioCpuSeconds: delta('minio'),
        machineBusy: (machine.busy - before.machine.busy) / Math.max(1, machine.total - before.machine.total),
        // Busy CPU time of everything else on the machine: other sessions, the other test services, the bench itself.
        otherCpuSeconds: machineBusySeconds - (clientCpuSeconds ?? 0) - (delta('cassandra') ?? 0) - (delta('minio') ?? 0),
        timeline,
      });
    });
  });
}

async function measureBackup(target, dataset, options, services, workDir) {
  const { openStore } = await import('../dist/storage/open-store.js');
  const { readManifest } = await import('../dist/manifest/repository.js');
  const stamp = `${Date.now()}-${dataset.keyspace}`;
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('CASSETTE_') && !k.startsWith('CASSETTE_TEST_')) delete env[k];
  let repo;
  let store;
  let cleanup;
  if (target.kind === 's3') {
    const s3 = target.s3;
    repo = `s3://${s3.bucket}/cassette-bench/${stamp}`;
    Object.assign(env, { AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey, AWS_REGION: s3.region });
    store = openStore(repo, { s3Endpoint: s3.endpoint, s3Region: s3.region, credentials: s3.credentials });
    cleanup = async () => {
      const keys = [];
      for await (const entry of store.list('')) keys.push(entry.key);
      for (const key of keys) await store.delete(key);
      store.close();
    };
  } else {
    repo = join(workDir, stamp);
    store = openStore(repo);
    cleanup = async () => rmSync(repo, { recursive: true, force: true });
  }
  const args = [CLI, 'backup', '--repo', repo, '--keyspace', dataset.keyspace, '--hosts', options.hosts, '--port', String(options.port),
    '--dc', options.dc, '--json', ...(options.parallel === undefined ? [] : ['--parallel', String(options.parallel)]),
    ...(target.kind === 's3' ? ['--s3-endpoint', target.s3.endpoint] : []), ...options.cliFlags];
  try {
    await waitForIdle(options.idleWaitSeconds);
    const run = await runMeasured([...options.nodeFlags, ...args], env, workDir, services);
    if (run.code !== 0) throw new Error(`cassette backup exited ${run.code ?? run.signal}: ${run.stderr.trim()}`);
    const report = JSON.parse(run.stdout);
    if (report.rows !== dataset.size) {
      throw new Error(`${dataset.keyspace} backed up ${report.rows} rows, expected ${dataset.size}: re-run with --reload`);
    }
    const manifest = await readManifest(store, report.backupId);
    const rawBytes = manifest.tables.flatMap((t) => t.ranges).flatMap((r) => r.chunks).reduce((n, c) => n + c.rawBytes, 0);
    const { stdout: _o, stderr: _e, code: _c, signal: _s, ...measured } = run;
    return { repository: target.kind, rows: report.rows, ranges: report.ranges, chunks: report.chunks, storedBytes: report.bytes, rawBytes,
      reportSeconds: report.durationMs / 1000, reportRowsPerSecond: report.rowsPerSecond, ...measured };
  } finally {
    await cleanup();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function cell(values, digits) {
  const xs = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
  if (xs.length === 0) return 'n/a';
  const f = (v) => v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return xs.length === 1 ? f(xs[0]) : `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
}

const COLUMNS = [
  ['wall s', 2, (r) => r.wallSeconds],
  ['backup s', 2, (r) => r.reportSeconds],
  ['rows/s (backup)', 0, (r) => r.rows / r.reportSeconds],
  ['rows/s (wall)', 0, (r) => r.rows / r.wallSeconds],
  ['raw MiB/s', 1, (r) => r.rawBytes / MIB / r.reportSeconds],
  ['stored MiB/s', 1, (r) => r.storedBytes / MIB / r.reportSeconds],
  ['peak RSS MiB', 1, (r) => r.peakRssKiB / 1024],
  ['client CPU s', 2, (r) => r.clientCpuSeconds],
  ['client CPU/wall', 2, (r) => r.clientCpuSeconds / r.wallSeconds],
  ['Cassandra CPU s', 2, (r) => r.cassandraCpuSeconds],
  // Clamped: /proc/stat and per-process times disagree by a few tenths of a second.
  ['other CPU s', 2, (r) => Math.max(0, r.otherCpuSeconds)],
];

function summarize(results, options, baseline) {
  const lines = [];
  const repositories = [...new Set(results.map((r) => r.repository))];
  lines.push(`| repository | rows | ranges / chunks | raw / stored MiB | ${COLUMNS.map(([h]) => h).join(' | ')} |`);
  lines.push(`|---|---:|---:|---:|${COLUMNS.map(() => '---:').join('|')}|`);
  for (const repository of repositories) {
    for (const size of options.sizes) {
      const runs = results.filter((r) => r.repository === repository && r.rows === size);
      if (runs.length === 0) continue;
      const first = runs[0];
      lines.push(`| ${repository} | ${size.toLocaleString('en-US')} | ${first.ranges} / ${first.chunks} | ` +
        `${(first.rawBytes / MIB).toFixed(1)} / ${(first.storedBytes / MIB).toFixed(1)} | ${COLUMNS.map(([, d, f]) => cell(runs.map(f), d)).join(' | ')} |`);
    }
  }
  lines.push('', `Cells: median (min–max) of ${options.runs} run(s). ` +
    `Baseline: \`cassette --version\` peaks at ${(baseline / 1024).toFixed(1)} MiB RSS.`);
  let pass = true;
  const smallest = options.sizes[0];
  const largest = options.sizes.at(-1);
  if (smallest !== largest) {
    lines.push('');
    for (const repository of repositories) {
      const peaks = (size) => results.filter((r) => r.repository === repository && r.rows === size).map((r) => r.peakRssKiB / 1024);
      const small = peaks(smallest);
      const large = peaks(largest);
      if (small.length === 0 || large.length === 0) continue;
      const ratio = median(large) / median(small);
      const worst = Math.max(Math.max(...large) / Math.min(...small), Math.max(...small) / Math.min(...large));
      const ok = Math.abs(ratio - 1) < 0.2;
      // The requirement is stated for the backup; each repository is checked on its own.
      pass &&= ok;
      lines.push(`Peak RSS ${repository}: ${largest.toLocaleString('en-US')} / ${smallest.toLocaleString('en-US')} rows = ` +
        `${median(large).toFixed(1)} / ${median(small).toFixed(1)} MiB = **${ratio.toFixed(3)}** (worst pair ${worst.toFixed(3)}) — ` +
        `${ok ? 'PASS' : 'FAIL'} (requirement: differs by less than 20%)`);
    }
  }
  return { text: lines.join('\n'), pass };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  // The SDK is pinned (docs/decisions/0002); the bench reads manifests through it too.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const options = parseOptions(process.argv.slice(2));
  requireBuiltCli();
  const targets = [{ kind: 'directory' }, ...(options.s3 ? [{ kind: 's3', s3: s3Settings() }] : [])];
  const { default: cassandra } = await import('cassandra-driver');
  const client = await connectCassandra(cassandra, options);
  const workDir = mkdtempSync(join(tmpdir(), 'cassette-bench-'));
  try {
    const services = await localServices(options);
    const datasets = [];
    for (const size of options.sizes) datasets.push(await ensureDataset(cassandra, client, size, options, services));
    const baselineRun = await runMeasured([CLI, '--version'], process.env, workDir, {});
    const results = [];
    for (let run = 1; run <= options.runs; run++) {
      for (const target of targets) {
        for (const dataset of datasets) {
          const r = await measureBackup(target, dataset, options, services, workDir);
          log(`run ${run}/${options.runs} ${target.kind} ${dataset.keyspace}: ${r.wallSeconds.toFixed(2)} s wall, ` +
            `${Math.round(r.rows / r.reportSeconds)} rows/s, peak RSS ${(r.peakRssKiB / 1024).toFixed(1)} MiB, ` +
            `CPU s client ${r.clientCpuSeconds?.toFixed(2)} / Cassandra ${r.cassandraCpuSeconds?.toFixed(2)} / other ${r.otherCpuSeconds.toFixed(2)}`);
          results.push({ run, keyspace: dataset.keyspace, ...r });
        }
      }
    }
    const summary = summarize(results, options, baselineRun.peakRssKiB);
    const header = `cassette backup benchmark, ${new Date().toISOString()}, Node ${process.version}, ` +
      `CLI flags: ${[...(options.parallel === undefined ? [] : ['--parallel', options.parallel]), ...options.cliFlags].join(' ') || 'defaults'}, ` +
      `node flags: ${options.nodeFlags.join(' ') || 'none'}, peak RSS from ${results[0]?.peakRssSource}`;
    process.stdout.write(`${header}\n\n${summary.text}\n`);
    if (options.out !== undefined) {
      // Timelines thinned to one sample per second keep the file small.
      const thin = results.map((r) => ({ ...r, timeline: r.timeline.filter((_, i) => i % 10 === 0) }));
      writeFileSync(options.out, `${JSON.stringify({ options, node: process.version, datasets, baselineRssKiB: baselineRun.peakRssKiB, results: thin }, null, 1)}\n`);
    }
    if (options.drop) {
      for (const dataset of datasets) {
        await client.execute('DELETE FROM bench_backup.datasets WHERE keyspace_name = ?', [dataset.keyspace]);
        await client.execute(`DROP KEYSPACE IF EXISTS ${dataset.keyspace}`);
      }
      // The marker keyspace goes too once no other size's dataset is recorded in it.
      if ((await client.execute('SELECT keyspace_name FROM bench_backup.datasets LIMIT 1')).rowLength === 0) {
        await client.execute('DROP KEYSPACE IF EXISTS bench_backup');
      }
      log(`dropped ${datasets.map((d) => d.keyspace).join(', ')}`);
    }
    return summary.pass ? 0 : 1;
  } finally {
    rmSync(workDir, { recursive: true, force: true });
    await client.shutdown();
  }
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`bench: ${err instanceof SetupError ? err.message : err.stack ?? err}\n`);
  process.exitCode = 2;
}
