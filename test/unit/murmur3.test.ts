import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { murmur3Token, partitionKeyBytes } from '../../src/cassandra/ring/murmur3.js';
import { MAX_TOKEN, MIN_TOKEN } from '../../src/cassandra/ring/token-ranges.js';

// The driver's own Murmur3 tokenizer (lib/tokenizer.js, not in its public typings) as a reference.
interface DriverTokenizer {
  hash(key: Buffer): { toString(): string };
}
const require = createRequire(import.meta.url);
const { Murmur3Tokenizer } = require('cassandra-driver/lib/tokenizer.js') as { Murmur3Tokenizer: new () => DriverTokenizer };
const driver = new Murmur3Tokenizer();

describe('murmur3Token', () => {
  it('agrees with cassandra-driver’s Murmur3Tokenizer on any bytes (all block and tail lengths, high bytes)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const key = Buffer.from(bytes);
        const expected = BigInt(driver.hash(key).toString());
        // The driver skips Cassandra's normalize step; it matters only for a hash of −2^63.
        expect(murmur3Token(key)).toBe(expected === MIN_TOKEN ? MAX_TOKEN : expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('is in (MIN_TOKEN, MAX_TOKEN]', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const t = murmur3Token(Buffer.from(bytes));
        expect(t > MIN_TOKEN && t <= MAX_TOKEN).toBe(true);
      }),
    );
  });
});

describe('partitionKeyBytes', () => {
  it('is the value itself for one column and CompositeType for several', () => {
    const a = Buffer.from([0, 0, 0, 7]);
    const b = Buffer.from('hé', 'utf8');
    expect(partitionKeyBytes([a])).toEqual(a);
    expect(partitionKeyBytes([a, b])).toEqual(Buffer.from([0, 4, 0, 0, 0, 7, 0, 0, 3, 0x68, 0xc3, 0xa9, 0]));
  });
});
