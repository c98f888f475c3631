/**
 * Request timers for the metrics: a session and a store that behave like the ones they wrap and
 * report how long each request took. Results and errors pass through unchanged; a failed request
 * is timed too (a timeout is a latency worth seeing).
 */
import type { CqlWriteSession } from '../../cassandra/connection/session.js';
import { latencyKindOf } from '../../pipeline/rotate/measured-session.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { RequestOp } from './metrics.js';

/** Where a timed request's duration goes (seconds). */
export type RecordRequest = (op: RequestOp, seconds: number) => void;

/**
 * Returns the request's own promise (no async wrapper: one request per row batch of a restore, so
 * the timer adds a callback, not a promise and a tick, to the caller's await).
 */
function timed<T>(op: RequestOp, record: RecordRequest, request: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const done = (): void => record(op, (performance.now() - started) / 1000);
  const pending = request();
  pending.then(done, done);
  return pending;
}

/** `session` with every request timed: a SELECT as `read`, any other statement and every batch as `write`. */
export function timedSession(session: CqlWriteSession, record: RecordRequest): CqlWriteSession {
  return {
    execute: (cql, params, options) => timed(latencyKindOf(cql), record, () => session.execute(cql, params, options)),
    batch: (statements, options) => timed('write', record, () => session.batch(statements, options)),
  };
}

/** `store` with every put timed as `store` (until the body is stored); other operations pass through. */
export function timedStore(store: BlobStore, record: RecordRequest): BlobStore {
  return {
    get description() { return store.description; },
    put: (key, body, options) => timed('store', record, () => store.put(key, body, options)),
    get: (key) => store.get(key),
    head: (key) => store.head(key),
    list: (prefix) => store.list(prefix),
    delete: (key) => store.delete(key),
  };
}
