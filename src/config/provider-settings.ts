/**
 * The rotation config's `provider` section: its schema and its normalization into a
 * {@link CipherSpec}. cassandra-rekey's settings (`type`, `old_key_env`, `new_key_env`, `module`)
 * and cassette's additions (key files, `old_keys`, `new_key`, key versions and ids, `options`, the
 * aes-gcm options written directly under `provider`). Checks that span keys: each key given one
 * way, every key source, version and id distinct, numeric versions taken only as written.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import type { CipherSpec, KeySpec, KmsSpec } from '../crypto/cipher.js';
import { echo, formatPath, type Path } from './config-problems.js';
import { filePath, integer, section, type NormalizeContext } from './setting-parts.js';

/** Provider types a rotation config may name (`aws_kms`, cassandra-rekey's spelling, is read as `aws-kms`). */
export const PROVIDER_TYPES: readonly CipherSpec['type'][] = ['fernet', 'aes-gcm', 'aws-kms', 'module'];
/** cassandra-rekey's defaults for the versions of its aws_kms keys. */
const KMS_DEFAULT_VERSIONS = { old: 'v1', new: 'v2' } as const;

const envName = z
  .string({ error: 'expected the name of an environment variable' })
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected the name of an environment variable (letters, digits and _)' });
const keyVersion = z.union([z.string().min(1), z.number()], { error: 'expected a key version, such as "2"' });
const keyId = integer('expected a key id, an integer from 0 to 4294967295', 0, 0xffff_ffff);

const TYPE_EXPECTED = 'expected the provider type fernet, aes-gcm, aws-kms or module';
const KMS_NOTE = 'another KMS is used through a module provider (type: module, module: ./my-kms.mjs)';
const providerType = z
  .string({ error: TYPE_EXPECTED })
  .transform((type) => (type === 'aws_kms' ? 'aws-kms' : type))
  .refine((type) => (PROVIDER_TYPES as readonly string[]).includes(type), {
    error: (issue) => `${TYPE_EXPECTED}, got ${echo(issue.input)}; ${KMS_NOTE}`,
    params: { hint: 'write a module provider that calls your KMS and set type: module; see docs/config.md' },
  })
  .transform((type) => type as CipherSpec['type']);
const cmkName = z.string({ error: 'expected a CMK: key ARN, key id, alias name (alias/…) or alias ARN' }).min(1, { error: 'expected a CMK, not an empty string' });

const KEY_REF_EXPECTED = 'expected {env: VARIABLE} or {file: PATH}, with optional version and id (keys come only from environment variables or files)';
const keyRef = section({ env: envName.optional(), file: filePath.optional(), version: keyVersion.optional(), id: keyId.optional() }, KEY_REF_EXPECTED);

/** The `provider` section as written. */
export const providerSchema = section(
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
    old_cmk_arn: z.union([cmkName, z.array(cmkName).min(1, { error: 'expected at least one CMK' })], { error: 'expected a CMK or a list of CMKs' }).optional(),
    new_cmk_arn: cmkName.optional(),
    aws_region: z.string({ error: 'expected an AWS region, such as eu-west-1' }).min(1).optional(),
    data_key_reuse: z.unknown(),
    data_key_cache: z.unknown(),
    options: z.record(z.string(), z.unknown(), { error: 'expected a mapping of provider options' }).optional(),
    associated_data: z.unknown(),
    key_id_prefix: z.unknown(),
  },
  'expected a mapping such as {type: fernet, old_key_env: VARIABLE, new_key_env: VARIABLE}',
);

type RawProvider = z.output<typeof providerSchema>;
type RawKeyRef = z.output<typeof keyRef>;

/** The provider as a {@link CipherSpec}; problems that span keys or settings go to `ctx.problems`. */
export function normalizeProvider(p: RawProvider, ctx: NormalizeContext): CipherSpec {
  const at: Path = ['provider'];
  const problem = (path: Path, message: string): void => void ctx.problems.push({ path, message });
  if (p.type === 'aws-kms') return normalizeKms(p, ctx);
  for (const name of KMS_ONLY) if (p[name] !== undefined) problem([...at, name], 'applies only to type: aws-kms');
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

const KMS_ONLY = ['old_cmk_arn', 'new_cmk_arn', 'aws_region', 'data_key_reuse', 'data_key_cache'] as const;
const LOCAL_KEY_SETTINGS = ['old_key_env', 'old_key_file', 'old_key_id', 'new_key_env', 'new_key_file', 'new_key_id', 'old_keys', 'new_key', 'module', 'associated_data', 'key_id_prefix'] as const;

/**
 * aws-kms: the CMKs (cassandra-rekey's `old_cmk_arn`, `new_cmk_arn`, `aws_region`; `old_cmk_arn`
 * may be a list) with one version for the old CMKs and one for the new (`old_key_version`,
 * `new_key_version`, cassandra-rekey's defaults v1 and v2). Keys live in KMS: key env/file settings are refused.
 */
function normalizeKms(p: RawProvider, ctx: NormalizeContext): CipherSpec {
  const at: Path = ['provider'];
  const problem = (path: Path, message: string): void => void ctx.problems.push({ path, message });
  for (const name of LOCAL_KEY_SETTINGS) {
    if (p[name] !== undefined) problem([...at, name], 'does not apply to type: aws-kms, whose keys stay in KMS (new_cmk_arn, old_cmk_arn)');
  }
  if (p.new_cmk_arn === undefined) problem(at, 'aws-kms needs new_cmk_arn: the CMK new data keys come from');
  if (p.old_cmk_arn === undefined) problem(at, 'aws-kms needs old_cmk_arn: the CMK (or a list of CMKs) values are encrypted under now');
  const version = (name: 'old_key_version' | 'new_key_version', fallback: string): string => {
    const written = p[name];
    return written === undefined ? fallback : (versionText(written, [...at, name], ctx) ?? fallback);
  };
  const newVersion = version('new_key_version', KMS_DEFAULT_VERSIONS.new);
  const oldVersion = version('old_key_version', KMS_DEFAULT_VERSIONS.old);
  if (newVersion === oldVersion) problem([...at, 'new_key_version'], `the same key version as old_key_version (${JSON.stringify(oldVersion)}); the new CMK's values need a version of their own`);
  const olds = p.old_cmk_arn === undefined ? [] : typeof p.old_cmk_arn === 'string' ? [p.old_cmk_arn] : p.old_cmk_arn;
  olds.forEach((cmk, i) => {
    if (cmk === p.new_cmk_arn) problem([...at, 'old_cmk_arn', ...(typeof p.old_cmk_arn === 'string' ? [] : [i])], 'the same CMK as new_cmk_arn; old and new CMKs must differ');
  });
  const kms: KmsSpec = {
    newCmk: { cmk: p.new_cmk_arn ?? '', version: newVersion },
    oldCmks: olds.map((cmk) => ({ cmk, version: oldVersion })),
    ...(p.aws_region === undefined ? {} : { region: p.aws_region }),
  };
  const options: Record<string, unknown> = { ...(p.options ?? {}) };
  for (const name of ['data_key_reuse', 'data_key_cache'] as const) {
    if (p[name] === undefined) continue;
    if (name in options) problem([...at, name], 'also given under provider.options; give it once');
    else options[name] = p[name];
  }
  return { type: 'aws-kms', oldKeys: [], options, kms };
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
