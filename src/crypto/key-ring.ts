/**
 * The keys of a built-in provider (fernet, aes-gcm): read, decoded, versioned and checked once
 * when the cipher is created. Messages name key sources and versions, never key text.
 */
import { createHash } from 'node:crypto';
import { CassetteError } from '../errors.js';
import type { CipherSpec, KeySpec } from './cipher.js';
import { keySourceName, readKeyText, type ReadKeyFile } from './key-material.js';

/** A decoded key and the version the rotation records for it. */
export interface RingKey {
  /** The key's source as messages name it (environment variable or `key file <path>`). */
  readonly name: string;
  /** The raw key bytes. */
  readonly bytes: Buffer;
  readonly version: string;
  /** aes-gcm key id (the 5-byte prefix's id), when configured. */
  readonly id: number | undefined;
}

/** The new key and the old keys in trial order, without repeats. */
export interface KeyRing {
  readonly newKey: RingKey;
  readonly oldKeys: readonly RingKey[];
}

/** How one provider's key text looks. */
export interface KeyFormat {
  /** Provider name for messages (`fernet`, `aes-gcm`). */
  readonly provider: string;
  /** What the text must be, completing "<source> does not hold …". */
  readonly description: string;
  /** How to make a valid key, for the hint. */
  readonly hint: string;
  /** Whether key specs may carry an `id`. */
  readonly allowsId: boolean;
  /** The raw key the text encodes, or undefined when it is not one. */
  decode(text: string): Buffer | undefined;
}

const MAX_KEY_ID = 0xffff_ffff;

/**
 * A derived key version: `fp-` and the first 8 hex digits of SHA-256 over the raw key. 32 bits of
 * a hash of a 256-bit random key tell nothing useful about the key: they only let someone who
 * already holds a candidate key check whether it is this one.
 */
export function fingerprintVersion(key: Buffer): string {
  return `fp-${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
}

/**
 * Reads and checks a spec's keys. Requires the new key and at least one old key; each key's text
 * must decode; versions are the spec's, else String(id), else {@link fingerprintVersion}. An old
 * key that repeats the new key (or an earlier old key) with the same version is dropped; the same
 * key under another version, or one version for two keys, is INVALID_INPUT.
 */
export function loadKeyRing(
  spec: CipherSpec,
  env: Readonly<Record<string, string | undefined>>,
  format: KeyFormat,
  readFile?: ReadKeyFile,
): KeyRing {
  if (spec.newKey === undefined) {
    throw new CassetteError('INVALID_INPUT', `the ${format.provider} provider needs a new key`, {
      hint: 'configure the key every value is re-encrypted under (an environment variable or a key file)',
    });
  }
  if (spec.oldKeys.length === 0) {
    throw new CassetteError('INVALID_INPUT', `the ${format.provider} provider needs at least one old key`, {
      hint: 'list the keys values are currently encrypted under; the new key alone cannot rotate anything',
    });
  }
  const newKey = loadKey(spec.newKey, env, format, readFile);
  const kept: RingKey[] = [newKey];
  for (const keySpec of spec.oldKeys) {
    const key = loadKey(keySpec, env, format, readFile);
    if (isRepeat(key, kept)) continue;
    kept.push(key);
  }
  return { newKey, oldKeys: kept.slice(1) };
}

function loadKey(
  spec: KeySpec,
  env: Readonly<Record<string, string | undefined>>,
  format: KeyFormat,
  readFile: ReadKeyFile | undefined,
): RingKey {
  const name = keySourceName(spec.source);
  const bytes = format.decode(readKeyText(spec.source, env, readFile));
  if (bytes === undefined) {
    throw new CassetteError('INVALID_INPUT', `${name} does not hold ${format.description}`, { hint: format.hint });
  }
  if (spec.id !== undefined) {
    if (!format.allowsId) {
      throw new CassetteError('INVALID_INPUT', `${name}: a key id applies only to aes-gcm keys, not ${format.provider}`, {
        hint: 'remove the id from this key',
      });
    }
    if (!Number.isInteger(spec.id) || spec.id < 0 || spec.id > MAX_KEY_ID) {
      throw new CassetteError('INVALID_INPUT', `${name}: key id ${String(spec.id)} is not an unsigned 32-bit integer`, {
        hint: `use an integer from 0 to ${MAX_KEY_ID}`,
      });
    }
  }
  if (spec.version !== undefined && spec.version === '') {
    throw new CassetteError('INVALID_INPUT', `${name}: the key version is empty`, {
      hint: 'give the key a non-empty version, or leave it out to have one derived',
    });
  }
  const version = spec.version ?? (spec.id !== undefined ? String(spec.id) : fingerprintVersion(bytes));
  return { name, bytes, version, id: spec.id };
}

/** True when `key` repeats a kept key exactly; throws when it conflicts with one. */
function isRepeat(key: RingKey, kept: readonly RingKey[]): boolean {
  for (const other of kept) {
    const sameBytes = key.bytes.equals(other.bytes);
    if (sameBytes && key.version === other.version && key.id === other.id) return true;
    if (sameBytes) {
      throw new CassetteError(
        'INVALID_INPUT',
        `${key.name} holds the same key as ${other.name} but with another version or id (${describe(key)} vs ${describe(other)})`,
        { hint: 'list each key once, with one version' },
      );
    }
    if (key.version === other.version) {
      throw new CassetteError('INVALID_INPUT', `${key.name} and ${other.name} are different keys with the same version ${key.version}`, {
        hint: 'give each key its own version',
      });
    }
  }
  return false;
}

function describe(key: RingKey): string {
  return key.id === undefined ? `version ${key.version}` : `version ${key.version}, id ${key.id}`;
}
