// A single-drive MinIO on 127.0.0.1 with a test bucket.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MINIO, minioBinary } from './config.mjs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ServiceError, killAndWait, portAnswers, requirePortsFree, runningPid, serviceDir, startDetached, waitFor } from './process.mjs';

function credentialsPath() {
  return join(serviceDir(MINIO.name), 'credentials.json');
}

/** Connection settings as environment variables; the credentials are the throwaway root user's. */
export function minioSettings() {
  const creds = JSON.parse(readFileSync(credentialsPath(), 'utf8'));
  return {
    CASSETTE_TEST_S3_ENDPOINT: `http://127.0.0.1:${MINIO.api}`,
    CASSETTE_TEST_S3_BUCKET: MINIO.bucket,
    CASSETTE_TEST_S3_REGION: MINIO.region,
    CASSETTE_TEST_S3_ACCESS_KEY_ID: creds.accessKeyId,
    CASSETTE_TEST_S3_SECRET_ACCESS_KEY: creds.secretAccessKey,
  };
}

async function createBucket(creds) {
  let S3;
  try {
    S3 = await import('@aws-sdk/client-s3');
  } catch {
    throw new ServiceError('@aws-sdk/client-s3 is not installed: run `npm ci` in the repository first');
  }
  const client = new S3.S3Client({
    endpoint: `http://127.0.0.1:${MINIO.api}`, region: MINIO.region, forcePathStyle: true, credentials: creds,
  });
  try {
    await client.send(new S3.CreateBucketCommand({ Bucket: MINIO.bucket }));
  } catch (err) {
    if (err?.name !== 'BucketAlreadyOwnedByYou' && err?.name !== 'BucketAlreadyExists') throw err;
  } finally {
    client.destroy();
  }
}

/**
 * Starts MinIO unless it already runs. Returns whether this call started it. A data directory left
 * by `restart` (or a stopped MinIO) is started as it is, with the credentials it was created with:
 * new root credentials would lock the old data out (MinIO refuses a drive formatted for another
 * root user), which is why a MinIO started again used to come back empty.
 */
export async function startMinio() {
  if (runningPid(MINIO.name) !== undefined && existsSync(credentialsPath()) && (await portAnswers(MINIO.api))) return false;
  await requirePortsFree(MINIO.name, { 'S3 API': MINIO.api, console: MINIO.console });
  const dir = serviceDir(MINIO.name);
  mkdirSync(join(dir, 'data'), { recursive: true });
  const creds = existsSync(credentialsPath())
    ? JSON.parse(readFileSync(credentialsPath(), 'utf8'))
    : { accessKeyId: `cassette${randomBytes(4).toString('hex')}`, secretAccessKey: randomBytes(24).toString('base64url') };
  writeFileSync(credentialsPath(), JSON.stringify(creds), { mode: 0o600 });
  const { pid, logPath } = startDetached(MINIO.name, minioBinary,
    ['server', '--quiet', '--address', `127.0.0.1:${MINIO.api}`, '--console-address', `127.0.0.1:${MINIO.console}`, join(dir, 'data')],
    { MINIO_ROOT_USER: creds.accessKeyId, MINIO_ROOT_PASSWORD: creds.secretAccessKey, MINIO_BROWSER: 'off', MINIO_UPDATE: 'off', MINIO_CI_CD: '1' });
  process.stderr.write(`services: starting minio (pid ${pid}, S3 http://127.0.0.1:${MINIO.api}, log ${logPath})\n`);
  await waitFor('minio', { pid, logPath, timeoutMs: 60_000, intervalMs: 300 }, async () => {
    const res = await fetch(`http://127.0.0.1:${MINIO.api}/minio/health/live`);
    return res.ok;
  });
  await waitFor('minio bucket creation', { pid, logPath, timeoutMs: 30_000, intervalMs: 500 }, async () => {
    await createBucket(creds);
    return true;
  });
  process.stderr.write(`services: minio ready (bucket ${MINIO.bucket})\n`);
  return true;
}

/**
 * Stops MinIO (SIGTERM, keeping its data directory and credentials), waits `downMs`, and starts it
 * again on the same data; resolves once the bucket answers. Returns false if MinIO was not running.
 */
export async function restartMinio(downMs = 0) {
  const pid = runningPid(MINIO.name);
  if (pid === undefined) return false;
  await killAndWait(pid);
  process.stderr.write(`services: minio stopped (pid ${pid}); its data is kept\n`);
  if (downMs > 0) await sleep(downMs);
  await startMinio();
  return true;
}
