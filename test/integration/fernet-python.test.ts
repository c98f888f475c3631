/**
 * cassette's fernet provider against Python `cryptography` (the pinned version from
 * scripts/python-env): Python's tokens open under cassette, cassette's tokens open in Python, and
 * a rotation leaves values that only the new key opens.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CipherContext, CipherSpec, ColumnCipher } from '../../src/crypto/cipher.js';
import { fingerprintVersion } from '../../src/crypto/key-ring.js';
import { createCipher } from '../../src/crypto/registry.js';
import { fernetDecryptInPython, fernetEncryptInPython, fernetGenerateKeyInPython } from '../support/python.js';

const context: CipherContext = { keyspace: 'shop', table: 'customers', column: 'card' };

/** Plaintexts of every awkward size and content, then `count - 8` random ones. */
function plaintexts(count: number): Buffer[] {
  const fixed = [
    Buffer.alloc(0), Buffer.from('a'), Buffer.alloc(15, 1), Buffer.alloc(16, 2), Buffer.alloc(17, 3),
    Buffer.from('Grüße, 東京 🔑'), Buffer.from([0, 0xff, 0x80, 0x0a, 0x0d, 0]), randomBytes(64 * 1024),
  ];
  const random = Array.from({ length: Math.max(0, count - fixed.length) }, (_, i) => randomBytes(i % 97));
  return [...fixed, ...random];
}

function fernetSpec(newVar: string, oldVars: readonly string[]): CipherSpec {
  return { type: 'fernet', newKey: { source: { env: newVar } }, oldKeys: oldVars.map((env) => ({ source: { env } })), options: {} };
}

function versionOf(keyText: string): string {
  return fingerprintVersion(Buffer.from(keyText, 'base64url'));
}

/** Opens every token (as its ASCII bytes) and re-seals the ones not yet current, as a rotation does. */
async function rotate(cipher: ColumnCipher, tokens: readonly string[]): Promise<{ tokens: string[]; versions: string[]; current: boolean[] }> {
  const out: string[] = [];
  const versions: string[] = [];
  const current: boolean[] = [];
  for (const token of tokens) {
    const opened = await cipher.open(Buffer.from(token, 'ascii'), context);
    if (opened === undefined) throw new Error('a token did not open');
    versions.push(opened.keyVersion);
    current.push(opened.current);
    out.push(opened.current ? token : (await cipher.seal(opened.plaintext, context)).toString('ascii'));
  }
  return { tokens: out, versions, current };
}

describe('fernet interop with Python cryptography', () => {
  it('rotates Python tokens to the new key: Python then opens them with the new key only', async () => {
    const oldKey = await fernetGenerateKeyInPython();
    const newKey = Buffer.from(randomBytes(32)).toString('base64url') + '=';
    const values = plaintexts(2_000);
    const pythonTokens = await fernetEncryptInPython(oldKey, values);
    const cipher = await createCipher(fernetSpec('NEW', ['OLD']), { NEW: newKey, OLD: oldKey });

    const rotated = await rotate(cipher, pythonTokens);
    expect(new Set(rotated.versions)).toEqual(new Set([versionOf(oldKey)]));
    expect(rotated.current.every((c) => !c)).toBe(true);

    const underNew = await fernetDecryptInPython(newKey, rotated.tokens);
    expect(underNew.every((plaintext, i) => plaintext !== null && plaintext.equals(values[i] ?? Buffer.alloc(1)))).toBe(true);
    const underOld = await fernetDecryptInPython(oldKey, rotated.tokens);
    expect(underOld.every((plaintext) => plaintext === null)).toBe(true);

    // A second pass finds everything current and changes nothing.
    const again = await rotate(cipher, rotated.tokens);
    expect(again.current.every((c) => c)).toBe(true);
    expect(again.tokens).toEqual(rotated.tokens);
  });

  it('seals tokens Python opens, and Python refuses tampered ones as cassette does', async () => {
    const key = await fernetGenerateKeyInPython();
    const other = await fernetGenerateKeyInPython();
    const cipher = await createCipher(fernetSpec('NEW', ['OLD']), { NEW: key, OLD: other });
    const values = plaintexts(500);
    const tokens = await Promise.all(values.map(async (value) => (await cipher.seal(value, context)).toString('ascii')));
    const opened = await fernetDecryptInPython(key, tokens);
    expect(opened.every((plaintext, i) => plaintext !== null && plaintext.equals(values[i] ?? Buffer.alloc(1)))).toBe(true);

    const tampered = tokens.slice(0, 50).map((token, i) => {
      const bytes = Buffer.from(token, 'base64url');
      const at = i % bytes.length;
      bytes[at] = (bytes[at] ?? 0) ^ 0x04;
      return bytes.toString('base64url').padEnd(token.length, '=');
    });
    expect((await fernetDecryptInPython(key, tampered)).every((plaintext) => plaintext === null)).toBe(true);
    for (const token of tampered) expect(await cipher.open(Buffer.from(token, 'ascii'), context)).toBeUndefined();
  });

  it('opens values under several old keys like MultiFernet, each with its version', async () => {
    const keys = await Promise.all([0, 1, 2, 3].map(() => fernetGenerateKeyInPython()));
    const [newKey, old1, old2, old3] = keys as [string, string, string, string];
    const values = plaintexts(300);
    const groups = [old1, old2, old3, newKey];
    const tokens = (await Promise.all(groups.map((key, g) => fernetEncryptInPython(key, values.filter((_, i) => i % 4 === g))))).flat();
    const expected = groups.flatMap((key, g) => values.filter((_, i) => i % 4 === g).map((value) => ({ value, version: versionOf(key), current: key === newKey })));

    const cipher = await createCipher(fernetSpec('NEW', ['O1', 'O2', 'O3']), { NEW: newKey, O1: old1, O2: old2, O3: old3 });
    expect(cipher.oldKeyVersions).toEqual([old1, old2, old3].map(versionOf));
    for (const [i, token] of tokens.entries()) {
      const opened = await cipher.open(Buffer.from(token, 'ascii'), context);
      expect(opened?.plaintext.equals(expected[i]?.value ?? Buffer.alloc(1))).toBe(true);
      expect(opened?.keyVersion).toBe(expected[i]?.version);
      expect(opened?.current).toBe(expected[i]?.current);
    }

    const rotated = await rotate(cipher, tokens);
    // Python's MultiFernet with the new key first opens them all; the new key alone does too.
    const multi = await fernetDecryptInPython([newKey, old1, old2, old3], rotated.tokens);
    expect(multi.every((plaintext, i) => plaintext?.equals(expected[i]?.value ?? Buffer.alloc(1)))).toBe(true);
    expect((await fernetDecryptInPython(newKey, rotated.tokens)).every((plaintext) => plaintext !== null)).toBe(true);
    expect((await fernetDecryptInPython([old1, old2, old3], rotated.tokens)).every((plaintext) => plaintext === null)).toBe(true);
  });

  it('handles 100,000 values through one Python process each way', async () => {
    const oldKey = await fernetGenerateKeyInPython();
    const newKey = await fernetGenerateKeyInPython();
    const values = Array.from({ length: 100_000 }, (_, i) => Buffer.from(`card-${i.toString().padStart(6, '0')}`));
    const tokens = await fernetEncryptInPython(oldKey, values);
    const cipher = await createCipher(fernetSpec('NEW', ['OLD']), { NEW: newKey, OLD: oldKey });
    const rotated = await rotate(cipher, tokens);
    const opened = await fernetDecryptInPython(newKey, rotated.tokens);
    expect(opened.every((plaintext, i) => plaintext?.toString() === `card-${i.toString().padStart(6, '0')}`)).toBe(true);
  });
});
