/**
 * A backup shared by many workers (docs/decisions/0011): which ranges this worker takes — those
 * without a marker whose claim it wins (manifest/claims.ts) — and the report of a worker whose
 * share is done while others still work. The markers stay the only truth about what is done.
 */
import { createHash } from 'node:crypto';
import { claimUnit, type Claimant } from '../manifest/claims.js';
import type { BackupHeader, RangeMarker } from '../manifest/format.js';
import { markerKey } from '../manifest/keys.js';
import { isLeaseLive, readTargetLeases } from '../manifest/leases.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { Leases } from '../pipeline/lease-holder.js';

export interface SharedRun {
  /** Where in a list of `n` jobs this worker starts (spread by its holder id). */
  startAt(n: number): number;
  /** Whether this worker should read the range: no marker yet, and the claim is (or now becomes) its own. */
  take(job: { readonly table: string; readonly index: number }): Promise<boolean>;
}

export interface SharedDeps {
  readonly store: BlobStore;
  readonly leases?: Leases;
  readonly now: () => number;
  /** Where this worker runs, for the claims (for people; never used to decide anything). */
  readonly worker?: { readonly host: string; readonly pid: number };
}

export function sharedRun(deps: SharedDeps, backupId: string): SharedRun {
  const holder = deps.leases?.holder ?? createHash('sha256').update(`${deps.now()}:${Math.random()}`).digest('hex').slice(0, 16);
  const me: Claimant = { holder, host: deps.worker?.host ?? 'unknown', pid: deps.worker?.pid ?? 0 };
  const target = { kind: 'backup' as const, id: backupId };
  // A claim's holder is live while its run lease is (format.md §11's stale rule).
  const isLive = async (other: string): Promise<boolean> =>
    (await readTargetLeases(deps.store, target)).some((s) => s.lease.holder === other && isLeaseLive(s.lease, deps.now()));
  return {
    startAt: (n) => Number.parseInt(holder.slice(0, 8), 16) % n,
    async take(job) {
      if ((await deps.store.head(markerKey(backupId, job.table, job.index))) !== undefined) return false;
      const outcome = await claimUnit(deps.store, { backupId, table: job.table, range: job.index }, me, isLive, deps.now);
      return outcome.kind === 'claimed';
    },
  };
}

/** The report fields of a worker whose share is done while `missing` ranges are left to others. */
export function shareReport(header: BackupHeader, markers: ReadonlyMap<string, ReadonlyMap<number, RangeMarker>>, mine: ReadonlySet<string>, missing: number) {
  const done = (table: string): RangeMarker[] => [...(markers.get(table)?.values() ?? [])];
  const all = header.tables.flatMap((t) => done(t.name));
  return {
    backupId: header.backupId,
    keyspace: header.keyspace.name,
    resumed: false,
    tables: header.tables.map((t) => ({
      name: t.name, ranges: t.ranges.length, rangesSkipped: t.ranges.length - [...mine].filter((m) => m.startsWith(`${t.name}/`)).length,
      rows: done(t.name).reduce((n, m) => n + m.rows, 0), bytes: done(t.name).reduce((n, m) => n + m.bytes, 0),
    })),
    ranges: all.length,
    chunks: all.reduce((n, m) => n + m.chunks.length, 0),
    rows: all.reduce((n, m) => n + m.rows, 0),
    bytes: all.reduce((n, m) => n + m.bytes, 0),
    shared: { rangesMine: mine.size, rangesLeft: missing, complete: false },
  };
}
