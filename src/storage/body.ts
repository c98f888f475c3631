/**
 * Helpers both stores use to consume a put body and to expose a blob as a stream, keeping the
 * caller's errors apart from the repository's.
 */
import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import type { BlobBody } from './blob-store.js';

/**
 * An error thrown by the caller's body stream, wrapped so that a store's error mapping lets it
 * through: it is the caller's failure, not the repository's. Stores unwrap it with
 * {@link unwrapBodyError} before rethrowing.
 */
export class BodyStreamError extends Error {
  constructor(cause: unknown) {
    super('the body stream of a put failed', { cause });
    this.name = 'BodyStreamError';
  }
}

/** The caller's original error if `err` is a {@link BodyStreamError}, else undefined. */
export function unwrapBodyError(err: unknown): { readonly error: unknown } | undefined {
  return err instanceof BodyStreamError ? { error: err.cause } : undefined;
}

/** A body as a sequence of byte chunks, counting what was read. */
export interface CountedBody {
  readonly chunks: AsyncIterable<Uint8Array>;
  /** Bytes yielded so far; the total once `chunks` is exhausted. */
  readonly bytesRead: () => number;
}

/**
 * Reads `body` as byte chunks without buffering it. Errors from a stream body surface as
 * {@link BodyStreamError}; a stream yielding something other than bytes or strings is one too.
 */
export function countBody(body: BlobBody): CountedBody {
  let bytes = 0;
  // The store may do I/O (mkdir, connect) before it reads the body. A stream that fails meanwhile
  // would emit 'error' with no listener and crash the process; this listener defers the error to
  // the read, which reports it (the iterator sees the stream's stored error).
  const deferError = (): void => undefined;
  if (typeof body !== 'string' && !(body instanceof Uint8Array)) body.on('error', deferError);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    if (typeof body === 'string' || body instanceof Uint8Array) {
      const data = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
      bytes += data.byteLength;
      yield data;
      return;
    }
    try {
      // for-await returns the stream's iterator (destroying the stream) if the consumer stops early.
      for await (const chunk of body) {
        const data = toBytes(chunk);
        bytes += data.byteLength;
        yield data;
      }
    } catch (err) {
      throw err instanceof BodyStreamError ? err : new BodyStreamError(err);
    } finally {
      body.off('error', deferError);
    }
  }
  return { chunks: chunks(), bytesRead: () => bytes };
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new BodyStreamError(new TypeError(`a put body stream yielded a ${typeof chunk}, not bytes`));
}

/** Destroys `body` if it is a stream, so a producer behind it stops after a failed put. */
export function discardBody(body: BlobBody): void {
  if (typeof body !== 'string' && !(body instanceof Uint8Array)) body.destroy();
}

/**
 * Re-exposes `source` as a Readable whose errors pass through `mapError`, so that readers of a
 * blob see our typed errors rather than a transport's. Destroying the result destroys `source`.
 */
export function mapStreamErrors(source: Readable, mapError: (err: unknown) => unknown): Readable {
  async function* relay(): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of source) yield chunk as Uint8Array;
    } catch (err) {
      throw mapError(err);
    }
  }
  return Readable.from(relay(), { objectMode: false });
}

/** Hashes (SHA-256) and counts the bytes that pass through. */
export class DigestCounter extends Transform {
  readonly #hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }
  digest(): string {
    return this.#hash.digest('hex');
  }
}
