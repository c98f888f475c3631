/**
 * The {@link BlobStore} on S3 or an S3-compatible service (MinIO): one object per blob, under
 * `<prefix>/<key>` in one bucket.
 *
 * Atomicity comes from S3 itself: PutObject and CompleteMultipartUpload make an object visible
 * whole or not at all, and a failed multipart upload is aborted by lib-storage. S3 and MinIO are
 * strongly consistent (read-after-write, list-after-write) and list keys in UTF-8 byte order.
 *
 * Bodies are streamed with lib-storage's `Upload`: up to 8 MiB in one PutObject, larger bodies as
 * a multipart upload of 8 MiB parts, two in flight, so memory stays near 3 × 8 MiB per put.
 *
 * Write-once (`ifAbsent`) sends `If-None-Match: *`. `Upload` copies its params into PutObject and
 * CompleteMultipartUpload (whose serializers send the header; CreateMultipartUpload and UploadPart
 * have no such field and drop it), so the condition is checked when the object would become
 * visible: atomic, but a refused multipart put has uploaded its parts first (then aborted).
 *
 * Credentials come from the AWS default provider chain (environment, profile, instance role)
 * unless injected; never from the command line.
 */
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, S3Client,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { CassetteError } from '../errors.js';
import {
  assertValidKey, assertValidPrefix, BlobExistsError, BlobNotFoundError,
  type BlobBody, type BlobEntry, type BlobStore, type PutOptions,
} from './blob-store.js';
import { countBody, discardBody, mapStreamErrors, unwrapBodyError } from './body.js';
import {
  errorName, httpStatus, isPreconditionFailed, noSuchBucket, repositoryError, type S3ErrorContext,
} from './s3-errors.js';

/**
 * Part size of multipart uploads: S3's minimum, 5 MiB (10,000 parts still allow 48 GiB objects,
 * far above a chunk). lib-storage buffers about PART_SIZE × (QUEUE_SIZE + 1) per put, and a backup
 * has --parallel puts open, so small parts keep memory flat (docs/benchmarks.md); the gzip
 * producer, not the upload, limits throughput.
 */
const PART_SIZE = 5 * 1024 * 1024;
/** Parts uploaded concurrently per put. */
const QUEUE_SIZE = 1;

/** Static credentials, for tests and composition roots that read them from a secret file. */
export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** Where the blobs are and how to reach them. */
export interface S3StoreOptions {
  readonly bucket: string;
  /** Key prefix without leading or trailing `/`; `''` for the bucket's root. */
  readonly prefix: string;
  /** Endpoint URL of an S3-compatible service; AWS's regional endpoint if absent. */
  readonly endpoint?: string;
  /** Region; the SDK's default chain (AWS_REGION, profile) if absent. */
  readonly region?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which MinIO needs. */
  readonly forcePathStyle?: boolean;
  /** Static credentials; the AWS default provider chain if absent. */
  readonly credentials?: S3Credentials;
  /** Attempts per request, including the first (SDK default 3). */
  readonly maxAttempts?: number;
  /** Milliseconds to wait for a TCP connection (default 10 s), so a black-holed endpoint fails. */
  readonly connectionTimeoutMs?: number;
}

/** A {@link BlobStore} in an S3 bucket under a prefix. Call {@link S3Store.close} when done. */
export class S3Store implements BlobStore {
  readonly description: string;
  readonly #client: S3Client;
  readonly #bucket: string;
  /** `''` or the prefix with a trailing `/`, prepended to every key. */
  readonly #root: string;
  readonly #context: S3ErrorContext;
  /** Set once HeadBucket succeeded; a 404 from HeadObject cannot tell a missing key from a missing bucket. */
  #bucketSeen = false;

  constructor(options: S3StoreOptions) {
    if (options.prefix !== '') assertValidKey(options.prefix);
    this.#bucket = options.bucket;
    this.#root = options.prefix === '' ? '' : `${options.prefix}/`;
    this.description = `s3://${options.bucket}${options.prefix === '' ? '' : `/${options.prefix}`}`;
    this.#context = { description: this.description, bucket: options.bucket, endpoint: options.endpoint };
    const credentials = options.credentials;
    this.#client = new S3Client({
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      ...(options.region === undefined ? {} : { region: options.region }),
      forcePathStyle: options.forcePathStyle ?? false,
      ...(credentials === undefined ? {} : {
        credentials: {
          accessKeyId: credentials.accessKeyId,
          secretAccessKey: credentials.secretAccessKey,
          ...(credentials.sessionToken === undefined ? {} : { sessionToken: credentials.sessionToken }),
        },
      }),
      ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
      requestHandler: { connectionTimeout: options.connectionTimeoutMs ?? 10_000 },
      // MinIO and other S3-compatible services reject or mishandle the newer default checksums.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async put(key: string, body: BlobBody, options: PutOptions = {}): Promise<{ readonly bytes: number }> {
    try {
      const counted = countBody(body);
      const upload = new Upload({
        client: this.#client,
        params: {
          Bucket: this.#bucket,
          Key: this.#objectKey(key),
          Body: Readable.from(counted.chunks, { objectMode: false }),
          ...(options.ifAbsent === true ? { IfNoneMatch: '*' } : {}),
        },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
      });
      await upload.done();
      return { bytes: counted.bytesRead() };
    } catch (err) {
      discardBody(body);
      const fromBody = unwrapBodyError(err);
      if (fromBody !== undefined) throw fromBody.error;
      if (isPreconditionFailed(err)) throw new BlobExistsError(key, this.description);
      throw this.#mapError(err, `write ${key}`);
    }
  }

  async get(key: string): Promise<Readable> {
    const objectKey = this.#objectKey(key);
    try {
      const output = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: objectKey }));
      // In Node the SDK's body is an http.IncomingMessage, a Readable.
      if (!(output.Body instanceof Readable)) throw new TypeError('the S3 client returned a body that is not a Node stream');
      return mapStreamErrors(output.Body, (err) => this.#mapError(err, `read ${key}`));
    } catch (err) {
      if (errorName(err) === 'NoSuchKey') throw new BlobNotFoundError(key, this.description);
      throw this.#mapError(err, `read ${key}`);
    }
  }

  async head(key: string): Promise<{ readonly size: number } | undefined> {
    const objectKey = this.#objectKey(key);
    try {
      const output = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: objectKey }));
      return { size: output.ContentLength ?? 0 };
    } catch (err) {
      if (httpStatus(err) !== 404) throw this.#mapError(err, `read ${key}`);
    }
    await this.#confirmBucket(`read ${key}`);
    return undefined;
  }

  async *list(prefix: string): AsyncIterable<BlobEntry> {
    assertValidPrefix(prefix);
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.#client.send(new ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: `${this.#root}${prefix}`,
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }));
      } catch (err) {
        throw this.#mapError(err, `list ${prefix === '' ? 'the repository' : prefix}`);
      }
      for (const object of page.Contents ?? []) {
        const key = object.Key?.slice(this.#root.length);
        // Skip "folder" placeholders (`a/b/`) that consoles create; they are not blobs.
        if (key === undefined || key === '' || key.endsWith('/')) continue;
        yield { key, size: object.Size ?? 0 };
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async delete(key: string): Promise<void> {
    const objectKey = this.#objectKey(key);
    try {
      // S3 answers 204 whether or not the object existed, which makes delete idempotent.
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: objectKey }));
    } catch (err) {
      throw this.#mapError(err, `delete ${key}`);
    }
  }

  /** Releases the client's sockets. The store must not be used afterwards. */
  close(): void {
    this.#client.destroy();
  }

  #objectKey(key: string): string {
    assertValidKey(key);
    return `${this.#root}${key}`;
  }

  /** Throws if the bucket does not exist; asks S3 once per store. */
  async #confirmBucket(action: string): Promise<void> {
    if (this.#bucketSeen) return;
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }));
    } catch (err) {
      if (httpStatus(err) === 404) throw noSuchBucket(this.#context, action, err);
      throw this.#mapError(err, action);
    }
    this.#bucketSeen = true;
  }

  /** Our typed errors pass through; anything else is the repository failing us. */
  #mapError(err: unknown, action: string): unknown {
    if (err instanceof BlobExistsError || err instanceof BlobNotFoundError) return err;
    if (err instanceof CassetteError) return err;
    return repositoryError(err, this.#context, action);
  }
}
