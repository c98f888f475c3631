/**
 * A restore run shared by many workers (docs/format.md §13): every worker runs the same command
 * with `--restore-id`; the first creates the run (write-once restore.json) and the target schema,
 * the others join it, wait for that schema, and ranges of the backup are claimed one by one
 * (pipeline/work-claims.ts). A chunk's write-once done-marker stays the only truth about what is
 * loaded; loading a chunk twice is harmless (every write carries the cell's own timestamp), so
 * counter tables, whose writes add, are refused.
 */
import { CassetteError } from '../errors.js';
import { planTargetSchema, type SchemaPlan } from '../cassandra/schema/apply.js';
import type { CqlWriteSession } from '../cassandra/connection/session.js';
import { findTable, type KeyspaceSchema } from '../cassandra/schema/capture.js';
import { chunkDoneKey, restoreFolder, restoreHeaderKey } from '../manifest/keys.js';
import { readDocument, writeDocument } from '../manifest/repository.js';
import { RestoreHeader } from '../manifest/restore-format.js';
import { realRetryClock, type RetryClock } from '../pipeline/retry.js';
import { forEachClaimed, WorkClaims, type WorkClaimsDeps } from '../pipeline/work-claims.js';
import { BlobExistsError, type BlobStore } from '../storage/blob-store.js';

/** A restore run id: `r` and a backup id (20261204T120000Z-3fa9c1). */
export const RESTORE_ID_PATTERN = /^r\d{8}T\d{6}Z-[0-9a-f]{6}$/;

/** How often a joining worker looks whether the first one has created the target schema. */
const SCHEMA_POLL_MS = 2_000;

export interface SharedRestoreOutcome {
  readonly header: RestoreHeader;
  /** This worker wrote restore.json: it creates the target schema; the others wait for it. */
  readonly created: boolean;
}

/**
 * Joins run `restoreId`, or creates it with `fresh` (restore.json written once: of workers racing
 * to create it exactly one does). A joiner's own request must name the same backup, tables and
 * target keyspace.
 */
export async function joinOrCreateRestore(store: BlobStore, backupId: string, restoreId: string, fresh: RestoreHeader): Promise<SharedRestoreOutcome> {
  if (!RESTORE_ID_PATTERN.test(restoreId)) {
    throw new CassetteError('USAGE', `--restore-id ${restoreId} is not a restore id (r20261204T120000Z-3fa9c1: r, UTC time, then 6 hex digits)`);
  }
  const key = restoreHeaderKey(backupId, restoreId);
  let created = false;
  try {
    await writeDocument(store, key, fresh);
    created = true;
  } catch (err) {
    if (!(err instanceof BlobExistsError)) throw err; // another worker created it first: join it
  }
  const header = created ? fresh : await readDocument(store, key, RestoreHeader, `restore ${restoreId}`);
  if (header === undefined) throw new CassetteError('REPOSITORY_UNAVAILABLE', `restore ${restoreId} of backup ${backupId}: restore.json vanished while joining`);
  const differs = [
    header.target.keyspace !== fresh.target.keyspace ? `target keyspace ${header.target.keyspace}` : undefined,
    [...header.tables].sort().join(',') !== [...fresh.tables].sort().join(',') ? `tables ${header.tables.join(',')}` : undefined,
    header.guard.kind !== fresh.guard.kind ? `--guard ${header.guard.kind}` : undefined,
  ].filter((d) => d !== undefined);
  if (differs.length > 0) {
    throw new CassetteError('USAGE', `restore ${restoreId} was started with ${differs.join(', ')}; this worker was given other options`, { hint: 'give every worker of one run the same command' });
  }
  return { header, created };
}

/** Counter writes add: a chunk loaded twice would count twice, so counter tables are not restored by many workers. */
export function requireNoCounterTables(schema: KeyspaceSchema, tables: readonly string[]): void {
  const counters = tables.filter((name) => findTable(schema, name)?.isCounter === true);
  if (counters.length > 0) {
    throw new CassetteError('USAGE', `counter tables (${counters.join(', ')}) cannot be restored by many workers: a chunk loaded twice would add twice`, {
      hint: 'restore them with one process, without --restore-id (leave them out here with --tables)',
    });
  }
}

/**
 * A joining worker waits until the creator's target schema is in place (the plan has nothing left
 * to create), so that only one worker creates tables; after `waitMs` (the creator died before it
 * was done) it plans again and the caller applies what is missing.
 */
export async function waitForSchema(session: CqlWriteSession, plan: SchemaPlan, waitMs: number, signal: AbortSignal, clock: RetryClock = realRetryClock): Promise<SchemaPlan> {
  const until = clock.now() + waitMs;
  let current = plan;
  while (current.statements.length > 0 && clock.now() < until) {
    await clock.sleep(SCHEMA_POLL_MS, signal);
    current = await planTargetSchema(session, plan.request.source, plan.request.options);
  }
  return current;
}

/** A chunk to load, of a range of a table. */
export interface SharedChunk {
  readonly table: string;
  readonly range: number;
  readonly chunk: number;
}

export interface SharedLoadOptions {
  readonly backupId: string;
  readonly restoreId: string;
  readonly parallel: number;
  readonly signal: AbortSignal;
  readonly pollMs?: number;
  readonly onWaiting?: (held: number | undefined) => void;
  /** Chunks of a range another worker loaded (progress counts them as skipped). */
  readonly onDoneElsewhere?: (table: string, chunks: number) => void;
}

/**
 * Loads the chunks left (`jobs`) range by range, each range taken by a claim; returns once every
 * chunk has its done-marker (from any worker), with the number of ranges this worker loaded.
 */
export async function loadClaimedRanges<J extends SharedChunk>(store: BlobStore, deps: WorkClaimsDeps, options: SharedLoadOptions, jobs: readonly J[], load: (job: J) => Promise<void>): Promise<number> {
  const byRange = new Map<string, { table: string; index: number; jobs: J[] }>();
  for (const job of jobs) {
    const key = `${job.table}/${job.range}`;
    const unit = byRange.get(key) ?? { table: job.table, index: job.range, jobs: [] };
    unit.jobs.push(job);
    byRange.set(key, unit);
  }
  const isLoaded = async (job: J): Promise<boolean> => (await store.head(chunkDoneKey(options.backupId, options.restoreId, job.table, job.range, job.chunk))) !== undefined;
  const claims = new WorkClaims(deps, { kind: 'restore', id: options.restoreId }, restoreFolder(options.backupId, options.restoreId));
  const mine = await forEachClaimed([...byRange.values()], claims, {
    parallel: options.parallel,
    signal: options.signal,
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
    isDone: async (unit) => {
      for (const job of unit.jobs) if (!(await isLoaded(job))) return false;
      return true;
    },
    onWaiting: (held) => options.onWaiting?.(held),
    onDoneElsewhere: (unit) => options.onDoneElsewhere?.(unit.table, unit.jobs.length),
  }, async (unit) => {
    for (const job of unit.jobs) if (!(await isLoaded(job))) await load(job);
  });
  options.onWaiting?.(undefined);
  return mine;
}
