/**
 * A backup shared by many workers (docs/decisions/0011): which ranges this worker takes — those
 * without a marker whose claim it wins (manifest/claims.ts) — and the report of a worker whose
 * share is done while others still work. The markers stay the only truth about what is done.
 */
import { createHash } from 'node:crypto';
import { claimUnit, type Claimant } from '../manifest/claims.js';
import { CassetteError } from '../errors.js';
import type { BackupHeader, RangeMarker } from '../manifest/format.js';
import { readHeader } from '../manifest/repository.js';
import { BlobExistsError } from '../storage/blob-store.js';
import { BACKUP_ID_PATTERN, markerKey } from '../manifest/keys.js';
import { isLeaseLive, readTargetLeases, type Lease } from '../manifest/leases.js';
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
  /** Whether a lease's process is alive, when this process can tell (same host: its pid); as for leases (format.md §11). */
  readonly isHolderAlive?: (lease: Lease) => boolean | undefined;
}

export function sharedRun(deps: SharedDeps, backupId: string): SharedRun {
  const holder = deps.leases?.holder ?? createHash('sha256').update(`${deps.now()}:${Math.random()}`).digest('hex').slice(0, 16);
  const me: Claimant = { holder, host: deps.worker?.host ?? 'unknown', pid: deps.worker?.pid ?? 0 };
  const target = { kind: 'backup' as const, id: backupId };
  // A claim's holder is live while its run lease is (format.md §11's stale rule).
  // A holder on this host whose pid is gone is dead at once (a SIGKILLed worker), as for leases.
  const isLive = async (other: string): Promise<boolean> =>
    (await readTargetLeases(deps.store, target)).some((s) => s.lease.holder === other && isLeaseLive(s.lease, deps.now()) && deps.isHolderAlive?.(s.lease) !== false);
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

/**
 * A shared run (decisions/0011): the first worker creates the backup (write-once backup.json with
 * its plan), the others join it — same keyspace and tables — and its plan is theirs.
 */
export async function joinOrCreate(request: { readonly tables?: readonly string[] }, backupId: string, deps: SharedDeps, start: () => Promise<BackupHeader>, reopen: () => Promise<BackupHeader>): Promise<BackupHeader> {
  if (!BACKUP_ID_PATTERN.test(backupId)) {
    throw new CassetteError('USAGE', `--backup-id ${backupId} is not a backup id (20261204T120000Z-3fa9c1: UTC time, then 6 hex digits)`);
  }
  if ((await readHeader(deps.store, backupId)) === undefined) {
    try {
      return await start();
    } catch (err) {
      if (!(err instanceof BlobExistsError)) throw err; // another worker created it first: join it
    }
  } else {
    await deps.leases?.hold({ kind: 'backup', id: backupId }, 'work');
  }
  const header = await reopen();
  if (request.tables !== undefined) {
    const planned = header.tables.map((t) => t.name).sort().join(',');
    if ([...request.tables].sort().join(',') !== planned) {
      throw new CassetteError('USAGE', `backup ${backupId} was planned for tables ${planned}; this worker was given ${request.tables.join(',')}`, { hint: 'give every worker of one run the same command' });
    }
  }
  return header;
}
