/**
 * `cassette rotate`: online key rotation, in place, as one resumable job kept in the repository
 * (docs/format.md §9). Per token range: export the key, encrypted and key-version columns →
 * re-encrypt → write back under the timestamp or LWT guard (pipeline/rotate/range-stages.ts).
 * Then a verification pass reads the key-version column of every row; rows still under an old key
 * (the application wrote with the old key meanwhile, an LWT raced) are rotated in another round,
 * and the job completes only when none is left (verify.ts).
 *
 * Re-running with the same config resumes the unfinished job (same keyspace, tables, columns and
 * key versions; job.ts). The schema fingerprint of each table, taken when the job was planned, is
 * checked when the job (re)starts and before every range's write-back: drift stops the job (exit 11).
 * Operators steer a running job through control documents (`rotate pause|resume|throttle`), and a
 * backpressure monitor slows or pauses the write-back when the cluster's read p99 climbs (steering.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { consistencyCode, serialConsistencyCode } from '../../cassandra/connection/connect.js';
import { requireMurmur3 } from '../../cassandra/ring/ring.js';
import { rotationWriterFor } from '../../cassandra/writes/rotation-writes.js';
import { captureKeyspace, findTable, partitionKeyColumns } from '../../cassandra/schema/capture.js';
import type { TableSchema } from '../../cassandra/schema/model.js';
import { tableReaderFor } from '../../cassandra/reads/table-reader.js';
import { CassetteError } from '../../errors.js';
import { FORMAT_VERSION } from '../../manifest/format.js';
import { rotationReportKey, verifiedKey } from '../../manifest/keys.js';
import { writeDocument } from '../../manifest/repository.js';
import type { RotationReportDoc, RotationTablePlan } from '../../manifest/rotation-format.js';
import { DEFAULT_RETRY_FOR_MS, forEachBounded } from '../../pipeline/retry.js';
import { runRangeStages, tooManyRejects, type RangeWork, type StageSettings } from '../../pipeline/rotate/range-stages.js';
import type { RowRotationPlan } from '../../pipeline/transform/rekey-row.js';
import { driftGuard, jobTotals, openJob, toRange } from './job.js';
import { rotationPlans } from './row-plans.js';
import { startSteering } from './steering.js';
import type { RotateDeps, RotateReport, RotateRequest } from './types.js';
import { addQuarantined, firstUnverifiedRound, leftBehindError, verifyRound } from './verify.js';
import { readQuarantined, sharedRound } from './shared.js';
import type { VerifiedRound } from '../../manifest/rotation-format.js';
import { BlobExistsError } from '../../storage/blob-store.js';

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
  const { job: theJob, resumed } = await openJob(config, schema, request, deps);
  const jobId = theJob.jobId;
  await deps.leases?.hold({ kind: 'rotation', id: jobId }, request.sharedJobId === undefined ? 'write' : 'work');
  const beforeWrite = driftGuard(theJob, schema, cluster.session);

  const settingsFor = (table: RotationTablePlan): StageSettings => ({
    fetchSize: theJob.options.fetchSize,
    gzipLevel: theJob.options.gzipLevel,
    maxChunkBytes: theJob.options.maxChunkBytes,
    readConsistency: consistencyCode(table.consistency.read),
    writeConsistency: consistencyCode(table.consistency.write),
    serialConsistency: serialConsistencyCode(cluster.levels.serialConsistency),
    batchBytes: request.batchBytes,
    retryForMs: request.retryForMs ?? DEFAULT_RETRY_FOR_MS,
    ...(request.attempts === undefined ? {} : { attempts: request.attempts }),
    retryBaseDelayMs: request.retryBaseDelayMs ?? 1000,
  });
  const works = new Map<string, Omit<RangeWork, 'round' | 'index' | 'range' | 'route'>>();
  const router = await cluster.readRouter(theJob.keyspace);
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
  let roundsThisRun = 0;
  // Skip rounds already verified by earlier runs.
  let { round, rangesOfRound } = await firstUnverifiedRound(store, theJob);

  // Started last, right before the try whose finally stops it: nothing can throw in between.
  const steering = await startSteering(theJob, request, deps);
  const { gate, session } = steering;
  try {
    for (;;) {
      const quarantinedKeys = new Set<string>();
      const items = theJob.tables.flatMap((plan) => (rangesOfRound.get(plan.name) ?? []).map((index) => ({ table: plan.name, index, plan })));
      deps.progress.start({
        title: `rotate ${jobId}${round > 0 ? ` (round ${round + 1})` : ''}`,
        job: jobId,
        unitName: 'ranges',
        parts: theJob.tables.map((t) => ({ name: t.name, units: rangesOfRound.get(t.name)?.length ?? 0 })),
      });
      const rotateRange = async ({ plan: table, index }: (typeof items)[number]): Promise<void> => {
        while (steering.paused() && !deps.signal.aborted) await sleep(200);
        deps.signal.throwIfAborted();
        const planned = table.ranges.find((r) => r.index === index);
        if (planned === undefined) throw new Error(`internal: no range ${index} in ${table.name}`);
        const range = toRange(planned);
        const outcome = await runRangeStages({ ...(works.get(table.name) as RangeWork), round, index, range, route: router.route(range) }, settingsFor(table), {
          store, session, transformer: deps.transformer, gate, signal: deps.signal, now: deps.now, beforeWrite,
          onReject: (_table, _key, _reason) => {
            if (++rejected > request.maxErrors) throw tooManyRejects(jobId, request.maxErrors);
          },
          onRows: (t, n) => {
            steering.wrote(n);
            writtenThisRun += n;
            deps.progress.rows(t, n, 0);
          },
          onRetry: (line) => {
            deps.progress.note(line);
            deps.progress.observe?.({ kind: 'retry' });
          },
          snapshot: () => steering.snapshot(),
        });
        await addQuarantined(store, outcome.transformed.quarantineKeys, quarantinedKeys);
        if (outcome.written.rejected > 0) deps.progress.observe?.({ kind: 'rejects', part: table.name, count: outcome.written.rejected });
        if (outcome.written.raced > 0) deps.progress.observe?.({ kind: 'races', part: table.name, count: outcome.written.raced });
        deps.progress.unitDone(table.name, String(index));
      };
      const verify = async (): Promise<VerifiedRound> => {
        // Verification: every row of every table, by its key-version column.
        deps.progress.note(`rotation ${jobId}: verifying the key version of every row`);
        const verified = await verifyRound(theJob, schema, round, quarantinedKeys, session, router, deps, request.retryForMs);
        await writeDocument(store, verifiedKey(jobId, round), verified).catch((err: unknown) => {
          if (!(request.sharedJobId !== undefined && err instanceof BlobExistsError)) throw err; // a slow worker of a shared job also verified
        });
        return verified;
      };
      let verified: VerifiedRound;
      if (request.sharedJobId === undefined) {
        await forEachBounded(items, config.execution.workers, rotateRange, deps.signal);
        deps.progress.stop();
        verified = await verify();
      } else {
        verified = await sharedRound(theJob, round, items, rotateRange, async () => {
          await readQuarantined(store, theJob, round, items, quarantinedKeys); // every worker's, not only this one's
          await verify();
        }, { ...deps, parallel: config.execution.workers, ...(request.claimPollMs === undefined ? {} : { pollMs: request.claimPollMs }) });
        deps.progress.stop();
      }
      round++;
      roundsThisRun++;
      if (verified.leftBehind === 0) break;
      deps.progress.note(`rotation ${jobId}: ${verified.leftBehind} rows still under an old key; rotating them in round ${round + 1}`);
      if (roundsThisRun >= request.maxRounds) throw leftBehindError(jobId, verified, roundsThisRun);
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
    const stopped = steering.stop();
    deps.progress.stop();
    await stopped;
  }

  // Totals over every round (markers of earlier runs included).
  const tables = await jobTotals(store, theJob, round);
  const report: RotationReportDoc = { formatVersion: FORMAT_VERSION, jobId, completedAt: new Date(deps.now()).toISOString(), rounds: round, tables };
  // A shared job's report.json is the first finishing worker's.
  await writeDocument(store, rotationReportKey(jobId), report).catch((err: unknown) => {
    if (!(request.sharedJobId !== undefined && err instanceof BlobExistsError)) throw err;
  });
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
    consistency: theJob.tables.map((t) => ({ table: t.name, read: t.consistency.read, write: t.consistency.write })),
    serialConsistency: cluster.levels.serialConsistency,
  };
}
