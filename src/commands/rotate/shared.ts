/**
 * A rotation job shared by many workers (docs/format.md §13): every worker runs the same
 * `cassette rotate --config … --job-id <id>`; each round's ranges are claimed one by one under the
 * round's folder, and the round's verification is one more unit, claimed by one worker while the
 * others wait for its `verified` document. Stage markers stay the only truth about what is done.
 */
import { roundFolder, transformedKey, verifiedKey, writtenKey } from '../../manifest/keys.js';
import { readDocument } from '../../manifest/repository.js';
import { TransformedRange, VerifiedRound, type RotationJob } from '../../manifest/rotation-format.js';
import { forEachClaimed, WorkClaims, type ClaimedUnit, type WorkClaimsDeps } from '../../pipeline/work-claims.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { WAITING_FOR_WORKERS, type ProgressSink } from '../progress.js';
import { addQuarantined } from './verify.js';

/** The round's verification as a unit of its own: no table name holds a `~`. */
const VERIFY_UNIT = '~verify';

export interface SharedRoundDeps extends WorkClaimsDeps {
  readonly signal: AbortSignal;
  readonly progress: ProgressSink;
  /** Ranges this worker works on at once. */
  readonly parallel: number;
  readonly pollMs?: number;
}

/**
 * Runs round `round` of a shared job: `rotate` on every range this worker claims, until every
 * range of the round is written back (by any worker); then `verify` by whichever worker claims the
 * verification, the others waiting for its document. Resolves with the round's verification.
 */
export async function sharedRound<I extends ClaimedUnit>(job: RotationJob, round: number, items: readonly I[], rotate: (item: I) => Promise<void>, verify: () => Promise<void>, deps: SharedRoundDeps): Promise<VerifiedRound> {
  const claims = new WorkClaims(deps, { kind: 'rotation', id: job.jobId }, roundFolder(job.jobId, round));
  const waiting = (what: string) => (held: number): void => deps.progress.waiting?.(WAITING_FOR_WORKERS, `waiting for other workers: ${held} ${what} held by live workers`);
  await forEachClaimed(items, claims, {
    parallel: deps.parallel, signal: deps.signal, ...(deps.pollMs === undefined ? {} : { pollMs: deps.pollMs }),
    isDone: async (item) => (await deps.store.head(writtenKey(job.jobId, round, item.table, item.index))) !== undefined,
    onWaiting: waiting('ranges are'),
    onDoneElsewhere: (item) => deps.progress.skip(item.table, 1),
  }, rotate);
  const verifiedAt = verifiedKey(job.jobId, round);
  await forEachClaimed([{ table: VERIFY_UNIT, index: 0 }], claims, {
    parallel: 1, signal: deps.signal, ...(deps.pollMs === undefined ? {} : { pollMs: deps.pollMs }),
    isDone: async () => (await deps.store.head(verifiedAt)) !== undefined,
    onWaiting: waiting('verification is'),
  }, verify);
  deps.progress.waiting?.(WAITING_FOR_WORKERS, undefined);
  const verified = await readDocument(deps.store, verifiedAt, VerifiedRound, `verification of round ${round}`);
  if (verified === undefined) throw new Error(`internal: round ${round} of ${job.jobId} has no verification`);
  return verified;
}

/** Adds the rows every worker's transform quarantined in round `round` (its transform markers) to `into`. */
export async function readQuarantined(store: BlobStore, job: RotationJob, round: number, items: readonly ClaimedUnit[], into: Set<string>): Promise<void> {
  for (const item of items) {
    const key = transformedKey(job.jobId, round, item.table, item.index);
    const marker = await readDocument(store, key, TransformedRange, `transform marker ${key}`);
    if (marker !== undefined) await addQuarantined(store, marker.quarantineKeys, into);
  }
}
