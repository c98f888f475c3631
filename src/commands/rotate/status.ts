/**
 * `cassette rotate status|pause|resume|throttle`: what a rotation job has done, read from its
 * markers in the repository, and the operator's commands to it (control documents). Needs the
 * repository only: no keys, no cluster.
 */
import { canonicalJson } from '../../cassandra/schema/model.js';
import type { RotationConfig } from '../../config/rotation-types.js';
import { CassetteError } from '../../errors.js';
import {
  exportStageFolder, jobIdOf, roundFolder, rotationReportKey, rotationsFolder, transformStageFolder, verifiedKey, writtenFolder,
} from '../../manifest/keys.js';
import { formatRunView, runView, type PlannedUnit, type RunView } from '../status/workers.js';
import { readDocument } from '../../manifest/repository.js';
import { RotationReportDoc, VerifiedRound, WrittenRange, type RotationJob } from '../../manifest/rotation-format.js';
import { ControlReader, sendControl } from '../../pipeline/rotate/control.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { jobTotals, readJob } from './job.js';

export interface RotationTableStatus {
  readonly name: string;
  readonly ranges: number;
  /** Ranges of the current round past each stage. */
  readonly exported: number;
  readonly transformed: number;
  readonly written: number;
  readonly rangesInRound: number;
  readonly rowsExported: number;
  readonly valuesRotated: number;
  readonly rowsSkipped: number;
  readonly raced: number;
  readonly valuesQuarantined: number;
}

export interface RotationStatus {
  readonly jobId: string;
  readonly keyspace: string;
  readonly createdAt: string;
  readonly state: 'complete' | 'paused' | 'unfinished';
  readonly round: number;
  readonly tables: readonly RotationTableStatus[];
  /** The operator's rate (`rotate throttle` / --rate), null when unlimited. */
  readonly rate: number | null;
  /** From the latest finished range: the effective rate and latencies the job saw. */
  readonly lastRange: { readonly doneAt: string; readonly rate: number | null; readP99Ms: number | null; writeP99Ms: number | null } | undefined;
  /** Rows written back per second over the current round so far; undefined before two ranges finished. */
  readonly rowsPerSecond: number | undefined;
  readonly etaSeconds: number | undefined;
  readonly leftBehind: number | undefined;
  /** An unfinished job: its workers, the ranges of the round in progress and by whom, the last minute's rate. */
  readonly run?: RunView;
}

/** The config's jobs, newest last: same keyspace, tables and columns. */
async function jobsOf(store: BlobStore, config: RotationConfig): Promise<RotationJob[]> {
  const ids = new Set<string>();
  for await (const entry of store.list(rotationsFolder())) {
    const id = jobIdOf(entry.key);
    if (id !== undefined) ids.add(id);
  }
  const wanted = canonicalJson(config.tables.map((t) => ({ name: t.name, columns: [...t.encryptedColumns] })));
  const jobs: RotationJob[] = [];
  for (const id of [...ids].sort()) {
    const job = await readJob(store, id).catch(() => undefined);
    if (job === undefined || job.keyspace !== config.cluster.keyspace) continue;
    if (canonicalJson(job.tables.map((t) => ({ name: t.name, columns: t.columns }))) === wanted) jobs.push(job);
  }
  return jobs;
}

/** `--job <id>`, else the config's newest unfinished job, else its newest job. */
export async function selectJob(store: BlobStore, config: RotationConfig, jobId?: string): Promise<RotationJob> {
  if (jobId !== undefined) return readJob(store, jobId);
  const jobs = await jobsOf(store, config);
  for (const job of [...jobs].reverse()) {
    if (await store.head(rotationReportKey(job.jobId)) === undefined) return job;
  }
  const last = jobs.at(-1);
  if (last === undefined) {
    throw new CassetteError('INVALID_INPUT', `no rotation job of ${config.file} in ${store.description}`, { hint: 'start one with `cassette rotate --config …`' });
  }
  return last;
}

async function countKeys(store: BlobStore, prefix: string): Promise<number> {
  let n = 0;
  for await (const entry of store.list(prefix)) if (entry.key.endsWith('.json')) n++;
  return n;
}

export async function runRotateStatus(config: RotationConfig, store: BlobStore, now: number, jobId?: string): Promise<RotationStatus> {
  const job = await selectJob(store, config, jobId);
  const report = await readDocument(store, rotationReportKey(job.jobId), RotationReportDoc, `report of rotation ${job.jobId}`);
  let round = 0;
  let rangesOfRound = new Map(job.tables.map((t) => [t.name, t.ranges.length]));
  let indicesOfRound = new Map(job.tables.map((t) => [t.name, t.ranges.map((r) => r.index)]));
  let leftBehind: number | undefined;
  for (;;) {
    const verified = await readDocument(store, verifiedKey(job.jobId, round), VerifiedRound, `verification of round ${round}`);
    if (verified === undefined) break;
    leftBehind = verified.leftBehind;
    rangesOfRound = new Map(job.tables.map((t) => [t.name, verified.ranges[t.name]?.length ?? 0]));
    indicesOfRound = new Map(job.tables.map((t) => [t.name, verified.ranges[t.name] ?? []]));
    round++;
  }
  if (report !== undefined) round = report.rounds - 1;
  const totals = await jobTotals(store, job, report?.rounds ?? round + 1);
  const control = new ControlReader(store, job.jobId);
  await control.poll();
  let lastRange: RotationStatus['lastRange'];
  let firstDone: number | undefined;
  let firstRows = 0;
  let rowsThisRound = 0;
  const tables: RotationTableStatus[] = [];
  const units: PlannedUnit[] = [];
  let remainingRanges = 0;
  let doneRanges = 0;
  for (const table of job.tables) {
    const written: WrittenRange[] = [];
    for await (const entry of store.list(`${writtenFolder(job.jobId, round)}${table.name}/`)) {
      const w = await readDocument(store, entry.key, WrittenRange, `write-back marker ${entry.key}`);
      if (w !== undefined) written.push(w);
    }
    for (const w of written) {
      const at = Date.parse(w.doneAt);
      if (firstDone === undefined || at < firstDone) {
        firstDone = at;
        firstRows = w.written;
      }
      rowsThisRound += w.written;
      if (lastRange === undefined || w.doneAt > lastRange.doneAt) lastRange = { doneAt: w.doneAt, rate: w.rate, readP99Ms: w.readP99Ms, writeP99Ms: w.writeP99Ms };
    }
    const inRound = report !== undefined ? 0 : (rangesOfRound.get(table.name) ?? 0);
    for (const index of report !== undefined ? [] : indicesOfRound.get(table.name) ?? []) {
      const w = written.find((x) => x.index === index);
      units.push({ table: table.name, index, ...(w === undefined ? {} : { done: { rows: w.written, at: w.doneAt } }) });
    }
    remainingRanges += Math.max(0, inRound - written.length);
    doneRanges += written.length;
    const t = totals.find((x) => x.name === table.name);
    tables.push({
      name: table.name,
      ranges: table.ranges.length,
      rangesInRound: inRound,
      exported: await countKeys(store, `${exportStageFolder(job.jobId, round)}ranges/${table.name}/`),
      transformed: await countKeys(store, `${transformStageFolder(job.jobId, round)}done/${table.name}/`),
      written: written.length,
      rowsExported: t?.rowsExported ?? 0,
      valuesRotated: t?.valuesRotated ?? 0,
      rowsSkipped: t?.rowsSkipped ?? 0,
      raced: t?.raced ?? 0,
      valuesQuarantined: t?.valuesQuarantined ?? 0,
    });
  }
  const elapsed = firstDone === undefined || lastRange === undefined ? 0 : (Date.parse(lastRange.doneAt) - firstDone) / 1000;
  // Rows written after the first range finished, over the time since: the rate between markers.
  const rowsPerSecond = elapsed > 0 ? (rowsThisRound - firstRows) / elapsed : undefined;
  const paused = report === undefined && control.state.paused;
  const etaSeconds = !paused && elapsed > 0 && doneRanges > 1 ? Math.round((remainingRanges * elapsed) / (doneRanges - 1)) : undefined;
  const rate = control.state.rate === undefined ? config.execution.rate ?? null : control.state.rate;
  // Who works on the round, which ranges are in flight and by whom (a job shared by many workers, format.md §13).
  const run = report !== undefined ? undefined : await runView(store, { kind: 'rotation', id: job.jobId }, roundFolder(job.jobId, round), units, now);
  return {
    ...(run === undefined ? {} : { run }),
    jobId: job.jobId,
    keyspace: job.keyspace,
    createdAt: job.createdAt,
    state: report !== undefined ? 'complete' : paused ? 'paused' : 'unfinished',
    round: round + 1,
    tables,
    rate,
    lastRange,
    rowsPerSecond: rowsPerSecond === undefined ? undefined : Math.round(rowsPerSecond),
    etaSeconds,
    leftBehind,
  };
}

export function formatRotationStatus(s: RotationStatus): string {
  const lines = [
    `rotation ${s.jobId} of keyspace ${s.keyspace} (started ${s.createdAt}): ${s.state}, round ${s.round}`,
  ];
  for (const t of s.tables) {
    lines.push(`  ${t.name}: ranges this round ${t.rangesInRound} — exported ${t.exported}, transformed ${t.transformed}, written ${t.written}; ` +
      `values rotated ${t.valuesRotated.toLocaleString('en-US')}, rows skipped ${t.rowsSkipped.toLocaleString('en-US')}, raced ${t.raced}, quarantined ${t.valuesQuarantined}`);
  }
  const total = (f: (t: RotationTableStatus) => number): string => s.tables.reduce((n, t) => n + f(t), 0).toLocaleString('en-US');
  lines.push(`  total: values rotated ${total((t) => t.valuesRotated)}, rows skipped ${total((t) => t.rowsSkipped)}, raced ${total((t) => t.raced)}, quarantined ${total((t) => t.valuesQuarantined)}`);
  lines.push(`  rate limit: ${s.rate === null ? 'unlimited' : `${s.rate} rows/s`}` +
    (s.rowsPerSecond === undefined ? '' : `; written ${s.rowsPerSecond.toLocaleString('en-US')} rows/s this round`) +
    (s.etaSeconds === undefined || s.state === 'complete' ? '' : `; ETA ${Math.ceil(s.etaSeconds / 60)} min`));
  if (s.lastRange !== undefined) {
    lines.push(`  last range ${s.lastRange.doneAt}: read p99 ${s.lastRange.readP99Ms?.toFixed(1) ?? '–'} ms, write p99 ${s.lastRange.writeP99Ms?.toFixed(1) ?? '–'} ms, ` +
      `effective rate ${s.lastRange.rate === null ? 'unlimited' : `${Math.round(s.lastRange.rate)} rows/s`}`);
  }
  if (s.leftBehind !== undefined && s.state !== 'complete') lines.push(`  last verification: ${s.leftBehind} rows under an old key`);
  if (s.run !== undefined) lines.push(...formatRunView(s.run, '  '));
  return `${lines.join('\n')}\n`;
}

/** `rotate pause|resume|throttle`: records the command for the job; the running job reads it within a second. */
export async function controlRotation(config: RotationConfig, store: BlobStore, command: { action: 'pause' | 'resume' } | { action: 'throttle'; rate: number | null }, now: number, jobId?: string): Promise<{ jobId: string; key: string }> {
  const job = await selectJob(store, config, jobId);
  if (await store.head(rotationReportKey(job.jobId)) !== undefined) {
    throw new CassetteError('INVALID_INPUT', `rotation ${job.jobId} is complete; there is nothing to ${command.action}`);
  }
  const at = new Date(now).toISOString();
  const key = await sendControl(store, job.jobId, command.action === 'throttle' ? { action: 'throttle', at, rate: command.rate } : { action: command.action, at }, now);
  return { jobId: job.jobId, key };
}
