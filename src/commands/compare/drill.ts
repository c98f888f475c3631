/**
 * `cassette drill <backup-id>`: a disaster-recovery drill. Restores the backup into a scratch
 * keyspace (on the same cluster or another one), proves the restored data equal the backup with
 * the comparison `diff` uses, drops the scratch keyspace (unless `keep`), and writes the evidence
 * report into the repository next to the backup (format.md §10) — pass or fail, and also when the
 * restore or the comparison fails. The CLI exits 12 when the report's result is FAIL.
 *
 * Order: drill.json (which scratch keyspace on which cluster) before anything is created, so a
 * later drill recognizes a leftover scratch keyspace; restore; compare; drop; report.json last.
 */
import { CassetteError } from '../../errors.js';
import { SYSTEM_READ } from '../../cassandra/connection/session.js';
import { quoteIdentifier } from '../../cassandra/values/identifiers.js';
import type { ReadRouter } from '../../cassandra/ring/read-routes.js';
import { DrillHeader, newDrillId, type DrillReport, type DrillTableResult } from '../../manifest/drill-format.js';
import { FORMAT_VERSION, type Manifest } from '../../manifest/format.js';
import { drillHeaderKey, drillReportKey, drillsFolder } from '../../manifest/keys.js';
import { readCompleteManifest, readDocument, writeDocument } from '../../manifest/repository.js';
import type { TableComparison } from '../../pipeline/compare/compare-tables.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { ProgressSink } from '../progress.js';
import { runRestore, type RestoreCluster, type RestoreReport } from '../restore.js';
import { compareBackup, selectTables, type CompareOptions } from './compare-backup.js';

/** Cassandra's longest keyspace name. */
const MAX_KEYSPACE_NAME = 48;

export interface DrillRequest extends CompareOptions {
  readonly backupId: string;
  readonly tables?: readonly string[];
  /** Default: `<keyspace>_drill_<the backup id's 6 hex digits>`. */
  readonly scratchKeyspace?: string;
  /** Keep the scratch keyspace afterwards (to look at it). */
  readonly keep: boolean;
  /** The scratch keyspace's replication (as restore --replication / --dc-map). */
  readonly replication?: Readonly<Record<string, string>>;
  readonly dcMap?: ReadonlyMap<string, string>;
  /** The restore's settings. */
  readonly restoreParallel: number;
  readonly maxInFlight: number;
  readonly batchBytes: number;
  readonly maxErrors: number;
}

export interface DrillCluster extends RestoreCluster {
  readonly releaseVersion: string;
  readonly readRouter: (keyspace: string) => Promise<ReadRouter>;
}

export interface DrillDeps {
  readonly store: BlobStore;
  readonly cluster: DrillCluster;
  readonly progress: ProgressSink;
  readonly signal: AbortSignal;
  readonly now: () => number;
  readonly toolVersion: string;
}

/** The evidence report, and where it is stored. */
export interface DrillOutcome {
  readonly report: DrillReport;
  readonly reportKey: string;
  readonly repository: string;
  /** Leftover scratch keyspaces of earlier drills this one dropped first. */
  readonly notes: readonly string[];
}

/** The default scratch keyspace: `<keyspace>_drill_<6 hex>`, the keyspace part cut to fit 48 characters. */
export function scratchKeyspaceFor(keyspace: string, backupId: string): string {
  const suffix = `_drill_${backupId.slice(-6)}`;
  return `${keyspace.slice(0, MAX_KEYSPACE_NAME - suffix.length)}${suffix}`;
}

async function keyspaceExists(cluster: DrillCluster, keyspace: string): Promise<boolean> {
  const rs = await cluster.session.execute('SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [keyspace], SYSTEM_READ);
  return rs.rows.length > 0;
}

/**
 * Whether an earlier drill of this backup (drill.json) restored into `keyspace` on this cluster:
 * the same cluster name and at least one node in common (names alone repeat: "Test Cluster").
 */
async function isLeftoverDrill(store: BlobStore, backupId: string, keyspace: string, cluster: DrillCluster): Promise<string | undefined> {
  const nodes = new Set(cluster.topology.nodes.map((n) => n.address));
  for await (const entry of store.list(drillsFolder(backupId))) {
    if (!entry.key.endsWith('/drill.json')) continue;
    const header = await readDocument(store, entry.key, DrillHeader, `drill ${entry.key}`);
    if (header?.scratchKeyspace === keyspace && header.target.cluster === cluster.name && header.nodes.some((n) => nodes.has(n))) return header.drillId;
  }
  return undefined;
}

async function dropKeyspace(cluster: DrillCluster, keyspace: string): Promise<void> {
  await cluster.session.execute(`DROP KEYSPACE IF EXISTS ${quoteIdentifier(keyspace)}`);
}

function tableResult(name: string, manifest: Manifest, restored: RestoreReport | undefined, compared: TableComparison | undefined): DrillTableResult {
  const backupRows = manifest.tables.find((t) => t.name === name)?.rows ?? 0;
  const c = compared;
  return {
    name, backupRows,
    restoredRows: restored?.tables.find((t) => t.name === name)?.written ?? 0,
    ranges: c?.ranges ?? 0, rangesDiffering: c?.rangesDiffering ?? 0, expectedAbsent: c?.expectedAbsent ?? 0,
    missing: c?.missing ?? 0, extra: c?.extra ?? 0, different: c?.different ?? 0,
    sampleKeys: { missing: [...(c?.missingKeys ?? [])], extra: [...(c?.extraKeys ?? [])], different: (c?.differentRows ?? []).map((d) => d.key) },
    result: c?.identical === true ? 'PASS' : 'FAIL',
  };
}

/** Runs a drill; resolves with the evidence report (PASS or FAIL), rejects when the drill could not finish (the report is written then too). */
export async function runDrill(request: DrillRequest, deps: DrillDeps): Promise<DrillOutcome> {
  const { store, cluster } = deps;
  const startedAt = deps.now();
  const manifest = await readCompleteManifest(store, request.backupId);
  const tables = selectTables(manifest, request.tables);
  const scratch = request.scratchKeyspace ?? scratchKeyspaceFor(manifest.keyspace.name, manifest.backupId);
  if (scratch === manifest.keyspace.name && cluster.name === manifest.cluster.name) {
    throw new CassetteError('INVALID_INPUT', `the scratch keyspace cannot be the backed-up keyspace ${scratch} itself`, { hint: 'choose another --scratch-keyspace' });
  }
  const notes: string[] = [];
  if (await keyspaceExists(cluster, scratch)) {
    const earlier = await isLeftoverDrill(store, manifest.backupId, scratch, cluster);
    if (earlier === undefined) {
      throw new CassetteError('INVALID_INPUT', `keyspace ${scratch} already exists in cluster ${cluster.name} and is not the scratch keyspace of an earlier drill of backup ${manifest.backupId}`, {
        hint: 'a drill restores into a keyspace of its own: choose another --scratch-keyspace (or drop that keyspace if it is yours to drop)',
      });
    }
    deps.progress.note(`note: keyspace ${scratch} is left over from drill ${earlier} of this backup; dropping it first`);
    notes.push(`dropped keyspace ${scratch}, left over from drill ${earlier}`);
    await dropKeyspace(cluster, scratch);
  }
  const drillId = newDrillId(startedAt);
  const target = { cluster: cluster.name, hosts: [...cluster.hosts], releaseVersion: cluster.releaseVersion };
  const header: DrillHeader = {
    formatVersion: FORMAT_VERSION, kind: 'cassette-drill', drillId, backupId: manifest.backupId, createdAt: new Date(startedAt).toISOString(),
    tool: { name: 'cassette', version: deps.toolVersion }, scratchKeyspace: scratch, target,
    nodes: cluster.topology.nodes.map((n) => n.address), tables,
  };
  await writeDocument(store, drillHeaderKey(manifest.backupId, drillId), header);

  let restored: RestoreReport | undefined;
  let compared: TableComparison[] | undefined;
  let restoreDurationMs = 0;
  let compareDurationMs = 0;
  let failure: unknown;
  try {
    const restoreStart = deps.now();
    restored = await runRestore({
      backupId: manifest.backupId, tables, targetKeyspace: scratch, schemaMode: 'create', guard: { kind: 'none' },
      ...(request.replication === undefined ? {} : { replication: request.replication }),
      ...(request.dcMap === undefined ? {} : { dcMap: request.dcMap }),
      maxInFlight: request.maxInFlight, maxErrors: request.maxErrors, batchBytes: request.batchBytes, parallel: request.restoreParallel, verify: false,
      ...(request.retryForMs === undefined ? {} : { retryForMs: request.retryForMs }),
    }, { ...deps, resumeHint: () => `cassette drill ${manifest.backupId} (a drill starts over)` });
    restoreDurationMs = deps.now() - restoreStart;
    const comparison = await compareBackup(manifest, { keyspace: scratch, tables }, request, deps);
    compared = [...comparison.tables];
    compareDurationMs = comparison.durationMs;
  } catch (err) {
    failure = err;
  }

  let scratchState: DrillReport['scratch'] = 'kept';
  if (!request.keep) {
    try {
      await dropKeyspace(cluster, scratch);
      scratchState = 'dropped';
    } catch (err) {
      scratchState = 'drop-failed';
      notes.push(`could not drop keyspace ${scratch}: ${(err as Error).message.split('\n')[0] ?? ''}`);
    }
  }
  const tableResults = tables.map((name) => tableResult(name, manifest, restored, compared?.find((t) => t.name === name)));
  const report: DrillReport = {
    formatVersion: FORMAT_VERSION, kind: 'cassette-drill-report', drillId, backupId: manifest.backupId, backupCreatedAt: manifest.createdAt,
    backupAgeSeconds: Math.round((startedAt - Date.parse(manifest.createdAt)) / 1000),
    startedAt: header.createdAt, completedAt: new Date(deps.now()).toISOString(), tool: header.tool,
    source: { cluster: manifest.cluster.name, releaseVersion: manifest.cluster.releaseVersion, keyspace: manifest.keyspace.name },
    target, scratchKeyspace: scratch, scratch: scratchState,
    ...(restored === undefined ? {} : { restoreId: restored.restoreId }),
    restoreDurationMs, compareDurationMs, rows: restored?.written ?? 0, tables: tableResults,
    result: failure === undefined && tableResults.every((t) => t.result === 'PASS') ? 'PASS' : 'FAIL',
    ...(failure === undefined ? {} : { error: { code: failure instanceof CassetteError ? failure.code : 'INTERNAL', message: failure instanceof Error ? (failure.message.split('\n')[0] ?? '') : String(failure) } }),
  };
  const reportKey = drillReportKey(manifest.backupId, drillId);
  if (failure !== undefined) {
    await writeDocument(store, reportKey, report).catch(() => undefined); // the failure is what matters
    throw drillFailed(failure, drillId, scratch, scratchState, `${store.description}/${reportKey}`);
  }
  await writeDocument(store, reportKey, report);
  return { report, reportKey, repository: store.description, notes };
}

/** The drill's failure with what happened to the scratch keyspace; bugs stay bugs. */
function drillFailed(err: unknown, drillId: string, scratch: string, state: DrillReport['scratch'], where: string): unknown {
  if (!(err instanceof CassetteError)) return err;
  const what = state === 'dropped' ? `scratch keyspace ${scratch} dropped` : state === 'kept' ? `scratch keyspace ${scratch} kept (--keep)` : `scratch keyspace ${scratch} could NOT be dropped: drop it by hand`;
  // A drill is not resumed: the restore's "resume with" advice does not apply.
  const cause = (err.hint ?? 'fix the cause').replace(/[;,]?\s*(then )?resume with:.*$/, '');
  const hint = err.code === 'INTERRUPTED' ? 'run the drill again (a drill starts over)' : `${cause}; then run the drill again (a drill starts over)`;
  return new CassetteError(err.code, `drill ${drillId} failed: ${err.message} (${what}; report in ${where})`, { hint, cause: err });
}
