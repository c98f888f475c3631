/**
 * The plaintext documents of an encrypted backup (docs/format.md §12): `encryption.json`, written
 * first, says how the backup's other objects are sealed; `index.json`, written just before the
 * (sealed) manifest, holds what listing and verifying need without a key — ids, times, table
 * names, counts, sizes and the SHA-256 of every stored object — and no row data or schema.
 */
import { z } from 'zod';
import { StoredObject } from './format.js';

export const ENCRYPTION_KIND = 'cassette-encryption';
export const INDEX_KIND = 'cassette-backup-index';

export const EncryptionDocument = z.object({
  formatVersion: z.number().int().positive(),
  kind: z.literal(ENCRYPTION_KIND),
  scheme: z.literal('age'),
  /** The age recipients (public keys) every sealed object of the backup is encrypted to. */
  recipients: z.array(z.string()).min(1),
  /**
   * Backups written with a passphrase: the identity of one of the recipients, as an ASCII-armored
   * age file sealed with the passphrase (scrypt). Absent otherwise.
   */
  passphraseIdentity: z.string().optional(),
});
export type EncryptionDocument = z.infer<typeof EncryptionDocument>;

const tokenString = z.string().regex(/^-?\d{1,19}$/);
const IndexChunk = z.object({ key: z.string(), rows: z.number().int().nonnegative(), ...StoredObject.shape });

export const BackupIndex = z.object({
  formatVersion: z.number().int().positive(),
  kind: z.literal(INDEX_KIND),
  backupId: z.string(),
  createdAt: z.string(),
  completedAt: z.string(),
  tool: z.object({ name: z.string(), version: z.string() }),
  keyspace: z.string(),
  derivedFrom: z.object({ backupId: z.string(), by: z.literal('rekey') }).optional(),
  encryption: z.object({ scheme: z.literal('age'), recipients: z.array(z.string()) }),
  tables: z.array(z.object({
    name: z.string(),
    rows: z.number().int().nonnegative(),
    bytes: z.number().int().nonnegative(),
    ranges: z.array(z.object({
      index: z.number().int().nonnegative(), start: tokenString, end: tokenString,
      rows: z.number().int().nonnegative(), bytes: z.number().int().nonnegative(),
      chunks: z.array(IndexChunk),
    })),
  })),
  totals: z.object({ tables: z.number().int(), ranges: z.number().int(), chunks: z.number().int(), rows: z.number().int(), bytes: z.number().int() }),
  /** Every other stored object of the backup but manifest.json (backup.json, schema.cql, markers), relative to its folder. */
  objects: z.array(z.object({ key: z.string(), ...StoredObject.shape })),
});
export type BackupIndex = z.infer<typeof BackupIndex>;
