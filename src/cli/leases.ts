/**
 * The leases of a CLI run (docs/format.md §11): who holds them (host, pid, subcommand) and the
 * real timers, so the commands stay free of `process`.
 */
import { hostname } from 'node:os';
import { WORK_RENEW_EVERY_MS, type Lease } from '../manifest/leases.js';
import { withLeases, type Leases } from '../pipeline/lease-holder.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { ProgramContext } from './context.js';

/**
 * Runs `work` holding leases as `cassette <command>` of this process, with a signal that also
 * aborts when a lease is lost; the leases are deleted when it ends, whatever the outcome. A worker
 * of a shared run (`shared`) renews every 15 s instead of every minute.
 */
export function withRunLeases<T>(store: BlobStore, command: string, context: ProgramContext, work: (leases: Leases, signal: AbortSignal) => Promise<T>, options: { readonly shared?: boolean } = {}): Promise<T> {
  return withLeases(store, {
    command, host: hostname(), pid: process.pid, now: Date.now,
    // A worker of a shared run renews often: its lease is the heartbeat its claims are judged by.
    ...(options.shared === true ? { renewEveryMs: WORK_RENEW_EVERY_MS } : {}),
    timers: { setInterval: (fn, ms) => setInterval(fn, ms), clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout) },
    isHolderAlive,
  }, context.signal, work);
}

/**
 * A lease's holder on this host is alive while its pid is (signal 0 probes without signalling;
 * EPERM: it exists, as another user). Holders on other hosts: unknown, the stale rule decides.
 * This assumes the hosts sharing a repository have distinct host names.
 */
export function isHolderAlive(lease: Lease): boolean | undefined {
  if (lease.host !== hostname()) return undefined;
  try {
    process.kill(lease.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
