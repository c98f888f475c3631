/**
 * Cassandra's Murmur3Partitioner token of a partition key, computed client-side: the first 64 bits
 * of MurmurHash3 x64/128 with seed 0, as Cassandra implements it (`MurmurHash.hash3_x64_128`, whose
 * tail bytes are sign-extended, unlike the reference algorithm), then `normalize` (−2^63 becomes
 * 2^63−1). Pure bigint arithmetic; used to place keys in ranges without asking the cluster.
 */

const MASK = (1n << 64n) - 1n;
const C1 = 0x87c37b91114253d5n;
const C2 = 0x4cf5ad432745937fn;
const MIN = -(2n ** 63n);
const MAX = 2n ** 63n - 1n;

const mul = (a: bigint, b: bigint): bigint => (a * b) & MASK;
const add = (a: bigint, b: bigint): bigint => (a + b) & MASK;
const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & MASK;

function fmix(k: bigint): bigint {
  k ^= k >> 33n;
  k = mul(k, 0xff51afd7ed558ccdn);
  k ^= k >> 33n;
  k = mul(k, 0xc4ceb9fe1a85ec53n);
  return k ^ (k >> 33n);
}

/** Cassandra widens a tail byte as a signed Java byte before shifting it into place. */
const tailByte = (key: Buffer, index: number, shift: bigint): bigint => BigInt.asUintN(64, BigInt(key.readInt8(index)) << shift);

/**
 * The Murmur3 token of a serialized partition key (for a single-column key, the column's value bytes;
 * for a composite key, {@link partitionKeyBytes}). Always in (−2^63, 2^63−1].
 */
export function murmur3Token(key: Buffer): bigint {
  const blocks = key.length >> 4;
  let h1 = 0n;
  let h2 = 0n;
  for (let i = 0; i < blocks; i++) {
    let k1 = key.readBigUInt64LE(i * 16);
    let k2 = key.readBigUInt64LE(i * 16 + 8);
    k1 = mul(rotl(mul(k1, C1), 31n), C2);
    h1 ^= k1;
    h1 = add(mul(add(rotl(h1, 27n), h2), 5n), 0x52dce729n);
    k2 = mul(rotl(mul(k2, C2), 33n), C1);
    h2 ^= k2;
    h2 = add(mul(add(rotl(h2, 31n), h1), 5n), 0x38495ab5n);
  }
  const tail = blocks * 16;
  const rest = key.length & 15;
  let k1 = 0n;
  let k2 = 0n;
  for (let i = rest - 1; i >= 8; i--) k2 ^= tailByte(key, tail + i, BigInt((i - 8) * 8));
  if (rest > 8) h2 ^= mul(rotl(mul(k2, C2), 33n), C1);
  for (let i = Math.min(rest, 8) - 1; i >= 0; i--) k1 ^= tailByte(key, tail + i, BigInt(i * 8));
  if (rest > 0) h1 ^= mul(rotl(mul(k1, C1), 31n), C2);

  const length = BigInt(key.length);
  h1 ^= length;
  h2 ^= length;
  h1 = add(h1, h2);
  h2 = add(h2, h1);
  h1 = fmix(h1);
  h2 = fmix(h2);
  h1 = add(h1, h2);
  const token = BigInt.asIntN(64, h1);
  return token === MIN ? MAX : token;
}

/**
 * The bytes Cassandra hashes for a partition key given each column's serialized value, in partition
 * key order: the value itself for one column; otherwise CompositeType — per component a 2-byte
 * big-endian length, the bytes, and a 0 end-of-component byte.
 */
export function partitionKeyBytes(components: readonly Buffer[]): Buffer {
  if (components.length === 1 && components[0] !== undefined) return components[0];
  const parts: Buffer[] = [];
  for (const component of components) {
    const length = Buffer.alloc(2);
    length.writeUInt16BE(component.length);
    parts.push(length, component, Buffer.of(0));
  }
  return Buffer.concat(parts);
}
