import { createHash, randomBytes } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CassetteError } from '../../src/errors.js';
import type { ChunkEntry } from '../../src/manifest/format.js';
import { writeChunks, type ChunkWriterOptions } from '../../src/pipeline/export/chunk-writer.js';
import type { BlobBody, BlobEntry, BlobStore } from '../../src/storage/blob-store.js';
import { readAll } from '../support/blob-store-contract.js';
import { memoryFaultyStore, tempFaultyStore, type FaultyStore } from '../support/fakes/faulty-store.js';

const PREFIX = 'backups/20261122T125144Z-3fa9c1/';

function keyFor(seq: number): { key: string; relativeKey: string } {
  const relativeKey = `data/t/00000-aaaaaaaa-${String(seq).padStart(5, '0')}.ndjson.gz`;
  return { key: `${PREFIX}${relativeKey}`, relativeKey };
}

function options(store: BlobStore, more: Partial<ChunkWriterOptions> = {}): ChunkWriterOptions {
  return { store, keyFor, gzipLevel: 1, maxChunkBytes: 64 * 1024, ...more };
}

async function* fromBatches(batches: readonly (readonly string[])[]): AsyncGenerator<readonly string[]> {
  for (const batch of batches) yield batch;
}

function rawSize(batch: readonly string[]): number {
  return Buffer.byteLength(`${batch.join('\n')}\n`, 'utf8');
}

/** `lines` lines of `width` incompressible characters, so gzip cannot shrink a body below the stream buffers. */
function noise(lines: number, width = 1024): string[] {
  return Array.from({ length: lines }, () => randomBytes(width).toString('base64').slice(0, width));
}

function isUnavailable(err: unknown): boolean {
  return err instanceof CassetteError && err.code === 'REPOSITORY_UNAVAILABLE';
}

/** Reads every chunk back and checks its entry against the stored object; returns each chunk's lines. */
async function checkStored(store: BlobStore, entries: readonly ChunkEntry[]): Promise<string[][]> {
  const contents: string[][] = [];
  for (const [seq, entry] of entries.entries()) {
    expect(entry.key).toBe(keyFor(seq).relativeKey);
    const stored = await readAll(await store.get(`${PREFIX}${entry.key}`));
    expect(entry.bytes).toBe(stored.length);
    expect(entry.sha256).toBe(createHash('sha256').update(stored).digest('hex'));
    const raw = gunzipSync(stored);
    expect(entry.rawBytes).toBe(raw.length);
    const text = raw.toString('utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.slice(0, -1).split('\n');
    expect(entry.rows).toBe(lines.length);
    contents.push(lines);
  }
  return contents;
}

/** writeChunks settles only after its put has: when it rejects, no put of it is still in flight. */
function expectNoPutInFlight(store: FaultyStore): void {
  expect(store.puts.filter((p) => p.outcome === 'pending')).toEqual([]);
}

async function storedKeys(store: BlobStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of store.list('')) keys.push(entry.key);
  return keys;
}

describe('writeChunks', () => {
  let store: FaultyStore;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ store, cleanup } = await tempFaultyStore());
  });
  afterEach(() => cleanup());

  it('rolls to a new chunk once a chunk holds maxChunkBytes of NDJSON, checked between batches', async () => {
    // Lines of one width, so every batch has the same raw size.
    const batches = Array.from({ length: 10 }, (_, b) => [0, 1, 2].map((i) => JSON.stringify({ k: [String(b * 3 + i).padStart(3, '0')], c: {} })));
    const batchBytes = rawSize(batches[0] as string[]);
    expect(batches.every((b) => rawSize(b) === batchBytes)).toBe(true);
    // 2.5 batches: a chunk closes after the batch that takes it to (or past) the limit, so 3 batches each.
    const entries = await writeChunks(fromBatches(batches), options(store, { maxChunkBytes: Math.ceil(batchBytes * 2.5) }));
    expect(entries.map((e) => e.rows)).toEqual([9, 9, 9, 3]);
    const contents = await checkStored(store, entries);
    expect(contents.flat()).toEqual(batches.flat());
    expect(store.puts.every((p) => p.ifAbsent)).toBe(true);

    // Reaching the limit exactly is enough to roll.
    const exact = await writeChunks(fromBatches(batches), options(memoryFaultyStore(), { maxChunkBytes: 2 * batchBytes }));
    expect(exact.map((e) => e.rows)).toEqual([6, 6, 6, 6, 6]);
    expect(exact.every((e) => e.rawBytes === 2 * batchBytes)).toBe(true);
  });

  it('splits any sequence of batches greedily, and every entry matches its stored object (property)', async () => {
    const line = fc.string({ unit: 'grapheme', maxLength: 30 }).map((s) => JSON.stringify({ s }));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(line, { maxLength: 5 }), { maxLength: 12 }), fc.integer({ min: 1, max: 300 }), async (batches, maxChunkBytes) => {
        const s = memoryFaultyStore();
        const entries = await writeChunks(fromBatches(batches), options(s, { maxChunkBytes }));
        // The model: non-empty batches fill a chunk until its raw size reaches the limit.
        const expected: string[][] = [];
        let current: string[] = [];
        let size = 0;
        for (const batch of batches.filter((b) => b.length > 0)) {
          current.push(...batch);
          size += rawSize(batch);
          if (size >= maxChunkBytes) {
            expected.push(current);
            current = [];
            size = 0;
          }
        }
        if (current.length > 0) expected.push(current);
        expect(await checkStored(s, entries)).toEqual(expected);
        expect(s.puts).toHaveLength(expected.length);
      }),
      { numRuns: 100 },
    );
  });

  it('writes no chunk for an empty source, or one that yields only empty batches', async () => {
    expect(await writeChunks(fromBatches([]), options(store))).toEqual([]);
    expect(await writeChunks(fromBatches([[], [], []]), options(store))).toEqual([]);
    expect(store.puts).toEqual([]);
    expect(await storedKeys(store)).toEqual([]);
  });

  it('skips empty batches between and after rows, and reports each non-empty batch once', async () => {
    const seen: [number, number][] = [];
    const entries = await writeChunks(
      fromBatches([[], ['{"a":1}'], [], [], ['{"b":2}', '{"c":3}'], []]),
      options(store, { maxChunkBytes: 1, onBatch: (rows, bytes) => seen.push([rows, bytes]) }),
    );
    expect(seen).toEqual([[1, 8], [2, 16]]);
    expect(entries.map((e) => [e.rows, e.rawBytes])).toEqual([[1, 8], [2, 16]]);
    expect(await checkStored(store, entries)).toEqual([['{"a":1}'], ['{"b":2}', '{"c":3}']]);
  });

  it.each([
    ['before reading the body', 0],
    ['part-way through the body', 100 * 1024],
    ['at commit, after the whole body', Number.POSITIVE_INFINITY],
  ])('rejects, without hanging, when the store fails a put %s', async (_when, afterBytes) => {
    // 2 MiB of incompressible NDJSON in one chunk: far more than the stream buffers hold, so a
    // producer left waiting for 'drain' would hang the test.
    store.failPut(2, { afterBytes });
    const batches = [['{"first":1}'], ...Array.from({ length: 64 }, () => noise(32))];
    const err = await writeChunks(fromBatches(batches), options(store, { maxChunkBytes: 1 })).then(() => undefined, (e: unknown) => e);
    expect(isUnavailable(err)).toBe(true);
    expect(store.puts.map((p) => p.outcome)).toEqual(['stored', 'injected-failure']);
    expect(await storedKeys(store)).toEqual([keyFor(0).key]); // the failed chunk left nothing behind
  });

  it('rejects with the source\'s own error and stores nothing for the broken chunk', async () => {
    const failure = new Error('the range read failed');
    async function* broken(): AsyncGenerator<readonly string[]> {
      yield noise(64);
      throw failure;
    }
    await expect(writeChunks(broken(), options(store))).rejects.toBe(failure);
    expect(await storedKeys(store)).toEqual([]);
  });

  it('rejects with the store\'s error, not the AbortError its abandoned body raises, however slowly the put settles', async () => {
    // Like FsStore on a full disk: the put stops reading mid-body (leaving `for await` destroys the
    // body with an AbortError at once), cleans up for a while, and only then rejects.
    const full = new CassetteError('REPOSITORY_UNAVAILABLE', 'cannot write it: no space left on device (ENOSPC)');
    const filling: BlobStore = {
      description: 'filling',
      put: async (_key: string, body: BlobBody) => {
        if (typeof body === 'string' || body instanceof Uint8Array) throw new Error('unexpected');
        let read = 0;
        for await (const chunk of body) {
          read += (chunk as Buffer).length;
          if (read > 1024) break;
        }
        for (let i = 0; i < 20; i++) await nextTurn(); // closing and unlinking the temporary file
        throw full;
      },
      get: () => Promise.reject(new Error('unused')),
      head: () => Promise.resolve(undefined),
      list: async function* (): AsyncGenerator<BlobEntry> { /* empty */ },
      delete: () => Promise.resolve(),
    };
    await expect(writeChunks(fromBatches(Array.from({ length: 64 }, () => noise(16))), { store: filling, keyFor, gzipLevel: 1, maxChunkBytes: 1024 ** 3 })).rejects.toBe(full);
  });

  it('stops when the signal aborts mid-chunk, leaving the chunk unwritten', async () => {
    const controller = new AbortController();
    let pulled = 0;
    async function* endless(): AsyncGenerator<readonly string[]> {
      for (;;) {
        pulled++;
        yield noise(4);
      }
    }
    let batches = 0;
    const err = await writeChunks(endless(), options(store, {
      maxChunkBytes: 1024 ** 3,
      signal: controller.signal,
      onBatch: () => {
        if (++batches === 5) controller.abort(new Error('interrupted by SIGINT'));
      },
    })).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ name: 'AbortError' });
    expect(pulled).toBeLessThan(100);
    expectNoPutInFlight(store);
    expect(store.puts.map((p) => p.outcome)).toEqual(['failed']);
    expect(await storedKeys(store)).toEqual([]);
  });

  it('is paused by a store that does not read, keeping memory bounded, and still aborts', async () => {
    // A put that never reads its body and only ends when its body is destroyed.
    const stalled: BlobStore = {
      description: 'stalled',
      put: (_key: string, body: BlobBody) => new Promise((_resolve, reject) => {
        if (typeof body !== 'string' && !(body instanceof Uint8Array)) body.on('close', () => reject(new Error('body destroyed')));
      }),
      get: () => Promise.reject(new Error('unused')),
      head: () => Promise.resolve(undefined),
      list: async function* (): AsyncGenerator<BlobEntry> { /* empty */ },
      delete: () => Promise.resolve(),
    };
    const controller = new AbortController();
    let pulled = 0;
    async function* endless(): AsyncGenerator<readonly string[]> {
      for (;;) {
        pulled++;
        yield noise(1);
      }
    }
    const writing = writeChunks(endless(), { store: stalled, keyFor, gzipLevel: 1, maxChunkBytes: 1024 ** 3, signal: controller.signal });
    writing.catch(() => undefined);
    // Let the pipeline fill its buffers; it then waits for the store and pulls nothing more.
    let last = -1;
    while (pulled !== last) {
      last = pulled;
      for (let i = 0; i < 20; i++) await nextTurn();
    }
    expect(pulled).toBeLessThan(500); // 1 KiB lines: well under half a MiB is buffered
    controller.abort();
    // Either the abort or the store's reaction to its destroyed body may win the race; both reject.
    await expect(writing).rejects.toThrow();
  });
});
