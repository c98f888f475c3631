/**
 * The transform's CPU-bound work behind a small port: `ChunkTransformer` runs one chunk task.
 * `inProcessTransformer` runs it on the calling thread (tests, `--threads 1`);
 * `workerTransformer` (worker-pool.ts) runs it on a pool of worker threads.
 */
import type { ColumnCipher } from '../../crypto/cipher.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { transformChunk, type ChunkTransformResult, type ChunkTransformTask } from './transform-chunk.js';

export interface ChunkTransformer {
  /** Threads (or 1) working at once; callers keep this many tasks in flight. */
  readonly concurrency: number;
  run(task: ChunkTransformTask, signal: AbortSignal): Promise<ChunkTransformResult>;
  close(): Promise<void>;
}

export function inProcessTransformer(store: BlobStore, cipher: ColumnCipher): ChunkTransformer {
  return {
    concurrency: 1,
    run: (task, signal) => transformChunk(task, { store, cipher, signal }),
    close: () => Promise.resolve(),
  };
}
