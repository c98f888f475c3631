/**
 * The `aes-gcm` provider: AES-256-GCM with a random 96-bit nonce. A stored value is
 *
 *   [0x01 ‖ key id (4 bytes, big-endian)]  ‖  nonce (12)  ‖  ciphertext  ‖  tag (16)
 *
 * where the bracketed Tink-style prefix is present only with `key_id_prefix: true`. Options:
 * - `key_id_prefix` (boolean, default false): every key needs an `id`; opening picks the key by the
 *   prefix's id without trial decryption (an id no key has cannot be opened);
 * - `associated_data` (string): a template whose `{keyspace}`, `{table}` and `{column}` are filled
 *   from the value's place; its UTF-8 bytes are the GCM associated data (absent: none).
 * Without prefixes, opening tries the new key and then the old keys in order.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { CassetteError } from '../errors.js';
import type { CipherContext, CipherSpec, ColumnCipher, Opened } from './cipher.js';
import { decodeBase64Strict, decodeHexStrict, type ReadKeyFile } from './key-material.js';
import { loadKeyRing, type KeyFormat, type RingKey } from './key-ring.js';
import { rejectUnknownOptions } from './options.js';
import { randomSource } from './random-pool.js';

const PREFIX_MARKER = 0x01;
const PREFIX_BYTES = 5;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const PLACEHOLDER_NAMES = ['keyspace', 'table', 'column'] as const;

/** aes-gcm key text: 64 hex digits, or base64 (standard or url-safe, padded or not) of 32 bytes. */
export const aesGcmKeyFormat: KeyFormat = {
  provider: 'aes-gcm',
  description: 'an AES-256 key (64 hex digits, or base64 of 32 bytes)',
  hint: 'make one with `openssl rand -base64 32` or `openssl rand -hex 32`',
  allowsId: true,
  decode(text) {
    const bytes = text.length === 64 ? decodeHexStrict(text) : decodeBase64Strict(text);
    return bytes?.length === 32 ? bytes : undefined;
  },
};

/** The validated aes-gcm options. */
export interface AesGcmOptions {
  readonly keyIdPrefix: boolean;
  /** The associated-data template, or undefined for none. */
  readonly associatedData: string | undefined;
}

/** Reads and checks `spec.options`; throws INVALID_INPUT naming the bad option. */
export function parseAesGcmOptions(options: Readonly<Record<string, unknown>>): AesGcmOptions {
  rejectUnknownOptions('aes-gcm', options, ['key_id_prefix', 'associated_data']);
  const { key_id_prefix: keyIdPrefix = false, associated_data: associatedData } = options;
  if (typeof keyIdPrefix !== 'boolean') {
    throw new CassetteError('INVALID_INPUT', 'aes-gcm option key_id_prefix must be true or false', {
      hint: 'write key_id_prefix: true when stored values start with the 5-byte key-id prefix',
    });
  }
  if (associatedData !== undefined && typeof associatedData !== 'string') {
    throw new CassetteError('INVALID_INPUT', 'aes-gcm option associated_data must be a string', {
      hint: 'for example associated_data: "{keyspace}.{table}.{column}"',
    });
  }
  if (associatedData !== undefined) {
    const unknown = [...associatedData.matchAll(PLACEHOLDER)]
      .map((match) => match[1] ?? '')
      .filter((name) => !(PLACEHOLDER_NAMES as readonly string[]).includes(name));
    if (unknown.length > 0) {
      throw new CassetteError('INVALID_INPUT', `aes-gcm option associated_data has unknown placeholder${unknown.length === 1 ? '' : 's'} ${unknown.map((n) => `{${n}}`).join(', ')}`, {
        hint: 'the placeholders are {keyspace}, {table} and {column}',
      });
    }
  }
  return { keyIdPrefix, associatedData };
}

/** The associated data for a value at `context`, or undefined when the template is absent. */
export function associatedDataFor(template: string | undefined, context: CipherContext): Buffer | undefined {
  if (template === undefined) return undefined;
  // One pass, so a name that itself contains "{table}" is not substituted again.
  const text = template.replace(PLACEHOLDER, (whole, name: string) =>
    name === 'keyspace' ? context.keyspace : name === 'table' ? context.table : name === 'column' ? context.column : whole,
  );
  return Buffer.from(text, 'utf8');
}

function decrypt(key: Buffer, body: Buffer, aad: Buffer | undefined): Buffer | undefined {
  if (body.length < NONCE_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
    if (aad !== undefined) decipher.setAAD(aad);
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([decipher.update(body.subarray(NONCE_BYTES, body.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}

/** Every key must have an id, and no two keys may share one. */
function keysById(keys: readonly RingKey[]): ReadonlyMap<number, RingKey> {
  const byId = new Map<number, RingKey>();
  for (const key of keys) {
    if (key.id === undefined) {
      throw new CassetteError('INVALID_INPUT', `${key.name} has no key id, which key_id_prefix: true requires`, {
        hint: 'give every key the id its values carry in their 5-byte prefix',
      });
    }
    const other = byId.get(key.id);
    if (other !== undefined) {
      throw new CassetteError('INVALID_INPUT', `${key.name} and ${other.name} have the same key id ${key.id}`, {
        hint: 'give each key its own id',
      });
    }
    byId.set(key.id, key);
  }
  return byId;
}

/**
 * The aes-gcm {@link ColumnCipher}: needs the new key and at least one old key. Throws
 * INVALID_INPUT for missing or malformed keys, bad or unknown options, missing or repeated ids.
 */
export function createAesGcmCipher(
  spec: CipherSpec,
  env: Readonly<Record<string, string | undefined>>,
  readFile?: ReadKeyFile,
): ColumnCipher {
  const options = parseAesGcmOptions(spec.options);
  const ring = loadKeyRing(spec, env, aesGcmKeyFormat, readFile);
  const newKey = ring.newKey;
  const trialOrder = [newKey, ...ring.oldKeys];
  const byId = options.keyIdPrefix ? keysById(trialOrder) : undefined;
  const nextNonce = randomSource(NONCE_BYTES);
  const opened = (key: RingKey, plaintext: Buffer): Opened => ({ plaintext, keyVersion: key.version, current: key === newKey });

  let prefix: Buffer | undefined;
  if (byId !== undefined) {
    prefix = Buffer.alloc(PREFIX_BYTES);
    prefix[0] = PREFIX_MARKER;
    prefix.writeUInt32BE(newKey.id ?? 0, 1);
  }

  return Object.freeze({
    type: 'aes-gcm',
    newKeyVersion: newKey.version,
    oldKeyVersions: Object.freeze(ring.oldKeys.map((key) => key.version)),
    textEncoding: 'base64',
    open(ciphertext: Buffer, context: CipherContext): Opened | undefined {
      const aad = associatedDataFor(options.associatedData, context);
      if (byId !== undefined) {
        if (ciphertext.length < PREFIX_BYTES || ciphertext[0] !== PREFIX_MARKER) return undefined;
        const key = byId.get(ciphertext.readUInt32BE(1));
        if (key === undefined) return undefined;
        const plaintext = decrypt(key.bytes, ciphertext.subarray(PREFIX_BYTES), aad);
        return plaintext === undefined ? undefined : opened(key, plaintext);
      }
      for (const key of trialOrder) {
        const plaintext = decrypt(key.bytes, ciphertext, aad);
        if (plaintext !== undefined) return opened(key, plaintext);
      }
      return undefined;
    },
    seal(plaintext: Buffer, context: CipherContext): Buffer {
      const aad = associatedDataFor(options.associatedData, context);
      const nonce = nextNonce();
      const cipher = createCipheriv('aes-256-gcm', newKey.bytes, nonce, { authTagLength: TAG_BYTES });
      if (aad !== undefined) cipher.setAAD(aad);
      const body = [nonce, cipher.update(plaintext), cipher.final()];
      const tag = cipher.getAuthTag();
      return Buffer.concat(prefix === undefined ? [...body, tag] : [prefix, ...body, tag]);
    },
  } satisfies ColumnCipher);
}
