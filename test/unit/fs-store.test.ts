import { mkdtemp, readdir, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CassetteError } from '../../src/errors.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { describeBlobStoreContract, randomStream, readAll } from '../support/blob-store-contract.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'cassette-fs-store-'));
}

/** Every file and directory under `dir`, relative, sorted. */
async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

describeBlobStoreContract('FsStore', async () => {
  const dir = await tempDir();
  return { store: new FsStore(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe('FsStore on the filesystem', () => {
  it('describes itself by its absolute directory', async () => {
    const dir = await tempDir();
    expect(new FsStore(dir).description).toBe(dir);
    await rm(dir, { recursive: true });
  });

  it('leaves no temporary files behind after puts, refused puts and failed puts', async () => {
    const dir = await tempDir();
    const store = new FsStore(dir);
    await store.put('x/a', 'a');
    await store.put('x/a', 'again');
    await store.put('x/b', randomStream(2 * 1024 * 1024).stream, { ifAbsent: true });
    await expect(store.put('x/b', 'again', { ifAbsent: true })).rejects.toThrow();
    const failing = randomStream(1024);
    failing.stream.destroy(new Error('producer broke'));
    await expect(store.put('x/c', failing.stream)).rejects.toThrow('producer broke');
    expect(await tree(dir)).toEqual(['x', 'x/a', 'x/b']);
    await rm(dir, { recursive: true });
  });

  it('reads a missing root directory as an empty repository and creates it on the first put', async () => {
    const dir = join(await tempDir(), 'not', 'yet');
    const store = new FsStore(dir);
    expect(await store.head('k')).toBeUndefined();
    const listed = [];
    for await (const entry of store.list('')) listed.push(entry);
    expect(listed).toEqual([]);
    await store.put('k', 'v');
    expect((await readAll(await store.get('k'))).toString()).toBe('v');
    await rm(join(dir, '..', '..'), { recursive: true });
  });

  it('ignores temporary files of puts in flight or interrupted by a crash', async () => {
    const dir = await tempDir();
    const store = new FsStore(dir);
    await store.put('k', 'v');
    await writeFile(join(dir, '.cassette-tmp-0123456789abcdef'), 'partial');
    const listed = [];
    for await (const entry of store.list('')) listed.push(entry.key);
    expect(listed).toEqual(['k']);
    await expect(store.put('.cassette-tmp-x', 'v')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await rm(dir, { recursive: true });
  });

  it('turns a root that is a file into REPOSITORY_UNAVAILABLE with a one-line message', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'file'), 'not a directory');
    const store = new FsStore(join(dir, 'file', 'repo'));
    const err = await store.put('backups/b.json', '{}').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CassetteError);
    const failure = err as CassetteError;
    expect(failure.code).toBe('REPOSITORY_UNAVAILABLE');
    expect(failure.message).toBe(`cannot write backups/b.json in repository ${store.description}: a part of the path is a file, not a directory (ENOTDIR)`);
    expect(failure.hint).toContain(store.description);
    await rm(dir, { recursive: true });
  });

  // An unwritable directory (EACCES) is tested end to end in test/integration/backup-cli.test.ts,
  // as an unprivileged user, because root may write anywhere.
});
