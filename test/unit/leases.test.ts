import { describe, expect, it } from 'vitest';
import { CassetteError } from '../../src/errors.js';
import { leaseKey, leasesFolder } from '../../src/manifest/keys.js';
import { LEASE_STALE_AFTER_MS, isLeaseLive, modesConflict, readAllLeases, type LeaseMode } from '../../src/manifest/leases.js';
import { LeaseHolder, withLeases, type LeaseHolderOptions } from '../../src/pipeline/lease-holder.js';
import { FaultyStore } from '../support/fakes/faulty-store.js';
import { MemoryStore } from '../support/fakes/memory-store.js';

/** What a promise rejects with; fails the test when it resolves. */
async function thrown(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

const T0 = Date.parse('2026-11-22T12:00:00.000Z');
const BACKUP = { kind: 'backup', id: '20261122T120000Z-aaaaaa' } as const;

function clock(start = T0): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

function options(now: () => number, extra: Partial<LeaseHolderOptions> = {}): LeaseHolderOptions {
  return { command: 'backup', host: 'host-a', pid: 4242, now, ...extra };
}

async function keys(store: MemoryStore): Promise<string[]> {
  const found: string[] = [];
  for await (const e of store.list(leasesFolder())) found.push(e.key);
  return found;
}

describe('the stale rule', () => {
  const renewed = (ms: number): { renewedAt: string; renewEveryMs: number } => ({ renewedAt: new Date(ms).toISOString(), renewEveryMs: 60_000 });

  it('a lease not renewed for 10 minutes by the reader\'s clock is stale', () => {
    expect(LEASE_STALE_AFTER_MS).toBe(600_000);
    expect(isLeaseLive(renewed(T0), T0 + 600_000)).toBe(true);
    expect(isLeaseLive(renewed(T0), T0 + 600_001)).toBe(false);
    // A holder whose clock runs ahead of the reader's: live.
    expect(isLeaseLive(renewed(T0 + 120_000), T0)).toBe(true);
    // A holder renewing every 2 minutes is stale only after ten of its intervals.
    expect(isLeaseLive({ renewedAt: new Date(T0).toISOString(), renewEveryMs: 120_000 }, T0 + 1_199_000)).toBe(true);
    expect(isLeaseLive({ renewedAt: new Date(T0).toISOString(), renewEveryMs: 120_000 }, T0 + 1_200_001)).toBe(false);
    expect(isLeaseLive({ renewedAt: 'garbage', renewEveryMs: 60_000 }, T0)).toBe(false);
  });

  it('writers exclude writers, a deletion excludes everyone, readers share', () => {
    const modes: LeaseMode[] = ['write', 'read', 'delete'];
    const table = modes.map((a) => modes.map((b) => (modesConflict(a, b) ? 'x' : '.')).join('')).join(' ');
    expect(table).toBe('x.x ..x xxx');
  });
});

describe('LeaseHolder', () => {
  it('holds a lease, and refuses a second writer with IN_USE naming the holder and the stale rule', async () => {
    const store = new MemoryStore();
    const c = clock();
    const first = new LeaseHolder(store, options(c.now));
    await first.hold(BACKUP, 'write');
    const second = new LeaseHolder(store, options(c.now, { host: 'host-b', pid: 7, command: 'backup --resume' }));
    const err = await thrown(second.hold(BACKUP, 'write'));
    expect(err).toBeInstanceOf(CassetteError);
    expect((err as CassetteError).code).toBe('IN_USE');
    expect((err as CassetteError).exitCode).toBe(14);
    expect((err as CassetteError).message).toContain('host host-a pid 4242 (`cassette backup`, write, since 2026-11-22T12:00:00.000Z');
    expect((err as CassetteError).hint).toContain('not renewed for 10 minutes is stale');
    // The refused holder left nothing behind; a reader may share the backup.
    expect(await keys(store)).toEqual([leaseKey('backup', BACKUP.id, first.holder)]);
    const reader = new LeaseHolder(store, options(c.now, { command: 'restore' }));
    await reader.hold(BACKUP, 'read');
    // …but a deletion conflicts with the reader and the writer.
    const pruner = new LeaseHolder(store, options(c.now, { command: 'prune' }));
    expect((await thrown(pruner.hold(BACKUP, 'delete')) as CassetteError).code).toBe('IN_USE');
    await first.release();
    await reader.release();
    await pruner.hold(BACKUP, 'delete');
    expect(await keys(store)).toEqual([leaseKey('backup', BACKUP.id, pruner.holder)]);
  });

  it('ignores a stale lease of a dead holder and takes the target', async () => {
    const store = new MemoryStore();
    const c = clock();
    const dead = new LeaseHolder(store, options(c.now));
    await dead.hold(BACKUP, 'write');
    c.advance(LEASE_STALE_AFTER_MS + 1);
    const next = new LeaseHolder(store, options(c.now));
    await next.hold(BACKUP, 'write');
    expect((await readAllLeases(store)).map((s) => s.lease.holder).sort()).toEqual([dead.holder, next.holder].sort());
  });

  it('takes over at once a live lease whose holder is known to be dead (same host, pid gone), and removes it', async () => {
    const store = new MemoryStore();
    const c = clock();
    const killed = new LeaseHolder(store, options(c.now, { pid: 1111 }));
    await killed.hold(BACKUP, 'write');
    const unknown = new LeaseHolder(store, options(c.now, { isHolderAlive: () => undefined }));
    expect((await thrown(unknown.hold(BACKUP, 'write')) as CassetteError).code).toBe('IN_USE');
    const alive = new LeaseHolder(store, options(c.now, { isHolderAlive: () => true }));
    expect((await thrown(alive.hold(BACKUP, 'write')) as CassetteError).code).toBe('IN_USE');
    const seen: number[] = [];
    const resumer = new LeaseHolder(store, options(c.now, { pid: 2222, isHolderAlive: (lease) => { seen.push(lease.pid); return lease.pid !== 1111; } }));
    await resumer.hold(BACKUP, 'write');
    expect(seen).toEqual([1111]);
    expect(await keys(store)).toEqual([leaseKey('backup', BACKUP.id, resumer.holder)]);
  });

  it('renews by overwriting its own lease, so it never goes stale while the holder lives', async () => {
    const store = new MemoryStore();
    const c = clock();
    const holder = new LeaseHolder(store, options(c.now));
    await holder.hold(BACKUP, 'write');
    for (let i = 0; i < 10; i++) {
      c.advance(60_000);
      await holder.renew();
    }
    const [stored] = await readAllLeases(store);
    expect(stored?.lease.renewedAt).toBe(new Date(T0 + 600_000).toISOString());
    expect(stored?.lease.acquiredAt).toBe(new Date(T0).toISOString());
    expect(isLeaseLive(stored!.lease, c.now())).toBe(true);
    expect(holder.signal.aborted).toBe(false);
  });

  it('loses its leases (signal aborts, REPOSITORY_UNAVAILABLE) when another process removed one as stale', async () => {
    const store = new MemoryStore();
    const holder = new LeaseHolder(store, options(clock().now));
    await holder.hold(BACKUP, 'write');
    await store.delete(leaseKey('backup', BACKUP.id, holder.holder));
    await holder.renew();
    expect(holder.signal.aborted).toBe(true);
    expect((holder.signal.reason as CassetteError).code).toBe('REPOSITORY_UNAVAILABLE');
    expect((holder.signal.reason as CassetteError).message).toContain('judged it stale');
  });

  it('retries failed renewals, and stops only when the lease could soon look stale to others', async () => {
    const faulty = new FaultyStore(new MemoryStore());
    const c = clock();
    const holder = new LeaseHolder(faulty, options(c.now));
    await holder.hold(BACKUP, 'write');
    faulty.failPutWhen((key) => key.startsWith(leasesFolder()), { times: 100 });
    // Seven minutes of failed renewals: longer than the default --retry-for (5 min), still held.
    for (let minute = 1; minute <= 7; minute++) {
      c.advance(60_000);
      await holder.renew();
      expect(holder.signal.aborted).toBe(false);
    }
    c.advance(60_000); // eight minutes without a renewal: two more and others would see it stale
    await holder.renew();
    expect(holder.signal.aborted).toBe(true);
    expect((holder.signal.reason as CassetteError).message).toContain('could not be renewed for 480 s');
  });

  it('renews on an unref\'d timer while held and stops it on release', async () => {
    const store = new MemoryStore();
    const calls: string[] = [];
    let tick: (() => void) | undefined;
    const holder = new LeaseHolder(store, options(clock().now, {
      renewEveryMs: 30_000,
      timers: {
        setInterval: (fn, ms) => { calls.push(`set ${ms}`); tick = fn; return { unref: () => calls.push('unref') }; },
        clearInterval: () => calls.push('clear'),
      },
    }));
    await holder.hold(BACKUP, 'write');
    await holder.hold({ kind: 'restore', id: 'r20261122T120000Z-aaaaaa' }, 'write');
    expect(tick).toBeDefined();
    await holder.release();
    expect(calls).toEqual(['set 30000', 'unref', 'clear']);
    expect(await keys(store)).toEqual([]);
  });
});

describe('withLeases', () => {
  it('deletes the leases when the work ends, whether it succeeds or fails', async () => {
    const store = new MemoryStore();
    const c = clock();
    await withLeases(store, options(c.now), new AbortController().signal, async (leases) => {
      await leases.hold(BACKUP, 'write');
      expect(await keys(store)).toHaveLength(1);
    });
    expect(await keys(store)).toEqual([]);
    const err = await thrown(withLeases(store, options(c.now), new AbortController().signal, async (leases) => {
      await leases.hold(BACKUP, 'write');
      throw new Error('boom');
    }));
    expect((err as Error).message).toBe('boom');
    expect(await keys(store)).toEqual([]);
  });

  it('aborts the work\'s signal when a lease is lost, and reports that instead of the interruption', async () => {
    const store = new MemoryStore();
    const err = await thrown(withLeases(store, options(clock().now), new AbortController().signal, async (leases, signal) => {
      await leases.hold(BACKUP, 'write');
      const [only] = await keys(store);
      await store.delete(only as string);
      await (leases as LeaseHolder).renew();
      expect(signal.aborted).toBe(true);
      throw new CassetteError('INTERRUPTED', 'backup interrupted');
    }));
    expect((err as CassetteError).code).toBe('REPOSITORY_UNAVAILABLE');
  });
});
