/**
 * Runs chunk transforms on worker threads (piscina): re-encryption is CPU-bound, so one thread per
 * core. Each worker opens its own repository client and builds its own cipher from the plain-data
 * CipherSpec (keys are read from the environment or key files inside the worker; they are never
 * sent as task data, logged, or written anywhere).
 */
import { Piscina } from 'piscina';
import type { SealingOptions } from '../../manifest/sealed-store.js';
import type { CipherSpec } from '../../crypto/cipher.js';
import { CassetteError, type ErrorCode } from '../../errors.js';
import { RepositoryOutageError } from '../../storage/blob-store.js';
import type { OpenStoreOptions } from '../../storage/open-store.js';
import type { ChunkTransformer } from './transformer.js';
import type { ChunkTransformResult, ChunkTransformTask } from './transform-chunk.js';

/** What every worker needs to open the repository and build the cipher. */
export interface WorkerSetup {
  readonly repositoryUrl: string;
  readonly storeOptions: OpenStoreOptions;
  readonly cipher: CipherSpec;
  /** age keys for encrypted backups (the thread opens its store through a SealedStore). */
  readonly sealing?: SealingOptions;
}

/** What a worker returns for one task. */
export type WorkerOutcome =
  | { readonly ok: true; readonly result: ChunkTransformResult }
  | { readonly ok: false; readonly error: { readonly code: ErrorCode; readonly message: string; readonly hint?: string; readonly transient?: boolean } };

/** Heap per worker: a chunk streams through, so a worker holds about one page of rows. */
const WORKER_HEAP_MB = 256;

export function workerTransformer(setup: WorkerSetup, threads: number): ChunkTransformer {
  const pool = new Piscina<ChunkTransformTask, WorkerOutcome>({
    filename: new URL('./transform-worker.js', import.meta.url).href,
    workerData: setup,
    minThreads: threads,
    maxThreads: threads,
    // One task per thread at a time: a task is a whole chunk, and the caller bounds tasks in flight.
    concurrentTasksPerWorker: 1,
    idleTimeout: 60_000,
    resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
  });
  return {
    concurrency: threads,
    run: async (task, signal) => {
      const outcome = await pool.run(task, { signal });
      if (outcome.ok) return outcome.result;
      const { code, message, hint, transient } = outcome.error;
      // A repository outage stays one across the thread boundary, so the caller retries the chunk.
      if (transient === true) throw new RepositoryOutageError(message, hint === undefined ? {} : { hint });
      throw new CassetteError(code, message, hint === undefined ? {} : { hint });
    },
    close: () => pool.destroy(),
  };
}
