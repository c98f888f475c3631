/**
 * The worker-thread side of worker-pool.ts: one repository client and one cipher per thread,
 * built on first use from workerData, then one chunk per task.
 */
import { workerData } from 'node:worker_threads';
import { CassetteError } from '../../errors.js';
import { isRepositoryOutage } from '../../storage/blob-store.js';
import { createCipher } from '../../crypto/registry.js';
import type { ColumnCipher } from '../../crypto/cipher.js';
import { openStore } from '../../storage/open-store.js';
import { SealedStore } from '../../manifest/sealed-store.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { transformChunk, type ChunkTransformResult, type ChunkTransformTask } from './transform-chunk.js';
import type { WorkerOutcome, WorkerSetup } from './worker-pool.js';

const setup = workerData as WorkerSetup;
let ready: Promise<{ store: BlobStore; cipher: ColumnCipher }> | undefined;

function prepare(): Promise<{ store: BlobStore; cipher: ColumnCipher }> {
  ready ??= (async () => ({
    store: new SealedStore(openStore(setup.repositoryUrl, setup.storeOptions), setup.sealing ?? {}),
    cipher: await createCipher(setup.cipher, process.env),
  }))();
  return ready;
}

/** Errors cross the thread boundary as data: a structured clone would drop a CassetteError's code and hint. */
export default async function run(task: ChunkTransformTask): Promise<WorkerOutcome> {
  try {
    const { store, cipher } = await prepare();
    const result: ChunkTransformResult = await transformChunk(task, { store, cipher });
    return { ok: true, result };
  } catch (err) {
    if (err instanceof CassetteError) {
      return { ok: false, error: { code: err.code, message: err.message, ...(err.hint === undefined ? {} : { hint: err.hint }), ...(isRepositoryOutage(err) ? { transient: true } : {}) } };
    }
    throw err;
  }
}
