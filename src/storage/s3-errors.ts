/**
 * Turns what the AWS SDK throws into REPOSITORY_UNAVAILABLE errors an operator can act on. Checks
 * are structural (name, HTTP status, errno code) so they hold for every SDK error class.
 */
import { CassetteError } from '../errors.js';
import { RepositoryOutageError } from './blob-store.js';

/** The repository an S3 error happened in, for the message. */
export interface S3ErrorContext {
  /** `s3://bucket/prefix`. */
  readonly description: string;
  readonly bucket: string;
  /** The endpoint URL, or undefined for AWS's own. */
  readonly endpoint: string | undefined;
}

/** The parts of an SDK or network error we look at; every field may be missing. */
interface ErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
}

function shape(err: unknown): ErrorShape {
  return typeof err === 'object' && err !== null ? (err as ErrorShape) : {};
}

/** The HTTP status of an S3 error response, if there was a response. */
export function httpStatus(err: unknown): number | undefined {
  const status = shape(err).$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The S3 error name (`NoSuchKey`, `PreconditionFailed`, `NotFound` for a bodiless 404, …). */
export function errorName(err: unknown): string {
  const name = shape(err).name;
  return typeof name === 'string' ? name : '';
}

/** A write-once put refused because the key exists: HTTP 412 to If-None-Match: *. */
export function isPreconditionFailed(err: unknown): boolean {
  return httpStatus(err) === 412 || errorName(err) === 'PreconditionFailed';
}

const NETWORK_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed TLS certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'untrusted TLS certificate',
};

/** Network failures that a restart or a blip explains (not TLS or DNS misconfiguration). */
const TRANSIENT_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

const ACCESS_DENIED = new Set([
  'AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'AllAccessDisabled',
]);

/** One line of an arbitrary message. */
function firstLine(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  return text.split('\n', 1)[0] ?? text;
}

/** The error for a bucket that does not exist. */
export function noSuchBucket(context: S3ErrorContext, action: string, cause?: unknown): CassetteError {
  const where = context.endpoint === undefined ? '' : ` at ${context.endpoint}`;
  return new CassetteError(
    'REPOSITORY_UNAVAILABLE',
    `cannot ${action} in repository ${context.description}: bucket "${context.bucket}" does not exist${where}`,
    { hint: 'create the bucket, or fix the bucket name in the repository URL (s3://<bucket>/<prefix>)', cause },
  );
}

/**
 * Maps a failed S3 request to `CassetteError('REPOSITORY_UNAVAILABLE')` with a one-line message
 * (`cannot <action> in repository s3://…: <problem>`) and a hint.
 */
export function repositoryError(err: unknown, context: S3ErrorContext, action: string): CassetteError {
  const { code, message } = shape(err);
  const name = errorName(err);
  const status = httpStatus(err);
  const endpoint = context.endpoint ?? 'the AWS S3 endpoint';
  const fail = (problem: string, hint: string): CassetteError =>
    new CassetteError('REPOSITORY_UNAVAILABLE', `cannot ${action} in repository ${context.description}: ${problem}`, {
      hint, cause: err,
    });
  // Failures that may end by themselves (a restart, a network blip, throttling): retried within --retry-for.
  const outage = (problem: string, hint: string): CassetteError =>
    new RepositoryOutageError(`cannot ${action} in repository ${context.description}: ${problem}`, { hint, cause: err });

  if (name === 'NoSuchBucket') return noSuchBucket(context, action, err);
  if (ACCESS_DENIED.has(name) || status === 403) {
    return fail(`access denied (${name === '' || name === 'Unknown' ? 'HTTP 403' : name})`,
      'check the AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE) and that they may read and write this bucket');
  }
  if (name === 'CredentialsProviderError') {
    return fail('no AWS credentials found',
      'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, in the environment');
  }
  if (typeof message === 'string' && message.startsWith('Region is missing')) {
    return fail('no AWS region is set', 'set AWS_REGION in the environment, or pass --s3-region');
  }
  if (typeof code === 'string' && code in NETWORK_CODES) {
    return (TRANSIENT_CODES.has(code) ? outage : fail)(`cannot reach ${endpoint}: ${NETWORK_CODES[code]} (${code})`,
      'check the S3 endpoint URL and that the service is up and reachable from this machine');
  }
  if (name === 'TimeoutError' || name === 'RequestTimeout') {
    return outage(`${endpoint} did not answer in time (${name})`,
      'check the S3 endpoint URL and the network; try again later');
  }
  if (status === 429 || name === 'SlowDown' || name === 'Throttling' || name === 'ThrottlingException') {
    return outage(`the S3 service asks to slow down (${name === '' ? 'HTTP 429' : name})`, 'try again later, or lower --parallel');
  }
  if (status !== undefined && status >= 500) {
    return outage(`the S3 service failed (${name === '' ? 'error' : name}, HTTP ${status})`, 'try again later');
  }
  const detail = status === undefined ? '' : `, HTTP ${status}`;
  return fail(`${name === '' ? 'error' : name}${detail}: ${firstLine(message ?? err)}`,
    'check the repository URL, the S3 endpoint and the credentials');
}
