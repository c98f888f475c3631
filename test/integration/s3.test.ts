import { randomBytes, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, inject, it } from 'vitest';
import {
  DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { s3Client, uniqueName } from '../support/clients.js';

describe('real MinIO on loopback', () => {
  const settings = inject('services').s3;
  const client = s3Client(settings);
  const prefix = `${uniqueName('it-s3')}/`;

  afterAll(async () => {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: settings.bucket, Prefix: prefix }));
    const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key as string }));
    if (keys.length > 0) await client.send(new DeleteObjectsCommand({ Bucket: settings.bucket, Delete: { Objects: keys } }));
    client.destroy();
  });

  it('puts and gets an object', async () => {
    const body = Buffer.from('hello, cassette ✓\n');
    await client.send(new PutObjectCommand({ Bucket: settings.bucket, Key: `${prefix}small`, Body: body }));
    const got = await client.send(new GetObjectCommand({ Bucket: settings.bucket, Key: `${prefix}small` }));
    expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(body);
  });

  it('uploads a 24 MiB stream in parts with lib-storage and reads it back intact', async () => {
    const size = 24 * 1024 * 1024;
    const partSize = 5 * 1024 * 1024;
    const hash = createHash('sha256');
    // A stream of random blocks, hashed as produced, so the test never holds the whole body.
    let produced = 0;
    const body = new Readable({
      read() {
        if (produced >= size) return void this.push(null);
        const block = randomBytes(Math.min(1024 * 1024, size - produced));
        produced += block.length;
        hash.update(block);
        this.push(block);
      },
    });
    const upload = new Upload({
      client, params: { Bucket: settings.bucket, Key: `${prefix}big`, Body: body }, partSize, queueSize: 2,
    });
    const parts: number[] = [];
    upload.on('httpUploadProgress', (p) => { if (p.part !== undefined) parts.push(p.part); });
    await upload.done();
    expect(Math.max(...parts)).toBe(Math.ceil(size / partSize)); // really multipart

    const head = await client.send(new HeadObjectCommand({ Bucket: settings.bucket, Key: `${prefix}big` }));
    expect(head.ContentLength).toBe(size);
    expect(head.ETag).toMatch(/-5"$/); // a multipart ETag names its part count
    const got = await client.send(new GetObjectCommand({ Bucket: settings.bucket, Key: `${prefix}big` }));
    const readBack = createHash('sha256');
    for await (const chunk of got.Body as Readable) readBack.update(chunk as Buffer);
    expect(readBack.digest('hex')).toBe(hash.digest('hex'));
  });

  it('refuses a second write-once put (If-None-Match: *) and keeps the first object', async () => {
    const key = `${prefix}write-once`;
    await client.send(new PutObjectCommand({ Bucket: settings.bucket, Key: key, Body: 'first', IfNoneMatch: '*' }));
    const second = client.send(new PutObjectCommand({ Bucket: settings.bucket, Key: key, Body: 'second', IfNoneMatch: '*' }));
    await expect(second).rejects.toSatisfy((err: unknown) =>
      err instanceof S3ServiceException && err.$metadata.httpStatusCode === 412);
    const got = await client.send(new GetObjectCommand({ Bucket: settings.bucket, Key: key }));
    expect(await got.Body!.transformToString()).toBe('first');
  });
});
