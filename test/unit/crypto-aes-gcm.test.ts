import { describe, expect, it } from 'vitest';
import { associatedDataFor, createAesGcmCipher } from '../../src/crypto/aes-gcm.js';
import type { CipherContext, CipherSpec, KeySpec } from '../../src/crypto/cipher.js';
import { CassetteError } from '../../src/errors.js';
import { thrown } from '../support/thrown.js';

const context: CipherContext = { keyspace: 'shop', table: 'customers', column: 'card_number' };

/**
 * Made once with Python 3.11 and cryptography 48.0.0 (AESGCM): KEY from os.urandom(32), nonce
 * bytes(range(12)), plaintext b"hello gcm". NO_AAD = nonce ‖ AESGCM(KEY).encrypt(nonce, pt, None);
 * WITH_PREFIX_AND_AAD = 01 0000002a ‖ nonce ‖ AESGCM(KEY).encrypt(nonce, pt,
 * b"shop.customers.card_number"). KEY_VERSION = 'fp-' + sha256(KEY).hexdigest()[:8].
 */
const KEY_BASE64 = 'thJOSvYu0MQUrus/KuIvssDb7KleW+YSaGwC0ogd2ZQ=';
const KEY_HEX = 'b6124e4af62ed0c414aeeb3f2ae22fb2c0dbeca95e5be612686c02d2881dd994';
const KEY_VERSION = 'fp-72f0b960';
const NO_AAD = 'AAECAwQFBgcICQoLSGSFEAMSrrFtto4kQmP8jLjgDYp3cKZDrA==';
const WITH_PREFIX_AND_AAD = 'AQAAACoAAQIDBAUGBwgJCgtIZIUQAxKusW2hyMjLXMY5/N4flQTxxMA9';

const OTHER_BASE64URL = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
const THIRD_HEX = 'ff'.repeat(32);
const env = { PY_KEY: KEY_BASE64, PY_KEY_HEX: KEY_HEX, OTHER: OTHER_BASE64URL, THIRD: THIRD_HEX };

function key(name: string, extra: Omit<KeySpec, 'source'> = {}): KeySpec {
  return { source: { env: name }, ...extra };
}

function spec(newKey: KeySpec, oldKeys: readonly KeySpec[], options: Record<string, unknown> = {}): CipherSpec {
  return { type: 'aes-gcm', newKey, oldKeys, options };
}

describe('aes-gcm known answers', () => {
  it('opens what Python sealed without prefix or associated data, by base64 or hex key text', async () => {
    for (const name of ['PY_KEY', 'PY_KEY_HEX']) {
      const cipher = createAesGcmCipher(spec(key('OTHER'), [key(name)]), env);
      const opened = await cipher.open(Buffer.from(NO_AAD, 'base64'), context);
      expect(opened?.plaintext.toString()).toBe('hello gcm');
      expect(opened).toMatchObject({ keyVersion: KEY_VERSION, current: false });
    }
  });

  it('opens what Python sealed with a key-id prefix and associated data', async () => {
    const cipher = createAesGcmCipher(
      spec(key('OTHER', { id: 7 }), [key('PY_KEY', { id: 42 })], { key_id_prefix: true, associated_data: '{keyspace}.{table}.{column}' }),
      env,
    );
    const opened = await cipher.open(Buffer.from(WITH_PREFIX_AND_AAD, 'base64'), context);
    expect(opened?.plaintext.toString()).toBe('hello gcm');
    expect(opened).toMatchObject({ keyVersion: '42', current: false });
    expect(await cipher.open(Buffer.from(WITH_PREFIX_AND_AAD, 'base64'), { ...context, column: 'other' })).toBeUndefined();
  });
});

describe('aes-gcm cipher', () => {
  it('describes itself', () => {
    const cipher = createAesGcmCipher(spec(key('OTHER'), [key('PY_KEY')]), env);
    expect(cipher).toMatchObject({ type: 'aes-gcm', newKeyVersion: expect.stringMatching(/^fp-[0-9a-f]{8}$/), oldKeyVersions: [KEY_VERSION], textEncoding: 'base64' });
  });

  it('round-trips: nonce ‖ ciphertext ‖ tag, 28 bytes of overhead, a fresh nonce each time', async () => {
    const cipher = createAesGcmCipher(spec(key('OTHER'), [key('PY_KEY')]), env);
    for (const size of [0, 1, 16, 1000]) {
      const plaintext = Buffer.alloc(size, 0x5a);
      const sealed = await cipher.seal(plaintext, context);
      expect(sealed.length).toBe(12 + size + 16);
      const opened = await cipher.open(sealed, context);
      expect(opened?.plaintext.equals(plaintext)).toBe(true);
      expect(opened).toMatchObject({ keyVersion: cipher.newKeyVersion, current: true });
    }
    // Nonces come from a pooled CSPRNG buffer: none repeats, across several refills.
    const nonces = new Set<string>();
    for (let i = 0; i < 2000; i++) nonces.add((await cipher.seal(Buffer.from('x'), context)).subarray(0, 12).toString('hex'));
    expect(nonces.size).toBe(2000);
  });

  it('tries the new key, then old keys in order, without prefixes', async () => {
    const oldCipher = createAesGcmCipher(spec(key('THIRD'), [key('PY_KEY')]), env);
    const underThird = await oldCipher.seal(Buffer.from('third'), context);
    const cipher = createAesGcmCipher(spec(key('OTHER', { version: 'v3' }), [key('PY_KEY', { version: 'v1' }), key('THIRD', { version: 'v2' })]), env);
    expect(await cipher.open(underThird, context)).toMatchObject({ keyVersion: 'v2', current: false });
    expect(await cipher.open(Buffer.from(NO_AAD, 'base64'), context)).toMatchObject({ keyVersion: 'v1', current: false });
  });

  it('writes the 5-byte prefix with the new key id and picks keys by it', async () => {
    const options = { key_id_prefix: true };
    const cipher = createAesGcmCipher(spec(key('OTHER', { id: 0x01020304 }), [key('PY_KEY', { id: 42 })], options), env);
    const sealed = await cipher.seal(Buffer.from('p'), context);
    expect([...sealed.subarray(0, 5)]).toEqual([0x01, 0x01, 0x02, 0x03, 0x04]);
    expect(sealed.length).toBe(5 + 12 + 1 + 16);
    expect(await cipher.open(sealed, context)).toMatchObject({ keyVersion: String(0x01020304), current: true });
    // An id no key has: not opened, though the right key is configured under another id.
    const relabelled = Buffer.from(sealed);
    relabelled.writeUInt32BE(99, 1);
    expect(await cipher.open(relabelled, context)).toBeUndefined();
    // The prefix picks one key: a value under the old key but labelled with the new id stays shut.
    const py = Buffer.from(WITH_PREFIX_AND_AAD, 'base64');
    py.writeUInt32BE(0x01020304, 1);
    expect(await cipher.open(py, context)).toBeUndefined();
    // Not a Tink prefix, or too short.
    const otherMarker = Buffer.from(sealed);
    otherMarker[0] = 0x00;
    expect(await cipher.open(otherMarker, context)).toBeUndefined();
    expect(await cipher.open(sealed.subarray(0, 4), context)).toBeUndefined();
  });

  it('binds the associated data to the value\'s place', async () => {
    const cipher = createAesGcmCipher(spec(key('OTHER'), [key('PY_KEY')], { associated_data: 'app:{keyspace}/{table}/{column}' }), env);
    const sealed = await cipher.seal(Buffer.from('secret'), context);
    expect((await cipher.open(sealed, context))?.plaintext.toString()).toBe('secret');
    expect(await cipher.open(sealed, { ...context, table: 'orders' })).toBeUndefined();
    const noAad = createAesGcmCipher(spec(key('OTHER'), [key('PY_KEY')]), env);
    expect(await noAad.open(sealed, context)).toBeUndefined();
    expect(await cipher.open(await noAad.seal(Buffer.from('secret'), context), context)).toBeUndefined();
  });

  it('fills the template in one pass', () => {
    expect(associatedDataFor('{keyspace}.{table}.{column}', { keyspace: 'k', table: '{column}', column: 'c' })?.toString()).toBe('k.{column}.c');
    expect(associatedDataFor(undefined, context)).toBeUndefined();
    expect(associatedDataFor('fixed', context)?.toString()).toBe('fixed');
  });

  it('opens nothing tampered, truncated or under another key, and never throws', async () => {
    const cipher = createAesGcmCipher(spec(key('OTHER'), [key('PY_KEY')]), env);
    const sealed = Buffer.from(NO_AAD, 'base64');
    for (let i = 0; i < sealed.length; i++) {
      const tampered = Buffer.from(sealed);
      tampered[i] = (tampered[i] ?? 0) ^ 0x80;
      expect(await cipher.open(tampered, context)).toBeUndefined();
    }
    for (const length of [0, 1, 12, 27, sealed.length - 1]) expect(await cipher.open(sealed.subarray(0, length), context)).toBeUndefined();
    const wrong = createAesGcmCipher(spec(key('OTHER'), [key('THIRD')]), env);
    expect(await wrong.open(sealed, context)).toBeUndefined();
  });
});

describe('aes-gcm configuration errors', () => {
  it('names the key that lacks an id when prefixes are on', () => {
    const err = thrown(() => createAesGcmCipher(spec(key('OTHER', { id: 1 }), [key('PY_KEY')], { key_id_prefix: true }), env));
    expect(err).toMatchObject({ code: 'INVALID_INPUT', message: 'PY_KEY has no key id, which key_id_prefix: true requires' });
  });

  it('refuses repeated ids and versions', () => {
    expect(thrown(() => createAesGcmCipher(spec(key('OTHER', { id: 1, version: 'a' }), [key('PY_KEY', { id: 1, version: 'b' })], { key_id_prefix: true }), env)).message)
      .toBe('PY_KEY and OTHER have the same key id 1');
    expect(thrown(() => createAesGcmCipher(spec(key('OTHER', { id: 5 }), [key('PY_KEY', { id: 5 })]), env)).message)
      .toBe('PY_KEY and OTHER are different keys with the same version 5');
  });

  it('refuses unknown options and bad option values', () => {
    expect(thrown(() => createAesGcmCipher(spec(key('OTHER'), [key('PY_KEY')], { aad: 'x', prefix: true }), env)).message)
      .toBe('the aes-gcm provider does not know the options aad, prefix');
    expect(thrown(() => createAesGcmCipher(spec(key('OTHER'), [key('PY_KEY')], { key_id_prefix: 'yes' }), env)).message)
      .toBe('aes-gcm option key_id_prefix must be true or false');
    expect(thrown(() => createAesGcmCipher(spec(key('OTHER'), [key('PY_KEY')], { associated_data: 3 }), env)).message)
      .toBe('aes-gcm option associated_data must be a string');
    expect(thrown(() => createAesGcmCipher(spec(key('OTHER'), [key('PY_KEY')], { associated_data: '{keyspace}.{tabel}' }), env)).message)
      .toBe('aes-gcm option associated_data has unknown placeholder {tabel}');
  });

  it('refuses key text that is not 32 bytes, without echoing it', () => {
    for (const bad of [KEY_HEX.slice(2), `${KEY_HEX}00`, 'zz'.repeat(32), KEY_BASE64.slice(4), 'not a key']) {
      const err = thrown(() => createAesGcmCipher(spec(key('AES_NEW'), [key('PY_KEY')]), { ...env, AES_NEW: bad }));
      expect(err.message).toBe('AES_NEW does not hold an AES-256 key (64 hex digits, or base64 of 32 bytes)');
      expect(`${err.message} ${err.hint}`).not.toContain(bad);
    }
  });

  it('refuses key ids outside 32 bits', () => {
    expect(thrown(() => createAesGcmCipher(spec(key('OTHER', { id: 2 ** 32 }), [key('PY_KEY')]), env)).message)
      .toBe('OTHER: key id 4294967296 is not an unsigned 32-bit integer');
  });
});
