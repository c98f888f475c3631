import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { CipherContext, CipherSpec, KeySpec } from '../../src/crypto/cipher.js';
import { createModuleCipher, describeModuleError } from '../../src/crypto/module-cipher.js';
import { CassetteError } from '../../src/errors.js';
import { rejection } from '../support/thrown.js';

const XOR = fileURLToPath(new URL('../fixtures/providers/xor-provider.mjs', import.meta.url));
const DOWN = fileURLToPath(new URL('../fixtures/providers/unavailable-provider.mjs', import.meta.url));
const context: CipherContext = { keyspace: 'shop', table: 'customers', column: 'card' };
const NEW_TEXT = 'new-key-text-Zq81';
const OLD_TEXT = 'old-key-text-Pw27';
const env = { NEW: NEW_TEXT, OLD: OLD_TEXT };

const dir = mkdtempSync(join(tmpdir(), 'cassette-modules-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let written = 0;
/** A throwaway module file with this source. */
function moduleFile(source: string): string {
  const file = join(dir, `provider-${written++}.mjs`);
  writeFileSync(file, source);
  return file;
}

function key(name: string, version?: string): KeySpec {
  return version === undefined ? { source: { env: name } } : { source: { env: name }, version };
}

/** A module spec; `newKey: null` configures no new key. */
function spec(module: string, options: Record<string, unknown> = {}, newKey: KeySpec | null = key('NEW', '2'), oldKeys: readonly KeySpec[] = [key('OLD', '1')]): CipherSpec {
  return { type: 'module', module, options, oldKeys, ...(newKey === null ? {} : { newKey }) };
}


/** `value` as the xor toy stores it under a key. */
function xorSealed(version: number, keyText: string, plaintext: string): Buffer {
  const keyBytes = Buffer.from(keyText);
  return Buffer.concat([Buffer.from([version]), Buffer.from([...Buffer.from(plaintext)].map((b, i) => b ^ (keyBytes[i % keyBytes.length] ?? 0)))]);
}

describe('module provider (xor toy)', () => {
  it('describes itself from what the module returned', async () => {
    const cipher = await createModuleCipher(spec(XOR), env);
    expect(cipher).toMatchObject({ type: 'module', newKeyVersion: '2', oldKeyVersions: ['1'], textEncoding: 'base64' });
    expect((await createModuleCipher(spec(XOR, { textEncoding: 'utf8' }), env)).textEncoding).toBe('utf8');
  });

  it('seals under the new key and opens old and new values with their versions', async () => {
    for (const async of [false, true]) {
      const cipher = await createModuleCipher(spec(XOR, { async }), env);
      const sealed = await cipher.seal(Buffer.from('4111 1111'), context);
      expect(sealed.equals(xorSealed(2, NEW_TEXT, '4111 1111'))).toBe(true);
      const current = await cipher.open(sealed, context);
      expect(current?.plaintext.toString()).toBe('4111 1111');
      expect(current).toMatchObject({ keyVersion: '2', current: true });
      const old = await cipher.open(xorSealed(1, OLD_TEXT, 'old value'), context);
      expect(old?.plaintext.toString()).toBe('old value');
      expect(old).toMatchObject({ keyVersion: '1', current: false });
      expect(await cipher.open(xorSealed(9, OLD_TEXT, 'no key'), context)).toBeUndefined();
      expect(await cipher.open(Buffer.alloc(0), context)).toBeUndefined();
    }
  });

  it('hands keys to the module as their text\'s UTF-8 bytes, from files too', async () => {
    const file = join(dir, 'old.key');
    writeFileSync(file, `${OLD_TEXT}\n`);
    const cipher = await createModuleCipher(spec(XOR, {}, key('NEW', '2'), [{ source: { file }, version: '1' }]), env);
    expect((await cipher.open(xorSealed(1, OLD_TEXT, 'from file'), context))?.plaintext.toString()).toBe('from file');
  });

  it('counts plain bytes from decrypt as not current, version unknown', async () => {
    const cipher = await createModuleCipher(spec(XOR, { bytesOnly: true }), env);
    const opened = await cipher.open(await cipher.seal(Buffer.from('x'), context), context);
    expect(opened).toMatchObject({ keyVersion: 'unknown', current: false });
    expect(opened?.plaintext.toString()).toBe('x');
  });

  it('treats an ordinary error thrown by decrypt as "cannot open"', async () => {
    const cipher = await createModuleCipher(spec(XOR, { throwOnUnknown: true }), env);
    expect(await cipher.open(xorSealed(9, OLD_TEXT, 'no key'), context)).toBeUndefined();
  });

  it('passes options and configured keys, and works with no keys at all', async () => {
    const file = moduleFile(`
      export function createProvider({ options, keys }) {
        const summary = { options, hasNew: keys.new !== undefined, old: keys.old.map((k) => ({ text: Buffer.from(k.material).toString(), version: k.version ?? null })) };
        return { keyVersion: JSON.stringify(summary), decrypt: () => null, encrypt: (p) => p };
      }`);
    const none = await createModuleCipher(spec(file, { region: 'eu' }, null, []), {});
    expect(JSON.parse(none.newKeyVersion)).toEqual({ options: { region: 'eu' }, hasNew: false, old: [] });
    const some = await createModuleCipher(spec(file, {}, key('NEW'), [key('OLD', 'v1'), key('NEW')]), env);
    expect(JSON.parse(some.newKeyVersion)).toEqual({ options: {}, hasNew: true, old: [{ text: OLD_TEXT, version: 'v1' }, { text: NEW_TEXT, version: null }] });
    expect(some.oldKeyVersions).toEqual([]);
  });
});

describe('module provider outages', () => {
  for (const style of ['flag', 'name'] as const) {
    it(`turns a ${style === 'flag' ? 'flagged' : 'ProviderUnavailableError'} outage in decrypt into PROVIDER_UNAVAILABLE without values`, async () => {
      const cipher = await createModuleCipher(spec(DOWN, { style }), env);
      const err = await rejection(Promise.resolve(cipher.open(Buffer.from([1, 2, 3]), context)));
      expect(err.code).toBe('PROVIDER_UNAVAILABLE');
      expect(err.exitCode).toBe(10);
      expect(err.message).toMatch(new RegExp(`^provider module ${DOWN}: service unavailable \\(`));
      expect(err.message).toContain('refused key');
      for (const value of [NEW_TEXT, 'https://kms.internal', 'AKIA1234567890ABCDEF', 'secret', '\n']) expect(err.message).not.toContain(value);
      expect(err.cause).toBeUndefined();
    });
  }

  it('opens values while the service is up (default-export module)', async () => {
    const cipher = await createModuleCipher(spec(DOWN, { failIn: 'create-never' }), env);
    expect(await cipher.open(Buffer.from([2, 65]), context)).toMatchObject({ keyVersion: 'kms-2', current: true });
    expect(await cipher.open(Buffer.from([1, 65]), context)).toMatchObject({ keyVersion: 'kms-1', current: false });
  });

  it('treats an ordinary decrypt error as "cannot open"', async () => {
    const cipher = await createModuleCipher(spec(DOWN, { style: 'plain' }), env);
    expect(await cipher.open(Buffer.from([1, 2, 3]), context)).toBeUndefined();
  });

  it('fails seal with PROVIDER_UNAVAILABLE for outages and other encrypt errors alike', async () => {
    const down = await createModuleCipher(spec(DOWN, { failIn: 'encrypt' }), env);
    const err = await rejection(Promise.resolve(down.seal(Buffer.from('x'), context)));
    expect(err).toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
    expect(err.message).toContain('service unavailable');
    const broken = await createModuleCipher(spec(DOWN, { failIn: 'encrypt', style: 'plain' }), env);
    const failed = await rejection(Promise.resolve(broken.seal(Buffer.from('x'), context)));
    expect(failed.code).toBe('PROVIDER_UNAVAILABLE');
    expect(failed.message).toMatch(/: encrypt failed \(/);
    expect(failed.message).not.toContain(NEW_TEXT);
  });

  it('fails creation with PROVIDER_UNAVAILABLE when createProvider reports an outage', async () => {
    const err = await rejection(createModuleCipher(spec(DOWN, { failIn: 'create' }), env));
    expect(err.code).toBe('PROVIDER_UNAVAILABLE');
    expect(err.message).not.toContain(NEW_TEXT);
    const plain = await rejection(createModuleCipher(spec(DOWN, { failIn: 'create', style: 'plain' }), env));
    expect(plain.code).toBe('INVALID_INPUT');
    expect(plain.message).toMatch(/createProvider failed/);
    expect(plain.message).not.toContain(NEW_TEXT);
  });
});

describe('module provider errors', () => {
  it('names a missing, relative or unloadable module', async () => {
    const absent = join(dir, 'absent.mjs');
    expect((await rejection(createModuleCipher(spec(absent), env))).message).toBe(`provider module ${absent} does not exist`);
    expect((await rejection(createModuleCipher(spec('providers/x.mjs'), env))).message).toBe('provider module providers/x.mjs is not an absolute path');
    expect((await rejection(createModuleCipher({ type: 'module', oldKeys: [], options: {} }, env))).message).toBe('the module provider needs the path of an ES module');
    const broken = moduleFile('export function createProvider( {');
    const err = await rejection(createModuleCipher(spec(broken), env));
    expect(err.code).toBe('INVALID_INPUT');
    // The reason is the loader's (Node says SyntaxError; vitest's loader words it its own way).
    expect(err.message).toMatch(new RegExp(`^provider module ${broken} could not be loaded \\(.+\\)$`));
  });

  it('names what the module or its provider lacks', async () => {
    const cases: readonly [string, string][] = [
      ['export const x = 1;', 'exports no createProvider function'],
      ['export function createProvider() { return 3; }', 'createProvider returned no object'],
      ['export function createProvider() { return { decrypt() {}, encrypt() {} }; }', 'createProvider returned no keyVersion (a non-empty string)'],
      ['export function createProvider() { return { keyVersion: "v", encrypt() {} }; }', 'createProvider returned no decrypt function'],
      ['export default () => ({ keyVersion: "v", decrypt() {} });', 'createProvider returned no encrypt function'],
      ['export function createProvider() { return { keyVersion: "v", oldKeyVersions: [1], decrypt() {}, encrypt() {} }; }', 'createProvider returned oldKeyVersions that is not a list of strings'],
      ['export function createProvider() { return { keyVersion: "v", textEncoding: "hex", decrypt() {}, encrypt() {} }; }', 'createProvider returned a textEncoding other than utf8 or base64'],
    ];
    for (const [source, problem] of cases) {
      const file = moduleFile(source);
      const err = await rejection(createModuleCipher(spec(file), env));
      expect(err).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining(`provider module ${file}`) });
      expect(err.message).toContain(problem);
    }
  });

  it('refuses malformed results from decrypt and encrypt', async () => {
    const file = moduleFile('export function createProvider() { return { keyVersion: "v", decrypt: () => ({ plaintext: "text" }), encrypt: () => "text" }; }');
    const cipher = await createModuleCipher(spec(file), env);
    expect((await rejection(Promise.resolve(cipher.open(Buffer.from('x'), context)))).message).toContain('decrypt returned neither bytes');
    expect((await rejection(Promise.resolve(cipher.seal(Buffer.from('x'), context)))).message).toContain('encrypt returned no bytes');
  });

  it('needs configured keys to be readable', async () => {
    const err = await rejection(createModuleCipher(spec(XOR), { NEW: NEW_TEXT }));
    expect(err.message).toBe('environment variable OLD is not set');
  });
});

describe('describeModuleError', () => {
  it('keeps the first line and takes out quoted strings, key-like runs and key text', () => {
    expect(describeModuleError(new Error('connect ECONNREFUSED 10.0.0.1:443\nat stack'), [])).toBe('connect ECONNREFUSED 10.0.0.1:443');
    expect(describeModuleError(new TypeError('bad "value" for dGhpcyBpcyBhIHNlY3JldA9'), [])).toBe('TypeError: bad … for …');
    expect(describeModuleError(new Error('key hunter2 rejected'), ['hunter2'])).toBe('key … rejected');
    expect(describeModuleError(new Error(''), [])).toBe('Error');
    expect(describeModuleError('a string', [])).toBe('a string');
    expect(describeModuleError(new Error('x'.repeat(500)), []).length).toBeLessThan(200);
  });
});
