/**
 * The repository wrapper that rides out outages (src/pipeline/retrying-store.ts), over an in-memory
 * store with injected outages and a fake clock: ambiguous write-once puts, reads broken mid-stream,
 * listings broken mid-way, and errors that must fail at once.
 */
import { Readable } from 'node:stream';
import { buffer, text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { CassetteError } from '../../src/errors.js';
import type { RetryClock } from '../../src/pipeline/retry.js';
import { withRepositoryRetries } from '../../src/pipeline/retrying-store.js';
import { BlobExistsError, RepositoryOutageError, type BlobBody, type BlobEntry, type BlobStore, type PutOptions } from '../../src/storage/blob-store.js';
import { MemoryStore } from '../support/fakes/memory-store.js';

function fakeClock(): RetryClock & { at: number; sleeps: number[] } {
  const clock = { at: 0, sleeps: [] as number[], now: () => clock.at, sleep: async (ms: number) => { clock.sleeps.push(ms); clock.at += ms; } };
  return clock;
}

const outage = (): RepositoryOutageError => new RepositoryOutageError('cannot put in repository memory://test: cannot reach http://minio: connection refused (ECONNREFUSED)');

/** A store that fails its next calls as scripted. */
class FlakyStore implements BlobStore {
  readonly description = 'memory://test';
  readonly inner = new MemoryStore();
  /** Calls of each kind to fail before they go through. */
  failPuts = 0;
  /** Puts that store the blob and then fail (the answer lost). */
  lostAnswers = 0;
  failGets = 0;
  /** Reads that fail after this many bytes (once each). */
  breakReadsAfter: number[] = [];
  failListAfter: number | undefined;
  failHeads = 0;
  calls = { put: 0, get: 0, list: 0, head: 0 };

  async put(key: string, body: BlobBody, options?: PutOptions): Promise<{ readonly bytes: number }> {
    this.calls.put++;
    if (this.failPuts > 0) {
      this.failPuts--;
      throw outage();
    }
    const result = await this.inner.put(key, body, options);
    if (this.lostAnswers > 0) {
      this.lostAnswers--;
      throw outage();
    }
    return result;
  }
  async get(key: string): Promise<Readable> {
    this.calls.get++;
    if (this.failGets > 0) {
      this.failGets--;
      throw outage();
    }
    const bytes = await buffer(await this.inner.get(key));
    const breakAt = this.breakReadsAfter.shift();
    return Readable.from((async function* () {
      for (let i = 0; i < bytes.length; i += 3) {
        if (breakAt !== undefined && i >= breakAt) throw outage();
        yield bytes.subarray(i, i + 3);
      }
    })());
  }
  async head(key: string): Promise<{ readonly size: number } | undefined> {
    this.calls.head++;
    if (this.failHeads > 0) {
      this.failHeads--;
      throw outage();
    }
    return this.inner.head(key);
  }
  async *list(prefix: string): AsyncIterable<BlobEntry> {
    this.calls.list++;
    let n = 0;
    const failAfter = this.failListAfter;
    this.failListAfter = undefined;
    for await (const entry of this.inner.list(prefix)) {
      if (failAfter !== undefined && n === failAfter) throw outage();
      n++;
      yield entry;
    }
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
}

function wrap(flaky: FlakyStore, retryForMs = 60_000): { store: BlobStore; clock: ReturnType<typeof fakeClock>; waits: (string | undefined)[] } {
  const clock = fakeClock();
  const waits: (string | undefined)[] = [];
  return { store: withRepositoryRetries(flaky, { retryForMs, clock, onWait: (line) => waits.push(line) }), clock, waits };
}

describe('withRepositoryRetries', () => {
  it('retries a document put through an outage, saying what it waits for, and clears the wait', async () => {
    const flaky = new FlakyStore();
    flaky.failPuts = 3;
    const { store, waits } = wrap(flaky);
    await store.put('backups/a/manifest.json', '{"a":1}\n', { ifAbsent: true });
    expect(await text(await flaky.inner.get('backups/a/manifest.json'))).toBe('{"a":1}\n');
    expect(flaky.calls.put).toBe(4);
    expect(waits.slice(0, 3).every((w) => w?.startsWith('waiting for the repository memory://test: cannot reach http://minio: connection refused (ECONNREFUSED) (retrying for up to '))).toBe(true);
    expect(waits.at(-1)).toBeUndefined();
  });

  it('takes a write-once put whose answer was lost as done when the stored blob holds the same bytes', async () => {
    const flaky = new FlakyStore();
    flaky.lostAnswers = 1;
    const { store } = wrap(flaky);
    await expect(store.put('backups/a/ranges/t/0.json', 'marker\n', { ifAbsent: true })).resolves.toEqual({ bytes: 7 });
    expect(flaky.calls.put).toBe(2);
  });

  it('still refuses a write-once put over a different blob after a lost answer', async () => {
    const flaky = new FlakyStore();
    await flaky.inner.put('k.json', 'theirs\n');
    flaky.failPuts = 1; // the first attempt fails, the second finds the key taken by someone else
    const { store } = wrap(flaky);
    await expect(store.put('k.json', 'mine\n', { ifAbsent: true })).rejects.toBeInstanceOf(BlobExistsError);
  });

  it('refuses a write-once put over an existing blob at once, without a failure before it', async () => {
    const flaky = new FlakyStore();
    await flaky.inner.put('k.json', 'same\n');
    const { store } = wrap(flaky);
    await expect(store.put('k.json', 'same\n', { ifAbsent: true })).rejects.toBeInstanceOf(BlobExistsError);
  });

  it('does not retry a stream put (a stream cannot be rewound): the caller retries its unit', async () => {
    const flaky = new FlakyStore();
    flaky.failPuts = 1;
    const { store } = wrap(flaky);
    await expect(store.put('chunk.gz', Readable.from([Buffer.from('abc')]), { ifAbsent: true })).rejects.toBeInstanceOf(RepositoryOutageError);
    expect(flaky.calls.put).toBe(1);
  });

  it('resumes a read broken mid-stream where it stopped: every byte once, in order', async () => {
    const flaky = new FlakyStore();
    const body = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
    await flaky.inner.put('chunk.gz', body);
    flaky.breakReadsAfter = [30, 60, 60];
    flaky.failGets = 0;
    const { store } = wrap(flaky);
    const read = await buffer(await store.get('chunk.gz'));
    expect(read.equals(body)).toBe(true);
    expect(flaky.calls.get).toBe(4);
  });

  it('gives up on a read that makes no progress for retryForMs', async () => {
    const flaky = new FlakyStore();
    await flaky.inner.put('chunk.gz', Buffer.alloc(10));
    flaky.breakReadsAfter = Array.from({ length: 1000 }, () => 0);
    const { store, clock } = wrap(flaky, 5000);
    const err = await buffer(await store.get('chunk.gz')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REPOSITORY_UNAVAILABLE', message: expect.stringMatching(/\(still failing after --retry-for 5s\)$/) });
    expect(clock.at).toBeGreaterThanOrEqual(5000);
  });

  it('lists every key once when the listing breaks midway', async () => {
    const flaky = new FlakyStore();
    for (const k of ['p/a', 'p/b', 'p/c', 'p/d']) await flaky.inner.put(k, k);
    flaky.failListAfter = 2;
    const { store } = wrap(flaky);
    const keys: string[] = [];
    for await (const e of store.list('p/')) keys.push(e.key);
    expect(keys).toEqual(['p/a', 'p/b', 'p/c', 'p/d']);
    expect(flaky.calls.list).toBe(2);
  });

  it('retries heads', async () => {
    const flaky = new FlakyStore();
    await flaky.inner.put('x', 'abc');
    flaky.failHeads = 2;
    const { store } = wrap(flaky);
    expect(await store.head('x')).toEqual({ size: 3 });
  });

  it('fails at once on a repository error that is not an outage (a full disk, access denied)', async () => {
    const flaky = new FlakyStore();
    const full = new CassetteError('REPOSITORY_UNAVAILABLE', 'cannot write in repository /r: no space left on device (ENOSPC)');
    flaky.put = async () => {
      flaky.calls.put++;
      throw full;
    };
    const { store, clock } = wrap(flaky);
    await expect(store.put('k', 'v', { ifAbsent: true })).rejects.toBe(full);
    expect(flaky.calls.put).toBe(1);
    expect(clock.sleeps).toEqual([]);
  });

  it('with retryForMs 0 fails at the first outage', async () => {
    const flaky = new FlakyStore();
    flaky.failPuts = 1;
    const { store } = wrap(flaky, 0);
    await expect(store.put('k', 'v')).rejects.toMatchObject({ code: 'REPOSITORY_UNAVAILABLE', message: expect.stringMatching(/\(not retried: --retry-for 0\)$/) });
  });

  it('gives up once retryForMs have passed with an error that is no longer an outage, so an outer retry does not start over', async () => {
    const flaky = new FlakyStore();
    flaky.failPuts = Infinity;
    const { store, clock } = wrap(flaky, 60_000);
    const err = await store.put('k', 'v', { ifAbsent: true }).catch((e: unknown) => e);
    expect(clock.at).toBe(60_000);
    expect(err).toBeInstanceOf(CassetteError);
    expect(err).not.toBeInstanceOf(RepositoryOutageError);
    expect(err).toMatchObject({
      code: 'REPOSITORY_UNAVAILABLE',
      message: 'cannot put in repository memory://test: cannot reach http://minio: connection refused (ECONNREFUSED) (still failing after --retry-for 1m00s)',
      hint: 'check the repository; a longer --retry-for waits out longer outages',
    });
  });

  it('re-wrapping replaces the policy instead of nesting retries', async () => {
    const flaky = new FlakyStore();
    flaky.failPuts = 1;
    const first = withRepositoryRetries(flaky, { retryForMs: 60_000, clock: fakeClock() });
    const second = withRepositoryRetries(first, { retryForMs: 0 });
    await expect(second.put('k', 'v')).rejects.toMatchObject({ message: expect.stringContaining('not retried') });
    expect(flaky.calls.put).toBe(1);
  });
});
