/**
 * `cassette backup`: export a keyspace's tables by token range into a backup repository
 * (docs/format.md). A plain function with injected dependencies; the CLI wires the real ones.
 *
 * Order of writes: nothing is written until the keyspace, tables, partitioner and ring have been
 * checked; then backup.json and schema.cql; then chunks and, per range, its marker; manifest.json
 * last. `resume` redoes only ranges without a marker.
 */
import { CassetteError } from '../errors.js';
import { captureKeyspace, resolveTables, schemaFingerprint, type KeyspaceSchema } from '../cassandra/schema/capture.js';
import { renderSchemaCql } from '../cassandra/schema/render.js';
import { estimateTableBytes, estimateTableRows } from '../cassandra/ring/size-estimates.js';
import { requireMurmur3 } from '../cassandra/ring/ring.js';
import type { ReadRouter } from '../cassandra/ring/read-routes.js';
import type { CqlSession } from '../cassandra/connection/session.js';
import { tableReaderFor } from '../cassandra/reads/table-reader.js';
import { multiCellColumns, readsElementWritetimes, releaseMajor } from '../cassandra/reads/read-capabilities.js';
import { defaultSplitCount, formatToken, parseToken, splitRing, type TokenRange } from '../cassandra/ring/token-ranges.js';
import { newBackupId } from '../manifest/backup-id.js';
import { FORMAT_VERSION, type ApproximatedWritetimes, type BackupHeader, type ClusterTopology, type Manifest, type RangeMarker } from '../manifest/format.js';
import { backupFolder, backupHeaderKey, manifestKey, markerKey, schemaCqlKey } from '../manifest/keys.js';
import { readHeader, readManifest, readMarkers, requireNotDeleting, writeDocument } from '../manifest/repository.js';
import { exportRange, type RangeJob } from '../pipeline/export/export-range.js';
import type { Leases } from '../pipeline/lease-holder.js';
import { DEFAULT_RETRY_FOR_MS, forEachBounded } from '../pipeline/retry.js';
import { withRepositoryRetries } from '../pipeline/retrying-store.js';
import { forEachClaimed, WorkClaims, type WorkerIdentity } from '../pipeline/work-claims.js';
import { BlobExistsError, type BlobStore } from '../storage/blob-store.js';
import { joinOrCreate } from './backup-shared.js';
import { buildManifest, stoppedBackup } from './backup-manifest.js';

export { buildManifest } from './backup-manifest.js';
import { WAITING_FOR_WORKERS, type ProgressSink } from './progress.js';

export interface BackupRequest {
  /** Required for a new backup; when resuming it must match the backup's keyspace if given. */
  readonly keyspace?: string;
  readonly tables?: readonly string[];
  readonly resume?: string;
  readonly splits?: number;
  readonly parallel: number;
  readonly fetchSize: number;
  readonly gzipLevel: number;
  readonly maxChunkBytes: number;
  readonly consistency: string;
  /** How long an outage of Cassandra or the repository is waited out (--retry-for); default 5 minutes. */
  readonly retryForMs?: number;
  /** An optional cap on attempts per range, on top of retryForMs (tests). */
  readonly attempts?: number;
  readonly retryBaseDelayMs?: number;
  /** More tokens at which ranges must start or end, beyond the ring's (tests pin range edges with it). */
  readonly extraBoundaries?: readonly bigint[];
  /**
   * A shared run (decisions/0011): every worker runs the same command with this id; the first
   * creates the backup, the others join it, and ranges are claimed one by one.
   */
  readonly backupId?: string;
  /** A shared run's expected number of workers: sizes the plan (ranges for all of them), never partitions it. */
  readonly workers?: number;
  /** How often a worker with nothing left to take looks again at ranges others hold (default 1 s). */
  readonly claimPollMs?: number;
}

/** What backup needs from the cluster, beyond plain queries. */
export interface BackupCluster {
  readonly session: CqlSession;
  /** Driver code of the read consistency. */
  readonly consistency: number;
  readonly name: string;
  readonly partitioner: string;
  readonly releaseVersion: string;
  readonly nodes: number;
  /** Every node of every datacenter, recorded in backup.json (format.md §2). */
  readonly topology: ClusterTopology;
  /** Every token of the ring, all datacenters. */
  ringTokens(): readonly bigint[];
  /** Routes the reads of `keyspace`'s ranges to live local replicas (read-routes.ts). */
  readRouter(keyspace: string): Promise<ReadRouter>;
}

export interface BackupDeps extends WorkerIdentity {
  readonly store: BlobStore;
  readonly cluster: BackupCluster;
  readonly progress: ProgressSink;
  readonly signal: AbortSignal;
  readonly now: () => number;
  readonly toolVersion: string;
  /** The command line that resumes `backupId`, for messages. */
  readonly resumeHint: (backupId: string) => string;
  /** The run's leases (format.md §11): the backup is held for writing before its first write. */
  readonly leases?: Leases;
}

export interface TableReport {
  readonly name: string;
  readonly ranges: number;
  readonly rangesSkipped: number;
  readonly rows: number;
  readonly bytes: number;
}

export interface BackupReport {
  readonly backupId: string;
  readonly repository: string;
  readonly keyspace: string;
  readonly resumed: boolean;
  readonly tables: readonly TableReport[];
  readonly ranges: number;
  readonly chunks: number;
  /** Totals of the whole backup. */
  readonly rows: number;
  readonly bytes: number;
  /** Rows read by this run, and its duration and rate. */
  readonly rowsThisRun: number;
  /** How many of this run's range reads each node coordinated (pinned reads only). */
  readonly rangesByNode: Readonly<Record<string, number>>;
  readonly durationMs: number;
  readonly rowsPerSecond: number;
  /** The level this run read at (--consistency). */
  readonly consistency: string;
  /** Columns whose writetimes and TTLs are approximations (Cassandra 4.x, format.md §6.4); absent when none are. */
  readonly approximatedWritetimes?: ApproximatedWritetimes['tables'];
  /** A shared run (--backup-id): the ranges this worker read (the others read the rest). */
  readonly shared?: { readonly rangesMine: number };
}

/**
 * The multi-cell columns of `tables` whose writetimes the backup approximates: all of them when a
 * node of the cluster runs Cassandra 4.x, which cannot read theirs (format.md §6.4); else none.
 */
function approximatedWritetimes(cluster: BackupCluster, schema: KeyspaceSchema, tables: readonly { readonly name: string }[]): ApproximatedWritetimes | undefined {
  const versions = [cluster.releaseVersion, ...cluster.topology.nodes.map((node) => node.releaseVersion)];
  if (readsElementWritetimes(versions)) return undefined;
  const affected = tables.map((t) => ({ name: t.name, columns: multiCellColumns(schema, t.name) })).filter((t) => t.columns.length > 0);
  return affected.length === 0 ? undefined : { rule: 'row-cells', tables: affected };
}

async function startNew(request: BackupRequest, deps: BackupDeps, givenId?: string): Promise<{ header: BackupHeader; schema: KeyspaceSchema }> {
  if (request.keyspace === undefined) throw new CassetteError('USAGE', 'backup needs --keyspace (or --resume <backup-id>)');
  const { cluster } = deps;
  requireMurmur3(cluster.partitioner);
  const schema = await captureKeyspace(cluster.session, request.keyspace);
  const tables = resolveTables(schema, request.tables);
  // Each table gets its own ranges: a big table is cut finer than a small one (format.md §2).
  const boundaries = [...cluster.ringTokens(), ...(request.extraBoundaries ?? [])];
  const plans = [];
  for (const table of tables) {
    const estimatedBytes = request.splits === undefined ? await estimateTableBytes(cluster.session, schema.name, table.name, cluster.nodes) : undefined;
    const count = request.splits ?? defaultSplitCount({
      nodes: cluster.nodes, parallel: request.parallel * (request.workers ?? 1), ringTokens: cluster.ringTokens().length,
      ...(estimatedBytes === undefined ? {} : { estimatedBytes }),
    });
    const ranges = splitRing(boundaries, count).map((r, index) => ({ index, start: formatToken(r.start), end: formatToken(r.end) }));
    plans.push({ name: table.name, ranges });
  }
  const createdAt = deps.now();
  const approximated = approximatedWritetimes(cluster, schema, plans);
  const header: BackupHeader = {
    formatVersion: FORMAT_VERSION,
    kind: 'cassette-backup',
    backupId: givenId ?? newBackupId(createdAt),
    createdAt: new Date(createdAt).toISOString(),
    tool: { name: 'cassette', version: deps.toolVersion },
    cluster: { name: cluster.name, partitioner: cluster.partitioner, releaseVersion: cluster.releaseVersion, topology: cluster.topology },
    keyspace: schema as unknown as BackupHeader['keyspace'],
    schemaFingerprint: schemaFingerprint(schema),
    options: { compression: 'gzip', gzipLevel: request.gzipLevel, maxChunkBytes: request.maxChunkBytes, consistency: request.consistency },
    tables: plans,
    ...(approximated === undefined ? {} : { approximatedWritetimes: approximated }),
  };
  deps.signal.throwIfAborted();
  await deps.leases?.hold({ kind: 'backup', id: header.backupId }, givenId === undefined ? 'write' : 'work');
  // The first writes: from here on, the backup exists (incomplete) and can be resumed.
  await writeDocument(deps.store, backupHeaderKey(header.backupId), header);
  await deps.store.put(schemaCqlKey(header.backupId), `${renderSchemaCql(schema).join(';\n\n')};\n`, { ifAbsent: true });
  return { header, schema };
}

async function reopen(request: BackupRequest, backupId: string, deps: BackupDeps, mode: 'write' | 'work' = 'write'): Promise<BackupHeader> {
  const header = await readHeader(deps.store, backupId);
  if (header === undefined) {
    throw new CassetteError('BACKUP_INVALID', `backup ${backupId} not found in ${deps.store.description}`, {
      hint: 'run `cassette list` with the same --repo to see the backups there',
    });
  }
  if (request.keyspace !== undefined && request.keyspace !== header.keyspace.name) {
    throw new CassetteError('USAGE', `backup ${backupId} is of keyspace ${header.keyspace.name}, not ${request.keyspace}`);
  }
  if (mode === 'write') await deps.leases?.hold({ kind: 'backup', id: backupId }, 'write');
  await requireNotDeleting(deps.store, backupId);
  const current = await captureKeyspace(deps.cluster.session, header.keyspace.name);
  if (schemaFingerprint(current) !== header.schemaFingerprint) {
    throw new CassetteError('INVALID_INPUT', `the schema of keyspace ${header.keyspace.name} changed since backup ${backupId} started; it cannot be resumed`, {
      hint: 'start a new backup',
    });
  }
  // A run killed between backup.json and schema.cql left no schema.cql: write it now.
  if ((await deps.store.head(schemaCqlKey(backupId))) === undefined) {
    await deps.store.put(schemaCqlKey(backupId), `${renderSchemaCql(header.keyspace as unknown as KeyspaceSchema).join(';\n\n')};\n`, { ifAbsent: true });
  }
  return header;
}

function toRange(r: { start: string; end: string }, backupId: string): TokenRange {
  const start = parseToken(r.start);
  const end = parseToken(r.end);
  if (start === undefined || end === undefined) {
    throw new CassetteError('BACKUP_INVALID', `backup ${backupId} plans an invalid token range (${r.start}, ${r.end}]`, { hint: 'backup.json is damaged; start a new backup' });
  }
  return { start, end };
}

/** Runs a backup, or finishes an interrupted one; resolves with the report once manifest.json is written. */
export async function runBackup(request: BackupRequest, given: BackupDeps): Promise<BackupReport> {
  const retryForMs = request.retryForMs ?? DEFAULT_RETRY_FOR_MS;
  const deps: BackupDeps = { ...given, store: withRepositoryRetries(given.store, { retryForMs, signal: given.signal, onWait: (line) => given.progress.waiting?.('repository', line) }) };
  const startedAt = deps.now();
  const shared = request.backupId !== undefined;
  const header = request.backupId !== undefined
    ? await joinOrCreate(request, request.backupId, deps, async () => (await startNew(request, deps, request.backupId)).header, () => reopen(request, request.backupId as string, deps, 'work'))
    : request.resume === undefined ? (await startNew(request, deps)).header : await reopen(request, request.resume, deps);
  const { backupId } = header;
  const keyspace = header.keyspace.name;
  const reading = request.resume !== undefined || shared;

  const existing = reading ? await readManifest(deps.store, backupId) : undefined;
  const markers = new Map<string, Map<number, RangeMarker>>();
  for (const table of header.tables) {
    markers.set(table.name, existing === undefined && reading ? await readMarkers(deps.store, backupId, table.name) : new Map());
  }
  const claims = shared ? new WorkClaims(deps, { kind: 'backup', id: backupId }, backupFolder(backupId)) : undefined;

  const schema = header.keyspace as unknown as KeyspaceSchema;
  const router = existing === undefined ? await deps.cluster.readRouter(keyspace) : undefined;
  const jobs: RangeJob[] = [];
  for (const table of header.tables) {
    // Decided when the backup started, and recorded in backup.json: a resume reads the same way.
    const elementWritetimes = header.approximatedWritetimes?.tables.some((t) => t.name === table.name) !== true;
    const reader = tableReaderFor(schema, table.name, undefined, { elementWritetimes, fallbackWritetime: BigInt(Date.parse(header.createdAt)) * 1000n });
    const done = markers.get(table.name) as Map<number, RangeMarker>;
    for (const planned of table.ranges) {
      if (existing !== undefined || done.has(planned.index)) continue;
      const range = toRange(planned, backupId);
      jobs.push({ folder: backupFolder(backupId), table: table.name, index: planned.index, range, reader, ...(router === undefined ? {} : { route: router.route(range) }) });
    }
  }

  // Rows to expect, for the ETA only (system.size_estimates; absent for a table created minutes ago).
  const estimates = await Promise.all(header.tables.map((t) => (jobs.length === 0 ? undefined : estimateTableRows(deps.cluster.session, keyspace, t.name, deps.cluster.nodes))));
  deps.progress.start({ title: `backup ${backupId}`, job: backupId, unitName: 'ranges', parts: header.tables.map((t, i) => ({ name: t.name, units: t.ranges.length, ...(estimates[i] === undefined ? {} : { estimatedRows: estimates[i] }) })) });
  for (const table of header.tables) {
    const skipped = existing !== undefined ? table.ranges.length : (markers.get(table.name)?.size ?? 0);
    if (skipped > 0) deps.progress.skip(table.name, skipped);
  }
  const versions = [header.cluster.releaseVersion, ...(header.cluster.topology?.nodes.map((n) => n.releaseVersion) ?? [])];
  const oldRelease = versions.find((v) => (releaseMajor(v) ?? 5) < 5) ?? header.cluster.releaseVersion;
  for (const table of header.approximatedWritetimes?.tables ?? []) {
    for (const column of table.columns) {
      deps.progress.note(`warning: ${keyspace}.${table.name}.${column}: Cassandra ${oldRelease} cannot read the writetimes and TTLs of a non-frozen collection or user type; ` +
        "the backup gives its elements the row's latest writetime (and expiry, when all the row's other cells expire), docs/format.md §6.4");
    }
  }
  let rowsThisRun = 0;
  const rangesByNode = new Map<string, number>();
  /** Ranges this process finished (a shared run's share). */
  const mine = new Set<string>();
  const readRange = async (job: RangeJob): Promise<void> => {
    const marker = await exportRange(job, {
      fetchSize: request.fetchSize,
      consistency: deps.cluster.consistency,
      gzipLevel: request.gzipLevel,
      maxChunkBytes: request.maxChunkBytes,
      retryForMs,
      ...(request.attempts === undefined ? {} : { attempts: request.attempts }),
      retryBaseDelayMs: request.retryBaseDelayMs ?? 1000,
    }, {
      session: deps.cluster.session,
      store: deps.store,
      signal: deps.signal,
      now: deps.now,
      onRows: (rows, bytes) => {
        rowsThisRun += rows;
        deps.progress.rows(job.table, rows, bytes);
      },
      onRetry: (line) => deps.progress.note(line),
      onWait: (subject, line) => deps.progress.waiting?.(subject, line),
      onRead: (node) => rangesByNode.set(node, (rangesByNode.get(node) ?? 0) + 1),
    }).catch((err: unknown) => {
      // A shared run: another worker's attempt of this range wrote its marker first. Ours is garbage.
      if (claims !== undefined && err instanceof BlobExistsError) return undefined;
      throw err;
    });
    if (marker !== undefined) {
      markers.get(job.table)?.set(job.index, marker);
      mine.add(`${job.table}/${job.index}`);
    }
    deps.progress.unitDone(job.table, String(job.index));
  };
  try {
    if (claims === undefined) await forEachBounded(jobs, request.parallel, readRange, deps.signal);
    else {
      await forEachClaimed(jobs, claims, {
        parallel: request.parallel,
        signal: deps.signal,
        isDone: async (job) => (await deps.store.head(markerKey(backupId, job.table, job.index))) !== undefined,
        ...(request.claimPollMs === undefined ? {} : { pollMs: request.claimPollMs }),
        onDoneElsewhere: (job) => deps.progress.skip(job.table, 1),
        onWaiting: (held) => deps.progress.waiting?.(WAITING_FOR_WORKERS, `waiting for other workers: ${held} ranges are held by live workers`),
      }, readRange);
      deps.progress.waiting?.(WAITING_FOR_WORKERS, undefined);
    }
  } catch (err) {
    if (deps.signal.aborted) {
      const done = [...markers.values()].reduce((n, m) => n + m.size, 0);
      const total = header.tables.reduce((n, t) => n + t.ranges.length, 0);
      throw new CassetteError('INTERRUPTED', `backup ${backupId} interrupted; ${done} of ${total} ranges are saved`, {
        hint: `resume with: ${deps.resumeHint(backupId)}`,
        cause: err,
      });
    }
    throw stoppedBackup(err, backupId, deps.resumeHint(backupId));
  } finally {
    deps.progress.stop();
  }

  let manifest: Manifest;
  if (claims !== undefined && existing === undefined) {
    // Every range is done (forEachClaimed returned), by this worker or others: the manifest is
    // written once, by whichever worker's put succeeds.
    for (const table of header.tables) markers.set(table.name, await readMarkers(deps.store, backupId, table.name));
    manifest = buildManifest(header, markers, deps.now());
    try {
      await writeDocument(deps.store, manifestKey(backupId), manifest);
    } catch (err) {
      if (!(err instanceof BlobExistsError)) throw err;
      manifest = (await readManifest(deps.store, backupId)) ?? manifest;
    }
  } else {
    manifest = existing ?? buildManifest(header, markers, deps.now());
    if (existing === undefined) await writeDocument(deps.store, manifestKey(backupId), manifest);
  }
  const durationMs = Math.max(1, deps.now() - startedAt);
  return {
    backupId,
    repository: deps.store.description,
    keyspace,
    resumed: request.resume !== undefined,
    tables: manifest.tables.map((t) => ({
      name: t.name,
      ranges: t.ranges.length,
      rangesSkipped: t.ranges.length - (claims === undefined ? jobs.filter((j) => j.table === t.name).length : [...mine].filter((m) => m.startsWith(`${t.name}/`)).length),
      rows: t.rows,
      bytes: t.bytes,
    })),
    ranges: manifest.totals.ranges,
    chunks: manifest.totals.chunks,
    rows: manifest.totals.rows,
    bytes: manifest.totals.bytes,
    rowsThisRun,
    rangesByNode: Object.fromEntries([...rangesByNode].sort(([a], [b]) => (a < b ? -1 : 1))),
    durationMs,
    rowsPerSecond: Math.round((rowsThisRun * 1000) / durationMs),
    consistency: request.consistency,
    ...(manifest.approximatedWritetimes === undefined ? {} : { approximatedWritetimes: manifest.approximatedWritetimes.tables }),
    ...(claims === undefined ? {} : { shared: { rangesMine: mine.size } }),
  };
}
