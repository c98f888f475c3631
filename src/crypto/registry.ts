/**
 * Choosing a {@link ColumnCipher} by the provider's name. Everything a cipher needs is in the
 * plain-data spec and the environment, so each worker thread of the offline transform builds its
 * own with the same call (ciphers hold keys and node:crypto state and are never sent between
 * threads).
 */
import { CassetteError } from '../errors.js';
import { createAesGcmCipher } from './aes-gcm.js';
import type { CipherSpec, ColumnCipher } from './cipher.js';
import { createFernetCipher } from './fernet.js';
import { createAwsKmsCipher } from './kms/aws-kms-cipher.js';
import { awsKeyService } from './kms/aws-kms-client.js';
import { createModuleCipher } from './module-cipher.js';

/**
 * The cipher a provider spec describes, its keys read from `env` and key files now.
 * Rejects with INVALID_INPUT for missing or malformed keys (fernet and aes-gcm need the new key
 * and at least one old key), unknown options, or a module that cannot be used; with
 * PROVIDER_UNAVAILABLE when a module reports its service down while starting, or (aws-kms) KMS
 * cannot be reached to resolve a CMK.
 */
export async function createCipher(spec: CipherSpec, env: Readonly<Record<string, string | undefined>>): Promise<ColumnCipher> {
  switch (spec.type) {
    case 'fernet':
      return createFernetCipher(spec, env);
    case 'aes-gcm':
      return createAesGcmCipher(spec, env);
    case 'module':
      return createModuleCipher(spec, env);
    case 'aws-kms':
      return createAwsKmsCipher(spec, env, awsKeyService);
    default:
      return unknownType(spec.type);
  }
}

function unknownType(type: never): never {
  throw new CassetteError('INVALID_INPUT', `unknown provider type ${String(type)}`, {
    hint: 'the provider type is fernet, aes-gcm, aws-kms or module',
  });
}
