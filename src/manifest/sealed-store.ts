/**
 * Encrypted backups (docs/format.md §12) as a {@link BlobStore} decorator: commands read and write
 * an encrypted backup exactly as a plain one, and this store seals every object of its folder with
 * age on the way in and opens it on the way out — except the plaintext `encryption.json` (how the
 * backup is sealed, written first), `index.json` (what listing and verifying need without a key)
 * and `deleting.json`. A backup is encrypted when its `encryption.json` exists; a store given
 * recipients creates that file for each new backup, right before its `backup.json`. Plain backups
 * in the same repository pass through untouched.
 *
 * When the (sealed) `manifest.json` is put, `index.json` is derived from it first, with the stored
 * size and SHA-256 of every object of the backup, so `verify` without the identity can check them.
 */
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CassetteError } from '../errors.js';
import { openBody, sealBody, unwrapIdentity, wrapNewIdentity, type AgeIdentities, type AgePassphrase, type AgeRecipients } from '../storage/age-codec.js';
import { DigestCounter } from '../storage/body.js';
import { type BlobBody, type BlobEntry, type BlobStore, type PutOptions, type PutResult } from '../storage/blob-store.js';
import { BackupIndex, EncryptionDocument, ENCRYPTION_KIND, INDEX_KIND } from './encryption-format.js';
import { FORMAT_VERSION, Manifest, parseDocument, type StoredObject } from './format.js';
import { backupFolder, backupIdOf, encryptionKey, indexKey } from './keys.js';
import { readDocument } from './repository.js';

/** Objects of an encrypted backup's folder that stay plaintext. */
const PLAIN_NAMES = new Set(['encryption.json', 'index.json', 'deleting.json']);

export interface SealingOptions {
  /** New backups written through the store are sealed to these recipients (`--encrypt-to`). */
  readonly sealNewTo?: AgeRecipients;
  /** Identities that open encrypted backups (`--identity`); without them their objects cannot be read. */
  readonly identities?: AgeIdentities;
  /**
   * `--passphrase-file`: opens backups written with a passphrase, and seals new ones with it (to a
   * new identity of the backup's own, kept in encryption.json sealed with the passphrase).
   */
  readonly passphrase?: AgePassphrase;
}

type Mode = { readonly sealed: false } | { readonly sealed: true; readonly doc: EncryptionDocument };

/** The backup's encryption as its `encryption.json` says, or undefined for a plain (or unknown) backup. */
export function readEncryption(store: BlobStore, backupId: string): Promise<EncryptionDocument | undefined> {
  return readDocument(store, encryptionKey(backupId), EncryptionDocument, `encryption.json of backup ${backupId}`);
}

function parseJson(body: string, what: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    throw new CassetteError('BACKUP_INVALID', `${what} is not valid JSON`, { hint: 'the object was damaged; use another backup' });
  }
}

export class SealedStore implements BlobStore {
  readonly #inner: BlobStore;
  readonly #options: SealingOptions;
  readonly #modes = new Map<string, Promise<Mode>>();
  /** Backup identities unwrapped with the passphrase, by backup id. */
  readonly #unwrapped = new Map<string, Promise<AgeIdentities>>();
  /** The stored size and hash of every object this store sealed, by key (for index.json). */
  readonly #stored = new Map<string, StoredObject>();

  constructor(inner: BlobStore, options: SealingOptions) {
    this.#inner = inner;
    this.#options = options;
  }

  get description(): string {
    return this.#inner.description;
  }

  async put(key: string, body: BlobBody, options?: PutOptions): Promise<PutResult> {
    const id = backupIdOf(key);
    const name = id === undefined ? undefined : key.slice(backupFolder(id).length);
    if (id === undefined || name === undefined || PLAIN_NAMES.has(name)) return this.#inner.put(key, body, options);
    const mode = name === 'backup.json' ? await this.#startMode(id, body) : await this.#mode(id);
    if (!mode.sealed) return this.#inner.put(key, body, options);
    const to = { recipients: mode.doc.recipients };
    if (name === 'manifest.json') await this.#writeIndex(id, body, to);
    return this.#sealedPut(key, body, to, options);
  }

  async get(key: string) {
    const id = backupIdOf(key);
    const name = id === undefined ? undefined : key.slice(backupFolder(id).length);
    if (id === undefined || name === undefined || PLAIN_NAMES.has(name)) return this.#inner.get(key);
    const mode = await this.#mode(id);
    if (!mode.sealed) return this.#inner.get(key);
    const identities = await this.#identitiesFor(id, mode.doc);
    return openBody(await this.#inner.get(key), identities, `${name} of backup ${id}`);
  }

  /** The identities given, and the backup's own one when a passphrase opens it (one scrypt per backup). */
  async #identitiesFor(id: string, doc: EncryptionDocument): Promise<AgeIdentities> {
    const given = this.#options.identities;
    const passphrase = this.#options.passphrase;
    if (doc.passphraseIdentity !== undefined && passphrase !== undefined) {
      let own = this.#unwrapped.get(id);
      if (own === undefined) {
        own = unwrapIdentity(doc.passphraseIdentity, passphrase, `backup ${id}`);
        this.#unwrapped.set(id, own);
        own.catch(() => this.#unwrapped.delete(id));
      }
      const opened = await own;
      return { identities: [...opened.identities, ...(given?.identities ?? [])], source: given === undefined ? passphrase.source : `${passphrase.source} and ${given.source}` };
    }
    if (given !== undefined) return given;
    throw new CassetteError('INVALID_INPUT', `backup ${id} is encrypted with age (to ${describeRecipients(doc.recipients)}); no ${doc.passphraseIdentity === undefined ? 'identity' : 'passphrase or identity'} was given to read it`, {
      hint: doc.passphraseIdentity === undefined
        ? 'give the age identity (secret key) file of one of its recipients: --identity FILE or CASSETTE_AGE_IDENTITY_FILE'
        : 'give its passphrase: --passphrase-file FILE or CASSETTE_AGE_PASSPHRASE_FILE',
    });
  }

  head(key: string) {
    return this.#inner.head(key);
  }

  list(prefix: string): AsyncIterable<BlobEntry> {
    return this.#inner.list(prefix);
  }

  delete(key: string): Promise<void> {
    return this.#inner.delete(key);
  }

  /** Whether backup `id` is encrypted, from its encryption.json (read once). */
  #mode(id: string): Promise<Mode> {
    let mode = this.#modes.get(id);
    if (mode === undefined) {
      mode = readEncryption(this.#inner, id).then((doc): Mode => (doc === undefined ? { sealed: false } : { sealed: true, doc }));
      this.#modes.set(id, mode);
      mode.catch(() => this.#modes.delete(id));
    }
    return mode;
  }

  /**
   * Before a backup.json: a new backup is sealed when the store has recipients, else when it is
   * derived (rekey) from an encrypted backup, to that backup's recipients — its encryption.json is
   * written now, first. A resumed backup stays as it began.
   */
  async #startMode(id: string, header: BlobBody): Promise<Mode> {
    const existing = await this.#mode(id);
    if (existing.sealed || (await this.#inner.head(`${backupFolder(id)}backup.json`)) !== undefined) return existing;
    const doc = await this.#newEncryption(header);
    if (doc === undefined) return existing;
    await this.#inner.put(encryptionKey(id), `${JSON.stringify(doc, null, 2)}\n`, { ifAbsent: true });
    const mode: Mode = { sealed: true, doc };
    this.#modes.set(id, Promise.resolve(mode));
    return mode;
  }

  /**
   * How a new backup is sealed: to the store's recipients and/or a new identity sealed with its
   * passphrase; else, for a backup derived from an encrypted one (rekey), as that one is.
   */
  async #newEncryption(header: BlobBody): Promise<EncryptionDocument | undefined> {
    const { sealNewTo, passphrase } = this.#options;
    const base = { formatVersion: FORMAT_VERSION, kind: ENCRYPTION_KIND, scheme: 'age' } as const;
    if (sealNewTo !== undefined || passphrase !== undefined) {
      const own = passphrase === undefined ? undefined : await wrapNewIdentity(passphrase);
      return {
        ...base,
        recipients: [...(sealNewTo?.recipients ?? []), ...(own === undefined ? [] : [own.recipient])],
        ...(own === undefined ? {} : { passphraseIdentity: own.wrapped }),
      };
    }
    const json = documentText(header);
    if (json === undefined) return undefined;
    const source = (parseJson(json, 'backup.json') as { derivedFrom?: { backupId?: unknown } }).derivedFrom?.backupId;
    if (typeof source !== 'string') return undefined;
    const mode = await this.#mode(source);
    return mode.sealed ? { ...base, recipients: mode.doc.recipients, ...(mode.doc.passphraseIdentity === undefined ? {} : { passphraseIdentity: mode.doc.passphraseIdentity }) } : undefined;
  }

  async #sealedPut(key: string, body: BlobBody, to: AgeRecipients, options?: PutOptions): Promise<PutResult> {
    const plain = new DigestCounter();
    const source = typeof body === 'string' || body instanceof Uint8Array ? Readable.from([Buffer.from(body)]) : body;
    const feeding = pipeline(source, plain);
    feeding.catch(() => undefined);
    const sealed = await sealBody(plain, to);
    const stored = new DigestCounter();
    const storing = pipeline(sealed, stored);
    storing.catch(() => undefined);
    await this.#inner.put(key, stored, options);
    await feeding;
    await storing;
    this.#stored.set(key, { bytes: stored.bytes, sha256: stored.digest() });
    return { bytes: plain.bytes };
  }

  /** index.json from the manifest being written: no schema, no row data, every stored object's size and hash. */
  async #writeIndex(id: string, body: BlobBody, to: AgeRecipients): Promise<void> {
    const json = documentText(body);
    if (json === undefined) throw new Error('internal: a manifest is written whole, not as a stream');
    const manifest = parseDocument(Manifest, parseJson(json, `manifest of backup ${id}`), `manifest of backup ${id}`);
    const folder = backupFolder(id);
    const storedOf = async (relative: string): Promise<StoredObject> => this.#stored.get(folder + relative) ?? (await this.#hashStored(folder + relative));
    const tables = [];
    for (const table of manifest.tables) {
      const ranges = [];
      let tableBytes = 0;
      for (const range of table.ranges) {
        const chunks = [];
        for (const chunk of range.chunks) {
          const stored = await storedOf(chunk.key);
          chunks.push({ key: chunk.key, rows: chunk.rows, ...stored });
        }
        const bytes = chunks.reduce((n, c) => n + c.bytes, 0);
        tableBytes += bytes;
        ranges.push({ index: range.index, start: range.start, end: range.end, rows: range.rows, bytes, chunks });
      }
      tables.push({ name: table.name, rows: table.rows, bytes: tableBytes, ranges });
    }
    const objects = [];
    for await (const entry of this.#inner.list(folder)) {
      const relative = entry.key.slice(folder.length);
      if (PLAIN_NAMES.has(relative) || relative === 'manifest.json' || relative.startsWith('data/')) continue;
      objects.push({ key: relative, ...(await storedOf(relative)) });
    }
    const index: BackupIndex = {
      formatVersion: FORMAT_VERSION, kind: INDEX_KIND, backupId: manifest.backupId, createdAt: manifest.createdAt, completedAt: manifest.completedAt,
      tool: manifest.tool, keyspace: manifest.keyspace.name,
      ...(manifest.derivedFrom === undefined ? {} : { derivedFrom: manifest.derivedFrom }),
      encryption: { scheme: 'age', recipients: [...to.recipients] },
      tables,
      totals: { ...manifest.totals, bytes: tables.reduce((n, t) => n + t.bytes, 0) },
      objects,
    };
    // Not write-once: a run that died between index.json and manifest.json writes it again.
    await this.#inner.put(indexKey(id), `${JSON.stringify(index, null, 2)}\n`);
  }

  async #hashStored(key: string): Promise<StoredObject> {
    const digest = new DigestCounter();
    await pipeline(await this.#inner.get(key), digest, new PassThrough().resume());
    return { bytes: digest.bytes, sha256: digest.digest() };
  }
}

/** A document body given whole (as text or bytes; a retrying store passes bytes), or undefined for a stream. */
function documentText(body: BlobBody): string | undefined {
  if (typeof body === 'string') return body;
  return body instanceof Uint8Array ? Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8') : undefined;
}

function describeRecipients(recipients: readonly string[]): string {
  const [first] = recipients;
  const short = first === undefined ? '?' : `${first.slice(0, 12)}…`;
  return recipients.length === 1 ? short : `${short} and ${recipients.length - 1} more`;
}
