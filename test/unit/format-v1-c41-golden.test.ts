/**
 * The golden fixture of a backup of Cassandra 4.1 (test/fixtures/format-v1-c41, made by its
 * make-fixture.mjs from the real `--version 4.1` test node through the built CLI; docs/format.md
 * §6.4, the optional `approximatedWritetimes` of format version 1) must stay readable by every
 * later build: its documents validate and name the approximated columns, its chunks match their
 * checksums and decode, and a restore plans its rows with the approximated writetimes. Backups
 * without the field (test/fixtures/format-v1) read as before.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { chunkKey } from '../../src/manifest/keys.js';
import { listBackups, readHeader, readManifest } from '../../src/manifest/repository.js';
import { readChunkRows, verifyChunk } from '../../src/pipeline/chunks/read-chunk.js';
import { FsStore } from '../../src/storage/fs-store.js';
import type { KeyspaceSchema } from '../../src/cassandra/schema/model.js';
import { tableWriterFor, type BackupRow, type ListWrite } from '../../src/cassandra/writes/row-writes.js';

const store = new FsStore(fileURLToPath(new URL('../fixtures/format-v1-c41/repo', import.meta.url)));
const oldStore = new FsStore(fileURLToPath(new URL('../fixtures/format-v1/repo', import.meta.url)));
const T = 1_700_000_000_000_000;

async function onlyBackup(of: FsStore): Promise<string> {
  const [summary, ...others] = await listBackups(of);
  expect(others).toEqual([]);
  return summary?.backupId as string;
}

async function rowsOf(backupId: string): Promise<BackupRow[]> {
  const manifest = await readManifest(store, backupId);
  const rows: BackupRow[] = [];
  for (const range of manifest?.tables[0]?.ranges ?? []) {
    for (const chunk of range.chunks) {
      await verifyChunk(store, chunkKey(backupId, chunk.key), chunk, chunk.key);
      for await (const batch of readChunkRows(store, chunkKey(backupId, chunk.key), chunk, chunk.key)) rows.push(...(batch as BackupRow[]));
    }
  }
  return rows.sort((a, b) => JSON.stringify(a.k).localeCompare(JSON.stringify(b.k)));
}

describe('format version 1 golden fixture of a Cassandra 4.1 backup', () => {
  it('is a complete backup whose backup.json and manifest.json name the columns with approximated writetimes', async () => {
    const backupId = await onlyBackup(store);
    const header = await readHeader(store, backupId);
    const manifest = await readManifest(store, backupId);
    const approximated = { rule: 'row-cells', tables: [{ name: 't', columns: ['sl', 'l', 'm', 's', 'u'] }] };
    expect(header?.formatVersion).toBe(1);
    expect(header?.cluster.releaseVersion).toBe('4.1.10');
    expect(header?.approximatedWritetimes).toEqual(approximated);
    expect(manifest?.approximatedWritetimes).toEqual(approximated);
    expect(manifest?.totals).toMatchObject({ tables: 1, rows: 3 });
  });

  it('has chunks that match their checksums, holding the approximations of §6.4', async () => {
    const backupId = await onlyBackup(store);
    const started = Date.parse((await readHeader(store, backupId))?.createdAt as string) * 1000;
    const expiry = expect.any(Number) as number;
    expect(await rowsOf(backupId)).toEqual([
      { k: [1, 1], c: {
        sl: { v: ['p'], t: [started] }, // no static scalar: the backup's start
        fl: { v: [7], t: T + 1, e: expiry },
        l: { v: [1, 2], t: [T + 1, T + 1], e: [expiry, expiry] },
        m: { v: [[1, 'x']], t: [T + 1], e: [expiry] },
        s: { v: ['a'], t: [T + 1], e: [expiry] },
        u: { v: { street: 'main', n: 5 }, t: [T + 1, T + 1], e: [expiry, expiry] },
        v: { v: 'one', t: T + 1, e: expiry },
      } },
      // The append at T + 9 gets the row's writetime, T + 2; the null field no cell.
      { k: [1, 2], c: { sl: { v: ['p'], t: [started] }, l: { v: [3, 4], t: [T + 2, T + 2] }, u: { v: { street: 'side', n: null }, t: [T + 2, null] }, v: { v: 'two', t: T + 2 } } },
      { k: [2, 1], c: { m: { v: [[2, 'y']], t: [started] } } },
    ]);
  });

  it('is planned by a restore with the approximated writetimes', async () => {
    const backupId = await onlyBackup(store);
    const manifest = await readManifest(store, backupId);
    const schema = manifest?.keyspace as unknown as KeyspaceSchema;
    const writer = tableWriterFor({ keyspace: 'x', table: schema.tables[0] as KeyspaceSchema['tables'][number], types: schema.types }, { kind: 'none' }, { markerTimestampMicros: 1n, targetReadsListWritetimes: false });
    const [, second] = await rowsOf(backupId);
    const plan = writer.planRow(second as BackupRow, 1_800_000_000);
    const lists = plan.lists as readonly ListWrite[];
    expect(lists.map((l) => [l.column, l.elements.map((e) => [e.json, e.writetime])])).toEqual([['sl', [['p', BigInt(Date.parse(manifest?.createdAt as string)) * 1000n]]], ['l', [[3, BigInt(T + 2)], [4, BigInt(T + 2)]]]]);
    expect(lists[1]?.selectCql).toBe('SELECT "l" FROM "x"."t" WHERE "k" = ? AND "c" = ?');
    expect(plan.statements.map((s) => [s.cql, s.params.at(0)])).toContainEqual(['UPDATE "x"."t" USING TIMESTAMP ? AND TTL ? SET "u"."street" = ? WHERE "k" = ? AND "c" = ?', BigInt(T + 2)]);
  });

  it('leaves backups without the field readable, with no approximated columns', async () => {
    const manifest = await readManifest(oldStore, await onlyBackup(oldStore));
    expect(manifest?.approximatedWritetimes).toBeUndefined();
  });
});
