/**
 * `cassette rotate`: online key rotation, in place, as one resumable job kept in the repository
 * (docs/format.md §9). Per token range: export the key, encrypted and key-version columns →
 * re-encrypt → write back under the timestamp or LWT guard (pipeline/rotate/range-stages.ts).
 * Then a verification pass reads the key-version column of every row; rows still under an old key
 * (the application wrote with the old key meanwhile, an LWT raced) are rotated in another round,
 * and the job completes only when none is left.
 *
 * Re-running with the same config resumes the unfinished job (same keyspace, tables, columns and
 * key versions). The schema fingerprint of each table, taken when the job was planned, is checked
 * when the job (re)starts and before every range's write-back: drift stops the job (exit 11).
 * Operators steer a running job through control documents (`rotate pause|resume|throttle`), and a
 * backpressure monitor slows or pauses the write-back when the cluster's read p99 climbs.
 */
import { createHash } from 'node:crypto';
import { text } from 'node:stream/consumers';
import { setTimeout as sleep } from 'node:timers/promises';
import { consistencyCode } from '../cassandra/connection/connect.js';
import { quoteIdentifier } from '../cassandra/values/identifiers.js';
import { requireMurmur3 } from '../cassandra/ring/ring.js';
import { rotationWriterFor } from '../cassandra/writes/rotation-writes.js';
import { captureKeyspace, findTable, partitionKeyColumns } from '../cassandra/schema/capture.js';
import { canonicalJson, type KeyspaceSchema, type TableSchema } from '../cassandra/schema/model.js';
import type { CqlWriteSession } from '../cassandra/connection/session.js';
import { keyVersionScanFor, tableReaderFor } from '../cassandra/reads/table-reader.js';
import { defaultSplitCount, formatToken, parseToken, splitRing, type TokenRange } from '../cassandra/ring/token-ranges.js';
import type { RotationConfig } from '../config/rotation-types.js';
import type { ColumnCipher } from '../crypto/cipher.js';
import { CassetteError } from '../errors.js';
import { newBackupId } from '../manifest/backup-id.js';
import { FORMAT_VERSION } from '../manifest/format.js';
import { jobIdOf, rotationJobKey, rotationReportKey, rotationsFolder, transformedKey, verifiedKey, writtenFolder } from '../manifest/keys.js';
import { readDocument, writeDocument } from '../manifest/repository.js';
import {
  RotationJob, RotationReportDoc, TransformedRange, VerifiedRound, WrittenRange, type RotationTablePlan,
} from '../manifest/rotation-format.js';
import { RequestGate } from '../pipeline/load/request-gate.js';
import { forEachBounded } from '../pipeline/retry.js';
import { Backpressure } from '../pipeline/rotate/backpressure.js';
import { ControlReader, sendControl } from '../pipeline/rotate/control.js';
import { LatencyWindow } from '../pipeline/rotate/latency.js';
import { measuredSession } from '../pipeline/rotate/measured-session.js';
import { runRangeStages, tooManyRejects, type RangeWork, type StageSettings } from '../pipeline/rotate/range-stages.js';
import { readRange } from '../pipeline/export/read-range.js';
import type { RowRotationPlan } from '../pipeline/transform/rekey-row.js';
import { addTotals, totalsOf, ZERO_TOTALS } from '../pipeline/transform/rekey-totals.js';
import type { ChunkTransformer } from '../pipeline/transform/transformer.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { BackupCluster } from './backup.js';
import type { ProgressSink } from './progress.js';
import { rotationPlans } from './rotation-plan.js';

export interface RotateRequest {
  readonly config: RotationConfig;
  /** Resume this job rather than the unfinished one the config matches. */
  readonly jobId?: string;
  /** Plan a new job even when the config has an unfinished one (after an intended schema change). */
  readonly newJob?: boolean;
  /** Rows/s for the write-back; overrides the config's `execution.rate` and earlier `rotate throttle`s. */
  readonly rate?: number;
  /** Verification rounds this run may add before giving up on rows left behind (exit 9). */
  readonly maxRounds: number;
  readonly maxErrors: number;
  readonly fetchSize: number;
  readonly maxInFlight: number;
  readonly batchBytes: number;
  readonly attempts?: number;
  readonly retryBaseDelayMs?: number;
  /** How often the job reads control documents and evaluates backpressure. */
  readonly tickMs?: number;
}

/** What rotate needs from the cluster: what a backup reads with, plus writes. */
export interface RotateCluster extends Pick<BackupCluster, 'name' | 'partitioner' | 'nodes' | 'ringTokens' | 'routingFor'> {
  readonly session: CqlWriteSession;
}

export interface RotateDeps {
  readonly store: BlobStore;
  readonly cluster: RotateCluster;
  readonly cipher: ColumnCipher;
  readonly transformer: ChunkTransformer;
  readonly progress: ProgressSink;
  readonly signal: AbortSignal;
  readonly now: () => number;
  readonly toolVersion: string;
}

export interface RotateTableReport {
  readonly name: string;
  readonly ranges: number;
  readonly rowsExported: number;
  readonly rowsChanged: number;
  readonly rowsSkipped: number;
  readonly valuesRotated: number;
  readonly valuesAlreadyCurrent: number;
  readonly valuesQuarantined: number;
  readonly written: number;
  readonly raced: number;
}

export interface RotateReport {
  readonly jobId: string;
  readonly resumed: boolean;
  readonly keyspace: string;
  readonly repository: string;
  readonly newKeyVersion: string;
  readonly rounds: number;
  readonly tables: readonly RotateTableReport[];
  readonly valuesRotated: number;
  readonly valuesQuarantined: number;
  readonly raced: number;
  readonly durationMs: number;
  /** Rows this run wrote back per second (a resumed job's earlier runs are not counted). */
  readonly rowsPerSecond: number;
  /** LWT guard: WRITETIMEs are the Paxos ballot's, not the originals + 1 µs. */
  readonly writetimesPreserved: boolean;
}

const SAMPLE = 20;

function sha256(value: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(value)).digest('hex')}`;
}

/** What makes two runs "the same rotation": resuming requires it to match. */
export function rotationFingerprint(config: RotationConfig, cipher: ColumnCipher): string {
  return sha256({
    keyspace: config.cluster.keyspace,
    tables: config.tables.map((t) => ({ name: t.name, columns: t.encryptedColumns })),
    keyVersionColumn: config.keyVersionColumn,
    newKeyVersion: cipher.newKeyVersion,
    oldKeyVersions: cipher.oldKeyVersions,
  });
}

/** A table's schema as the job depends on it: columns and the indexes and views over it. */
function tableFingerprint(schema: KeyspaceSchema, table: TableSchema): string {
  return sha256({
    columns: table.columns,
    indexes: schema.indexes.filter((i) => i.table === table.name).map((i) => i.options),
    views: schema.views.filter((v) => v.baseTable === table.name).map((v) => v.name),
  });
}

/** Every job in the repository without a report (unfinished), oldest first. */
async function unfinishedJobs(store: BlobStore): Promise<RotationJob[]> {
  const ids = new Set<string>();
  const finished = new Set<string>();
  for await (const entry of store.list(rotationsFolder())) {
    const id = jobIdOf(entry.key);
    if (id === undefined) continue;
    ids.add(id);
    if (entry.key === rotationReportKey(id)) finished.add(id);
  }
  const jobs: RotationJob[] = [];
  for (const id of [...ids].sort()) {
    if (finished.has(id)) continue;
    const job = await readDocument(store, rotationJobKey(id), RotationJob, `rotation job ${id}`);
    if (job !== undefined) jobs.push(job);
  }
  return jobs;
}

export async function readJob(store: BlobStore, jobId: string): Promise<RotationJob> {
  const job = await readDocument(store, rotationJobKey(jobId), RotationJob, `rotation job ${jobId}`);
  if (job === undefined) {
    throw new CassetteError('INVALID_INPUT', `rotation job ${jobId} not found in ${store.description}`, {
      hint: 'run `cassette rotate status --config …` to see the jobs of this config',
    });
  }
  return job;
}

/** The job this config runs: `jobId` if given, else the unfinished job of the same rotation, else none. */
export async function findJob(store: BlobStore, fingerprint: string, jobId?: string): Promise<RotationJob | undefined> {
  if (jobId !== undefined) {
    const job = await readJob(store, jobId);
    if (job.rotationFingerprint !== fingerprint) {
      throw new CassetteError('INVALID_INPUT', `rotation job ${jobId} rotates other tables, columns or key versions than this config`, {
        hint: 'use the config the job was started with',
      });
    }
    return job;
  }
  const matching = (await unfinishedJobs(store)).filter((j) => j.rotationFingerprint === fingerprint);
  return matching.at(-1);
}

function planJob(config: RotationConfig, schema: KeyspaceSchema, cipher: ColumnCipher, request: RotateRequest, deps: RotateDeps): RotationJob {
  const createdAt = deps.now();
  const boundaries = deps.cluster.ringTokens();
  const tables: RotationTablePlan[] = config.tables.map((rotation) => {
    const table = findTable(schema, rotation.name) as TableSchema;
    const count = rotation.chunks ?? defaultSplitCount({ nodes: deps.cluster.nodes, parallel: config.execution.workers, ringTokens: boundaries.length });
    return {
      name: table.name,
      columns: [...rotation.encryptedColumns],
      guard: rotation.useLwtGuard ? 'lwt' : 'timestamp',
      preserveTtl: rotation.preserveTtl,
      preserveWritetime: rotation.preserveWritetime,
      consistency: { read: rotation.consistency.read, write: rotation.consistency.write },
      schemaFingerprint: tableFingerprint(schema, table),
      ranges: splitRing(boundaries, count).map((r, index) => ({ index, start: formatToken(r.start), end: formatToken(r.end) })),
    };
  });
  return {
    formatVersion: FORMAT_VERSION,
    kind: 'cassette-rotation',
    jobId: `j${newBackupId(createdAt)}`,
    createdAt: new Date(createdAt).toISOString(),
    tool: { name: 'cassette', version: deps.toolVersion },
    configFile: config.file,
    rotationFingerprint: rotationFingerprint(config, cipher),
    keyspace: schema.name,
    cluster: deps.cluster.name,
    provider: cipher.type,
    newKeyVersion: cipher.newKeyVersion,
    oldKeyVersions: [...cipher.oldKeyVersions],
    keyVersionColumn: config.keyVersionColumn as string,
    tables,
    options: { fetchSize: request.fetchSize, gzipLevel: 1, maxChunkBytes: 8 << 20 },
  };
}

function driftError(job: RotationJob, table: string): CassetteError {
  return new CassetteError('SCHEMA_DRIFT', `the schema of ${job.keyspace}.${table} changed since rotation ${job.jobId} was planned; nothing more is written`, {
    hint: 'revert the change and run the same `cassette rotate` again, or start a new job once the change is wanted (`cassette rotate --new`)',
  });
}

function toRange(r: { start: string; end: string }): TokenRange {
  const start = parseToken(r.start);
  const end = parseToken(r.end);
  if (start === undefined || end === undefined) throw new CassetteError('INVALID_INPUT', `rotation job plans an invalid token range (${r.start}, ${r.end}]`);
  return { start, end };
}

/** Starts or resumes the rotation; resolves with the report once report.json is written. */
export async function runRotate(request: RotateRequest, deps: RotateDeps): Promise<RotateReport> {
  const startedAt = deps.now();
  const { store, cluster, cipher, config } = { ...deps, config: request.config };
  if (config.keyVersionColumn === null) {
    throw new CassetteError('INVALID_INPUT', `rotate needs a key-version column (${config.file} sets key_version_column: null)`, {
      hint: 'rotate skips rows already at the new version and verifies by it; add the column (see `cassette doctor`) — or use backup + rekey + restore',
    });
  }
  requireMurmur3(cluster.partitioner);
  const schema = await captureKeyspace(cluster.session, config.cluster.keyspace);
  const plans = rotationPlans(config, schema, cipher, `keyspace ${schema.name}`);
  const fingerprint = rotationFingerprint(config, cipher);
  let job = request.newJob === true ? undefined : await findJob(store, fingerprint, request.jobId);
  const resumed = job !== undefined;
  if (job === undefined) {
    job = planJob(config, schema, cipher, request, deps);
    await writeDocument(store, rotationJobKey(job.jobId), job);
  }
  const theJob = job;
  const jobId = theJob.jobId;
  // Drift check at (re)start, and again before every range's write-back (ranges starting their
  // write-back together share one read of system_schema).
  const checkDrift = (current: KeyspaceSchema): void => {
    for (const table of theJob.tables) {
      const now = findTable(current, table.name);
      if (now === undefined || tableFingerprint(current, now) !== table.schemaFingerprint) throw driftError(theJob, table.name);
    }
  };
  checkDrift(schema);
  let checking: Promise<void> | undefined;
  const beforeWrite = async (): Promise<void> => {
    checking ??= captureKeyspace(cluster.session, theJob.keyspace).then(checkDrift).finally(() => {
      checking = undefined;
    });
    await checking;
  };

  // Steering: control documents, backpressure, the gate every write-back request passes.
  const control = new ControlReader(store, jobId);
  await control.poll();
  if (control.state.paused) {
    await sendControl(store, jobId, { action: 'resume', at: new Date(deps.now()).toISOString() }, deps.now());
    deps.progress.note(`rotation ${jobId} was paused; starting it again resumes it`);
  }
  if (request.rate !== undefined) await sendControl(store, jobId, { action: 'throttle', at: new Date(deps.now()).toISOString(), rate: request.rate }, deps.now());
  await control.poll();
  const baseRate = (): number | undefined => {
    const rate = control.state.rate;
    if (rate === null) return undefined;
    return rate ?? config.execution.rate;
  };
  const gate = new RequestGate(request.maxInFlight, baseRate(), deps.now);
  const latency = new LatencyWindow({ now: deps.now });
  const session = measuredSession(cluster.session, latency);
  let writtenThisSecond = 0;
  let observed = 0;
  const backpressure = new Backpressure({
    window: latency,
    gate,
    thresholdMs: config.execution.readP99ThresholdMs,
    pauseOnBackpressure: config.execution.pauseOnBackpressure,
    baseRate,
    observedRate: () => observed,
    now: deps.now,
  });
  const probeTable = theJob.tables[0] as RotationTablePlan;
  const probeCql = `SELECT ${quoteIdentifier(theJob.keyVersionColumn)} FROM ${quoteIdentifier(theJob.keyspace)}.${quoteIdentifier(probeTable.name)} LIMIT 1`;
  let operatorPaused = control.state.paused;
  let stopping = false;
  const tick = async (): Promise<void> => {
    const commands = await control.poll();
    for (const command of commands) {
      if (command.action === 'pause') deps.progress.note(`rotation ${jobId}: pause requested; finishing the ranges in flight`);
      else if (command.action === 'resume') deps.progress.note(`rotation ${jobId}: resumed`);
      else deps.progress.note(`rotation ${jobId}: rate set to ${command.rate === null ? 'unlimited' : `${command.rate} rows/s`}`);
    }
    operatorPaused = control.state.paused;
    observed = writtenThisSecond * (1000 / (request.tickMs ?? 1000));
    writtenThisSecond = 0;
    const event = backpressure.tick();
    if (event !== undefined) {
      const s = backpressure.snapshot();
      deps.progress.note(`backpressure ${event}: read p99 ${s.readP99Ms?.toFixed(1) ?? '–'} ms (threshold ${s.thresholdMs ?? '–'} ms), rate ${s.effectiveRate === undefined ? 'unlimited' : `${Math.round(s.effectiveRate)} rows/s`}`);
    }
    if (backpressure.needsProbe()) await session.execute(probeCql, [], { consistency: consistencyCode(probeTable.consistency.read) }).catch(() => undefined);
  };
  const ticker = (async () => {
    while (!stopping) {
      await sleep(request.tickMs ?? 1000);
      if (stopping) break;
      await tick().catch((err: unknown) => deps.progress.note(`control: ${(err as Error).message}`));
    }
  })();

  const settingsFor = (table: RotationTablePlan): StageSettings => ({
    fetchSize: theJob.options.fetchSize,
    gzipLevel: theJob.options.gzipLevel,
    maxChunkBytes: theJob.options.maxChunkBytes,
    readConsistency: consistencyCode(table.consistency.read),
    writeConsistency: consistencyCode(table.consistency.write),
    serialConsistency: consistencyCode(table.consistency.write.startsWith('LOCAL_') ? 'LOCAL_SERIAL' : 'SERIAL'),
    batchBytes: request.batchBytes,
    attempts: request.attempts ?? 5,
    retryBaseDelayMs: request.retryBaseDelayMs ?? 1000,
  });
  const works = new Map<string, Omit<RangeWork, 'round' | 'index' | 'range' | 'routing'>>();
  for (const table of theJob.tables) {
    const tableSchema = findTable(schema, table.name) as TableSchema;
    const plan = plans.get(table.name) as RowRotationPlan;
    const conditionColumns = [...table.columns, theJob.keyVersionColumn];
    works.set(table.name, {
      jobId,
      table: table.name,
      plan,
      reader: tableReaderFor(schema, table.name, conditionColumns),
      writer: rotationWriterFor(schema.name, tableSchema, schema.types, {
        guard: table.guard, preserveTtl: table.preserveTtl, preserveWritetime: table.preserveWritetime, conditionColumns,
      }),
      partitionKeyColumns: partitionKeyColumns(tableSchema).length,
      conditionColumns,
    });
  }

  let rejected = 0;
  // Rows this process wrote back (not the markers of ranges finished by earlier runs): the report's rate.
  let writtenThisRun = 0;
  let round = 0;
  let roundsThisRun = 0;
  let rangesOfRound: Map<string, number[]> = new Map(theJob.tables.map((t) => [t.name, t.ranges.map((r) => r.index)]));
  // Skip rounds already verified by earlier runs.
  for (;;) {
    const verified = await readDocument(store, verifiedKey(jobId, round), VerifiedRound, `verification of round ${round}`);
    if (verified === undefined) break;
    rangesOfRound = new Map(Object.entries(verified.ranges));
    round++;
  }

  try {
    for (;;) {
      const quarantinedKeys = new Set<string>();
      const items = theJob.tables.flatMap((table) => (rangesOfRound.get(table.name) ?? []).map((index) => ({ table, index })));
      deps.progress.start({
        title: `rotate ${jobId}${round > 0 ? ` (round ${round + 1})` : ''}`,
        unitName: 'ranges',
        parts: theJob.tables.map((t) => ({ name: t.name, units: rangesOfRound.get(t.name)?.length ?? 0 })),
      });
      await forEachBounded(items, config.execution.workers, async ({ table, index }) => {
        while (operatorPaused && !deps.signal.aborted) await sleep(200);
        deps.signal.throwIfAborted();
        const planned = table.ranges.find((r) => r.index === index);
        if (planned === undefined) throw new Error(`internal: no range ${index} in ${table.name}`);
        const range = toRange(planned);
        const routing = cluster.routingFor(theJob.keyspace, range);
        const outcome = await runRangeStages({ ...(works.get(table.name) as RangeWork), round, index, range, ...(routing === undefined ? {} : { routing }) }, settingsFor(table), {
          store, session, transformer: deps.transformer, gate, signal: deps.signal, now: deps.now, beforeWrite,
          onReject: (_table, _key, _reason) => {
            if (++rejected > request.maxErrors) throw tooManyRejects(jobId, request.maxErrors);
          },
          onRows: (t, n) => {
            writtenThisSecond += n;
            writtenThisRun += n;
            deps.progress.rows(t, n, 0);
          },
          onRetry: (line) => deps.progress.note(line),
          snapshot: () => {
            const s = backpressure.snapshot();
            return { readP99Ms: s.readP99Ms ?? null, writeP99Ms: s.writeP99Ms ?? null, rate: s.effectiveRate ?? null };
          },
        });
        for (const key of outcome.transformed.quarantineKeys) {
          for (const line of (await readText(store, key)).split('\n')) {
            if (line === '') continue;
            const q = JSON.parse(line) as { table: string; key: unknown[] };
            quarantinedKeys.add(`${q.table}|${JSON.stringify(q.key)}`);
          }
        }
        deps.progress.unitDone(table.name);
      }, deps.signal);
      deps.progress.stop();

      // Verification: every row of every table, by its key-version column.
      deps.progress.note(`rotation ${jobId}: verifying the key version of every row`);
      const verified = await verifyRound(theJob, schema, round, quarantinedKeys, session, cluster, deps);
      await writeDocument(store, verifiedKey(jobId, round), verified);
      round++;
      roundsThisRun++;
      if (verified.leftBehind === 0) break;
      deps.progress.note(`rotation ${jobId}: ${verified.leftBehind} rows still under an old key; rotating them in round ${round + 1}`);
      if (roundsThisRun >= request.maxRounds) {
        const sample = verified.sample.slice(0, 5).map((s) => `${s.table} ${JSON.stringify(s.key)}`).join('; ');
        throw new CassetteError('VERIFY_MISMATCH', `rotation ${jobId}: ${verified.leftBehind} rows are still under an old key after ${roundsThisRun} rounds (e.g. ${sample})`, {
          hint: `is the application still writing with the old key? Switch it to the new key, then run the same \`cassette rotate\` again; the rows are listed in ${verifiedKey(jobId, round - 1)}`,
        });
      }
      rangesOfRound = new Map(Object.entries(verified.ranges));
    }
  } catch (err) {
    if (deps.signal.aborted) {
      throw new CassetteError('INTERRUPTED', `rotation ${jobId} interrupted; finished stages are saved`, {
        hint: 'run the same `cassette rotate --config …` again to resume it', cause: err,
      });
    }
    throw err;
  } finally {
    stopping = true;
    deps.progress.stop();
    await ticker.catch(() => undefined);
  }

  // Totals over every round (markers of earlier runs included).
  const tables = await jobTotals(store, theJob, round);
  const report: RotationReportDoc = { formatVersion: FORMAT_VERSION, jobId, completedAt: new Date(deps.now()).toISOString(), rounds: round, tables };
  await writeDocument(store, rotationReportKey(jobId), report);
  const durationMs = Math.max(1, deps.now() - startedAt);
  return {
    jobId,
    resumed,
    keyspace: theJob.keyspace,
    repository: store.description,
    newKeyVersion: theJob.newKeyVersion,
    rounds: round,
    tables,
    valuesRotated: tables.reduce((n, t) => n + t.valuesRotated, 0),
    valuesQuarantined: tables.reduce((n, t) => n + t.valuesQuarantined, 0),
    raced: tables.reduce((n, t) => n + t.raced, 0),
    durationMs,
    rowsPerSecond: Math.round((writtenThisRun * 1000) / durationMs),
    writetimesPreserved: theJob.tables.every((t) => t.guard === 'timestamp' && t.preserveWritetime),
  };
}

async function readText(store: BlobStore, key: string): Promise<string> {
  return text(await store.get(key));
}

/** Reads the key-version column of every row of every table of the job. */
async function verifyRound(job: RotationJob, schema: KeyspaceSchema, round: number, quarantined: ReadonlySet<string>, session: CqlWriteSession, cluster: RotateCluster, deps: RotateDeps): Promise<VerifiedRound> {
  let leftBehind = 0;
  let quarantinedRows = 0;
  const ranges: Record<string, number[]> = {};
  const sample: { table: string; key: unknown[] }[] = [];
  for (const table of job.tables) {
    const scan = keyVersionScanFor(schema, table.name, job.keyVersionColumn, table.columns);
    const behind = new Set<number>();
    await forEachBounded(table.ranges, 4, async (planned) => {
      const range = toRange(planned);
      const routing = cluster.routingFor(job.keyspace, range);
      const pages = readRange(session, scan.cql, [range.start, range.end], {
        fetchSize: job.options.fetchSize, consistency: consistencyCode(table.consistency.read), signal: deps.signal, now: deps.now,
        ...(routing === undefined ? {} : { routing }),
      });
      for await (const page of pages) {
        for (const row of page.rows) {
          const seen = scan.classify(row);
          if (!seen.hasEncryptedValue || seen.keyVersion === job.newKeyVersion) continue;
          if (quarantined.has(`${table.name}|${JSON.stringify(seen.key)}`)) {
            quarantinedRows++;
            continue;
          }
          leftBehind++;
          behind.add(planned.index);
          if (sample.length < SAMPLE) sample.push({ table: table.name, key: seen.key });
        }
      }
    }, deps.signal);
    if (behind.size > 0) ranges[table.name] = [...behind].sort((a, b) => a - b);
  }
  return { formatVersion: FORMAT_VERSION, round, leftBehind, quarantinedRows, ranges, sample, doneAt: new Date(deps.now()).toISOString() };
}

/** Per-table totals of the job from its markers, every round. */
export async function jobTotals(store: BlobStore, job: RotationJob, rounds: number): Promise<RotationReportDoc['tables']> {
  const tables: RotationReportDoc['tables'] = [];
  for (const table of job.tables) {
    let counts = ZERO_TOTALS;
    const t = { rowsExported: 0, written: 0, raced: 0 };
    for (let round = 0; round < rounds; round++) {
      for await (const entry of store.list(`${writtenFolder(job.jobId, round)}${table.name}/`)) {
        const w = await readDocument(store, entry.key, WrittenRange, `write-back marker ${entry.key}`);
        if (w === undefined) continue;
        const tr = await readDocument(store, transformedKey(job.jobId, round, table.name, w.index), TransformedRange, 'transform marker');
        if (tr !== undefined) {
          t.rowsExported += tr.rows;
          counts = addTotals(counts, totalsOf(tr));
        }
        t.written += w.written + w.alreadyWritten;
        t.raced += w.raced;
      }
    }
    tables.push({ name: table.name, ranges: table.ranges.length, rowsExported: t.rowsExported, ...counts, written: t.written, raced: t.raced });
  }
  return tables;
}
