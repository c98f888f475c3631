/**
 * The backup format's JSON documents (docs/format.md §2–§4) as zod schemas, and the version gate:
 * a reader refuses documents newer than FORMAT_VERSION instead of misreading them.
 */
import { z } from 'zod';
import { CassetteError } from '../errors.js';

/** The format version this build writes, and the highest it reads. */
export const FORMAT_VERSION = 1;

const tokenString = z.string().regex(/^-?\d{1,19}$/);

export const ColumnSchema = z.object({
  name: z.string(),
  type: z.string(),
  kind: z.enum(['partition_key', 'clustering', 'static', 'regular']),
  position: z.number().int(),
  order: z.enum(['asc', 'desc']).optional(),
});

/** The structured keyspace description (format.md §5); produced by src/cassandra/schema/capture.ts. */
export const KeyspaceDescription = z.looseObject({
  name: z.string(),
  replication: z.record(z.string(), z.string()),
  durableWrites: z.boolean(),
  types: z.array(z.looseObject({ name: z.string(), fields: z.array(z.object({ name: z.string(), type: z.string() })) })),
  tables: z.array(z.looseObject({ name: z.string(), columns: z.array(ColumnSchema), isCounter: z.boolean() })),
});

export const PlannedRange = z.object({ index: z.number().int().nonnegative(), start: tokenString, end: tokenString });

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

/** An object as a repository stores it: its size and SHA-256 (encrypted backups' index.json, format.md §12). */
export const StoredObject = z.object({ bytes: z.number().int().nonnegative(), sha256: sha256Hex });
export type StoredObject = z.infer<typeof StoredObject>;

export const ChunkEntry = z.object({
  key: z.string(),
  rows: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  rawBytes: z.number().int().nonnegative(),
  sha256: sha256Hex,
});

export const BackupOptions = z.object({
  compression: z.literal('gzip'),
  gzipLevel: z.number().int().min(0).max(9),
  maxChunkBytes: z.number().int().positive(),
  consistency: z.string(),
});

/**
 * A backup written by `cassette rekey` from another backup (format.md §8): which one, and what was
 * rotated. Absent in backups read from a cluster.
 */
export const RekeyDescription = z.object({
  provider: z.string(),
  newKeyVersion: z.string(),
  oldKeyVersions: z.array(z.string()),
  keyVersionColumn: z.string().nullable(),
  tables: z.array(z.object({ name: z.string(), columns: z.array(z.string()) })),
});
export type RekeyDescription = z.infer<typeof RekeyDescription>;

/** What a rekey did, in its manifest. */
export const RekeyTotals = z.object({
  rowsChanged: z.number().int().nonnegative(),
  rowsSkipped: z.number().int().nonnegative(),
  valuesRotated: z.number().int().nonnegative(),
  valuesAlreadyCurrent: z.number().int().nonnegative(),
  valuesQuarantined: z.number().int().nonnegative(),
});
export type RekeyTotals = z.infer<typeof RekeyTotals>;

/**
 * One node of the source cluster as the driver saw it when the backup started (format.md §2):
 * its address without the port, datacenter, rack, how many tokens it owns, and its release version.
 */
export const ClusterNode = z.object({
  address: z.string(),
  datacenter: z.string(),
  rack: z.string(),
  tokens: z.number().int().nonnegative(),
  releaseVersion: z.string(),
});
export type ClusterNode = z.infer<typeof ClusterNode>;

/** Every node of a cluster, sorted by datacenter, then address. Optional in backups (older ones lack it). */
export const ClusterTopology = z.object({ nodes: z.array(ClusterNode) });
export type ClusterTopology = z.infer<typeof ClusterTopology>;

/** The source cluster in backup.json and manifest.json. */
export const ClusterDescription = z.object({
  name: z.string(),
  partitioner: z.string(),
  releaseVersion: z.string(),
  topology: ClusterTopology.optional(),
});
export type ClusterDescription = z.infer<typeof ClusterDescription>;

/**
 * Columns whose writetimes and expiries the backup approximated (format.md §6.4): multi-cell
 * columns read from Cassandra 4.x, which cannot return theirs. Absent when there are none.
 */
export const ApproximatedWritetimes = z.object({
  rule: z.literal('row-cells'),
  tables: z.array(z.object({ name: z.string(), columns: z.array(z.string()) })),
});
export type ApproximatedWritetimes = z.infer<typeof ApproximatedWritetimes>;

const headerFields = {
  formatVersion: z.number().int().positive(),
  kind: z.literal('cassette-backup'),
  backupId: z.string(),
  createdAt: z.string(),
  tool: z.object({ name: z.string(), version: z.string() }),
  cluster: ClusterDescription,
  keyspace: KeyspaceDescription,
  schemaFingerprint: z.string(),
  options: BackupOptions,
  derivedFrom: z.object({ backupId: z.string(), by: z.literal('rekey') }).optional(),
  rekey: RekeyDescription.optional(),
  approximatedWritetimes: ApproximatedWritetimes.optional(),
};

/** backup.json: written first; the plan. */
export const BackupHeader = z.object({
  ...headerFields,
  tables: z.array(z.object({ name: z.string(), ranges: z.array(PlannedRange) })),
});
export type BackupHeader = z.infer<typeof BackupHeader>;

/** ranges/<table>/<range>.json: a finished range (the checkpoint). */
export const RangeMarker = z.object({
  formatVersion: z.number().int().positive(),
  table: z.string(),
  index: z.number().int().nonnegative(),
  start: tokenString,
  end: tokenString,
  attempt: z.string(),
  rows: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  readAt: z.string(),
  chunks: z.array(ChunkEntry),
});
export type RangeMarker = z.infer<typeof RangeMarker>;
export type ChunkEntry = z.infer<typeof ChunkEntry>;

const ManifestRange = RangeMarker.omit({ formatVersion: true, table: true });

/** manifest.json: written last; its presence means the backup is complete. */
export const Manifest = z.object({
  ...headerFields,
  completedAt: z.string(),
  tables: z.array(z.object({
    name: z.string(),
    rows: z.number().int().nonnegative(),
    bytes: z.number().int().nonnegative(),
    ranges: z.array(ManifestRange),
  })),
  totals: z.object({
    tables: z.number().int().nonnegative(),
    ranges: z.number().int().nonnegative(),
    chunks: z.number().int().nonnegative(),
    rows: z.number().int().nonnegative(),
    bytes: z.number().int().nonnegative(),
  }),
  rekeyTotals: RekeyTotals.optional(),
});
export type Manifest = z.infer<typeof Manifest>;

/**
 * Validates a parsed JSON document against `schema` after checking its version. `what` names the
 * object in messages ("manifest of backup X").
 */
export function parseDocument<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const version = (value as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof version === 'number' && version > FORMAT_VERSION) {
    throw new CassetteError('BACKUP_INVALID', `${what} has format version ${version}; this build of cassette reads up to version ${FORMAT_VERSION}`, {
      hint: 'upgrade cassette to read this backup',
    });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid';
    throw new CassetteError('BACKUP_INVALID', `${what} is malformed (${where})`, {
      hint: 'the object was damaged or not written by cassette; use another backup',
    });
  }
  return parsed.data;
}
