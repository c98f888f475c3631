/**
 * The one view of a run shared by many workers (commands/status/workers.ts): per table ranges done
 * and in progress, every worker with its heartbeat age, each range in progress with its holder,
 * rows per second over the last minute from the markers' times, and the ETA.
 */
import { describe, expect, it } from 'vitest';
import { claimUnit } from '../../src/manifest/claims.js';
import { WORK_RENEW_EVERY_MS } from '../../src/manifest/leases.js';
import { LeaseHolder } from '../../src/pipeline/lease-holder.js';
import { formatRunView, runView, type PlannedUnit } from '../../src/commands/status/workers.js';
import { MemoryStore } from '../support/fakes/memory-store.js';

const TARGET = { kind: 'backup' as const, id: '20261204T120000Z-abcdef' };
const FOLDER = `backups/${TARGET.id}/`;
const T0 = Date.UTC(2026, 11, 4, 12);

describe('runView', () => {
  it('sums the markers and claims of every worker: done and in progress per table, holders, heartbeats, rate, ETA', async () => {
    const store = new MemoryStore();
    let now = T0;
    const holders = await Promise.all([1, 2].map(async (n) => {
      const holder = new LeaseHolder(store, { command: 'backup', host: `pod-${n}`, pid: 10 + n, now: () => now, renewEveryMs: WORK_RENEW_EVERY_MS });
      await holder.hold(TARGET, 'work');
      return holder;
    }));
    const [one, two] = holders as [LeaseHolder, LeaseHolder];
    await claimUnit(store, { folder: FOLDER, table: 'a', range: 2 }, { holder: one.holder, host: 'pod-1', pid: 11 }, async () => true, () => now);
    await claimUnit(store, { folder: FOLDER, table: 'b', range: 0 }, { holder: two.holder, host: 'pod-2', pid: 12 }, async () => true, () => now);
    // Three minutes later pod-2 has gone silent (no renewal since), pod-1 renewed a moment ago.
    now = T0 + 180_000;
    await one.renew();
    now += 5_000;
    const at = (agoMs: number): string => new Date(now - agoMs).toISOString();
    const units: PlannedUnit[] = [
      { table: 'a', index: 0, done: { rows: 1000, at: at(90_000) } }, // outside the last minute
      { table: 'a', index: 1, done: { rows: 600, at: at(30_000) } },
      { table: 'a', index: 2 },
      { table: 'a', index: 3 },
      { table: 'b', index: 0 },
      { table: 'b', index: 1, done: { rows: 600, at: at(10_000) } },
    ];
    const view = await runView(store, TARGET, FOLDER, units, now);
    expect(view.tables).toEqual([{ name: 'a', done: 2, inProgress: 1, total: 4 }, { name: 'b', done: 1, inProgress: 1, total: 2 }]);
    expect(view.workers.map((w) => ({ host: w.host, live: w.live, ago: w.renewedAgoMs })).sort((x, y) => x.host.localeCompare(y.host))).toEqual([
      { host: 'pod-1', live: true, ago: 5_000 },
      { host: 'pod-2', live: false, ago: 185_000 },
    ]);
    expect(view.inProgress).toEqual([
      { table: 'a', index: 2, host: 'pod-1', pid: 11, claimedAt: new Date(T0).toISOString(), heartbeatAgoMs: 5_000, live: true },
      { table: 'b', index: 0, host: 'pod-2', pid: 12, claimedAt: new Date(T0).toISOString(), heartbeatAgoMs: 185_000, live: false },
    ]);
    // 1,200 rows finished in the last minute → 20 rows/s; 3 ranges left at the 733-row average → 110 s.
    expect(view.rowsPerSecondLastMinute).toBe(20);
    expect(view.etaSeconds).toBe(110);
    const text = formatRunView(view, '  ').join('\n');
    expect(text).toContain('a: 2/4 ranges done, 1 in progress');
    expect(text).toContain('workers: 1 live, 1 silent');
    expect(text).toContain('in progress: b range 0 by pod-2/12');
    expect(text).toContain('will be taken over');
    expect(text).toContain('20 rows/s over the last minute, ETA 1 min 50 s');
  });

  it('a run nobody works on: no workers, nothing in progress, no rate and no ETA', async () => {
    const view = await runView(new MemoryStore(), TARGET, FOLDER, [{ table: 'a', index: 0 }], T0);
    expect(view).toEqual({ tables: [{ name: 'a', done: 0, inProgress: 0, total: 1 }], workers: [], inProgress: [], rowsPerSecondLastMinute: 0, etaSeconds: undefined });
  });
});
