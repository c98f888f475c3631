// Where an online rotation's time and CPU go (issue 12 item 2): generates issue 12's table
// (bench/peers/dataset.mjs) into a fresh keyspace, runs `cassette rotate` on it under GNU time with
// optional node flags (e.g. --cpu-prof), and prints wall, client CPU, Cassandra's CPU, peak RSS and
// the rotation's per-stage spans from its markers (first start to last finish of each stage).
// It runs `node [--node-flags] dist/cli/main.js`, so with V8's default heap, not the 384 MiB cap of
// bin/cassette.js's shebang (pass --node-flags=--max-old-space-size=384 to measure what ships).
//
//   npm run build && eval "$(scripts/services env)"
//   node bench/rotate-profile.mjs [--rows 100000] [--runs 1] [--workers N] [--node-flags "--cpu-prof --cpu-prof-dir=/tmp/prof"] [--lwt] [--extra "<more rotate flags>"]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import cassandra from 'cassandra-driver';
import { TABLE, ENCRYPTED_COLUMNS, createTable, generateRows, newFernetKey, countKeyVersions } from './peers/dataset.mjs';
import { runMeasured } from './peers/measure.mjs';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const env = process.env;
const { values: o } = parseArgs({ options: {
  rows: { type: 'string', default: '100000' }, runs: { type: 'string', default: '1' }, 'node-flags': { type: 'string', default: '' },
  lwt: { type: 'boolean', default: false }, extra: { type: 'string', default: '' }, workers: { type: 'string' },
} });
const host = env.CASSETTE_TEST_CASSANDRA_HOST ?? '127.0.0.1';
const port = Number(env.CASSETTE_TEST_CASSANDRA_PORT ?? '9042');
const dc = env.CASSETTE_TEST_CASSANDRA_DC ?? 'datacenter1';
const fernet = await import(join(ROOT, 'dist', 'crypto', 'fernet.js'));
const client = new cassandra.Client({ contactPoints: [`${host}:${port}`], localDataCenter: dc, socketOptions: { readTimeout: 120_000 }, encoding: { useBigIntAsLong: true } });
await client.connect();

/** CPU seconds (utime + stime) of the Cassandra process listening on `port`. */
function cassandraCpu() {
  const pid = execFileSync('bash', ['-c', `ss -ltnp 'sport = :${port}' | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2`]).toString().trim();
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

for (let run = 1; run <= Number(o.runs); run++) {
  const keyspace = `benchp_rp_${run}`;
  await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await createTable(client, keyspace);
  const oldKey = newFernetKey();
  await generateRows(client, keyspace, Number(o.rows), oldKey, fernet);
  const work = mkdtempSync(join(tmpdir(), 'rotate-profile-'));
  const config = join(work, 'rotate.yaml');
  writeFileSync(config, [
    `cluster: {contact_points: ["${host}"], port: ${port}, local_dc: ${dc}, keyspace: ${keyspace}}`,
    `repo: ${join(work, 'repo')}`, 'key_version_column: key_version',
    ...(o.workers === undefined ? [] : [`execution: {workers: ${Number(o.workers)}}`]),
    'provider: {type: fernet, old_key_env: BENCHP_OLD_KEY, new_key_env: BENCHP_NEW_KEY, old_key_version: v1, new_key_version: v2}',
    `tables:\n  - {name: ${TABLE}, partition_key: [id, shard], clustering_key: [at], encrypted_columns: [${ENCRYPTED_COLUMNS.join(', ')}], preserve_ttl: true, preserve_writetime: true, use_lwt_guard: ${o.lwt}}`, '',
  ].join('\n'));
  const before = cassandraCpu();
  const args = [...o['node-flags'].split(' ').filter(Boolean), join(ROOT, 'dist', 'cli', 'main.js'), 'rotate', '--config', config, '--json', ...o.extra.split(' ').filter(Boolean)];
  const r = await runMeasured(process.execPath, args, { env: { ...env, BENCHP_OLD_KEY: oldKey, BENCHP_NEW_KEY: newFernetKey() }, label: 'cassette rotate' });
  const server = cassandraCpu() - before;
  if (r.status !== 0) { console.error(r.stderr); process.exit(1); }
  const report = JSON.parse(r.stdout);
  const left = await countKeyVersions(client, keyspace, 'v2');
  // Stage spans from the markers' doneAt.
  const spans = {};
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) { walk(p); continue; }
      if (!name.endsWith('.json')) continue;
      const stage = p.includes('/export/ranges/') ? 'export' : p.includes('/transform/done/') ? 'transform' : p.includes('/written/') ? 'write' : p.includes('/verified') ? 'verify' : null;
      if (stage === null) continue;
      const doc = JSON.parse(readFileSync(p, 'utf8'));
      const doneAt = doc.doneAt ?? doc.completedAt;
      if (doneAt === undefined) continue;
      const t = Date.parse(doneAt);
      spans[stage] = { first: Math.min(spans[stage]?.first ?? t, t), last: Math.max(spans[stage]?.last ?? t, t), n: (spans[stage]?.n ?? 0) + 1 };
    }
  };
  walk(join(work, 'repo'));
  const t0 = Math.min(...Object.values(spans).map((s) => s.first));
  console.log(JSON.stringify({
    run, rows: Number(o.rows), wall: +r.wall.toFixed(1), clientCpu: +r.cpu.toFixed(1), cassandraCpu: +server.toFixed(1), rssMiB: Math.round(r.rssMiB),
    rowsPerSecond: report.rowsPerSecond, durationMs: report.durationMs, rotated: left.rows - left.other, of: left.rows,
    stages: Object.fromEntries(Object.entries(spans).map(([k, s]) => [k, { markers: s.n, firstDoneS: +((s.first - t0) / 1000).toFixed(1), lastDoneS: +((s.last - t0) / 1000).toFixed(1) }])),
  }));
  await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  rmSync(work, { recursive: true, force: true });
}
await client.shutdown();
