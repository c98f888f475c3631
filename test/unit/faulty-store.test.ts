import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { CassetteError } from '../../src/errors.js';
import { describeBlobStoreContract, readAll } from '../support/blob-store-contract.js';
import { FaultyStore, tempFaultyStore } from '../support/fakes/faulty-store.js';
import { MemoryStore } from '../support/fakes/memory-store.js';

// The in-memory store the unit tests use keeps the same contract as the real backends.
describeBlobStoreContract('MemoryStore', async () => ({ store: new MemoryStore(), cleanup: async () => undefined }));

// Without faults the wrapper must be invisible: the same contract as every real backend.
describeBlobStoreContract('FaultyStore over MemoryStore, no faults', async () => ({ store: new FaultyStore(new MemoryStore()), cleanup: async () => undefined }));

function isUnavailable(err: unknown): boolean {
  return err instanceof CassetteError && err.code === 'REPOSITORY_UNAVAILABLE';
}

describe('FaultyStore faults', () => {
  let cleanup: () => Promise<void> = async () => undefined;
  afterEach(() => cleanup());

  async function fresh(): Promise<FaultyStore> {
    const made = await tempFaultyStore();
    cleanup = made.cleanup;
    return made.store;
  }

  it('fails exactly the Nth put as REPOSITORY_UNAVAILABLE, stores nothing for it, and records every put', async () => {
    const store = (await fresh()).failPut(2);
    await store.put('a', 'one');
    await expect(store.put('b', 'two')).rejects.toSatisfy(isUnavailable);
    await store.put('c', 'three', { ifAbsent: true });
    expect(await store.head('b')).toBeUndefined();
    expect(store.puts.map((p) => [p.seq, p.key, p.outcome, p.ifAbsent])).toEqual([
      [1, 'a', 'stored', false],
      [2, 'b', 'injected-failure', false],
      [3, 'c', 'stored', true],
    ]);
  });

  it('fails mid-stream after reading part of the body, and destroys the body', async () => {
    const store = (await fresh()).failPutWhen((key) => key === 'big', { afterBytes: 3 });
    let pulled = 0;
    const body = Readable.from((function* () {
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield Buffer.from('xx');
      }
    })(), { objectMode: false });
    await expect(store.put('big', body)).rejects.toSatisfy(isUnavailable);
    expect(body.destroyed).toBe(true);
    expect(pulled).toBeLessThan(100);
    expect(await store.head('big')).toBeUndefined();
  });

  it('breaks a read stream after some bytes with REPOSITORY_UNAVAILABLE', async () => {
    const store = (await fresh()).failGetWhen((key) => key === 'k', { afterBytes: 4 });
    await store.put('k', 'abcdefgh');
    const received: Buffer[] = [];
    const err = await (async () => {
      for await (const chunk of await store.get('k')) received.push(chunk as Buffer);
    })().then(() => undefined, (e: unknown) => e);
    expect(isUnavailable(err)).toBe(true);
    expect(Buffer.concat(received).toString()).toBe('abcd');
    expect((await readAll(await store.get('k'))).toString()).toBe('abcdefgh'); // only the first read fails
  });

  it('slows puts without changing what is stored', async () => {
    const store = (await fresh()).slowPuts(1);
    await store.put('s', Readable.from([Buffer.from('ab'), Buffer.from('cd')]));
    expect((await readAll(await store.get('s'))).toString()).toBe('abcd');
  });
});
