/**
 * A toy ColumnCipher for unit tests: a value is one version byte followed by the plaintext.
 * Version 1 and 0 are old keys, 2 the new one; anything else opens under no key. `failWith`
 * makes every open reject (a provider outage).
 */
import type { ColumnCipher, Opened } from '../../../src/crypto/cipher.js';

export function fakeCipher(options: { textEncoding?: 'utf8' | 'base64'; failWith?: Error } = {}): ColumnCipher & { opened: number; sealed: number } {
  const cipher = {
    type: 'module' as const,
    newKeyVersion: '2',
    oldKeyVersions: ['1', '0'],
    textEncoding: options.textEncoding ?? 'base64',
    opened: 0,
    sealed: 0,
    open(ciphertext: Buffer): Opened | undefined {
      if (options.failWith !== undefined) throw options.failWith;
      cipher.opened++;
      const version = ciphertext[0];
      if (version !== 0 && version !== 1 && version !== 2) return undefined;
      return { plaintext: Buffer.from(ciphertext.subarray(1)), keyVersion: String(version), current: version === 2 };
    },
    seal(plaintext: Buffer): Buffer {
      cipher.sealed++;
      return Buffer.concat([Buffer.from([2]), plaintext]);
    },
  };
  return cipher;
}

/** The stored (base64) form of `plaintext` sealed under key `version` by {@link fakeCipher}. */
export function fakeSealed(version: number, plaintext: string): string {
  return Buffer.concat([Buffer.from([version]), Buffer.from(plaintext, 'utf8')]).toString('base64');
}
