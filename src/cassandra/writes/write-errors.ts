/** Which write failures are worth retrying: the cluster was busy or slow, not the request wrong. */
import cassandra from 'cassandra-driver';

const { responseErrorCodes } = cassandra.types;
const TRANSIENT: ReadonlySet<number> = new Set([
  responseErrorCodes.unavailableException,
  responseErrorCodes.overloaded,
  responseErrorCodes.isBootstrapping,
  responseErrorCodes.writeTimeout,
  responseErrorCodes.readTimeout,
  responseErrorCodes.serverError,
]);

/** True for timeouts, unavailable/overloaded replicas and lost connections; false for invalid requests. */
export function isTransientWriteError(err: unknown): boolean {
  if (err instanceof cassandra.errors.ResponseError) return TRANSIENT.has(err.code);
  return err instanceof cassandra.errors.OperationTimedOutError || err instanceof cassandra.errors.NoHostAvailableError
    || (err instanceof Error && /ECONNRESET|EPIPE|socket|connection/i.test(err.message));
}

/** The first line of an error's message, for reports and rejects files. */
export function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}

/**
 * True only when no node can have received the request: the driver found no host to send it to,
 * or every host it tried refused the connection. A request that reached a node and then timed out
 * or lost its connection may have been applied, so it is not "never sent" — a counter increment
 * retried after that could be added twice.
 */
export function wasNeverSent(err: unknown): boolean {
  if (!(err instanceof cassandra.errors.NoHostAvailableError)) return false;
  const inner = Object.values((err.innerErrors ?? {}) as Record<string, unknown>);
  return inner.every((e) => e instanceof cassandra.errors.BusyConnectionError
    || (typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'ECONNREFUSED')
    || (e instanceof Error && /ECONNREFUSED/.test(e.message)));
}

/** The driver found no node to take the request (every one it tried failed, or all are down). */
export function isNoHostAvailable(err: unknown): boolean {
  return err instanceof cassandra.errors.NoHostAvailableError;
}
