/**
 * `cassette doctor --config rekey.yaml`: the read-only pre-flight of a key rotation. It checks
 * that the cluster answers and the keyspace exists, each configured table and column against the
 * schema (doctor-checks.ts), that the keys load and seal/open a value, how sampled stored values
 * open, that the repository takes a write, and the config's contradictory settings. It writes
 * nothing to the cluster and leaves nothing in the repository (the probe object is deleted).
 *
 * The report lists every check; `rotate` runs the same checks first and stops at the first
 * failure with {@link assertRotationReady}.
 */
import { randomBytes } from 'node:crypto';
import { quoteIdentifier } from '../cassandra/values/identifiers.js';
import { captureKeyspace, findTable, type KeyspaceSchema } from '../cassandra/schema/capture.js';
import { consistencyCode } from '../cassandra/connection/connect.js';
import { DEFAULT_LEVELS, type ConsistencyLevels } from '../cassandra/connection/options.js';
import { SYSTEM_READ, type CqlSession } from '../cassandra/connection/session.js';
import type { RotationConfig } from '../config/rotation-types.js';
import { tableLevels } from '../config/table-settings.js';
import type { CipherContext, CipherSpec, ColumnCipher } from '../crypto/cipher.js';
import { createCipher } from '../crypto/registry.js';
import { CassetteError, type ErrorCode } from '../errors.js';
import type { BlobStore } from '../storage/blob-store.js';
import { check, checkSettings, checkTables, isCiphertextType, type DoctorCheck, type KeyVersions } from './doctor-checks.js';

export type { CheckStatus, DoctorCheck } from './doctor-checks.js';

type Env = Readonly<Record<string, string | undefined>>;

/** A dependency the caller could not build; `unavailable` is the error that said why. */
export interface Unavailable {
  readonly unavailable: unknown;
}

/** What doctor needs. The CLI builds the real ones; `rotate` passes its own. */
export interface DoctorDeps {
  /** The cluster's session, or why connecting failed (the report then lists the checks that need no cluster). */
  readonly session: CqlSession | Unavailable;
  /** The repository, or why it could not be opened. */
  readonly store: BlobStore | Unavailable;
  /** Where key sources of kind `env` are read from. */
  readonly env: Env;
  /** Builds the cipher from the provider spec; src/crypto/registry.ts's createCipher by default. */
  readonly createCipher?: typeof createCipher;
  readonly now: () => number;
  /** The connection's levels (tables without their own `consistency` use them); LOCAL_QUORUM / LOCAL_SERIAL when absent. */
  readonly levels?: ConsistencyLevels;
}

export interface DoctorOptions {
  /**
   * Non-null values sampled per encrypted column to see which key opens them (read-only SELECT …
   * LIMIT); 0 skips sampling. Default 100.
   */
  readonly sample?: number;
}

export interface DoctorReport {
  /** True when no check failed (warnings allowed). */
  readonly ok: boolean;
  /** The config file checked. */
  readonly config: string;
  readonly keyspace: string;
  /** ISO 8601, when the checks started. */
  readonly checkedAt: string;
  /** In order: cluster, schema per table, keys, samples, repository, settings. */
  readonly checks: readonly DoctorCheck[];
  /** The levels rotate would read and write each table at, and the serial level of its LWT write-backs. */
  readonly consistency: { readonly tables: readonly { readonly table: string; readonly read: string; readonly write: string }[]; readonly serialConsistency: string };
}

export const DEFAULT_SAMPLE = 100;
/** Rows read per table at most while looking for non-null values to sample. */
const SAMPLE_ROW_FACTOR = 10;

/** Runs every check; never throws for a failed check (it is in the report), only for bugs. */
export async function runDoctor(config: RotationConfig, deps: DoctorDeps, options: DoctorOptions = {}): Promise<DoctorReport> {
  const checkedAt = new Date(deps.now()).toISOString();
  const keys = await checkKeys(config, deps);
  try {
    return await runChecks(config, deps, options, checkedAt, keys);
  } finally {
    // The cipher is the doctor's own (a KMS provider holds connections and data keys).
    keys.cipher?.close?.();
  }
}

async function runChecks(config: RotationConfig, deps: DoctorDeps, options: DoctorOptions, checkedAt: string, keys: KeysResult): Promise<DoctorReport> {
  const cluster = await checkCluster(config, deps.session);
  const schemaChecks = cluster.schema === undefined ? [] : checkTables(config, cluster.schema, keys.versions);
  const sample = options.sample ?? DEFAULT_SAMPLE;
  const levels = deps.levels ?? DEFAULT_LEVELS;
  const sampleChecks = cluster.schema === undefined || keys.cipher === undefined || sample <= 0 || !('execute' in deps.session)
    ? []
    : await sampleColumns(config, deps.session, cluster.schema, keys.cipher, sample, levels);
  const checks = [
    ...cluster.checks,
    ...schemaChecks,
    ...keys.checks,
    ...sampleChecks,
    await checkRepository(deps.store, checkedAt),
    ...checkSettings(config),
  ];
  const consistency = { tables: config.tables.map((t) => ({ table: t.name, ...tableLevels(t, levels) })), serialConsistency: levels.serialConsistency };
  return { ok: checks.every((c) => c.status !== 'fail'), config: config.file, keyspace: config.cluster.keyspace, checkedAt, checks, consistency };
}

/** The first failed check, or undefined when the report is ok. */
export function firstFailure(report: DoctorReport): DoctorCheck | undefined {
  return report.checks.find((c) => c.status === 'fail');
}

/**
 * Throws the report's first failure as a CassetteError: INVALID_INPUT for config and schema
 * problems, CLUSTER_UNAVAILABLE when the cluster could not be reached, REPOSITORY_UNAVAILABLE
 * when the repository is not writable (PROVIDER_UNAVAILABLE when a module provider failed).
 * Returns when no check failed; warnings do not stop a rotation.
 */
export function assertRotationReady(report: DoctorReport): void {
  const failed = firstFailure(report);
  if (failed === undefined) return;
  const others = report.checks.filter((c) => c.status === 'fail').length - 1;
  const hint = [failed.hint, others > 0 ? `${others} more check${others > 1 ? 's' : ''} failed: run \`cassette doctor --config ${report.config}\`` : undefined]
    .filter((h) => h !== undefined).join('; ');
  throw new CassetteError(failed.code ?? 'INVALID_INPUT', failed.message, hint === '' ? {} : { hint });
}

function isUnavailable<T extends object>(dep: T | Unavailable): dep is Unavailable {
  return 'unavailable' in dep;
}

/** An error as one line that is safe to print (errors from cassette's adapters never carry secrets). */
function describeError(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0] ?? text;
}

function codeOf(err: unknown, fallback: ErrorCode): ErrorCode {
  return err instanceof CassetteError ? err.code : fallback;
}

function hintOf(err: unknown): { readonly hint?: string } {
  return err instanceof CassetteError && err.hint !== undefined ? { hint: err.hint } : {};
}

interface ClusterResult {
  readonly checks: readonly DoctorCheck[];
  readonly schema?: KeyspaceSchema;
}

/** cluster.connect and keyspace.exists; captures the keyspace's schema for the table checks. */
async function checkCluster(config: RotationConfig, session: CqlSession | Unavailable): Promise<ClusterResult> {
  const keyspace = config.cluster.keyspace;
  if (isUnavailable(session)) {
    const err = session.unavailable;
    const hint = [err instanceof CassetteError ? err.hint : undefined, 'the schema checks need the cluster and were skipped']
      .filter((h) => h !== undefined).join('; ');
    return { checks: [check('cluster.connect', 'fail', describeError(err), { hint, code: codeOf(err, 'CLUSTER_UNAVAILABLE') })] };
  }
  let connected: DoctorCheck;
  try {
    const local = (await session.execute('SELECT cluster_name, release_version FROM system.local', [], SYSTEM_READ)).rows[0];
    connected = check('cluster.connect', 'ok', `connected to cluster ${String(local?.get('cluster_name') ?? '?')} (Cassandra ${String(local?.get('release_version') ?? '?')})`);
  } catch (err) {
    return { checks: [check('cluster.connect', 'fail', `the cluster does not answer: ${describeError(err)}`, { code: 'CLUSTER_UNAVAILABLE' })] };
  }
  try {
    const schema = await captureKeyspace(session, keyspace);
    return { checks: [connected, check('keyspace.exists', 'ok', `keyspace ${keyspace} exists with ${schema.tables.length} table(s)`)], schema };
  } catch (err) {
    const failed = err instanceof CassetteError
      ? check('keyspace.exists', 'fail', err.message, { ...hintOf(err), code: err.code })
      : check('keyspace.exists', 'fail', `cannot read the schema of keyspace ${keyspace}: ${describeError(err)}`, { code: 'CLUSTER_UNAVAILABLE' });
    return { checks: [connected, failed] };
  }
}

interface KeysResult {
  readonly checks: readonly DoctorCheck[];
  readonly cipher?: ColumnCipher;
  readonly versions?: KeyVersions;
}

/** A failed provider call keeps PROVIDER_UNAVAILABLE (exit 10); anything else about keys is INVALID_INPUT. */
function keyErrorCode(err: unknown): ErrorCode {
  return codeOf(err, 'INVALID_INPUT') === 'PROVIDER_UNAVAILABLE' ? 'PROVIDER_UNAVAILABLE' : 'INVALID_INPUT';
}

/** The versions written in the config, when every key has one (used when the keys do not load). */
function configuredVersions(spec: CipherSpec): KeyVersions | undefined {
  if (spec.kms !== undefined) return { newVersion: spec.kms.newCmk.version, oldVersions: [...new Set(spec.kms.oldCmks.map((k) => k.version))] };
  const newVersion = spec.newKey?.version;
  const oldVersions = spec.oldKeys.map((k) => k.version);
  if (newVersion === undefined || !oldVersions.every((v): v is string => v !== undefined)) return undefined;
  return { newVersion, oldVersions };
}

/** keys.load and keys.roundtrip: the keys load, and a random value sealed under the new key opens as current. */
async function checkKeys(config: RotationConfig, deps: DoctorDeps): Promise<KeysResult> {
  const build = deps.createCipher ?? createCipher;
  let cipher: ColumnCipher;
  try {
    cipher = await build(config.provider, deps.env);
  } catch (err) {
    // createCipher's errors never contain key text; other errors are reduced to their first line.
    const versions = configuredVersions(config.provider);
    return {
      checks: [check('keys.load', 'fail', `${config.provider.type} keys did not load: ${describeError(err)}`, { ...hintOf(err), code: keyErrorCode(err) })],
      ...(versions === undefined ? {} : { versions }),
    };
  }
  const versions = { newVersion: cipher.newKeyVersion, oldVersions: cipher.oldKeyVersions };
  const old = versions.oldVersions.length === 0 ? 'no old keys' : `old key${versions.oldVersions.length > 1 ? 's' : ''} ${versions.oldVersions.join(', ')}`;
  const loaded = check('keys.load', 'ok', `${cipher.type} keys loaded: new key ${versions.newVersion}, ${old}`);
  const own = (await cipher.check?.()) ?? [];
  const providerChecks = own.map((c) => check(c.id, c.status, c.message, { ...(c.hint === undefined ? {} : { hint: c.hint }), ...(c.code === undefined ? {} : { code: c.code }) }));
  return { checks: [loaded, ...providerChecks, await roundTrip(config, cipher)], cipher, versions };
}

async function roundTrip(config: RotationConfig, cipher: ColumnCipher): Promise<DoctorCheck> {
  const first = config.tables[0];
  const context: CipherContext = { keyspace: config.cluster.keyspace, table: first?.name ?? '', column: first?.encryptedColumns[0] ?? '' };
  const plaintext = randomBytes(32);
  const fix = 'check the new key (provider.new_key_env / new_key_file) and the provider options';
  try {
    const sealed = Buffer.from(await cipher.seal(plaintext, context));
    // Through the form a text column would store too, so a layout text cannot carry is caught here.
    const stored = Buffer.from(sealed.toString(cipher.textEncoding), cipher.textEncoding);
    if (!stored.equals(sealed)) {
      return check('keys.roundtrip', 'fail', `a value sealed under the new key ${cipher.newKeyVersion} does not survive the provider's ${cipher.textEncoding} text form`, { hint: fix });
    }
    const opened = await cipher.open(sealed, context);
    if (opened === undefined) {
      return check('keys.roundtrip', 'fail', `a value sealed under the new key ${cipher.newKeyVersion} did not open again`, { hint: fix });
    }
    if (!opened.current || opened.keyVersion !== cipher.newKeyVersion) {
      return check('keys.roundtrip', 'fail', `a value sealed under the new key ${cipher.newKeyVersion} opened as key ${opened.keyVersion}, not as the new key`, {
        hint: 'the new key must differ from every old key, and its version from theirs',
      });
    }
    if (!opened.plaintext.equals(plaintext)) {
      return check('keys.roundtrip', 'fail', `a value sealed under the new key ${cipher.newKeyVersion} opened to different bytes`, { hint: fix });
    }
    return check('keys.roundtrip', 'ok', `a random value sealed under the new key ${cipher.newKeyVersion} opens again as current`);
  } catch (err) {
    return check('keys.roundtrip', 'fail', `sealing and opening under the new key ${cipher.newKeyVersion} failed: ${describeError(err)}`, {
      ...hintOf(err), code: keyErrorCode(err),
    });
  }
}

interface Tally {
  current: number;
  none: number;
  readonly old: Map<string, number>;
}

/**
 * column.sample: reads up to `sample` non-null values of each encrypted column that could be
 * rotated at all (a regular blob or text column of a table that is not a counter table) with one
 * `SELECT … LIMIT` per table (read-only), and counts which key opens them. Values are never
 * printed; a value no key opens is a warning (rotate would quarantine it).
 */
async function sampleColumns(
  config: RotationConfig, session: CqlSession, schema: KeyspaceSchema, cipher: ColumnCipher, sample: number, levels: ConsistencyLevels,
): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  for (const rotation of config.tables) {
    const table = findTable(schema, rotation.name);
    if (table === undefined || table.isCounter) continue;
    const columns = rotation.encryptedColumns.flatMap((name) => {
      const column = table.columns.find((c) => c.name === name);
      return column !== undefined && column.kind === 'regular' && isCiphertextType(column.type) ? [{ name, blob: column.type === 'blob' }] : [];
    });
    if (columns.length === 0) continue;
    const tallies = columns.map((): Tally => ({ current: 0, none: 0, old: new Map() }));
    const cql = `SELECT ${columns.map((c) => quoteIdentifier(c.name)).join(', ')} FROM ${quoteIdentifier(schema.name)}.${quoteIdentifier(table.name)} LIMIT ${sample * SAMPLE_ROW_FACTOR}`;
    try {
      let pageState: string | undefined;
      do {
        const page = await session.execute(cql, [], {
          prepare: true, consistency: consistencyCode(tableLevels(rotation, levels).read), fetchSize: Math.min(sample * SAMPLE_ROW_FACTOR, 1000),
          ...(pageState === undefined ? {} : { pageState }),
        });
        for (const row of page.rows) {
          for (const [i, column] of columns.entries()) {
            const tally = tallies[i] as Tally;
            const value = row.get(column.name);
            if (value === null || value === undefined || tally.current + tally.none + sumOf(tally.old) >= sample) continue;
            const bytes = column.blob ? Buffer.from(value as Uint8Array) : Buffer.from(String(value), cipher.textEncoding);
            const opened = await cipher.open(bytes, { keyspace: schema.name, table: table.name, column: column.name });
            if (opened === undefined) tally.none++;
            else if (opened.current) tally.current++;
            else tally.old.set(opened.keyVersion, (tally.old.get(opened.keyVersion) ?? 0) + 1);
          }
        }
        pageState = page.pageState;
      } while (pageState !== undefined && tallies.some((t) => t.current + t.none + sumOf(t.old) < sample));
    } catch (err) {
      const provider = err instanceof CassetteError && err.code === 'PROVIDER_UNAVAILABLE';
      checks.push(provider
        ? check('column.sample', 'fail', `${table.name}: the key provider failed while opening sampled values: ${describeError(err)}`, { table: table.name, ...hintOf(err), code: 'PROVIDER_UNAVAILABLE' })
        : check('column.sample', 'warn', `${table.name}: could not sample values: ${describeError(err)}`, { table: table.name }));
      continue;
    }
    for (const [i, column] of columns.entries()) checks.push(sampleCheck(table.name, column.name, tallies[i] as Tally, cipher));
  }
  return checks;
}

function sumOf(counts: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const n of counts.values()) total += n;
  return total;
}

function sampleCheck(table: string, column: string, tally: Tally, cipher: ColumnCipher): DoctorCheck {
  const where = { table, column };
  const total = tally.current + tally.none + sumOf(tally.old);
  if (total === 0) return check('column.sample', 'ok', `${table}.${column}: no non-null values to sample`, where);
  const old = [...tally.old].map(([version, n]) => `${n} ${version}`).join(', ');
  const counts = `${tally.current} under the new key ${cipher.newKeyVersion}, ${sumOf(tally.old)} under old keys${old === '' ? '' : ` (${old})`}, ${tally.none} under none`;
  if (tally.none === 0) return check('column.sample', 'ok', `${table}.${column}: ${total} sampled value${total === 1 ? ' opens' : 's open'}: ${counts}`, where);
  return check('column.sample', 'warn', `${table}.${column}: ${tally.none} of ${total} sampled value${total === 1 ? '' : 's'} open${tally.none === 1 ? 's' : ''} under no key (${counts}); rotate would quarantine them`, {
    ...where, hint: 'configure every key values may be under (provider old keys), or expect those rows in the quarantine',
  });
}

/** repository.write: a probe object is put (write-once), read back by size, and deleted. */
async function checkRepository(store: BlobStore | Unavailable, checkedAt: string): Promise<DoctorCheck> {
  if (isUnavailable(store)) {
    const err = store.unavailable;
    return check('repository.write', 'fail', describeError(err), { ...hintOf(err), code: codeOf(err, 'REPOSITORY_UNAVAILABLE') });
  }
  const key = `doctor/${randomBytes(8).toString('hex')}.probe`;
  const body = `cassette doctor write probe, ${checkedAt}\n`;
  try {
    await store.put(key, body, { ifAbsent: true });
    const head = await store.head(key);
    if (head?.size !== Buffer.byteLength(body)) {
      return check('repository.write', 'fail', `repository ${store.description} did not read back the probe ${key} it accepted`, {
        hint: 'the repository must offer read-after-write', code: 'REPOSITORY_UNAVAILABLE',
      });
    }
  } catch (err) {
    const message = err instanceof CassetteError ? err.message : `cannot write to repository ${store.description}: ${describeError(err)}`;
    return check('repository.write', 'fail', message, { ...hintOf(err), code: 'REPOSITORY_UNAVAILABLE' });
  }
  try {
    await store.delete(key);
  } catch (err) {
    return check('repository.write', 'warn', `repository ${store.description} is writable, but deleting the probe ${key} failed: ${describeError(err)}`, {
      hint: `delete ${key} from the repository by hand`,
    });
  }
  return check('repository.write', 'ok', `repository ${store.description} is writable (a probe object was written, read back and deleted)`);
}
