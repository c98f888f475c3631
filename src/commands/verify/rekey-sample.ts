/**
 * `cassette verify --config`: for a backup written by `cassette rekey` (docs/format.md §8), open a
 * sample of the re-encrypted values with the config's new key — the first rows of every chunk the
 * data check reads. A value the new key does not open (or that an old key opens: not rotated) is
 * damage, named by table, column and primary key; never a value — unless the rekey's quarantine
 * lists name it: no key opened it then, so it was left as it was, and it is counted apart.
 * Plaintext is zeroed at once.
 */
import { text } from 'node:stream/consumers';
import type { KeyspaceSchema } from '../../cassandra/schema/model.js';
import type { JsonValue } from '../../cassandra/values/json-value.js';
import type { BackupRow } from '../../cassandra/writes/row-shape.js';
import type { RotationConfig } from '../../config/rotation-types.js';
import type { ColumnCipher } from '../../crypto/cipher.js';
import { CassetteError } from '../../errors.js';
import type { Manifest } from '../../manifest/format.js';
import { quarantineFolder } from '../../manifest/keys.js';
import type { QuarantineEntry } from '../../manifest/rekey-format.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { RowRotationPlan } from '../../pipeline/transform/rekey-row.js';
import { rotationPlans } from '../rotate/row-plans.js';

/** Rows per chunk whose encrypted values are opened. */
export const SAMPLE_ROWS_PER_CHUNK = 20;

/** What the sample found, for the report. */
export interface RekeySampleTotals {
  readonly newKeyVersion: string;
  readonly valuesOpened: number;
  readonly valuesNotOpened: number;
  /** Sampled values that did not open and that the rekey quarantined (listed in its quarantine files). */
  readonly valuesQuarantined: number;
}

/** The sampler of one verify run: `openRow` per sampled row; problems are returned as sentences. */
export interface RekeySampler {
  /** Whether rows of `table` are sampled. */
  samples(table: string): boolean;
  /** Opens the row's encrypted values; one sentence per value that does not open under the new key. */
  openRow(table: string, row: BackupRow): Promise<string[]>;
  totals(): RekeySampleTotals;
}

const quarantineId = (table: string, column: string, key: unknown): string => JSON.stringify([table, column, key]);

/** Every value the rekey quarantined (format.md §8 quarantine files), as quarantineId strings. */
async function readQuarantined(store: BlobStore, backupId: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const entry of store.list(quarantineFolder(backupId))) {
    for (const line of (await text(await store.get(entry.key))).split('\n')) {
      if (line.trim() === '') continue;
      const q = JSON.parse(line) as QuarantineEntry;
      ids.add(quarantineId(q.table, q.column, q.key));
    }
  }
  return ids;
}

/**
 * A sampler for `manifest`'s backup. INVALID_INPUT when the backup was not written by a rekey, or
 * the config's new key is not the one the rekey used.
 */
export async function rekeySampler(store: BlobStore, manifest: Manifest, config: RotationConfig, cipher: ColumnCipher): Promise<RekeySampler> {
  if (manifest.rekey === undefined) {
    throw new CassetteError('INVALID_INPUT', `backup ${manifest.backupId} was not written by \`cassette rekey\`; --config opens the values of a rekeyed backup`, {
      hint: 'leave out --config, or verify the backup the rekey wrote (its id is in the rekey report and `cassette list`)',
    });
  }
  if (manifest.rekey.newKeyVersion !== cipher.newKeyVersion) {
    throw new CassetteError('INVALID_INPUT', `backup ${manifest.backupId} was re-encrypted under key version ${manifest.rekey.newKeyVersion}; the config's new key is version ${cipher.newKeyVersion}`, {
      hint: 'use the rotation config the rekey ran with',
    });
  }
  const schema = manifest.keyspace as unknown as KeyspaceSchema;
  const rotated = new Set(manifest.rekey.tables.map((t) => t.name));
  const plans = new Map([...rotationPlans(config, schema, cipher, `backup ${manifest.backupId}`)].filter(([name]) => rotated.has(name)));
  const quarantined = await readQuarantined(store, manifest.backupId);
  let valuesOpened = 0;
  let valuesNotOpened = 0;
  let valuesQuarantined = 0;
  return {
    samples: (table) => plans.has(table),
    openRow: async (table, row) => {
      const plan = plans.get(table) as RowRotationPlan;
      const problems: string[] = [];
      for (const column of plan.columns) {
        const cell = row.c[column.name] as { readonly v?: JsonValue } | undefined;
        if (cell === undefined || typeof cell.v !== 'string') continue; // null: nothing encrypted
        const ciphertext = column.storage === 'blob' || cipher.textEncoding === 'base64' ? Buffer.from(cell.v, 'base64') : Buffer.from(cell.v, 'utf8');
        const opened = await cipher.open(ciphertext, { keyspace: plan.keyspace, table, column: column.name });
        opened?.plaintext.fill(0);
        if (opened?.current === true) {
          valuesOpened++;
          continue;
        }
        if (opened === undefined && quarantined.has(quarantineId(table, column.name, row.k))) {
          valuesQuarantined++;
          continue;
        }
        valuesNotOpened++;
        problems.push(`${table}.${column.name} of row ${JSON.stringify(row.k)} ${opened === undefined ? 'opens under no configured key' : `is still under old key version ${opened.keyVersion}`}`);
      }
      return problems;
    },
    totals: () => ({ newKeyVersion: cipher.newKeyVersion, valuesOpened, valuesNotOpened, valuesQuarantined }),
  };
}
