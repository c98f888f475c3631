/**
 * A {@link BlobStore} wrapper (restic-style) that waits out repository outages: every operation
 * that can be repeated is retried with capped backoff while the failure is a
 * {@link isRepositoryOutage transient one} and `retryForMs` have not passed since it began.
 *
 * - `put` of a string or byte body is retried whole. A write-once put whose response was lost may
 *   have succeeded: when a retry finds the key taken, the stored blob is read back and, if it holds
 *   exactly these bytes, the put counts as done (anything else is still BlobExistsError).
 * - `put` of a stream is *not* retried: a stream cannot be rewound. Its unit of retry is the
 *   caller's (a token range is re-read under a new attempt id).
 * - `get` returns a stream that survives an outage mid-read: it reopens the blob and skips the
 *   bytes it already delivered (blobs are written once, so the bytes are the same). Restore reads
 *   chunks through it, so a chunk's rows — counters included — are never written twice.
 * - `head` and `delete` are retried; `list` starts again after a failure and skips the keys it
 *   already yielded.
 */
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { CassetteError } from '../errors.js';
import { BlobExistsError, compareKeys, isRepositoryOutage, type BlobBody, type BlobEntry, type BlobStore, type PutOptions } from '../storage/blob-store.js';
import { formatDuration, MAX_RETRY_DELAY_MS, realRetryClock, withRetries, type RetryClock, type RetryEvent } from './retry.js';

export interface RepositoryRetryOptions {
  readonly retryForMs: number;
  /** First backoff delay (default 1 s), doubling up to 30 s. */
  readonly baseDelayMs?: number;
  readonly signal?: AbortSignal;
  /**
   * The repository is failing: `line` says so ("waiting for the repository s3://…: … (retrying for
   * up to 4m32s more)"); undefined once an operation got through again.
   */
  readonly onWait?: (line: string | undefined) => void;
  readonly clock?: RetryClock;
}

/**
 * Wraps `store` so that its operations ride out outages (see the module comment). Wrapping a
 * store this returned replaces its policy rather than nesting a second one (nested retries would
 * multiply the budget).
 */
export function withRepositoryRetries(store: BlobStore, options: RepositoryRetryOptions): BlobStore {
  return new RetryingStore(store instanceof RetryingStore ? store.inner : store, options);
}

class RetryingStore implements BlobStore {
  readonly description: string;
  /** The store underneath, for a re-wrap. */
  readonly inner: BlobStore;
  readonly #inner: BlobStore;
  readonly #options: RepositoryRetryOptions;
  /** Operations currently waiting; the wait line is cleared when the last one gets through. */
  #waiting = 0;

  constructor(inner: BlobStore, options: RepositoryRetryOptions) {
    this.inner = inner;
    this.#inner = inner;
    this.#options = options;
    this.description = inner.description;
  }

  /** Runs `work` under the retry policy, reporting waits. */
  async #retry<T>(work: (attempt: number) => Promise<T>): Promise<T> {
    let waiting = false;
    const stopWaiting = (): void => {
      if (!waiting) return;
      waiting = false;
      this.#waiting--;
      if (this.#waiting === 0) this.#options.onWait?.(undefined);
    };
    try {
      return await withRetries(work, {
        retryForMs: this.#options.retryForMs,
        baseDelayMs: this.#options.baseDelayMs ?? 1000,
        maxDelayMs: MAX_RETRY_DELAY_MS,
        isRetryable: isRepositoryOutage,
        ...(this.#options.signal === undefined ? {} : { signal: this.#options.signal }),
        ...(this.#options.clock === undefined ? {} : { clock: this.#options.clock }),
        onRetry: (event) => {
          if (!waiting) {
            waiting = true;
            this.#waiting++;
          }
          this.#options.onWait?.(this.#waitLine(event));
        },
      });
    } catch (err) {
      throw this.#gaveUp(err);
    } finally {
      stopWaiting();
    }
  }

  /**
   * An outage that outlasted the budget, as a plain REPOSITORY_UNAVAILABLE error: no longer an
   * outage to its callers, so a caller with a retry of its own (a range) does not start the budget
   * over. Other errors pass unchanged.
   */
  #gaveUp(err: unknown): unknown {
    if (!isRepositoryOutage(err) || !(err instanceof CassetteError) || this.#options.signal?.aborted === true) return err;
    const budget = this.#options.retryForMs > 0 ? `still failing after --retry-for ${formatDuration(this.#options.retryForMs)}` : 'not retried: --retry-for 0';
    return new CassetteError('REPOSITORY_UNAVAILABLE', `${err.message} (${budget})`, {
      hint: `${err.hint ?? 'check the repository'}; a longer --retry-for waits out longer outages`,
      cause: err,
    });
  }

  #waitLine(event: RetryEvent): string {
    const reason = event.error instanceof Error ? event.error.message.replace(/^cannot .+? in repository \S+: /, '') : String(event.error);
    return `waiting for the repository ${this.description}: ${reason} (retrying for up to ${formatDuration(event.remainingMs + event.delayMs)} more)`;
  }

  async put(key: string, body: BlobBody, options: PutOptions = {}): Promise<{ readonly bytes: number }> {
    if (typeof body !== 'string' && !(body instanceof Uint8Array)) return this.#inner.put(key, body, options);
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
    return this.#retry(async (attempt) => {
      try {
        return await this.#inner.put(key, bytes, options);
      } catch (err) {
        // An earlier attempt may have stored the blob before its answer was lost.
        if (attempt > 1 && options.ifAbsent === true && err instanceof BlobExistsError && (await this.#holds(key, bytes))) return { bytes: bytes.byteLength };
        throw err;
      }
    });
  }

  /** Whether the blob under `key` holds exactly `bytes`. */
  async #holds(key: string, bytes: Buffer): Promise<boolean> {
    const stored = await text(await this.#inner.get(key)).then((t) => Buffer.from(t, 'utf8'), () => undefined);
    return stored !== undefined && stored.equals(bytes);
  }

  async get(key: string): Promise<Readable> {
    const first = await this.#retry(() => this.#inner.get(key));
    return Readable.from(this.#resumableRead(key, first), { objectMode: false });
  }

  /** The blob's bytes; after a failure mid-read, reopened and the delivered bytes skipped. */
  async *#resumableRead(key: string, first: Readable): AsyncGenerator<Buffer> {
    const clock = this.#options.clock ?? realRetryClock;
    let delivered = 0;
    let stream: Readable | undefined = first;
    /** When reads began failing without delivering a byte; the budget runs from there. */
    let stalledSince: number | undefined;
    try {
      for (;;) {
        stream ??= await this.#retry(() => this.#inner.get(key));
        let skip = delivered;
        try {
          for await (const piece of stream) {
            let chunk = Buffer.isBuffer(piece) ? piece : Buffer.from(piece as Uint8Array);
            if (skip > 0) {
              if (chunk.byteLength <= skip) {
                skip -= chunk.byteLength;
                continue;
              }
              chunk = chunk.subarray(skip);
              skip = 0;
            }
            delivered += chunk.byteLength;
            stalledSince = undefined;
            yield chunk;
          }
          return;
        } catch (err) {
          const now = clock.now();
          stalledSince ??= now;
          if (!isRepositoryOutage(err) || this.#options.signal?.aborted === true) throw err;
          if (now - stalledSince >= this.#options.retryForMs) throw this.#gaveUp(err);
          stream.destroy();
          stream = undefined;
          this.#options.onWait?.(this.#waitLine({ error: err, attempt: 1, delayMs: 0, remainingMs: stalledSince + this.#options.retryForMs - now }));
          await clock.sleep(Math.min(this.#options.baseDelayMs ?? 1000, MAX_RETRY_DELAY_MS), this.#options.signal);
        }
      }
    } finally {
      stream?.destroy();
    }
  }

  head(key: string): Promise<{ readonly size: number } | undefined> {
    return this.#retry(() => this.#inner.head(key));
  }

  /** Each step of the listing is retried; after a failure a new listing skips the keys already yielded (they come in byte order). */
  async *list(prefix: string): AsyncIterable<BlobEntry> {
    let last: string | undefined;
    let iterator: AsyncIterator<BlobEntry> | undefined;
    try {
      for (;;) {
        const next = await this.#retry(async () => {
          try {
            iterator ??= this.#inner.list(prefix)[Symbol.asyncIterator]();
            for (;;) {
              const step = await iterator.next();
              if (step.done === true || last === undefined || compareKeys(step.value.key, last) > 0) return step;
            }
          } catch (err) {
            iterator = undefined; // a failed listing cannot go on: the next attempt opens a new one
            throw err;
          }
        });
        if (next.done === true) return;
        last = next.value.key;
        yield next.value;
      }
    } finally {
      await iterator?.return?.()?.catch(() => undefined);
    }
  }

  delete(key: string): Promise<void> {
    return this.#retry(() => this.#inner.delete(key));
  }
}
