import { describe, expect, it } from 'vitest';
import { rekeyRow, type RowRotationPlan } from '../../src/pipeline/transform/rekey-row.js';
import { fakeCipher, fakeSealed } from '../support/fakes/fake-cipher.js';

const plan: RowRotationPlan = {
  keyspace: 'ks',
  table: 'users',
  columns: [{ name: 'ssn', storage: 'blob' }, { name: 'email', storage: 'blob' }],
  keyVersion: { name: 'key_version', newValue: '2' },
};

const plaintextOf = (v: unknown): string => Buffer.from(v as string, 'base64').subarray(1).toString('utf8');

describe('rekeyRow', () => {
  it('re-encrypts old-key cells at writetime + 1 µs with the same expiry, and sets the key version above them', async () => {
    const cipher = fakeCipher();
    const row = {
      k: ['t1', 7, 1000],
      c: {
        ssn: { v: fakeSealed(1, '123-45-6789'), t: 1_700_000_000_000_000, e: 1_900_000_000 },
        email: { v: fakeSealed(0, 'a@example.com'), t: 1_700_000_000_000_005 },
        other: { v: 'untouched', t: 5 },
        key_version: { v: '1', t: 1_700_000_000_000_009, e: 1_950_000_000 },
      },
    };
    const out = await rekeyRow(row, plan, cipher);
    expect(out).toMatchObject({ changed: true, skipped: false, rotated: 2, alreadyCurrent: 0, nulls: 0, quarantined: [] });
    const c = out.row.c as Record<string, { v: unknown; t: unknown; e?: unknown }>;
    expect(plaintextOf(c.ssn?.v)).toBe('123-45-6789');
    expect(Buffer.from(c.ssn?.v as string, 'base64')[0]).toBe(2);
    expect(c.ssn).toMatchObject({ t: 1_700_000_000_000_001, e: 1_900_000_000 });
    expect(c.email).toMatchObject({ t: 1_700_000_000_000_006 });
    expect(c.email).not.toHaveProperty('e');
    expect(c.other).toBe(row.c.other);
    // Above its own old cell (…009) and every rewritten cell; keeps its own expiry.
    expect(c.key_version).toEqual({ v: '2', t: 1_700_000_000_000_010, e: 1_950_000_000 });
    expect(out.row.k).toBe(row.k);
    expect(row.c.ssn.v).toBe(fakeSealed(1, '123-45-6789')); // the input is not modified
  });

  it('leaves values already under the new key byte-identical and only moves the key version', async () => {
    const cipher = fakeCipher();
    const ssn = { v: fakeSealed(2, 'x'), t: 10 };
    const out = await rekeyRow({ k: [1], c: { ssn, key_version: { v: '1', t: 3 } } }, plan, cipher);
    expect(out).toMatchObject({ changed: true, rotated: 0, alreadyCurrent: 1, nulls: 1 });
    expect(out.row.c.ssn).toBe(ssn);
    expect(out.row.c.key_version).toEqual({ v: '2', t: 10 });
    expect(cipher.sealed).toBe(0);
  });

  it('skips a row whose key version is already new without decrypting anything', async () => {
    const cipher = fakeCipher();
    const row = { k: [1], c: { ssn: { v: fakeSealed(1, 'x'), t: 1 }, key_version: { v: '2', t: 2 } } };
    const out = await rekeyRow(row, plan, cipher);
    expect(out).toMatchObject({ changed: false, skipped: true, rotated: 0 });
    expect(out.row).toBe(row);
    expect(cipher.opened).toBe(0);
  });

  it('skips nulls before any decrypt and leaves a row without encrypted values alone', async () => {
    const cipher = fakeCipher();
    const row = { k: [1], c: { other: { v: 1, t: 1 } } };
    const out = await rekeyRow(row, plan, cipher);
    expect(out).toMatchObject({ changed: false, nulls: 2, rotated: 0 });
    expect(out.row).toBe(row);
    expect(cipher.opened).toBe(0);
  });

  it('quarantines a value no key opens: it stays as it was and the key version is not moved', async () => {
    const cipher = fakeCipher();
    const bad = { v: Buffer.from([9, 1, 2]).toString('base64'), t: 4 };
    const out = await rekeyRow({ k: ['p', 1], c: { ssn: bad, email: { v: fakeSealed(1, 'e'), t: 4 }, key_version: { v: '1', t: 1 } } }, plan, cipher);
    expect(out.quarantined).toEqual(['ssn']);
    expect(out.rotated).toBe(1);
    expect(out.row.c.ssn).toBe(bad);
    expect(out.row.c.key_version).toEqual({ v: '1', t: 1 });
  });

  it('gives a new key-version cell the latest expiry when every encrypted cell expires, none otherwise', async () => {
    const cipher = fakeCipher();
    const expiring = await rekeyRow({ k: [1], c: { ssn: { v: fakeSealed(1, 'a'), t: 5, e: 100 }, email: { v: fakeSealed(2, 'b'), t: 6, e: 200 } } }, plan, cipher);
    expect(expiring.row.c.key_version).toEqual({ v: '2', t: 6, e: 200 });
    const mixed = await rekeyRow({ k: [1], c: { ssn: { v: fakeSealed(1, 'a'), t: 5, e: 100 }, email: { v: fakeSealed(1, 'b'), t: 6 } } }, plan, cipher);
    expect(mixed.row.c.key_version).toEqual({ v: '2', t: 7 });
  });

  it('keeps 64-bit writetimes beyond 2^53 exact', async () => {
    const cipher = fakeCipher();
    const out = await rekeyRow({ k: [1], c: { ssn: { v: fakeSealed(1, 'a'), t: '9223372036854775000' } } }, { ...plan, keyVersion: null }, cipher);
    expect(out.row.c.ssn).toMatchObject({ t: '9223372036854775001' });
    expect(out.row.c).not.toHaveProperty('key_version');
  });

  it('decrypt-only (dry run) opens and counts but seals nothing and returns the row as it was', async () => {
    const cipher = fakeCipher();
    const row = { k: [1], c: { ssn: { v: fakeSealed(1, 'a'), t: 5 }, email: { v: fakeSealed(2, 'b'), t: 5 } } };
    const out = await rekeyRow(row, plan, cipher, true);
    expect(out).toMatchObject({ changed: false, rotated: 1, alreadyCurrent: 1 });
    expect(out.row).toBe(row);
    expect(cipher.sealed).toBe(0);
  });

  it('stores text columns in the cipher\'s text encoding', async () => {
    const cipher = fakeCipher({ textEncoding: 'base64' });
    const textPlan: RowRotationPlan = { ...plan, columns: [{ name: 'ssn', storage: 'text' }], keyVersion: null };
    const out = await rekeyRow({ k: [1], c: { ssn: { v: fakeSealed(1, 'abc'), t: 1 } } }, textPlan, cipher);
    expect(plaintextOf((out.row.c.ssn as { v: string }).v)).toBe('abc');
    const notBase64 = await rekeyRow({ k: [1], c: { ssn: { v: 'not base64!', t: 1 } } }, textPlan, cipher);
    expect(notBase64.quarantined).toEqual(['ssn']);
  });

  it('rejects when the provider fails, rather than quarantining', async () => {
    const cipher = fakeCipher({ failWith: new Error('provider down') });
    await expect(rekeyRow({ k: [1], c: { ssn: { v: fakeSealed(1, 'a'), t: 1 } } }, plan, cipher)).rejects.toThrow('provider down');
  });
});
