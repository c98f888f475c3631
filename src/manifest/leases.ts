/**
 * Leases (docs/format.md §11): a running writer's claim on a backup, restore run or rotation job,
 * one small JSON object per holder and target, renewed by overwriting it. This module is the
 * format and the rules — which leases are live (the stale rule), which modes conflict — and
 * reads them; holding and renewing one is src/pipeline/lease-holder.ts.
 */
import { z } from 'zod';
import type { BlobStore } from '../storage/blob-store.js';
import { leasesFolder, leaseTargetFolder, type LeaseTargetKind } from './keys.js';
import { readDocument } from './repository.js';

export type { LeaseTargetKind } from './keys.js';

/** How often a holder renews its leases. */
export const LEASE_RENEW_EVERY_MS = 60_000;

/**
 * A lease not renewed for this long, by the reader's clock, is stale and ignored: ten renewal
 * intervals, so a holder may miss eight renewals (ride out an 8-minute repository outage, longer
 * than the default --retry-for) and its clock may lag the reader's by a minute.
 */
export const LEASE_STALE_AFTER_MS = 10 * 60_000;

/**
 * What the holder does with the target. `write`: it writes the target (backup, rekey's new
 * backup, restore run, rotation job); `read`: it reads a backup (restore, rekey's source);
 * `delete`: prune is removing it; `work`: one of the workers of a shared run (format.md §13), which
 * share the target with each other.
 */
export type LeaseMode = 'write' | 'read' | 'delete' | 'work';

export interface LeaseTarget {
  readonly kind: LeaseTargetKind;
  readonly id: string;
}

export const Lease = z.object({
  formatVersion: z.number().int().positive(),
  kind: z.literal('cassette-lease'),
  target: z.object({ kind: z.enum(['backup', 'restore', 'rotation']), id: z.string() }),
  mode: z.enum(['write', 'read', 'delete', 'work']),
  holder: z.string(),
  command: z.string(),
  host: z.string(),
  pid: z.number().int(),
  acquiredAt: z.string(),
  renewedAt: z.string(),
  renewEveryMs: z.number().int().positive(),
});
export type Lease = z.infer<typeof Lease>;

/** The age past which a lease is stale: {@link LEASE_STALE_AFTER_MS}, or ten of its own renewal intervals if longer. */
export function staleAfterMs(lease: Pick<Lease, 'renewEveryMs'>): number {
  return Math.max(LEASE_STALE_AFTER_MS, 10 * lease.renewEveryMs);
}

/**
 * Is `lease` live at `nowMs` (the reader's clock)? A lease renewed in the reader's future (the
 * holder's clock runs ahead) is live; an unreadable `renewedAt` is stale.
 */
export function isLeaseLive(lease: Pick<Lease, 'renewedAt' | 'renewEveryMs'>, nowMs: number): boolean {
  const renewed = Date.parse(lease.renewedAt);
  return Number.isFinite(renewed) && nowMs - renewed <= staleAfterMs(lease);
}

/** How often a worker of a shared run renews its lease: its heartbeat, which claims are judged by. */
export const WORK_RENEW_EVERY_MS = 15_000;

/**
 * Is a shared run's worker live, for its claims (format.md §13)? Renewed within ten of its own
 * renewal intervals, without the ten-minute floor that mode conflicts keep: a claim taken over
 * from a worker that is only slow costs duplicate work, never data, so a dead worker's units may
 * be taken over within minutes.
 */
export function isWorkerLive(lease: Pick<Lease, 'renewedAt' | 'renewEveryMs'>, nowMs: number): boolean {
  const renewed = Date.parse(lease.renewedAt);
  return Number.isFinite(renewed) && nowMs - renewed <= 10 * lease.renewEveryMs;
}

/**
 * Do two holders' modes on one target exclude each other? Writers exclude writers; a deletion
 * excludes everything; readers share with readers and writers (a restore reads a complete backup,
 * which no writer changes).
 */
export function modesConflict(a: LeaseMode, b: LeaseMode): boolean {
  if (a === 'delete' || b === 'delete') return true;
  // `work`: one of many workers of a shared run (decisions/0011) — they share with each other, and
  // exclude a single-process writer of the same target.
  const writes = (m: LeaseMode): boolean => m === 'write' || m === 'work';
  return writes(a) && writes(b) && !(a === 'work' && b === 'work');
}

/** "host example pid 4242 (`cassette backup`, since 2026-11-22T12:51:44Z)", for messages. */
export function describeHolder(lease: Lease): string {
  return `host ${lease.host} pid ${lease.pid} (\`cassette ${lease.command}\`, ${lease.mode}, since ${lease.acquiredAt}, renewed ${lease.renewedAt})`;
}

/** The hint of an IN_USE refusal: the stale rule, so an operator knows when a dead holder stops counting. */
export const STALE_RULE_HINT = `wait for it to finish; a lease not renewed for ${LEASE_STALE_AFTER_MS / 60_000} minutes is stale and no longer counts ` +
  '(its holder died), docs/format.md §11';

export interface StoredLease {
  readonly key: string;
  readonly lease: Lease;
}

/** Every lease of one target (live or stale); unreadable lease objects are skipped. */
export async function readTargetLeases(store: BlobStore, target: LeaseTarget): Promise<StoredLease[]> {
  return readLeasesUnder(store, leaseTargetFolder(target.kind, target.id));
}

/** Every lease in the repository (live or stale). */
export async function readAllLeases(store: BlobStore): Promise<StoredLease[]> {
  return readLeasesUnder(store, leasesFolder());
}

async function readLeasesUnder(store: BlobStore, prefix: string): Promise<StoredLease[]> {
  const found: StoredLease[] = [];
  for await (const entry of store.list(prefix)) {
    if (!entry.key.endsWith('.json')) continue;
    // A lease deleted between list and get, or torn, is no claim on anything.
    const lease = await readDocument(store, entry.key, Lease, `lease ${entry.key}`).catch(() => undefined);
    if (lease !== undefined) found.push({ key: entry.key, lease });
  }
  return found;
}
