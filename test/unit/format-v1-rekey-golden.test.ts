/**
 * The golden fixture of a backup written by `cassette rekey` (test/fixtures/format-v1-rekey, made
 * by its make-fixture.mjs from a real Cassandra 5.0 through the built CLI; docs/format.md §8) must
 * stay readable by every later build: the derived backup records its source and what was rotated,
 * its checkpoints and quarantine list validate, its chunks match their checksums, rotated values
 * open under the new key at WRITETIME + 1 µs, and everything else equals the source byte for byte.
 */
import { readFileSync } from 'node:fs';
import { text } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createCipher } from '../../src/crypto/registry.js';
import { chunkKey, rekeyChunksFolder } from '../../src/manifest/keys.js';
import { RekeyChunkDone } from '../../src/manifest/rekey-format.js';
import { listBackups, readDocument, readManifest } from '../../src/manifest/repository.js';
import { readChunkRows, verifyChunk } from '../../src/pipeline/chunks/read-chunk.js';
import { FsStore } from '../../src/storage/fs-store.js';

const here = fileURLToPath(new URL('../fixtures/format-v1-rekey/', import.meta.url));
const store = new FsStore(`${here}repo`);
// The fixture's throwaway keys, as make-fixture.mjs has them.
const generator = readFileSync(`${here}make-fixture.mjs`, 'utf8');
const keyOf = (name: string): string => /= '([^']+)'/.exec(generator.split('\n').find((l) => l.startsWith(`export const ${name}`)) ?? '')?.[1] ?? '';
const env = { OLD: keyOf('OLD_KEY'), NEW: keyOf('NEW_KEY') };

type Cell = { v: string; t: number; e?: number };
type Row = { k: number[]; c: Record<string, Cell | undefined> };

async function rowsOf(backupId: string, table: string): Promise<Row[]> {
  const manifest = await readManifest(store, backupId);
  const rows: Row[] = [];
  for (const range of manifest?.tables.find((t) => t.name === table)?.ranges ?? []) {
    for (const chunk of range.chunks) {
      for await (const batch of readChunkRows(store, chunkKey(backupId, chunk.key), chunk, chunk.key)) rows.push(...(batch as Row[]));
    }
  }
  return rows.sort((a, b) => (a.k[0] ?? 0) - (b.k[0] ?? 0));
}

async function ids(): Promise<{ source: string; derived: string }> {
  const backups = await listBackups(store);
  const derived = (await Promise.all(backups.map((b) => readManifest(store, b.backupId)))).find((m) => m?.derivedFrom !== undefined);
  if (derived?.derivedFrom === undefined) throw new Error('the fixture has no rekeyed backup');
  return { source: derived.derivedFrom.backupId, derived: derived.backupId };
}

describe('format version 1 golden fixture of a rekeyed backup', () => {
  it('records where it came from and what was rotated; its checkpoints and quarantine list validate', async () => {
    const { source, derived } = await ids();
    expect((await listBackups(store)).map((b) => b.status)).toEqual(['complete', 'complete']);
    const manifest = await readManifest(store, derived);
    expect(manifest?.formatVersion).toBe(1);
    expect(manifest?.derivedFrom).toEqual({ backupId: source, by: 'rekey' });
    expect(manifest?.rekey).toEqual({ provider: 'fernet', newKeyVersion: '2', oldKeyVersions: ['1'], keyVersionColumn: 'key_version', tables: [{ name: 'users', columns: ['ssn', 'email'] }] });
    expect(manifest?.rekeyTotals).toEqual({ rowsChanged: 4, rowsSkipped: 0, valuesRotated: 4, valuesAlreadyCurrent: 2, valuesQuarantined: 1 });
    const entries = manifest?.tables.find((t) => t.name === 'users')?.ranges.flatMap((r) => r.chunks) ?? [];
    const checkpoints = [];
    for await (const entry of store.list(rekeyChunksFolder(derived))) checkpoints.push(await readDocument(store, entry.key, RekeyChunkDone, entry.key));
    expect(checkpoints.map((c) => c?.entry).sort((a, b) => (a?.key ?? '').localeCompare(b?.key ?? ''))).toEqual([...entries].sort((a, b) => a.key.localeCompare(b.key)));
    const quarantine = checkpoints.find((c) => c?.quarantineKey !== undefined)?.quarantineKey as string;
    expect((await text(await store.get(quarantine))).trim()).toBe('{"table":"users","column":"ssn","key":[4]}');
  });

  it('has chunks that match their checksums, and copies the tables it does not rotate unchanged', async () => {
    const { source, derived } = await ids();
    const manifest = await readManifest(store, derived);
    for (const table of manifest?.tables ?? []) {
      for (const range of table.ranges) for (const chunk of range.chunks) await verifyChunk(store, chunkKey(derived, chunk.key), chunk, chunk.key);
    }
    const before = await readManifest(store, source);
    expect(manifest?.tables.find((t) => t.name === 'plain')).toEqual(before?.tables.find((t) => t.name === 'plain'));
  });

  it('holds the rotated values under the new key at WRITETIME + 1 µs; the rest is the source\'s', async () => {
    const { source, derived } = await ids();
    const newOnly = await createCipher({ type: 'fernet', newKey: { source: { env: 'NEW' } }, oldKeys: [{ source: { env: 'NEW' } }], options: {} }, env);
    const before = await rowsOf(source, 'users');
    const after = await rowsOf(derived, 'users');
    expect(after.map((r) => r.k)).toEqual([[1], [2], [3], [4]]);
    const opens = async (cell: Cell | undefined, storage: 'blob' | 'text'): Promise<string | undefined> =>
      (await newOnly.open(Buffer.from(cell?.v ?? '', storage === 'blob' ? 'base64' : 'utf8'), { keyspace: 'golden_rekey_v1', table: 'users', column: '' }))?.plaintext.toString('utf8');
    const [r1, r2, r3, r4] = after as [Row, Row, Row, Row];
    const [b1, b2, b3, b4] = before as [Row, Row, Row, Row];
    expect(await Promise.all([opens(r1.c.ssn, 'blob'), opens(r1.c.email, 'text'), opens(r2.c.ssn, 'blob'), opens(r4.c.email, 'text')])).toEqual(['ssn-1', 'one@example.com', 'ssn-2', 'four@example.com']);
    expect([r1.c.ssn?.t, r1.c.email?.t, r2.c.ssn?.t, r4.c.email?.t]).toEqual([b1.c.ssn!.t + 1, b1.c.email!.t + 1, b2.c.ssn!.t + 1, b4.c.email!.t + 1]);
    expect(r2.c.ssn?.e).toBe(b2.c.ssn?.e);
    expect(r2.c.email).toBeUndefined();
    // Already under the new key, and the value no key opens: byte-identical.
    expect([r3.c.ssn, r3.c.email, r4.c.ssn]).toEqual([b3.c.ssn, b3.c.email, b4.c.ssn]);
    expect(after.map((r) => r.c.key_version?.v)).toEqual(['2', '2', '2', '1']);
    expect(after.map((r) => r.c.note)).toEqual(before.map((r) => r.c.note));
  });
});
