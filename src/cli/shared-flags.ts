/**
 * Flags every command shares — connection and repository — and their resolution into plain
 * option objects: flags > environment > defaults. Secrets never come from flags: the password is
 * read from CASSETTE_PASSWORD or the file named by --password-file.
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import {
  CONSISTENCY_NAMES, DEFAULT_CONSISTENCY, DEFAULT_SERIAL_CONSISTENCY, SERIAL_CONSISTENCY_NAMES, type ConnectionOptions,
} from '../cassandra/connection/options.js';
import { CassetteError } from '../errors.js';
import type { SealingOptions } from '../manifest/sealed-store.js';
import { checkRecipients, parseIdentityFile, parsePassphraseFile, parseRecipientsFile } from '../storage/age-codec.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Adds the connection flags (same names in every command). */
export function addConnectionFlags(command: Command): Command {
  return command
    .option('--hosts <list>', 'comma-separated contact points, host or host:port [env CASSETTE_HOSTS]', undefined)
    .option('--port <n>', 'native protocol port [env CASSETTE_PORT]', undefined)
    .option('--dc <name>', 'local datacenter; discovered from the first contact point when omitted [env CASSETTE_DC]')
    .option('--username <name>', 'user for PasswordAuthenticator; password from CASSETTE_PASSWORD or --password-file [env CASSETTE_USERNAME]')
    .option('--password-file <file>', 'file whose first line is the password')
    .option('--tls', 'connect with TLS')
    .option('--tls-ca <file>', 'PEM file of the CA that signed the server certificate (implies --tls)')
    .option('--tls-cert <file>', 'PEM client certificate, for client authentication (implies --tls)')
    .option('--tls-key <file>', 'PEM client private key (implies --tls)')
    .option('--tls-insecure', 'do not verify the server certificate (testing only; implies --tls)')
    .addOption(new Option('--consistency <level>', 'consistency level of every read and write: ONE, LOCAL_ONE, QUORUM, LOCAL_QUORUM, EACH_QUORUM, ALL, … [env CASSETTE_CONSISTENCY]').default(undefined, 'LOCAL_QUORUM'))
    .addOption(new Option('--serial-consistency <level>', 'serial consistency of LWT writes: LOCAL_SERIAL or SERIAL [env CASSETTE_SERIAL_CONSISTENCY]').default(undefined, 'LOCAL_SERIAL'))
    .option('--request-timeout <ms>', 'per-request timeout in milliseconds', '30000');
}

/** Adds the repository flags. */
export function addRepositoryFlags(command: Command): Command {
  return command
    .option('--repo <url>', 'backup repository: s3://bucket/prefix, a directory, or file:///path [env CASSETTE_REPO, default ./cassette-repo]')
    .option('--s3-endpoint <url>', 'S3 endpoint for MinIO and other S3-compatible stores [env CASSETTE_S3_ENDPOINT]')
    .option('--s3-region <region>', 'S3 region [env AWS_REGION, default us-east-1]')
    .option('--no-s3-path-style', 'use virtual-hosted-style S3 URLs (default: path-style when --s3-endpoint is given)')
    .addOption(new Option('--retry-for <duration>', 'wait out an outage of the repository or of Cassandra for this long before failing: 90s, 5m, 1h; 0 fails at the first error [env CASSETTE_RETRY_FOR]').default(undefined, '5m'))
    .option('--identity <file>', 'age identity file (age-keygen output) that opens encrypted backups [env CASSETTE_AGE_IDENTITY_FILE]')
    .option('--passphrase-file <file>', 'file whose first line is the passphrase of backups encrypted with one; backup and rekey encrypt the new backup with it [env CASSETTE_AGE_PASSPHRASE_FILE]');
}

/** Adds the flags that encrypt what a command writes (backup, rekey). */
export function addEncryptionFlags(command: Command): Command {
  return command
    .option('--encrypt-to <recipient>', 'encrypt the new backup with age to this public key (age1…); repeat for more recipients', (value: string, previous: string[] = []) => [...previous, value])
    .option('--recipients-file <file>', 'encrypt the new backup with age to the public keys in this file (one age1… per line)');
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "90s", "5m", "1h30m", "250ms", "0"; a bare number is seconds. USAGE naming `flag` otherwise. */
export function parseDuration(value: string, flag: string): number {
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const parts = [...text.matchAll(/(\d+)(ms|s|m|h)/g)];
  if (text === '' || parts.map((p) => p[0]).join('') !== text) {
    throw new CassetteError('USAGE', `${flag} must be a duration like 90s, 5m or 1h (0 to fail at the first error), not "${value}"`);
  }
  return parts.reduce((ms, p) => ms + Number(p[1]) * (DURATION_UNITS[p[2] as string] ?? 0), 0);
}

/** Parses a positive integer flag, naming the flag when it is not one. */
export function positiveInt(value: string | undefined, flag: string, fallback: number, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new CassetteError('USAGE', `${flag} must be an integer between ${min} and ${max}, not "${value}"`);
  }
  return n;
}

interface ConnectionFlags {
  hosts?: string; port?: string; dc?: string; username?: string; passwordFile?: string;
  tls?: boolean; tlsCa?: string; tlsCert?: string; tlsKey?: string; tlsInsecure?: boolean;
  consistency?: string; serialConsistency?: string; requestTimeout?: string;
}

/**
 * A level from its flag, else its environment variable, else the default; upper-cased. A name not
 * in `allowed` is a USAGE error naming where it came from.
 */
function resolveLevel(flag: string | undefined, env: string | undefined, names: { flag: string; env: string }, allowed: readonly string[], fallback: string, also = ''): string {
  const given = flag ?? (env === '' ? undefined : env);
  if (given === undefined) return fallback;
  const level = given.trim().toUpperCase();
  if (allowed.includes(level)) return level;
  const source = flag === undefined ? names.env : names.flag;
  const list = allowed.length === 2 ? `${allowed[0]} or ${allowed[1]}` : `one of ${allowed.join(', ')}`;
  throw new CassetteError('USAGE', `${source} must be ${list}, not "${given}"${also}`);
}

function readPasswordFile(file: string, origin: string): string {
  try {
    const first = readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '';
    if (first === '') throw new Error('the file is empty');
    return first;
  } catch (err) {
    throw new CassetteError('INVALID_INPUT', `cannot read the password file ${file}${origin}: ${(err as Error).message}`);
  }
}

function readPassword(flags: ConnectionFlags, env: Env): string | undefined {
  if (flags.passwordFile !== undefined) return readPasswordFile(flags.passwordFile, '');
  return env.CASSETTE_PASSWORD === undefined || env.CASSETTE_PASSWORD === '' ? undefined : env.CASSETTE_PASSWORD;
}

/**
 * Settings from a config file, used only when neither the flag nor the environment variable gives
 * one (flags > environment > config file > defaults).
 */
export interface ConnectionFallbacks {
  readonly hosts?: readonly string[];
  readonly port?: number;
  readonly dc?: string;
  readonly username?: string;
  /** Read only when neither --password-file nor CASSETTE_PASSWORD gives the password. */
  readonly passwordFile?: string;
  /** Where these settings come from, for messages (`rekey.yaml`). */
  readonly origin?: string;
}

/** Resolves the connection flags into ConnectionOptions; `fallbacks` come from a config file. */
export function resolveConnection(flags: ConnectionFlags, env: Env, fallbacks: ConnectionFallbacks = {}): ConnectionOptions {
  const configHosts = fallbacks.hosts === undefined || fallbacks.hosts.length === 0 ? undefined : fallbacks.hosts.join(',');
  const hostList = flags.hosts ?? env.CASSETTE_HOSTS ?? configHosts ?? '127.0.0.1';
  const hosts = hostList.split(',').map((h) => h.trim()).filter((h) => h !== '');
  if (hosts.length === 0) throw new CassetteError('USAGE', '--hosts names no host');
  const username = flags.username ?? env.CASSETTE_USERNAME ?? fallbacks.username;
  const password = readPassword(flags, env) ??
    (fallbacks.passwordFile === undefined ? undefined : readPasswordFile(fallbacks.passwordFile, ` (named in ${fallbacks.origin ?? 'the config file'})`));
  const dc = flags.dc ?? env.CASSETTE_DC ?? fallbacks.dc;
  const useTls = flags.tls === true || flags.tlsCa !== undefined || flags.tlsCert !== undefined || flags.tlsKey !== undefined || flags.tlsInsecure === true;
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    throw new CassetteError('USAGE', '--tls-cert and --tls-key go together');
  }
  return {
    hosts,
    port: positiveInt(flags.port ?? env.CASSETTE_PORT, '--port', fallbacks.port ?? 9042, { max: 65535 }),
    ...(dc === undefined || dc === '' ? {} : { dc }),
    ...(username === undefined || username === '' ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    ...(useTls
      ? {
          tls: {
            insecure: flags.tlsInsecure === true,
            ...(flags.tlsCa === undefined ? {} : { caFile: flags.tlsCa }),
            ...(flags.tlsCert === undefined ? {} : { certFile: flags.tlsCert }),
            ...(flags.tlsKey === undefined ? {} : { keyFile: flags.tlsKey }),
          },
        }
      : {}),
    consistency: resolveConsistency(flags, env),
    serialConsistency: resolveLevel(flags.serialConsistency, env.CASSETTE_SERIAL_CONSISTENCY, { flag: '--serial-consistency', env: 'CASSETTE_SERIAL_CONSISTENCY' },
      SERIAL_CONSISTENCY_NAMES, DEFAULT_SERIAL_CONSISTENCY),
    requestTimeoutMs: positiveInt(flags.requestTimeout, '--request-timeout', 30_000, { min: 100 }),
  };
}

function resolveConsistency(flags: ConnectionFlags, env: Env): string {
  const given = (flags.consistency ?? env.CASSETTE_CONSISTENCY ?? '').trim().toUpperCase();
  const serial = (SERIAL_CONSISTENCY_NAMES as readonly string[]).includes(given);
  return resolveLevel(flags.consistency, env.CASSETTE_CONSISTENCY, { flag: '--consistency', env: 'CASSETTE_CONSISTENCY' },
    CONSISTENCY_NAMES, DEFAULT_CONSISTENCY, serial ? ` (${given} is a serial level: it goes in --serial-consistency)` : '');
}

interface RepositoryFlags {
  repo?: string; s3Endpoint?: string; s3Region?: string; s3PathStyle?: boolean; retryFor?: string;
  identity?: string; encryptTo?: string[] | string; recipientsFile?: string; passphraseFile?: string;
}

/** Repository location and S3 settings; credentials come from the AWS default chain. */
export interface RepositoryLocation {
  readonly url: string;
  readonly s3Endpoint?: string;
  readonly s3Region?: string;
  readonly s3ForcePathStyle?: boolean;
  /** --retry-for: how long an outage of the repository or of Cassandra is waited out. */
  readonly retryForMs: number;
  /** age keys: recipients new backups are encrypted to, identities that open encrypted ones. */
  readonly sealing: SealingOptions;
}

export function resolveRepository(flags: RepositoryFlags, env: Env): RepositoryLocation {
  const endpoint = flags.s3Endpoint ?? env.CASSETTE_S3_ENDPOINT;
  const region = flags.s3Region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  return {
    url: flags.repo ?? env.CASSETTE_REPO ?? './cassette-repo',
    ...(endpoint === undefined || endpoint === '' ? {} : { s3Endpoint: endpoint }),
    s3Region: region === undefined || region === '' ? 'us-east-1' : region,
    ...(flags.s3PathStyle === false ? { s3ForcePathStyle: false } : {}),
    retryForMs: resolveRetryFor(flags.retryFor, env),
    sealing: resolveSealing(flags, env),
  };
}

/**
 * --encrypt-to / --recipients-file (public keys, so flags may carry them), the identity file
 * (--identity, else CASSETTE_AGE_IDENTITY_FILE) and the passphrase file (--passphrase-file, else
 * CASSETTE_AGE_PASSPHRASE_FILE): secrets, so only ever read from files.
 */
function resolveSealing(flags: RepositoryFlags, env: Env): SealingOptions {
  const given = typeof flags.encryptTo === 'string' ? [flags.encryptTo] : flags.encryptTo ?? [];
  if (given.length > 0 && flags.recipientsFile !== undefined) {
    throw new CassetteError('USAGE', 'give --encrypt-to or --recipients-file, not both');
  }
  const sealNewTo = flags.recipientsFile !== undefined
    ? parseRecipientsFile(readKeyFile(flags.recipientsFile, '--recipients-file'), `--recipients-file ${flags.recipientsFile}`)
    : given.length > 0 ? checkRecipients(given, '--encrypt-to') : undefined;
  const identityFile = flags.identity ?? (env.CASSETTE_AGE_IDENTITY_FILE === '' ? undefined : env.CASSETTE_AGE_IDENTITY_FILE);
  const from = flags.identity !== undefined ? `--identity ${flags.identity}` : `CASSETTE_AGE_IDENTITY_FILE (${identityFile ?? ''})`;
  const identities = identityFile === undefined ? undefined : parseIdentityFile(readKeyFile(identityFile, from), identityFile);
  const passphraseFile = flags.passphraseFile ?? (env.CASSETTE_AGE_PASSPHRASE_FILE === '' ? undefined : env.CASSETTE_AGE_PASSPHRASE_FILE);
  const passphrase = passphraseFile === undefined ? undefined
    : parsePassphraseFile(readKeyFile(passphraseFile, flags.passphraseFile !== undefined ? `--passphrase-file ${passphraseFile}` : `CASSETTE_AGE_PASSPHRASE_FILE (${passphraseFile})`), passphraseFile);
  return { ...(sealNewTo === undefined ? {} : { sealNewTo }), ...(identities === undefined ? {} : { identities }), ...(passphrase === undefined ? {} : { passphrase }) };
}

function readKeyFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new CassetteError('INVALID_INPUT', `${what}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { hint: 'check the path and its permissions' });
  }
}

/** --retry-for, else CASSETTE_RETRY_FOR, else 5 minutes. */
function resolveRetryFor(flag: string | undefined, env: Env): number {
  if (flag !== undefined) return parseDuration(flag, '--retry-for');
  const fromEnv = env.CASSETTE_RETRY_FOR;
  return fromEnv === undefined || fromEnv === '' ? 5 * 60_000 : parseDuration(fromEnv, 'CASSETTE_RETRY_FOR');
}

/** commander's parsed options: flag name (camelCase) → value. */
export type ParsedFlags = Readonly<Record<string, string | boolean | undefined>>;

/** The string value of a flag, or undefined when it was not given. */
export function stringFlag(flags: ParsedFlags, name: string): string | undefined {
  const value = flags[name];
  return typeof value === 'string' ? value : undefined;
}

/** A comma-separated flag (`--tables a,b`) as trimmed, non-empty names; undefined when not given. */
export function listFlag(flags: ParsedFlags, name: string): string[] | undefined {
  return stringFlag(flags, name)?.split(',').map((t) => t.trim()).filter((t) => t !== '');
}
