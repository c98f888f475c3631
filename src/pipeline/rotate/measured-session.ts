/**
 * Wraps the session an online `rotate` uses so that every request's latency lands in a
 * LatencyWindow: `execute` of a SELECT counts as a read, any other `execute` and every `batch` as
 * a write. Failed requests are recorded too — a timeout is exactly the latency backpressure must
 * see. Results and errors pass through unchanged.
 */
import type { CqlWriteSession } from '../../cassandra/connection/session.js';
import type { LatencyKind, LatencyWindow } from './latency.js';

const SELECT = /^\s*select\b/i;

/** The kind of request a CQL statement is: a read when it starts with SELECT, else a write. */
export function latencyKindOf(cql: string): LatencyKind {
  return SELECT.test(cql) ? 'read' : 'write';
}

/**
 * A session that behaves like `session` and records each request's latency in `window`.
 * `clock` measures durations (default performance.now, monotonic; tests pass a fake).
 */
export function measuredSession(
  session: CqlWriteSession,
  window: LatencyWindow,
  clock: () => number = () => performance.now(),
): CqlWriteSession {
  async function timed<T>(kind: LatencyKind, request: () => Promise<T>): Promise<T> {
    const started = clock();
    try {
      return await request();
    } finally {
      window.record(kind, clock() - started);
    }
  }
  return {
    execute: (cql, params, options) => timed(latencyKindOf(cql), () => session.execute(cql, params, options)),
    batch: (statements, options) => timed('write', () => session.batch(statements, options)),
  };
}
