/**
 * Fernet's primitives for one key, set up once and reused for every value (fernet.ts): measured
 * per value, creating a node:crypto Hmac, Cipheriv or Decipheriv object costs more than the work
 * it does on a short column value (docs/benchmarks.md, "Rekey transform").
 *
 * - HMAC-SHA256 from the key's precomputed inner and outer pads (RFC 2104: H(K⊕opad ‖ H(K⊕ipad ‖ m)))
 *   with the one-shot `crypto.hash`, the message copied behind the inner pad in a reused buffer.
 * - AES-128-CBC on one long-lived AES-128-ECB cipher and decipher without padding: decryption
 *   deciphers all blocks in one call and XORs each with the previous ciphertext block (the IV for
 *   the first); encryption chains block by block. PKCS7 padding is added and checked here.
 *
 * The result is byte-identical to createHmac / createCipheriv('aes-128-cbc'); known-answer and
 * cross-checks are in test/unit/crypto-fernet-engine.test.ts. Not thread-safe across workers:
 * each cipher instance (one per worker thread) has its own engines.
 */
import { createCipheriv, createDecipheriv, hash, timingSafeEqual, type Cipher, type Decipher } from 'node:crypto';

const BLOCK = 16;
const SHA256_BLOCK = 64;
const SHA256_BYTES = 32;

export class FernetEngine {
  readonly #outer = Buffer.alloc(SHA256_BLOCK + SHA256_BYTES);
  readonly #innerPad = Buffer.alloc(SHA256_BLOCK);
  #inner = Buffer.alloc(SHA256_BLOCK + 256);
  readonly #encrypt: Cipher;
  readonly #decrypt: Decipher;
  readonly #block = Buffer.alloc(BLOCK);

  /** `signingKey` and `encryptionKey`: the two 16-byte halves of a Fernet key. */
  constructor(signingKey: Buffer, encryptionKey: Buffer) {
    if (signingKey.length > SHA256_BLOCK) throw new RangeError('FernetEngine: signing key longer than a SHA-256 block');
    this.#innerPad.fill(0x36);
    this.#outer.fill(0x5c, 0, SHA256_BLOCK);
    for (let i = 0; i < signingKey.length; i++) {
      const byte = signingKey[i] as number;
      this.#innerPad[i] = 0x36 ^ byte;
      this.#outer[i] = 0x5c ^ byte;
    }
    this.#innerPad.copy(this.#inner);
    this.#encrypt = createCipheriv('aes-128-ecb', encryptionKey, null).setAutoPadding(false);
    this.#decrypt = createDecipheriv('aes-128-ecb', encryptionKey, null).setAutoPadding(false);
  }

  /** HMAC-SHA256 of `message` under the signing key. */
  hmac(message: Buffer): Buffer {
    const needed = SHA256_BLOCK + message.length;
    if (needed > this.#inner.length) {
      this.#inner = Buffer.alloc(Math.max(needed, this.#inner.length * 2));
      this.#innerPad.copy(this.#inner);
    }
    message.copy(this.#inner, SHA256_BLOCK);
    const inner = hash('sha256', this.#inner.subarray(0, needed), 'buffer');
    inner.copy(this.#outer, SHA256_BLOCK);
    return hash('sha256', this.#outer, 'buffer');
  }

  /** Whether `mac` is the HMAC of `message`, compared in constant time. */
  verify(message: Buffer, mac: Buffer): boolean {
    return mac.length === SHA256_BYTES && timingSafeEqual(this.hmac(message), mac);
  }

  /** AES-128-CBC with PKCS7 padding of `plaintext` under `iv` (16 bytes). */
  encrypt(plaintext: Buffer, iv: Buffer): Buffer {
    const pad = BLOCK - (plaintext.length % BLOCK);
    const length = plaintext.length + pad;
    const out = Buffer.allocUnsafe(length);
    const block = this.#block;
    let previous: Buffer = iv;
    let previousAt = 0;
    for (let at = 0; at < length; at += BLOCK) {
      for (let j = 0; j < BLOCK; j++) {
        const i = at + j;
        block[j] = (i < plaintext.length ? (plaintext[i] as number) : pad) ^ (previous[previousAt + j] as number);
      }
      const cipherBlock = this.#encrypt.update(block);
      cipherBlock.copy(out, at);
      previous = out;
      previousAt = at;
    }
    return out;
  }

  /**
   * The plaintext of AES-128-CBC `ciphertext` (whole blocks) under `iv`, or undefined when its
   * PKCS7 padding is wrong (as createDecipheriv's final() would throw).
   */
  decrypt(ciphertext: Buffer, iv: Buffer): Buffer | undefined {
    if (ciphertext.length === 0 || ciphertext.length % BLOCK !== 0) return undefined;
    const plain = this.#decrypt.update(ciphertext);
    for (let j = 0; j < BLOCK; j++) plain[j] = (plain[j] as number) ^ (iv[j] as number);
    for (let i = BLOCK; i < plain.length; i++) plain[i] = (plain[i] as number) ^ (ciphertext[i - BLOCK] as number);
    const pad = plain[plain.length - 1] as number;
    if (pad < 1 || pad > BLOCK) return undefined;
    for (let i = plain.length - pad; i < plain.length; i++) if (plain[i] !== pad) return undefined;
    return plain.subarray(0, plain.length - pad);
  }
}
