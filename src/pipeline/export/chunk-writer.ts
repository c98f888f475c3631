/**
 * Writes batches of NDJSON lines as gzip chunks into a BlobStore, rolling to a new chunk once the
 * chunk's uncompressed NDJSON reaches `maxChunkBytes` (checked between batches, so a chunk can
 * exceed it by one batch). The raw size is used because it is known at once, whereas gzip's output
 * lags its input by its internal buffers; the stored object is smaller. Each chunk streams through gzip and a SHA-256/byte
 * counter straight into a write-once put, so memory stays bounded by the stream buffers whatever
 * the range's size; backpressure from the store pauses the line source.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { BlobStore } from '../../storage/blob-store.js';
import { DigestCounter } from '../../storage/body.js';
import type { ChunkEntry } from '../../manifest/format.js';

export interface ChunkWriterOptions {
  readonly store: BlobStore;
  /** Repository key and marker-relative key of the chunk with sequence number `seq`. */
  readonly keyFor: (seq: number) => { readonly key: string; readonly relativeKey: string };
  readonly gzipLevel: number;
  /** Roll to a new chunk once this many uncompressed bytes are in the current one. */
  readonly maxChunkBytes: number;
  readonly signal?: AbortSignal;
  /** Called after each batch is handed to gzip, with its row count and raw byte size. */
  readonly onBatch?: (rows: number, rawBytes: number) => void;
}

/**
 * Consumes `batches` (each an array of NDJSON lines without newlines) and returns the chunks
 * written, in order. An empty source writes no chunk. Rejects if the source throws, the store
 * rejects a put or the signal aborts — with that first error, and only once the chunk's put has
 * settled, so no write of this call is still running; chunks already written stay (they are
 * write-once and simply unreferenced until a marker lists them).
 */
export async function writeChunks(batches: AsyncIterable<readonly string[]>, options: ChunkWriterOptions): Promise<ChunkEntry[]> {
  options.signal?.throwIfAborted();
  const source = batches[Symbol.asyncIterator]();
  const entries: ChunkEntry[] = [];
  let pending = await nextNonEmpty(source);
  while (pending !== undefined) {
    const first: readonly string[] = pending;
    const { key, relativeKey } = options.keyFor(entries.length);
    const digest = new DigestCounter();
    const counts = { rows: 0, rawBytes: 0 };
    // Pull batches into this chunk until it is big enough; whatever is left goes to the next one.
    const body = async function* (): AsyncGenerator<Buffer> {
      let batch: readonly string[] | undefined = first;
      while (batch !== undefined) {
        const buffer = Buffer.from(`${batch.join('\n')}\n`, 'utf8');
        counts.rows += batch.length;
        counts.rawBytes += buffer.length;
        options.onBatch?.(batch.length, buffer.length);
        yield buffer;
        if (counts.rawBytes >= options.maxChunkBytes) {
          pending = await nextNonEmpty(source);
          return;
        }
        batch = await nextNonEmpty(source);
      }
      pending = undefined;
    };
    const abort = new AbortController();
    const onOuterAbort = (): void => abort.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onOuterAbort, { once: true });
    if (options.signal?.aborted === true) onOuterAbort(); // aborted while the batch was awaited
    try {
      const put = options.store.put(key, digest, { ifAbsent: true });
      put.catch(() => abort.abort()); // a failed put must not leave the producer waiting for drain
      // Not Promise.all: when the source fails, the pipeline rejects at once while the put is still
      // noticing its destroyed body and cleaning up (FsStore: closing and unlinking its temporary
      // file). Settling only after both keeps a failed chunk's put from outliving this call — and
      // racing the caller's retry, its exit or a test's cleanup of the store.
      await allSettledFirstError([
        pipeline(Readable.from(body()), createGzip({ level: options.gzipLevel, chunkSize: 64 * 1024 }), digest, { signal: abort.signal }),
        put,
      ], options.signal);
    } finally {
      options.signal?.removeEventListener('abort', onOuterAbort);
    }
    entries.push({ key: relativeKey, rows: counts.rows, bytes: digest.bytes, rawBytes: counts.rawBytes, sha256: digest.digest() });
  }
  return entries;
}

/**
 * Waits until every promise has settled, then rejects with the failure that happened, or resolves.
 * Either side failing ends the other — a failed pipeline destroys the put's body, a failed put
 * aborts the pipeline — and those echoes (an AbortError, a premature close) can settle first: a
 * store that stops reading its body (a full disk) destroys it at once but rejects only after
 * cleaning up. So the first error that is not an echo wins; an abort of `signal` is the failure.
 */
async function allSettledFirstError(promises: readonly Promise<unknown>[], signal: AbortSignal | undefined): Promise<void> {
  const errors: unknown[] = [];
  await Promise.all(promises.map((promise) => promise.catch((error: unknown) => {
    errors.push(error);
  })));
  if (errors.length === 0) return;
  throw (signal?.aborted === true ? undefined : errors.find((e) => !isEcho(e))) ?? errors[0];
}

function isEcho(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE');
}

async function nextNonEmpty(source: AsyncIterator<readonly string[]>): Promise<readonly string[] | undefined> {
  for (;;) {
    const next = await source.next();
    if (next.done === true) return undefined;
    if (next.value.length > 0) return next.value;
  }
}
