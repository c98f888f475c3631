import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { CipherContext, CipherSpec, KeySpec } from '../../src/crypto/cipher.js';
import { createCipher } from '../../src/crypto/registry.js';
import { CassetteError } from '../../src/errors.js';
import { rejection } from '../support/thrown.js';

const XOR = fileURLToPath(new URL('../fixtures/providers/xor-provider.mjs', import.meta.url));
const context: CipherContext = { keyspace: 'ks', table: 't', column: 'c' };
const FERNET_A = 'UO5C_3FbjDviMCYnE6nIrBEV1g5cAaGBGMmMnLALimA=';
const FERNET_B = 'O0rU68uL3K5PaV1OHMQmzk7G-BoxHL8VMYbn1OgHutQ=';
const AES_A = 'thJOSvYu0MQUrus/KuIvssDb7KleW+YSaGwC0ogd2ZQ=';
const AES_B = 'ab'.repeat(32);
const env = { FERNET_A, FERNET_B, AES_A, AES_B };

const dir = mkdtempSync(join(tmpdir(), 'cassette-registry-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function key(name: string, extra: Omit<KeySpec, 'source'> = {}): KeySpec {
  return { source: { env: name }, ...extra };
}


describe('createCipher', () => {
  it('picks the provider by type', async () => {
    const fernet = await createCipher({ type: 'fernet', newKey: key('FERNET_B'), oldKeys: [key('FERNET_A')], options: {} }, env);
    const gcm = await createCipher({ type: 'aes-gcm', newKey: key('AES_B'), oldKeys: [key('AES_A')], options: {} }, env);
    const mod = await createCipher({ type: 'module', module: XOR, newKey: key('AES_B', { version: '2' }), oldKeys: [], options: {} }, env);
    expect([fernet.type, gcm.type, mod.type]).toEqual(['fernet', 'aes-gcm', 'module']);
    for (const cipher of [fernet, gcm, mod]) {
      const opened = await cipher.open(await cipher.seal(Buffer.from('round trip'), context), context);
      expect(opened?.plaintext.toString()).toBe('round trip');
      expect(opened?.current).toBe(true);
    }
  });

  it('works from a structured clone of the spec, as a worker thread receives it', async () => {
    const spec: CipherSpec = { type: 'aes-gcm', newKey: key('AES_B', { id: 2 }), oldKeys: [key('AES_A', { id: 1 })], options: { key_id_prefix: true, associated_data: '{table}' } };
    const here = await createCipher(spec, env);
    const there = await createCipher(structuredClone(spec), { ...env });
    expect((await there.open(await here.seal(Buffer.from('v'), context), context))?.plaintext.toString()).toBe('v');
  });

  it('refuses an unknown type', async () => {
    const err = await rejection(createCipher({ type: 'rot13' as CipherSpec['type'], oldKeys: [], options: {} }, env));
    expect(err).toMatchObject({ code: 'INVALID_INPUT', message: 'unknown provider type rot13' });
  });

  it('needs the new key and an old key for fernet and aes-gcm', async () => {
    for (const type of ['fernet', 'aes-gcm'] as const) {
      const aKey = type === 'fernet' ? 'FERNET_A' : 'AES_A';
      expect((await rejection(createCipher({ type, oldKeys: [key(aKey)], options: {} }, env))).message).toBe(`the ${type} provider needs a new key`);
      expect((await rejection(createCipher({ type, newKey: key(aKey), oldKeys: [], options: {} }, env))).message).toBe(`the ${type} provider needs at least one old key`);
    }
  });
});

describe('key versions', () => {
  it('are the configured version, else the aes-gcm id, else a fingerprint', async () => {
    const gcm = await createCipher({ type: 'aes-gcm', newKey: key('AES_B', { id: 9, version: 'b' }), oldKeys: [key('AES_A', { id: 4 })], options: {} }, env);
    expect([gcm.newKeyVersion, ...gcm.oldKeyVersions]).toEqual(['b', '4']);
    const derived = await createCipher({ type: 'aes-gcm', newKey: key('AES_B'), oldKeys: [key('AES_A')], options: {} }, env);
    expect(derived.oldKeyVersions).toEqual(['fp-72f0b960']);
    expect(derived.newKeyVersion).toMatch(/^fp-[0-9a-f]{8}$/);
  });

  it('refuses one version for two keys', async () => {
    const err = await rejection(createCipher({ type: 'fernet', newKey: key('FERNET_B', { version: 'v1' }), oldKeys: [key('FERNET_A', { version: 'v1' })], options: {} }, env));
    expect(err).toMatchObject({ code: 'INVALID_INPUT', message: 'FERNET_A and FERNET_B are different keys with the same version v1' });
  });

  it('drops a repeated key, but refuses the same key under two versions', async () => {
    const cipher = await createCipher({ type: 'fernet', newKey: key('FERNET_B'), oldKeys: [key('FERNET_A'), key('FERNET_B'), key('FERNET_A')], options: {} }, env);
    expect(cipher.oldKeyVersions).toEqual(['fp-065e9113']);
    const err = await rejection(createCipher({ type: 'fernet', newKey: key('FERNET_B', { version: 'v2' }), oldKeys: [key('FERNET_B', { version: 'v1' })], options: {} }, env));
    expect(err.message).toBe('FERNET_B holds the same key as FERNET_B but with another version or id (version v1 vs version v2)');
  });

  it('reads keys from files too', async () => {
    const file = join(dir, 'old.key');
    writeFileSync(file, `${FERNET_A}\n`);
    const cipher = await createCipher({ type: 'fernet', newKey: key('FERNET_B'), oldKeys: [{ source: { file } }], options: {} }, env);
    expect(cipher.oldKeyVersions).toEqual(['fp-065e9113']);
  });
});

describe('no key text in any error', () => {
  it('holds for every configuration error', async () => {
    const secretFile = join(dir, 'bad.key');
    const badText = 'c2VjcmV0LWtleS10aGF0LWlzLW5vdC0zMi1ieXRlcw==';
    writeFileSync(secretFile, badText);
    const badEnv = { ...env, BAD: badText, SHORT: FERNET_A.slice(0, 30), HEXISH: 'f'.repeat(63) };
    const specs: CipherSpec[] = [
      { type: 'fernet', newKey: key('BAD'), oldKeys: [key('FERNET_A')], options: {} },
      { type: 'fernet', newKey: key('FERNET_B'), oldKeys: [key('SHORT')], options: {} },
      { type: 'fernet', newKey: key('FERNET_B'), oldKeys: [{ source: { file: secretFile } }], options: {} },
      { type: 'fernet', newKey: key('FERNET_B'), oldKeys: [key('AES_B')], options: {} },
      { type: 'aes-gcm', newKey: key('HEXISH'), oldKeys: [key('AES_A')], options: {} },
      { type: 'aes-gcm', newKey: key('AES_B'), oldKeys: [key('FERNET_A', { version: 'x' }), key('AES_A', { version: 'x' })], options: {} },
      { type: 'aes-gcm', newKey: key('AES_B'), oldKeys: [key('AES_A')], options: { key_id_prefix: true } },
      { type: 'aes-gcm', newKey: key('AES_B', { version: 'n' }), oldKeys: [key('AES_B', { version: 'o' })], options: {} },
    ];
    const keyTexts = [...Object.values(badEnv), badText];
    for (const spec of specs) {
      const err = await rejection(createCipher(spec, badEnv));
      expect(err.code).toBe('INVALID_INPUT');
      for (const text of keyTexts) {
        expect(err.message).not.toContain(text);
        expect(err.hint ?? '').not.toContain(text);
        expect(err.stack ?? '').not.toContain(text);
      }
    }
  });
});
