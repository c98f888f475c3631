/** Which write failures are worth retrying: the cluster was busy or slow, not the request wrong. */
import cassandra from 'cassandra-driver';
import { CassetteError } from '../../errors.js';

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
 * Cassandra's Unavailable answer — fewer live replicas than the consistency level needs (`Not
 * enough replicas available for query at consistency EACH_QUORUM (1 required but only 0 alive)`)
 * — as a CLUSTER_UNAVAILABLE error (exit 4); undefined for any other error. It is the cluster, not
 * the row: once retries are spent, a load stops with it rather than rejecting row after row.
 */
export function unmetConsistency(err: unknown): CassetteError | undefined {
  if (err instanceof cassandra.errors.NoHostAvailableError) {
    // Every host tried answered Unavailable (a request pinned to one host ends this way too).
    const inner = Object.values(err.innerErrors as Record<string, unknown>).map(unmetConsistency);
    return inner.length > 0 && inner.every((e) => e !== undefined) ? inner[0] : undefined;
  }
  if (!(err instanceof cassandra.errors.ResponseError) || err.code !== cassandra.types.responseErrorCodes.unavailableException) return undefined;
  const detail = err as unknown as { consistencies?: number; required?: number; alive?: number };
  const names = (cassandra.types as unknown as { consistencyToString: Readonly<Record<number, string | undefined>> }).consistencyToString;
  const level = detail.consistencies === undefined ? 'the requested level' : (names[detail.consistencies] ?? String(detail.consistencies));
  const counts = detail.required === undefined ? '' : `: ${detail.required} needed, ${detail.alive ?? 0} alive`;
  const serial = level === 'SERIAL' || level === 'LOCAL_SERIAL';
  return new CassetteError('CLUSTER_UNAVAILABLE', `too few live replicas for consistency ${level}${counts}`, {
    hint: `bring the down replicas back (nodetool status), or choose a level the live ones can meet (${serial ? '--serial-consistency LOCAL_SERIAL' : '--consistency'})`,
    cause: err,
  });
}
