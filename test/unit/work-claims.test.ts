/**
 * The loop every worker of a shared run runs (pipeline/work-claims.ts, format.md §13), on a fake
 * clock: it takes the free units, waits for those a live worker holds, takes a unit over once its
 * holder's heartbeat has lapsed, and returns as soon as every unit is done by anyone.
 */
import { describe, expect, it } from 'vitest';
import { WORK_RENEW_EVERY_MS } from '../../src/manifest/leases.js';
import { LeaseHolder } from '../../src/pipeline/lease-holder.js';
import { forEachClaimed, WorkClaims, type ClaimedUnit } from '../../src/pipeline/work-claims.js';
import type { RetryClock } from '../../src/pipeline/retry.js';
import { MemoryStore } from '../support/fakes/memory-store.js';

const TARGET = { kind: 'backup' as const, id: '20261204T120000Z-abcdef' };
const FOLDER = `backups/${TARGET.id}/`;
const UNITS: ClaimedUnit[] = [{ table: 't', index: 0 }, { table: 't', index: 1 }, { table: 't', index: 2 }];

function setting() {
  let now = Date.UTC(2026, 11, 4, 12);
  const clock: RetryClock = { now: () => now, sleep: async (ms) => { now += ms; } };
  const store = new MemoryStore();
  const done = new Set<string>();
  const worker = async (n: number) => {
    const leases = new LeaseHolder(store, { command: 'backup', host: `host-${n}`, pid: n, now: clock.now, renewEveryMs: WORK_RENEW_EVERY_MS });
    await leases.hold(TARGET, 'work');
    return { leases, claims: new WorkClaims({ store, leases, now: clock.now }, TARGET, FOLDER) };
  };
  const isDone = async (u: ClaimedUnit): Promise<boolean> => done.has(`${u.table}/${u.index}`);
  return { clock, store, done, worker, isDone, advance: (ms: number) => { now += ms; } };
}

describe('forEachClaimed (a worker of a shared run)', () => {
  it('waits for a unit a live worker holds, and returns when that worker finishes it', async () => {
    const { clock, done, worker, isDone } = setting();
    const a = await worker(1);
    expect(await a.claims.take(UNITS[1] as ClaimedUnit)).toBe(true);
    const b = await worker(2);
    const waits: number[] = [];
    const worked: string[] = [];
    const elsewhere: string[] = [];
    const mine = await forEachClaimed(UNITS, b.claims, {
      parallel: 2, signal: new AbortController().signal, isDone, clock, pollMs: 1000,
      onDoneElsewhere: (u) => elsewhere.push(`${u.table}/${u.index}`),
      onWaiting: (held) => {
        waits.push(held);
        if (waits.length === 3) done.add('t/1'); // the live holder finishes its unit meanwhile
      },
    }, async (u) => {
      worked.push(`${u.table}/${u.index}`);
      done.add(`${u.table}/${u.index}`);
    });
    expect(mine).toBe(2);
    expect(worked.sort()).toEqual(['t/0', 't/2']);
    expect(waits).toEqual([1, 1, 1]);
    expect(elsewhere).toEqual(['t/1']); // once, for progress displays

  });

  it('takes a unit over once its holder has not renewed for ten of its renewal intervals', async () => {
    const { clock, done, worker, isDone } = setting();
    const a = await worker(1);
    expect(await a.claims.take(UNITS[0] as ClaimedUnit)).toBe(true); // then it hangs: no renewal, no marker
    const b = await worker(2);
    const started = clock.now();
    let tookOverAt: number | undefined;
    const mine = await forEachClaimed(UNITS, b.claims, { parallel: 1, signal: new AbortController().signal, isDone, clock, pollMs: 5000 }, async (u) => {
      if (u.index === 0) tookOverAt = clock.now();
      done.add(`${u.table}/${u.index}`);
    });
    expect(mine).toBe(3);
    expect((tookOverAt as number) - started).toBeGreaterThan(10 * WORK_RENEW_EVERY_MS);
    expect((tookOverAt as number) - started).toBeLessThanOrEqual(10 * WORK_RENEW_EVERY_MS + 5000);
  });

  it('stops waiting when its signal aborts', async () => {
    const { clock, worker, isDone } = setting();
    const a = await worker(1);
    await a.claims.take(UNITS[0] as ClaimedUnit);
    const b = await worker(2);
    const controller = new AbortController();
    const waiting = forEachClaimed([UNITS[0] as ClaimedUnit], b.claims, {
      parallel: 1, signal: controller.signal, isDone, pollMs: 1000,
      clock: { now: clock.now, sleep: (_ms, signal) => new Promise((_resolve, reject) => {
        if (signal?.aborted === true) reject(signal.reason as Error);
        signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      }) },
      onWaiting: () => controller.abort(new Error('interrupted')),
    }, async () => undefined);
    await expect(waiting).rejects.toThrow('interrupted');
  });
});
