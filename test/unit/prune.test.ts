import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { silentProgress } from '../../src/commands/progress.js';
import { runPrune, type PruneRequest } from '../../src/commands/prune/prune.js';
import { backupFolder, backupHeaderKey, chunkKey, deletingKey, leaseKey, manifestKey } from '../../src/manifest/keys.js';
import { listBackups, readCompleteManifest } from '../../src/manifest/repository.js';
import { LeaseHolder } from '../../src/pipeline/lease-holder.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { copyBackupAs } from '../support/copy-backup.js';
import { MemoryStore } from '../support/fakes/memory-store.js';
import { keyspaceSchema, tableSchema, writeSyntheticBackup } from '../support/synthetic-backup.js';

const SEED = '20261122T120000Z-000000';
const NOW = Date.parse('2026-11-30T12:00:00.000Z');
const DAYS = ['2026-11-25T10:00:00.000Z', '2026-11-26T10:00:00.000Z', '2026-11-27T10:00:00.000Z', '2026-11-28T09:00:00.000Z', '2026-11-28T10:00:00.000Z'];

/** A repository with the seed removed and five complete backups of keyspace `app`, one per time of DAYS. */
async function repository(): Promise<{ store: MemoryStore; ids: string[] }> {
  const store = new MemoryStore();
  const schema = keyspaceSchema('app', [tableSchema('t', [['id', 'int', 'partition_key'], ['v', 'text', 'regular']])]);
  await writeSyntheticBackup(store, SEED, schema, [{ name: 't', ranges: [[[{ k: [1], c: { v: { v: 'a', t: 1 } } }]], [[{ k: [2], c: {} }], [{ k: [3], c: {} }]]] }]);
  const ids: string[] = [];
  for (const [i, at] of DAYS.entries()) ids.push(await copyBackupAs(store, SEED, at, `00000${i + 1}`));
  for await (const e of store.list(backupFolder(SEED))) await store.delete(e.key);
  return { store, ids };
}

async function snapshot(store: BlobStore): Promise<Map<string, number>> {
  const all = new Map<string, number>();
  for await (const e of store.list('')) all.set(e.key, e.size);
  return all;
}

const request = (extra: Partial<PruneRequest> = {}): PruneRequest => ({ policy: { keepDaily: 2 }, dryRun: false, parallel: 4, ...extra });
const deps = (store: BlobStore, leases?: LeaseHolder): Parameters<typeof runPrune>[1] => ({
  store, progress: silentProgress, signal: new AbortController().signal, now: () => NOW, ...(leases === undefined ? {} : { leases }),
});

describe('runPrune', () => {
  it('refuses to run without a keep rule (USAGE)', async () => {
    const { store } = await repository();
    await expect(runPrune(request({ policy: {} }), deps(store))).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('removes what the policy does not keep; a dry run reports the same and changes nothing', async () => {
    const { store, ids } = await repository();
    const gone = [ids[0], ids[1], ids[3]] as string[];
    const before = await snapshot(store);
    const dry = await runPrune(request({ dryRun: true }), deps(store));
    expect(await snapshot(store)).toEqual(before);
    expect(dry.removed.map((b) => b.backupId)).toEqual(gone);
    const expectedBytes = [...before].filter(([k]) => gone.some((id) => k.startsWith(backupFolder(id)))).reduce((n, [, s]) => n + s, 0);
    expect(dry.bytesFreed).toBe(expectedBytes);

    const report = await runPrune(request(), deps(store, holder(store)));
    expect(report.removed.map((b) => b.backupId)).toEqual(gone);
    expect([...(await snapshot(store)).keys()].filter((k) => k.startsWith('leases/'))).toEqual([]); // each delete lease dropped once its backup was gone
    expect(report.removed.map((b) => b.rows)).toEqual([3, 3, 3]);
    expect(report.bytesFreed).toBe(expectedBytes);
    expect(report.kept.map((b) => [b.backupId, b.reasons])).toEqual([[ids[2], ['keep-daily']], [ids[4], ['keep-daily']]]);
    expect(await backupsIn(store)).toEqual([ids[2], ids[4]]);
  });

  it('removes chunks no manifest entry or marker references, and keeps the referenced ones', async () => {
    const { store, ids } = await repository();
    const kept = ids[4] as string;
    const incomplete = await copyBackupAs(store, kept, '2026-11-29T10:00:00.000Z', '0000aa', { complete: false });
    const stray = chunkKey(kept, 'data/t/00001-deadbeef-00000.ndjson.gz');
    await store.put(stray, 'abandoned attempt');
    const strayInIncomplete = chunkKey(incomplete, 'data/t/00000-deadbeef-00000.ndjson.gz');
    await store.put(strayInIncomplete, 'abandoned attempt 2');
    const report = await runPrune(request({ policy: { keepLast: 10 } }), deps(store, holder(store)));
    expect(report.removed).toEqual([]);
    expect(report.garbage).toEqual([{ backupId: kept, objects: 1, bytes: 17 }, { backupId: incomplete, objects: 1, bytes: 19 }]);
    expect(await store.head(stray)).toBeUndefined();
    expect(await store.head(strayInIncomplete)).toBeUndefined();
    const manifest = await readCompleteManifest(store, kept);
    for (const t of manifest.tables) for (const r of t.ranges) for (const c of r.chunks) expect(await store.head(chunkKey(kept, c.key))).toBeDefined();
    expect(report.kept.find((b) => b.backupId === incomplete)?.reasons[0]).toMatch(/^incomplete, resumable/);
  });

  it('keeps incomplete backups unless asked, and then only old ones without a live lease', async () => {
    const { store, ids } = await repository();
    const old = await copyBackupAs(store, ids[4] as string, '2026-11-20T10:00:00.000Z', '0000bb', { complete: false });
    const young = await copyBackupAs(store, ids[4] as string, '2026-11-29T10:00:00.000Z', '0000cc', { complete: false });
    const report = await runPrune(request({ policy: { keepLast: 10 }, forgetIncompleteOlderThanMs: 7 * 86_400_000 }), deps(store, holder(store)));
    expect(report.removed.map((b) => [b.backupId, b.state])).toEqual([[old, 'incomplete']]);
    expect(report.kept.find((b) => b.backupId === young)?.reasons).toEqual(['incomplete, resumable (younger than --forget-incomplete-older-than)']);
  });

  it('never removes a backup with a live lease; a stale lease protects nothing and is removed', async () => {
    const { store, ids } = await repository();
    const writer = holder(store, 'backup --resume');
    await writer.hold({ kind: 'backup', id: ids[0] as string }, 'write');
    const reader = holder(store, 'restore');
    await reader.hold({ kind: 'backup', id: ids[1] as string }, 'read');
    const dead = new LeaseHolder(store, { command: 'restore', host: 'gone', pid: 9, now: () => NOW - 3_600_000 });
    await dead.hold({ kind: 'backup', id: ids[3] as string }, 'read');
    const report = await runPrune(request(), deps(store, holder(store)));
    expect(report.removed.map((b) => b.backupId)).toEqual([ids[3]]);
    expect(report.staleLeases).toBe(1);
    expect(await store.head(leaseKey('backup', ids[3] as string, dead.holder))).toBeUndefined();
    expect(report.kept.find((b) => b.backupId === ids[0])?.reasons[0]).toMatch(/^in use: host h pid 1 \(`cassette backup --resume`, write/);
    expect(report.kept.find((b) => b.backupId === ids[1])?.reasons[0]).toMatch(/^in use: .*`cassette restore`, read/);
  });

  it('deletes in order: tombstone, manifest, markers, the rest, backup.json, tombstone; an interrupted prune is finished by the next', async () => {
    const { store, ids } = await repository();
    const order: string[] = [];
    const recording: BlobStore = Object.assign(Object.create(store) as BlobStore, {
      description: store.description,
      put: (...args: Parameters<BlobStore['put']>) => { order.push(`put ${args[0]}`); return store.put(...args); },
      delete: (key: string) => { order.push(`delete ${key}`); return store.delete(key); },
      list: (prefix: string) => store.list(prefix),
      get: (key: string) => store.get(key),
      head: (key: string) => store.head(key),
    });
    await runPrune(request({ policy: { keepLast: 4 } }), deps(recording, holder(recording)));
    const id = ids[0] as string;
    const steps = order.filter((line) => line.includes(backupFolder(id))).map((line) => line.replace(backupFolder(id), ''));
    const kind = (line: string): number => {
      if (line === 'put deleting.json') return 0;
      if (line === 'delete manifest.json') return 1;
      if (line.startsWith('delete ranges/')) return 2;
      if (line === 'delete backup.json') return 4;
      if (line === 'delete deleting.json') return 5;
      return 3;
    };
    expect(steps[0]).toBe('put deleting.json');
    expect(steps.map(kind)).toEqual([...steps.map(kind)].sort((a, b) => a - b));
    expect(steps.at(-1)).toBe('delete deleting.json');
    expect(steps.filter((s) => kind(s) === 2)).toHaveLength(2);

    // An interrupted prune: tombstone written, manifest gone, the rest still there.
    const victim = ids[1] as string;
    await store.put(deletingKey(victim), '{}');
    await store.delete(manifestKey(victim));
    expect((await listBackups(store)).find((b) => b.backupId === victim)?.status).toBe('deleting');
    await expect(readCompleteManifest(store, victim)).rejects.toThrow(/being deleted by `cassette prune`/);
    const report = await runPrune(request({ policy: { keepLast: 10 } }), deps(store, holder(store)));
    expect(report.removed.map((b) => [b.backupId, b.state])).toEqual([[victim, 'deleting']]);
    expect(await backupsIn(store)).not.toContain(victim);
  });

  it('prunes each keyspace as its own series, or only the one --keyspace names', async () => {
    const { store, ids } = await repository();
    const other = await copyBackupAs(store, ids[0] as string, '2026-11-01T00:00:00.000Z', '0000dd');
    for (const key of [manifestKey(other), backupHeaderKey(other)]) {
      const doc = JSON.parse(await text(await store.get(key))) as { keyspace: { name: string } };
      doc.keyspace.name = 'other';
      await store.put(key, JSON.stringify(doc));
    }
    const report = await runPrune(request({ policy: { keepLast: 1 }, dryRun: true }), deps(store));
    expect(report.kept.map((b) => b.backupId)).toEqual([other, ids[4]]);
    const only = await runPrune(request({ policy: { keepLast: 1 }, keyspace: 'other', dryRun: true }), deps(store));
    expect([...only.removed, ...only.kept].map((b) => b.backupId)).toEqual([other]);
  });

  it('skips a backup whose deletion lease conflicts with a holder that came after the inventory', async () => {
    const { store, ids } = await repository();
    const late = holder(store, 'restore');
    const pruner = holder(store);
    const racing: LeaseHolder = Object.assign(Object.create(pruner) as LeaseHolder, {
      hold: async (target: { kind: 'backup'; id: string }, mode: 'delete') => {
        if (target.id === ids[0]) await late.hold(target, 'read');
        return pruner.hold(target, mode);
      },
    });
    const report = await runPrune(request({ policy: { keepLast: 4 } }), deps(store, racing));
    expect(report.removed).toEqual([]);
    expect(report.kept.find((b) => b.backupId === ids[0])?.reasons[0]).toMatch(/^in use: backup .* is in use/);
    expect(await backupsIn(store)).toContain(ids[0]);
  });
});

function holder(store: BlobStore, command = 'prune'): LeaseHolder {
  return new LeaseHolder(store, { command, host: 'h', pid: 1, now: () => NOW });
}

async function backupsIn(store: BlobStore): Promise<string[]> {
  const ids = new Set<string>();
  for await (const e of store.list('backups/')) ids.add(e.key.split('/')[1] as string);
  return [...ids].sort();
}
