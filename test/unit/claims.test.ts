import { describe, expect, it } from 'vitest';
import { claimUnit, currentClaim, type Claimant, type Unit } from '../../src/manifest/claims.js';
import { MemoryStore } from '../support/fakes/memory-store.js';

const unit: Unit = { folder: 'backups/20261204T120000Z-abcdef/', table: 'users', range: 7 };
const worker = (n: number): Claimant => ({ holder: `holder-${n}`, host: `host-${n}`, pid: 1000 + n });
const now = (): number => Date.UTC(2026, 11, 4, 12);

describe('work claims (decisions/0011)', () => {
  it('the first worker claims generation 0; a live holder keeps its unit; the holder itself sees it as claimed', async () => {
    const store = new MemoryStore();
    const live = new Set(['holder-1']);
    const isLive = async (holder: string): Promise<boolean> => live.has(holder);
    expect(await claimUnit(store, unit, worker(1), isLive, now)).toEqual({ kind: 'claimed', gen: 0, takeover: false });
    expect(await claimUnit(store, unit, worker(2), isLive, now)).toMatchObject({ kind: 'held', by: { holder: 'holder-1', host: 'host-1', pid: 1001 } });
    expect(await claimUnit(store, unit, worker(1), isLive, now)).toEqual({ kind: 'claimed', gen: 0, takeover: false });
    const keys: string[] = [];
    for await (const entry of store.list('')) keys.push(entry.key);
    expect(keys).toEqual([`${unit.folder}claims/users/00007/00000.json`]);
  });

  it('a unit whose holder is no longer live is taken over with the next generation', async () => {
    const store = new MemoryStore();
    await claimUnit(store, unit, worker(1), async () => true, now);
    expect(await claimUnit(store, unit, worker(2), async (h) => h !== 'holder-1', now)).toEqual({ kind: 'claimed', gen: 1, takeover: true });
    expect((await currentClaim(store, unit))?.doc.holder).toBe('holder-2');
    // The slow first holder, back, no longer holds it.
    expect(await claimUnit(store, unit, worker(1), async (h) => h === 'holder-2', now)).toMatchObject({ kind: 'held', by: { holder: 'holder-2' } });
  });

  it('of many workers racing for one unit exactly one claims it', async () => {
    const store = new MemoryStore();
    const outcomes = await Promise.all([1, 2, 3, 4, 5].map((n) => claimUnit(store, unit, worker(n), async () => true, now)));
    expect(outcomes.filter((o) => o.kind === 'claimed')).toHaveLength(1);
    expect(outcomes.every((o) => o.kind === 'claimed' || o.kind === 'lost' || o.kind === 'held')).toBe(true);
    const dead = await Promise.all([6, 7, 8].map((n) => claimUnit(store, unit, worker(n), async (h) => h.endsWith('-6') || h.endsWith('-7') || h.endsWith('-8'), now)));
    expect(dead.filter((o) => o.kind === 'claimed')).toHaveLength(1);
    expect((await currentClaim(store, unit))?.gen).toBe(1);
  });
});
