import { createHash } from 'node:crypto';
import { createGunzip, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CassetteError } from '../../src/errors.js';
import type { ChunkEntry } from '../../src/manifest/format.js';
import { readChunkRows, verifyChunk } from '../../src/pipeline/chunks/read-chunk.js';
import { writeChunks } from '../../src/pipeline/export/chunk-writer.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import type { FsStore } from '../../src/storage/fs-store.js';
import { readAll } from '../support/blob-store-contract.js';
import { memoryFaultyStore, tempFaultyStore, type FaultyStore } from '../support/fakes/faulty-store.js';

const KEY_PREFIX = 'backups/20261122T125144Z-3fa9c1/';
const WHAT = 'chunk 0 of t range 0';

/** Writes `lines` as one chunk the way the export does; returns its repository key and entry. */
async function writeChunk(store: BlobStore, lines: readonly string[], name = 'c'): Promise<{ key: string; entry: ChunkEntry }> {
  const relativeKey = `data/t/${name}.ndjson.gz`;
  const entries = await writeChunks((async function* () {
    yield lines;
  })(), { store, keyFor: () => ({ key: `${KEY_PREFIX}${relativeKey}`, relativeKey }), gzipLevel: 1, maxChunkBytes: 1024 ** 3 });
  expect(entries).toHaveLength(1);
  return { key: `${KEY_PREFIX}${relativeKey}`, entry: entries[0] as ChunkEntry };
}

async function readRows(store: BlobStore, key: string, entry: ChunkEntry): Promise<unknown[]> {
  const rows: unknown[] = [];
  for await (const batch of readChunkRows(store, key, entry, WHAT)) rows.push(...batch);
  return rows;
}

/** Reads the chunk, returning the rows seen before it failed and the error. */
async function readUntilError(store: BlobStore, key: string, entry: ChunkEntry): Promise<{ rows: unknown[]; error: unknown }> {
  const rows: unknown[] = [];
  try {
    for await (const batch of readChunkRows(store, key, entry, WHAT)) rows.push(...batch);
  } catch (error) {
    return { rows, error };
  }
  return { rows, error: undefined };
}

function isCode(code: string): (err: unknown) => boolean {
  return (err) => err instanceof CassetteError && err.code === code;
}

/** Replaces the stored object under `key` with `edit` of its bytes (bypassing write-once). */
async function tamper(inner: FsStore, key: string, edit: (bytes: Buffer) => Buffer): Promise<void> {
  const bytes = await readAll(await inner.get(key));
  await inner.put(key, edit(Buffer.from(bytes)));
}

describe('readChunkRows and verifyChunk', () => {
  let store: FaultyStore;
  let inner: FsStore;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ store, inner, cleanup } = await tempFaultyStore());
  });
  afterEach(() => cleanup());

  const LINES = [{ k: [1], c: {} }, { k: [2], c: { v: { v: 'x', t: 5 } } }, { k: [3], c: {} }].map((r) => JSON.stringify(r));

  it('reads back exactly the rows written, for any text (property)', async () => {
    const value = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer(), fc.boolean(), fc.constant(null));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.dictionary(fc.string({ maxLength: 5 }), value, { maxKeys: 4 }), { minLength: 1, maxLength: 40 }), async (rows) => {
        const memory = memoryFaultyStore();
        const { key, entry } = await writeChunk(memory, rows.map((r) => JSON.stringify(r)));
        expect(await readRows(memory, key, entry)).toEqual(rows.map((r) => JSON.parse(JSON.stringify(r)) as unknown));
        await verifyChunk(memory, key, entry, WHAT);
      }),
      { numRuns: 20 },
    );
  });

  it.each([65_533, 65_534, 65_535])(
    'decodes a 4-byte character that straddles two 64 KiB decompressed buffers intact (it starts at byte %i)',
    async (offset) => {
      const prefix = '{"s":"';
      const s = `${'a'.repeat(offset - prefix.length)}😀b`;
      const lines = [JSON.stringify({ s }), JSON.stringify({ s: '✓ after' })];
      expect(Buffer.from(lines[0] as string, 'utf8').subarray(offset, offset + 4).toString('utf8')).toBe('😀');
      const { key, entry } = await writeChunk(store, lines);

      // Precondition: gunzip with 64 KiB output buffers really splits the character.
      const buffers: Buffer[] = [];
      for await (const out of (await store.get(key)).pipe(createGunzip({ chunkSize: 64 * 1024 }))) buffers.push(out as Buffer);
      expect(buffers[0]?.length).toBe(65_536);
      expect(offset + 4).toBeGreaterThan(65_536);

      expect(await readRows(store, key, entry)).toEqual([{ s }, { s: '✓ after' }]);
    },
  );

  it('refuses a chunk whose stored bytes changed (still valid gzip): BACKUP_INVALID, checksum', async () => {
    const { key, entry } = await writeChunk(store, LINES);
    await tamper(inner, key, (bytes) => {
      bytes[4] = (bytes[4] ?? 0) ^ 0xff; // gzip MTIME: gunzip ignores it, the checksum does not
      return bytes;
    });
    const { rows, error } = await readUntilError(store, key, entry);
    expect(isCode('BACKUP_INVALID')(error)).toBe(true);
    expect((error as Error).message).toMatch(/does not match its checksum/);
    expect(rows).toHaveLength(3); // documented: rows stream before the end-of-chunk check…
    await expect(verifyChunk(store, key, entry, WHAT)).rejects.toSatisfy(isCode('BACKUP_INVALID')); // …so verify first
  });

  it('refuses a truncated gzip stream whose checksum matches as BACKUP_INVALID, without hanging', async () => {
    const bytes = gzipSync(`${LINES.join('\n')}\n`).subarray(0, 12);
    const key = `${KEY_PREFIX}data/t/truncated.ndjson.gz`;
    await store.put(key, bytes);
    const entry = { key, rows: 3, bytes: bytes.length, rawBytes: 10, sha256: createHash('sha256').update(bytes).digest('hex') };
    const { error } = await readUntilError(store, key, entry);
    expect(isCode('BACKUP_INVALID')(error)).toBe(true);
    expect((error as Error).message).toMatch(/cannot be decompressed/);
  });

  it('verifyChunk refuses a chunk with a changed payload byte, or truncated, as BACKUP_INVALID', async () => {
    const { key, entry } = await writeChunk(store, LINES);
    await tamper(inner, key, (bytes) => {
      const at = Math.floor(bytes.length / 2);
      bytes[at] = (bytes[at] ?? 0) ^ 0x01;
      return bytes;
    });
    await expect(verifyChunk(store, key, entry, WHAT)).rejects.toSatisfy(isCode('BACKUP_INVALID'));

    const cut = await writeChunk(store, LINES, 'cut');
    await tamper(inner, cut.key, (bytes) => bytes.subarray(0, bytes.length - 6));
    const err = await verifyChunk(store, cut.key, cut.entry, WHAT).then(() => undefined, (e: unknown) => e);
    expect(isCode('BACKUP_INVALID')(err)).toBe(true);
    expect((err as Error).message).toMatch(/does not match its checksum/);
  });

  it('refuses a chunk whose row count differs from its marker', async () => {
    const { key, entry } = await writeChunk(store, LINES);
    for (const rows of [entry.rows + 1, entry.rows - 1]) {
      const { error } = await readUntilError(store, key, { ...entry, rows });
      expect(isCode('BACKUP_INVALID')(error)).toBe(true);
      expect((error as Error).message).toBe(`${WHAT} has 3 rows; its marker says ${rows}`);
    }
  });

  it('refuses a line that is not JSON, naming the line', async () => {
    const { key, entry } = await writeChunk(store, [LINES[0] as string, '{"k":[2],', LINES[2] as string]);
    const { error } = await readUntilError(store, key, entry);
    expect(isCode('BACKUP_INVALID')(error)).toBe(true);
    expect((error as Error).message).toBe(`${WHAT}: line 2 is not valid JSON`);
  });

  it('reports a missing chunk as BACKUP_INVALID', async () => {
    const { entry } = await writeChunk(store, LINES);
    const missing = `${KEY_PREFIX}data/t/missing.ndjson.gz`;
    expect(isCode('BACKUP_INVALID')((await readUntilError(store, missing, entry)).error)).toBe(true);
    await expect(verifyChunk(store, missing, entry, WHAT)).rejects.toSatisfy(isCode('BACKUP_INVALID'));
  });

  it('reports a repository failure while reading as REPOSITORY_UNAVAILABLE, not as a damaged backup', async () => {
    const { key, entry } = await writeChunk(store, LINES);
    store.failGetWhen((k) => k === key, { afterBytes: 10, times: 2 });
    expect(isCode('REPOSITORY_UNAVAILABLE')((await readUntilError(store, key, entry)).error)).toBe(true);
    await expect(verifyChunk(store, key, entry, WHAT)).rejects.toSatisfy(isCode('REPOSITORY_UNAVAILABLE'));
  });

  it('reads rows in batches as the decompressed text arrives', async () => {
    const many = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ k: [i], c: { v: { v: `row ${i}`, t: i } } }));
    const { key, entry } = await writeChunk(store, many);
    const sizes: number[] = [];
    for await (const batch of readChunkRows(store, key, entry, WHAT)) sizes.push(batch.length);
    expect(sizes.length).toBeGreaterThan(1);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(20_000);
  });
});
