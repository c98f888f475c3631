/**
 * `cassette prune`: restic-style retention over a repository's complete backups (retention.ts),
 * plus the garbage abandoned attempts leave (inventory.ts), removed in an order that never leaves
 * a manifest naming a missing object (delete-backup.ts). It never removes a backup with a live
 * lease (being written, read by a restore or rekey), nor an incomplete backup unless asked, and it
 * finishes the deletions an interrupted prune left (tombstones). Rotation jobs are left alone.
 */
import { CassetteError } from '../../errors.js';
import type { Leases } from '../../pipeline/lease-holder.js';
import { forEachBounded } from '../../pipeline/retry.js';
import { describeHolder } from '../../manifest/leases.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { ProgressSink } from '../progress.js';
import { deleteBackup } from './delete-backup.js';
import { readStaleLeases, takeInventory, type BackupInventory, type BackupState } from './inventory.js';
import { applyRetention, hasRule, type RetentionPolicy } from './retention.js';

export interface PruneRequest {
  readonly policy: RetentionPolicy;
  /** Only this keyspace's backups (the policy applies per keyspace anyway). */
  readonly keyspace?: string;
  /** Incomplete backups created longer ago than this (and without a live lease) are removed too. */
  readonly forgetIncompleteOlderThanMs?: number;
  readonly dryRun: boolean;
  /** Objects deleted at once. */
  readonly parallel: number;
}

export interface PruneDeps {
  readonly store: BlobStore;
  /** Holds each backup for deletion before its first object goes (absent in a dry run: nothing is deleted). */
  readonly leases?: Leases;
  readonly progress: ProgressSink;
  readonly signal: AbortSignal;
  readonly now: () => number;
}

export interface PrunedBackup {
  readonly backupId: string;
  readonly keyspace: string | undefined;
  readonly createdAt: string | undefined;
  readonly state: BackupState;
  readonly rows: number;
  readonly objects: number;
  /** Stored bytes of all its objects (chunks, documents, restore state). */
  readonly bytes: number;
}

export interface KeptBackup extends PrunedBackup {
  /** Why it stays: the keep rules (`keep-last`, `keep-daily` …), `in use: …`, `incomplete …`, `damaged …`. */
  readonly reasons: readonly string[];
}

export interface PruneReport {
  readonly repository: string;
  readonly dryRun: boolean;
  readonly removed: readonly PrunedBackup[];
  readonly kept: readonly KeptBackup[];
  /** Unreferenced chunks of kept backups, per backup. */
  readonly garbage: readonly { readonly backupId: string; readonly objects: number; readonly bytes: number }[];
  /** Stale lease objects removed (their holders are gone). */
  readonly staleLeases: number;
  readonly objectsRemoved: number;
  /** Bytes freed (in a dry run: that would be freed). */
  readonly bytesFreed: number;
  readonly durationMs: number;
}

const summary = (b: BackupInventory): PrunedBackup => ({
  backupId: b.backupId, keyspace: b.keyspace, createdAt: b.createdAt, state: b.state, rows: b.rows, objects: b.objects, bytes: b.bytes,
});

/** Decides what goes: the backups to remove and, for the others, why they stay. */
function decide(backups: readonly BackupInventory[], request: PruneRequest, nowMs: number): { remove: BackupInventory[]; keep: Map<string, string[]> } {
  const complete = backups.filter((b) => b.state === 'complete' && b.createdAt !== undefined);
  const keptByRule = applyRetention(complete.map((b) => ({ backupId: b.backupId, createdAt: b.createdAt as string, series: b.keyspace ?? '' })), request.policy);
  const remove: BackupInventory[] = [];
  const keep = new Map<string, string[]>();
  for (const b of backups) {
    const reasons: string[] = [];
    if (b.state === 'complete') reasons.push(...(keptByRule.get(b.backupId) ?? []).map((rule) => `keep-${rule}`));
    if (b.state === 'incomplete') {
      const age = b.createdAt === undefined ? 0 : nowMs - Date.parse(b.createdAt);
      const forget = request.forgetIncompleteOlderThanMs;
      if (forget === undefined || age <= forget) reasons.push(`incomplete, resumable${forget === undefined ? ' (--forget-incomplete-older-than removes old ones)' : ' (younger than --forget-incomplete-older-than)'}`);
    }
    if (b.state === 'damaged') reasons.push('damaged: no backup.json and no manifest.json; left for an operator to inspect');
    // A live lease protects even a tombstoned backup: its deletion is finished once the holder is gone.
    for (const held of b.liveLeases) reasons.push(`in use: ${describeHolder(held.lease)}`);
    if (reasons.length === 0) remove.push(b);
    else keep.set(b.backupId, reasons);
  }
  return { remove, keep };
}

/** Runs `cassette prune` (or, with `dryRun`, reports what it would do and changes nothing). */
export async function runPrune(request: PruneRequest, deps: PruneDeps): Promise<PruneReport> {
  if (!hasRule(request.policy)) {
    throw new CassetteError('USAGE', 'prune needs at least one of --keep-last, --keep-daily, --keep-weekly, --keep-monthly, --keep-within', {
      hint: 'e.g. `cassette prune --keep-daily 7 --keep-weekly 4 --keep-monthly 12`; add --dry-run to see what it would remove',
    });
  }
  const startedAt = deps.now();
  const { store } = deps;
  const backups = await takeInventory(store, deps.now, request.keyspace);
  const staleLeases = await readStaleLeases(store, deps.now());
  const { remove, keep } = decide(backups, request, deps.now());
  const removed: PrunedBackup[] = [];
  const kept: KeptBackup[] = [];
  const garbage = backups.filter((b) => keep.has(b.backupId) && b.garbage.length > 0)
    .map((b) => ({ backupId: b.backupId, entries: b.garbage, objects: b.garbage.length, bytes: b.garbage.reduce((n, o) => n + o.size, 0) }));
  const total = remove.reduce((n, b) => n + b.objects, 0) + garbage.reduce((n, g) => n + g.objects, 0) + staleLeases.length;
  let objectsRemoved = 0;
  let bytesFreed = 0;
  if (!request.dryRun) deps.progress.start({ title: 'prune', unitName: 'objects', parts: [{ name: 'delete', units: total }] });
  try {
    for (const b of remove) {
      if (request.dryRun) {
        removed.push(summary(b));
        continue;
      }
      try {
        await deps.leases?.hold({ kind: 'backup', id: b.backupId }, 'delete');
      } catch (err) {
        if (!(err instanceof CassetteError) || err.code !== 'IN_USE') throw err;
        kept.push({ ...summary(b), reasons: [`in use: ${err.message}`] }); // a holder that came after the inventory
        continue;
      }
      const done = await deleteBackup(store, b.backupId, {
        parallel: request.parallel, signal: deps.signal, now: deps.now, onDeleted: (entry) => { deps.progress.rows('delete', 0, entry.size); deps.progress.unitDone('delete'); },
      });
      await deps.leases?.drop({ kind: 'backup', id: b.backupId });
      objectsRemoved += done.objects;
      bytesFreed += done.bytes;
      removed.push({ ...summary(b), objects: done.objects, bytes: done.bytes });
    }
    if (request.dryRun) {
      objectsRemoved = removed.reduce((n, b) => n + b.objects, 0) + garbage.reduce((n, g) => n + g.objects, 0);
      bytesFreed = removed.reduce((n, b) => n + b.bytes, 0) + garbage.reduce((n, g) => n + g.bytes, 0);
    } else {
      const entries = garbage.flatMap((g) => g.entries);
      await forEachBounded(entries, request.parallel, async (entry) => {
        await store.delete(entry.key);
        objectsRemoved++;
        bytesFreed += entry.size;
        deps.progress.rows('delete', 0, entry.size);
        deps.progress.unitDone('delete');
      }, deps.signal);
      await forEachBounded(staleLeases, request.parallel, async (s) => {
        await store.delete(s.key);
        deps.progress.unitDone('delete');
      }, deps.signal);
    }
  } catch (err) {
    if (deps.signal.aborted) {
      throw new CassetteError('INTERRUPTED', `prune interrupted after removing ${objectsRemoved} objects`, {
        hint: 'run the same prune again: it finishes a backup whose deletion was interrupted (its deleting.json tombstone)', cause: err,
      });
    }
    throw err;
  } finally {
    if (!request.dryRun) deps.progress.stop();
  }
  for (const b of backups) {
    const reasons = keep.get(b.backupId);
    if (reasons !== undefined) kept.push({ ...summary(b), reasons });
  }
  kept.sort((a, b) => (a.backupId < b.backupId ? -1 : 1));
  return {
    repository: store.description,
    dryRun: request.dryRun,
    removed,
    kept,
    garbage: garbage.map(({ backupId, objects, bytes }) => ({ backupId, objects, bytes })),
    staleLeases: staleLeases.length,
    objectsRemoved,
    bytesFreed,
    durationMs: Math.max(1, deps.now() - startedAt),
  };
}
