/**
 * The key-service port: what the `aws-kms` provider needs from a KMS, in our terms. A data key is
 * an AES-256 key the service generates under a master key (CMK) and returns twice: in the clear,
 * and wrapped (encrypted under the CMK) for storing next to the values it seals. The adapter
 * (aws-kms-client.ts) speaks AWS KMS; unit tests use fakes that inject faults.
 *
 * Errors: the service being unreachable, throttling past its retries, or refusing a call it should
 * allow (access denied, a disabled key) rejects with a CassetteError (PROVIDER_UNAVAILABLE) whose
 * message names the CMK and the call, never a key or a value. A wrapped key the service cannot
 * open (not a KMS ciphertext, a CMK it does not know) is not an error: `unwrap` resolves undefined.
 */

import type { KmsCalls } from '../cipher.js';

/** A data key as the service returns it. The caller owns `plaintext` and zeroes it when done. */
export interface DataKey {
  readonly plaintext: Buffer;
  readonly wrapped: Buffer;
  /** The ARN of the CMK that wrapped it. */
  readonly cmkArn: string;
}

/** An unwrapped data key: its bytes (owned by the caller) and the ARN of the CMK that had wrapped it. */
export interface UnwrappedKey {
  readonly plaintext: Buffer;
  readonly cmkArn: string;
}

export interface KeyService {
  /** The ARN of a CMK named by key id, key ARN, alias name (`alias/x`) or alias ARN. Rejects INVALID_INPUT when it does not exist. */
  resolve(cmk: string): Promise<string>;
  /** A fresh AES-256 data key wrapped under `cmk`. */
  generateDataKey(cmk: string): Promise<DataKey>;
  /** Opens a wrapped data key; undefined when the service cannot (not its ciphertext). */
  unwrap(wrapped: Buffer): Promise<UnwrappedKey | undefined>;
  /** The number of calls made so far, by operation (for reports and benchmarks). */
  readonly calls: KmsCalls & { readonly describeKey: number };
  /** Releases connections. */
  close(): void;
}

/** Where the service is and who calls it: from the config and the environment the cipher was given. */
export interface KeyServiceSettings {
  readonly region: string;
  /** The service's URL; the SDK's default (the region's public endpoint) when absent. */
  readonly endpoint?: string;
  /** Explicit credentials; the SDK's default chain (environment, profile, instance role) when absent. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
}

/** Builds a key service (the composition root passes the AWS adapter; tests pass fakes). */
export type KeyServiceFactory = (settings: KeyServiceSettings) => KeyService;
