/**
 * The {@link KeyService} adapter for AWS KMS (and KMS-compatible services such as local-kms):
 * DescribeKey, GenerateDataKey (AES_256) and Decrypt through the AWS SDK v3. The SDK retries
 * throttling and transient failures itself (`maxAttempts`); what is left is turned into a
 * CassetteError here, from the error's name and HTTP status only (an SDK error's message is
 * never echoed: it could quote a ciphertext).
 */
import { DecryptCommand, DescribeKeyCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CassetteError } from '../../errors.js';
import type { DataKey, KeyService, KeyServiceSettings, UnwrappedKey } from './key-service.js';

/** Attempts per call (the first and up to 4 retries, with the SDK's backoff). */
const MAX_ATTEMPTS = 5;

/** Errors meaning "this ciphertext cannot be opened here", which is an answer, not a failure. */
const CANNOT_OPEN = new Set(['InvalidCiphertextException', 'IncorrectKeyException']);

interface ErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
}

function nameOf(err: unknown): string {
  const shape = typeof err === 'object' && err !== null ? (err as ErrorShape) : {};
  if (typeof shape.name === 'string' && shape.name !== 'Error') return shape.name;
  return typeof shape.code === 'string' ? shape.code : 'Error';
}

/** A failed call as a CassetteError naming the call, the CMK and what to check. */
export function kmsFailure(err: unknown, call: string, cmk: string | undefined, endpoint: string): CassetteError {
  const name = nameOf(err);
  const on = cmk === undefined ? '' : ` on ${cmk}`;
  switch (name) {
    case 'NotFoundException':
      return new CassetteError('INVALID_INPUT', `KMS ${call}${on}: no such key`, { hint: `check the CMK's ARN, id or alias and its region (${endpoint})` });
    case 'AccessDeniedException':
    case 'UnrecognizedClientException':
    case 'InvalidSignatureException':
    case 'ExpiredTokenException':
      return new CassetteError('PROVIDER_UNAVAILABLE', `KMS ${call}${on}: access denied (${name})`, {
        hint: `check the AWS credentials and that they may call kms:${call}${on}`,
      });
    case 'DisabledException':
    case 'KMSInvalidStateException':
      return new CassetteError('PROVIDER_UNAVAILABLE', `KMS ${call}${on}: the key is disabled or pending deletion (${name})`, {
        hint: 'enable the CMK (or cancel its deletion), then run again',
      });
    default:
      return new CassetteError('PROVIDER_UNAVAILABLE', `KMS ${call}${on} failed at ${endpoint}: ${name}`, {
        hint: 'check that KMS is reachable from here (AWS_ENDPOINT_URL_KMS, network, region); runs resume where they stopped',
      });
  }
}

/** A key service on AWS KMS for `settings`. */
export function awsKeyService(settings: KeyServiceSettings): KeyService {
  const client = new KMSClient({
    region: settings.region,
    ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
    ...(settings.credentials === undefined ? {} : { credentials: settings.credentials }),
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 30_000 },
  });
  const endpoint = settings.endpoint ?? `KMS in ${settings.region}`;
  const calls = { generateDataKey: 0, decrypt: 0, describeKey: 0 };
  return {
    calls,
    async resolve(cmk: string): Promise<string> {
      calls.describeKey++;
      try {
        const out = await client.send(new DescribeKeyCommand({ KeyId: cmk }));
        const arn = out.KeyMetadata?.Arn;
        if (arn === undefined) throw new CassetteError('PROVIDER_UNAVAILABLE', `KMS DescribeKey on ${cmk} returned no key ARN`, { hint: 'check the KMS endpoint' });
        return arn;
      } catch (err) {
        throw err instanceof CassetteError ? err : kmsFailure(err, 'DescribeKey', cmk, endpoint);
      }
    },
    async generateDataKey(cmk: string): Promise<DataKey> {
      calls.generateDataKey++;
      let out;
      try {
        out = await client.send(new GenerateDataKeyCommand({ KeyId: cmk, KeySpec: 'AES_256' }));
      } catch (err) {
        throw kmsFailure(err, 'GenerateDataKey', cmk, endpoint);
      }
      if (out.Plaintext?.length !== 32 || out.CiphertextBlob === undefined || out.KeyId === undefined) {
        throw new CassetteError('PROVIDER_UNAVAILABLE', `KMS GenerateDataKey on ${cmk} returned no 32-byte data key`, { hint: 'check the KMS endpoint' });
      }
      return { plaintext: Buffer.from(out.Plaintext), wrapped: Buffer.from(out.CiphertextBlob), cmkArn: out.KeyId };
    },
    async unwrap(wrapped: Buffer): Promise<UnwrappedKey | undefined> {
      calls.decrypt++;
      let out;
      try {
        out = await client.send(new DecryptCommand({ CiphertextBlob: wrapped }));
      } catch (err) {
        // A deleted CMK (NotFound) cannot open its values either: the caller quarantines them.
        if (CANNOT_OPEN.has(nameOf(err)) || nameOf(err) === 'NotFoundException') return undefined;
        throw kmsFailure(err, 'Decrypt', undefined, endpoint);
      }
      if (out.Plaintext === undefined || out.KeyId === undefined) return undefined;
      return { plaintext: Buffer.from(out.Plaintext), cmkArn: out.KeyId };
    },
    close(): void {
      client.destroy();
    },
  };
}
