/**
 * The backup repository as cassette sees it: a flat namespace of immutable blobs under string keys.
 * This is the one storage port; src/storage/fs-store.ts and s3-store.ts implement it, and
 * open-store.ts picks one by URL. Only those adapters know about files or S3.
 */
import type { Readable } from 'node:stream';
import { CassetteError } from '../errors.js';

/** What `put` accepts. A stream is consumed to its end; strings are written as UTF-8. */
export type BlobBody = Readable | Uint8Array | string;

/** Options of {@link BlobStore.put}. */
export interface PutOptions {
  /**
   * Write-once: store the blob only if no blob has the key. If one does, `put` throws
   * {@link BlobExistsError} and the existing blob is untouched. Of several concurrent write-once
   * puts of one key, exactly one succeeds.
   */
  readonly ifAbsent?: boolean;
}

/** What {@link BlobStore.put} stored: the bytes of the body as given. */
export interface PutResult {
  readonly bytes: number;
}

/** One entry of {@link BlobStore.list}. */
export interface BlobEntry {
  /** The key, relative to the store's root. */
  readonly key: string;
  /** Size in bytes. */
  readonly size: number;
}

/**
 * A repository of blobs.
 *
 * **Keys** are relative paths: segments separated by `/`, no leading `/`, no empty, `.` or `..`
 * segment, no backslash or NUL. An invalid key is a programming error reported as
 * `CassetteError('INVALID_INPUT')` before any I/O (see {@link assertValidKey}).
 *
 * **Guarantees** (each implementation is checked by test/support/blob-store-contract.ts):
 * - *Atomic put.* A reader sees either the whole blob or none of it (or, when overwriting, the
 *   whole old one); a put that fails leaves nothing new behind.
 * - *Read-after-write.* Once `put` resolves, `get`, `head` and `list` see the blob, and once
 *   `delete` resolves they no longer do.
 * - *Sorted listing.* `list(prefix)` yields every blob whose key starts with `prefix` (a plain
 *   string prefix, so it recurses into "folders"), in ascending order of the keys' UTF-8 bytes.
 * - *Idempotent delete.* Deleting a key that names no blob succeeds.
 *
 * **Errors.** A missing blob on `get` is {@link BlobNotFoundError}; a refused write-once put is
 * {@link BlobExistsError}. Any failure of the repository itself (unreachable endpoint, missing
 * bucket, access denied, unwritable directory, full disk) is
 * `CassetteError('REPOSITORY_UNAVAILABLE')` with a one-line message naming the repository and a
 * hint. An error raised by the caller's own body stream is rethrown unchanged. Implementations
 * may retry transport errors internally; they never retry a failed put by rewinding the body.
 */
export interface BlobStore {
  /**
   * Where the blobs live, for messages: `s3://bucket/prefix` or an absolute directory. Never
   * contains credentials.
   */
  readonly description: string;

  /**
   * Stores `body` under `key`, streaming it (memory stays bounded whatever the size), replacing
   * any blob with that key unless `options.ifAbsent` is set. Resolves with the bytes stored. If
   * the put fails and `body` is a stream, the stream is destroyed.
   */
  put(key: string, body: BlobBody, options?: PutOptions): Promise<PutResult>;

  /**
   * Opens the blob for reading. Throws {@link BlobNotFoundError} if there is none. Failures while
   * the stream is read are emitted by the stream as REPOSITORY_UNAVAILABLE errors.
   */
  get(key: string): Promise<Readable>;

  /** The blob's size, or undefined if there is no blob under `key`. */
  head(key: string): Promise<{ readonly size: number } | undefined>;

  /**
   * Every blob whose key starts with `prefix` (`''` for all), sorted ascending. `prefix` follows
   * the key rules except that it may be empty or end with `/`.
   */
  list(prefix: string): AsyncIterable<BlobEntry>;

  /** Removes the blob under `key`. Idempotent: a missing blob is not an error. */
  delete(key: string): Promise<void>;
}

/**
 * `get` found no blob under the key. Not a CassetteError on purpose: only the caller knows what a
 * missing blob means (a missing chunk during restore is BACKUP_INVALID; a missing marker during
 * resume just means "not done yet"), so it must translate it; one that escapes is a bug.
 */
export class BlobNotFoundError extends Error {
  readonly kind = 'blob-not-found';

  constructor(readonly key: string, readonly store: string) {
    super(`no blob ${key} in ${store}`);
    this.name = 'BlobNotFoundError';
  }
}

/**
 * A write-once put (`ifAbsent`) found a blob under the key already; the existing blob was left as
 * it was. Not a CassetteError, for the same reason as {@link BlobNotFoundError}.
 */
export class BlobExistsError extends Error {
  readonly kind = 'blob-exists';

  constructor(readonly key: string, readonly store: string) {
    super(`blob ${key} already exists in ${store}`);
    this.name = 'BlobExistsError';
  }
}

/**
 * A REPOSITORY_UNAVAILABLE failure that may go away by itself — the endpoint refused or dropped
 * the connection, timed out, answered HTTP 5xx or asked us to slow down — as opposed to one that
 * will fail the same way again (access denied, no such bucket, a full disk). Callers retry these
 * within `--retry-for` (pipeline/retrying-store.ts).
 */
export class RepositoryOutageError extends CassetteError {
  readonly transient = true;

  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('REPOSITORY_UNAVAILABLE', message, options);
  }
}

/** True for a {@link RepositoryOutageError} (or one rebuilt from a worker thread's outcome). */
export function isRepositoryOutage(err: unknown): boolean {
  return err instanceof CassetteError && err.code === 'REPOSITORY_UNAVAILABLE' && (err as { transient?: unknown }).transient === true;
}

/** Why `key` breaks the key rules, or undefined if it is valid. */
function keyProblem(key: string): string | undefined {
  if (key === '') return 'it is empty';
  if (key.includes('\\')) return 'it contains a backslash';
  if (key.includes('\0')) return 'it contains a NUL character';
  if (key.startsWith('/')) return 'it starts with /';
  for (const segment of key.split('/')) {
    if (segment === '') return 'it has an empty segment';
    if (segment === '.' || segment === '..') return `it has a "${segment}" segment`;
  }
  return undefined;
}

/** Throws CassetteError('INVALID_INPUT') unless `key` follows the key rules of {@link BlobStore}. */
export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem !== undefined) {
    throw new CassetteError('INVALID_INPUT', `invalid blob key ${JSON.stringify(key)}: ${problem}`, {
      hint: 'keys are relative paths like backups/<id>/manifest.json (this is a bug in cassette)',
    });
  }
}

/** Throws CassetteError('INVALID_INPUT') unless `prefix` is a valid {@link BlobStore.list} prefix. */
export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return;
  assertValidKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}

/** Orders keys by their UTF-8 bytes, as S3 lists them (plain `<` compares UTF-16 code units). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
