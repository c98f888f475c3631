/**
 * A backup's structure checked without reading chunk data: one listing of the backup's folder
 * (sizes of every object — far cheaper than a HEAD per object on S3), backup.json, manifest.json
 * and every range marker read and cross-checked (cross-checks.ts), and every chunk the manifest
 * names looked up in the listing with its recorded size. `cassette verify` reports every problem;
 * `cassette restore` calls {@link requireIntactBackup} and refuses before its first write.
 */
import { text } from 'node:stream/consumers';
import { CassetteError } from '../../errors.js';
import { requireNotDeleting } from '../../manifest/repository.js';
import { BackupHeader, FORMAT_VERSION, Manifest, RangeMarker, parseDocument, type ChunkEntry } from '../../manifest/format.js';
import { backupFolder, backupHeaderKey, chunkKey, deletingKey, encryptionKey, indexKey, manifestKey, markerKey } from '../../manifest/keys.js';
import { BackupIndex } from '../../manifest/encryption-format.js';
import { BlobNotFoundError, type BlobStore } from '../../storage/blob-store.js';
import { forEachBounded } from '../retry.js';
import { chunkKeyProblem, manifestAgainstHeader, markerAgainstManifest, ringCoverProblems, totalsProblems, type BackupProblem } from './cross-checks.js';

/** One chunk the manifest names, where it lives and what the manifest records of it. */
export interface ChunkRef {
  readonly table: string;
  readonly range: { readonly index: number; readonly start: string; readonly end: string };
  /** Its position in its range's `chunks`. */
  readonly chunk: number;
  readonly entry: ChunkEntry;
  /** Its repository key. */
  readonly key: string;
  /** Whether the listing holds it with the recorded size (the data check reads only those). */
  readonly stored: boolean;
}

/** What the structural check found. */
export interface BackupStructure {
  /** The manifest, unless it could not be read (then `problems` says why). */
  readonly manifest: Manifest | undefined;
  readonly problems: readonly BackupProblem[];
  /** Every chunk the manifest names, in manifest order. */
  readonly chunks: readonly ChunkRef[];
  /** Objects under data/ that no range of the manifest names: chunks of abandoned attempts (format.md §1). Not damage. */
  readonly unreferenced: readonly { readonly key: string; readonly size: number }[];
  /** Objects in the backup's folder, restore runs and rekey checkpoints included. */
  readonly objects: number;
}

type Read<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

/**
 * Reads one JSON document of the backup. A document claiming a format version above this build's
 * is thrown as BACKUP_INVALID (exit 6: this build cannot judge it); anything else wrong with it is
 * returned as a problem.
 */
async function readJson<T>(store: BlobStore, key: string, schema: Parameters<typeof parseDocument<T>>[0]): Promise<Read<T>> {
  let json: unknown;
  try {
    json = JSON.parse(await text(await store.get(key)));
  } catch (err) {
    if (err instanceof BlobNotFoundError) return { ok: false, problem: 'missing' };
    if (err instanceof SyntaxError) return { ok: false, problem: 'is not valid JSON' };
    // An encrypted object that does not decrypt (changed bytes): damage to report, not a failure.
    if (err instanceof CassetteError && err.code === 'BACKUP_INVALID') return { ok: false, problem: err.message };
    throw err; // the repository failed, or no identity opens it
  }
  const version = (json as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof version === 'number' && version > FORMAT_VERSION) {
    throw new CassetteError('BACKUP_INVALID', `${store.description}/${key} claims format version ${version}; this build of cassette reads up to version ${FORMAT_VERSION}`, {
      hint: 'upgrade cassette to read this backup (or, if no newer cassette wrote it, the object was edited: use another backup)',
    });
  }
  try {
    return { ok: true, value: parseDocument(schema, json, key) };
  } catch (err) {
    if (err instanceof CassetteError) return { ok: false, problem: err.message.replace(`${key} `, '') };
    throw err;
  }
}

/**
 * Checks a backup's structure (see the file comment). Throws BACKUP_INVALID when there is nothing
 * to check — no object under the backup's folder, or an incomplete backup (no manifest.json; its
 * finished ranges are not yet claimed by anything) — or when a document claims a newer format
 * version; every other finding is a problem in the result.
 */
export async function checkBackupStructure(store: BlobStore, backupId: string, options: { readonly parallel: number; readonly signal?: AbortSignal }): Promise<BackupStructure> {
  const folder = backupFolder(backupId);
  const sizes = new Map<string, number>();
  for await (const entry of store.list(folder)) sizes.set(entry.key, entry.size);
  if (sizes.size === 0) {
    throw new CassetteError('BACKUP_INVALID', `backup ${backupId} not found in ${store.description}`, { hint: 'run `cassette list` with the same --repo to see the backups there' });
  }
  if (sizes.has(deletingKey(backupId))) await requireNotDeleting(store, backupId);
  const problems: BackupProblem[] = [];
  const add = (key: string, list: readonly string[]): void => {
    for (const problem of list) problems.push({ key, problem });
  };
  const headerKey = backupHeaderKey(backupId);
  const header = await readJson(store, headerKey, BackupHeader);
  const mKey = manifestKey(backupId);
  if (!sizes.has(mKey)) {
    if (!header.ok) add(headerKey, [header.problem]);
    throw new CassetteError('BACKUP_INVALID', `backup ${backupId} is incomplete (no manifest.json)`, {
      hint: `finish it with \`cassette backup --resume ${backupId}\`, or use a complete backup (see \`cassette list\`)`,
    });
  }
  const read = await readJson(store, mKey, Manifest);
  // An encrypted backup's chunks are stored as age files: their stored sizes are in index.json.
  const storedSizes = sizes.has(encryptionKey(backupId)) ? await storedSizesOf(store, backupId) : undefined;
  if (!header.ok) add(headerKey, [header.problem]);
  const unreferencedOf = (referenced: ReadonlySet<string>): BackupStructure['unreferenced'] =>
    [...sizes].filter(([key]) => key.startsWith(`${folder}data/`) && !referenced.has(key)).map(([key, size]) => ({ key, size }));
  if (!read.ok) {
    add(mKey, [read.problem]);
    return { manifest: undefined, problems, chunks: [], unreferenced: unreferencedOf(new Set()), objects: sizes.size };
  }
  const manifest = read.value;
  if (manifest.backupId !== backupId) add(mKey, [`names backup ${manifest.backupId}`]);
  if (header.ok) add(mKey, manifestAgainstHeader(header.value, manifest));
  for (const table of manifest.tables) add(mKey, ringCoverProblems(table.ranges).map((p) => `table ${table.name}: ${p}`));
  add(mKey, totalsProblems(manifest));

  // Markers: each planned range has one, and it says what the manifest says.
  const markerJobs: { key: string; table: string; range: Manifest['tables'][number]['ranges'][number] }[] = [];
  const plannedMarkers = new Set<string>();
  for (const table of manifest.tables) {
    for (const range of table.ranges) {
      const key = markerKey(backupId, table.name, range.index);
      plannedMarkers.add(key);
      if (sizes.has(key)) markerJobs.push({ key, table: table.name, range });
      else add(key, [`missing: the range marker of range ${range.index} of table ${table.name}`]);
    }
  }
  for (const key of sizes.keys()) {
    if (key.startsWith(`${folder}ranges/`) && !plannedMarkers.has(key)) add(key, ['a range marker of no range the manifest lists']);
  }
  await forEachBounded(markerJobs, options.parallel, async (job) => {
    const marker = await readJson(store, job.key, RangeMarker);
    add(job.key, marker.ok ? markerAgainstManifest(marker.value, job.table, job.range) : [marker.problem]);
  }, options.signal);

  // Chunks: named where their range's chunks live, each once, stored with the recorded size.
  const chunks: ChunkRef[] = [];
  const referenced = new Set<string>();
  for (const table of manifest.tables) {
    for (const range of table.ranges) {
      range.chunks.forEach((entry, chunk) => {
        const key = chunkKey(backupId, entry.key);
        const where = `chunk ${chunk} of range ${range.index} of table ${table.name}`;
        const keyProblem = chunkKeyProblem(table.name, range.index, entry.key);
        if (keyProblem !== undefined) add(key, [keyProblem]);
        if (referenced.has(key)) add(key, [`listed twice by the manifest (again as ${where})`]);
        referenced.add(key);
        const size = sizes.get(key);
        const expected = storedSizes === undefined ? entry.bytes : storedSizes.get(entry.key);
        if (size === undefined) add(key, [`missing: ${where}`]);
        else if (expected === undefined) add(key, [`not in index.json: ${where}`]);
        else if (size !== expected) add(key, [`${size} bytes; the ${storedSizes === undefined ? 'manifest' : 'index'} records ${expected} for ${where} (truncated or replaced)`]);
        chunks.push({ table: table.name, range: { index: range.index, start: range.start, end: range.end }, chunk, entry, key, stored: size !== undefined && size === expected });
      });
    }
  }
  problems.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { manifest, problems, chunks, unreferenced: unreferencedOf(referenced), objects: sizes.size };
}

/** The stored size of every chunk of an encrypted backup, from its index.json (relative keys); empty when it has none. */
async function storedSizesOf(store: BlobStore, backupId: string): Promise<Map<string, number>> {
  const index = await readJson(store, indexKey(backupId), BackupIndex);
  const sizes = new Map<string, number>();
  if (!index.ok) return sizes;
  for (const table of index.value.tables) for (const range of table.ranges) for (const chunk of range.chunks) sizes.set(chunk.key, chunk.bytes);
  return sizes;
}

/**
 * The manifest of a backup whose structure is intact; otherwise BACKUP_INVALID naming the first
 * damaged object and how many more there are. Reads no chunk data: chunk checksums are checked as
 * each chunk is loaded, before any of its rows is written.
 */
export async function requireIntactBackup(store: BlobStore, backupId: string, signal?: AbortSignal): Promise<Manifest> {
  const structure = await checkBackupStructure(store, backupId, { parallel: 16, ...(signal === undefined ? {} : { signal }) });
  const first = structure.problems[0];
  if (first !== undefined || structure.manifest === undefined) {
    const more = structure.problems.length - 1;
    throw new CassetteError('BACKUP_INVALID', `backup ${backupId} is damaged: ${first?.key ?? manifestKey(backupId)}: ${first?.problem ?? 'unreadable'}${more > 0 ? ` (and ${more} more problem${more > 1 ? 's' : ''})` : ''}`, {
      hint: `nothing was written; \`cassette verify ${backupId}\` lists every problem; restore another backup`,
    });
  }
  return structure.manifest;
}
