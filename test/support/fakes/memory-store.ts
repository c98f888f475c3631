/**
 * An in-memory {@link BlobStore} for fast unit tests. It keeps the whole contract of
 * src/storage/blob-store.ts (test/unit/faulty-store.test.ts runs the contract suite over it):
 * atomic puts committed only after the whole body was read, write-once puts of which exactly one
 * wins, read-after-write, listing in UTF-8 byte order, idempotent delete, INVALID_INPUT for bad
 * keys before anything happens, and a body stream's own error rethrown unchanged.
 */
import { Readable } from 'node:stream';
import {
  assertValidKey, assertValidPrefix, BlobExistsError, BlobNotFoundError, compareKeys,
  type BlobBody, type BlobEntry, type BlobStore, type PutOptions,
} from '../../../src/storage/blob-store.js';
import { countBody, discardBody, unwrapBodyError } from '../../../src/storage/body.js';

export class MemoryStore implements BlobStore {
  readonly description: string;
  readonly #blobs = new Map<string, Buffer>();

  constructor(name = 'test') {
    this.description = `memory://${name}`;
  }

  async put(key: string, body: BlobBody, options: PutOptions = {}): Promise<{ readonly bytes: number }> {
    try {
      assertValidKey(key);
      const counted = countBody(body);
      const parts: Uint8Array[] = [];
      for await (const chunk of counted.chunks) parts.push(chunk);
      // Commit in one synchronous step: no other put can interleave between the check and the set.
      if (options.ifAbsent === true && this.#blobs.has(key)) throw new BlobExistsError(key, this.description);
      this.#blobs.set(key, Buffer.concat(parts));
      return { bytes: counted.bytesRead() };
    } catch (err) {
      discardBody(body);
      const fromBody = unwrapBodyError(err);
      throw fromBody === undefined ? err : fromBody.error;
    }
  }

  async get(key: string): Promise<Readable> {
    assertValidKey(key);
    const blob = this.#blobs.get(key);
    if (blob === undefined) throw new BlobNotFoundError(key, this.description);
    return Readable.from([Buffer.from(blob)], { objectMode: false });
  }

  async head(key: string): Promise<{ readonly size: number } | undefined> {
    assertValidKey(key);
    const blob = this.#blobs.get(key);
    return blob === undefined ? undefined : { size: blob.length };
  }

  async *list(prefix: string): AsyncIterable<BlobEntry> {
    assertValidPrefix(prefix);
    const entries = [...this.#blobs].filter(([key]) => key.startsWith(prefix)).map(([key, blob]) => ({ key, size: blob.length }));
    yield* entries.sort((a, b) => compareKeys(a.key, b.key));
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    this.#blobs.delete(key);
  }
}
