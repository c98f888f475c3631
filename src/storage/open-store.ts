/**
 * Chooses a {@link BlobStore} implementation from a repository URL, Litestream-style: the scheme
 * picks the backend, so commands never know which one they write to.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CassetteError } from '../errors.js';
import { assertValidKey, type BlobStore } from './blob-store.js';
import { FsStore } from './fs-store.js';
import { S3Store, type S3Credentials } from './s3-store.js';

/** Settings that are not part of the URL. S3 ones are ignored for a directory. */
export interface OpenStoreOptions {
  /** Endpoint URL of an S3-compatible service (MinIO): `http(s)://host:port`, no credentials. */
  readonly s3Endpoint?: string;
  /** S3 region; the AWS default chain (AWS_REGION, profile) if absent. */
  readonly s3Region?: string;
  /** Path-style addressing; defaults to true when `s3Endpoint` is given (MinIO), else false. */
  readonly s3ForcePathStyle?: boolean;
  /** Static S3 credentials; the AWS default provider chain if absent. Never from CLI flags. */
  readonly credentials?: S3Credentials;
  /** Base of relative directory paths; the process's working directory if absent. */
  readonly cwd?: string;
}

const ACCEPTED = 'use s3://<bucket>/<prefix>, file:///<absolute/path>, or a directory path';

/**
 * Opens the repository `url` names:
 * - `s3://bucket` or `s3://bucket/prefix/path` → an S3 store (`/` at either end of the prefix is
 *   ignored);
 * - `file:///absolute/path` → a directory store;
 * - anything without a scheme → a directory store, a relative path resolved against `cwd`.
 *
 * Nothing is contacted yet: an unreachable repository fails on first use. Throws
 * CassetteError('INVALID_INPUT') for an unknown scheme or a malformed URL; messages never repeat
 * the URL's user-info part, which could hold a secret.
 */
export function openStore(url: string, options: OpenStoreOptions = {}): BlobStore {
  if (url === '') throw invalid('the repository URL is empty');
  // Two or more letters, so that a Windows drive (`C:\…`) reads as a path, not a scheme.
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]+):/.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return new FsStore(resolve(options.cwd ?? '', url));
  if (scheme === 's3') return openS3(url, options);
  if (scheme === 'file') return new FsStore(filePath(url));
  throw invalid(`unsupported repository URL scheme "${scheme}:"`);
}

function openS3(url: string, options: OpenStoreOptions): S3Store {
  if (url.slice(2, 5) !== '://') throw invalid('an S3 repository URL must start with s3://');
  const rest = url.slice('s3://'.length);
  if (/[?#]/.test(rest)) throw invalid('an S3 repository URL takes no query or fragment (?, #)');
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  if (bucket.includes('@')) {
    throw invalid('the repository URL must not contain credentials', 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, in the environment');
  }
  // Lenient on purpose: legacy AWS buckets and other services allow more than today's AWS rules.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{2,254}$/.test(bucket)) throw invalid(`invalid S3 bucket name "${bucket}"`);
  const prefix = (slash === -1 ? '' : rest.slice(slash + 1)).replace(/\/+$/, '');
  if (prefix !== '') {
    try {
      assertValidKey(prefix);
    } catch {
      throw invalid(`invalid prefix "${prefix}" in the S3 repository URL (empty, "." or ".." segments, or a backslash)`);
    }
  }
  const endpoint = options.s3Endpoint === undefined ? undefined : checkEndpoint(options.s3Endpoint);
  return new S3Store({
    bucket,
    prefix,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(options.s3Region === undefined ? {} : { region: options.s3Region }),
    // Virtual-hosted style needs DNS per bucket, which MinIO and most self-hosted services lack.
    forcePathStyle: options.s3ForcePathStyle ?? endpoint !== undefined,
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
  });
}

function checkEndpoint(endpoint: string): string {
  let parsed: URL;
  try {
    parsed = new URL(endpoint);
  } catch {
    throw invalid('the S3 endpoint is not a URL', 'give it as http://host:port or https://host');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalid(`the S3 endpoint must be an http or https URL, not "${parsed.protocol}"`, 'give it as http://host:port or https://host');
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw invalid('the S3 endpoint URL must not contain credentials', 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, in the environment');
  }
  return endpoint;
}

function filePath(url: string): string {
  if (url.slice(4, 7) !== '://') throw invalid('a file repository URL must start with file://');
  try {
    return fileURLToPath(url);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n', 1)[0] ?? '' : '';
    throw invalid(`invalid file repository URL: ${reason}`);
  }
}

function invalid(message: string, hint: string = ACCEPTED): CassetteError {
  return new CassetteError('INVALID_INPUT', message, { hint });
}
