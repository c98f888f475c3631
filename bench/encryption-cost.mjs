// What encrypting a backup with age costs (docs/benchmarks.md, issue 13): backs up a keyspace
// (default bench_backup_1m, loaded by bench/backup-rss.mjs) plain and with --encrypt-to, alternately,
// into a local directory, then restores each into a fresh keyspace (the encrypted one with
// --identity), all with the built CLI under GNU time: wall, rows/s, client CPU, peak RSS, stored bytes.
// A throwaway age identity is made for the run and deleted with the work folder.
//
//   npm run build && eval "$(scripts/services up)" && node bench/encryption-cost.mjs [--keyspace bench_backup_1m] [--runs 1] [--json]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateIdentity, identityToRecipient } from 'age-encryption';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'bin', 'cassette.js');
const argv = process.argv.slice(2);
const opt = (name, fallback) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : fallback; };
const keyspace = opt('--keyspace', 'bench_backup_1m');
const runs = Number(opt('--runs', '1'));
const env = process.env;
const host = env.CASSETTE_TEST_CASSANDRA_HOST ?? '127.0.0.1';
const port = env.CASSETTE_TEST_CASSANDRA_PORT ?? '9042';
const dc = env.CASSETTE_TEST_CASSANDRA_DC ?? 'datacenter1';
const connection = ['--hosts', host, '--port', port, '--dc', dc];

const work = mkdtempSync(join(tmpdir(), 'cassette-encryption-bench-'));
const repo = join(work, 'repo');
const identity = await generateIdentity();
const identityFile = join(work, 'key.txt');
writeFileSync(identityFile, `${identity}\n`, { mode: 0o600 });
const recipient = await identityToRecipient(identity);

/** Runs the CLI under GNU time; returns its JSON report, wall seconds, CPU seconds and peak RSS. */
function measured(args) {
  const timeFile = join(work, 'time.txt');
  const started = performance.now();
  const r = spawnSync('/usr/bin/time', ['-v', '-o', timeFile, cli, ...args, '--json'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const wall = (performance.now() - started) / 1000;
  if (r.status !== 0) {
    console.error(r.stderr);
    process.exit(1);
  }
  const time = readFileSync(timeFile, 'utf8');
  const field = (label) => Number(new RegExp(`${label}: (.+)`).exec(time)?.[1]);
  return { report: JSON.parse(r.stdout), wall, cpu: field('User time \\(seconds\\)') + field('System time \\(seconds\\)'), rssMiB: field('Maximum resident set size \\(kbytes\\)') / 1024 };
}

function dropKeyspace(name) {
  execFileSync(process.execPath, ['-e', `const c=require('cassandra-driver');const x=new c.Client({contactPoints:['${host}:${port}'],localDataCenter:'${dc}'});x.connect().then(()=>x.execute('DROP KEYSPACE IF EXISTS ${name}')).then(()=>x.shutdown())`], { cwd: root });
}

/** Stored bytes of a backup's folder. */
function storedBytes(backupId) {
  return Number(execFileSync('du', ['-sb', join(repo, 'backups', backupId)], { encoding: 'utf8' }).split('\t')[0]);
}

const results = [];
for (let run = 1; run <= runs; run++) {
  for (const encrypted of run % 2 === 1 ? [false, true] : [true, false]) {
    const sealing = encrypted ? ['--encrypt-to', recipient] : [];
    const b = measured(['backup', '--repo', repo, '--keyspace', keyspace, ...connection, ...sealing]);
    const target = `bench_enc_${Date.now().toString(36)}`;
    const r = measured(['restore', b.report.backupId, '--repo', repo, '--target-keyspace', target, ...connection, ...(encrypted ? ['--identity', identityFile] : [])]);
    dropKeyspace(target);
    const row = {
      run, encrypted, rows: b.report.rows, storedMiB: storedBytes(b.report.backupId) / 1048576,
      backup: { wall: b.wall, rowsPerSecond: Math.round(b.report.rows / b.wall), cpu: b.cpu, rssMiB: b.rssMiB },
      restore: { wall: r.wall, rowsPerSecond: Math.round(r.report.written / r.wall), cpu: r.cpu, rssMiB: r.rssMiB },
    };
    results.push(row);
    console.error(`bench: run ${run} ${encrypted ? 'encrypted' : 'plain'}: backup ${row.backup.wall.toFixed(1)} s (${row.backup.rowsPerSecond} rows/s, CPU ${row.backup.cpu.toFixed(1)} s, ${row.backup.rssMiB.toFixed(0)} MiB), ` +
      `restore ${row.restore.wall.toFixed(1)} s (${row.restore.rowsPerSecond} rows/s, CPU ${row.restore.cpu.toFixed(1)} s, ${row.restore.rssMiB.toFixed(0)} MiB), stored ${row.storedMiB.toFixed(1)} MiB`);
    rmSync(join(repo, 'backups', b.report.backupId), { recursive: true, force: true });
  }
}
rmSync(work, { recursive: true, force: true });
if (argv.includes('--json')) {
  console.log(JSON.stringify(results));
} else {
  console.log('| run | backup | rows | stored MiB | backup s | backup rows/s | backup CPU s | backup peak RSS MiB | restore s | restore rows/s | restore CPU s | restore peak RSS MiB |');
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const x of results) {
    console.log(`| ${x.run} | ${x.encrypted ? 'age' : 'plain'} | ${x.rows.toLocaleString('en-US')} | ${x.storedMiB.toFixed(1)} | ${x.backup.wall.toFixed(1)} | ${x.backup.rowsPerSecond.toLocaleString('en-US')} | ${x.backup.cpu.toFixed(1)} | ${x.backup.rssMiB.toFixed(0)} | ` +
      `${x.restore.wall.toFixed(1)} | ${x.restore.rowsPerSecond.toLocaleString('en-US')} | ${x.restore.cpu.toFixed(1)} | ${x.restore.rssMiB.toFixed(0)} |`);
  }
}
