import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CipherContext, CipherSpec, KmsSpec } from '../../src/crypto/cipher.js';
import { createAwsKmsCipher, keyServiceSettings, parseAwsKmsOptions } from '../../src/crypto/kms/aws-kms-cipher.js';
import { kmsFailure } from '../../src/crypto/kms/aws-kms-client.js';
import type { DataKey, KeyService, UnwrappedKey } from '../../src/crypto/kms/key-service.js';
import { CassetteError } from '../../src/errors.js';
import { rejection } from '../support/thrown.js';


const context: CipherContext = { keyspace: 'shop', table: 'customers', column: 'card' };
const arn = (id: string): string => `arn:aws:kms:eu-west-2:111122223333:key/${id}`;
const OLD = arn('old');
const NEW = arn('new');
const FOREIGN = arn('foreign');

/**
 * A KMS in memory: data keys are random, a wrapped key is 'W' + 16 random bytes and names its CMK
 * only through the table. Faults are injected per operation; every call is counted.
 */
class FakeKms implements KeyService {
  readonly calls = { generateDataKey: 0, decrypt: 0, describeKey: 0 };
  readonly keys = new Map<string, UnwrappedKey>();
  readonly aliases = new Map<string, string>([['alias/old', OLD], ['alias/new', NEW]]);
  failGenerate: CassetteError | undefined;
  failDecrypt: CassetteError | undefined;
  delayMs = 0;
  closed = 0;

  async resolve(cmk: string): Promise<string> {
    this.calls.describeKey++;
    const found = this.aliases.get(cmk);
    if (found === undefined) throw new CassetteError('INVALID_INPUT', `KMS DescribeKey on ${cmk}: no such key`);
    return found;
  }

  async generateDataKey(cmk: string): Promise<DataKey> {
    this.calls.generateDataKey++;
    await this.#pause();
    if (this.failGenerate !== undefined) throw this.failGenerate;
    return this.wrap(cmk, randomBytes(32));
  }

  async unwrap(wrapped: Buffer): Promise<UnwrappedKey | undefined> {
    this.calls.decrypt++;
    await this.#pause();
    if (this.failDecrypt !== undefined) throw this.failDecrypt;
    const key = this.keys.get(wrapped.toString('hex'));
    return key === undefined ? undefined : { plaintext: Buffer.from(key.plaintext), cmkArn: key.cmkArn };
  }

  close(): void {
    this.closed++;
  }

  /** Registers a data key under `cmk` as KMS would hold it. */
  wrap(cmk: string, plaintext: Buffer): DataKey {
    const wrapped = Buffer.concat([Buffer.from('W'), randomBytes(16)]);
    this.keys.set(wrapped.toString('hex'), { plaintext: Buffer.from(plaintext), cmkArn: cmk });
    return { plaintext, wrapped, cmkArn: cmk };
  }

  async #pause(): Promise<void> {
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
  }
}

function kmsSpec(kms: Partial<KmsSpec> = {}, options: Record<string, unknown> = {}): CipherSpec {
  return { type: 'aws-kms', oldKeys: [], options, kms: { newCmk: { cmk: NEW, version: 'v2' }, oldCmks: [{ cmk: OLD, version: 'v1' }], ...kms } };
}

async function cipherWith(fake: FakeKms, spec = kmsSpec()) {
  return createAwsKmsCipher(spec, { AWS_REGION: 'eu-west-2' }, () => fake);
}

/** A value in cassandra-rekey's layout, sealed as its Python provider does (AESGCM, no associated data). */
function rekeyLayout(dataKey: DataKey, plaintext: Buffer): Buffer {
  const nonce = randomBytes(12);
  const gcm = createCipheriv('aes-256-gcm', dataKey.plaintext, nonce);
  const body = Buffer.concat([gcm.update(plaintext), gcm.final(), gcm.getAuthTag()]);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(dataKey.wrapped.length);
  return Buffer.concat([head, dataKey.wrapped, nonce, body]);
}

describe('aws-kms cipher: the layout', () => {
  it('opens a value in cassandra-rekey\'s layout under the old CMK, as old', async () => {
    const fake = new FakeKms();
    const cipher = await cipherWith(fake);
    const value = rekeyLayout(fake.wrap(OLD, randomBytes(32)), Buffer.from('4111 1111 1111 1111'));
    const opened = await cipher.open(value, context);
    expect(opened?.plaintext.toString()).toBe('4111 1111 1111 1111');
    expect(opened).toMatchObject({ keyVersion: 'v1', current: false });
    expect(cipher).toMatchObject({ type: 'aws-kms', newKeyVersion: 'v2', oldKeyVersions: ['v1'], textEncoding: 'base64' });
  });

  it('seals in the same layout under a data key of the new CMK, which opens as current', async () => {
    const fake = new FakeKms();
    const cipher = await cipherWith(fake);
    const sealed = Buffer.from(await cipher.seal(Buffer.from('secret'), context));
    const length = sealed.readUInt32BE(0);
    const wrapped = sealed.subarray(4, 4 + length);
    const key = fake.keys.get(wrapped.toString('hex'));
    expect(key?.cmkArn).toBe(NEW);
    // Decrypted by hand, as cassandra-rekey would: nonce (12), then ciphertext ‖ tag (16).
    const nonce = sealed.subarray(4 + length, 16 + length);
    const body = sealed.subarray(16 + length);
    const gcm = createDecipheriv('aes-256-gcm', key?.plaintext ?? Buffer.alloc(32), nonce);
    gcm.setAuthTag(body.subarray(body.length - 16));
    expect(Buffer.concat([gcm.update(body.subarray(0, body.length - 16)), gcm.final()]).toString()).toBe('secret');
    expect(await cipher.open(sealed, context)).toMatchObject({ keyVersion: 'v2', current: true });
  });

  it('does not open values it cannot: malformed layouts (no KMS call), a foreign CMK, a flipped bit', async () => {
    const fake = new FakeKms();
    const cipher = await cipherWith(fake);
    const good = rekeyLayout(fake.wrap(OLD, randomBytes(32)), Buffer.from('x'));
    const withLength = (n: number): Buffer => Buffer.concat([Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]), good.subarray(4)]);
    for (const bad of [Buffer.alloc(0), good.subarray(0, 3), withLength(0), withLength(8193), withLength(good.length), good.subarray(0, good.length - 20)]) {
      expect(await cipher.open(bad, context)).toBeUndefined();
    }
    expect(fake.calls.decrypt).toBe(0);
    expect(await cipher.open(rekeyLayout(fake.wrap(FOREIGN, randomBytes(32)), Buffer.from('x')), context)).toBeUndefined();
    const flipped = Buffer.from(good);
    flipped.writeUInt8((flipped.at(-1) ?? 0) ^ 1, flipped.length - 1);
    expect(await cipher.open(flipped, context)).toBeUndefined();
    expect(await cipher.open(Buffer.concat([good.subarray(0, 4), Buffer.from('W'), randomBytes(16), good.subarray(21)]), context)).toBeUndefined();
  });
});

describe('aws-kms cipher: KMS calls', () => {
  it('seals data_key_reuse values under one data key (default 1000; 1 = one per value)', async () => {
    const fake = new FakeKms();
    const cipher = await cipherWith(fake);
    for (let i = 0; i < 2500; i++) await cipher.seal(Buffer.from([i & 255]), context);
    expect(fake.calls.generateDataKey).toBe(3);
    const perValue = new FakeKms();
    const one = await cipherWith(perValue, kmsSpec({}, { data_key_reuse: 1 }));
    for (let i = 0; i < 10; i++) await one.seal(Buffer.from('v'), context);
    expect(perValue.calls.generateDataKey).toBe(10);
  });

  it('values waiting for a data key share one GenerateDataKey call', async () => {
    const fake = new FakeKms();
    fake.delayMs = 20;
    const cipher = await cipherWith(fake, kmsSpec({}, { data_key_reuse: 30 }));
    const sealed = await Promise.all(Array.from({ length: 50 }, () => cipher.seal(Buffer.from('v'), context)));
    expect(fake.calls.generateDataKey).toBe(2);
    const wrappedOf = (b: Buffer | Uint8Array): string => Buffer.from(b).subarray(4, 4 + Buffer.from(b).readUInt32BE(0)).toString('hex');
    expect(new Set(sealed.map(wrappedOf)).size).toBe(2);
    // Its own values open from the cache, without Decrypt.
    for (const value of sealed) expect(await cipher.open(Buffer.from(value), context)).toMatchObject({ current: true });
    expect(fake.calls.decrypt).toBe(0);
  });

  it('unwraps each data key once (concurrent opens wait for one call) and keeps at most data_key_cache keys', async () => {
    const fake = new FakeKms();
    fake.delayMs = 10;
    const cipher = await cipherWith(fake, kmsSpec({}, { data_key_cache: 2 }));
    const keys = [0, 1, 2].map(() => fake.wrap(OLD, randomBytes(32)));
    const values = keys.map((k) => Array.from({ length: 20 }, (_, i) => rekeyLayout(k, Buffer.from(`v${i}`))));
    const opened = await Promise.all((values[0] ?? []).map((v) => cipher.open(v, context)));
    expect(opened.map((o) => o?.plaintext.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`));
    expect(fake.calls.decrypt).toBe(1);
    await cipher.open(values[1]?.[0] ?? Buffer.alloc(0), context);
    await cipher.open(values[2]?.[0] ?? Buffer.alloc(0), context);
    expect(fake.calls.decrypt).toBe(3);
    // The first key was the least recently used of three in a cache of two: unwrapped again.
    await cipher.open(values[0]?.[1] ?? Buffer.alloc(0), context);
    expect(fake.calls.decrypt).toBe(4);
    expect(cipher.kmsCalls?.()).toEqual({ generateDataKey: 0, decrypt: 4 });
  });

  it('a KMS failure rejects with PROVIDER_UNAVAILABLE; the next call tries again', async () => {
    const fake = new FakeKms();
    const cipher = await cipherWith(fake);
    const value = rekeyLayout(fake.wrap(OLD, randomBytes(32)), Buffer.from('x'));
    fake.failDecrypt = new CassetteError('PROVIDER_UNAVAILABLE', 'KMS Decrypt failed at http://kms: TimeoutError');
    fake.failGenerate = new CassetteError('PROVIDER_UNAVAILABLE', 'KMS GenerateDataKey failed');
    expect((await rejection(cipher.open(value, context))).code).toBe('PROVIDER_UNAVAILABLE');
    expect((await rejection(cipher.seal(Buffer.from('x'), context))).code).toBe('PROVIDER_UNAVAILABLE');
    fake.failDecrypt = undefined;
    fake.failGenerate = undefined;
    expect((await cipher.open(value, context))?.plaintext.toString()).toBe('x');
    expect(await cipher.seal(Buffer.from('x'), context)).toBeInstanceOf(Buffer);
  });
});

describe('aws-kms cipher: set-up', () => {
  it('resolves CMKs not named by key ARN (aliases) once, at creation; an unknown one is INVALID_INPUT and closes the client', async () => {
    const fake = new FakeKms();
    const cipher = await cipherWith(fake, kmsSpec({ newCmk: { cmk: 'alias/new', version: 'v2' }, oldCmks: [{ cmk: 'alias/old', version: 'v1' }, { cmk: FOREIGN, version: 'v1' }] }));
    expect(fake.calls.describeKey).toBe(2);
    expect(await cipher.open(rekeyLayout(fake.wrap(FOREIGN, randomBytes(32)), Buffer.from('x')), context)).toMatchObject({ keyVersion: 'v1' });
    expect(await cipher.open(Buffer.from(await cipher.seal(Buffer.from('y'), context)), context)).toMatchObject({ current: true });
    const other = new FakeKms();
    const err = await rejection(cipherWith(other, kmsSpec({ newCmk: { cmk: 'alias/missing', version: 'v2' } })));
    expect(err).toMatchObject({ code: 'INVALID_INPUT', message: 'KMS DescribeKey on alias/missing: no such key' });
    expect(other.closed).toBe(1);
  });

  it('takes region, endpoint and credentials from the config and the environment it is given', () => {
    const kms: KmsSpec = { newCmk: { cmk: 'alias/b', version: 'v2' }, oldCmks: [{ cmk: 'alias/a', version: 'v1' }] };
    expect(keyServiceSettings({ ...kms, region: 'us-west-1' }, { AWS_REGION: 'eu-west-1' })).toEqual({ region: 'us-west-1' });
    expect(keyServiceSettings(kms, { AWS_DEFAULT_REGION: 'eu-west-3', AWS_ENDPOINT_URL_KMS: 'http://127.0.0.1:4599', AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 's' }))
      .toEqual({ region: 'eu-west-3', endpoint: 'http://127.0.0.1:4599', credentials: { accessKeyId: 'id', secretAccessKey: 's' } });
    expect(keyServiceSettings({ ...kms, oldCmks: [{ cmk: OLD, version: 'v1' }] }, {})).toEqual({ region: 'eu-west-2' });
    expect(() => keyServiceSettings(kms, {})).toThrow('the aws-kms provider needs an AWS region');
  });

  it('checks its options', () => {
    expect(parseAwsKmsOptions({})).toEqual({ dataKeyReuse: 1000, dataKeyCache: 10_000 });
    expect(parseAwsKmsOptions({ data_key_reuse: 1, data_key_cache: 5 })).toEqual({ dataKeyReuse: 1, dataKeyCache: 5 });
    expect(() => parseAwsKmsOptions({ data_key_reuse: 0 })).toThrow('aws-kms option data_key_reuse must be an integer from 1 to 1000000');
    expect(() => parseAwsKmsOptions({ data_key_cache: 'many' })).toThrow('data_key_cache must be an integer');
    expect(() => parseAwsKmsOptions({ key_arn: 'x' })).toThrow('the aws-kms provider does not know the option key_arn');
  });
});

describe('aws-kms cipher: doctor checks', () => {
  it('a round trip per CMK; an old CMK that refuses GenerateDataKey is a warning, a new one that fails is a failure', async () => {
    const fake = new FakeKms();
    const cipher = await cipherWith(fake);
    expect(await cipher.check?.()).toEqual([
      { id: 'kms.new_cmk', status: 'ok', message: `new CMK ${NEW}: GenerateDataKey and Decrypt round trip` },
      { id: 'kms.old_cmk', status: 'ok', message: `old CMK ${OLD}: GenerateDataKey and Decrypt round trip` },
    ]);
    fake.failGenerate = kmsFailure({ name: 'AccessDeniedException' }, 'GenerateDataKey', OLD, 'http://kms');
    const checks = (await cipher.check?.()) ?? [];
    expect(checks.map((c) => [c.id, c.status, c.code])).toEqual([['kms.new_cmk', 'fail', 'PROVIDER_UNAVAILABLE'], ['kms.old_cmk', 'warn', undefined]]);
    expect(checks[0]?.message).toContain('access denied');
  });

  it('KMS errors become one line naming the call and the CMK, from the error name only', () => {
    const secretish = { name: 'AccessDeniedException', message: 'User arn:aws:iam::1:user/x is not authorized; ciphertext AQIDBAUG…' };
    const denied = kmsFailure(secretish, 'Decrypt', OLD, 'http://kms');
    expect(denied).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', message: `KMS Decrypt on ${OLD}: access denied (AccessDeniedException)` });
    expect(denied.message).not.toContain('AQIDBAUG');
    expect(kmsFailure({ name: 'NotFoundException' }, 'DescribeKey', 'alias/x', 'http://kms')).toMatchObject({ code: 'INVALID_INPUT', message: 'KMS DescribeKey on alias/x: no such key' });
    expect(kmsFailure({ name: 'DisabledException' }, 'GenerateDataKey', NEW, 'http://kms').message).toContain('disabled or pending deletion');
    expect(kmsFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'Decrypt', undefined, 'http://127.0.0.1:1'))
      .toMatchObject({ code: 'PROVIDER_UNAVAILABLE', message: 'KMS Decrypt failed at http://127.0.0.1:1: ECONNREFUSED' });
  });
});
