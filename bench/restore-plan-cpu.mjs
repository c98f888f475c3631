// In-process client CPU of the restore's own work (read chunks, gunzip, JSON.parse, decode, plan,
// batch: src/pipeline/load/load-chunk.ts with the real TableWriter) over a backup seeded by
// bench/restore-seed.mjs, with a session that answers every request at once (no driver, no
// network), so two builds can be compared without Cassandra's noise:
//   node bench/restore-plan-cpu.mjs [<checkout with dist/>] [<repo dir>] [<backup id>]
const root = process.argv[2] ?? new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const dist = (p) => import(`${root}/dist/${p}`);
const { readChunkRows } = await dist('pipeline/chunks/read-chunk.js');
const { loadChunk } = await dist('pipeline/load/load-chunk.js');
const { RequestGate } = await dist('pipeline/load/request-gate.js');
const { tableWriterFor } = await dist('cassandra/writes/row-writes.js');
const { FsStore } = await dist('storage/fs-store.js');
const { readFileSync } = await import('node:fs');
const repo = process.argv[3] ?? '/tmp/cassette-bench-restore/repo', id = process.argv[4] ?? '20261204T000000Z-10ad00';
const manifest = JSON.parse(readFileSync(`${repo}/backups/${id}/manifest.json`, 'utf8'));
const table = manifest.keyspace.tables[0];
const store = new FsStore(repo);
const writer = tableWriterFor({ keyspace: 'x', table, types: [] }, { kind: 'none' }, { markerTimestampMicros: 1n });
let statements = 0, requests = 0;
const session = { execute: async () => { requests++; statements++; return { rows: [] }; }, batch: async (s) => { requests++; statements += s.length; return { rows: [] }; } };
const entries = manifest.tables?.[0]?.ranges?.flatMap((r) => r.chunks) ?? [];
const start = process.cpuUsage(); const t0 = performance.now(); let rows = 0;
for (const entry of entries) {
  const r = await loadChunk(readChunkRows(store, `backups/${id}/${entry.key}`, entry, 'chunk'), writer, table.columns.filter((c) => c.kind === 'partition_key').length, { batchBytes: 4096, retryBaseDelayMs: 10, consistency: 1 },
    { session, gate: new RequestGate(64), signal: new AbortController().signal, now: Date.now, onRows: () => {}, onReject: (x) => { throw new Error(x.reason); } });
  rows += r.rows;
}
const u = process.cpuUsage(start);
console.log(JSON.stringify({ root, rows, requests, statements, cpuS: (u.user + u.system) / 1e6, wallS: (performance.now() - t0) / 1000 }));
