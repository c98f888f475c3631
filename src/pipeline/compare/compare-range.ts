/**
 * Compares one token range of one table with its backup: the digest of the stored chunks against
 * the digest of a live read of the same range (read the way a backup reads it, so a live row
 * encodes exactly as a stored one, format.md §6.1/§6.2), and only when they differ, the drill-down
 * (row-match.ts). Memory: the digest pass streams both sides, keeping the rows of a range only
 * when each side has at most `keepRows`; the drill-down of a bigger range reads it again and holds
 * its backed-up rows, at most `maxDrillRows` of them — a range with more is reported as differing
 * but not listed.
 *
 * A failed live read is retried from the range's start (on the next replica), like a backup's.
 */
import { CassetteError } from '../../errors.js';
import type { CqlSession } from '../../cassandra/connection/session.js';
import type { TableReader } from '../../cassandra/reads/table-reader.js';
import { isPermanentReadError } from '../../cassandra/reads/read-errors.js';
import type { RangeRoute } from '../../cassandra/ring/read-routes.js';
import { formatToken, type TokenRange } from '../../cassandra/ring/token-ranges.js';
import { reasonOf } from '../../cassandra/writes/write-errors.js';
import type { ChunkEntry } from '../../manifest/format.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { readChunkRows } from '../chunks/read-chunk.js';
import { readRange } from '../export/read-range.js';
import { formatDuration, MAX_RETRY_DELAY_MS, withRetries } from '../retry.js';
import { EXPIRY_TOLERANCE_SECONDS, RangeDigest, rowHash, rowKey, withoutExpired, type StoredRow } from './row-digest.js';
import { RowMatcher, type RangeMatch } from './row-match.js';

/** One range to compare. */
export interface CompareRangeJob {
  readonly table: string;
  readonly index: number;
  readonly range: TokenRange;
  /** Reads the live table (its keyspace may be another than the backup's). */
  readonly reader: TableReader;
  readonly route?: RangeRoute;
  /** The range's stored chunks: repository key and manifest entry. */
  readonly chunks: readonly { readonly key: string; readonly entry: ChunkEntry }[];
  /** Columns compared by value only (counters: a restore cannot keep their writetimes). */
  readonly valueOnly: ReadonlySet<string>;
}

export interface CompareSettings {
  readonly fetchSize: number;
  readonly consistency: number;
  /** How long a range's reads are retried after the first failure (--retry-for). */
  readonly retryForMs: number;
  /** An optional cap on a range's attempts, on top of the deadline (tests). */
  readonly attempts?: number;
  readonly retryBaseDelayMs: number;
  /** Keys listed per kind (missing, extra, different) per range; counts are always complete. */
  readonly maxKeys: number;
  /** Most backed-up rows of one range the drill-down holds in memory. */
  readonly maxDrillRows: number;
  /**
   * Ranges with at most this many rows on each side keep them from the digest pass, so their
   * drill-down reads nothing again (default 10,000; 0 always reads both sides again).
   */
  readonly keepRows?: number;
}

export interface CompareDeps {
  readonly session: CqlSession;
  readonly store: BlobStore;
  readonly signal: AbortSignal;
  readonly now: () => number;
  /** Live rows read (the digest pass only, for progress). */
  readonly onRows: (table: string, rows: number) => void;
  readonly onRetry: (line: string) => void;
}

/** What one range came to. */
export interface RangeOutcome {
  readonly backupRows: number;
  readonly liveRows: number;
  readonly digestsEqual: boolean;
  /** The drill-down, when the digests differ and the range was small enough to list. */
  readonly match?: RangeMatch;
  /** True when the digests differ and the range holds more than maxDrillRows backed-up rows. */
  readonly tooBig: boolean;
}

const seconds = (ms: number): number => Math.floor(ms / 1000);

async function* storedRows(job: CompareRangeJob, store: BlobStore): AsyncGenerator<StoredRow[]> {
  for (const [i, chunk] of job.chunks.entries()) {
    yield* readChunkRows(store, chunk.key, chunk.entry, `chunk ${i} of range ${job.index} of table ${job.table}`) as AsyncGenerator<StoredRow[]>;
  }
}

async function* liveRows(job: CompareRangeJob, attempt: number, settings: CompareSettings, deps: CompareDeps): AsyncGenerator<{ rows: StoredRow[]; readAtSeconds: number }> {
  const route = job.route?.attempt(attempt);
  const pages = readRange(deps.session, job.reader.cql, [job.range.start, job.range.end], {
    fetchSize: settings.fetchSize, consistency: settings.consistency, signal: deps.signal, now: deps.now,
    ...(route === undefined ? {} : { routing: route.routing }),
  });
  for await (const page of pages) {
    yield { rows: page.rows.map((row) => JSON.parse(job.reader.encodeRow(row, page.readAtSeconds)) as StoredRow), readAtSeconds: page.readAtSeconds };
  }
}

/** The digest of the rows left at `cutoff` (rows whose every cell expired by then are left out on both sides). */
function digestInto(digest: RangeDigest, rows: readonly StoredRow[], cutoff: number, valueOnly: ReadonlySet<string>): void {
  for (const row of rows) {
    const left = withoutExpired(row, cutoff);
    if (!left.expiredAway) digest.add(rowHash(left.row, valueOnly));
  }
}

function isRetryable(err: unknown): boolean {
  if (err instanceof CassetteError) return err.code === 'REPOSITORY_UNAVAILABLE' || err.code === 'CLUSTER_UNAVAILABLE';
  return !(err instanceof Error && err.name === 'AbortError') && !isPermanentReadError(err);
}

/** Runs `work(attempt)` with the range's retries; a driver error that outlives them names the range. */
async function retried<T>(job: CompareRangeJob, settings: CompareSettings, deps: CompareDeps, work: (attempt: number) => Promise<T>): Promise<T> {
  let attempts = 0;
  try {
    return await withRetries((n) => {
      attempts = n;
      return work(n);
    }, {
      retryForMs: settings.retryForMs,
      ...(settings.attempts === undefined ? {} : { attempts: settings.attempts }),
      baseDelayMs: settings.retryBaseDelayMs, maxDelayMs: MAX_RETRY_DELAY_MS, signal: deps.signal, isRetryable,
      onRetry: ({ error, attempt, delayMs, remainingMs }) => deps.onRetry(`${job.table} range ${job.index}: attempt ${attempt} failed (${reasonOf(error)}); reading the range again in ${delayMs} ms (retrying for up to ${formatDuration(remainingMs + delayMs)} more)`),
    });
  } catch (err) {
    if (err instanceof CassetteError || !(err instanceof Error) || err.name === 'AbortError' || err instanceof TypeError || err instanceof RangeError) throw err;
    const where = `${job.table} range ${job.index} (${formatToken(job.range.start)}, ${formatToken(job.range.end)}]`;
    if (isPermanentReadError(err)) {
      throw new CassetteError('INVALID_INPUT', `the cluster refused the read of ${where}: ${reasonOf(err)}`, { hint: 'retrying cannot help: the query is invalid for this cluster', cause: err });
    }
    throw new CassetteError('CLUSTER_UNAVAILABLE', `could not read ${where} after ${attempts} attempts: ${reasonOf(err)}${job.route === undefined ? '' : `; replicas: ${job.route.describe()}`}`, {
      hint: "check the cluster's health (nodetool status), or lower --consistency", cause: err,
    });
  }
}

/** The drill-down: both sides of the range matched by key. Undefined when the backup side holds more than maxDrillRows rows. */
async function drillDown(job: CompareRangeJob, settings: CompareSettings, deps: CompareDeps): Promise<RangeMatch | undefined> {
  return retried(job, settings, deps, async (attempt) => {
    const backup = new Map<string, StoredRow>();
    for await (const rows of storedRows(job, deps.store)) {
      for (const row of rows) backup.set(rowKey(row), row);
      if (backup.size > settings.maxDrillRows) return undefined;
    }
    const matcher = new RowMatcher(backup, { valueOnly: job.valueOnly, maxKeys: settings.maxKeys });
    for await (const page of liveRows(job, attempt, settings, deps)) {
      const now = seconds(deps.now());
      for (const row of page.rows) matcher.live(rowKey(row), row, now);
    }
    return matcher.finish(seconds(deps.now()));
  });
}

/** The drill-down of rows kept from the digest pass: nothing is read again. */
function matchKept(job: CompareRangeJob, stored: readonly StoredRow[], live: readonly StoredRow[], nowSeconds: number, maxKeys: number): RangeMatch {
  const matcher = new RowMatcher(new Map(stored.map((row) => [rowKey(row), row])), { valueOnly: job.valueOnly, maxKeys });
  for (const row of live) matcher.live(rowKey(row), row, nowSeconds);
  return matcher.finish(nowSeconds);
}

/** Compares one range: digests first, then rows when they differ. */
export async function compareRange(job: CompareRangeJob, settings: CompareSettings, deps: CompareDeps): Promise<RangeOutcome> {
  // Cells expiring by the start of the live read plus the tolerance are left out of both digests:
  // the live table may have dropped them already (format.md §6.2: `e` is absolute).
  const cutoff = seconds(deps.now()) + EXPIRY_TOLERANCE_SECONDS;
  const backupRows = job.chunks.reduce((n, c) => n + c.entry.rows, 0);
  const keepRows = settings.keepRows ?? 10_000;
  // Small ranges keep their rows for a drill-down (bounded: keepRows per side per range in flight).
  let keptStored: StoredRow[] | undefined = backupRows <= keepRows ? [] : undefined;
  let keptLive: StoredRow[] | undefined;
  const stored = new RangeDigest();
  const readStored = (async () => {
    for await (const rows of storedRows(job, deps.store)) {
      digestInto(stored, rows, cutoff, job.valueOnly);
      if (keptStored !== undefined) for (const row of rows) keptStored.push(row);
    }
  })();
  readStored.catch(() => undefined); // awaited below; a live-read failure must not leave it unhandled
  let liveCount = 0;
  const live = await retried(job, settings, deps, async (attempt) => {
    const digest = new RangeDigest();
    let read = 0;
    keptLive = keptStored === undefined ? undefined : [];
    try {
      for await (const page of liveRows(job, attempt, settings, deps)) {
        digestInto(digest, page.rows, cutoff, job.valueOnly);
        if (keptLive !== undefined) for (const row of page.rows) keptLive.push(row);
        if (keptLive !== undefined && keptLive.length > keepRows) keptLive = undefined;
        read += page.rows.length;
        deps.onRows(job.table, page.rows.length);
      }
    } catch (err) {
      deps.onRows(job.table, -read);
      throw err;
    }
    liveCount = read;
    return digest;
  });
  await readStored;
  if (stored.equals(live)) return { backupRows, liveRows: liveCount, digestsEqual: true, tooBig: false };
  const kept = keptStored !== undefined && keptLive !== undefined ? { stored: keptStored, live: keptLive } : undefined;
  keptStored = undefined;
  keptLive = undefined;
  const match = kept === undefined ? await drillDown(job, settings, deps) : matchKept(job, kept.stored, kept.live, seconds(deps.now()), settings.maxKeys);
  return match === undefined
    ? { backupRows, liveRows: liveCount, digestsEqual: false, tooBig: true }
    : { backupRows, liveRows: liveCount, digestsEqual: false, match, tooBig: false };
}
