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
