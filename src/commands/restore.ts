/**
 * `cassette restore`: load a backup into a cluster — the same one, a renamed keyspace, or another
 * cluster — reproducing every cell's value, WRITETIME and remaining TTL (docs/format.md §7).
 *
 * Order: the backup's structure (pipeline/check/backup-structure.ts) and the target schema are
 * checked before anything is written (an incompatible table is refused with every difference);
 * restore.json is written, the schema created; then each
 * chunk is verified against its checksum *before* any of its rows is written, loaded, and marked
 * done (the checkpoint); report.json last. `resume` skips chunks that are marked done; replaying a
 * chunk is harmless because every write carries the cell's own timestamp (counter chunks are
 * replayed exactly instead: pipeline/load/counter-chunks.ts).
 */
import { randomBytes } from 'node:crypto';
import { CassetteError } from '../errors.js';
import { consistencyName, serialConsistencyCode } from '../cassandra/connection/connect.js';
import { DEFAULT_SERIAL_CONSISTENCY } from '../cassandra/connection/options.js';
import type { CqlWriteSession } from '../cassandra/connection/session.js';
import { planTargetSchema, applySchema, type SchemaMode } from '../cassandra/schema/apply.js';
import { findTable, partitionKeyColumns, type KeyspaceSchema } from '../cassandra/schema/capture.js';
import { replicationOverride, requireReplicationFits, type Replication } from '../cassandra/schema/replication.js';
import { tableWriterFor, type Guard } from '../cassandra/writes/row-writes.js';
import { readsElementWritetimes } from '../cassandra/reads/read-capabilities.js';
import { newRestoreId } from '../manifest/backup-id.js';
import { FORMAT_VERSION, type ApproximatedWritetimes, type ClusterTopology, type Manifest } from '../manifest/format.js';
import { chunkDoneKey, chunkKey, rejectsFolder, rejectsKey, restoreHeaderKey, restoreReportKey } from '../manifest/keys.js';
import { readChunkMarkers, readDocument, writeDocument } from '../manifest/repository.js';
import { ChunkDone, RestoreHeader } from '../manifest/restore-format.js';
import { readChunkRows, verifyChunk } from '../pipeline/chunks/read-chunk.js';
import { requireIntactBackup } from '../pipeline/check/backup-structure.js';
import { openCounterChunks, requireEmptyCounterTables } from '../pipeline/load/counter-chunks.js';
import { loadChunk, type RejectedRow } from '../pipeline/load/load-chunk.js';
import { RequestGate } from '../pipeline/load/request-gate.js';
import type { Leases } from '../pipeline/lease-holder.js';
import { DEFAULT_RETRY_FOR_MS, forEachBounded } from '../pipeline/retry.js';
import { withRepositoryRetries } from '../pipeline/retrying-store.js';
import type { WorkerIdentity } from '../pipeline/work-claims.js';
import { verifyTarget } from '../pipeline/load/verify-target.js';
import { BlobExistsError, type BlobStore } from '../storage/blob-store.js';
import { WAITING_FOR_WORKERS, type ProgressSink } from './progress.js';
import { joinOrCreateRestore, loadClaimedRanges, requireNoCounterTables, waitForSchema } from './restore-shared.js';

export interface RestoreRequest {
  readonly backupId: string;
  readonly tables?: readonly string[];
  readonly targetKeyspace?: string;
  readonly replication?: Readonly<Record<string, string>>;
  /**
   * Renames datacenters (source → target) of the replication a created keyspace gets: the
   * backup's, or `replication` when given. Both matter only when the keyspace is created.
   */
  readonly dcMap?: ReadonlyMap<string, string>;
  readonly schemaMode: SchemaMode;
  readonly guard: Guard;
  readonly resume?: string;
  readonly maxInFlight: number;
  readonly rate?: number;
  readonly maxErrors: number;
  readonly batchBytes: number;
  /** Chunks loaded at once. */
  readonly parallel: number;
  readonly verify: boolean;
  /** How long an outage of Cassandra or the repository is waited out (--retry-for); default 5 minutes. */
  readonly retryForMs?: number;
  readonly attempts?: number;
  readonly retryBaseDelayMs?: number;
  /** A run shared by many workers (format.md §13): every worker runs the same command with this id. */
  readonly restoreId?: string;
  /** How often a worker with nothing left to take looks again at ranges others hold (default 1 s). */
  readonly claimPollMs?: number;
}

export interface RestoreCluster {
  readonly session: CqlWriteSession;
  /** Driver code of every read and write of table data (--consistency). */
  readonly consistency: number;
  /** Driver code of the Paxos phase of `--guard lwt` writes (--serial-consistency); absent: LOCAL_SERIAL. */
  readonly serialConsistency?: number;
  readonly name: string;
  readonly hosts: readonly string[];
  /** The target's nodes: a keyspace is not created with a replication they cannot hold. */
  readonly topology: ClusterTopology;
}

export interface RestoreDeps extends WorkerIdentity {
  readonly store: BlobStore;
  readonly cluster: RestoreCluster;
  readonly progress: ProgressSink;
  readonly signal: AbortSignal;
  readonly now: () => number;
  readonly toolVersion: string;
  readonly resumeHint: (restoreId: string) => string;
  readonly leases?: Leases; // format.md §11: the backup is held for reading, the run for writing
}

export interface RestoreTableReport {
  readonly name: string;
  readonly chunks: number;
  readonly chunksSkipped: number;
  readonly rows: number;
  readonly written: number;
  readonly expiredCells: number;
  readonly rejected: number;
  readonly races: number;
}

export interface RestoreReport {
  readonly restoreId: string;
  readonly backupId: string;
  readonly repository: string;
  readonly targetKeyspace: string;
  readonly targetCluster: string;
  readonly resumed: boolean;
  readonly guard: Guard['kind'];
  /** False under --guard lwt: Cassandra refuses USING TIMESTAMP on conditional writes. */
  readonly writetimesPreserved: boolean;
  /** The level of every read and write of the target's data. */
  readonly consistency: string;
  /** The serial level of the LWT writes (used by --guard lwt only). */
  readonly serialConsistency: string;
  /** The target keyspace's replication: the one the restore created it with, or the one it had. */
  readonly replication: { readonly created: boolean; readonly map: Replication };
  readonly tables: readonly RestoreTableReport[];
  readonly rows: number;
  readonly written: number;
  readonly expiredCells: number;
  readonly rejected: number;
  readonly races: number;
  /** Up to 1,000 primary keys of rows whose LWT condition failed (all are in the rejects files' folder). */
  readonly raceKeys: readonly unknown[][];
  readonly verified: boolean | undefined;
  readonly durationMs: number;
  readonly rowsPerSecond: number;
  readonly bytesPerSecond: number;
  /**
   * Restored columns whose writetimes and TTLs the backup approximated (read from Cassandra 4.x,
   * format.md §6.4): they were written with those. Absent when there are none.
   */
  readonly approximatedWritetimes?: ApproximatedWritetimes['tables'];
  /** A shared run (--restore-id): the ranges this worker loaded (the others loaded the rest). */
  readonly shared?: { readonly rangesMine: number };
}

interface Tally {
  chunks: number;
  skipped: number;
  rows: number;
  written: number;
  expiredCells: number;
  rejected: number;
  races: number;
}

/** Adds a finished chunk's counts to its table's tally. */
function addMarker(perTable: ReadonlyMap<string, Tally>, marker: ChunkDone): void {
  const tally = perTable.get(marker.table);
  if (tally === undefined) return;
  tally.rows += marker.rows;
  tally.written += marker.written;
  tally.expiredCells += marker.expiredCells;
  tally.rejected += marker.rejected;
  tally.races += marker.races;
}

interface ChunkJob {
  readonly table: string;
  readonly range: number;
  readonly chunk: number;
  readonly entry: Manifest['tables'][number]['ranges'][number]['chunks'][number];
}

function selectTables(manifest: Manifest, requested: readonly string[] | undefined): string[] {
  const available = manifest.tables.map((t) => t.name);
  if (requested === undefined || requested.length === 0) return available;
  const unknown = requested.filter((t) => !available.includes(t));
  if (unknown.length > 0) {
    throw new CassetteError('INVALID_INPUT', `backup ${manifest.backupId} has no table ${unknown.map((t) => `"${t}"`).join(', ')}`, {
      hint: `its tables are: ${available.join(', ')}`,
    });
  }
  return [...requested];
}

/** Runs a restore, or finishes an interrupted one. */
export async function runRestore(request: RestoreRequest, deps: RestoreDeps): Promise<RestoreReport> {
  const startedAt = deps.now();
  const { cluster } = deps;
  const retryForMs = request.retryForMs ?? DEFAULT_RETRY_FOR_MS; // chunks are read through a store that resumes a broken read (retrying-store.ts)
  const store = withRepositoryRetries(deps.store, { retryForMs, signal: deps.signal, onWait: (line) => deps.progress.waiting?.('repository', line) });
  await deps.leases?.hold({ kind: 'backup', id: request.backupId }, 'read');
  // Refuses a missing chunk, a wrong size, a missing or disagreeing marker, or an edited manifest before any write.
  const manifest = await requireIntactBackup(store, request.backupId, deps.signal);
  const schema = manifest.keyspace as unknown as KeyspaceSchema;

  const shared = request.restoreId !== undefined;
  let header: RestoreHeader;
  if (request.resume !== undefined) {
    const found = await readDocument(store, restoreHeaderKey(request.backupId, request.resume), RestoreHeader, `restore ${request.resume}`);
    if (found === undefined) {
      throw new CassetteError('INVALID_INPUT', `restore ${request.resume} of backup ${request.backupId} not found`, { hint: 'check the ids with `cassette status`' });
    }
    header = found;
  } else {
    header = {
      formatVersion: FORMAT_VERSION,
      kind: 'cassette-restore',
      restoreId: request.restoreId ?? newRestoreId(startedAt),
      backupId: manifest.backupId,
      createdAt: new Date(startedAt).toISOString(),
      tool: { name: 'cassette', version: deps.toolVersion },
      target: { keyspace: request.targetKeyspace ?? manifest.keyspace.name, cluster: cluster.name, hosts: [...cluster.hosts] },
      tables: selectTables(manifest, request.tables),
      guard: request.guard,
      schemaMode: request.schemaMode,
    };
  }
  const { restoreId } = header;
  await deps.leases?.hold({ kind: 'restore', id: restoreId }, shared ? 'work' : 'write');
  if (shared) requireNoCounterTables(schema, header.tables);
  const keyspace = header.target.keyspace;
  const guard = header.guard as Guard;

  // Everything that can refuse the restore happens before its first write.
  const override = replicationOverride(request, schema);
  let schemaPlan = await planTargetSchema(cluster.session, schema, {
    mode: header.schemaMode, tables: header.tables, keyspace, ...(override === undefined ? {} : { replication: { ...override.replication } }),
  });
  if (schemaPlan.replication.created) requireReplicationFits(schemaPlan.replication.map, cluster.topology.nodes, override?.what ?? "the backup's replication");
  if (request.resume === undefined && !shared) await requireEmptyCounterTables(cluster.session, cluster.consistency, schema, keyspace, header.tables);
  deps.signal.throwIfAborted();
  if (shared) {
    // The worker that creates the run creates the schema; the others wait for it (restore-shared.ts).
    const joined = await joinOrCreateRestore(store, manifest.backupId, restoreId, header);
    header = joined.header;
    if (!joined.created) schemaPlan = await waitForSchema(cluster.session, schemaPlan, retryForMs, deps.signal);
  } else if (request.resume === undefined) await writeDocument(store, restoreHeaderKey(manifest.backupId, restoreId), header);
  await applySchema(cluster.session, schemaPlan);

  // The checkpoints of earlier attempts of this run; chunks loaded now are added as they finish.
  const markers = await readChunkMarkers(store, manifest.backupId, restoreId);
  const done = new Set(markers.map((m) => `${m.table}/${m.range}/${m.chunk}`));

  const jobs: ChunkJob[] = [];
  const perTable = new Map<string, Tally>();
  for (const name of header.tables) {
    const table = manifest.tables.find((t) => t.name === name);
    if (table === undefined) continue;
    const tally = { chunks: 0, skipped: 0, rows: 0, written: 0, expiredCells: 0, rejected: 0, races: 0 };
    perTable.set(name, tally);
    for (const range of table.ranges) {
      range.chunks.forEach((entry, chunk) => {
        tally.chunks++;
        if (done.has(`${name}/${range.index}/${chunk}`)) tally.skipped++;
        else jobs.push({ table: name, range: range.index, chunk, entry });
      });
    }
  }
  for (const marker of markers) addMarker(perTable, marker);

  // Before any write: counter chunks the interrupted run was writing are read back (exact resume).
  const counters = await openCounterChunks({ store, session: cluster.session, consistency: cluster.consistency, backupId: manifest.backupId, restoreId, keyspace, schema, now: deps.now, note: (line) => deps.progress.note(line) }, jobs);
  const gate = new RequestGate(request.maxInFlight, request.rate, deps.now);
  const serialConsistency = cluster.serialConsistency ?? serialConsistencyCode(DEFAULT_SERIAL_CONSISTENCY);
  const raceKeys: unknown[][] = [];
  let rejectedTotal = [...perTable.values()].reduce((n, t) => n + t.rejected, 0);
  let bytesThisRun = 0;
  let rowsThisRun = 0;
  deps.progress.start({ title: `restore ${restoreId}`, job: restoreId, unitName: 'chunks', parts: [...perTable].map(([name, t]) => ({ name, units: t.chunks })) });
  for (const [name, t] of perTable) if (t.skipped > 0) deps.progress.skip(name, t.skipped);
  const approximated = manifest.approximatedWritetimes?.tables.filter((t) => header.tables.includes(t.name));
  const approximatedNames = (approximated ?? []).flatMap((t) => t.columns.map((c) => `${t.name}.${c}`));
  if (approximatedNames.length > 0) {
    deps.progress.note(`note: the backup holds approximated writetimes and TTLs (read from Cassandra ${manifest.cluster.releaseVersion}, docs/format.md §6.4) for ${approximatedNames.join(', ')}; they are written as they are`);
  }
  // A 4.x target cannot return WRITETIME of a list: writeList then compares values alone.
  const targetReadsListWritetimes = readsElementWritetimes(cluster.topology.nodes.map((node) => node.releaseVersion));

  const writers = new Map(header.tables.map((name) => {
    const table = findTable(schema, name);
    if (table === undefined) throw new CassetteError('BACKUP_INVALID', `backup ${manifest.backupId} lists table ${name} but its schema does not describe it`);
    return [name, { writer: tableWriterFor({ keyspace, table, types: schema.types }, guard, { markerTimestampMicros: BigInt(Date.parse(manifest.createdAt)) * 1000n, targetReadsListWritetimes }), pkCount: partitionKeyColumns(table).length }];
  }));

  const loadJob = async (job: ChunkJob): Promise<void> => {
      const what = `chunk ${job.entry.key} (chunk ${job.chunk} of range ${job.range} of table ${job.table})`;
      const key = chunkKey(manifest.backupId, job.entry.key);
      await verifyChunk(store, key, job.entry, what); // refuse a damaged chunk before writing any of its rows
      const { writer, pkCount } = writers.get(job.table) as NonNullable<ReturnType<typeof writers.get>>;
      const chunk = await counters.begin(job, readChunkRows(store, key, job.entry, what));
      const loaded = await loadChunk(chunk.rows, writer, pkCount, {
        batchBytes: request.batchBytes,
        retryForMs, ...(request.attempts === undefined ? {} : { attempts: request.attempts }),
        retryBaseDelayMs: request.retryBaseDelayMs ?? 500,
        consistency: cluster.consistency,
        serialConsistency,
      }, {
        session: cluster.session,
        gate,
        signal: deps.signal,
        now: deps.now,
        onWait: (line) => deps.progress.waiting?.('cassandra', line),
        onRows: (n) => {
          rowsThisRun += n;
          deps.progress.rows(job.table, n, job.entry.rows === 0 ? 0 : Math.round((job.entry.rawBytes * n) / job.entry.rows));
        },
        onReject: (reject: RejectedRow) => {
          rejectedTotal++;
          if (rejectedTotal > request.maxErrors) {
            throw new CassetteError('TOO_MANY_ERRORS', `restore ${restoreId} stopped: ${rejectedTotal} rows failed, more than --max-errors ${request.maxErrors} (last: ${reject.reason})`, {
              hint: `see the rejects in ${store.description}/${rejectsFolder(manifest.backupId, restoreId)}; fix the cause, then resume with: ${deps.resumeHint(restoreId)}`,
            });
          }
        },
      });
      const result = { ...loaded, rows: loaded.rows + chunk.alreadyApplied, written: loaded.written + chunk.alreadyApplied };
      bytesThisRun += job.entry.rawBytes;
      let rejects: string | undefined;
      if (result.rejected.length > 0) {
        rejects = rejectsKey(manifest.backupId, restoreId, job.table, job.range, job.chunk, randomBytes(4).toString('hex'));
        await store.put(rejects, result.rejected.map((r) => JSON.stringify({ reason: r.reason, row: r.row })).join('\n') + '\n', { ifAbsent: true });
      }
      for (const k of result.races) if (raceKeys.length < 1000) raceKeys.push(k);
      const marker: ChunkDone = {
        formatVersion: FORMAT_VERSION, table: job.table, range: job.range, chunk: job.chunk, key: job.entry.key,
        rows: result.rows, written: result.written, expiredCells: result.expiredCells, expiredRows: result.expiredRows, rejected: result.rejected.length, races: result.races.length,
        ...(rejects === undefined ? {} : { rejectsKey: rejects }),
        doneAt: new Date(deps.now()).toISOString(),
      };
      try {
        await writeDocument(store, chunkDoneKey(manifest.backupId, restoreId, job.table, job.range, job.chunk), marker);
        markers.push(marker);
        addMarker(perTable, marker);
      } catch (err) {
        if (!(shared && err instanceof BlobExistsError)) throw err; // a shared run: another worker's attempt finished it first
      }
      if (marker.rejected > 0) deps.progress.observe?.({ kind: 'rejects', part: job.table, count: marker.rejected });
      if (marker.races > 0) deps.progress.observe?.({ kind: 'races', part: job.table, count: marker.races });
      deps.progress.unitDone(job.table, `${job.range}/${job.chunk}`);
  };
  let rangesMine = 0;
  try {
    if (!shared) await forEachBounded(jobs, request.parallel, loadJob, deps.signal);
    else {
      rangesMine = await loadClaimedRanges(store, deps, {
        backupId: manifest.backupId, restoreId, parallel: request.parallel, signal: deps.signal,
        ...(request.claimPollMs === undefined ? {} : { pollMs: request.claimPollMs }),
        onDoneElsewhere: (table, chunks) => deps.progress.skip(table, chunks),
        onWaiting: (held) => deps.progress.waiting?.(WAITING_FOR_WORKERS, held === undefined ? undefined : `waiting for other workers: ${held} ranges are held by live workers`),
      }, jobs, loadJob);
    }
  } catch (err) {
    if (deps.signal.aborted) {
      throw new CassetteError('INTERRUPTED', `restore ${restoreId} interrupted; finished chunks are kept`, { hint: `resume with: ${deps.resumeHint(restoreId)}`, cause: err });
    }
    if (err instanceof CassetteError && err.code !== 'TOO_MANY_ERRORS' && err.code !== 'BACKUP_INVALID') {
      throw new CassetteError(err.code, err.message, { hint: `${err.hint ?? 'fix the cause'}; then resume with: ${deps.resumeHint(restoreId)}`, cause: err });
    }
    throw err;
  } finally {
    deps.progress.stop();
  }

  if (shared) {
    // Every range is done, by this worker or others: the run's totals are every worker's markers.
    markers.splice(0, markers.length, ...(await readChunkMarkers(store, manifest.backupId, restoreId)));
    for (const tally of perTable.values()) Object.assign(tally, { rows: 0, written: 0, expiredCells: 0, rejected: 0, races: 0 });
    for (const marker of markers) addMarker(perTable, marker);
  }
  const verified = request.verify ? await verifyTarget(cluster.session, cluster.consistency, manifest, header.tables, keyspace, markers) : undefined;
  const tables = [...perTable].map(([name, t]) => ({ name, chunks: t.chunks, chunksSkipped: t.skipped, rows: t.rows, written: t.written, expiredCells: t.expiredCells, rejected: t.rejected, races: t.races }));
  const durationMs = Math.max(1, deps.now() - startedAt);
  const sum = (f: (t: RestoreTableReport) => number): number => tables.reduce((n, t) => n + f(t), 0);
  const report: RestoreReport = {
    restoreId, backupId: manifest.backupId, repository: store.description, targetKeyspace: keyspace, targetCluster: cluster.name,
    resumed: request.resume !== undefined, guard: guard.kind, writetimesPreserved: guard.kind !== 'lwt',
    consistency: consistencyName(cluster.consistency), serialConsistency: consistencyName(serialConsistency), replication: schemaPlan.replication, tables,
    rows: sum((t) => t.rows), written: sum((t) => t.written), expiredCells: sum((t) => t.expiredCells), rejected: sum((t) => t.rejected), races: sum((t) => t.races),
    raceKeys, verified: verified?.ok, durationMs,
    rowsPerSecond: Math.round((rowsThisRun * 1000) / durationMs), bytesPerSecond: Math.round((bytesThisRun * 1000) / durationMs),
    ...(approximated === undefined || approximated.length === 0 ? {} : { approximatedWritetimes: approximated }),
    ...(shared ? { shared: { rangesMine } } : {}),
  };
  // A shared run's report.json is the first finishing worker's.
  await store.put(restoreReportKey(manifest.backupId, restoreId), `${JSON.stringify(report, null, 2)}\n`, { ifAbsent: true }).catch((err: unknown) => {
    if (!(shared && err instanceof BlobExistsError)) throw err;
  });
  if (verified !== undefined && !verified.ok) {
    throw new CassetteError('VERIFY_MISMATCH', `restore ${restoreId}: the target differs from the backup in ${verified.differences.length} ranges (${verified.differences.slice(0, 3).join('; ')})`, {
      hint: 'rows written by others, or rows that expired meanwhile, change the counts; restore into an empty keyspace to compare exactly',
    });
  }
  return report;
}
