/**
 * `cassette rekey`: the offline transform. Reads a complete backup, re-encrypts the configured
 * columns of the configured tables under the new key, and writes a NEW backup (docs/format.md §8)
 * whose backup.json records `derivedFrom` and what was rotated. Tables the config does not name
 * are copied chunk by chunk, byte-identical. The source backup is never modified.
 *
 * Order of writes, like a backup: backup.json and schema.cql first; then per chunk the new chunk,
 * its quarantine list if any, and its marker (the checkpoint); per range its marker once all its
 * chunks have one; manifest.json last. `--resume <new-id>` redoes only chunks without a marker.
 * A dry run writes nothing: it opens every value and reports.
 */
import { canonicalJson, type KeyspaceSchema } from '../../cassandra/schema/model.js';
import type { RotationConfig } from '../../config/rotation-types.js';
import type { ColumnCipher, KmsCalls } from '../../crypto/cipher.js';
import { CassetteError } from '../../errors.js';
import { newAttemptId, newBackupId } from '../../manifest/backup-id.js';
import {
  FORMAT_VERSION, type BackupHeader, type Manifest, type RangeMarker, type RekeyTotals,
} from '../../manifest/format.js';
import {
  backupFolder, backupHeaderKey, chunkKey, manifestKey, markerKey, quarantineFolder, quarantineKey, rekeyChunkKey, schemaCqlKey,
} from '../../manifest/keys.js';
import { RekeyChunkDone, type QuarantineEntry } from '../../manifest/rekey-format.js';
import { copyChunk, describe, readChunkDone, readChunkMarker, type ChunkItem } from './chunks.js';
import { ignoreIf, joinOrCreateRekey, rekeyClaimedRanges } from './shared.js';
import type { WorkerIdentity } from '../../pipeline/work-claims.js';
import { readCompleteManifest, readHeader, readManifest, readMarkers, writeDocument } from '../../manifest/repository.js';
import { addTotals, totalsOf, ZERO_TOTALS } from '../../pipeline/transform/rekey-totals.js';
import { QUARANTINE_SAMPLE } from '../../pipeline/transform/transform-chunk.js';
import type { ChunkTransformer } from '../../pipeline/transform/transformer.js';
import { DEFAULT_RETRY_FOR_MS, forEachBounded, formatDuration, MAX_RETRY_DELAY_MS, withRetries } from '../../pipeline/retry.js';
import { withRepositoryRetries } from '../../pipeline/retrying-store.js';
import { isRepositoryOutage, type BlobStore } from '../../storage/blob-store.js';
import { buildManifest } from '../backup.js';
import type { ProgressSink } from '../progress.js';
import type { Leases } from '../../pipeline/lease-holder.js';
import { rotationPlans } from '../rotate/row-plans.js';

export interface RekeyRequest {
  /** The backup to re-encrypt. With `resume`, optional; when given it must be the one resumed. */
  readonly backupId?: string;
  /** The id of an interrupted rekey's new backup, to finish it. */
  readonly resume?: string;
  /** How long a repository outage is waited out (--retry-for); default 5 minutes. */
  readonly retryForMs?: number;
  readonly config: RotationConfig;
  readonly dryRun: boolean;
  /** Quarantined values tolerated before the run counts as failed (exit 7). */
  readonly allowFailures: number;
  /**
   * A rekey shared by many workers (format.md §13): the new backup's id; every worker runs the same
   * command with it, the first creates the new backup, the others join, ranges are claimed one by one.
   */
  readonly rekeyId?: string;
  /** How often a worker with nothing left to take looks again at ranges others hold (default 1 s). */
  readonly claimPollMs?: number;
}

export interface RekeyDeps extends WorkerIdentity {
  readonly store: BlobStore;
  /** The cipher built in this thread: versions for the manifest, and the key check before any write. */
  readonly cipher: ColumnCipher;
  readonly transformer: ChunkTransformer;
  readonly progress: ProgressSink;
  readonly signal: AbortSignal;
  readonly now: () => number;
  readonly toolVersion: string;
  readonly resumeHint: (backupId: string) => string;
  /** The run's leases (format.md §11): the source held for reading, the new backup for writing. */
  readonly leases?: Leases;
}

export interface RekeyTableReport {
  readonly name: string;
  /** False for tables copied unchanged. */
  readonly rotated: boolean;
  readonly columns: readonly string[];
  readonly chunks: number;
  readonly rows: number;
}

export interface RekeyReport extends RekeyTotals {
  readonly sourceBackupId: string;
  /** The new backup; undefined in a dry run. */
  readonly backupId: string | undefined;
  readonly dryRun: boolean;
  readonly resumed: boolean;
  readonly repository: string;
  readonly keyspace: string;
  readonly provider: string;
  readonly newKeyVersion: string;
  readonly oldKeyVersions: readonly string[];
  readonly tables: readonly RekeyTableReport[];
  /** Where the quarantine lists are (repository key prefix), when any value was quarantined. */
  readonly quarantineFolder: string | undefined;
  /** The first quarantined values (table, column, primary key; never a value). */
  readonly quarantineSample: readonly QuarantineEntry[];
  readonly allowFailures: number;
  /** Values re-encrypted by this run, its duration and rate. */
  readonly valuesThisRun: number;
  readonly durationMs: number;
  readonly valuesPerSecond: number;
  /** KMS calls this run made (aws-kms provider only). */
  readonly kmsCalls?: KmsCalls;
  /** A shared rekey (--rekey-id): the ranges this worker re-encrypted (the others did the rest). */
  readonly shared?: { readonly rangesMine: number };
}


/** Re-encrypts a backup into a new one (or, dry, just opens every value); resolves with the report. */
export async function runRekey(request: RekeyRequest, given: RekeyDeps): Promise<RekeyReport> {
  const retryForMs = request.retryForMs ?? DEFAULT_RETRY_FOR_MS;
  const deps: RekeyDeps = { ...given, store: withRepositoryRetries(given.store, { retryForMs, signal: given.signal, onWait: (line) => given.progress.waiting?.('repository', line) }) };
  const startedAt = deps.now();
  const { store, cipher } = deps;
  let sourceId = request.backupId;
  let existingHeader: BackupHeader | undefined;
  if (request.resume !== undefined) {
    if (request.dryRun) throw new CassetteError('USAGE', '--dry-run and --resume do not go together: a dry run writes nothing to resume');
    existingHeader = await readHeader(store, request.resume);
    if (existingHeader?.derivedFrom === undefined || existingHeader.rekey === undefined) {
      throw new CassetteError('BACKUP_INVALID', existingHeader === undefined
        ? `backup ${request.resume} not found in ${store.description}`
        : `backup ${request.resume} was not written by \`cassette rekey\`; there is no rekey to resume`);
    }
    if (sourceId !== undefined && sourceId !== existingHeader.derivedFrom.backupId) {
      throw new CassetteError('USAGE', `backup ${request.resume} re-encrypts ${existingHeader.derivedFrom.backupId}, not ${sourceId}`);
    }
    sourceId = existingHeader.derivedFrom.backupId;
    await deps.leases?.hold({ kind: 'backup', id: request.resume }, 'write');
  }
  if (sourceId === undefined) throw new CassetteError('USAGE', 'rekey needs the id of the backup to re-encrypt (or --resume <new-backup-id>)');
  await deps.leases?.hold({ kind: 'backup', id: sourceId }, 'read');
  const source = await readCompleteManifest(store, sourceId);
  const schema = source.keyspace as unknown as KeyspaceSchema;
  if (request.config.cluster.keyspace !== schema.name) {
    throw new CassetteError('INVALID_INPUT', `backup ${sourceId} is of keyspace ${schema.name}, but ${request.config.file} rotates keyspace ${request.config.cluster.keyspace}`, {
      hint: 'use the config written for that keyspace, or set cluster.keyspace',
    });
  }
  const plans = rotationPlans(request.config, schema, cipher, `backup ${sourceId}`);
  const description = describe(request.config, cipher, [...plans.keys()]);
  if (existingHeader?.rekey !== undefined && canonicalJson(existingHeader.rekey) !== canonicalJson(description)) {
    throw new CassetteError('INVALID_INPUT', `backup ${request.resume} was started with other rotation settings (tables, columns or key versions) than ${request.config.file} gives now`, {
      hint: 'resume it with the config it was started with, or start a new rekey',
    });
  }

  const shared = request.rekeyId !== undefined;
  if (shared && (request.dryRun || request.resume !== undefined)) throw new CassetteError('USAGE', '--rekey-id does not go with --dry-run or --resume (a shared rekey resumes by running the same command again)');
  let header = existingHeader;
  if (header === undefined && !request.dryRun) {
    const createdAt = deps.now();
    const { completedAt: _c, tables, totals: _t, rekeyTotals: _r, ...fields } = source;
    const fresh: BackupHeader = {
      ...fields,
      backupId: request.rekeyId ?? newBackupId(createdAt),
      createdAt: new Date(createdAt).toISOString(),
      tool: { name: 'cassette', version: deps.toolVersion },
      derivedFrom: { backupId: sourceId, by: 'rekey' },
      rekey: description,
      tables: tables.map((t) => ({ name: t.name, ranges: t.ranges.map(({ index, start, end }) => ({ index, start, end })) })),
    };
    deps.signal.throwIfAborted();
    await deps.leases?.hold({ kind: 'backup', id: fresh.backupId }, shared ? 'work' : 'write');
    header = shared ? await joinOrCreateRekey(store, fresh) : fresh;
    if (!shared) await writeDocument(store, backupHeaderKey(header.backupId), header);
    if ((await store.head(schemaCqlKey(header.backupId))) === undefined) {
      await store.put(schemaCqlKey(header.backupId), await store.get(schemaCqlKey(sourceId)), { ifAbsent: true }).catch(ignoreIf(shared));
    }
  }
  const targetId = header?.backupId;
  // A run killed between backup.json and schema.cql left no schema.cql: copy it now.
  if (targetId !== undefined && request.resume !== undefined && (await store.head(schemaCqlKey(targetId))) === undefined) {
    await store.put(schemaCqlKey(targetId), await store.get(schemaCqlKey(sourceId)), { ifAbsent: true });
  }

  // What earlier runs (or the other workers of a shared rekey) finished.
  const reading = targetId !== undefined && (request.resume !== undefined || shared);
  const rangeDone = new Map<string, Map<number, RangeMarker>>();
  const chunkDone = reading ? await readChunkDone(store, targetId) : new Map<string, RekeyChunkDone>();
  for (const table of source.tables) rangeDone.set(table.name, reading ? await readMarkers(store, targetId, table.name) : new Map());
  const existingManifest = reading ? await readManifest(store, targetId) : undefined;

  // The work: chunks of rotated tables, and (not in a dry run) chunks of the other tables to copy.
  const items: ChunkItem[] = [];
  const remaining = new Map<string, number>();
  const emptyRanges: { table: string; range: RangeMarker }[] = [];
  for (const table of source.tables) {
    const rotate = plans.has(table.name);
    if (!rotate && request.dryRun) continue;
    for (const r of table.ranges) {
      if (existingManifest !== undefined || rangeDone.get(table.name)?.has(r.index) === true) continue;
      const range: RangeMarker = { formatVersion: FORMAT_VERSION, table: table.name, ...r };
      const todo = r.chunks.map((entry, chunk) => ({ table: table.name, range, chunk, entry, rotate }))
        .filter((item) => !chunkDone.has(`${item.table}/${r.index}/${item.chunk}`));
      remaining.set(`${table.name}/${r.index}`, todo.length);
      if (todo.length === 0) emptyRanges.push({ table: table.name, range });
      items.push(...todo);
    }
  }

  const parts = source.tables.filter((t) => plans.has(t.name) || !request.dryRun)
    .map((t) => ({ name: t.name, units: t.ranges.reduce((n, r) => n + r.chunks.length, 0) }));
  deps.progress.start({ title: request.dryRun ? `rekey dry run of backup ${sourceId}` : `rekey ${sourceId} → ${targetId}`, job: targetId ?? sourceId, unitName: 'chunks', parts });
  for (const part of parts) {
    const left = items.filter((i) => i.table === part.name).length;
    if (part.units - left > 0) deps.progress.skip(part.name, part.units - left);
  }

  let runTotals = ZERO_TOTALS;
  let kmsCalls: KmsCalls | undefined;
  const quarantineSample: QuarantineEntry[] = [];
  /** Writes a range's marker once every chunk of it has one (the new chunks replace the source's). */
  const finishRange = async (table: string, range: RangeMarker): Promise<void> => {
    if (targetId === undefined) return;
    const chunks = plans.has(table)
      ? range.chunks.map((_, chunk) => {
        const done = chunkDone.get(`${table}/${range.index}/${chunk}`);
        if (done === undefined) throw new Error(`internal: chunk ${chunk} of range ${range.index} of ${table} has no marker`);
        return done.entry;
      })
      : range.chunks;
    const marker: RangeMarker = plans.has(table) ? { ...range, attempt: newAttemptId(), bytes: chunks.reduce((n, c) => n + c.bytes, 0), chunks } : range;
    await writeDocument(store, markerKey(targetId, table, range.index), marker).catch(ignoreIf(shared));
    rangeDone.get(table)?.set(range.index, marker);
  };

  const rekeyChunk = async (item: ChunkItem): Promise<void> => {
      // A chunk is the unit of retry: a stream cannot be rewound, so an outage mid-chunk copies or
      // transforms it again (a transform under a new attempt id).
      const subject = `chunk ${item.chunk} of range ${item.range.index} of ${item.table}`;
      const retrying = <T>(work: () => Promise<T>): Promise<T> => withRetries(work, {
        retryForMs, baseDelayMs: 1000, maxDelayMs: MAX_RETRY_DELAY_MS, signal: deps.signal, isRetryable: isRepositoryOutage,
        onRetry: ({ error, delayMs, remainingMs }) => deps.progress.waiting?.(subject, `waiting for the repository ${store.description} (${subject}): ${error instanceof Error ? error.message : String(error)} (retrying for up to ${formatDuration(remainingMs + delayMs)} more)`),
        onRecovered: () => deps.progress.waiting?.(subject, undefined),
      });
      if (!item.rotate) {
        await retrying(() => copyChunk(store, sourceId, targetId as string, item.entry, deps.signal));
      } else {
        const plan = plans.get(item.table);
        if (plan === undefined) throw new Error(`internal: no plan for ${item.table}`);
        const result = await retrying(() => {
          const attempt = newAttemptId();
          return deps.transformer.run({
            sourceKey: chunkKey(sourceId, item.entry.key), source: item.entry,
            target: targetId === undefined ? undefined : {
              folder: backupFolder(targetId), quarantineKey: quarantineKey(targetId, item.table, item.range.index, item.chunk, attempt),
            },
            table: item.table, range: item.range.index, chunk: item.chunk, plan, attempt, gzipLevel: source.options.gzipLevel, changedOnly: false,
          }, deps.signal);
        });
        runTotals = addTotals(runTotals, totalsOf(result));
        if (result.kmsCalls !== undefined) {
          kmsCalls = { generateDataKey: (kmsCalls?.generateDataKey ?? 0) + result.kmsCalls.generateDataKey, decrypt: (kmsCalls?.decrypt ?? 0) + result.kmsCalls.decrypt };
        }
        for (const q of result.quarantineSample) if (quarantineSample.length < QUARANTINE_SAMPLE) quarantineSample.push(q);
        if (targetId !== undefined && result.entry !== undefined) {
          const marker: RekeyChunkDone = {
            formatVersion: FORMAT_VERSION, table: item.table, range: item.range.index, chunk: item.chunk, entry: result.entry,
            ...totalsOf(result), ...(result.quarantineKey === undefined ? {} : { quarantineKey: result.quarantineKey }),
            doneAt: new Date(deps.now()).toISOString(),
          };
          const key = rekeyChunkKey(targetId, item.table, item.range.index, item.chunk);
          // A shared rekey: another worker's attempt of this chunk may have written its marker first; that one counts.
          await writeDocument(store, key, marker).catch(ignoreIf(shared));
          chunkDone.set(`${item.table}/${item.range.index}/${item.chunk}`, shared ? await readChunkMarker(store, key) : marker);
        }
      }
      deps.progress.rows(item.table, item.entry.rows, item.entry.rawBytes);
      deps.progress.unitDone(item.table, `${item.range.index}/${item.chunk}`);
  };
  let rangesMine = 0;
  try {
    if (!shared) {
      for (const { table, range } of emptyRanges) await finishRange(table, range);
      await forEachBounded(items, deps.transformer.concurrency, async (item) => {
        await rekeyChunk(item);
        const key = `${item.table}/${item.range.index}`;
        const left = (remaining.get(key) ?? 1) - 1;
        remaining.set(key, left);
        if (left === 0) await finishRange(item.table, item.range);
      }, deps.signal);
    } else {
      rangesMine = await rekeyClaimedRanges(store, deps, {
        targetId: targetId as string, parallel: deps.transformer.concurrency, signal: deps.signal, chunkDone,
        ...(request.claimPollMs === undefined ? {} : { pollMs: request.claimPollMs }),
      }, items, emptyRanges, rekeyChunk, finishRange);
      for (const table of source.tables) rangeDone.set(table.name, await readMarkers(store, targetId as string, table.name));
      for (const [key, marker] of await readChunkDone(store, targetId as string)) chunkDone.set(key, marker);
    }
  } catch (err) {
    if (targetId === undefined) throw err;
    if (deps.signal.aborted) {
      throw new CassetteError('INTERRUPTED', `rekey into backup ${targetId} interrupted; finished chunks are saved`, {
        hint: `resume with: ${deps.resumeHint(targetId)}`, cause: err,
      });
    }
    if (err instanceof CassetteError) {
      throw new CassetteError(err.code, err.message, { hint: `${err.hint === undefined ? 'fix the cause,' : `${err.hint};`} then resume with: ${deps.resumeHint(targetId)}`, cause: err });
    }
    throw err;
  } finally {
    deps.progress.stop();
  }

  // Totals of the whole new backup: every chunk marker, this run's and earlier runs'.
  let totals = ZERO_TOTALS;
  if (targetId === undefined) totals = runTotals;
  else if (existingManifest?.rekeyTotals !== undefined) totals = existingManifest.rekeyTotals;
  else for (const marker of chunkDone.values()) totals = addTotals(totals, totalsOf(marker));

  if (targetId !== undefined && header !== undefined && existingManifest === undefined) {
    const manifest: Manifest = { ...buildManifest(header, rangeDone, deps.now()), rekeyTotals: totals };
    await writeDocument(store, manifestKey(targetId), manifest).catch(ignoreIf(shared)); // a shared rekey's manifest is the first finisher's
  }
  const durationMs = Math.max(1, deps.now() - startedAt);
  return {
    sourceBackupId: sourceId,
    backupId: targetId,
    dryRun: request.dryRun,
    resumed: request.resume !== undefined,
    repository: store.description,
    keyspace: schema.name,
    provider: cipher.type,
    newKeyVersion: cipher.newKeyVersion,
    oldKeyVersions: cipher.oldKeyVersions,
    tables: source.tables.filter((t) => plans.has(t.name) || !request.dryRun).map((t) => ({
      name: t.name,
      rotated: plans.has(t.name),
      columns: plans.get(t.name)?.columns.map((c) => c.name) ?? [],
      chunks: t.ranges.reduce((n, r) => n + r.chunks.length, 0),
      rows: t.rows,
    })),
    ...totals,
    quarantineFolder: totals.valuesQuarantined > 0 && targetId !== undefined ? quarantineFolder(targetId) : undefined,
    quarantineSample,
    allowFailures: request.allowFailures,
    valuesThisRun: runTotals.valuesRotated,
    durationMs,
    valuesPerSecond: Math.round((runTotals.valuesRotated * 1000) / durationMs),
    ...(kmsCalls === undefined ? {} : { kmsCalls }),
    ...(shared ? { shared: { rangesMine } } : {}),
  };
}
