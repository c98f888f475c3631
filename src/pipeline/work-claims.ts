/**
 * A run shared by many workers (docs/format.md §13): every worker runs the same command; each unit
 * (a range of a table) is taken by a write-once claim (manifest/claims.ts), a claim whose holder's
 * run lease has lapsed is taken over, and the unit's write-once marker stays the only truth about
 * what is done. `forEachClaimed` is the loop every shared command runs: take what is free, then wait
 * for the units live workers hold, until every unit is done.
 */
import { createHash } from 'node:crypto';
import { claimUnit, type Claimant } from '../manifest/claims.js';
import { isWorkerLive, readTargetLeases, type Lease, type LeaseTarget } from '../manifest/leases.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { Leases } from './lease-holder.js';
import { forEachBounded, realRetryClock, type RetryClock } from './retry.js';

/** How often a worker with nothing to take looks again at the units others hold. */
export const CLAIM_POLL_MS = 1_000;

/** Who a worker is, as commands that can run shared take it from the CLI. */
export interface WorkerIdentity {
  /** Where this worker runs, written in its claims (for people; never used to decide anything). */
  readonly worker?: { readonly host: string; readonly pid: number };
  /** Whether a lease's process is alive, when this process can tell (same host: its pid), as for leases. */
  readonly isHolderAlive?: (lease: Lease) => boolean | undefined;
}

export interface WorkClaimsDeps extends WorkerIdentity {
  readonly store: BlobStore;
  readonly leases?: Leases;
  readonly now: () => number;
}

/** A unit of a shared run: a range (by its index in the plan) of a table. */
export interface ClaimedUnit {
  readonly table: string;
  readonly index: number;
}

export class WorkClaims {
  readonly #deps: WorkClaimsDeps;
  readonly #target: LeaseTarget;
  readonly #folder: string;
  readonly #me: Claimant;

  /** Claims of the run whose lease target is `target`, kept under `runFolder`. */
  constructor(deps: WorkClaimsDeps, target: LeaseTarget, runFolder: string) {
    this.#deps = deps;
    this.#target = target;
    this.#folder = runFolder;
    const holder = deps.leases?.holder ?? createHash('sha256').update(`${deps.now()}:${Math.random()}`).digest('hex').slice(0, 16);
    this.#me = { holder, host: deps.worker?.host ?? 'unknown', pid: deps.worker?.pid ?? 0 };
  }

  /** Where in a list of `n` units this worker starts (spread by its holder id, so that workers rarely race). */
  startAt(n: number): number {
    return n === 0 ? 0 : Number.parseInt(this.#me.holder.slice(0, 8), 16) % n;
  }

  /** Claims `unit`, or takes it over from a worker that is no longer live; false while a live worker holds it. */
  async take(unit: ClaimedUnit): Promise<boolean> {
    const outcome = await claimUnit(this.#deps.store, { folder: this.#folder, table: unit.table, range: unit.index }, this.#me, (holder) => this.#isLive(holder), this.#deps.now);
    return outcome.kind === 'claimed';
  }

  /**
   * A claim's holder is live while its run lease is renewed (ten of its renewal intervals, without
   * the ten-minute floor mode conflicts use: taking over from a slow worker is harmless, §13); a
   * holder on this host whose pid is gone is dead at once (a SIGKILLed worker).
   */
  async #isLive(holder: string): Promise<boolean> {
    const leases = await readTargetLeases(this.#deps.store, this.#target);
    return leases.some((s) => s.lease.holder === holder && isWorkerLive(s.lease, this.#deps.now()) && this.#deps.isHolderAlive?.(s.lease) !== false);
  }
}

export interface ClaimedLoopOptions<J> {
  readonly parallel: number;
  readonly signal: AbortSignal;
  /** Whether the unit's marker exists (done by any worker). */
  readonly isDone: (job: J) => Promise<boolean>;
  /** Called while units are left that live workers hold: how many. */
  readonly onWaiting?: (held: number) => void;
  /** Called once for each unit found done by another worker (progress displays count it as skipped). */
  readonly onDoneElsewhere?: (job: J) => void;
  readonly pollMs?: number;
  readonly clock?: RetryClock;
}

/**
 * Runs `work` on every job not yet done that this worker can claim, `parallel` at once, starting
 * where `claims.startAt` says; then goes over what is left — waiting `pollMs` between passes that
 * took nothing — until every job is done (by any worker). Resolves with the jobs this worker took.
 */
export async function forEachClaimed<J extends ClaimedUnit>(jobs: readonly J[], claims: WorkClaims, options: ClaimedLoopOptions<J>, work: (job: J) => Promise<void>): Promise<number> {
  const clock = options.clock ?? realRetryClock;
  const start = claims.startAt(jobs.length);
  let left = [...jobs.slice(start), ...jobs.slice(0, start)];
  let mine = 0;
  const accounted = new Set<J>();
  const isDone = async (job: J): Promise<boolean> => {
    if (!(await options.isDone(job))) return false;
    if (!accounted.has(job)) options.onDoneElsewhere?.(job);
    accounted.add(job);
    return true;
  };
  for (;;) {
    let taken = 0;
    let held = 0;
    await forEachBounded(left, options.parallel, async (job) => {
      if (await isDone(job)) return;
      if (!(await claims.take(job))) {
        held++;
        return;
      }
      taken++;
      await work(job);
      accounted.add(job);
    }, options.signal);
    mine += taken;
    const remaining: J[] = [];
    for (const job of left) if (!(await isDone(job))) remaining.push(job);
    if (remaining.length === 0) return mine;
    left = remaining;
    if (taken === 0) {
      options.onWaiting?.(held);
      await clock.sleep(options.pollMs ?? CLAIM_POLL_MS, options.signal);
    }
  }
}
