/**
 * Work claims (docs/format.md §13, decisions/0011): how many workers of one run share its
 * units without a coordinator. A unit (a range of a table) is claimed by a write-once put of
 * `claims/<table>/<range>/<gen>.json`; a worker whose run lease is no longer live loses its
 * claims to the next generation, written once by whichever worker wins the race. Claims only save
 * work: the unit's write-once marker stays the only truth about what is done.
 */
import { text } from 'node:stream/consumers';
import { z } from 'zod';
import { BlobExistsError, BlobNotFoundError, type BlobStore } from '../storage/blob-store.js';
import { FORMAT_VERSION, parseDocument } from './format.js';
import { claimKey, claimsFolder } from './keys.js';

export const CLAIM_KIND = 'cassette-claim';

export const ClaimDocument = z.object({
  formatVersion: z.number().int().positive(),
  kind: z.literal(CLAIM_KIND),
  /** The claiming worker's run holder id (its lease's `holder`). */
  holder: z.string(),
  host: z.string(),
  pid: z.number().int(),
  claimedAt: z.string(),
});
export type ClaimDocument = z.infer<typeof ClaimDocument>;

/** A unit of work of a run. */
export interface Unit {
  /** The run's folder: a backup's (`backups/<id>/`) or a restore run's. */
  readonly folder: string;
  readonly table: string;
  readonly range: number;
}

/** Who claims. */
export interface Claimant {
  readonly holder: string;
  readonly host: string;
  readonly pid: number;
}

export interface Claim {
  readonly gen: number;
  readonly doc: ClaimDocument;
}

export type ClaimOutcome =
  /** This worker holds the unit (claimed now, or already). */
  | { readonly kind: 'claimed'; readonly gen: number; readonly takeover: boolean }
  /** A live worker holds it. */
  | { readonly kind: 'held'; readonly by: ClaimDocument }
  /** Another worker wrote the same generation first. */
  | { readonly kind: 'lost' };

/** The unit's highest claim generation, or undefined when nobody has claimed it. */
export async function currentClaim(store: BlobStore, unit: Unit): Promise<Claim | undefined> {
  const found = await highestClaims(store, claimsFolder(unit.folder, unit.table, unit.range));
  const last = found.values().next().value;
  return last === undefined ? undefined : readClaim(store, last);
}

/**
 * The highest claim generation of every unit under `folder` (a run's `claims/`, or one unit's
 * folder), with one listing: keyed by the unit's `<table>/<range>` below `folder`.
 */
export async function highestClaims(store: BlobStore, folder: string): Promise<Map<string, ClaimAt>> {
  const found = new Map<string, ClaimAt>();
  for await (const entry of store.list(folder)) {
    const relative = entry.key.slice(folder.length);
    const match = /^(?:(.*)\/)?(\d{5})\.json$/.exec(relative);
    if (match === null) continue;
    const unit = match[1] ?? '';
    const gen = Number(match[2]);
    const last = found.get(unit);
    if (last === undefined || gen > last.gen) found.set(unit, { key: entry.key, gen });
  }
  return found;
}

/** Where one claim generation is stored. */
export interface ClaimAt {
  readonly key: string;
  readonly gen: number;
}

/** Reads one claim; undefined when it vanished meanwhile. */
export async function readClaim(store: BlobStore, at: ClaimAt): Promise<Claim | undefined> {
  let body: string;
  try {
    body = await text(await store.get(at.key));
  } catch (err) {
    if (err instanceof BlobNotFoundError) return undefined;
    throw err;
  }
  return { gen: at.gen, doc: parseDocument(ClaimDocument, JSON.parse(body), `claim ${at.key}`) };
}

/**
 * Claims `unit` for `me`, unless a worker whose lease `isLive` says is live holds it; a claim of a
 * worker that is not live is taken over with the next generation. Write-once: of several workers
 * racing for one generation exactly one gets `claimed`, the others `lost`.
 */
export async function claimUnit(store: BlobStore, unit: Unit, me: Claimant, isLive: (holder: string) => Promise<boolean>, now: () => number): Promise<ClaimOutcome> {
  const current = await currentClaim(store, unit);
  if (current !== undefined && current.doc.holder === me.holder) return { kind: 'claimed', gen: current.gen, takeover: false };
  if (current !== undefined && (await isLive(current.doc.holder))) return { kind: 'held', by: current.doc };
  const gen = current === undefined ? 0 : current.gen + 1;
  const doc: ClaimDocument = { formatVersion: FORMAT_VERSION, kind: CLAIM_KIND, holder: me.holder, host: me.host, pid: me.pid, claimedAt: new Date(now()).toISOString() };
  try {
    await store.put(claimKey(unit.folder, unit.table, unit.range, gen), `${JSON.stringify(doc, null, 2)}\n`, { ifAbsent: true });
  } catch (err) {
    if (err instanceof BlobExistsError) return { kind: 'lost' };
    throw err;
  }
  return { kind: 'claimed', gen, takeover: current !== undefined };
}
