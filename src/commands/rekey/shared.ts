/**
 * A rekey shared by many workers (docs/format.md §13): every worker runs the same
 * `cassette rekey <source> --config … --rekey-id <new-id>`; the first creates the new backup
 * (write-once backup.json), the others join it, and the source's ranges are claimed one by one.
 * A chunk's and a range's write-once markers stay the only truth about what is done; of two
 * attempts at one chunk, the marker written first names the chunk that counts.
 */
import { canonicalJson } from '../../cassandra/schema/model.js';
import { CassetteError } from '../../errors.js';
import type { BackupHeader, RangeMarker } from '../../manifest/format.js';
import { BACKUP_ID_PATTERN, backupFolder, backupHeaderKey, markerKey, rekeyChunkKey } from '../../manifest/keys.js';
import type { RekeyChunkDone } from '../../manifest/rekey-format.js';
import { readHeader, writeDocument } from '../../manifest/repository.js';
import { forEachClaimed, WorkClaims, type WorkClaimsDeps } from '../../pipeline/work-claims.js';
import { BlobExistsError, type BlobStore } from '../../storage/blob-store.js';
import { WAITING_FOR_WORKERS, type ProgressSink } from '../progress.js';
import { readChunkMarker, type ChunkItem } from './chunks.js';

/** A catch handler: a write-once put that found its object already written is fine in a shared run. */
export function ignoreIf(shared: boolean): (err: unknown) => void {
  return (err) => {
    if (!(shared && err instanceof BlobExistsError)) throw err;
  };
}

/** Creates the new backup with `fresh` (backup.json written once), or joins it when another worker did. */
export async function joinOrCreateRekey(store: BlobStore, fresh: BackupHeader): Promise<BackupHeader> {
  const id = fresh.backupId;
  if (!BACKUP_ID_PATTERN.test(id)) throw new CassetteError('USAGE', `--rekey-id ${id} is not a backup id (20261204T120000Z-3fa9c1: UTC time, then 6 hex digits)`);
  const existing = await readHeader(store, id) ?? await writeDocument(store, backupHeaderKey(id), fresh).then(() => fresh, async (err: unknown) => {
    if (!(err instanceof BlobExistsError)) throw err;
    return readHeader(store, id); // another worker created it first: join it
  });
  if (existing === undefined) throw new CassetteError('REPOSITORY_UNAVAILABLE', `backup ${id}: backup.json vanished while joining`);
  if (existing.derivedFrom?.backupId !== fresh.derivedFrom?.backupId || canonicalJson(existing.rekey) !== canonicalJson(fresh.rekey)) {
    throw new CassetteError('USAGE', `backup ${id} is ${existing.derivedFrom === undefined ? 'not a rekey' : `a rekey of ${existing.derivedFrom.backupId}`} with other settings than this worker's`, {
      hint: 'give every worker of one run the same command',
    });
  }
  return existing;
}

export interface SharedRekeyOptions {
  readonly targetId: string;
  readonly parallel: number;
  readonly signal: AbortSignal;
  readonly pollMs?: number;
  /** Chunk markers known so far, by `table/range/chunk`; those found written by others are added. */
  readonly chunkDone: Map<string, RekeyChunkDone>;
}

/**
 * Re-encrypts the chunks left range by range, each range taken by a claim: its chunks without a
 * marker, then the range's marker (`finish`). Returns once every range has its marker (from any
 * worker), with the number of ranges this worker did.
 */
export async function rekeyClaimedRanges(
  store: BlobStore, deps: WorkClaimsDeps & { readonly progress: ProgressSink }, options: SharedRekeyOptions,
  items: readonly ChunkItem[], emptyRanges: readonly { table: string; range: RangeMarker }[],
  rekeyChunk: (item: ChunkItem) => Promise<void>, finish: (table: string, range: RangeMarker) => Promise<void>,
): Promise<number> {
  const units = new Map<string, { table: string; index: number; range: RangeMarker; items: ChunkItem[] }>();
  const unitOf = (table: string, range: RangeMarker) => {
    const key = `${table}/${range.index}`;
    const unit = units.get(key) ?? { table, index: range.index, range, items: [] };
    units.set(key, unit);
    return unit;
  };
  for (const { table, range } of emptyRanges) unitOf(table, range);
  for (const item of items) unitOf(item.table, item.range).items.push(item);
  const claims = new WorkClaims(deps, { kind: 'backup', id: options.targetId }, backupFolder(options.targetId));
  const mine = await forEachClaimed([...units.values()], claims, {
    parallel: options.parallel, signal: options.signal, ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
    isDone: async (unit) => (await store.head(markerKey(options.targetId, unit.table, unit.index))) !== undefined,
    onWaiting: (held) => deps.progress.waiting?.(WAITING_FOR_WORKERS, `waiting for other workers: ${held} ranges are held by live workers`),
    onDoneElsewhere: (unit) => deps.progress.skip(unit.table, unit.items.length),
  }, async (unit) => {
    for (const item of unit.items) {
      const key = rekeyChunkKey(options.targetId, item.table, item.range.index, item.chunk);
      if ((await store.head(key)) === undefined) await rekeyChunk(item);
      else options.chunkDone.set(`${item.table}/${item.range.index}/${item.chunk}`, await readChunkMarker(store, key)); // a worker before this one did it
    }
    await finish(unit.table, unit.range);
  });
  deps.progress.waiting?.(WAITING_FOR_WORKERS, undefined);
  return mine;
}
