/**
 * Reading key text from where a {@link KeySource} points, and decoding the common text forms of
 * raw keys. Messages name the environment variable or the file, never what it holds.
 */
import { readFileSync } from 'node:fs';
import { CassetteError } from '../errors.js';
import type { KeySource } from './cipher.js';

/** How key files are read: `fs.readFileSync` in production, a fake in tests. */
export type ReadKeyFile = (path: string, encoding: 'utf8') => string;

/** The name of a key source for messages: the variable's name, or `key file <path>`. */
export function keySourceName(source: KeySource): string {
  return 'env' in source ? source.env : `key file ${source.file}`;
}

/**
 * The key text a source holds. An environment variable must be set and non-empty and is used as
 * it is; a file's content is used with trailing whitespace (the final newline) removed.
 * Throws INVALID_INPUT naming the variable or file when there is no key text.
 */
export function readKeyText(
  source: KeySource,
  env: Readonly<Record<string, string | undefined>>,
  readFile: ReadKeyFile = readFileSync,
): string {
  if ('env' in source) {
    const value = env[source.env];
    if (value === undefined) {
      throw new CassetteError('INVALID_INPUT', `environment variable ${source.env} is not set`, {
        hint: `export ${source.env} with the key before running cassette (keys are never taken from flags or config files)`,
      });
    }
    if (value === '') {
      throw new CassetteError('INVALID_INPUT', `environment variable ${source.env} is empty`, {
        hint: `set ${source.env} to the key text`,
      });
    }
    return value;
  }
  let content: string;
  try {
    content = readFile(source.file, 'utf8');
  } catch (err) {
    throw new CassetteError('INVALID_INPUT', `key file ${source.file} cannot be read (${fileErrorReason(err)})`, {
      hint: 'check the path in the config and that this user may read the file',
    });
  }
  const text = content.trimEnd();
  if (text === '') {
    throw new CassetteError('INVALID_INPUT', `key file ${source.file} is empty`, {
      hint: 'write the key text into the file (one line)',
    });
  }
  return text;
}

function fileErrorReason(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  switch (code) {
    case 'ENOENT':
      return 'it does not exist';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    default:
      return typeof code === 'string' ? code : 'read failed';
  }
}

const BASE64_TEXT = /^[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * Decodes base64 in either alphabet (standard `+/` or url-safe `-_`), padded or not, strictly:
 * any other character, misplaced padding or an impossible length gives undefined.
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (!BASE64_TEXT.test(text)) return undefined;
  const body = text.replace(/=+$/, '');
  const padding = text.length - body.length;
  if (body.length % 4 === 1) return undefined;
  if (padding > 0 && padding !== (4 - (body.length % 4)) % 4) return undefined;
  // Node's base64 decoder reads both alphabets; the pattern above has already refused anything else.
  return Buffer.from(body, 'base64');
}

const HEX_KEY = /^[0-9a-fA-F]+$/;

/** Decodes hex text (an even number of hex digits), or undefined. */
export function decodeHexStrict(text: string): Buffer | undefined {
  if (text.length % 2 !== 0 || !HEX_KEY.test(text)) return undefined;
  return Buffer.from(text, 'hex');
}
