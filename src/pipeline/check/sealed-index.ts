/**
 * An encrypted backup checked as stored, without its identity (format.md §12): its plaintext
 * index.json names every object with the size and SHA-256 of the age file stored; each must be
 * there with that size, and — for the chunks the data subset selects, and every other object —
 * hash to it. Reads the repository as stored (`raw`: no decryption). Nothing about the contents
 * can be checked without the identity; `verify --identity` does that too.
 */
import { createHash } from 'node:crypto';
import { CassetteError } from '../../errors.js';
import { BackupIndex } from '../../manifest/encryption-format.js';
import { readDocument } from '../../manifest/repository.js';
import { backupFolder, indexKey, manifestKey } from '../../manifest/keys.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { forEachBounded } from '../retry.js';
import type { BackupProblem } from './cross-checks.js';

export interface SealedIndexCheck {
  readonly index: BackupIndex;
  readonly problems: readonly BackupProblem[];
  /** Objects in the backup's folder. */
  readonly objects: number;
  /** Chunks whose stored SHA-256 was read and compared, and their bytes. */
  readonly chunksRead: number;
  readonly bytesRead: number;
  /** Objects under data/ the index does not name (chunks of abandoned attempts). */
  readonly unreferenced: readonly { readonly key: string; readonly size: number }[];
}

/**
 * Checks presence, stored sizes and stored SHA-256 of an encrypted backup's objects against its
 * index.json; `readChunk` selects the chunks whose bytes are hashed (every other object always is).
 * Throws BACKUP_INVALID when there is no index.json (an incomplete or damaged backup).
 */
export async function checkSealedIndex(raw: BlobStore, backupId: string, options: {
  readonly parallel: number; readonly readChunk: (key: string) => boolean; readonly signal?: AbortSignal;
}): Promise<SealedIndexCheck> {
  const folder = backupFolder(backupId);
  const sizes = new Map<string, number>();
  for await (const entry of raw.list(folder)) sizes.set(entry.key, entry.size);
  const index = await readDocument(raw, indexKey(backupId), BackupIndex, `index.json of backup ${backupId}`);
  if (index === undefined) {
    const incomplete = !sizes.has(manifestKey(backupId));
    throw new CassetteError('BACKUP_INVALID', `backup ${backupId} ${sizes.size === 0 ? `not found in ${raw.description}` : incomplete ? 'is incomplete (no index.json)' : 'has no index.json'}`, {
      hint: incomplete ? `finish it with \`cassette backup --resume ${backupId} --identity FILE\`` : 'give its identity (--identity) to verify its contents, or use another backup',
    });
  }
  const problems: BackupProblem[] = [];
  if (index.backupId !== backupId) problems.push({ key: indexKey(backupId), problem: `names backup ${index.backupId}` });
  const jobs: { key: string; bytes: number; sha256: string; chunk: boolean }[] = [];
  for (const object of index.objects) jobs.push({ key: folder + object.key, bytes: object.bytes, sha256: object.sha256, chunk: false });
  for (const table of index.tables) for (const range of table.ranges) for (const chunk of range.chunks) jobs.push({ key: folder + chunk.key, bytes: chunk.bytes, sha256: chunk.sha256, chunk: true });
  const rows = index.tables.reduce((n, t) => n + t.rows, 0);
  const chunkCount = index.tables.reduce((n, t) => n + t.ranges.reduce((m, r) => m + r.chunks.length, 0), 0);
  if (rows !== index.totals.rows || chunkCount !== index.totals.chunks) {
    problems.push({ key: indexKey(backupId), problem: `totals say ${index.totals.rows} rows in ${index.totals.chunks} chunks; its tables add up to ${rows} rows in ${chunkCount} chunks` });
  }
  const named = new Set(jobs.map((j) => j.key));
  let chunksRead = 0;
  let bytesRead = 0;
  await forEachBounded(jobs, options.parallel, async (job) => {
    const size = sizes.get(job.key);
    if (size === undefined) {
      problems.push({ key: job.key, problem: 'missing: index.json names it' });
      return;
    }
    if (size !== job.bytes) {
      problems.push({ key: job.key, problem: `${size} bytes; index.json records ${job.bytes} (truncated or replaced)` });
      return;
    }
    if (job.chunk && !options.readChunk(job.key.slice(folder.length))) return;
    const hash = createHash('sha256');
    for await (const piece of await raw.get(job.key)) hash.update(piece as Buffer);
    if (hash.digest('hex') !== job.sha256) problems.push({ key: job.key, problem: 'its SHA-256 is not the one index.json records (changed or damaged)' });
    if (job.chunk) {
      chunksRead++;
      bytesRead += job.bytes;
    }
  }, options.signal);
  const unreferenced = [...sizes].filter(([key]) => key.startsWith(`${folder}data/`) && !named.has(key)).map(([key, size]) => ({ key, size }));
  problems.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { index, problems, objects: sizes.size, chunksRead, bytesRead, unreferenced };
}
