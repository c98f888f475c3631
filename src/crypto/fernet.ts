/**
 * The `fernet` provider: tokens compatible with Python `cryptography`'s Fernet and MultiFernet
 * (https://github.com/fernet/spec), built on node:crypto alone.
 *
 * A key is url-safe base64 of 32 bytes: the first 16 sign (HMAC-SHA256), the last 16 encrypt
 * (AES-128-CBC). A token is url-safe base64, padded, of
 *
 *   0x80 ‖ timestamp (8 bytes, big-endian seconds) ‖ IV (16) ‖ AES-128-CBC/PKCS7 ciphertext ‖ HMAC (32)
 *
 * where the HMAC covers every byte before it. Opening verifies the HMAC (in constant time) before
 * decrypting and, like MultiFernet, opens a token with the first key in trial order (the new key,
 * then the old keys in order) under which it verifies and decrypts; it never checks the token's
 * age (a rotation re-encrypts old values whatever their age). Sealing always uses the new key.
 */
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import type { CipherContext, CipherSpec, ColumnCipher, Opened } from './cipher.js';
import { FernetEngine } from './fernet-engine.js';
import { decodeBase64Strict, type ReadKeyFile } from './key-material.js';
import { loadKeyRing, type KeyFormat } from './key-ring.js';
import { rejectUnknownOptions } from './options.js';
import { randomSource } from './random-pool.js';

/** A Fernet key split into its halves, with its version. */
export interface FernetKey {
  readonly signingKey: Buffer;
  readonly encryptionKey: Buffer;
  readonly version: string;
}

const VERSION_BYTE = 0x80;
const HEADER_BYTES = 1 + 8 + 16;
const HMAC_BYTES = 32;
const BLOCK_BYTES = 16;
/** Header, at least one cipher block (PKCS7 always pads), HMAC. */
const MIN_TOKEN_BYTES = HEADER_BYTES + BLOCK_BYTES + HMAC_BYTES;

/** Fernet key text: base64 (url-safe, as Fernet.generate_key() writes it; padded or not) of 32 bytes. */
export const fernetKeyFormat: KeyFormat = {
  provider: 'fernet',
  description: 'a Fernet key (url-safe base64 of 32 bytes)',
  hint: 'a Fernet key is 44 characters, as Python\'s Fernet.generate_key() prints it',
  allowsId: false,
  decode(text) {
    const bytes = decodeBase64Strict(text);
    return bytes?.length === 32 ? bytes : undefined;
  },
};

/** Splits 32 raw key bytes into a {@link FernetKey}. */
export function fernetKey(bytes: Buffer, version: string): FernetKey {
  return { signingKey: bytes.subarray(0, 16), encryptionKey: bytes.subarray(16, 32), version };
}

/**
 * The token for `plaintext` at `seconds` with `iv`, as its ASCII bytes. Exported for known-answer
 * tests; the cipher passes the current time and a random IV.
 */
export function sealFernetToken(key: FernetKey, plaintext: Buffer, seconds: number, iv: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header[0] = VERSION_BYTE;
  header.writeBigUInt64BE(BigInt(seconds), 1);
  iv.copy(header, 9);
  const cipher = createCipheriv('aes-128-cbc', key.encryptionKey, iv);
  const signed = Buffer.concat([header, cipher.update(plaintext), cipher.final()]);
  const hmac = createHmac('sha256', key.signingKey).update(signed).digest();
  const text = Buffer.concat([signed, hmac]).toString('base64url');
  // Python's base64.urlsafe_b64encode pads; Node's base64url does not.
  return Buffer.from(text.padEnd(Math.ceil(text.length / 4) * 4, '='), 'latin1');
}

/**
 * The binary form of a token's text, or undefined when it cannot be a Fernet token (bad base64,
 * wrong version byte, too short, ciphertext not whole blocks).
 */
export function decodeFernetToken(token: Buffer): Buffer | undefined {
  const data = decodeBase64Strict(token.toString('latin1'));
  if (data === undefined || data.length < MIN_TOKEN_BYTES || data[0] !== VERSION_BYTE) return undefined;
  if ((data.length - HEADER_BYTES - HMAC_BYTES) % BLOCK_BYTES !== 0) return undefined;
  return data;
}

/** The plaintext of a decoded token under one key, or undefined when the HMAC or padding is wrong. */
export function openFernetData(key: FernetKey, data: Buffer): Buffer | undefined {
  const signedEnd = data.length - HMAC_BYTES;
  const expected = createHmac('sha256', key.signingKey).update(data.subarray(0, signedEnd)).digest();
  if (!timingSafeEqual(expected, data.subarray(signedEnd))) return undefined;
  try {
    const decipher = createDecipheriv('aes-128-cbc', key.encryptionKey, data.subarray(9, HEADER_BYTES));
    return Buffer.concat([decipher.update(data.subarray(HEADER_BYTES, signedEnd)), decipher.final()]);
  } catch {
    // Bad PKCS7 padding under a valid HMAC: Python raises InvalidToken, and MultiFernet moves on.
    return undefined;
  }
}

/** {@link sealFernetToken} on a key's long-lived {@link FernetEngine}: the same bytes, less work per value. */
function sealWithEngine(engine: FernetEngine, plaintext: Buffer, seconds: number, iv: Buffer): Buffer {
  const ciphertext = engine.encrypt(plaintext, iv);
  const token = Buffer.allocUnsafe(HEADER_BYTES + ciphertext.length + HMAC_BYTES);
  token[0] = VERSION_BYTE;
  token.writeBigUInt64BE(BigInt(seconds), 1);
  iv.copy(token, 9);
  ciphertext.copy(token, HEADER_BYTES);
  const signedEnd = HEADER_BYTES + ciphertext.length;
  engine.hmac(token.subarray(0, signedEnd)).copy(token, signedEnd);
  const text = token.toString('base64url');
  return Buffer.from(text.padEnd(Math.ceil(text.length / 4) * 4, '='), 'latin1');
}

/** {@link openFernetData} on a key's long-lived {@link FernetEngine}. */
function openWithEngine(engine: FernetEngine, data: Buffer): Buffer | undefined {
  const signedEnd = data.length - HMAC_BYTES;
  if (!engine.verify(data.subarray(0, signedEnd), data.subarray(signedEnd))) return undefined;
  // Bad PKCS7 padding under a valid HMAC: undefined, as Python raises InvalidToken.
  return engine.decrypt(data.subarray(HEADER_BYTES, signedEnd), data.subarray(9, HEADER_BYTES));
}

/** Options for tests: a fixed clock. */
export interface FernetCipherOptions {
  readonly readFile?: ReadKeyFile;
  /** Seconds since the epoch for new tokens' timestamps. */
  readonly now?: () => number;
}

/**
 * The fernet {@link ColumnCipher}: needs the new key and at least one old key; takes no options.
 * Throws INVALID_INPUT for missing or malformed keys and conflicting versions.
 */
export function createFernetCipher(
  spec: CipherSpec,
  env: Readonly<Record<string, string | undefined>>,
  options: FernetCipherOptions = {},
): ColumnCipher {
  rejectUnknownOptions('fernet', spec.options, []);
  const ring = loadKeyRing(spec, env, fernetKeyFormat, options.readFile);
  const newKey = fernetKey(ring.newKey.bytes, ring.newKey.version);
  const trialOrder = [newKey, ...ring.oldKeys.map((key) => fernetKey(key.bytes, key.version))];
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const nextIv = randomSource(16);
  // When no two keys share a signing half, at most one key's HMAC verifies a given token (another
  // would be a forgery), so the key that opens it does not depend on the order keys are tried in.
  // Then the key that opened the previous token is tried first: in a rotation, consecutive values
  // are mostly under the same old key, and each open costs one HMAC instead of two. Keys sharing a
  // signing half (a malformed key set) keep the strict trial order.
  const reorder = new Set(trialOrder.map((key) => key.signingKey.toString('hex'))).size === trialOrder.length;
  let lastOpener: FernetKey | undefined;
  const engines = new Map(trialOrder.map((key) => [key, new FernetEngine(key.signingKey, key.encryptionKey)]));
  const newEngine = engines.get(newKey) as FernetEngine;
  const openWith = (key: FernetKey, data: Buffer): Opened | undefined => {
    const plaintext = openWithEngine(engines.get(key) as FernetEngine, data);
    return plaintext === undefined ? undefined : { plaintext, keyVersion: key.version, current: key === newKey };
  };
  return Object.freeze({
    type: 'fernet',
    newKeyVersion: newKey.version,
    oldKeyVersions: Object.freeze(ring.oldKeys.map((key) => key.version)),
    textEncoding: 'utf8',
    open(ciphertext: Buffer, _context: CipherContext): Opened | undefined {
      const data = decodeFernetToken(ciphertext);
      if (data === undefined) return undefined;
      const first = lastOpener;
      if (first !== undefined) {
        const opened = openWith(first, data);
        if (opened !== undefined) return opened;
      }
      for (const key of trialOrder) {
        if (key === first) continue;
        const opened = openWith(key, data);
        if (opened === undefined) continue;
        if (reorder) lastOpener = key;
        return opened;
      }
      return undefined;
    },
    seal(plaintext: Buffer, _context: CipherContext): Buffer {
      return sealWithEngine(newEngine, plaintext, now(), nextIv());
    },
  } satisfies ColumnCipher);
}
