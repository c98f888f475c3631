/**
 * `cassette diff <backup-id> [--keyspace <live>]`: compares a live keyspace with a backup, per token
 * range of the backup's plan — digests first, then rows in the ranges that differ — and reports
 * rows missing, extra and different by primary key (never a value). Read-only: it writes nothing,
 * to the cluster or the repository. The CLI exits 12 (DIFFERENCES_FOUND) when `identical` is false.
 */
import { readCompleteManifest } from '../../manifest/repository.js';
import type { TableComparison } from '../../pipeline/compare/compare-tables.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { ProgressSink } from '../progress.js';
import { compareBackup, selectTables, type CompareCluster, type CompareOptions } from './compare-backup.js';

export interface DiffRequest extends CompareOptions {
  readonly backupId: string;
  /** The live keyspace; default: the backup's. */
  readonly keyspace?: string;
  readonly tables?: readonly string[];
}

export interface DiffDeps {
  readonly store: BlobStore;
  readonly cluster: CompareCluster;
  readonly progress: ProgressSink;
  readonly signal: AbortSignal;
  readonly now: () => number;
}

export interface DiffReport {
  readonly backupId: string;
  readonly backupCreatedAt: string;
  readonly repository: string;
  /** The backed-up keyspace, and the live one compared with it. */
  readonly sourceKeyspace: string;
  readonly keyspace: string;
  readonly cluster: string;
  readonly tables: readonly TableComparison[];
  readonly identical: boolean;
  readonly backupRows: number;
  readonly liveRows: number;
  readonly missing: number;
  readonly extra: number;
  readonly different: number;
  readonly notes: readonly string[];
  readonly durationMs: number;
}

/** Compares the live keyspace with the backup; resolves with the report whether or not they differ. */
export async function runDiff(request: DiffRequest, deps: DiffDeps): Promise<DiffReport> {
  const manifest = await readCompleteManifest(deps.store, request.backupId);
  const tables = selectTables(manifest, request.tables);
  const keyspace = request.keyspace ?? manifest.keyspace.name;
  const comparison = await compareBackup(manifest, { keyspace, tables }, request, deps);
  const sum = (f: (t: TableComparison) => number): number => comparison.tables.reduce((n, t) => n + f(t), 0);
  return {
    backupId: manifest.backupId,
    backupCreatedAt: manifest.createdAt,
    repository: deps.store.description,
    sourceKeyspace: manifest.keyspace.name,
    keyspace,
    cluster: deps.cluster.name,
    tables: comparison.tables,
    identical: comparison.identical,
    backupRows: sum((t) => t.backupRows),
    liveRows: sum((t) => t.liveRows),
    missing: sum((t) => t.missing),
    extra: sum((t) => t.extra),
    different: sum((t) => t.different),
    notes: comparison.notes,
    durationMs: comparison.durationMs,
  };
}
