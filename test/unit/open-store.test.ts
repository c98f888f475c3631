import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CassetteError } from '../../src/errors.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { openStore } from '../../src/storage/open-store.js';
import { S3Store } from '../../src/storage/s3-store.js';

function invalid(url: string, options = {}): CassetteError {
  try {
    openStore(url, options);
  } catch (err) {
    expect(err).toBeInstanceOf(CassetteError);
    expect((err as CassetteError).code).toBe('INVALID_INPUT');
    return err as CassetteError;
  }
  throw new Error(`openStore accepted ${url}`);
}

describe('openStore', () => {
  it.each([
    ['s3://bucket', 's3://bucket'],
    ['s3://bucket/', 's3://bucket'],
    ['s3://bucket/team/backups', 's3://bucket/team/backups'],
    ['s3://bucket/team/backups/', 's3://bucket/team/backups'],
    ['S3://my.bucket-1/p', 's3://my.bucket-1/p'],
  ])('opens %s as an S3 store described as %s', (url, description) => {
    const store = openStore(url);
    expect(store).toBeInstanceOf(S3Store);
    expect(store.description).toBe(description);
  });

  it('accepts an S3 endpoint, region, path style and injected credentials', () => {
    const store = openStore('s3://bucket/p', {
      s3Endpoint: 'http://127.0.0.1:9000', s3Region: 'us-east-1', s3ForcePathStyle: false,
      credentials: { accessKeyId: 'id', secretAccessKey: 'secret' },
    });
    expect(store.description).toBe('s3://bucket/p');
  });

  it.each([
    ['file:///var/backups/cassette', '/var/backups/cassette'],
    ['file:///tmp/with%20space', '/tmp/with space'],
    ['/abs/dir', '/abs/dir'],
    ['/abs/dir/', '/abs/dir'],
  ])('opens %s as the directory %s', (url, dir) => {
    const store = openStore(url);
    expect(store).toBeInstanceOf(FsStore);
    expect(store.description).toBe(dir);
  });

  it('resolves a relative path against cwd, or the working directory', () => {
    expect(openStore('backups', { cwd: '/srv/x' }).description).toBe('/srv/x/backups');
    expect(openStore('../b', { cwd: '/srv/x' }).description).toBe('/srv/b');
    expect(openStore('./backups').description).toBe(resolve('backups'));
  });

  it('rejects unknown schemes with a hint listing the accepted forms', () => {
    for (const url of ['gs://bucket/p', 'https://host/p', 'ftp://host', 'backups:2026']) {
      const err = invalid(url);
      expect(err.message).toMatch(/^unsupported repository URL scheme "[a-z0-9]+:"$/);
      expect(err.hint).toBe('use s3://<bucket>/<prefix>, file:///<absolute/path>, or a directory path');
    }
  });

  it.each([
    [''],
    ['s3:bucket'],
    ['s3://'],
    ['s3:///p'],
    ['s3://b'],
    ['s3://bucket/a//b'],
    ['s3://bucket/a/../b'],
    ['s3://bucket/a\\b'],
    ['s3://bucket/p?versionId=1'],
    ['s3://bucket/p#frag'],
    ['s3://bu cket/p'],
    ['file://remote-host/dir'],
    ['file:relative'],
  ])('rejects the malformed URL %j', (url) => {
    invalid(url);
  });

  it('rejects credentials in the URL without repeating them', () => {
    const err = invalid('s3://AKIAXXXX:s3cr3t@bucket/p');
    expect(err.message).not.toContain('s3cr3t');
    expect(err.hint).toContain('AWS_ACCESS_KEY_ID');
  });

  it('rejects an S3 endpoint that is not an http(s) URL or carries credentials', () => {
    invalid('s3://bucket/p', { s3Endpoint: 'localhost:9000' });
    invalid('s3://bucket/p', { s3Endpoint: 'not a url' });
    const err = invalid('s3://bucket/p', { s3Endpoint: 'http://user:s3cr3t@localhost:9000' });
    expect(err.message).not.toContain('s3cr3t');
  });
});
