// Rekey (offline transform) benchmark. Seeds, once, a backup of --rows rows (default 1,000,000) with
// two Fernet-encrypted columns under an old key, written straight into a directory repository
// through cassette's own chunk writer (no Cassandra needed; docs/format.md), then times the built
// `cassette rekey` (fernet → fernet) with each --threads count under GNU time: values re-encrypted
// per second, wall time, CPU (user + sys) and CPU / wall, peak RSS, and the CPU that other
// processes used meanwhile (from /proc/stat). Each run's new backup is deleted afterwards.
//
//   npm run build && node bench/rekey-transform.mjs [--rows 1000000] [--threads 1,2] [--runs 1]
//       [--dir /tmp/cassette-bench-rekey] [--reseed] [--quiet-wait 120] [--node-flags "--cpu-prof --cpu-prof-dir=/tmp/prof"]
//       [--no-wait] [--json] [--provider fernet|aws-kms] [--seed-reuse 1000] [--reuse 1000]
//
// --provider aws-kms rekeys aws-kms values (old CMK → new CMK) against the KMS named by the
// CASSETTE_TEST_KMS_* variables (`eval "$(scripts/services up)"` starts local-kms): the seed seals
// with --seed-reuse values per data key (1 = one data key per value, as cassandra-rekey writes
// them; every such value then costs one Decrypt), the rekey with data_key_reuse --reuse. The
// results add the KMS calls the rekey made.
//
// --quiet-wait bounds the wait for a quiet machine before each run (seconds); --no-wait skips it;
// --json prints the results as one JSON line on stdout instead of the table (bench/peers uses both).
//
// The seeded backup and its throwaway keys are kept in --dir and reused while --rows matches.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'bin', 'cassette.js');
if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
  console.error('bench: build first (npm run build)');
  process.exit(2);
}
const dist = (path) => import(new URL(`../dist/${path}`, import.meta.url).href);
const { fernetKey, sealFernetToken } = await dist('crypto/fernet.js');
const { murmur3Token } = await dist('cassandra/ring/murmur3.js');
const { writeChunks } = await dist('pipeline/export/chunk-writer.js');
const { FORMAT_VERSION } = await dist('manifest/format.js');
const { backupHeaderKey, chunkKey, chunkRelativeKey, manifestKey, markerKey, schemaCqlKey } = await dist('manifest/keys.js');
const { writeDocument } = await dist('manifest/repository.js');
const { buildManifest } = await dist('commands/backup.js');
const { FsStore } = await dist('storage/fs-store.js');

const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};
const rows = Number(opt('--rows', '1000000'));
const threadCounts = opt('--threads', '1,2').split(',').map(Number);
const runs = Number(opt('--runs', '1'));
const dir = opt('--dir', join(tmpdir(), `cassette-bench-rekey${process.argv.includes('aws-kms') ? `-kms-${opt('--seed-reuse', '1000')}` : ''}`));
const nodeFlags = opt('--node-flags', '');
const provider = opt('--provider', 'fernet');
if (provider !== 'fernet' && provider !== 'aws-kms') {
  console.error('bench: --provider is fernet or aws-kms');
  process.exit(2);
}
const seedReuse = Number(opt('--seed-reuse', '1000'));
const reuse = Number(opt('--reuse', '1000'));
const kms = provider === 'aws-kms' ? kmsSettings() : undefined;

/** local-kms (or another KMS) from the CASSETTE_TEST_KMS_* variables scripts/services prints. */
function kmsSettings() {
  const get = (name) => {
    const value = process.env[`CASSETTE_TEST_KMS_${name}`];
    if (!value) {
      console.error(`bench: --provider aws-kms needs CASSETTE_TEST_KMS_${name}: run eval "$(scripts/services up)" first`);
      process.exit(2);
    }
    return value;
  };
  return { endpoint: get('ENDPOINT'), region: get('REGION'), oldArn: get('OLD_ARN'), newArn: get('NEW_ARN'), otherArn: get('OTHER_ARN') };
}
const kmsEnv = kms === undefined ? {} : { AWS_ENDPOINT_URL_KMS: kms.endpoint, AWS_REGION: kms.region, AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench' };
const oldVersion = provider === 'fernet' ? '1' : 'v1';
const RANGES = 16;
const ROWS_PER_PARTITION = 100;
const MAX_CHUNK_BYTES = 8 << 20; // the backup default
const BASE_TS = 1_700_000_000_000_000;
const SOURCE_ID = '20261122T000000Z-be0c4e';
const KEYSPACE = 'bench_rekey';

const repo = join(dir, 'repo');
const seedFile = join(dir, 'seed.json');

/** The seeded backup: reused while its row count matches. Keys are throwaway, kept beside it (0600). */
async function seed() {
  if (!argv.includes('--reseed') && existsSync(seedFile)) {
    const seeded = JSON.parse(readFileSync(seedFile, 'utf8'));
    if (seeded.rows === rows && (seeded.provider ?? 'fernet') === provider && existsSync(join(repo, 'backups', SOURCE_ID, 'manifest.json'))) return seeded;
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const keys = { old: `${randomBytes(32).toString('base64url')}=`, new: `${randomBytes(32).toString('base64url')}=` };
  const started = performance.now();
  const store = new FsStore(repo);
  const columns = [
    ['tenant', 'text', 'partition_key', 0], ['id', 'int', 'clustering', 0], ['email', 'text', 'regular', -1],
    ['key_version', 'text', 'regular', -1], ['name', 'text', 'regular', -1], ['score', 'int', 'regular', -1], ['ssn', 'blob', 'regular', -1],
  ].map(([name, type, kind, position]) => ({ name, type, kind, position, ...(kind === 'clustering' ? { order: 'asc' } : {}) }));
  const cql = `CREATE TABLE ${KEYSPACE}.people (tenant text, id int, email text, key_version text, name text, score int, ssn blob, PRIMARY KEY (tenant, id))`;
  const schema = {
    name: KEYSPACE, replication: { class: 'org.apache.cassandra.locator.SimpleStrategy', replication_factor: '1' }, durableWrites: true,
    types: [], tables: [{ name: 'people', columns, options: {}, isCounter: false, cql }], indexes: [], views: [],
  };
  // Partitions sorted by token into RANGES equal slices of the ring, as a backup reads them.
  const partitions = Math.ceil(rows / ROWS_PER_PARTITION);
  const tenants = Array.from({ length: partitions }, (_, p) => ({ p, name: `tenant-${p}`, token: murmur3Token(Buffer.from(`tenant-${p}`)) }))
    .sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
  const span = (2n ** 64n) / BigInt(RANGES);
  const bounds = Array.from({ length: RANGES }, (_, index) => {
    const start = -(2n ** 63n) + span * BigInt(index);
    return { index, start, end: index === RANGES - 1 ? 2n ** 63n - 1n : start + span };
  });
  const header = {
    formatVersion: FORMAT_VERSION, kind: 'cassette-backup', backupId: SOURCE_ID, createdAt: new Date().toISOString(),
    tool: { name: 'cassette', version: 'bench' },
    cluster: { name: 'bench', partitioner: 'org.apache.cassandra.dht.Murmur3Partitioner', releaseVersion: '5.0.8' },
    keyspace: schema, schemaFingerprint: 'sha256:bench',
    options: { compression: 'gzip', gzipLevel: 1, maxChunkBytes: MAX_CHUNK_BYTES, consistency: 'LOCAL_QUORUM' },
    tables: [{ name: 'people', ranges: bounds.map(({ index, start, end }) => ({ index, start: start.toString(), end: end.toString() })) }],
  };
  await writeDocument(store, backupHeaderKey(SOURCE_ID), header);
  await store.put(schemaCqlKey(SOURCE_ID), `CREATE KEYSPACE ${KEYSPACE} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};\n${cql};\n`, { ifAbsent: true });
  const key = fernetKey(Buffer.from(keys.old, 'base64url'), '1');
  const seconds = Math.floor(Date.now() / 1000);
  // aws-kms: sealed under the old CMK by cassette's own provider, as the stored text (base64) of both columns.
  const seal = kms === undefined ? undefined : await (await dist('crypto/registry.js')).createCipher({
    type: 'aws-kms', oldKeys: [], options: { data_key_reuse: seedReuse },
    kms: { newCmk: { cmk: kms.oldArn, version: 'v1' }, oldCmks: [{ cmk: kms.otherArn, version: 'v0' }], region: kms.region },
  }, kmsEnv);
  const context = { keyspace: KEYSPACE, table: 'people', column: 'x' };
  const fernetToken = (text) => sealFernetToken(key, Buffer.from(text), seconds, randomBytes(16));
  const markers = new Map([['people', new Map()]]);
  let written = 0;
  for (const range of bounds) {
    const inRange = tenants.filter((t) => t.token > range.start && t.token <= range.end);
    const batches = async function* () {
      for (const tenant of inRange) {
        const lines = [];
        const ids = [];
        for (let j = 0; j < ROWS_PER_PARTITION; j++) if (tenant.p * ROWS_PER_PARTITION + j < rows) ids.push(j);
        const plain = ids.flatMap((j) => {
          const i = tenant.p * ROWS_PER_PARTITION + j;
          return [`user${i}@example.com`, `9${String(i % 100).padStart(2, '0')}-${String(i % 97).padStart(2, '0')}-${String(i % 9973).padStart(4, '0')}`];
        });
        // A partition's values are sealed together, so per-value KMS calls overlap.
        const sealed = seal === undefined
          ? plain.map((text, n) => (n % 2 === 0 ? fernetToken(text).toString('latin1') : fernetToken(text).toString('base64')))
          : (await Promise.all(plain.map((text) => seal.seal(Buffer.from(text), context)))).map((b) => Buffer.from(b).toString('base64'));
        for (const [n, j] of ids.entries()) {
          const i = tenant.p * ROWS_PER_PARTITION + j;
          const t = BASE_TS + i;
          const expiring = i % 10 === 0 ? { e: 1_900_000_000 + (i % 1000) } : {};
          lines.push(JSON.stringify({
            k: [tenant.name, j],
            c: {
              email: { v: sealed[2 * n], t, ...expiring },
              key_version: { v: oldVersion, t },
              name: { v: `name ${i}`, t },
              score: { v: i, t },
              ssn: { v: sealed[2 * n + 1], t, ...expiring },
            },
          }));
        }
        written += lines.length;
        yield lines;
      }
    };
    const attempt = randomBytes(4).toString('hex');
    const chunks = await writeChunks(batches(), {
      store, gzipLevel: 1, maxChunkBytes: MAX_CHUNK_BYTES,
      keyFor: (seq) => {
        const relativeKey = chunkRelativeKey('people', range.index, attempt, seq);
        return { key: chunkKey(SOURCE_ID, relativeKey), relativeKey };
      },
    });
    const marker = {
      formatVersion: FORMAT_VERSION, table: 'people', index: range.index, start: range.start.toString(), end: range.end.toString(), attempt,
      rows: chunks.reduce((n, c) => n + c.rows, 0), bytes: chunks.reduce((n, c) => n + c.bytes, 0), readAt: new Date().toISOString(), chunks,
    };
    await writeDocument(store, markerKey(SOURCE_ID, 'people', range.index), marker);
    markers.get('people').set(range.index, marker);
    process.stderr.write(`bench: seeded range ${range.index + 1}/${RANGES}: ${written.toLocaleString('en-US')} rows\n`);
  }
  const manifest = buildManifest(header, markers, Date.now());
  await writeDocument(store, manifestKey(SOURCE_ID), manifest);
  seal?.close?.();
  const seeded = { provider, rows: written, chunks: manifest.totals.chunks, bytes: manifest.totals.bytes, keys, seedSeconds: (performance.now() - started) / 1000 };
  writeFileSync(seedFile, JSON.stringify(seeded), { mode: 0o600 });
  return seeded;
}

/** Busy and total CPU jiffies of the machine (/proc/stat), for the CPU others used meanwhile. */
function machineJiffies() {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Waits (up to --quiet-wait seconds, default 120) for a second in which the machine is under 0.3 cores busy. */
function waitForQuiet() {
  const limit = Number(opt('--quiet-wait', '120'));
  for (let i = 0; i < limit; i++) {
    const a = machineJiffies();
    spawnSync('sleep', ['1']);
    const b = machineJiffies();
    if ((b.busy - a.busy) / 100 < 0.3) return true;
  }
  return false;
}

const seeded = await seed();
console.error(`bench: backup ${SOURCE_ID}: ${seeded.rows.toLocaleString('en-US')} rows, ${seeded.chunks} chunks, ${(seeded.bytes / 1048576).toFixed(1)} MiB gzip` +
  (seeded.seedSeconds === undefined ? '' : ` (seeded in ${seeded.seedSeconds.toFixed(1)} s)`));
const config = join(dir, 'rekey.yaml');
writeFileSync(config, [
  `cluster: {contact_points: [127.0.0.1], keyspace: ${KEYSPACE}}`,
  kms === undefined
    ? 'provider: {type: fernet, old_key_env: BENCH_OLD_KEY, new_key_env: BENCH_NEW_KEY, old_key_version: "1", new_key_version: "2"}'
    : `provider: {type: aws-kms, old_cmk_arn: "${kms.oldArn}", new_cmk_arn: "${kms.newArn}", aws_region: ${kms.region}, data_key_reuse: ${reuse}}`,
  'tables:',
  '  - name: people',
  '    encrypted_columns: [ssn, email]',
  '',
].join('\n'));
const env = { PATH: process.env.PATH, HOME: process.env.HOME, BENCH_OLD_KEY: seeded.keys.old, BENCH_NEW_KEY: seeded.keys.new, ...kmsEnv };
// With --node-flags, node is started directly (NODE_OPTIONS refuses --cpu-prof), with the launcher's heap cap.
const launcher = nodeFlags === '' ? [cli] : [process.execPath, '--max-old-space-size=384', ...nodeFlags.split(' ').filter(Boolean), cli];

const results = [];
for (let run = 1; run <= runs; run++) {
  for (const threads of threadCounts) {
    const quiet = argv.includes('--no-wait') ? false : waitForQuiet();
    const timeFile = join(dir, 'time.txt');
    const before = machineJiffies();
    const started = performance.now();
    const r = spawnSync('/usr/bin/time', ['-v', '-o', timeFile, ...launcher, 'rekey', SOURCE_ID, '--config', config, '--repo', repo, '--threads', String(threads), '--json'],
      { encoding: 'utf8', env, maxBuffer: 1 << 26 });
    const wall = (performance.now() - started) / 1000;
    const after = machineJiffies();
    if (r.status !== 0) {
      console.error(r.stderr);
      process.exit(1);
    }
    const report = JSON.parse(r.stdout);
    const time = readFileSync(timeFile, 'utf8');
    const field = (label) => Number(new RegExp(`${label}: (.+)`).exec(time)?.[1]);
    const cpu = field('User time \\(seconds\\)') + field('System time \\(seconds\\)');
    const result = {
      threads, run, values: report.valuesThisRun, wall, rekeySeconds: report.durationMs / 1000, valuesPerSecond: report.valuesPerSecond,
      valuesPerWallSecond: Math.round(report.valuesThisRun / wall), cpu, utilisation: cpu / wall,
      peakRssMiB: field('Maximum resident set size \\(kbytes\\)') / 1024,
      otherCpu: Math.max(0, (after.busy - before.busy) / 100 - cpu), quiet,
      ...(report.kmsCalls === undefined ? {} : { kmsCalls: report.kmsCalls }),
    };
    results.push(result);
    console.error(`bench: --threads ${threads} run ${run}: ${result.values.toLocaleString('en-US')} values in ${result.rekeySeconds.toFixed(1)} s, ` +
      `${result.valuesPerSecond.toLocaleString('en-US')} values/s, CPU ${cpu.toFixed(1)} s (${result.utilisation.toFixed(2)} cores), peak RSS ${result.peakRssMiB.toFixed(1)} MiB, other CPU ${result.otherCpu.toFixed(1)} s` +
      (result.kmsCalls === undefined ? '' : `, KMS calls ${result.kmsCalls.generateDataKey} GenerateDataKey + ${result.kmsCalls.decrypt} Decrypt`));
    rmSync(join(repo, 'backups', report.backupId), { recursive: true, force: true });
  }
}

if (argv.includes('--json')) {
  console.log(JSON.stringify(results));
  process.exit(0);
}
console.log('| threads | run | values | wall s | rekey s | values/s (rekey) | values/s (wall) | CPU s | CPU / wall | peak RSS MiB | other CPU s |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const x of results) {
  console.log(`| ${x.threads} | ${x.run} | ${x.values.toLocaleString('en-US')} | ${x.wall.toFixed(1)} | ${x.rekeySeconds.toFixed(1)} | ${x.valuesPerSecond.toLocaleString('en-US')} | ` +
    `${x.valuesPerWallSecond.toLocaleString('en-US')} | ${x.cpu.toFixed(1)} | ${x.utilisation.toFixed(2)} | ${x.peakRssMiB.toFixed(1)} | ${x.otherCpu.toFixed(1)}${x.quiet ? '' : ' ¹'} |`);
}
if (results.some((x) => !x.quiet)) console.log('\n¹ the machine did not become quiet (< 0.3 cores busy) within --quiet-wait before this run');
