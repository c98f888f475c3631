/**
 * A rotation job as the repository keeps it (docs/format.md §9): what makes two runs the same
 * rotation (the fingerprints), planning a new job — tables, guards and token ranges — or finding the
 * unfinished one to resume, the schema-drift guard, and the per-table totals read back from the
 * job's markers (the report, `rotate status`).
 */
import { createHash } from 'node:crypto';
import type { CqlWriteSession } from '../../cassandra/connection/session.js';
import { captureKeyspace, findTable } from '../../cassandra/schema/capture.js';
import { canonicalJson, type KeyspaceSchema, type TableSchema } from '../../cassandra/schema/model.js';
import { defaultSplitCount, formatToken, parseToken, splitRing, type TokenRange } from '../../cassandra/ring/token-ranges.js';
import type { ConsistencyLevels } from '../../cassandra/connection/options.js';
import type { RotationConfig } from '../../config/rotation-types.js';
import { tableLevels } from '../../config/table-settings.js';
import type { ColumnCipher } from '../../crypto/cipher.js';
import { CassetteError } from '../../errors.js';
import { newBackupId } from '../../manifest/backup-id.js';
import { FORMAT_VERSION } from '../../manifest/format.js';
import { jobIdOf, rotationJobKey, rotationReportKey, rotationsFolder, transformedKey, writtenFolder } from '../../manifest/keys.js';
import { readDocument, writeDocument } from '../../manifest/repository.js';
import {
  RotationJob, RotationReportDoc, TransformedRange, WrittenRange, type RotationTablePlan,
} from '../../manifest/rotation-format.js';
import { addTotals, totalsOf, ZERO_TOTALS } from '../../pipeline/transform/rekey-totals.js';
import { BlobExistsError, type BlobStore } from '../../storage/blob-store.js';
import type { RotateDeps, RotateRequest } from './types.js';

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

/** The job this run works on: `findJob`'s unless `--new`, else one planned now and written before anything else. */
export async function openJob(config: RotationConfig, schema: KeyspaceSchema, request: RotateRequest, deps: RotateDeps): Promise<{ job: RotationJob; resumed: boolean }> {
  const fingerprint = rotationFingerprint(config, deps.cipher);
  if (request.sharedJobId !== undefined) return joinOrCreateJob(config, schema, request, deps, request.sharedJobId);
  const found = request.newJob === true ? undefined : await findJob(deps.store, fingerprint, request.jobId);
  if (found !== undefined) return { job: withRunLevels(found, config, deps.cluster.levels), resumed: true };
  const job = planJob(config, schema, deps.cipher, request, deps);
  await writeDocument(deps.store, rotationJobKey(job.jobId), job);
  return { job, resumed: false };
}

/**
 * The job with each table's read and write levels as this run uses them — the config's, else this
 * run's --consistency — not as an earlier run planned them: a resumed job follows the run resuming it.
 */
function withRunLevels(job: RotationJob, config: RotationConfig, levels: ConsistencyLevels): RotationJob {
  return {
    ...job,
    tables: job.tables.map((table) => {
      const rotation = config.tables.find((t) => t.name === table.name);
      return rotation === undefined ? table : { ...table, consistency: tableLevels(rotation, levels) };
    }),
  };
}

/** A rotation job id: `j` and a backup id (j20261204T120000Z-3fa9c1). */
export const JOB_ID_PATTERN = /^j\d{8}T\d{6}Z-[0-9a-f]{6}$/;

/** A shared job (format.md §13): the first worker plans it (job.json written once), the others join it. */
async function joinOrCreateJob(config: RotationConfig, schema: KeyspaceSchema, request: RotateRequest, deps: RotateDeps, jobId: string): Promise<{ job: RotationJob; resumed: boolean }> {
  if (!JOB_ID_PATTERN.test(jobId)) throw new CassetteError('USAGE', `--job-id ${jobId} is not a rotation job id (j20261204T120000Z-3fa9c1: j, UTC time, then 6 hex digits)`);
  if ((await readDocument(deps.store, rotationJobKey(jobId), RotationJob, `rotation job ${jobId}`)) === undefined) {
    const job = { ...planJob(config, schema, deps.cipher, request, deps), jobId };
    try {
      await writeDocument(deps.store, rotationJobKey(jobId), job);
      return { job, resumed: false };
    } catch (err) {
      if (!(err instanceof BlobExistsError)) throw err; // another worker planned it first: join it
    }
  }
  const found = await findJob(deps.store, rotationFingerprint(config, deps.cipher), jobId);
  return { job: withRunLevels(found as RotationJob, config, deps.cluster.levels), resumed: true };
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
      consistency: tableLevels(rotation, deps.cluster.levels),
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

export function toRange(r: { start: string; end: string }): TokenRange {
  const start = parseToken(r.start);
  const end = parseToken(r.end);
  if (start === undefined || end === undefined) throw new CassetteError('INVALID_INPUT', `rotation job plans an invalid token range (${r.start}, ${r.end}]`);
  return { start, end };
}

/**
 * Checks the schema against the job's fingerprints now, at (re)start, and returns the check to run
 * again before every range's write-back (ranges starting their write-back together share one read
 * of system_schema). Drift throws SCHEMA_DRIFT.
 */
export function driftGuard(job: RotationJob, schema: KeyspaceSchema, session: CqlWriteSession): () => Promise<void> {
  const checkDrift = (current: KeyspaceSchema): void => {
    for (const table of job.tables) {
      const now = findTable(current, table.name);
      if (now === undefined || tableFingerprint(current, now) !== table.schemaFingerprint) throw driftError(job, table.name);
    }
  };
  checkDrift(schema);
  let checking: Promise<void> | undefined;
  return async (): Promise<void> => {
    checking ??= captureKeyspace(session, job.keyspace).then(checkDrift).finally(() => {
      checking = undefined;
    });
    await checking;
  };
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
