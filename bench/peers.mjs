// The side-by-side peer benchmark of issue 12, one command:
//
//   npm run build && npm run bench:peers -- [--rows 1000000] [--runs 3] [--rotate-rows 100000]
//       [--rekey-rows <rows>] [--hosts 127.0.0.1] [--port 9042] [--dc datacenter1]
//       [--docs docs/benchmarks.md] [--chart docs/bench/peers.svg] [--raw <file>] [--tag <word>]
//       [--note "<conditions>"] [--drop-data]
//   npm run bench:peers -- --report-only <raw.json> [--docs …] [--chart …]   (re-renders a saved run)
//
// Provisions dsbulk 1.10.0 and cassandra-rekey 0.1.0 + cqlsh into the cache (bench/peers/provision.mjs),
// generates the dataset once per row count (keyspace benchp_[<tag>_]data_<rows>, reused), then runs each
// pair --runs times, alternating: (a) export, (b) restore, (c) online rotation, (d) offline rekey
// transform. Writes the raw results (JSON, outside the repo), the medians and ratios as a section of
// --docs, and the chart. Connection defaults come from CASSETTE_TEST_CASSANDRA_HOST / _PORT / _DC.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import cassandra from 'cassandra-driver';
import { cacheDir } from '../scripts/lib/services/config.mjs';
import { TABLE, createTable, generateRows, newFernetKey } from './peers/dataset.mjs';
import { exportPair, rekeyTransform, restorePair, rotatePair } from './peers/pairs.mjs';
import { MissingTool, provisionPeers } from './peers/provision.mjs';
import { chartSvg, goals, markdownSection, summarize, writeSection } from './peers/report.mjs';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const log = (line) => process.stderr.write(`bench: ${line}\n`);
const env = process.env;
const { values: o } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '3' }, 'rotate-rows': { type: 'string' }, 'rekey-rows': { type: 'string' },
    hosts: { type: 'string', default: env.CASSETTE_TEST_CASSANDRA_HOST ?? '127.0.0.1' }, port: { type: 'string', default: env.CASSETTE_TEST_CASSANDRA_PORT ?? '9042' },
    dc: { type: 'string', default: env.CASSETTE_TEST_CASSANDRA_DC ?? 'datacenter1' },
    docs: { type: 'string', default: join(ROOT, 'docs', 'benchmarks.md') }, chart: { type: 'string' }, raw: { type: 'string' },
    tag: { type: 'string', default: '' }, note: { type: 'string' }, 'drop-data': { type: 'boolean', default: false }, 'report-only': { type: 'string' },
  },
});
const positive = (name, text) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`bench: --${name} must be a positive whole number, not ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return n;
};
const rows = positive('rows', o.rows);
const runs = positive('runs', o.runs);
const rotateRows = positive('rotate-rows', o['rotate-rows'] ?? String(Math.min(100_000, rows)));
const rekeyRows = positive('rekey-rows', o['rekey-rows'] ?? String(rows));
const docs = resolve(o.docs);
const chart = resolve(o.chart ?? join(dirname(docs), 'bench', 'peers.svg'));
const prefix = o.tag === '' ? 'benchp' : `benchp_${o.tag}`;
const startedAt = new Date().toISOString();
const rawPath = resolve(o.raw ?? join(cacheDir, 'bench-peers', `results-${startedAt.replace(/[:.]/g, '-')}.json`));
const cli = join(ROOT, 'bin', 'cassette.js');

/** Medians, goals, the chart and the docs section from `results` (raw JSON rewritten with them). */
function writeReport(results, saveRaw) {
  const summary = summarize(results);
  results.summary = summary;
  results.goals = goals(summary);
  saveRaw();
  mkdirSync(dirname(chart), { recursive: true });
  writeFileSync(chart, chartSvg(results, summary));
  writeSection(docs, markdownSection(results, summary, relative(dirname(docs), chart)));
  log(`wrote ${docs}, ${chart} and ${results.conditions.rawPath}`);
  for (const g of results.goals) log(`  ${g.goal}: ${g.text.replace(/\*\*/g, '')}`);
}

if (o['report-only'] !== undefined) {
  const saved = JSON.parse(readFileSync(o['report-only'], 'utf8'));
  writeReport(saved, () => writeFileSync(o['report-only'], `${JSON.stringify(saved, null, 2)}\n`));
  process.exit(0);
}
if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
  console.error('bench: build first (npm run build)');
  process.exit(2);
}

let peers;
try {
  peers = provisionPeers();
} catch (error) {
  console.error(error instanceof MissingTool ? error.message : error);
  process.exit(2);
}
const dist = (path) => import(new URL(`../dist/${path}`, import.meta.url).href);
const fernet = await dist('crypto/fernet.js');
const client = new cassandra.Client({ contactPoints: [`${o.hosts}:${o.port}`], localDataCenter: o.dc, socketOptions: { readTimeout: 120_000 }, encoding: { useBigIntAsLong: true } });
await client.connect();
const release = (await client.execute('SELECT release_version FROM system.local')).rows[0].release_version;

/** The dataset keyspace, generated unless it already holds exactly `rows` rows (a marker row says so). */
async function ensureDataset(keyspace) {
  const marker = await client.execute('SELECT keyspace_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?', [keyspace, 'generated'], { prepare: true });
  if (marker.rowLength > 0) {
    const done = await client.execute(`SELECT rows FROM ${keyspace}.generated WHERE name = 'events'`);
    if (done.rowLength > 0 && Number(done.rows[0].rows) === rows) {
      log(`dataset ${keyspace}: ${rows.toLocaleString('en-US')} rows, reused`);
      return;
    }
  }
  await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await createTable(client, keyspace);
  const started = performance.now();
  const written = await generateRows(client, keyspace, rows, newFernetKey(), fernet,
    (n) => log(`dataset ${keyspace}: ${n.toLocaleString('en-US')} / ${rows.toLocaleString('en-US')} rows`));
  await client.execute(`CREATE TABLE ${keyspace}.generated (name text PRIMARY KEY, rows bigint)`);
  await client.execute(`INSERT INTO ${keyspace}.generated (name, rows) VALUES ('events', ?)`, [BigInt(written)], { prepare: true });
  log(`dataset ${keyspace}: ${written.toLocaleString('en-US')} rows generated in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

const work = mkdtempSync(join(tmpdir(), 'benchp-'));
const ctx = {
  host: o.hosts, port: Number(o.port), dc: o.dc, cli, work, client, fernet, rotateRows, rekeyRows, ...peers,
  dataKeyspace: `${prefix}_data_${rows}`, cassetteRepo: join(work, 'cassette-repo'), dsbulkExport: join(work, 'dsbulk-export'),
  rekeyStateKeyspace: `${prefix}_rekey_meta`, keyspacePrefix: prefix, rekeyDir: join(cacheDir, 'bench-peers', `rekey-transform-${rekeyRows}`),
};
const results = {
  rows, rotateRows, rekeyRows, runs, export: [], restore: [], rotate: [], rekey: [],
  conditions: {
    startedAt, argv: process.argv.slice(2), rawPath,
    machine: `${cpus().length} cores (${cpus()[0]?.model.trim()}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ` +
      `${execFileSync('sh', ['-c', 'java -version 2>&1 | head -1'], { encoding: 'utf8' }).trim()}, one Cassandra ${release} node at ${o.hosts}:${o.port} on the same machine`,
    loadAverageAtStart: loadavg()[0],
    note: o.note ?? 'Shared machine: other sessions\' work may be running on the same cores, so treat the numbers as noisy.',
  },
};
const saveRaw = () => {
  mkdirSync(dirname(rawPath), { recursive: true });
  writeFileSync(rawPath, `${JSON.stringify(results, null, 2)}\n`);
};

try {
  await ensureDataset(ctx.dataKeyspace);
  for (let run = 1; run <= runs; run++) {
    log(`repetition ${run}/${runs}: export`);
    const exp = await exportPair(ctx, run);
    results.export.push(exp);
    for (const [who, m] of Object.entries(exp)) log(`  export ${who}: ${m.wall.toFixed(1)} s, ${m.cpu.toFixed(1)} CPU-s, ${m.rssMiB.toFixed(0)} MiB`);
    if (exp.cassette.rows !== rows || exp.driver.rows !== rows) throw new Error(`bench: export read ${exp.cassette.rows} (cassette) and ${exp.driver.rows} (driver) rows, not ${rows}`);
    ctx.backupId = exp.cassette.backupId;
    log(`repetition ${run}/${runs}: restore`);
    const res = await restorePair(ctx, run);
    results.restore.push(res);
    for (const [who, m] of Object.entries(res)) {
      log(`  restore ${who}: ${m.wall.toFixed(1)} s, ${m.cpu.toFixed(1)} CPU-s, ${m.rssMiB.toFixed(0)} MiB, ${m.rows} rows`);
      if (m.rows !== rows) throw new Error(`bench: ${who}'s restore wrote ${m.rows} rows, not ${rows}`);
    }
    log(`repetition ${run}/${runs}: online rotation of ${rotateRows.toLocaleString('en-US')} rows`);
    const rot = await rotatePair(ctx, run);
    results.rotate.push(rot);
    for (const [who, m] of Object.entries(rot)) log(`  rotate ${who}: ${m.wall.toFixed(1)} s, ${m.cpu.toFixed(1)} CPU-s, ${m.rssMiB.toFixed(0)} MiB`);
    log(`repetition ${run}/${runs}: offline rekey transform of ${rekeyRows.toLocaleString('en-US')} rows`);
    const rk = await rekeyTransform(ctx);
    results.rekey.push(rk);
    log(`  rekey: ${Math.round(rk.cassette.valuesPerSecond).toLocaleString('en-US')} values/s, ${rk.cassette.rssMiB.toFixed(0)} MiB`);
    saveRaw();
  }
  results.conditions.finishedAt = new Date().toISOString();
  writeReport(results, saveRaw);
} finally {
  for (const ks of ['restore_c', 'restore_d', 'rotate_c', 'rotate_k', ...(o['drop-data'] ? [`data_${rows}`, 'rekey_meta'] : [])]) {
    await client.execute(`DROP KEYSPACE IF EXISTS ${prefix}_${ks}`).catch(() => {});
  }
  await client.shutdown();
  rmSync(work, { recursive: true, force: true });
}
