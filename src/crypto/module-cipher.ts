/**
 * The `module` provider: a user's ES module does the cryptography (a KMS, an in-house format)
 * and cassette adapts it to {@link ColumnCipher}. The module exports `createProvider(context)`
 * (named, or as the default export) returning, or resolving to, a {@link ModuleProvider}.
 * docs/config.md ("Crypto providers") is the contract for module authors.
 *
 * Failures: a module that cannot be found, loaded or that returns a malformed provider is
 * INVALID_INPUT; an error thrown with `unavailable === true` or named `ProviderUnavailableError`
 * (from createProvider, decrypt or encrypt) is PROVIDER_UNAVAILABLE; any other error thrown by
 * decrypt only means "cannot open this value". Messages carry the module's path and the first
 * line of the module's error with quoted strings and long key-like runs removed — never the
 * error itself, which might quote a key or a value.
 */
import { statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CassetteError } from '../errors.js';
import type { CipherContext, CipherSpec, ColumnCipher, KeySpec, Opened } from './cipher.js';
import { readKeyText, type ReadKeyFile } from './key-material.js';

/** A configured key as a module sees it. */
export interface ProviderKey {
  /** The key text's UTF-8 bytes, exactly as read from the variable or file. */
  readonly material: Buffer;
  readonly version?: string;
}

/** What `createProvider` receives. */
export interface ProviderContext {
  /** The provider's `options` from the config, as written. */
  readonly options: Readonly<Record<string, unknown>>;
  /** The configured keys; both may be absent when the module manages its own. */
  readonly keys: { readonly new?: ProviderKey; readonly old: readonly ProviderKey[] };
}

/** What a module's decrypt may return: bytes, bytes with the opening key's version, or nothing. */
export type ModuleDecryptResult = Uint8Array | { readonly plaintext: Uint8Array; readonly keyVersion: string } | null | undefined;

/** The object `createProvider` returns. */
export interface ModuleProvider {
  /** The version new values are sealed under. */
  readonly keyVersion: string;
  readonly oldKeyVersions?: readonly string[];
  /** How text columns hold the ciphertext; default `base64`. */
  readonly textEncoding?: 'utf8' | 'base64';
  decrypt(ciphertext: Uint8Array, context: CipherContext): ModuleDecryptResult | Promise<ModuleDecryptResult>;
  encrypt(plaintext: Uint8Array, context: CipherContext): Uint8Array | Promise<Uint8Array>;
}

/** The version reported for values a module opened without saying which key opened them. */
export const UNKNOWN_KEY_VERSION = 'unknown';

const MAX_DETAIL = 160;

/**
 * The module {@link ColumnCipher}. Keys are optional here (the module may manage its own); each
 * configured key must be readable. Rejects with INVALID_INPUT or PROVIDER_UNAVAILABLE as above.
 */
export async function createModuleCipher(
  spec: CipherSpec,
  env: Readonly<Record<string, string | undefined>>,
  readFile?: ReadKeyFile,
): Promise<ColumnCipher> {
  const path = spec.module;
  if (path === undefined || path === '') {
    throw new CassetteError('INVALID_INPUT', 'the module provider needs the path of an ES module', {
      hint: 'set the provider\'s module to the file exporting createProvider',
    });
  }
  if (!isAbsolute(path)) {
    throw new CassetteError('INVALID_INPUT', `provider module ${path} is not an absolute path`, {
      hint: 'write the path absolute, or relative to the config file',
    });
  }
  const keyTexts: string[] = [];
  const providerKey = (key: KeySpec): ProviderKey => {
    const text = readKeyText(key.source, env, readFile);
    keyTexts.push(text);
    return { material: Buffer.from(text, 'utf8'), ...(key.version === undefined ? {} : { version: key.version }) };
  };
  const keys = {
    ...(spec.newKey === undefined ? {} : { new: providerKey(spec.newKey) }),
    old: spec.oldKeys.map(providerKey),
  };
  const detail = (err: unknown): string => describeModuleError(err, keyTexts);

  const factory = await loadFactory(path);
  let provider: unknown;
  try {
    provider = await factory({ options: spec.options, keys });
  } catch (err) {
    if (isUnavailable(err)) throw unavailable(path, detail(err));
    throw new CassetteError('INVALID_INPUT', `provider module ${path}: createProvider failed (${detail(err)})`, {
      hint: 'check the provider\'s options and keys',
    });
  }
  const checked = checkProvider(path, provider);
  const current = checked.keyVersion;

  return Object.freeze({
    type: 'module',
    newKeyVersion: current,
    oldKeyVersions: Object.freeze([...(checked.oldKeyVersions ?? [])]),
    textEncoding: checked.textEncoding ?? 'base64',
    async open(ciphertext: Buffer, context: CipherContext): Promise<Opened | undefined> {
      let result: ModuleDecryptResult;
      try {
        result = await checked.decrypt(ciphertext, context);
      } catch (err) {
        if (isUnavailable(err)) throw unavailable(path, detail(err));
        return undefined;
      }
      if (result === null || result === undefined) return undefined;
      if (result instanceof Uint8Array) return { plaintext: Buffer.from(result), keyVersion: UNKNOWN_KEY_VERSION, current: false };
      if (typeof result === 'object' && result.plaintext instanceof Uint8Array && typeof result.keyVersion === 'string') {
        return { plaintext: Buffer.from(result.plaintext), keyVersion: result.keyVersion, current: result.keyVersion === current };
      }
      throw new CassetteError('INVALID_INPUT', `provider module ${path}: decrypt returned neither bytes, { plaintext, keyVersion } nor null`, {
        hint: 'fix the module\'s decrypt (see "Crypto providers" in docs/config.md)',
      });
    },
    async seal(plaintext: Buffer, context: CipherContext): Promise<Buffer> {
      let result: unknown;
      try {
        result = await checked.encrypt(plaintext, context);
      } catch (err) {
        if (isUnavailable(err)) throw unavailable(path, detail(err));
        throw new CassetteError('PROVIDER_UNAVAILABLE', `provider module ${path}: encrypt failed (${detail(err)})`, {
          hint: 'fix the provider, then re-run (rotations resume)',
        });
      }
      if (!(result instanceof Uint8Array)) {
        throw new CassetteError('INVALID_INPUT', `provider module ${path}: encrypt returned no bytes`, {
          hint: 'encrypt must return (or resolve to) a Uint8Array',
        });
      }
      return Buffer.from(result);
    },
  } satisfies ColumnCipher);
}

type ProviderFactory = (context: ProviderContext) => unknown;

async function loadFactory(path: string): Promise<ProviderFactory> {
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    isFile = false;
  }
  if (!isFile) {
    throw new CassetteError('INVALID_INPUT', `provider module ${path} does not exist`, {
      hint: 'check the provider\'s module path',
    });
  }
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    throw new CassetteError('INVALID_INPUT', `provider module ${path} could not be loaded (${describeModuleError(err, [])})`, {
      hint: 'it must be an ES module (.mjs, or .js under "type": "module") that Node can import',
    });
  }
  const factory = typeof loaded['createProvider'] === 'function' ? loaded['createProvider'] : loaded['default'];
  if (typeof factory !== 'function') {
    throw new CassetteError('INVALID_INPUT', `provider module ${path} exports no createProvider function`, {
      hint: 'export function createProvider(context) { … } (or make it the default export)',
    });
  }
  return factory as ProviderFactory;
}

function checkProvider(path: string, value: unknown): ModuleProvider {
  const fail = (what: string): never => {
    throw new CassetteError('INVALID_INPUT', `provider module ${path}: createProvider returned ${what}`, {
      hint: 'see "Crypto providers" in docs/config.md for the members a provider needs',
    });
  };
  if (typeof value !== 'object' || value === null) return fail('no object');
  const provider = value as Record<string, unknown>;
  if (typeof provider['keyVersion'] !== 'string' || provider['keyVersion'] === '') fail('no keyVersion (a non-empty string)');
  if (typeof provider['decrypt'] !== 'function') fail('no decrypt function');
  if (typeof provider['encrypt'] !== 'function') fail('no encrypt function');
  const old = provider['oldKeyVersions'];
  if (old !== undefined && !(Array.isArray(old) && old.every((v) => typeof v === 'string'))) fail('oldKeyVersions that is not a list of strings');
  const encoding = provider['textEncoding'];
  if (encoding !== undefined && encoding !== 'utf8' && encoding !== 'base64') fail('a textEncoding other than utf8 or base64');
  return value as ModuleProvider;
}

function isUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { unavailable, name } = err as { unavailable?: unknown; name?: unknown };
  return unavailable === true || name === 'ProviderUnavailableError';
}

function unavailable(path: string, detail: string): CassetteError {
  return new CassetteError('PROVIDER_UNAVAILABLE', `provider module ${path}: service unavailable (${detail})`, {
    hint: 'bring the provider\'s service back, then re-run (rotations resume)',
  });
}

/**
 * The first line of a module's error, with what could be a value taken out: quoted strings,
 * runs of 12+ base64/hex characters that contain a digit, and any configured key text.
 */
export function describeModuleError(err: unknown, secrets: readonly string[]): string {
  const name = err instanceof Error ? err.name : typeof err === 'string' ? 'Error' : 'a thrown non-error';
  const raw = err instanceof Error ? err.message : typeof err === 'string' ? err : '';
  let line = raw.split(/\r?\n/, 1)[0] ?? '';
  for (const secret of secrets) if (secret !== '') line = line.split(secret).join('…');
  line = line
    .replace(/(["'`]).*?\1/g, '…')
    .replace(/[A-Za-z0-9+/=_-]{12,}/g, (run) => (/\d/.test(run) ? '…' : run))
    .trim();
  if (line.length > MAX_DETAIL) line = `${line.slice(0, MAX_DETAIL)}…`;
  if (line === '') return name;
  return name === 'Error' ? line : `${name}: ${line}`;
}
