/**
 * One view of a run, however many workers share it (docs/format.md §13): who holds the run (its
 * leases: host, pid, heartbeat age), which units are in progress and by whom (claims without a
 * marker), rows per second over the last minute from the markers' times, and the ETA. Read from
 * the repository only; `status` and `rotate status` show it.
 */
import { highestClaims, readClaim } from '../../manifest/claims.js';
import { claimsFolder, runClaimsFolder } from '../../manifest/keys.js';
import { isWorkerLive, readTargetLeases, type LeaseTarget } from '../../manifest/leases.js';
import type { BlobStore } from '../../storage/blob-store.js';

/** The window the rate is measured over. */
const RATE_WINDOW_MS = 60_000;

export interface RunWorker {
  readonly host: string;
  readonly pid: number;
  readonly command: string;
  readonly mode: string;
  /** Since its last heartbeat (lease renewal). */
  readonly renewedAgoMs: number;
  /** Renewed within ten of its intervals: still counted as working. */
  readonly live: boolean;
}

export interface UnitInProgress {
  readonly table: string;
  readonly index: number;
  readonly host: string;
  readonly pid: number;
  readonly claimedAt: string;
  /** The holder's heartbeat age, when its lease is still there. */
  readonly heartbeatAgoMs: number | undefined;
  readonly live: boolean;
}

export interface RunView {
  /** Per table: units (ranges) done, in progress (claimed, no marker yet) and planned. */
  readonly tables: readonly { readonly name: string; readonly done: number; readonly inProgress: number; readonly total: number }[];
  readonly workers: readonly RunWorker[];
  readonly inProgress: readonly UnitInProgress[];
  /** Rows of the units finished within the last minute, per second. */
  readonly rowsPerSecondLastMinute: number;
  /** Rows left (estimated from the finished units' average) at that rate; undefined without a rate. */
  readonly etaSeconds: number | undefined;
}

/** A unit of the run's plan, and what its marker says when it is done. */
export interface PlannedUnit {
  readonly table: string;
  readonly index: number;
  readonly done?: { readonly rows: number; readonly at: string };
}

/** The view of the run whose lease target is `target` and whose claims are under `runFolder`. */
export async function runView(store: BlobStore, target: LeaseTarget, runFolder: string, units: readonly PlannedUnit[], nowMs: number): Promise<RunView> {
  const leases = await readTargetLeases(store, target);
  const byHolder = new Map(leases.map((s) => [s.lease.holder, s.lease]));
  const workers = leases.map(({ lease }) => ({
    host: lease.host, pid: lease.pid, command: lease.command, mode: lease.mode,
    renewedAgoMs: Math.max(0, nowMs - Date.parse(lease.renewedAt)), live: isWorkerLive(lease, nowMs),
  }));
  // One listing of the run's claims, then a read of each unfinished unit's current claim.
  const claims = runClaimsFolder(runFolder);
  const claimed = await highestClaims(store, claims);
  const inProgress: UnitInProgress[] = [];
  for (const unit of units) {
    if (unit.done !== undefined) continue;
    const at = claimed.get(claimsFolder(runFolder, unit.table, unit.index).slice(claims.length, -1));
    const claim = at === undefined ? undefined : await readClaim(store, at);
    if (claim === undefined) continue;
    const lease = byHolder.get(claim.doc.holder);
    inProgress.push({
      table: unit.table, index: unit.index, host: claim.doc.host, pid: claim.doc.pid, claimedAt: claim.doc.claimedAt,
      heartbeatAgoMs: lease === undefined ? undefined : Math.max(0, nowMs - Date.parse(lease.renewedAt)),
      live: lease !== undefined && isWorkerLive(lease, nowMs),
    });
  }
  const done = units.flatMap((u) => (u.done === undefined ? [] : [u.done]));
  const recent = done.filter((d) => nowMs - Date.parse(d.at) <= RATE_WINDOW_MS).reduce((n, d) => n + d.rows, 0);
  const rowsPerSecondLastMinute = Math.round(recent / (RATE_WINDOW_MS / 1000));
  const left = units.length - done.length;
  const rowsLeft = done.length === 0 ? undefined : (left * done.reduce((n, d) => n + d.rows, 0)) / done.length;
  const etaSeconds = rowsLeft === undefined || rowsPerSecondLastMinute === 0 ? undefined : Math.round(rowsLeft / rowsPerSecondLastMinute);
  const names = [...new Set(units.map((u) => u.table))];
  const tables = names.map((name) => ({
    name,
    done: units.filter((u) => u.table === name && u.done !== undefined).length,
    inProgress: inProgress.filter((u) => u.table === name).length,
    total: units.filter((u) => u.table === name).length,
  }));
  return { tables, workers, inProgress, rowsPerSecondLastMinute, etaSeconds };
}

/** The view in lines for people, indented by `indent`. */
export function formatRunView(view: RunView, indent: string): string[] {
  const ago = (ms: number | undefined): string => (ms === undefined ? 'no lease' : `${Math.round(ms / 1000)} s ago`);
  const lines = view.tables.map((t) => `${indent}${t.name}: ${t.done}/${t.total} ranges done, ${t.inProgress} in progress`);
  const live = view.workers.filter((w) => w.live);
  if (view.workers.length > 0) {
    lines.push(`${indent}workers: ${live.length} live${view.workers.length > live.length ? `, ${view.workers.length - live.length} silent` : ''} — ` +
      view.workers.map((w) => `${w.host}/${w.pid} (${w.command}, heartbeat ${ago(w.renewedAgoMs)}${w.live ? '' : ', silent'})`).join(', '));
  }
  for (const u of view.inProgress) {
    lines.push(`${indent}in progress: ${u.table} range ${u.index} by ${u.host}/${u.pid} since ${u.claimedAt} (heartbeat ${ago(u.heartbeatAgoMs)}${u.live ? '' : '; will be taken over'})`);
  }
  lines.push(`${indent}rate: ${view.rowsPerSecondLastMinute.toLocaleString('en-US')} rows/s over the last minute` +
    (view.etaSeconds === undefined ? '' : `, ETA ${formatSeconds(view.etaSeconds)}`));
  return lines;
}

function formatSeconds(s: number): string {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
