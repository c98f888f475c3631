/**
 * The {@link BlobStore} on a local directory: one file per blob, the key as its relative path.
 *
 * Atomicity: a put writes a temporary file in the target's directory, fsyncs it, then renames it
 * over the target (or, write-once, hard-links it to the target, which fails with EEXIST if the
 * target exists) and fsyncs the directory. Readers therefore see whole files only, and a crash
 * leaves at worst a temporary file, which `list` ignores.
 *
 * Filesystem limits the S3 store does not have: a key cannot be both a blob and a "folder" of
 * other blobs (`a` and `a/b`), segments must fit the filesystem's name length, and key segments
 * starting with `.cassette-tmp-` are reserved for temporary files. Write-once puts need hard
 * links. Deleting a blob leaves its (possibly empty) directories in place. `list` skips symbolic
 * links. A root directory that does not exist reads as an empty repository and is created by the
 * first put.
 */
import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { CassetteError } from '../errors.js';
import {
  assertValidKey, assertValidPrefix, BlobExistsError, BlobNotFoundError, compareKeys,
  type BlobBody, type BlobEntry, type BlobStore, type PutOptions,
} from './blob-store.js';
import { countBody, discardBody, mapStreamErrors, unwrapBodyError, type CountedBody } from './body.js';

const TEMP_PREFIX = '.cassette-tmp-';

/** A {@link BlobStore} rooted at a directory (made absolute). */
export class FsStore implements BlobStore {
  readonly description: string;
  readonly #root: string;

  constructor(root: string) {
    this.#root = resolve(root);
    this.description = this.#root;
  }

  async put(key: string, body: BlobBody, options: PutOptions = {}): Promise<{ readonly bytes: number }> {
    try {
      const path = this.#path(key);
      return await this.#write(key, path, countBody(body), options.ifAbsent === true);
    } catch (err) {
      discardBody(body);
      const fromBody = unwrapBodyError(err);
      if (fromBody !== undefined) throw fromBody.error;
      throw this.#mapError(err, `write ${key}`);
    }
  }

  async #write(key: string, path: string, counted: CountedBody, ifAbsent: boolean): Promise<{ readonly bytes: number }> {
    const dir = dirname(path);
    await mkdir(dir, { recursive: true });
    const temp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    const handle = await open(temp, 'wx');
    try {
      try {
        for await (const chunk of counted.chunks) await writeAll(handle, chunk);
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (ifAbsent) {
        // link() refuses an existing target atomically, unlike rename(), which would replace it.
        await link(temp, path).catch((err: unknown) => {
          throw errorCode(err) === 'EEXIST' ? new BlobExistsError(key, this.description) : err;
        });
      } else {
        await rename(temp, path);
      }
      await syncDirectory(dir);
    } finally {
      await unlink(temp).catch(() => undefined); // already renamed, or cleaning up after a failure
    }
    return { bytes: counted.bytesRead() };
  }

  async get(key: string): Promise<Readable> {
    const path = this.#path(key);
    try {
      // Open now rather than lazily in the stream, so a missing blob is reported by `get` itself.
      const handle = await open(path, 'r');
      if (!(await handle.stat()).isFile()) {
        await handle.close();
        throw new BlobNotFoundError(key, this.description);
      }
      return mapStreamErrors(handle.createReadStream(), (err) => this.#mapError(err, `read ${key}`));
    } catch (err) {
      if (isMissing(err)) throw new BlobNotFoundError(key, this.description);
      throw this.#mapError(err, `read ${key}`);
    }
  }

  async head(key: string): Promise<{ readonly size: number } | undefined> {
    const path = this.#path(key);
    try {
      const info = await stat(path);
      return info.isFile() ? { size: info.size } : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw this.#mapError(err, `read ${key}`);
    }
  }

  async *list(prefix: string): AsyncIterable<BlobEntry> {
    assertValidPrefix(prefix);
    // Start the walk at the deepest folder the prefix names; the rest is a string filter.
    const folder = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const entries: BlobEntry[] = [];
    try {
      await this.#walk(folder, prefix, entries);
    } catch (err) {
      throw this.#mapError(err, `list ${prefix === '' ? 'the repository' : prefix}`);
    }
    // Sorted as a whole, not per directory: "a-b" sorts before "a/b" ('-' < '/').
    entries.sort((a, b) => compareKeys(a.key, b.key));
    yield* entries;
  }

  async #walk(folder: string, prefix: string, into: BlobEntry[]): Promise<void> {
    let names: string[];
    try {
      names = await readdir(join(this.#root, ...folder.split('/')));
    } catch (err) {
      if (isMissing(err)) return; // no such folder (yet): nothing under it
      throw err;
    }
    for (const name of names) {
      if (name.startsWith(TEMP_PREFIX)) continue;
      const key = `${folder}${name}`;
      let info;
      try {
        info = await lstat(join(this.#root, ...key.split('/')));
      } catch (err) {
        if (isMissing(err)) continue; // deleted while we walked
        throw err;
      }
      if (info.isDirectory()) {
        const sub = `${key}/`;
        if (sub.startsWith(prefix) || prefix.startsWith(sub)) await this.#walk(sub, prefix, into);
      } else if (info.isFile() && key.startsWith(prefix)) {
        into.push({ key, size: info.size });
      }
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.#path(key);
    try {
      await unlink(path);
    } catch (err) {
      if (isMissing(err) || (await isDirectory(path))) return; // a "folder" is not a blob
      throw this.#mapError(err, `delete ${key}`);
    }
  }

  /** The file for `key`, after checking the key rules. */
  #path(key: string): string {
    assertValidKey(key);
    const segments = key.split('/');
    if (segments.some((segment) => segment.startsWith(TEMP_PREFIX))) {
      throw new CassetteError('INVALID_INPUT', `invalid blob key ${JSON.stringify(key)}: ${TEMP_PREFIX}* names are reserved`);
    }
    return join(this.#root, ...segments);
  }

  /** Our typed errors pass through; anything else is the directory failing us. */
  #mapError(err: unknown, action: string): unknown {
    if (err instanceof CassetteError || err instanceof BlobExistsError || err instanceof BlobNotFoundError) return err;
    const code = errorCode(err);
    const problem = code !== undefined ? `${PROBLEMS[code] ?? firstLine(err)} (${code})` : firstLine(err);
    // A full disk is not waited out (it rarely frees itself): it fails at once, and the finished
    // work is kept for a resume once there is room.
    const full = code === 'ENOSPC' || code === 'EDQUOT';
    return new CassetteError('REPOSITORY_UNAVAILABLE', `cannot ${action} in repository ${this.description}: ${problem}`, {
      hint: full
        ? `free space on the filesystem that holds ${this.description} (or move the repository to a larger one)`
        : `check that ${this.description} is a directory on a healthy filesystem that this user can read and write`,
      cause: err,
    });
  }
}

/** Plain words for the errno codes an operator can do something about. */
const PROBLEMS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  ENOTDIR: `a part of the path is a file, not a directory`,
  EISDIR: 'a directory is in the way',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'a name is too long for the filesystem',
  EXDEV: 'the path crosses filesystems',
};

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}

/** ENOENT, or ENOTDIR when a parent "folder" is a file: either way there is no such blob. */
function isMissing(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** FileHandle.write may write less than asked (e.g. as a disk fills); the next write reports why. */
async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return lstat(path).then((info) => info.isDirectory(), () => false);
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n', 1)[0] ?? text;
}

/** Makes a rename or link in `dir` durable. Some filesystems cannot fsync a directory; that is fine. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    if (!['EINVAL', 'ENOTSUP', 'EPERM', 'EISDIR', 'EBADF'].includes(errorCode(err) ?? '')) throw err;
  } finally {
    await handle?.close();
  }
}
