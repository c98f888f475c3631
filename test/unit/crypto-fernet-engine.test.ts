import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FernetEngine } from '../../src/crypto/fernet-engine.js';

/** The engine must give exactly what node:crypto's one-object-per-value API gives. */
describe('FernetEngine', () => {
  const signingKey = randomBytes(16);
  const encryptionKey = randomBytes(16);
  const engine = new FernetEngine(signingKey, encryptionKey);

  it('HMAC-SHA256 equals createHmac for messages of every length up to 1 KiB (and a buffer grown past it)', () => {
    for (const length of [...Array.from({ length: 300 }, (_, i) => i), 1024, 5000, 70]) {
      const message = randomBytes(length);
      expect(engine.hmac(message).equals(createHmac('sha256', signingKey).update(message).digest())).toBe(true);
      expect(engine.verify(message, createHmac('sha256', signingKey).update(message).digest())).toBe(true);
    }
  });

  it('verify refuses a wrong or short MAC', () => {
    const message = randomBytes(40);
    const mac = createHmac('sha256', signingKey).update(message).digest();
    mac[5] = (mac[5] as number) ^ 1;
    expect(engine.verify(message, mac)).toBe(false);
    expect(engine.verify(message, mac.subarray(0, 31))).toBe(false);
  });

  it('AES-128-CBC with PKCS7 equals createCipheriv, and decrypts back, for plaintexts of 0 to 100 bytes', () => {
    for (let length = 0; length <= 100; length++) {
      const plaintext = randomBytes(length);
      const iv = randomBytes(16);
      const reference = createCipheriv('aes-128-cbc', encryptionKey, iv);
      const expected = Buffer.concat([reference.update(plaintext), reference.final()]);
      const ciphertext = engine.encrypt(plaintext, iv);
      expect(ciphertext.equals(expected)).toBe(true);
      expect(engine.decrypt(ciphertext, iv)?.equals(plaintext)).toBe(true);
    }
  });

  it('decrypt returns undefined exactly where createDecipheriv refuses the padding', () => {
    let refused = 0;
    for (let i = 0; i < 2000; i++) {
      const ciphertext = randomBytes(16 * (1 + (i % 3)));
      const iv = randomBytes(16);
      let expected: Buffer | undefined;
      try {
        const reference = createDecipheriv('aes-128-cbc', encryptionKey, iv);
        expected = Buffer.concat([reference.update(ciphertext), reference.final()]);
      } catch {
        expected = undefined;
      }
      const actual = engine.decrypt(ciphertext, iv);
      if (expected === undefined) refused++;
      expect(actual === undefined ? undefined : Buffer.from(actual).toString('hex')).toBe(expected?.toString('hex'));
    }
    expect(refused).toBeGreaterThan(1000);
  });

  it('refuses ciphertext that is not whole blocks', () => {
    expect(engine.decrypt(Buffer.alloc(0), randomBytes(16))).toBeUndefined();
    expect(engine.decrypt(randomBytes(17), randomBytes(16))).toBeUndefined();
  });
});
