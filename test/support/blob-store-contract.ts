/**
 * The one behaviour every BlobStore must have (see the contract on the interface in
 * src/storage/blob-store.ts). Each backend's test file calls describeBlobStoreContract with a
 * factory that gives a fresh, empty store per test.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CassetteError } from '../../src/errors.js';
import { BlobExistsError, BlobNotFoundError, type BlobStore } from '../../src/storage/blob-store.js';

/** A fresh, empty store and a way to remove everything it holds. */
export interface StoreFixture {
  readonly store: BlobStore;
  cleanup(): Promise<void>;
}

const MiB = 1024 * 1024;

/** Reads a blob fully. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** SHA-256 of a stream, without holding it in memory. */
async function sha256(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Uint8Array);
  return hash.digest('hex');
}

/** A stream of `size` random bytes in 1 MiB blocks, hashed as produced. */
export function randomStream(size: number): { stream: Readable; digest: () => string } {
  const hash = createHash('sha256');
  let produced = 0;
  const stream = new Readable({
    read() {
      if (produced >= size) return void this.push(null);
      const block = randomBytes(Math.min(MiB, size - produced));
      produced += block.length;
      hash.update(block);
      this.push(block);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}

async function keys(store: BlobStore, prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of store.list(prefix)) found.push(entry.key);
  return found;
}

async function text(store: BlobStore, key: string): Promise<string> {
  return (await readAll(await store.get(key))).toString('utf8');
}

function isInvalidInput(err: unknown): boolean {
  return err instanceof CassetteError && err.code === 'INVALID_INPUT';
}

export function describeBlobStoreContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let fixture: StoreFixture;
    let store: BlobStore;

    beforeEach(async () => {
      fixture = await makeStore();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('has a description', () => {
      expect(store.description.length).toBeGreaterThan(0);
    });

    it('round-trips a string, a Buffer and a multi-MiB stream', async () => {
      expect(await store.put('a/string.txt', 'héllo ✓\n')).toEqual({ bytes: Buffer.byteLength('héllo ✓\n') });
      expect(await text(store, 'a/string.txt')).toBe('héllo ✓\n');

      const bytes = randomBytes(100_000);
      expect(await store.put('a/buffer.bin', bytes)).toEqual({ bytes: bytes.length });
      expect(await readAll(await store.get('a/buffer.bin'))).toEqual(bytes);

      const { stream, digest } = randomStream(3 * MiB + 17);
      expect(await store.put('a/stream.bin', stream)).toEqual({ bytes: 3 * MiB + 17 });
      expect(await sha256(await store.get('a/stream.bin'))).toBe(digest());
    });

    it('stores an empty object, from bytes and from a stream', async () => {
      expect(await store.put('empty/bytes', new Uint8Array(0))).toEqual({ bytes: 0 });
      expect(await store.put('empty/stream', Readable.from([]))).toEqual({ bytes: 0 });
      expect(await store.head('empty/bytes')).toEqual({ size: 0 });
      expect(await store.head('empty/stream')).toEqual({ size: 0 });
      expect((await readAll(await store.get('empty/stream'))).length).toBe(0);
    });

    it('heads a present blob with its size and an absent one as undefined', async () => {
      await store.put('h/present', 'four');
      expect(await store.head('h/present')).toEqual({ size: 4 });
      expect(await store.head('h/absent')).toBeUndefined();
      expect(await store.head('h/present/below')).toBeUndefined();
    });

    it('rejects get of a missing blob with BlobNotFoundError', async () => {
      const err = await store.get('missing/blob').then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(BlobNotFoundError);
      expect(err).toMatchObject({ kind: 'blob-not-found', key: 'missing/blob' });
    });

    it('treats a "folder" of other blobs as no blob', async () => {
      await store.put('folder/inner', 'x');
      await expect(store.get('folder')).rejects.toBeInstanceOf(BlobNotFoundError);
      expect(await store.head('folder')).toBeUndefined();
      await store.delete('folder');
      expect(await text(store, 'folder/inner')).toBe('x');
    });

    it('refuses a second write-once put and keeps the first blob', async () => {
      await store.put('once/key', 'first', { ifAbsent: true });
      const err = await store.put('once/key', 'second', { ifAbsent: true }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(BlobExistsError);
      expect(err).toMatchObject({ kind: 'blob-exists', key: 'once/key' });
      expect(await text(store, 'once/key')).toBe('first');
      expect(await keys(store, 'once/')).toEqual(['once/key']);
    });

    it('refuses a write-once put over a blob written without ifAbsent, and destroys its body stream', async () => {
      await store.put('once/plain', 'first');
      const body = Readable.from([Buffer.from('second')]);
      await expect(store.put('once/plain', body, { ifAbsent: true })).rejects.toBeInstanceOf(BlobExistsError);
      expect(body.destroyed).toBe(true);
      expect(await text(store, 'once/plain')).toBe('first');
    });

    it('overwrites without ifAbsent', async () => {
      await store.put('over/key', 'first version, longer');
      await store.put('over/key', 'second');
      expect(await text(store, 'over/key')).toBe('second');
      expect(await store.head('over/key')).toEqual({ size: 6 });
    });

    it('lists every key under a prefix, recursively, in UTF-8 byte order, with sizes', async () => {
      const written = ['b/2', 'b/10', 'b/1', 'a-b', 'a/b', 'a/c/d/e', 'a.b', 'ab', 'b/é', 'b/z', 'b/😀', 'b/\uFB01'];
      for (const key of written) await store.put(key, key);
      const expected = [...written].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      expect(expected.indexOf('b/\uFB01')).toBeLessThan(expected.indexOf('b/😀')); // not UTF-16 order
      expect(await keys(store, '')).toEqual(expected);

      const listed = [];
      for await (const entry of store.list('a/')) listed.push(entry);
      expect(listed).toEqual([{ key: 'a/b', size: 3 }, { key: 'a/c/d/e', size: 7 }]);
      expect(await keys(store, 'a')).toEqual(['a-b', 'a.b', 'a/b', 'a/c/d/e', 'ab']);
      expect(await keys(store, 'b/1')).toEqual(['b/1', 'b/10']);
      expect(await keys(store, 'a/c/')).toEqual(['a/c/d/e']);
      expect(await keys(store, 'nothing/')).toEqual([]);
      expect(await keys(store, 'a/b/')).toEqual([]);
    });

    it('deletes idempotently', async () => {
      await store.put('d/key', 'x');
      await store.delete('d/key');
      expect(await store.head('d/key')).toBeUndefined();
      expect(await keys(store, 'd/')).toEqual([]);
      await store.delete('d/key');
      await store.delete('d/never/existed');
    });

    it.each(['', '/abs', 'a//b', 'a/', '../up', 'a/../b', 'a/./b', '.', 'back\\slash', 'nul\0byte'])(
      'rejects the invalid key %j with INVALID_INPUT',
      async (key) => {
        await expect(store.put(key, 'x')).rejects.toSatisfy(isInvalidInput);
        await expect(store.get(key)).rejects.toSatisfy(isInvalidInput);
        await expect(store.head(key)).rejects.toSatisfy(isInvalidInput);
        await expect(store.delete(key)).rejects.toSatisfy(isInvalidInput);
      },
    );

    it.each(['/abs', 'a//', '../', 'a\\'])('rejects the invalid list prefix %j with INVALID_INPUT', async (prefix) => {
      await expect(keys(store, prefix)).rejects.toSatisfy(isInvalidInput);
    });

    it('streams a 24 MiB write-once put and reads it back with the same SHA-256', async () => {
      const size = 24 * MiB + 5;
      const { stream, digest } = randomStream(size);
      expect(await store.put('big/blob', stream, { ifAbsent: true })).toEqual({ bytes: size });
      expect(await store.head('big/blob')).toEqual({ size });
      expect(await sha256(await store.get('big/blob'))).toBe(digest());
    });

    it('rethrows an error of the body stream unchanged and leaves nothing behind', async () => {
      const failure = new Error('producer broke');
      async function* failing(): AsyncGenerator<Buffer> {
        yield randomBytes(MiB);
        throw failure;
      }
      await expect(store.put('broken/blob', Readable.from(failing()))).rejects.toBe(failure);
      expect(await store.head('broken/blob')).toBeUndefined();
      expect(await keys(store, '')).toEqual([]);
    });

    it('lets exactly one of several concurrent write-once puts of a key win', async () => {
      const rounds = ['race/0', 'race/1', 'race/2', 'race/3'];
      await Promise.all(rounds.map(async (key) => {
        const bodies = ['writer A', 'writer B', 'writer C'];
        const results = await Promise.allSettled(bodies.map((body) => store.put(key, body, { ifAbsent: true })));
        const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [bodies[i]] : []));
        expect(winners).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(BlobExistsError);
        expect(await text(store, key)).toBe(winners[0]);
      }));
      expect(await keys(store, 'race/')).toEqual(rounds);
    });
  });
}
