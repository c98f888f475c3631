/**
 * The cassandra-driver adapter: builds and connects a Client from ConnectionOptions and exposes it
 * as the CqlSession port. Connection failures become CLUSTER_UNAVAILABLE with a hint; nothing
 * here logs secrets.
 */
import { readFileSync } from 'node:fs';
import cassandra from 'cassandra-driver';
import { CassetteError } from '../../errors.js';
import { CONSISTENCY_NAMES, DEFAULT_SERIAL_CONSISTENCY, SERIAL_CONSISTENCY_NAMES, type ConnectionOptions, type ConsistencyLevels } from './options.js';
import { SYSTEM_READ, type BatchStatement, type CqlWriteSession, type QueryOptions, type QueryResult } from './session.js';
import { installNullListElementFix } from '../values/driver-list-decoding.js';
import { DRIVER_ENCODING } from '../values/value-codec.js';

/** A connected cluster: the session port plus the driver client for metadata-level adapters. */
export interface Connection {
  readonly session: CqlWriteSession;
  readonly client: cassandra.Client;
  /** The consistency level's driver code. */
  readonly consistency: number;
  /** The serial consistency level's driver code (LWT). */
  readonly serialConsistency: number;
  /** Both levels by name, for reports. */
  readonly levels: ConsistencyLevels;
  readonly dc: string;
  close(): Promise<void>;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CassetteError('INVALID_INPUT', `cannot read the ${what} file ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Driver code for a consistency level of reads and writes (CONSISTENCY_NAMES, any case);
 * INVALID_INPUT for anything else — SERIAL and LOCAL_SERIAL included: they are serial levels.
 */
export function consistencyCode(name: string): number {
  const upper = name.toUpperCase();
  if (!(CONSISTENCY_NAMES as readonly string[]).includes(upper)) {
    const serial = (SERIAL_CONSISTENCY_NAMES as readonly string[]).includes(upper);
    throw new CassetteError('INVALID_INPUT', `unknown consistency level "${name}"`, {
      hint: serial ? `${upper} is a serial consistency level: set it with --serial-consistency` : `use one of ${CONSISTENCY_NAMES.join(', ')}`,
    });
  }
  return driverCode(upper);
}

/** Driver code for a serial consistency level (LOCAL_SERIAL or SERIAL, any case); INVALID_INPUT for anything else. */
export function serialConsistencyCode(name: string): number {
  const upper = name.toUpperCase();
  if (!(SERIAL_CONSISTENCY_NAMES as readonly string[]).includes(upper)) {
    throw new CassetteError('INVALID_INPUT', `unknown serial consistency level "${name}"`, { hint: `use ${SERIAL_CONSISTENCY_NAMES.join(' or ')}` });
  }
  return driverCode(upper);
}

/** The CQL name of a driver consistency code (`LOCAL_QUORUM` for 6), for reports. */
export function consistencyName(code: number): string {
  const names = (cassandra.types as unknown as { consistencyToString: Readonly<Record<number, string | undefined>> }).consistencyToString;
  return names[code] ?? `level ${code}`;
}

function driverCode(upper: string): number {
  const code = (cassandra.types.consistencies as unknown as Record<string, number | undefined>)[toDriverName(upper)];
  if (code === undefined) throw new Error(`internal: the driver has no consistency level ${upper}`);
  return code;
}

function toDriverName(name: string): string {
  // types.consistencies uses camelCase: localQuorum, eachQuorum, localOne …
  return name.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

function baseOptions(options: ConnectionOptions): cassandra.ClientOptions {
  const client: cassandra.ClientOptions = {
    contactPoints: options.hosts.map((h) => (h.includes(':') && !h.startsWith('[') ? h : `${h}:${options.port}`)),
    protocolOptions: { port: options.port },
    socketOptions: { connectTimeout: Math.min(options.requestTimeoutMs, 10_000), readTimeout: options.requestTimeoutMs },
    encoding: DRIVER_ENCODING,
    // Client-wide defaults: any statement without its own level runs at the connection's.
    queryOptions: {
      consistency: consistencyCode(options.consistency),
      serialConsistency: serialConsistencyCode(options.serialConsistency ?? DEFAULT_SERIAL_CONSISTENCY),
      prepare: true,
    },
  };
  if (options.username !== undefined) {
    if (options.password === undefined) {
      throw new CassetteError('INVALID_INPUT', `--username ${options.username} needs a password`, {
        hint: 'set CASSETTE_PASSWORD or pass --password-file <file>',
      });
    }
    client.authProvider = new cassandra.auth.PlainTextAuthProvider(options.username, options.password);
  }
  if (options.tls !== undefined) {
    const tls = options.tls;
    client.sslOptions = {
      ...(tls.caFile === undefined ? {} : { ca: [readPem(tls.caFile, '--tls-ca')] }),
      ...(tls.certFile === undefined ? {} : { cert: readPem(tls.certFile, '--tls-cert') }),
      ...(tls.keyFile === undefined ? {} : { key: readPem(tls.keyFile, '--tls-key') }),
      rejectUnauthorized: !tls.insecure,
      ...(tls.insecure ? { checkServerIdentity: () => undefined } : {}),
    };
  }
  return client;
}

/** Translates a driver connection failure into one actionable line. */
export function clusterUnavailable(options: ConnectionOptions, err: unknown): CassetteError {
  const where = options.hosts.map((h) => (h.includes(':') ? h : `${h}:${options.port}`)).join(', ');
  const detail = describeDriverError(err);
  let hint = 'check --hosts and --port, that the cluster is up, and that this machine can reach it';
  if (/authenticat|credentials|password/i.test(detail)) hint = 'check --username and the password (CASSETTE_PASSWORD or --password-file)';
  else if (/ssl|tls|certificate|EPROTO|socket hang up|disconnected/i.test(detail)) hint = 'check the TLS settings: --tls, --tls-ca, --tls-cert/--tls-key (does the cluster require TLS?)';
  return new CassetteError('CLUSTER_UNAVAILABLE', `cannot connect to Cassandra at ${where}: ${detail}`, { hint, cause: err });
}

function describeDriverError(err: unknown): string {
  if (err instanceof cassandra.errors.NoHostAvailableError) {
    const inner = Object.values(err.innerErrors as Record<string, Error>)[0];
    return inner ? inner.message.split('\n')[0] ?? inner.message : 'no host available';
  }
  return err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err);
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
  const level = detail.consistencies === undefined ? 'the requested level' : consistencyName(detail.consistencies);
  const counts = detail.required === undefined ? '' : `: ${detail.required} needed, ${detail.alive ?? 0} alive`;
  const serial = level === 'SERIAL' || level === 'LOCAL_SERIAL';
  return new CassetteError('CLUSTER_UNAVAILABLE', `too few live replicas for consistency ${level}${counts}`, {
    hint: `bring the down replicas back (nodetool status), or choose a level the live ones can meet (${serial ? '--serial-consistency LOCAL_SERIAL' : '--consistency'})`,
    cause: err,
  });
}

/** Asks the first reachable contact point which datacenter it is in. */
async function discoverDc(options: ConnectionOptions): Promise<string> {
  const probe = new cassandra.Client({
    ...baseOptions(options),
    policies: { loadBalancing: new cassandra.policies.loadBalancing.RoundRobinPolicy() },
    pooling: { warmup: false },
  });
  try {
    await probe.connect();
    const row = (await probe.execute('SELECT data_center FROM system.local', [], { ...SYSTEM_READ })).first();
    return row.get('data_center') as string;
  } finally {
    await probe.shutdown().catch(() => undefined);
  }
}

const READ = /^\s*SELECT\b/i;

class DriverSession implements CqlWriteSession {
  readonly #client: cassandra.Client;
  constructor(client: cassandra.Client) {
    this.#client = client;
  }

  async execute(cql: string, params: readonly unknown[] = [], options: QueryOptions = {}): Promise<QueryResult> {
    const { routing, ...rest } = options;
    // A read is always safe to send again: marked idempotent, the driver retries it on the next
    // host when a connection dies under it (a node killed mid-request) instead of failing.
    const idempotent = options.isIdempotent ?? READ.test(cql);
    const rs = await this.#client.execute(cql, [...params], { prepare: true, isIdempotent: idempotent, ...rest, ...routing } as cassandra.QueryOptions);
    return { rows: rs.rows, pageState: rs.pageState ?? undefined };
  }

  async batch(statements: readonly BatchStatement[], options: QueryOptions = {}): Promise<QueryResult> {
    const { routing, ...rest } = options;
    const queries = statements.map((s) => ({ query: s.cql, params: [...s.params] }));
    const rs = await this.#client.batch(queries, { prepare: true, logged: false, ...rest, ...routing } as cassandra.QueryOptions);
    return { rows: rs.rows ?? [], pageState: undefined };
  }
}

/** Connects; throws CLUSTER_UNAVAILABLE (exit 4) when the cluster cannot be reached or refuses us. */
export async function connect(options: ConnectionOptions): Promise<Connection> {
  // Before any read: the driver misdecodes lists with null elements (see driver-list-decoding.ts).
  installNullListElementFix();
  let dc = options.dc;
  const base = baseOptions(options);
  let client: cassandra.Client | undefined;
  try {
    dc ??= await discoverDc(options);
    client = new cassandra.Client({
      ...base,
      localDataCenter: dc,
      // A node that went down (a restart, the only node of a test cluster) is tried again every
      // 0.5 s doubling to at most 10 s — the driver's default doubles to 10 minutes, so a job
      // waiting out a 1-minute restart could wait minutes more for the driver to look again.
      policies: { reconnection: new cassandra.policies.reconnection.ExponentialReconnectionPolicy(500, 10_000, false) },
    });
    await client.connect();
  } catch (err) {
    await client?.shutdown().catch(() => undefined);
    if (err instanceof CassetteError) throw err;
    throw clusterUnavailable(options, err);
  }
  const connected = client;
  const serial = (options.serialConsistency ?? DEFAULT_SERIAL_CONSISTENCY).toUpperCase();
  return {
    session: new DriverSession(connected),
    client: connected,
    consistency: consistencyCode(options.consistency),
    serialConsistency: serialConsistencyCode(serial),
    levels: { consistency: options.consistency.toUpperCase(), serialConsistency: serial },
    dc,
    close: () => shutdownWithin(connected, SHUTDOWN_WAIT_MS),
  };
}

/** How long closing a connection may take before the command goes on without it. */
const SHUTDOWN_WAIT_MS = 10_000;

/**
 * Shuts the client down, waiting at most `ms`: after a node restarted under it, the driver can
 * leave a connection pool "closing" with a request that never drains, and `shutdown()` then never
 * resolves (seen in test/integration/outages.test.ts) — a finished command must not hang on it.
 */
async function shutdownWithin(client: cassandra.Client, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.shutdown().catch(() => undefined),
    new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); }),
  ]);
  clearTimeout(timer);
}
