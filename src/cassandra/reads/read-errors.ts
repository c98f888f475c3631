/** Which read failures no retry can fix: the cluster refused the query itself, not its load. */
import cassandra from 'cassandra-driver';

const { responseErrorCodes } = cassandra.types;
const PERMANENT: ReadonlySet<number> = new Set([
  responseErrorCodes.syntaxError,
  responseErrorCodes.invalid,
  responseErrorCodes.unauthorized,
  responseErrorCodes.configError,
]);

/**
 * True when the cluster answered that the statement is invalid, unauthorized or badly configured
 * (e.g. Cassandra 4.x refusing WRITETIME of a non-frozen collection): re-reading cannot help.
 */
export function isPermanentReadError(err: unknown): boolean {
  return err instanceof cassandra.errors.ResponseError && PERMANENT.has(err.code);
}
