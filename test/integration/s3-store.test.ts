import { createHash } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import {
  AbortMultipartUploadCommand, DeleteObjectsCommand, HeadObjectCommand, ListMultipartUploadsCommand,
  ListObjectsV2Command, PutObjectCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { CassetteError } from '../../src/errors.js';
import { BlobExistsError, type BlobStore } from '../../src/storage/blob-store.js';
import { openStore } from '../../src/storage/open-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { describeBlobStoreContract, randomStream } from '../support/blob-store-contract.js';
import { s3Client, uniqueName } from '../support/clients.js';
import type { S3Settings } from '../support/settings.js';

const settings = inject('services').s3;
const client = s3Client(settings);
const runPrefix = uniqueName('it-s3-store');
let stores = 0;

afterAll(async () => {
  await emptyPrefix(client, settings.bucket, `${runPrefix}/`);
  client.destroy();
});

/** Deletes every object and aborts every multipart upload under `prefix`. */
async function emptyPrefix(s3: S3Client, bucket: string, prefix: string): Promise<void> {
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    const objects = (page.Contents ?? []).map((o) => ({ Key: o.Key as string }));
    if (objects.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects } }));
    token = page.NextContinuationToken;
  } while (token !== undefined);
  for (const upload of await pendingUploads(s3, bucket, prefix)) {
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.key, UploadId: upload.id }));
  }
}

async function pendingUploads(s3: S3Client, bucket: string, prefix: string): Promise<{ key: string; id: string }[]> {
  const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  return (listed.Uploads ?? []).map((u) => ({ key: u.Key as string, id: u.UploadId as string }));
}

function storeAt(prefix: string, s3: S3Settings = settings, bucket = s3.bucket): BlobStore {
  return openStore(`s3://${bucket}/${prefix}`, {
    s3Endpoint: s3.endpoint,
    s3Region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
}

async function failure(promise: Promise<unknown>): Promise<CassetteError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(CassetteError);
  return err as CassetteError;
}

async function drain(iterable: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of iterable) { /* consume */ }
}

describeBlobStoreContract('S3Store on MinIO', async () => {
  const prefix = `${runPrefix}/contract-${stores++}`;
  return { store: storeAt(prefix), cleanup: () => emptyPrefix(client, settings.bucket, `${prefix}/`) };
});

describe('S3Store on MinIO', () => {
  it('describes itself as s3://bucket/prefix, without credentials, and keeps keys under the prefix', async () => {
    const prefix = `${runPrefix}/layout`;
    const store = storeAt(`${prefix}/`);
    expect(store.description).toBe(`s3://${settings.bucket}/${prefix}`);
    expect(store.description).not.toContain(settings.accessKeyId);
    await store.put('backups/x.json', '{}');
    const head = await client.send(new HeadObjectCommand({ Bucket: settings.bucket, Key: `${prefix}/backups/x.json` }));
    expect(head.ContentLength).toBe(2);
    expect(await storeAt(`${prefix}/backups`).head('x.json')).toEqual({ size: 2 });
  });

  it('skips "folder" placeholder objects when listing', async () => {
    const prefix = `${runPrefix}/placeholders`;
    await client.send(new PutObjectCommand({ Bucket: settings.bucket, Key: `${prefix}/dir/`, Body: '', ContentLength: 0 }));
    const store = storeAt(prefix);
    await store.put('dir/real', 'x');
    const keys: string[] = [];
    for await (const entry of store.list('')) keys.push(entry.key);
    expect(keys).toEqual(['dir/real']);
  });

  it('uploads in 5 MiB parts, and refuses a write-once multipart put over an existing object at completion', async () => {
    const prefix = `${runPrefix}/multipart`;
    const store = storeAt(prefix);
    const first = randomStream(24 * 1024 * 1024);
    await store.put('big', first.stream, { ifAbsent: true });
    const head = await client.send(new HeadObjectCommand({ Bucket: settings.bucket, Key: `${prefix}/big` }));
    expect(head.ETag).toMatch(/-5"$/); // a multipart ETag names its part count: 24 MiB in 5 MiB parts

    const second = randomStream(20 * 1024 * 1024);
    await expect(store.put('big', second.stream, { ifAbsent: true })).rejects.toBeInstanceOf(BlobExistsError);
    const hash = createHash('sha256');
    for await (const chunk of await store.get('big')) hash.update(chunk as Uint8Array);
    expect(hash.digest('hex')).toBe(first.digest());
    expect(await pendingUploads(client, settings.bucket, `${prefix}/`)).toEqual([]); // the refused upload was aborted
  });

  it('lets exactly one of two concurrent write-once multipart puts win at completion', async () => {
    const prefix = `${runPrefix}/multipart-race`;
    const store = storeAt(prefix);
    const writers = [randomStream(17 * 1024 * 1024), randomStream(17 * 1024 * 1024)];
    const results = await Promise.allSettled(writers.map((w) => store.put('big', w.stream, { ifAbsent: true })));
    const winner = results.findIndex((r) => r.status === 'fulfilled');
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results[1 - winner]).toMatchObject({ status: 'rejected', reason: expect.any(BlobExistsError) });
    const hash = createHash('sha256');
    for await (const chunk of await store.get('big')) hash.update(chunk as Uint8Array);
    expect(hash.digest('hex')).toBe(writers[winner]?.digest());
    expect(await pendingUploads(client, settings.bucket, `${prefix}/`)).toEqual([]);
  });

  it('reports an unknown bucket as REPOSITORY_UNAVAILABLE naming the bucket, for every operation', async () => {
    const bucket = `no-such-bucket-${uniqueName('x').replaceAll('_', '-').toLowerCase()}`;
    const store = storeAt('p', settings, bucket);
    const expected = `bucket "${bucket}" does not exist at ${settings.endpoint}`;
    const errors = [
      await failure(store.put('k', 'v')),
      await failure(store.put('k', randomStream(20 * 1024 * 1024).stream)),
      await failure(store.get('k')),
      await failure(store.head('k')),
      await failure(drain(store.list(''))),
      await failure(store.delete('k')),
    ];
    for (const err of errors) {
      expect(err.code).toBe('REPOSITORY_UNAVAILABLE');
      expect(err.message).toContain(`in repository s3://${bucket}/p: ${expected}`);
      expect(err.message).not.toContain('\n');
      expect(err.hint).toContain('create the bucket');
    }
  });

  it('reports wrong credentials as REPOSITORY_UNAVAILABLE: access denied', async () => {
    const store = storeAt('p', { ...settings, accessKeyId: 'not-a-key', secretAccessKey: 'not-a-secret' });
    for (const err of [await failure(store.get('k')), await failure(store.head('k'))]) {
      expect(err.code).toBe('REPOSITORY_UNAVAILABLE');
      expect(err.message).toMatch(/: access denied \((InvalidAccessKeyId|HTTP 403)\)$/);
      expect(err.message).not.toContain('not-a-secret');
    }
  });

  it('reports an unreachable endpoint as REPOSITORY_UNAVAILABLE, quickly', async () => {
    const store = new S3Store({
      bucket: 'b', prefix: 'p', endpoint: 'http://127.0.0.1:1', region: 'us-east-1', forcePathStyle: true,
      credentials: { accessKeyId: 'a', secretAccessKey: 's' }, maxAttempts: 1, connectionTimeoutMs: 2000,
    });
    const started = Date.now();
    const err = await failure(store.head('k'));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err.code).toBe('REPOSITORY_UNAVAILABLE');
    expect(err.message).toBe('cannot read k in repository s3://b/p: cannot reach http://127.0.0.1:1: connection refused (ECONNREFUSED)');
    expect(err.hint).toContain('endpoint');
    store.close();
  });
});
