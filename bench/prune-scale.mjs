#!/usr/bin/env node
// Benchmark of `cassette prune` at repository scale: duration and peak RSS of a dry run and of the
// real prune over many backups with many chunks, plus garbage. A benchmark script, not a timed test.
//
//   npm run build && set -a && source <services env> && set +a && node bench/prune-scale.mjs [--copies 40] [--garbage 5000] [--rows 100000]
//
// One real backup of a bench table (keyspace bench_prune, --max-chunk-bytes 64KiB, so ~200 chunks
// per 100k rows) is copied `copies` times into a file repository under ids of earlier days
// (backup.json and manifest.json rewritten, chunks hard-linked), `garbage` unreferenced chunks are
// added to the newest copy, and `cassette prune --keep-last 5` runs under GNU time.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import cassandra from 'cassandra-driver';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const CLI = join(ROOT, 'bin', 'cassette.js');
const { values } = parseArgs({ options: { copies: { type: 'string', default: '40' }, garbage: { type: 'string', default: '5000' }, rows: { type: 'string', default: '100000' } } });
const copies = Number(values.copies);
const garbage = Number(values.garbage);
const rows = Number(values.rows);
const env = process.env;
const host = env.CASSETTE_TEST_CASSANDRA_HOST ?? '127.0.0.1';
const port = env.CASSETTE_TEST_CASSANDRA_PORT ?? '9042';
const dc = env.CASSETTE_TEST_CASSANDRA_DC ?? 'datacenter1';

const client = new cassandra.Client({ contactPoints: [`${host}:${port}`], localDataCenter: dc });
await client.connect();
await client.execute("CREATE KEYSPACE IF NOT EXISTS bench_prune WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
await client.execute('CREATE TABLE IF NOT EXISTS bench_prune.items (id int PRIMARY KEY, payload text)');
const have = Number((await client.execute('SELECT count(*) FROM bench_prune.items')).rows[0].get(0));
if (have < rows) {
  await cassandra.concurrent.executeConcurrent(client, 'INSERT INTO bench_prune.items (id, payload) VALUES (?, ?)',
    Array.from({ length: rows }, (_, i) => [i, `payload ${i} `.padEnd(100, 'x')]), { concurrencyLevel: 64 });
}
await client.shutdown();

const repo = mkdtempSync(join(tmpdir(), 'bench-prune-'));
const backup = JSON.parse(execFileSync(CLI, ['backup', '--repo', repo, '--keyspace', 'bench_prune', '--hosts', host, '--port', port, '--dc', dc,
  '--max-chunk-bytes', '64KiB', '--json'], { encoding: 'utf8' }));
const source = join(repo, 'backups', backup.backupId);
const files = (dir) => readdirSync(dir, { recursive: true }).map(String).filter((f) => statSync(join(dir, f)).isFile());
const sourceFiles = files(source);
let newest;
for (let i = 1; i <= copies; i++) {
  const at = new Date(Date.now() - i * 86_400_000).toISOString();
  const id = `${at.slice(0, 19).replace(/[-:]/g, '')}Z-${String(i).padStart(6, '0')}`;
  const target = join(repo, 'backups', id);
  for (const f of sourceFiles) {
    mkdirSync(dirname(join(target, f)), { recursive: true });
    if (f === 'backup.json' || f === 'manifest.json') {
      const doc = JSON.parse(readFileSync(join(source, f), 'utf8'));
      Object.assign(doc, { backupId: id, createdAt: at }, f === 'manifest.json' ? { completedAt: at } : {});
      writeFileSync(join(target, f), JSON.stringify(doc));
    } else {
      linkSync(join(source, f), join(target, f));
    }
  }
  if (i === 1) newest = target;
}
const someChunk = sourceFiles.find((f) => f.startsWith('data/'));
for (let g = 0; g < garbage; g++) {
  cpSync(join(source, someChunk), join(newest, 'data', 'items', `00000-${g.toString(16).padStart(8, '0')}-00000.ndjson.gz`));
}
const objects = files(join(repo, 'backups')).length;
console.log(`repository: ${copies + 1} backups of ${sourceFiles.length} objects each (${backup.chunks} chunks), ${garbage} garbage chunks: ${objects} objects`);

for (const dry of [true, false]) {
  const args = [CLI, 'prune', '--repo', repo, '--keep-last', '5', '--json', ...(dry ? ['--dry-run'] : [])];
  const run = spawnSync('/usr/bin/time', ['-f', '%e %M', 'node', ...args], { encoding: 'utf8' });
  const [seconds, kib] = run.stderr.trim().split('\n').at(-1).split(' ');
  const report = JSON.parse(run.stdout);
  console.log(`${dry ? 'dry run' : 'prune  '}: ${seconds} s, peak RSS ${(Number(kib) / 1024).toFixed(0)} MiB; removed ${report.removed.length} backups, ` +
    `${report.garbage.reduce((n, g) => n + g.objects, 0)} garbage chunks, ${report.objectsRemoved} objects, ${(report.bytesFreed / 1024 / 1024).toFixed(1)} MiB`);
}
console.log(`left: ${files(join(repo, 'backups')).length} objects (${relative(ROOT, repo)})`);
rmSync(repo, { recursive: true, force: true });
