/**
 * The `aws-kms` provider: envelope encryption with data keys from AWS KMS, in cassandra-rekey's
 * layout so that a table rotated by either tool can be rotated by the other:
 *
 *   wrapped-key length (4 bytes, big-endian)  ‖  wrapped data key  ‖  nonce (12)  ‖  AES-256-GCM ciphertext ‖ tag (16)
 *
 * No associated data. A value opens when KMS unwraps its data key and the CMK that had wrapped it
 * is the new CMK or one of the old ones; its version is that CMK's. New values are sealed under a
 * data key from the new CMK, used for `data_key_reuse` values (default 1000; 1 = a data key per
 * value, as cassandra-rekey does) before a fresh one is generated. Unwrapped data keys are kept in
 * a bounded LRU (`data_key_cache` entries, default 10,000), so each is unwrapped once per process.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { CassetteError } from '../../errors.js';
import type { CipherContext, CipherSpec, ColumnCipher, KmsSpec, Opened, ProviderCheck } from '../cipher.js';
import { rejectUnknownOptions } from '../options.js';
import { randomSource } from '../random-pool.js';
import { SealingKey, UnwrappedKeys } from './data-keys.js';
import type { DataKey, KeyService, KeyServiceFactory, KeyServiceSettings } from './key-service.js';

const LENGTH_BYTES = 4;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** cassandra-rekey refuses wrapped keys longer than this; so do we. */
const MAX_WRAPPED = 8192;
const KEY_ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):\d+:key\/.+$/;
const ANY_ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):/;

export const DEFAULT_DATA_KEY_REUSE = 1000;
export const DEFAULT_DATA_KEY_CACHE = 10_000;
/** NIST SP 800-38D: at most 2^32 random-nonce encryptions per key. We stay far below. */
const MAX_DATA_KEY_REUSE = 1_000_000;
const MAX_DATA_KEY_CACHE = 1_000_000;
/** Rows a transform rotates at once with this provider, so that their KMS calls overlap. */
const PARALLELISM = 64;

export interface AwsKmsOptions {
  readonly dataKeyReuse: number;
  readonly dataKeyCache: number;
}

function positiveInteger(name: string, value: unknown, fallback: number, max: number, hint: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new CassetteError('INVALID_INPUT', `aws-kms option ${name} must be an integer from 1 to ${max}`, { hint });
  }
  return value;
}

/** Reads and checks `spec.options`; throws INVALID_INPUT naming the bad option. */
export function parseAwsKmsOptions(options: Readonly<Record<string, unknown>>): AwsKmsOptions {
  rejectUnknownOptions('aws-kms', options, ['data_key_reuse', 'data_key_cache']);
  return {
    dataKeyReuse: positiveInteger('data_key_reuse', options.data_key_reuse, DEFAULT_DATA_KEY_REUSE, MAX_DATA_KEY_REUSE,
      'the number of values sealed under one data key; 1 = one per value, as cassandra-rekey'),
    dataKeyCache: positiveInteger('data_key_cache', options.data_key_cache, DEFAULT_DATA_KEY_CACHE, MAX_DATA_KEY_CACHE,
      'the number of unwrapped data keys kept in memory'),
  };
}

/** Where KMS is and who calls it, from the config and `env` (never from flags). */
export function keyServiceSettings(kms: KmsSpec, env: Readonly<Record<string, string | undefined>>): KeyServiceSettings {
  const fromArn = [kms.newCmk, ...kms.oldCmks].map((k) => ANY_ARN.exec(k.cmk)?.[1]).find((r) => r !== undefined);
  const region = kms.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? fromArn;
  if (region === undefined || region === '') {
    throw new CassetteError('INVALID_INPUT', 'the aws-kms provider needs an AWS region', {
      hint: 'set provider.aws_region, or AWS_REGION in the environment, or name the CMKs by ARN',
    });
  }
  const endpoint = env.AWS_ENDPOINT_URL_KMS ?? env.AWS_ENDPOINT_URL;
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  const sessionToken = env.AWS_SESSION_TOKEN;
  return {
    region,
    ...(endpoint === undefined || endpoint === '' ? {} : { endpoint }),
    ...(accessKeyId && secretAccessKey
      ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } }
      : {}),
  };
}

/** A stored value split into its parts, or undefined when it is not in the layout. */
function split(value: Buffer): { wrapped: Buffer; body: Buffer } | undefined {
  if (value.length < LENGTH_BYTES) return undefined;
  const length = value.readUInt32BE(0);
  if (length < 1 || length > MAX_WRAPPED) return undefined;
  const end = LENGTH_BYTES + length;
  if (value.length < end + NONCE_BYTES + TAG_BYTES) return undefined;
  return { wrapped: value.subarray(LENGTH_BYTES, end), body: value.subarray(end) };
}

function decrypt(key: Buffer, body: Buffer): Buffer | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([decipher.update(body.subarray(NONCE_BYTES, body.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}

/**
 * The aws-kms {@link ColumnCipher}. Resolves the CMKs not given as key ARNs (DescribeKey), so
 * INVALID_INPUT for an unknown one and PROVIDER_UNAVAILABLE when KMS cannot be reached.
 */
export async function createAwsKmsCipher(
  spec: CipherSpec,
  env: Readonly<Record<string, string | undefined>>,
  factory: KeyServiceFactory,
): Promise<ColumnCipher> {
  const kms = spec.kms;
  if (kms === undefined) {
    throw new CassetteError('INVALID_INPUT', 'the aws-kms provider needs new_cmk_arn and old_cmk_arn', { hint: 'name the CMKs by ARN, key id or alias' });
  }
  const options = parseAwsKmsOptions(spec.options);
  const service = factory(keyServiceSettings(kms, env));
  try {
    return await buildCipher(kms, options, service);
  } catch (err) {
    service.close();
    throw err;
  }
}

async function buildCipher(kms: KmsSpec, options: AwsKmsOptions, service: KeyService): Promise<ColumnCipher> {
  const arnOf = (cmk: string): Promise<string> => (KEY_ARN.test(cmk) ? Promise.resolve(cmk) : service.resolve(cmk));
  const newArn = await arnOf(kms.newCmk.cmk);
  const oldArns = await Promise.all(kms.oldCmks.map((k) => arnOf(k.cmk)));
  // The version of the values under each CMK; the new CMK's wins if an old one names the same key.
  const versionOf = new Map<string, string>(oldArns.map((arn, i) => [arn, kms.oldCmks[i]?.version ?? '']));
  versionOf.set(newArn, kms.newCmk.version);

  const unwrapped = new UnwrappedKeys(options.dataKeyCache, async (wrapped) => {
    const key = await service.unwrap(wrapped);
    if (key === undefined || versionOf.has(key.cmkArn)) return key;
    // Wrapped under a CMK the config does not name: not ours to open.
    key.plaintext.fill(0);
    return undefined;
  });
  const sealing = new SealingKey(options.dataKeyReuse, async () => {
    const key = await service.generateDataKey(newArn);
    unwrapped.add(key);
    return key;
  });
  const nextNonce = randomSource(NONCE_BYTES);

  const openWith = (cmkArn: string, key: Buffer, body: Buffer): Opened | undefined => {
    const plaintext = decrypt(key, body);
    if (plaintext === undefined) return undefined;
    const keyVersion = versionOf.get(cmkArn) ?? '';
    return { plaintext, keyVersion, current: cmkArn === newArn };
  };
  const sealWith = (key: DataKey, plaintext: Buffer): Buffer => {
    const nonce = nextNonce();
    const cipher = createCipheriv('aes-256-gcm', key.plaintext, nonce, { authTagLength: TAG_BYTES });
    const head = Buffer.allocUnsafe(LENGTH_BYTES);
    head.writeUInt32BE(key.wrapped.length, 0);
    return Buffer.concat([head, key.wrapped, nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  };

  return Object.freeze({
    type: 'aws-kms',
    newKeyVersion: kms.newCmk.version,
    oldKeyVersions: Object.freeze([...new Set(kms.oldCmks.map((k) => k.version))]),
    textEncoding: 'base64',
    parallelism: PARALLELISM,
    // Synchronous when the data key is at hand, so rotating values under cached keys costs no promise.
    open(ciphertext: Buffer, _context: CipherContext): Opened | undefined | Promise<Opened | undefined> {
      const parts = split(ciphertext);
      if (parts === undefined) return undefined;
      const hit = unwrapped.cached(parts.wrapped);
      if (hit !== undefined) return openWith(hit.cmkArn, hit.plaintext, parts.body);
      return unwrapped.get(parts.wrapped).then((key) => (key === undefined ? undefined : openWith(key.cmkArn, key.plaintext, parts.body)));
    },
    seal(plaintext: Buffer, _context: CipherContext): Buffer | Promise<Buffer> {
      const ready = sealing.take();
      if (ready !== undefined) return sealWith(ready, plaintext);
      return sealing.next().then((key) => sealWith(key, plaintext));
    },
    check: () => checkCmks(service, kms, newArn, oldArns),
    kmsCalls: () => ({ generateDataKey: service.calls.generateDataKey, decrypt: service.calls.decrypt }),
    close(): void {
      sealing.clear();
      unwrapped.clear();
      service.close();
    },
  } satisfies ColumnCipher);
}

/**
 * For `doctor`: a GenerateDataKey/Decrypt round trip under each CMK, straight to KMS (no cache).
 * The new CMK must allow both; an old CMK needs only Decrypt, so a refused GenerateDataKey on it is
 * a warning (Decrypt is then checked on real values by the column sample).
 */
async function checkCmks(service: KeyService, kms: KmsSpec, newArn: string, oldArns: readonly string[]): Promise<ProviderCheck[]> {
  const checks: ProviderCheck[] = [];
  const roundTrip = async (id: string, cmk: string, arn: string, old: boolean): Promise<void> => {
    let key: DataKey;
    try {
      key = await service.generateDataKey(arn);
    } catch (err) {
      const e = err instanceof CassetteError ? err : undefined;
      if (old && e?.code === 'PROVIDER_UNAVAILABLE' && /access denied/.test(e.message)) {
        checks.push({ id, status: 'warn', message: `old CMK ${cmk}: GenerateDataKey is not allowed (rotation needs only Decrypt on it)`, hint: 'the column sample checks Decrypt on stored values' });
        return;
      }
      checks.push({ id, status: 'fail', message: `${old ? 'old' : 'new'} CMK ${cmk}: ${e?.message ?? 'GenerateDataKey failed'}`, ...(e?.hint === undefined ? {} : { hint: e.hint }), code: e?.code === 'INVALID_INPUT' ? 'INVALID_INPUT' : 'PROVIDER_UNAVAILABLE' });
      return;
    }
    try {
      const back = await service.unwrap(key.wrapped);
      const same = back !== undefined && back.cmkArn === arn && back.plaintext.equals(key.plaintext);
      back?.plaintext.fill(0);
      checks.push(same
        ? { id, status: 'ok', message: `${old ? 'old' : 'new'} CMK ${cmk}: GenerateDataKey and Decrypt round trip` }
        : { id, status: 'fail', message: `${old ? 'old' : 'new'} CMK ${cmk}: a data key it generated did not decrypt to the same key`, hint: 'check the KMS endpoint', code: 'PROVIDER_UNAVAILABLE' });
    } catch (err) {
      const e = err instanceof CassetteError ? err : undefined;
      checks.push({ id, status: 'fail', message: `${old ? 'old' : 'new'} CMK ${cmk}: ${e?.message ?? 'Decrypt failed'}`, ...(e?.hint === undefined ? {} : { hint: e.hint }), code: 'PROVIDER_UNAVAILABLE' });
    } finally {
      key.plaintext.fill(0);
    }
  };
  await roundTrip('kms.new_cmk', kms.newCmk.cmk, newArn, false);
  for (const [i, arn] of oldArns.entries()) await roundTrip('kms.old_cmk', kms.oldCmks[i]?.cmk ?? arn, arn, true);
  return checks;
}
