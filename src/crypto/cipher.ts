/**
 * The column-cipher port: how a rotation opens a stored encrypted value with any of the keys it
 * was given and seals it again under the new key. Providers (fernet, aes-gcm, a user's module)
 * implement it; `createCipher` (registry.ts) picks one by name. Nothing here logs, and no error
 * raised by a provider carries key material or plaintext. Operator-facing description, byte
 * layouts and the module contract: docs/config.md, "Crypto providers".
 */

/** Where a key comes from. Never a literal value: keys are not accepted on flags or in config files. */
export type KeySource =
  /** The named environment variable holds the key (provider-specific text form). */
  | { readonly env: string }
  /** The file holds the key (its content, trailing newline removed). */
  | { readonly file: string };

/** One key a provider can use. */
export interface KeySpec {
  readonly source: KeySource;
  /**
   * The key's version as the rotation records it (what the key-version column is set to, and
   * what `IF key_version = …` compares). When absent the provider derives one (docs/config.md).
   */
  readonly version?: string;
  /** aes-gcm with key-id prefixes: the 32-bit key id written in the 5-byte prefix. */
  readonly id?: number;
}

/** The provider part of a rotation config, normalized (src/config/rotation-config.ts). */
export interface CipherSpec {
  readonly type: 'fernet' | 'aes-gcm' | 'module' | 'aws-kms';
  /** The key every value is re-encrypted under. Required by fernet and aes-gcm; optional for a module that manages its own keys. */
  readonly newKey?: KeySpec;
  /** Keys values may currently be encrypted under, in trial order (fernet/aes-gcm: at least one; module: may be empty). */
  readonly oldKeys: readonly KeySpec[];
  /** `module`: path of the user's ES module (absolute, or relative to the config file's folder, already resolved). */
  readonly module?: string;
  /** Provider options as written in the config (aes-gcm: `associated_data`, `key_id_prefix`; aws-kms: `data_key_reuse`, `data_key_cache`; module: anything). */
  readonly options: Readonly<Record<string, unknown>>;
  /** aws-kms: the master keys (CMKs) in KMS, in place of `newKey` and `oldKeys`. */
  readonly kms?: KmsSpec;
}

/** A CMK as the config names it (key ARN, key id, alias name or alias ARN) and the version its values carry. */
export interface KmsKeySpec {
  readonly cmk: string;
  readonly version: string;
}

/** The aws-kms provider's keys: new values get data keys from `newCmk`; values under any of the CMKs open. */
export interface KmsSpec {
  readonly newCmk: KmsKeySpec;
  readonly oldCmks: readonly KmsKeySpec[];
  /** The AWS region; else AWS_REGION, AWS_DEFAULT_REGION, or the region of a CMK given as an ARN. */
  readonly region?: string;
}

/** KMS calls by operation (aws-kms), for reports. */
export interface KmsCalls {
  readonly generateDataKey: number;
  readonly decrypt: number;
}

/** One check a provider makes of its own keys for `cassette doctor` (a KMS round trip per CMK). */
export interface ProviderCheck {
  /** Stable identifier, such as `kms.new_cmk`. */
  readonly id: string;
  readonly status: 'ok' | 'warn' | 'fail';
  /** One line; never key material. */
  readonly message: string;
  readonly hint?: string;
  /** On a failure: INVALID_INPUT or PROVIDER_UNAVAILABLE. */
  readonly code?: 'INVALID_INPUT' | 'PROVIDER_UNAVAILABLE';
}

/** Where a value lives; aes-gcm can bind it as associated data. */
export interface CipherContext {
  readonly keyspace: string;
  readonly table: string;
  readonly column: string;
}

/** A stored value opened by one of the keys. */
export interface Opened {
  /** A buffer of its own that the caller owns: it may zero it once the value is sealed again. */
  readonly plaintext: Buffer;
  /** The version of the key that opened it. */
  readonly keyVersion: string;
  /** True when that key is the new key: the value is already rotated. */
  readonly current: boolean;
}

export interface ColumnCipher {
  /** `fernet`, `aes-gcm`, `aws-kms` or `module`. */
  readonly type: CipherSpec['type'];
  /** The version new values are sealed under. */
  readonly newKeyVersion: string;
  /** The versions of the old keys, in trial order. */
  readonly oldKeyVersions: readonly string[];
  /**
   * How a text column holds the ciphertext bytes: `utf8` (a Fernet token is ASCII text) or
   * `base64` (binary layouts). Blob columns hold the bytes themselves.
   */
  readonly textEncoding: 'utf8' | 'base64';
  /**
   * Opens a stored value; resolves undefined when no key opens it (wrong key, corrupt value).
   * Never rejects for bad ciphertext; rejects only when the provider itself fails (a module
   * provider's service is down), with a message that contains no key or value.
   */
  open(ciphertext: Buffer, context: CipherContext): Opened | undefined | Promise<Opened | undefined>;
  /**
   * Encrypts under the new key (a fresh random IV/nonce per call, so sealing is not
   * deterministic). Built-in providers never reject; a module provider rejects with
   * PROVIDER_UNAVAILABLE when its encrypt fails.
   */
  seal(plaintext: Buffer, context: CipherContext): Buffer | Promise<Buffer>;
  /**
   * Values worth opening and sealing at once (aws-kms: 64, so KMS calls overlap); 1 when absent —
   * local ciphers gain nothing from it.
   */
  readonly parallelism?: number;
  /** Checks of the provider's own keys beyond a seal/open round trip (aws-kms: each CMK); absent for local keys. */
  check?(): Promise<readonly ProviderCheck[]>;
  /** KMS calls made so far (aws-kms), for reports. */
  readonly kmsCalls?: () => KmsCalls;
  /** Releases what the provider holds (connections, cached data keys). Optional; idempotent. */
  close?(): void;
}
