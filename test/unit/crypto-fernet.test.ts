import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CipherContext, CipherSpec, ColumnCipher, Opened } from '../../src/crypto/cipher.js';
import { createFernetCipher, decodeFernetToken, fernetKey, fernetKeyFormat, sealFernetToken } from '../../src/crypto/fernet.js';
import { CassetteError } from '../../src/errors.js';
import { thrown } from '../support/thrown.js';

const context: CipherContext = { keyspace: 'shop', table: 'customers', column: 'card' };

/** The generate.json vector of https://github.com/fernet/spec (1985-10-26T01:20:00-07:00). */
const SPEC = {
  secret: 'cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=',
  seconds: 499162800,
  iv: Buffer.from(Array.from({ length: 16 }, (_, i) => i)),
  plaintext: 'hello',
  token: 'gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==',
};

/**
 * Made once with Python 3.11 and cryptography 48.0.0: K1 and K2 from Fernet.generate_key(), the
 * tokens from Fernet(K1).encrypt(plaintext); FIXED from Fernet(K2)._encrypt_from_parts(b"card
 * 4111-1111-1111-1111", 1700000000, bytes(range(100, 116))); ROTATED from
 * MultiFernet([Fernet(K2), Fernet(K1)]).rotate(Fernet(K1).encrypt(b"rotate me")). The versions are
 * 'fp-' + sha256(urlsafe_b64decode(key)).hexdigest()[:8], computed in Python.
 */
const K1 = 'UO5C_3FbjDviMCYnE6nIrBEV1g5cAaGBGMmMnLALimA=';
const K1_VERSION = 'fp-065e9113';
const K2 = 'O0rU68uL3K5PaV1OHMQmzk7G-BoxHL8VMYbn1OgHutQ=';
const K2_VERSION = 'fp-aaf62122';
const PYTHON_TOKENS_UNDER_K1: readonly { readonly plaintextBase64: string; readonly token: string }[] = [
  { plaintextBase64: '', token: 'gAAAAABrAwbisoZ4gjGEUz-sFmjlNNDpRj5x4P2Q8hB9Efu3QeSRRCRPmT3qBla-0OhfVgtGg6hFBdw72X9U2U52pyhOOLFrMw==' },
  { plaintextBase64: 'MDEyMzQ1Njc4OWFiY2Rl', token: 'gAAAAABrAwbic1Ezc7jNtM0P1bIXDRGjhlnzxs5vibT-lbyUYCfd70L76jntK4HVLmD6Ud5ZMyIJTEn8-3e_PgZQJBjZqSwUBA==' },
  { plaintextBase64: 'MDEyMzQ1Njc4OWFiY2RlZg==', token: 'gAAAAABrAwbiuIRKcNnazEMP8bwZOm6LaDWRVCYNxTW1zTCkN8iqrKuWB9YHb_E5Qa8k4onez8D9ntIXZbvMFKHU4q7wqjTZmEdFz4pbYXSS7BPC14b9BaU=' },
  { plaintextBase64: 'R3LDvMOfZSwg5p2x5LqsIPCflJE=', token: 'gAAAAABrAwbiHfqSJkMoz8pG3-_3-HRU9DObFZ8y7DVL2Ha6BcfJxknfL1Oncyp6HQXhKhgZzL6TIj1nGqEgte4Z-EqbU2_w2iDoESEvb3Hf7UAJPYRcI0U=' },
  { plaintextBase64: 'AP+ACg0A', token: 'gAAAAABrAwbi_SdLToKDYli9m_-aFCDT4stWboNzz_vmiWQIUCZkmKpcWrNX6j7q2ncdS3jb8-S0v13wekHK39UYvtmYtRlWJA==' },
];
const FIXED = 'gAAAAABlU_EAZGVmZ2hpamtsbW5vcHFycyRZ2glO3n3sCcxmQdos79fPfi3S68I8b7nOEnNXMX4j5wrehcXg2z3K7OR5x-Kj1uMt8V-qmpjVdALD4ewrNkc=';
const ROTATED = 'gAAAAABrAwbi03PboLP7qylEx49NAPsiqFeoOiZvPJ3dvPfHYWbxTwDQr4uA06MYn5c40QN1GJvzULRWlTOezmwEjpRGCF4IfA==';

const env = { NEW: K2, OLD: K1, SPEC_KEY: SPEC.secret };

function spec(newVar: string, oldVars: readonly string[], extra: Partial<CipherSpec> = {}): CipherSpec {
  return { type: 'fernet', newKey: { source: { env: newVar } }, oldKeys: oldVars.map((name) => ({ source: { env: name } })), options: {}, ...extra };
}

async function open(cipher: ColumnCipher, token: string | Buffer): Promise<Opened | undefined> {
  return cipher.open(typeof token === 'string' ? Buffer.from(token, 'latin1') : token, context);
}

function keyOf(text: string, version = 'v'): ReturnType<typeof fernetKey> {
  const bytes = fernetKeyFormat.decode(text);
  if (bytes === undefined) throw new Error('test key does not decode');
  return fernetKey(bytes, version);
}

describe('fernet known answers', () => {
  it('seals the fernet spec vector byte for byte', () => {
    const token = sealFernetToken(keyOf(SPEC.secret), Buffer.from(SPEC.plaintext), SPEC.seconds, SPEC.iv);
    expect(token.toString('latin1')).toBe(SPEC.token);
  });

  it('seals what Python seals from the same parts', () => {
    const iv = Buffer.from(Array.from({ length: 16 }, (_, i) => 100 + i));
    const token = sealFernetToken(keyOf(K2), Buffer.from('card 4111-1111-1111-1111'), 1700000000, iv);
    expect(token.toString('latin1')).toBe(FIXED);
  });

  it('opens the spec vector with the spec key as an old key', async () => {
    const cipher = createFernetCipher(spec('NEW', ['SPEC_KEY']), env);
    const opened = await open(cipher, SPEC.token);
    expect(opened?.plaintext.toString()).toBe('hello');
    expect(opened).toMatchObject({ keyVersion: 'fp-cbeb362f', current: false });
  });

  it('opens tokens Python made under an old key, whatever their age', async () => {
    const cipher = createFernetCipher(spec('NEW', ['OLD']), env);
    for (const vector of PYTHON_TOKENS_UNDER_K1) {
      const opened = await open(cipher, vector.token);
      expect(opened?.plaintext.toString('base64')).toBe(vector.plaintextBase64);
      expect(opened?.keyVersion).toBe(K1_VERSION);
      expect(opened?.current).toBe(false);
    }
    // The spec vector is from 1985: no TTL applies.
    expect(await open(createFernetCipher(spec('SPEC_KEY', ['OLD']), env), SPEC.token)).toMatchObject({ current: true });
  });

  it('sees a token MultiFernet.rotate() made as current', async () => {
    const cipher = createFernetCipher(spec('NEW', ['OLD']), env);
    const opened = await open(cipher, ROTATED);
    expect(opened?.plaintext.toString()).toBe('rotate me');
    expect(opened).toMatchObject({ keyVersion: K2_VERSION, current: true });
  });
});

describe('fernet cipher', () => {
  it('describes itself', () => {
    const cipher = createFernetCipher(spec('NEW', ['OLD']), env);
    expect(cipher).toMatchObject({ type: 'fernet', newKeyVersion: K2_VERSION, oldKeyVersions: [K1_VERSION], textEncoding: 'utf8' });
  });

  it('round-trips under the new key, with padded url-safe tokens stamped with the time', async () => {
    const cipher = createFernetCipher(spec('NEW', ['OLD']), env, { now: () => 1_800_000_000 });
    for (const size of [0, 1, 15, 16, 17, 1000]) {
      const plaintext = Buffer.alloc(size, 0xa5);
      const token = await cipher.seal(plaintext, context);
      const text = token.toString('latin1');
      expect(text).toMatch(/^gAAAAA[A-Za-z0-9_-]*=*$/);
      expect(text.length % 4).toBe(0);
      expect(decodeFernetToken(token)?.readBigUInt64BE(1)).toBe(1_800_000_000n);
      const opened = await open(cipher, token);
      expect(opened?.plaintext.equals(plaintext)).toBe(true);
      expect(opened).toMatchObject({ keyVersion: K2_VERSION, current: true });
    }
  });

  it('uses a fresh IV for every token', async () => {
    const cipher = createFernetCipher(spec('NEW', ['OLD']), env);
    const a = await cipher.seal(Buffer.from('same'), context);
    const b = await cipher.seal(Buffer.from('same'), context);
    expect(a.equals(b)).toBe(false);
  });

  it('tries the new key first, then the old keys in order (MultiFernet)', async () => {
    const keys = { A: K1, B: SPEC.secret, C: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=' };
    const cipher = createFernetCipher(spec('NEW', ['A', 'B', 'C']), { ...env, ...keys });
    expect(cipher.oldKeyVersions).toEqual([K1_VERSION, 'fp-cbeb362f', expect.stringMatching(/^fp-[0-9a-f]{8}$/)]);
    for (const [name, text] of Object.entries(keys)) {
      const token = sealFernetToken(keyOf(text), Buffer.from(name), 1, Buffer.alloc(16, 7));
      const opened = await open(cipher, token);
      expect(opened?.plaintext.toString()).toBe(name);
      expect(opened?.current).toBe(false);
      expect(opened?.keyVersion).toBe(cipher.oldKeyVersions[Object.keys(keys).indexOf(name)]);
    }
    const sealed = await cipher.seal(Buffer.from('new'), context);
    expect(await open(createFernetCipher(spec('A', ['B']), { ...env, ...keys }), sealed)).toBeUndefined();
  });

  it('opens nothing with the wrong keys', async () => {
    const cipher = createFernetCipher(spec('NEW', ['SPEC_KEY']), env);
    for (const vector of PYTHON_TOKENS_UNDER_K1) expect(await open(cipher, vector.token)).toBeUndefined();
  });

  it('opens nothing from a tampered token and never throws', async () => {
    const cipher = createFernetCipher(spec('NEW', ['OLD']), env);
    const token = PYTHON_TOKENS_UNDER_K1[3]?.token ?? '';
    const data = Buffer.from(token, 'base64url');
    for (let i = 0; i < data.length; i++) {
      const tampered = Buffer.from(data);
      tampered[i] = (tampered[i] ?? 0) ^ 0x01;
      expect(await open(cipher, tampered.toString('base64url'))).toBeUndefined();
    }
    const malformed = [
      '', 'gAAAAA', token.slice(0, -8), `${token}AAAA`, `!${token.slice(1)}`, token.replace('g', '*'),
      `${token.slice(0, 40)}\n${token.slice(40)}`, 'not a token at all', '====',
    ];
    for (const text of malformed) expect(await open(cipher, text)).toBeUndefined();
    expect(await open(cipher, Buffer.from([0x80, 0, 0, 0xff, 0xfe]))).toBeUndefined();
  });

  it('opens nothing with a wrong version byte, even under a valid HMAC', async () => {
    const cipher = createFernetCipher(spec('NEW', ['OLD']), env);
    const data = Buffer.from(await cipher.seal(Buffer.from('x'), context)).toString('latin1');
    const bytes = Buffer.from(data, 'base64url');
    bytes[0] = 0x81;
    const signed = bytes.subarray(0, bytes.length - 32);
    const key = keyOf(K2);
    createHmac('sha256', key.signingKey).update(signed).digest().copy(bytes, bytes.length - 32);
    expect(await open(cipher, bytes.toString('base64url'))).toBeUndefined();
  });

  it('accepts key text without padding, and the new key repeated among the old ones', () => {
    const cipher = createFernetCipher(spec('NEW', ['NEW', 'OLD']), { NEW: K2.replace(/=+$/, ''), OLD: K1 });
    expect(cipher.newKeyVersion).toBe(K2_VERSION);
    expect(cipher.oldKeyVersions).toEqual([K1_VERSION]);
  });

  it('uses configured versions', () => {
    const cipher = createFernetCipher(
      { type: 'fernet', newKey: { source: { env: 'NEW' }, version: 'v2' }, oldKeys: [{ source: { env: 'OLD' }, version: 'v1' }], options: {} },
      env,
    );
    expect(cipher).toMatchObject({ newKeyVersion: 'v2', oldKeyVersions: ['v1'] });
  });
});

describe('fernet configuration errors', () => {
  it('names the variable that holds no Fernet key, without its content', () => {
    for (const bad of ['too-short', `${K1.slice(0, 40)}====`, `${K1}AAAA`, K1.replace('_', '!'), 'a'.repeat(64)]) {
      const err = thrown(() => createFernetCipher(spec('REKEY_NEW_KEY', ['OLD']), { REKEY_NEW_KEY: bad, OLD: K1 }));
      expect(err.code).toBe('INVALID_INPUT');
      expect(err.exitCode).toBe(3);
      expect(err.message).toBe('REKEY_NEW_KEY does not hold a Fernet key (url-safe base64 of 32 bytes)');
      expect(`${err.message} ${err.hint}`).not.toContain(bad);
    }
  });

  it('needs a new key and at least one old key', () => {
    expect(thrown(() => createFernetCipher({ type: 'fernet', oldKeys: [{ source: { env: 'OLD' } }], options: {} }, env)).message)
      .toBe('the fernet provider needs a new key');
    expect(thrown(() => createFernetCipher(spec('NEW', []), env)).message).toBe('the fernet provider needs at least one old key');
  });

  it('refuses options and key ids', () => {
    const err = thrown(() => createFernetCipher(spec('NEW', ['OLD'], { options: { ttl: 60 } }), env));
    expect(err).toMatchObject({ code: 'INVALID_INPUT', message: 'the fernet provider does not know the option ttl' });
    const withId = thrown(() => createFernetCipher({ ...spec('NEW', ['OLD']), newKey: { source: { env: 'NEW' }, id: 3 } }, env));
    expect(withId.message).toContain('NEW: a key id applies only to aes-gcm keys');
  });
});
