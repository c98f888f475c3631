/**
 * Random IVs and nonces drawn from a buffer refilled by the CSPRNG 4 KiB at a time: one
 * `randomBytes` call per value costs more than the encryption of a short column value. Each byte
 * is handed out once; IVs and nonces are public, so keeping the pool in memory reveals nothing.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;

/** A function returning `size` fresh random bytes per call, as a new Buffer. One per cipher. */
export function randomSource(size: number): () => Buffer {
  const pool = Buffer.alloc(POOL_BYTES);
  let offset = POOL_BYTES;
  return () => {
    if (offset + size > POOL_BYTES) {
      randomFillSync(pool);
      offset = 0;
    }
    const bytes = Buffer.from(pool.subarray(offset, offset + size));
    offset += size;
    return bytes;
  };
}
