/**
 * Builds cassette's real dependencies for the test services, and runs the built CLI. Integration
 * tests call the command functions directly (restic-style) and the CLI end to end.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ConnectionOptions } from '../../src/cassandra/connection/options.js';
import { connectCluster, type ClusterHandle } from '../../src/cli/compose.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { openStore } from '../../src/storage/open-store.js';
import type { CassandraSettings, S3Settings } from './settings.js';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const cli = fileURLToPath(new URL('../../bin/cassette.js', import.meta.url));

export function connectionFor(settings: CassandraSettings): ConnectionOptions {
  return { hosts: [settings.host], port: settings.port, dc: settings.dc, consistency: 'LOCAL_QUORUM', requestTimeoutMs: 30_000 };
}

export function clusterFor(settings: CassandraSettings): Promise<ClusterHandle> {
  return connectCluster(connectionFor(settings));
}

export function s3StoreFor(s3: S3Settings, prefix: string): BlobStore {
  return openStore(`s3://${s3.bucket}/${prefix}`, {
    s3Endpoint: s3.endpoint,
    s3Region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
}

/** Environment for the CLI: S3 credentials through the standard AWS variables, nothing else. */
export function cliEnv(s3?: S3Settings, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...extra };
  if (s3 !== undefined) {
    env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
    env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
    env.AWS_REGION = s3.region;
  }
  return env;
}

/** Runs the built CLI to completion, optionally as another user (`uid`/`gid`, when we are root). */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv, user?: { uid: number; gid: number }): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cli, args, { cwd: repoRoot, env, encoding: 'utf8', timeout: 300_000, ...user });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the built CLI without waiting (for kill tests). */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(cli, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
}
