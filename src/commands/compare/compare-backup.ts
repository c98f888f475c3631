/**
 * The comparison core that `diff` and `drill` share: a complete backup against a live keyspace
 * (the backup's own, another, or a drill's scratch keyspace), range by range of the backup's own
 * plan, read the way the backup read (pipeline/compare/).
 */
import { CassetteError } from '../../errors.js';
import type { CqlSession } from '../../cassandra/connection/session.js';
import { captureKeyspace, findTable, nonKeyColumns, type KeyspaceSchema } from '../../cassandra/schema/capture.js';
import { tableReaderFor } from '../../cassandra/reads/table-reader.js';
import type { ReadRouter } from '../../cassandra/ring/read-routes.js';
import { parseToken } from '../../cassandra/ring/token-ranges.js';
import type { Manifest } from '../../manifest/format.js';
import { chunkKey } from '../../manifest/keys.js';
import type { CompareRangeJob } from '../../pipeline/compare/compare-range.js';
import { compareTables, type TableComparison } from '../../pipeline/compare/compare-tables.js';
import { DEFAULT_RETRY_FOR_MS } from '../../pipeline/retry.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { ProgressSink } from '../progress.js';

/** What a comparison needs from the cluster that holds the live keyspace. */
export interface CompareCluster {
  readonly session: CqlSession;
  /** Driver code of the reads' consistency (--consistency). */
  readonly consistency: number;
  readonly name: string;
  readonly readRouter: (keyspace: string) => Promise<ReadRouter>;
}

export interface CompareOptions {
  /** Ranges compared at once. */
  readonly parallel: number;
  readonly fetchSize: number;
  /** Keys listed per kind (missing, extra, different) per table. */
  readonly maxKeys: number;
  /** Most backed-up rows of one range the drill-down holds in memory. */
  readonly maxDrillRows: number;
  /** Rows per side a range keeps from its digest pass for a drill-down (compare-range.ts); tests set 0 to always read again. */
  readonly keepRows?: number;
  /** How long reads are retried after a failure (--retry-for); default 5 minutes. */
  readonly retryForMs?: number;
  readonly attempts?: number;
  readonly retryBaseDelayMs?: number;
}

export interface CompareBackupDeps {
  readonly store: BlobStore;
  readonly cluster: CompareCluster;
  readonly progress: ProgressSink;
  readonly signal: AbortSignal;
  readonly now: () => number;
}

export interface Comparison {
  readonly tables: readonly TableComparison[];
  readonly identical: boolean;
  readonly durationMs: number;
  /** Things worth knowing that are no difference (a live column the backup does not have). */
  readonly notes: readonly string[];
}

/** The backup's tables to compare: all, or the `requested` ones (INVALID_INPUT naming unknown ones). */
export function selectTables(manifest: Manifest, requested: readonly string[] | undefined): string[] {
  const available = manifest.tables.map((t) => t.name);
  if (requested === undefined || requested.length === 0) return available;
  const unknown = requested.filter((t) => !available.includes(t));
  if (unknown.length > 0) {
    throw new CassetteError('INVALID_INPUT', `backup ${manifest.backupId} has no table ${unknown.map((t) => `"${t}"`).join(', ')}`, { hint: `its tables are: ${available.join(', ')}` });
  }
  return [...requested];
}

/**
 * Checks that every compared table exists live with the backup's columns (same names, kinds and
 * types): a live row must encode as a stored one. Extra live columns are not compared; they are
 * returned as notes.
 */
function checkLiveSchema(backup: KeyspaceSchema, live: KeyspaceSchema, tables: readonly string[]): string[] {
  const problems: string[] = [];
  const notes: string[] = [];
  for (const name of tables) {
    const stored = findTable(backup, name);
    const current = findTable(live, name);
    if (stored === undefined) continue;
    if (current === undefined) {
      problems.push(`table ${live.name}.${name} does not exist`);
      continue;
    }
    for (const column of stored.columns) {
      const now = current.columns.find((c) => c.name === column.name);
      if (now === undefined) problems.push(`${name}.${column.name} does not exist live`);
      else if (now.type !== column.type || now.kind !== column.kind) problems.push(`${name}.${column.name} is ${now.kind} ${now.type} live, ${column.kind} ${column.type} in the backup`);
    }
    for (const column of nonKeyColumns(current)) {
      if (!stored.columns.some((c) => c.name === column.name)) notes.push(`${name}.${column.name} exists only in the live table; it is not compared`);
    }
  }
  if (problems.length > 0) {
    throw new CassetteError('INVALID_INPUT', `keyspace ${live.name} does not have the backup's tables: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`, {
      hint: 'diff compares tables with the schema the backup recorded; pick the keyspace with --keyspace, or the tables with --tables',
    });
  }
  return notes;
}

/** Compares `tables` of the backup with keyspace `keyspace` of the cluster. */
export async function compareBackup(manifest: Manifest, target: { readonly keyspace: string; readonly tables: readonly string[] }, options: CompareOptions, deps: CompareBackupDeps): Promise<Comparison> {
  const startedAt = deps.now();
  const backupSchema = manifest.keyspace as unknown as KeyspaceSchema;
  const live = await captureKeyspace(deps.cluster.session, target.keyspace);
  const notes = checkLiveSchema(backupSchema, live, target.tables);
  const router = await deps.cluster.readRouter(target.keyspace);
  // The backup's own schema under the live keyspace's name: the reader encodes a live row exactly as
  // the backup encoded the stored one (and approximates as it did, format.md §6.4).
  const asLive: KeyspaceSchema = { ...backupSchema, name: target.keyspace };
  const jobs: CompareRangeJob[] = [];
  for (const name of target.tables) {
    const table = manifest.tables.find((t) => t.name === name);
    const schema = findTable(backupSchema, name);
    if (table === undefined || schema === undefined) throw new CassetteError('BACKUP_INVALID', `backup ${manifest.backupId} lists table ${name} but its schema does not describe it`);
    const elementWritetimes = manifest.approximatedWritetimes?.tables.some((t) => t.name === name) !== true;
    const reader = tableReaderFor(asLive, name, undefined, { elementWritetimes, fallbackWritetime: BigInt(Date.parse(manifest.createdAt)) * 1000n });
    const valueOnly = new Set(nonKeyColumns(schema).filter((c) => c.type === 'counter').map((c) => c.name));
    for (const r of table.ranges) {
      const start = parseToken(r.start);
      const end = parseToken(r.end);
      if (start === undefined || end === undefined) throw new CassetteError('BACKUP_INVALID', `backup ${manifest.backupId} lists an invalid token range (${r.start}, ${r.end}]`);
      const range = { start, end };
      jobs.push({
        table: name, index: r.index, range, reader, route: router.route(range), valueOnly,
        chunks: r.chunks.map((entry) => ({ key: chunkKey(manifest.backupId, entry.key), entry })),
      });
    }
  }
  deps.progress.start({
    title: `compare ${manifest.backupId} with ${target.keyspace}`, unitName: 'ranges',
    parts: target.tables.map((name) => ({ name, units: jobs.filter((j) => j.table === name).length })),
  });
  for (const note of notes) deps.progress.note(`note: ${note}`);
  let tables: TableComparison[];
  try {
    tables = await compareTables(target.tables, jobs, {
      fetchSize: options.fetchSize, consistency: deps.cluster.consistency,
      retryForMs: options.retryForMs ?? DEFAULT_RETRY_FOR_MS, ...(options.attempts === undefined ? {} : { attempts: options.attempts }),
      retryBaseDelayMs: options.retryBaseDelayMs ?? 1000, maxKeys: options.maxKeys, maxDrillRows: options.maxDrillRows,
      ...(options.keepRows === undefined ? {} : { keepRows: options.keepRows }),
    }, {
      session: deps.cluster.session, store: deps.store, signal: deps.signal, now: deps.now, parallel: options.parallel,
      onRows: (table, rows) => deps.progress.rows(table, rows, 0),
      onRetry: (line) => deps.progress.note(line),
      onRangeDone: (table) => deps.progress.unitDone(table),
    });
  } catch (err) {
    if (deps.signal.aborted) throw new CassetteError('INTERRUPTED', `the comparison of backup ${manifest.backupId} with ${target.keyspace} was interrupted`, { hint: 'run it again', cause: err });
    throw err;
  } finally {
    deps.progress.stop();
  }
  return { tables, identical: tables.every((t) => t.identical), durationMs: Math.max(1, deps.now() - startedAt), notes };
}
