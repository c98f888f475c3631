/**
 * Holding leases while a command runs (docs/format.md §11, decision 0010). `hold` takes a lease
 * the way two processes can race safely without a compare-and-swap: write our own lease object
 * (a key of our own, so no writer ever overwrites another's), then list the target's leases; if
 * another holder's live lease conflicts, delete ours and refuse (IN_USE). Of two racing holders at
 * least one sees the other — both may refuse, neither proceeds unprotected. A conflicting lease
 * whose holder is known to be dead (same host, pid gone: a killed run resumed at once) is removed
 * instead of waiting for it to go stale.
 *
 * While held, every lease is renewed every `renewEveryMs` (an unref'd timer). A renewal that finds
 * its lease gone (someone judged it stale and removed it), or that has failed for so long that
 * others may soon judge it stale, loses the lease: `signal` aborts with REPOSITORY_UNAVAILABLE and
 * the command stops instead of writing unprotected. `release` deletes every lease held.
 */
import { randomBytes } from 'node:crypto';
import { CassetteError } from '../errors.js';
import { FORMAT_VERSION } from '../manifest/format.js';
import { leaseKey } from '../manifest/keys.js';
import {
  LEASE_RENEW_EVERY_MS, STALE_RULE_HINT, describeHolder, isLeaseLive, modesConflict, readTargetLeases, staleAfterMs,
  type Lease, type LeaseMode, type LeaseTarget,
} from '../manifest/leases.js';
import type { BlobStore } from '../storage/blob-store.js';

/** What commands see of the leases of their run: take one more, before the first write to its target. */
export interface Leases {
  /** Takes a lease of `target`; IN_USE naming the other holder when a live lease conflicts. */
  hold(target: LeaseTarget, mode: LeaseMode): Promise<void>;
  /** Gives up the lease of `target` before the run ends (a no-op when not held). */
  drop(target: LeaseTarget): Promise<void>;
  /** This run's holder id (its leases' `holder`): what its work claims name (decisions/0011). */
  readonly holder?: string;
}

/** The timer functions the holder uses (tests pass none and call `renew` themselves). */
export interface LeaseTimers {
  setInterval(fn: () => void, ms: number): { unref?: () => unknown };
  clearInterval(handle: unknown): void;
}

export interface LeaseHolderOptions {
  /** The subcommand as a holder describes it: "backup", "restore --resume r2026…". */
  readonly command: string;
  readonly host: string;
  readonly pid: number;
  readonly now: () => number;
  readonly renewEveryMs?: number;
  /** Absent: no timer (renewals only by calling `renew`). */
  readonly timers?: LeaseTimers;
  /**
   * Whether the process holding `lease` is alive, when this process can tell (a holder on this
   * host: is its pid running?); undefined when it cannot (another host). A holder known to be dead
   * — killed, its lease not yet stale — does not block: its lease is removed and taken over.
   */
  readonly isHolderAlive?: (lease: Lease) => boolean | undefined;
}

interface Held {
  readonly key: string;
  lease: Lease;
}

/** The leases of one run of a command. */
export class LeaseHolder implements Leases {
  readonly holder = randomBytes(8).toString('hex');
  readonly #store: BlobStore;
  readonly #options: LeaseHolderOptions;
  readonly #renewEveryMs: number;
  readonly #held: Held[] = [];
  readonly #lost = new AbortController();
  #lastRenewal: number;
  #timer: unknown;
  #renewing: Promise<void> | undefined;

  constructor(store: BlobStore, options: LeaseHolderOptions) {
    this.#store = store;
    this.#options = options;
    this.#renewEveryMs = options.renewEveryMs ?? LEASE_RENEW_EVERY_MS;
    this.#lastRenewal = options.now();
  }

  /** Aborts (reason: a CassetteError) when a lease is lost; the command must stop writing. */
  get signal(): AbortSignal {
    return this.#lost.signal;
  }

  async hold(target: LeaseTarget, mode: LeaseMode): Promise<void> {
    const key = leaseKey(target.kind, target.id, this.holder);
    if (this.#held.some((h) => h.key === key)) return;
    const at = new Date(this.#options.now()).toISOString();
    const lease: Lease = {
      formatVersion: FORMAT_VERSION, kind: 'cassette-lease', target: { kind: target.kind, id: target.id }, mode, holder: this.holder,
      command: this.#options.command, host: this.#options.host, pid: this.#options.pid, acquiredAt: at, renewedAt: at, renewEveryMs: this.#renewEveryMs,
    };
    await this.#store.put(key, `${JSON.stringify(lease, null, 2)}\n`);
    const now = this.#options.now();
    const conflicts = (await readTargetLeases(this.#store, target))
      .filter((s) => s.lease.holder !== this.holder && isLeaseLive(s.lease, now) && modesConflict(mode, s.lease.mode));
    const dead = conflicts.filter((s) => this.#options.isHolderAlive?.(s.lease) === false);
    await Promise.all(dead.map((s) => this.#store.delete(s.key)));
    const other = conflicts.find((s) => !dead.includes(s));
    if (other !== undefined) {
      await this.#store.delete(key);
      throw new CassetteError('IN_USE', `${target.kind} ${target.id} is in use by another cassette process: ${describeHolder(other.lease)}`, { hint: STALE_RULE_HINT });
    }
    this.#held.push({ key, lease });
    if (this.#timer === undefined && this.#options.timers !== undefined) {
      const handle = this.#options.timers.setInterval(() => void this.renew(), this.#renewEveryMs);
      handle.unref?.();
      this.#timer = handle;
    }
  }

  async drop(target: LeaseTarget): Promise<void> {
    const key = leaseKey(target.kind, target.id, this.holder);
    await this.#renewing?.catch(() => undefined);
    const index = this.#held.findIndex((h) => h.key === key);
    if (index < 0) return;
    this.#held.splice(index, 1);
    await this.#store.delete(key);
  }

  /**
   * Renews every held lease (the timer calls this). Failures are retried at the next tick; a
   * lease found deleted, or renewals failing for longer than the stale age less two intervals,
   * lose the leases.
   */
  async renew(): Promise<void> {
    if (this.#renewing !== undefined) return this.#renewing;
    this.#renewing = this.#renewAll().finally(() => { this.#renewing = undefined; });
    return this.#renewing;
  }

  async #renewAll(): Promise<void> {
    if (this.#lost.signal.aborted) return;
    const now = this.#options.now();
    try {
      for (const held of this.#held) {
        if ((await this.#store.head(held.key)) === undefined) {
          this.#lose(`its lease ${held.key} was removed (another process judged it stale)`);
          return;
        }
        held.lease = { ...held.lease, renewedAt: new Date(now).toISOString() };
        await this.#store.put(held.key, `${JSON.stringify(held.lease, null, 2)}\n`);
      }
      this.#lastRenewal = now;
    } catch (err) {
      const failingFor = now - this.#lastRenewal;
      if (failingFor >= staleAfterMs({ renewEveryMs: this.#renewEveryMs }) - 2 * this.#renewEveryMs) {
        this.#lose(`its leases could not be renewed for ${Math.round(failingFor / 1000)} s (${err instanceof Error ? err.message : String(err)})`);
      }
    }
  }

  #lose(why: string): void {
    this.#lost.abort(new CassetteError('REPOSITORY_UNAVAILABLE', `stopped: ${why}; continuing could race another writer`, {
      hint: 'check the repository, then run the command again (a resumable run resumes where it stopped)',
    }));
  }

  /** Stops renewing and deletes every lease held (best effort: a lease left behind goes stale). */
  async release(): Promise<void> {
    if (this.#timer !== undefined) this.#options.timers?.clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#renewing?.catch(() => undefined);
    const held = this.#held.splice(0);
    await Promise.all(held.map((h) => this.#store.delete(h.key).catch(() => undefined)));
  }
}

/**
 * Runs `work` with a lease holder and a signal that aborts on `signal` or when a lease is lost,
 * and always releases the leases (success, failure, Ctrl-C). When a lost lease stopped the work,
 * that is the error thrown.
 */
export async function withLeases<T>(store: BlobStore, options: LeaseHolderOptions, signal: AbortSignal, work: (leases: Leases, signal: AbortSignal) => Promise<T>): Promise<T> {
  const holder = new LeaseHolder(store, options);
  try {
    return await work(holder, AbortSignal.any([signal, holder.signal]));
  } catch (err) {
    if (holder.signal.aborted && !signal.aborted) throw holder.signal.reason;
    throw err;
  } finally {
    await holder.release();
  }
}
