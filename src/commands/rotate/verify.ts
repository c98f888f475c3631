/**
 * The verification rounds of a rotation: after every range of a round is written back, every row
 * of every table is read by its key-version column; rows still under an old key (the application
 * wrote with the old key meanwhile, an LWT raced) name the ranges of the next round, and rows the
 * transform quarantined are counted apart. Each finished round is a `verified` document, so a
 * resumed job skips the rounds already verified.
 */
import { text } from 'node:stream/consumers';
import { consistencyCode } from '../../cassandra/connection/connect.js';
import type { CqlWriteSession } from '../../cassandra/connection/session.js';
import type { KeyspaceSchema } from '../../cassandra/schema/model.js';
import { keyVersionScanFor } from '../../cassandra/reads/table-reader.js';
import { CassetteError } from '../../errors.js';
import { FORMAT_VERSION } from '../../manifest/format.js';
import { verifiedKey } from '../../manifest/keys.js';
import { readDocument } from '../../manifest/repository.js';
import { VerifiedRound, type RotationJob } from '../../manifest/rotation-format.js';
import { readRange } from '../../pipeline/export/read-range.js';
import { DEFAULT_RETRY_FOR_MS, forEachBounded, MAX_RETRY_DELAY_MS, withRetries } from '../../pipeline/retry.js';
import type { ReadRouter } from '../../cassandra/ring/read-routes.js';
import { isPermanentReadError } from '../../cassandra/reads/read-errors.js';
import { reasonOf } from '../../cassandra/writes/write-errors.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { toRange } from './job.js';
import type { RotateDeps } from './types.js';

const SAMPLE = 20;

/** Where the job stands: the first round not yet verified, and the ranges per table it rotates. */
export async function firstUnverifiedRound(store: BlobStore, job: RotationJob): Promise<{ round: number; rangesOfRound: Map<string, number[]> }> {
  let round = 0;
  let rangesOfRound: Map<string, number[]> = new Map(job.tables.map((t) => [t.name, t.ranges.map((r) => r.index)]));
  for (;;) {
    const verified = await readDocument(store, verifiedKey(job.jobId, round), VerifiedRound, `verification of round ${round}`);
    if (verified === undefined) break;
    rangesOfRound = new Map(Object.entries(verified.ranges));
    round++;
  }
  return { round, rangesOfRound };
}

/** Adds the rows of the quarantine lists at `keys` to `into`, as `table|key` (what verification excuses). */
export async function addQuarantined(store: BlobStore, keys: readonly string[], into: Set<string>): Promise<void> {
  for (const key of keys) {
    for (const line of (await readText(store, key)).split('\n')) {
      if (line === '') continue;
      const q = JSON.parse(line) as { table: string; key: unknown[] };
      into.add(`${q.table}|${JSON.stringify(q.key)}`);
    }
  }
}

async function readText(store: BlobStore, key: string): Promise<string> {
  return text(await store.get(key));
}

/**
 * Reads the key-version column of every row of every table of the job. A range whose read fails
 * (a replica died mid-read) is read again from its start on the next live replica.
 */
export async function verifyRound(job: RotationJob, schema: KeyspaceSchema, round: number, quarantined: ReadonlySet<string>, session: CqlWriteSession, router: ReadRouter, deps: RotateDeps, retryForMs = DEFAULT_RETRY_FOR_MS): Promise<VerifiedRound> {
  let leftBehind = 0;
  let quarantinedRows = 0;
  const ranges: Record<string, number[]> = {};
  const sample: { table: string; key: unknown[] }[] = [];
  for (const table of job.tables) {
    const scan = keyVersionScanFor(schema, table.name, job.keyVersionColumn, table.columns);
    const behind = new Set<number>();
    await forEachBounded(table.ranges, 4, async (planned) => {
      const range = toRange(planned);
      const route = router.route(range);
      const seenRows = await withRetries(async (n) => {
        const attempt = route.attempt(n);
        const pages = readRange(session, scan.cql, [range.start, range.end], {
          fetchSize: job.options.fetchSize, consistency: consistencyCode(table.consistency.read), signal: deps.signal, now: deps.now,
          ...(attempt === undefined ? {} : { routing: attempt.routing }),
        });
        const rows: { key: unknown[]; quarantined: boolean }[] = [];
        for await (const page of pages) {
          for (const row of page.rows) {
            const seen = scan.classify(row);
            if (!seen.hasEncryptedValue || seen.keyVersion === job.newKeyVersion) continue;
            rows.push({ key: seen.key, quarantined: quarantined.has(`${table.name}|${JSON.stringify(seen.key)}`) });
          }
        }
        return rows;
      }, {
        retryForMs, baseDelayMs: 1000, maxDelayMs: MAX_RETRY_DELAY_MS, signal: deps.signal,
        isRetryable: (err) => !(err instanceof CassetteError) && !isPermanentReadError(err) && !(err instanceof Error && err.name === 'AbortError'),
        onRetry: ({ error, attempt, delayMs }) => deps.progress.note(`verify ${table.name} range ${planned.index}: attempt ${attempt} failed (${reasonOf(error)}); reading it again in ${delayMs} ms`),
      });
      for (const seen of seenRows) {
        if (seen.quarantined) {
          quarantinedRows++;
          continue;
        }
        leftBehind++;
        behind.add(planned.index);
        if (sample.length < SAMPLE) sample.push({ table: table.name, key: seen.key });
      }
    }, deps.signal);
    if (behind.size > 0) ranges[table.name] = [...behind].sort((a, b) => a - b);
  }
  return { formatVersion: FORMAT_VERSION, round, leftBehind, quarantinedRows, ranges, sample, doneAt: new Date(deps.now()).toISOString() };
}

/** VERIFY_MISMATCH: rows are still under an old key after the rounds this run may add. */
export function leftBehindError(jobId: string, verified: VerifiedRound, roundsThisRun: number): CassetteError {
  const sample = verified.sample.slice(0, 5).map((s) => `${s.table} ${JSON.stringify(s.key)}`).join('; ');
  return new CassetteError('VERIFY_MISMATCH', `rotation ${jobId}: ${verified.leftBehind} rows are still under an old key after ${roundsThisRun} rounds (e.g. ${sample})`, {
    hint: `is the application still writing with the old key? Switch it to the new key, then run the same \`cassette rotate\` again; the rows are listed in ${verifiedKey(jobId, verified.round)}`,
  });
}
