// Restore (load) benchmark: backs up bench_backup_1m (loaded by bench/backup-rss.mjs) once into a
// local directory, then restores it into a fresh keyspace with the built CLI, measuring wall time,
// rows/s, MB/s (uncompressed NDJSON), client CPU and peak RSS (GNU time). Usage, with the services up:
//   npm run build && eval "$(scripts/services env)" && node bench/restore-load.mjs [--keyspace bench_backup_1m] [--runs 1] [-- <extra restore flags>]
// With --repo <dir> --backup <id> (e.g. seeded by bench/restore-seed.mjs) it restores that backup
// instead of taking one; --node-flags "--cpu-prof --cpu-prof-dir=/tmp/prof" starts node directly with them.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'bin', 'cassette.js');
const argv = process.argv.slice(2);
const extra = argv.includes('--') ? argv.slice(argv.indexOf('--') + 1) : [];
const opt = (name, fallback) => { const i = argv.indexOf(name); return i >= 0 && i < argv.indexOf('--') >>> 0 ? argv[i + 1] : fallback; };
const keyspace = opt('--keyspace', 'bench_backup_1m');
const runs = Number(opt('--runs', '1'));
const givenRepo = opt('--repo', undefined);
const givenBackup = opt('--backup', undefined);
const nodeFlags = opt('--node-flags', '');
const launcher = nodeFlags === '' ? [cli] : [process.execPath, '--max-old-space-size=384', ...nodeFlags.split(' ').filter(Boolean), cli];
const env = process.env;
const connection = ['--hosts', env.CASSETTE_TEST_CASSANDRA_HOST ?? '127.0.0.1', '--port', env.CASSETTE_TEST_CASSANDRA_PORT ?? '9042', '--dc', env.CASSETTE_TEST_CASSANDRA_DC ?? 'datacenter1'];
if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) { console.error('bench: build first (npm run build)'); process.exit(2); }

const work = mkdtempSync(join(tmpdir(), 'cassette-restore-bench-'));
const repo = givenRepo ?? join(work, 'repo');
const backup = givenBackup !== undefined ? { backupId: givenBackup }
  : JSON.parse(execFileSync(cli, ['backup', '--repo', repo, '--keyspace', keyspace, ...connection, '--json'], { encoding: 'utf8' }));
if (givenBackup === undefined) console.error(`bench: backup ${backup.backupId}: ${backup.rows} rows, ${backup.chunks} chunks`);
const results = [];
for (let run = 1; run <= runs; run++) {
  const target = `bench_restore_${Date.now().toString(36)}`;
  const timeFile = join(work, `time-${run}.txt`);
  const started = performance.now();
  const r = spawnSync('/usr/bin/time', ['-v', '-o', timeFile, ...launcher, 'restore', backup.backupId, '--repo', repo, '--target-keyspace', target, ...connection, '--json', ...extra], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const wall = (performance.now() - started) / 1000;
  if (r.status !== 0) { console.error(r.stderr); process.exit(1); }
  const report = JSON.parse(r.stdout);
  const time = readFileSync(timeFile, 'utf8');
  const field = (label) => Number(new RegExp(`${label}: (.+)`).exec(time)?.[1]);
  results.push({ run, rows: report.written, wall, restoreSeconds: report.durationMs / 1000, rowsPerSecond: report.rowsPerSecond, mbPerSecond: report.bytesPerSecond / 1048576,
    peakRssMiB: field('Maximum resident set size \\(kbytes\\)') / 1024, cpuSeconds: field('User time \\(seconds\\)') + field('System time \\(seconds\\)') });
  console.error(`bench: run ${run}: ${report.written} rows in ${(report.durationMs / 1000).toFixed(1)} s, ${report.rowsPerSecond} rows/s, peak RSS ${(results.at(-1).peakRssMiB).toFixed(1)} MiB`);
  execFileSync(process.execPath, ['-e', `const c=require('cassandra-driver');const x=new c.Client({contactPoints:['${connection[1]}:${connection[3]}'],localDataCenter:'${connection[5]}'});x.connect().then(()=>x.execute('DROP KEYSPACE ${target}')).then(()=>x.shutdown())`], { cwd: root });
}
console.log(`| run | rows | wall s | restore s | rows/s | MB/s (NDJSON) | peak RSS MiB | client CPU s |\n|---:|---:|---:|---:|---:|---:|---:|---:|`);
for (const x of results) console.log(`| ${x.run} | ${x.rows.toLocaleString('en-US')} | ${x.wall.toFixed(1)} | ${x.restoreSeconds.toFixed(1)} | ${x.rowsPerSecond.toLocaleString('en-US')} | ${x.mbPerSecond.toFixed(1)} | ${x.peakRssMiB.toFixed(1)} | ${x.cpuSeconds.toFixed(1)} |`);
rmSync(work, { recursive: true, force: true });
