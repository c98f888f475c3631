/**
 * A fault-injecting {@link BlobStore} wrapper (kopia's test kit has the same idea): it passes every
 * call to a real store and, when told, fails the Nth put before it reads its body or part-way
 * through it, slows puts down, or breaks a read stream — all as the REPOSITORY_UNAVAILABLE errors a
 * real repository raises. Without faults it is transparent (test/unit/faulty-store.test.ts runs the
 * BlobStore contract over it). It records every put and its outcome.
 *
 * An injected put failure keeps the contract: nothing is stored and a stream body is destroyed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { CassetteError } from '../../../src/errors.js';
import { RepositoryOutageError, type BlobBody, type BlobEntry, type BlobStore, type PutOptions } from '../../../src/storage/blob-store.js';
import { FsStore } from '../../../src/storage/fs-store.js';
import { MemoryStore } from './memory-store.js';

/** One put, as the wrapper saw it. `outcome` is updated when the put settles. */
export interface PutRecord {
  /** 1 for the store's first put, 2 for the next, … */
  readonly seq: number;
  readonly key: string;
  readonly ifAbsent: boolean;
  outcome: 'pending' | 'stored' | 'injected-failure' | 'failed';
  /** Bytes stored, once stored. */
  bytes?: number;
  error?: unknown;
}

/** How an injected put failure behaves. */
export interface PutFaultOptions {
  /**
   * Read this many bytes of the body before failing (a connection that drops mid-upload); the
   * default 0 fails before reading anything (a refused connection). Infinity reads the whole body
   * and fails at commit.
   */
  readonly afterBytes?: number;
  /** The error; a REPOSITORY_UNAVAILABLE CassetteError by default. */
  readonly error?: unknown;
  /** How many matching puts fail (default 1; Infinity: all). */
  readonly times?: number;
}

/** How an injected read failure behaves. */
export interface GetFaultOptions {
  /** Bytes the stream delivers before it fails (default 0). */
  readonly afterBytes?: number;
  readonly error?: unknown;
  readonly times?: number;
}

interface Fault<O> {
  readonly when: (key: string, seq: number) => boolean;
  readonly options: O;
  remaining: number;
}

/** The error a repository that went away raises: an outage, which callers retry within --retry-for. */
export function repositoryUnavailable(what = 'injected fault'): CassetteError {
  return new RepositoryOutageError(`cannot write to the repository: ${what}`, { hint: 'injected by FaultyStore' });
}

export class FaultyStore implements BlobStore {
  readonly description: string;
  /** Every put, in the order they were called. */
  readonly puts: PutRecord[] = [];
  readonly #inner: BlobStore;
  readonly #putFaults: Fault<PutFaultOptions>[] = [];
  readonly #getFaults: Fault<GetFaultOptions>[] = [];
  #chunkDelayMs = 0;
  #gets = 0;

  constructor(inner: BlobStore) {
    this.#inner = inner;
    this.description = inner.description;
  }

  /** Fails the `n`th put (1-based). */
  failPut(n: number, options: PutFaultOptions = {}): this {
    return this.failPutWhen((_key, seq) => seq === n, options);
  }

  /** Fails the next `options.times` puts for which `when(key, seq)` holds. */
  failPutWhen(when: (key: string, seq: number) => boolean, options: PutFaultOptions = {}): this {
    this.#putFaults.push({ when, options, remaining: options.times ?? 1 });
    return this;
  }

  /** Fails reads of the blobs for which `when(key, seq)` holds (seq counts gets from 1). */
  failGetWhen(when: (key: string, seq: number) => boolean, options: GetFaultOptions = {}): this {
    this.#getFaults.push({ when, options, remaining: options.times ?? 1 });
    return this;
  }

  /** Every chunk of a put's stream body waits `ms` milliseconds before the store takes it. */
  slowPuts(ms: number): this {
    this.#chunkDelayMs = ms;
    return this;
  }

  /** Records whose key passes `filter` (all by default). */
  putKeys(filter: (record: PutRecord) => boolean = () => true): string[] {
    return this.puts.filter(filter).map((p) => p.key);
  }

  async put(key: string, body: BlobBody, options: PutOptions = {}): Promise<{ readonly bytes: number }> {
    const record: PutRecord = { seq: this.puts.length + 1, key, ifAbsent: options.ifAbsent === true, outcome: 'pending' };
    this.puts.push(record);
    const fault = takeFault(this.#putFaults, key, record.seq);
    try {
      if (fault !== undefined) {
        await consume(body, fault.afterBytes ?? 0);
        throw fault.error ?? repositoryUnavailable(`put ${key} failed`);
      }
      const slow = this.#chunkDelayMs > 0 && isStream(body) ? delayChunks(body, this.#chunkDelayMs) : body;
      const result = await this.#inner.put(key, slow, options);
      record.outcome = 'stored';
      record.bytes = result.bytes;
      return result;
    } catch (err) {
      record.outcome = fault === undefined ? 'failed' : 'injected-failure';
      record.error = err;
      if (isStream(body)) body.destroy();
      throw err;
    }
  }

  async get(key: string): Promise<Readable> {
    const seq = ++this.#gets;
    const source = await this.#inner.get(key);
    const fault = takeFault(this.#getFaults, key, seq);
    return fault === undefined ? source : failAfter(source, fault.afterBytes ?? 0, fault.error ?? repositoryUnavailable(`read ${key} failed`));
  }

  head(key: string): Promise<{ readonly size: number } | undefined> {
    return this.#inner.head(key);
  }

  list(prefix: string): AsyncIterable<BlobEntry> {
    return this.#inner.list(prefix);
  }

  delete(key: string): Promise<void> {
    return this.#inner.delete(key);
  }
}

/** A FaultyStore over an FsStore in a fresh temporary directory; `cleanup` removes the directory. */
export async function tempFaultyStore(): Promise<{ readonly store: FaultyStore; readonly inner: FsStore; readonly dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'cassette-faulty-store-'));
  const inner = new FsStore(dir);
  return { store: new FaultyStore(inner), inner, dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A FaultyStore over a fresh {@link MemoryStore}: no I/O, for tests that write many objects. */
export function memoryFaultyStore(name?: string): FaultyStore {
  return new FaultyStore(new MemoryStore(name));
}

function takeFault<O>(faults: Fault<O>[], key: string, seq: number): O | undefined {
  const fault = faults.find((f) => f.remaining > 0 && f.when(key, seq));
  if (fault === undefined) return undefined;
  fault.remaining--;
  return fault.options;
}

function isStream(body: BlobBody): body is Readable {
  return typeof body !== 'string' && !(body instanceof Uint8Array);
}

/** Reads up to `limit` bytes of a stream body (stopping early if it ends); other bodies are in memory already. */
async function consume(body: BlobBody, limit: number): Promise<void> {
  if (!isStream(body) || limit <= 0) return;
  let read = 0;
  const iterator = body[Symbol.asyncIterator]() as AsyncIterator<Uint8Array | string>;
  while (read < limit) {
    const next = await iterator.next();
    if (next.done === true) return;
    read += typeof next.value === 'string' ? Buffer.byteLength(next.value) : next.value.byteLength;
  }
}

function delayChunks(body: Readable, ms: number): Readable {
  async function* slowly(): AsyncGenerator<Uint8Array> {
    for await (const chunk of body) {
      await sleep(ms);
      yield typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Uint8Array);
    }
  }
  return Readable.from(slowly(), { objectMode: false });
}

/** `source`'s first `limit` bytes, then `error`; destroying the result destroys `source`. */
function failAfter(source: Readable, limit: number, error: unknown): Readable {
  async function* relay(): AsyncGenerator<Uint8Array> {
    let sent = 0;
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      const take = chunk.subarray(0, Math.max(0, limit - sent));
      if (take.byteLength > 0) yield take;
      sent += take.byteLength;
      if (sent >= limit) break;
    }
    throw error;
  }
  return Readable.from(relay(), { objectMode: false });
}
