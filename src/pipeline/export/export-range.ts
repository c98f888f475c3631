/**
 * Exports one token range of one table: read its pages, encode rows to NDJSON, write gzip chunks,
 * then write the range's marker — the checkpoint. Any failure abandons the attempt (its chunks
 * become unreferenced garbage) and the range is re-read from its start under a new attempt id.
 */
import { CassetteError } from '../../errors.js';
import type { CqlSession } from '../../cassandra/connection/session.js';
import type { TokenRange } from '../../cassandra/ring/token-ranges.js';
import { formatToken } from '../../cassandra/ring/token-ranges.js';
import { newAttemptId } from '../../manifest/backup-id.js';
import { FORMAT_VERSION, type RangeMarker } from '../../manifest/format.js';
import { chunkRelativeKey, rangeMarkerKeyIn } from '../../manifest/keys.js';
import { writeDocument } from '../../manifest/repository.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { isRepositoryOutage } from '../../storage/blob-store.js';
import { DEFAULT_RETRY_FOR_MS, formatDuration, MAX_RETRY_DELAY_MS, withRetries } from '../retry.js';
import { writeChunks } from './chunk-writer.js';
import { readRange } from './read-range.js';
import { PageSizer } from './page-sizer.js';
import type { TableReader } from '../../cassandra/reads/table-reader.js';
import type { RangeRoute } from '../../cassandra/ring/read-routes.js';
import { isPermanentReadError } from '../../cassandra/reads/read-errors.js';
import { reasonOf } from '../../cassandra/writes/write-errors.js';
import { unmetConsistency } from '../../cassandra/connection/connect.js';

/** One unit of export work. */
export interface RangeJob {
  /** Where chunks and the marker go: a backup's folder (keys.ts backupFolder) or a rotation stage's. */
  readonly folder: string;
  readonly table: string;
  readonly index: number;
  readonly range: TokenRange;
  readonly reader: TableReader;
  /** Where each attempt's reads go: a live local replica, the next one on each retry. */
  readonly route?: RangeRoute;
}

export interface ExportRangeSettings {
  readonly fetchSize: number;
  /** Raw NDJSON bytes one page should hold at most (page-sizer.ts); DEFAULT_PAGE_BYTES when absent. */
  readonly pageBytes?: number;
  readonly consistency: number;
  readonly gzipLevel: number;
  readonly maxChunkBytes: number;
  /** How long a failing range keeps being retried (--retry-for); default 5 minutes. */
  readonly retryForMs?: number;
  /** An optional cap on attempts per range, on top of the deadline. */
  readonly attempts?: number;
  readonly retryBaseDelayMs: number;
}

export interface ExportRangeDeps {
  readonly session: CqlSession;
  readonly store: BlobStore;
  readonly signal: AbortSignal;
  readonly now: () => number;
  /** Rows and raw bytes as they are written (for progress). Rolled back rows are reported negative. */
  readonly onRows: (rows: number, bytes: number) => void;
  readonly onRetry: (message: string) => void;
  /** The range is waiting out an outage (`line` says of what and for how long more); undefined once it got through. */
  readonly onWait?: (subject: string, line: string | undefined) => void;
  /** Called when a range has been read, with the node that coordinated it (pinned attempts only). */
  readonly onRead?: (node: string) => void;
}

/** False for errors that re-reading the range cannot fix (a full disk and denied access included). */
function isRetryable(err: unknown): boolean {
  if (err instanceof CassetteError) return err.code === 'CLUSTER_UNAVAILABLE' || isRepositoryOutage(err);
  return !(err instanceof Error && err.name === 'AbortError') && !isPermanentReadError(err);
}

/** Reads the range once (attempt number `n`); resolves with the marker it wrote. */
async function attemptRange(job: RangeJob, n: number, settings: ExportRangeSettings, deps: ExportRangeDeps): Promise<RangeMarker> {
  const attempt = newAttemptId();
  const route = job.route?.attempt(n);
  let rows = 0;
  let rawBytes = 0;
  const sizer = new PageSizer(settings.fetchSize, settings.pageBytes);
  const pages = readRange(deps.session, job.reader.cql, [job.range.start, job.range.end], {
    fetchSize: settings.fetchSize,
    pageRows: () => sizer.nextPageRows(),
    consistency: settings.consistency,
    signal: deps.signal,
    now: deps.now,
    ...(route === undefined ? {} : { routing: route.routing }),
  });
  const lines = (async function* () {
    for await (const page of pages) yield page.rows.map((row) => job.reader.encodeRow(row, page.readAtSeconds));
  })();
  try {
    const chunks = await writeChunks(lines, {
      store: deps.store,
      keyFor: (seq) => {
        const relativeKey = chunkRelativeKey(job.table, job.index, attempt, seq);
        return { relativeKey, key: `${job.folder}${relativeKey}` };
      },
      gzipLevel: settings.gzipLevel,
      maxChunkBytes: settings.maxChunkBytes,
      signal: deps.signal,
      onBatch: (n, bytes) => {
        sizer.observe(n, bytes);
        rows += n;
        rawBytes += bytes;
        deps.onRows(n, bytes);
      },
    });
    const marker: RangeMarker = {
      formatVersion: FORMAT_VERSION,
      table: job.table,
      index: job.index,
      start: formatToken(job.range.start),
      end: formatToken(job.range.end),
      attempt,
      rows: chunks.reduce((n, c) => n + c.rows, 0),
      bytes: chunks.reduce((n, c) => n + c.bytes, 0),
      readAt: new Date(deps.now()).toISOString(),
      chunks,
    };
    await writeDocument(deps.store, rangeMarkerKeyIn(job.folder, job.table, job.index), marker);
    if (route !== undefined) deps.onRead?.(route.node);
    return marker;
  } catch (err) {
    deps.onRows(-rows, -rawBytes); // this attempt's rows will be read again
    throw err;
  }
}

/** Exports the range, retrying with backoff; the returned marker is already stored. */
export async function exportRange(job: RangeJob, settings: ExportRangeSettings, deps: ExportRangeDeps): Promise<RangeMarker> {
  let attempts = 0;
  const subject = `${job.table} range ${job.index}`;
  try {
    return await withRetries((n) => {
      attempts = n;
      return attemptRange(job, n, settings, deps);
    }, {
      retryForMs: settings.retryForMs ?? DEFAULT_RETRY_FOR_MS,
      ...(settings.attempts === undefined ? {} : { attempts: settings.attempts }),
      baseDelayMs: settings.retryBaseDelayMs,
      maxDelayMs: MAX_RETRY_DELAY_MS,
      signal: deps.signal,
      isRetryable,
      onRetry: ({ error, attempt, delayMs, remainingMs }) => {
        deps.onRetry(`${subject}: attempt ${attempt} failed (${reasonOf(error)}); re-reading the range in ${delayMs} ms${nextNode(job, attempt + 1)}`);
        const what = error instanceof CassetteError && error.code === 'REPOSITORY_UNAVAILABLE' ? `the repository ${deps.store.description}` : `Cassandra replicas of ${subject}`;
        deps.onWait?.(subject, `waiting for ${what}: ${reasonOf(error)} (retrying for up to ${formatDuration(remainingMs + delayMs)} more)`);
      },
      onRecovered: () => deps.onWait?.(subject, undefined),
    });
  } catch (err) {
    deps.onWait?.(subject, undefined);
    throw rangeReadFailed(err, job, attempts);
  }
}

function nextNode(job: RangeJob, n: number): string {
  const next = job.route?.attempt(n);
  return next === undefined ? '' : ` on ${next.node}`;
}

/**
 * A driver error that outlived the retries, in words: the range, what the cluster said, and its
 * replicas with their state (so "two dc1 replicas are down" is visible). A read the cluster refuses
 * as invalid (no retry can help) says so instead. CassetteErrors and aborts pass unchanged.
 */
function rangeReadFailed(err: unknown, job: RangeJob, attempts: number): unknown {
  if (err instanceof CassetteError || !(err instanceof Error) || err.name === 'AbortError' || err instanceof TypeError || err instanceof RangeError) return err;
  const where = `${job.table} range ${job.index} (${formatToken(job.range.start)}, ${formatToken(job.range.end)}]`;
  if (isPermanentReadError(err)) {
    return new CassetteError('INVALID_INPUT', `the cluster refused the read of ${where}: ${reasonOf(err)}`, {
      hint: 'retrying cannot help: the query is invalid for this cluster (is its Cassandra version supported? see docs/format.md)',
      cause: err,
    });
  }
  const down = job.route?.down() ?? [];
  const replicas = job.route === undefined ? '' : `; replicas: ${job.route.describe()}`;
  // Too few live replicas for the level (EACH_QUORUM with a datacenter down, say): say so in words.
  const unmet = unmetConsistency(err);
  return new CassetteError('CLUSTER_UNAVAILABLE', `could not read ${where} after ${attempts} attempts: ${unmet?.message ?? reasonOf(err)}${replicas}`, {
    hint: down.length > 0
      ? `${down.length === 1 ? 'replica' : 'replicas'} ${down.join(', ')} ${down.length === 1 ? 'is' : 'are'} down: bring ${down.length === 1 ? 'it' : 'them'} back (or lower --consistency)`
      : unmet?.hint ?? "check the cluster's health (nodetool status)",
    cause: err,
  });
}
