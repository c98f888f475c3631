/**
 * The rotation config (`--config rekey.yaml`): YAML in, a validated, normalized, readonly
 * {@link RotationConfig} out. cassandra-rekey's config.yaml is accepted exactly as its README
 * shows it; cassette's additions are optional. docs/config.md ("Rotation config") documents every
 * setting; this file must accept exactly those and nothing else.
 *
 * Defaults: `cluster.port` 9042; `key_version_column` `key_version` (explicit `null`: the tables
 * have none); per table `preserve_ttl` true, `preserve_writetime` true, `use_lwt_guard` false,
 * `consistency` LOCAL_QUORUM for read and write; `execution.workers` 4,
 * `execution.pause_on_backpressure` false. Relative paths (`cluster.password_file`, key files,
 * `provider.module`, a `repo` directory) are resolved against the config file's folder.
 *
 * Secrets never come from the file: a `password` key anywhere, and a literal key value under
 * `provider` (`new_key: "…"`, `old_key: …`, `key: …`), are refused. Keys come only from
 * environment variables or files.
 *
 * Errors: CassetteError('INVALID_INPUT') with one line per problem (the first five, in document
 * order, joined by "; "): `file:line:col: path.in[0].document: expected …, got …`. Messages
 * never repeat a string value from the file (it could be a secret), except the values of
 * enumerations (provider type, consistency level).
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { CONSISTENCY_NAMES } from '../cassandra/connection/options.js';
import type { CipherSpec, KeySpec } from '../crypto/cipher.js';
import { CassetteError } from '../errors.js';
import type { RotationConfig, TableRotation } from './rotation-types.js';

/** The key-version column when the config does not name one. */
export const DEFAULT_KEY_VERSION_COLUMN = 'key_version';

/** Provider types a rotation config may name. A KMS is used through a `module` provider. */
export const PROVIDER_TYPES: readonly CipherSpec['type'][] = ['fernet', 'aes-gcm', 'module'];

const MAX_REPORTED = 5;
const DEFAULT_HINT = 'every setting is described in docs/config.md, section "Rotation config (--config)"';

/**
 * Reads and parses the rotation config at `path`. Rejects with CassetteError('INVALID_INPUT')
 * naming the path when the file cannot be read, and as {@link parseRotationConfig} otherwise.
 */
export async function loadRotationConfig(path: string): Promise<RotationConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason = READ_ERRORS[(err as NodeJS.ErrnoException).code ?? ''] ?? (err as Error).message;
    throw new CassetteError('INVALID_INPUT', `cannot read the rotation config ${path}: ${reason}`, {
      hint: 'check the --config path (relative paths are resolved against the working directory)',
    });
  }
  return parseRotationConfig(text, path);
}

const READ_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
};

/**
 * Parses, validates and normalizes the YAML `text` of a rotation config; `file` is its path, used
 * in messages and as the base of the relative paths it contains. Pure apart from that: reads no
 * file and no environment variable. Throws CassetteError('INVALID_INPUT') for anything invalid.
 */
export function parseRotationConfig(text: string, file: string): RotationConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const where = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => `${where(e.pos[0])}: invalid YAML: ${e.message.split('\n')[0] ?? ''}`);
    throw new CassetteError('INVALID_INPUT', joinReported(lines), { hint: 'fix the YAML syntax: indentation, quoting, unique keys' });
  }
  if (doc.contents === null) {
    throw new CassetteError('INVALID_INPUT', `${file}:1:1: the file is empty; expected the settings cluster, provider and tables`, { hint: DEFAULT_HINT });
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (err) {
    throw new CassetteError('INVALID_INPUT', `${file}:1:1: invalid YAML: ${(err as Error).message}`, { hint: DEFAULT_HINT });
  }

  const problems = refusedSecrets(value);
  const parsed = configSchema.safeParse(value);
  if (!parsed.success) {
    const refused = problems.map((p) => p.path);
    const issues = parsed.error.issues;
    // With an unsupported provider type, the provider's other settings are for that provider: not typos.
    const typeFailed = issues.some((i) => i.path.length === 2 && i.path[0] === 'provider' && i.path[1] === 'type');
    for (const issue of issues) {
      if (refused.some((r) => startsWith(issue.path, r))) continue;
      const problem = fromIssue(issue, value);
      if (typeFailed && problem.at === 'key' && issue.path.length === 2 && issue.path[0] === 'provider') continue;
      problems.push(problem);
    }
  }
  if (problems.length === 0 && parsed.success) {
    const source = (path: Path): string | undefined => {
      const node = walk(doc, path).node;
      return isScalar(node) && typeof node.source === 'string' ? node.source : undefined;
    };
    const config = normalize(parsed.data, { file, base: dirname(file), source, problems });
    if (problems.length === 0) return config;
  }
  const located = problems
    .map((p) => ({ p, offset: walk(doc, p.path, p.at).offset }))
    .sort((a, b) => a.offset - b.offset);
  const lines = located.map(({ p, offset }) => `${where(offset)}: ${p.path.length === 0 ? '' : `${formatPath(p.path)}: `}${p.message}`);
  throw new CassetteError('INVALID_INPUT', joinReported(lines), { hint: located.find(({ p }) => p.hint !== undefined)?.p.hint ?? DEFAULT_HINT });
}

// ---------------------------------------------------------------------------------------------
// Problems and where they are

type Path = readonly PropertyKey[];

/** One thing wrong with the file: where (a path in the document, at its key or its value) and what. */
interface Problem {
  readonly path: Path;
  readonly message: string;
  readonly at?: 'key';
  readonly hint?: string;
}

function joinReported(lines: readonly string[]): string {
  const shown = lines.slice(0, MAX_REPORTED).join('; ');
  return lines.length > MAX_REPORTED ? `${shown}; and ${lines.length - MAX_REPORTED} more` : shown;
}

function startsWith(path: Path, prefix: Path): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => segment === path[i]);
}

/** `tables[0].encrypted_columns`; odd keys quoted: `cluster["contact points"]`. */
function formatPath(path: Path): string {
  return path
    .map((segment, i) => {
      if (typeof segment === 'number') return `[${segment}]`;
      const key = String(segment);
      if (!/^[\w-]+$/.test(key)) return `[${JSON.stringify(key)}]`;
      return i === 0 ? key : `.${key}`;
    })
    .join('');
}

/**
 * Finds `path` in the document: the node there, if any, and the offset to report — the key's or
 * the value's start, or the nearest existing ancestor's start when the path does not exist.
 */
function walk(doc: Document, path: Path, at?: 'key'): { node: unknown; offset: number } {
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (const [i, segment] of path.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (pair === undefined) return { node: undefined, offset };
      if (at === 'key' && i === path.length - 1) return { node: pair.value, offset: rangeStart(pair.key) ?? offset };
      node = pair.value;
      offset = rangeStart(node) ?? rangeStart(pair.key) ?? offset;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      if (node === undefined) return { node, offset };
      offset = rangeStart(node) ?? offset;
    } else {
      return { node: undefined, offset };
    }
  }
  return { node, offset };
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: readonly number[] | null } | null | undefined)?.range;
  return range?.[0];
}

/** What a value is, without repeating a string (it could be a secret). */
function describe(value: unknown): string {
  if (value === null) return 'an empty value';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'a mapping';
  return 'a value of another kind';
}

/** A string from an enumeration-like setting, quoted when it is short and plain; else its kind. */
function echo(value: unknown): string {
  return typeof value === 'string' && /^[\w.:-]{1,40}$/.test(value) ? JSON.stringify(value) : describe(value);
}

function valueAt(root: unknown, path: Path): unknown {
  let value = root;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

function fromIssue(issue: z.core.$ZodIssue, root: unknown): Problem {
  const params = issue.code === 'custom' ? (issue.params as { known?: readonly string[]; hint?: string } | undefined) : undefined;
  if (params?.known !== undefined) {
    const key = String(issue.path[issue.path.length - 1]);
    const near = nearest(key, params.known);
    const message = near === undefined ? `unknown setting (known here: ${params.known.join(', ')})` : `unknown setting (did you mean ${near}?)`;
    return { path: issue.path, message, at: 'key' };
  }
  const value = valueAt(root, issue.path);
  let message = issue.message;
  if (value === undefined && issue.path.length > 0) message = `missing; ${message}`;
  else if (message.startsWith('expected ') && !message.includes(', got ')) message = `${message}, got ${describe(value)}`;
  return { path: issue.path, message, ...(params?.hint === undefined ? {} : { hint: params.hint }) };
}

/** The known name within edit distance 2 of `name` (a likely typo), if any. */
function nearest(name: string, known: readonly string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance <= 2 && distance < candidate.length && (best === undefined || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

// ---------------------------------------------------------------------------------------------
// Secrets the file must not hold (checked before the schema, so the message says why)

const PASSWORD_REFUSED =
  'secrets never go in config files; set CASSETTE_PASSWORD, or name a file whose first line is the password with cluster.password_file or --password-file';
const LITERAL_KEY_REFUSED =
  'key values never go in config files; keys come only from environment variables (new_key_env, old_key_env, env:) or files (new_key_file, old_key_file, file:)';
const LITERAL_KEY_NAMES = new Set(['key', 'old_key', 'new_key']);

function refusedSecrets(root: unknown): Problem[] {
  const problems: Problem[] = [];
  const visit = (value: unknown, path: Path, inProvider: boolean): void => {
    if (value === null || typeof value !== 'object') return;
    for (const [key, child] of Object.entries(value)) {
      const at = [...path, Array.isArray(value) ? Number(key) : key];
      const isLiteral = child !== null && typeof child !== 'object';
      if (!Array.isArray(value) && key === 'password') {
        problems.push({ path: at, message: PASSWORD_REFUSED, at: 'key', hint: 'remove the password from the file' });
      } else if (!Array.isArray(value) && inProvider && LITERAL_KEY_NAMES.has(key) && isLiteral) {
        problems.push({ path: at, message: LITERAL_KEY_REFUSED, at: 'key', hint: 'remove the key from the file and name its environment variable or file instead' });
      } else {
        visit(child, at, inProvider || (path.length === 0 && key === 'provider'));
      }
    }
  };
  visit(root, [], false);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// The schema of the document as written (snake_case). Messages are "expected …"; the formatter
// adds ", got …" from the value found.

/** A mapping with exactly these settings: any other key is reported as an unknown setting. */
function section<S extends z.ZodRawShape>(shape: S, expected: string) {
  const known = Object.keys(shape);
  const unknownSetting = z.unknown().superRefine((_value, ctx) => {
    ctx.addIssue({ code: 'custom', message: 'unknown setting', params: { known } });
  });
  return z.object(shape, { error: expected }).catchall(unknownSetting);
}

const text = (expected: string) => z.string({ error: expected }).min(1, { error: expected });
const nameList = (expected: string, min: number) => z.array(text('expected a column name'), { error: expected }).min(min, { error: expected });
const integer = (expected: string, min: number, max: number) =>
  z.number({ error: expected }).int({ error: expected }).min(min, { error: expected }).max(max, { error: expected });
const positive = (expected: string) => z.number({ error: expected }).positive({ error: expected });
const flag = z.boolean({
  error: (issue) =>
    typeof issue.input === 'string' && /^(yes|no|on|off|y|n)$/i.test(issue.input)
      ? `expected true or false, got ${JSON.stringify(issue.input)} (YAML 1.2 reads it as text)`
      : 'expected true or false',
});
const filePath = text('expected a file path');
const envName = z
  .string({ error: 'expected the name of an environment variable' })
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected the name of an environment variable (letters, digits and _)' });
const keyVersion = z.union([z.string().min(1), z.number()], { error: 'expected a key version, such as "2"' });
const keyId = integer('expected a key id, an integer from 0 to 4294967295', 0, 0xffff_ffff);

const CONSISTENCY_EXPECTED = `expected a consistency level (${CONSISTENCY_NAMES.join(', ')})`;
const consistency = z
  .string({ error: CONSISTENCY_EXPECTED })
  .refine((level) => (CONSISTENCY_NAMES as readonly string[]).includes(level.toUpperCase()), {
    error: (issue) => {
      const near = typeof issue.input === 'string' ? nearest(issue.input.toUpperCase(), CONSISTENCY_NAMES) : undefined;
      return `${CONSISTENCY_EXPECTED}, got ${echo(issue.input)}${near === undefined ? '' : ` (did you mean ${near}?)`}`;
    },
  })
  .transform((level) => level.toUpperCase());

const TYPE_EXPECTED = 'expected the provider type fernet, aes-gcm or module';
const KMS_NOTE = 'a KMS is used through a module provider (type: module, module: ./my-kms.mjs)';
const providerType = z
  .string({ error: TYPE_EXPECTED })
  .refine((type) => (PROVIDER_TYPES as readonly string[]).includes(type), {
    error: (issue) => `${TYPE_EXPECTED}, got ${echo(issue.input)}; ${KMS_NOTE}`,
    params: { hint: 'write a module provider that calls your KMS and set type: module; see docs/config.md' },
  })
  .transform((type) => type as CipherSpec['type']);

const KEY_REF_EXPECTED = 'expected {env: VARIABLE} or {file: PATH}, with optional version and id (keys come only from environment variables or files)';
const keyRef = section({ env: envName.optional(), file: filePath.optional(), version: keyVersion.optional(), id: keyId.optional() }, KEY_REF_EXPECTED);

const providerSchema = section(
  {
    type: providerType,
    old_key_env: envName.optional(),
    old_key_file: filePath.optional(),
    old_key_version: keyVersion.optional(),
    old_key_id: keyId.optional(),
    new_key_env: envName.optional(),
    new_key_file: filePath.optional(),
    new_key_version: keyVersion.optional(),
    new_key_id: keyId.optional(),
    old_keys: z.array(keyRef, { error: `expected a non-empty list of keys: ${KEY_REF_EXPECTED}` }).min(1, { error: 'expected a non-empty list of keys' }).optional(),
    new_key: keyRef.optional(),
    module: filePath.optional(),
    options: z.record(z.string(), z.unknown(), { error: 'expected a mapping of provider options' }).optional(),
    associated_data: z.unknown(),
    key_id_prefix: z.unknown(),
  },
  'expected a mapping such as {type: fernet, old_key_env: VARIABLE, new_key_env: VARIABLE}',
);

const tableSchema = section(
  {
    name: text('expected the table name'),
    partition_key: nameList('expected a non-empty list of column names', 1).optional(),
    clustering_key: nameList('expected a list of column names', 0).optional(),
    encrypted_columns: nameList('expected a non-empty list of column names', 1),
    chunks: integer('expected a positive integer', 1, Number.MAX_SAFE_INTEGER).optional(),
    preserve_ttl: flag.default(true),
    preserve_writetime: flag.default(true),
    use_lwt_guard: flag.default(false),
    consistency: section({ read: consistency.default('LOCAL_QUORUM'), write: consistency.default('LOCAL_QUORUM') }, 'expected {read: LEVEL, write: LEVEL}').optional(),
  },
  'expected a table: {name: NAME, encrypted_columns: [COLUMN, …]}',
);

const configSchema = section(
  {
    cluster: section(
      {
        contact_points: z
          .array(text('expected a host name or address'), { error: 'expected a non-empty list of hosts' })
          .min(1, { error: 'expected a non-empty list of hosts' })
          .optional(),
        port: integer('expected a port number from 1 to 65535', 1, 65535).default(9042),
        local_dc: text('expected the local datacenter name').optional(),
        keyspace: text('expected the keyspace name'),
        username: text('expected a user name').optional(),
        password_file: filePath.optional(),
      },
      'expected a mapping such as {contact_points: [HOST, …], keyspace: NAME}',
    ),
    state: section({ keyspace: text('expected a keyspace name').optional() }, 'expected {keyspace: NAME}').optional(),
    provider: providerSchema,
    tables: z.array(tableSchema, { error: 'expected a non-empty list of tables' }).min(1, { error: 'expected a non-empty list of tables' }),
    execution: section(
      {
        workers: integer('expected an integer from 1 to 256', 1, 256).default(4),
        rate: positive('expected a positive number of rows per second').optional(),
        read_p99_threshold_ms: positive('expected a positive number of milliseconds').optional(),
        pause_on_backpressure: flag.default(false),
      },
      'expected a mapping such as {workers: 16}',
    ).optional(),
    repo: text('expected a repository URL or directory').optional(),
    key_version_column: text('expected a column name, or null when the tables have none').nullable().optional(),
  },
  'expected a mapping of settings (cluster, provider, tables, …)',
);

type RawConfig = z.output<typeof configSchema>;
type RawProvider = z.output<typeof providerSchema>;
type RawKeyRef = z.output<typeof keyRef>;
type RawTable = z.output<typeof tableSchema>;

// ---------------------------------------------------------------------------------------------
// Normalization and the checks that span several settings

interface NormalizeContext {
  readonly file: string;
  /** The config file's folder: the base of relative paths. */
  readonly base: string;
  /** The source text of a scalar, to convert numeric key versions exactly as written. */
  readonly source: (path: Path) => string | undefined;
  readonly problems: Problem[];
}

function normalize(raw: RawConfig, ctx: NormalizeContext): RotationConfig {
  const keyVersionColumn = raw.key_version_column === undefined ? DEFAULT_KEY_VERSION_COLUMN : raw.key_version_column;
  const { cluster, execution } = raw;
  return {
    file: ctx.file,
    cluster: {
      contactPoints: cluster.contact_points ?? [],
      port: cluster.port,
      ...(cluster.local_dc === undefined ? {} : { localDc: cluster.local_dc }),
      keyspace: cluster.keyspace,
      ...(cluster.username === undefined ? {} : { username: cluster.username }),
      ...(cluster.password_file === undefined ? {} : { passwordFile: resolve(ctx.base, cluster.password_file) }),
    },
    ...(raw.repo === undefined ? {} : { repo: repositoryUrl(raw.repo, ctx.base) }),
    ...(raw.state?.keyspace === undefined ? {} : { stateKeyspace: raw.state.keyspace }),
    provider: normalizeProvider(raw.provider, ctx),
    keyVersionColumn,
    tables: normalizeTables(raw.tables, keyVersionColumn, ctx.problems),
    execution: {
      workers: execution?.workers ?? 4,
      ...(execution?.rate === undefined ? {} : { rate: execution.rate }),
      ...(execution?.read_p99_threshold_ms === undefined ? {} : { readP99ThresholdMs: execution.read_p99_threshold_ms }),
      pauseOnBackpressure: execution?.pause_on_backpressure ?? false,
    },
  };
}

/** A directory path is resolved against the config's folder; URLs (s3://, file://) are kept. */
function repositoryUrl(url: string, base: string): string {
  const hasScheme = /^[A-Za-z][A-Za-z0-9+.-]+:/.test(url);
  return hasScheme || isAbsolute(url) ? url : resolve(base, url);
}

function normalizeProvider(p: RawProvider, ctx: NormalizeContext): CipherSpec {
  const at: Path = ['provider'];
  const problem = (path: Path, message: string): void => void ctx.problems.push({ path, message });
  const keys: { spec: KeySpec; path: Path }[] = [];

  /** One key, from the flat form (`new_key_env: X`, at `provider`) or a mapping (`{env: X}`, at `path`). */
  const keySpec = (ref: RawKeyRef, path: Path, prefix: '' | 'old_key_' | 'new_key_'): KeySpec | undefined => {
    const setting = (name: 'env' | 'file' | 'version' | 'id'): Path => (prefix === '' ? [...path, name] : [...path, `${prefix}${name}`]);
    const [env, file] = prefix === '' ? ['env', 'file'] : [`${prefix}env`, `${prefix}file`];
    if (ref.env !== undefined && ref.file !== undefined) {
      problem(setting('file'), `give ${env} or ${file}, not both`);
      return undefined;
    }
    if (ref.env === undefined && ref.file === undefined) {
      if (prefix === '') problem(path, `missing env or file; ${KEY_REF_EXPECTED}`);
      if (prefix !== '' && ref.version !== undefined) problem(setting('version'), `needs ${env} or ${file}`);
      if (prefix !== '' && ref.id !== undefined) problem(setting('id'), `needs ${env} or ${file}`);
      return undefined;
    }
    const version = ref.version === undefined ? undefined : versionText(ref.version, setting('version'), ctx);
    const spec: KeySpec = {
      source: ref.file === undefined ? { env: ref.env as string } : { file: resolve(ctx.base, ref.file) },
      ...(version === undefined ? {} : { version }),
      ...(ref.id === undefined ? {} : { id: ref.id }),
    };
    keys.push({ spec, path: prefix === '' ? path : setting(ref.file === undefined ? 'env' : 'file') });
    return spec;
  };
  const flatNew = defined({ env: p.new_key_env, file: p.new_key_file, version: p.new_key_version, id: p.new_key_id });
  const flatOld = defined({ env: p.old_key_env, file: p.old_key_file, version: p.old_key_version, id: p.old_key_id });
  const flatNewGiven = Object.keys(flatNew).length > 0;

  if (p.new_key !== undefined && flatNewGiven) {
    problem([...at, 'new_key'], 'give the new key one way, new_key: {env | file, version, id} or new_key_env / new_key_file, not both');
  }
  const newKey = p.new_key !== undefined ? keySpec(p.new_key, [...at, 'new_key'], '') : flatNewGiven ? keySpec(flatNew, at, 'new_key_') : undefined;
  const oldKeys = [
    Object.keys(flatOld).length > 0 ? keySpec(flatOld, at, 'old_key_') : undefined,
    ...(p.old_keys ?? []).map((ref, i) => keySpec(ref, [...at, 'old_keys', i], '')),
  ].filter((k): k is KeySpec => k !== undefined);
  checkDistinctKeys(keys, problem);

  if (p.type === 'module') {
    if (p.module === undefined) problem(at, 'type module needs module: the path of your ES module, such as ./my-provider.mjs');
  } else {
    if (p.new_key === undefined && !flatNewGiven) problem(at, `${p.type} needs the new key: set new_key_env or new_key_file (or new_key: {env | file})`);
    if (p.old_keys === undefined && Object.keys(flatOld).length === 0) problem(at, `${p.type} needs at least one old key: set old_key_env, old_key_file or old_keys`);
    if (p.module !== undefined) problem([...at, 'module'], 'applies only to type: module');
  }

  // aes-gcm's own settings may be written directly under provider; they belong in options.
  const options: Record<string, unknown> = { ...(p.options ?? {}) };
  for (const name of ['associated_data', 'key_id_prefix'] as const) {
    if (p[name] === undefined) continue;
    if (p.type !== 'aes-gcm') problem([...at, name], 'applies only to type: aes-gcm (other providers take their options under provider.options)');
    else if (name in options) problem([...at, name], 'also given under provider.options; give it once');
    else options[name] = p[name];
  }

  return {
    type: p.type,
    ...(newKey === undefined ? {} : { newKey }),
    oldKeys,
    ...(p.module === undefined ? {} : { module: resolve(ctx.base, p.module) }),
    options,
  };
}

/** The entries of `record` whose value is not undefined (exactOptionalPropertyTypes-friendly). */
function defined<T extends object>(record: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/** No key source, explicit version or key id may be used by two keys (new and old together). */
function checkDistinctKeys(keys: readonly { spec: KeySpec; path: Path }[], problem: (path: Path, message: string) => void): void {
  const firstUse = new Map<string, Path>();
  const claim = (what: string, path: Path): void => {
    const first = firstUse.get(what);
    if (first === undefined) firstUse.set(what, path);
    else problem(path, `the same ${what} as ${formatPath(first)}; every key must be distinct`);
  };
  for (const { spec, path } of keys) {
    claim('env' in spec.source ? `environment variable ${spec.source.env}` : `key file ${spec.source.file}`, path);
    if (spec.version !== undefined) claim(`key version ${JSON.stringify(spec.version)}`, path);
    if (spec.id !== undefined) claim(`key id ${spec.id}`, path);
  }
}

/** A key version as text; a YAML number is taken only when its decimal string is what was written. */
function versionText(version: string | number, path: Path, ctx: NormalizeContext): string | undefined {
  if (typeof version === 'string') return version;
  const written = ctx.source(path);
  if (written !== undefined && String(version) !== written) {
    ctx.problems.push({ path, message: `expected a key version; YAML reads ${written} as the number ${String(version)}, so quote it: "${written}"` });
    return undefined;
  }
  return String(version);
}

function normalizeTables(tables: readonly RawTable[], keyVersionColumn: string | null, problems: Problem[]): TableRotation[] {
  const firstByName = new Map<string, number>();
  return tables.map((t, i) => {
    const at: Path = ['tables', i];
    const problem = (path: Path, message: string): void => void problems.push({ path, message });
    const earlier = firstByName.get(t.name);
    if (earlier !== undefined) problem([...at, 'name'], `table ${t.name} is already listed at tables[${earlier}]`);
    else firstByName.set(t.name, i);

    const keyColumns = new Map<string, string>();
    for (const part of ['partition_key', 'clustering_key'] as const) {
      (t[part] ?? []).forEach((column, j) => {
        const already = keyColumns.get(column);
        if (already !== undefined) problem([...at, part, j], `${column} is already in ${already}`);
        else keyColumns.set(column, part);
        if (column === keyVersionColumn) problem([...at, part, j], `${column} is the key-version column (key_version_column): rotation writes it, so it cannot be a key column`);
      });
    }
    const encrypted = new Set<string>();
    t.encrypted_columns.forEach((column, j) => {
      const path = [...at, 'encrypted_columns', j];
      const inKey = keyColumns.get(column);
      if (encrypted.has(column)) problem(path, `${column} is listed twice`);
      else if (inKey !== undefined) problem(path, `${column} is in ${inKey}: rotating a key column needs copy-and-swap, which is out of scope`);
      else if (column === keyVersionColumn) problem(path, `${column} is the key-version column (key_version_column); it holds key versions and cannot be encrypted`);
      encrypted.add(column);
    });
    if (t.use_lwt_guard && keyVersionColumn === null) {
      problem([...at, 'use_lwt_guard'], 'the guard compares the key-version column, but key_version_column is null');
    }
    return {
      name: t.name,
      ...(t.partition_key === undefined ? {} : { partitionKey: t.partition_key }),
      ...(t.clustering_key === undefined ? {} : { clusteringKey: t.clustering_key }),
      encryptedColumns: t.encrypted_columns,
      ...(t.chunks === undefined ? {} : { chunks: t.chunks }),
      preserveTtl: t.preserve_ttl,
      preserveWritetime: t.preserve_writetime,
      useLwtGuard: t.use_lwt_guard,
      consistency: { read: t.consistency?.read ?? 'LOCAL_QUORUM', write: t.consistency?.write ?? 'LOCAL_QUORUM' },
    };
  });
}
