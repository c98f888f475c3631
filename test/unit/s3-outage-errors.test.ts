/** Which S3 failures are outages to wait out (RepositoryOutageError) and which fail at once. */
import { describe, expect, it } from 'vitest';
import { isRepositoryOutage } from '../../src/storage/blob-store.js';
import { repositoryError } from '../../src/storage/s3-errors.js';

const context = { description: 's3://bucket/prefix', bucket: 'bucket', endpoint: 'http://127.0.0.1:9000' };
const sdkError = (fields: Record<string, unknown>): Error => Object.assign(new Error(String(fields.message ?? 'failed')), fields);

describe('S3 errors: outage or not', () => {
  it.each([
    ['connection refused', { code: 'ECONNREFUSED' }],
    ['connection reset', { code: 'ECONNRESET', message: 'socket hang up' }],
    ['a timeout', { name: 'TimeoutError' }],
    ['HTTP 503 while MinIO starts', { name: 'XMinioServerNotInitialized', $metadata: { httpStatusCode: 503 } }],
    ['HTTP 500', { name: 'InternalError', $metadata: { httpStatusCode: 500 } }],
    ['throttling', { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }],
    ['HTTP 429', { $metadata: { httpStatusCode: 429 } }],
  ])('%s is an outage, retried within --retry-for', (_what, fields) => {
    const err = repositoryError(sdkError(fields), context, 'put backups/x');
    expect(err.code).toBe('REPOSITORY_UNAVAILABLE');
    expect(isRepositoryOutage(err)).toBe(true);
    expect(err.message).toMatch(/^cannot put backups\/x in repository s3:\/\/bucket\/prefix: /);
  });

  it.each([
    ['access denied', { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }],
    ['a missing bucket', { name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } }],
    ['no credentials', { name: 'CredentialsProviderError' }],
    ['an untrusted certificate', { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }],
    ['an unknown host', { code: 'ENOTFOUND' }],
    ['a bad request', { name: 'InvalidArgument', $metadata: { httpStatusCode: 400 } }],
  ])('%s fails at once', (_what, fields) => {
    const err = repositoryError(sdkError(fields), context, 'put backups/x');
    expect(err.code).toBe('REPOSITORY_UNAVAILABLE');
    expect(isRepositoryOutage(err)).toBe(false);
  });
});
