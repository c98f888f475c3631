/**
 * scripts/services itself: idempotent `up`, `down` then `up`, `status`, and clear failures that
 * leave nothing half-started. Runs a second, independent set of services (own run directory,
 * ports shifted by 1000) so the suite's own services are never touched.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, symlinkSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import cassandra from 'cassandra-driver';
import { DecryptCommand, DescribeKeyCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';

const script = fileURLToPath(new URL('../../scripts/services', import.meta.url));
const runDir = mkdtempSync(join(tmpdir(), 'cassette-lifecycle-'));
const OFFSET = 1000;
const env = { ...process.env, CASSETTE_SERVICES_DIR: runDir, CASSETTE_SERVICES_PORT_OFFSET: String(OFFSET) };

function services(args: string[], extraEnv: Record<string, string> = {}) {
  const r = spawnSync(script, args, { encoding: 'utf8', env: { ...env, ...extraEnv } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function exported(stdout: string): Record<string, string> {
  return Object.fromEntries([...stdout.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1] as string, m[2] as string]));
}

async function releaseVersion(port: number): Promise<string> {
  const client = new cassandra.Client({ contactPoints: [`127.0.0.1:${port}`], localDataCenter: 'datacenter1' });
  try {
    await client.connect();
    return (await client.execute('SELECT release_version FROM system.local')).first().get('release_version') as string;
  } finally {
    await client.shutdown();
  }
}

function kmsClient(settings: Record<string, string>): KMSClient {
  return new KMSClient({
    endpoint: settings.CASSETTE_TEST_KMS_ENDPOINT as string,
    region: settings.CASSETTE_TEST_KMS_REGION as string,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, // local-kms checks none
  });
}

function statusJson() {
  const r = services(['status', '--json']);
  const parsed = JSON.parse(r.stdout) as { services: { name: string; running: boolean; pid: number | null }[] };
  return { status: r.status, byName: new Map(parsed.services.map((s) => [s.name, s])) };
}

describe('scripts/services lifecycle', () => {
  afterAll(() => {
    services(['down']);
    rmSync(runDir, { recursive: true, force: true });
  });

  it('up provisions into an empty cache, starts the three services and prints only export lines; a second up is a no-op', async () => {
    // An empty cache: Maven copies Cassandra's jars and `go install` builds MinIO, local-kms and the age CLI (from
    // the warm Go module and build caches), and no tool's output may reach stdout, which
    // `eval "$(scripts/services up)"` runs as shell code.
    const first = services(['up'], { CASSETTE_CACHE_DIR: join(runDir, 'fresh-cache') });
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toContain('provisioning Apache Cassandra');
    expect(first.stderr).toContain('building MinIO');
    expect(first.stderr).toContain('building local-kms');
    expect(first.stderr).toContain('building age');
    const lines = first.stdout.split('\n');
    expect(lines.pop()).toBe(''); // ends with a newline
    for (const line of lines) expect(line).toMatch(/^export CASSETTE_TEST_[A-Z0-9_]+='[^']*'$/);
    const settings = exported(first.stdout);
    expect(settings.CASSETTE_TEST_CASSANDRA_PORT).toBe(String(9042 + OFFSET));
    expect(settings.CASSETTE_TEST_S3_ENDPOINT).toBe(`http://127.0.0.1:${9000 + OFFSET}`);
    expect(settings.CASSETTE_TEST_S3_BUCKET).toBe('cassette-test');
    expect(settings.CASSETTE_TEST_KMS_ENDPOINT).toBe(`http://127.0.0.1:${4599 + OFFSET}`);
    expect(settings.CASSETTE_TEST_KMS_REGION).toBe('eu-west-2');
    const arns = ['OLD', 'NEW', 'OTHER'].map((k) => settings[`CASSETTE_TEST_KMS_${k}_ARN`]);
    for (const arn of arns) expect(arn).toMatch(/^arn:aws:kms:eu-west-2:111122223333:key\/[0-9a-f-]{36}$/);
    expect(new Set(arns).size).toBe(3);
    expect(await releaseVersion(9042 + OFFSET)).toMatch(/^5\.0\./);
    const before = statusJson();
    expect(before.status).toBe(0);

    const second = services(['up']);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).toContain('already running');
    expect(exported(second.stdout)).toEqual(settings);
    const after = statusJson();
    expect(after.byName.get('cassandra')?.pid).toBe(before.byName.get('cassandra')?.pid);
    expect(after.byName.get('minio')?.pid).toBe(before.byName.get('minio')?.pid);
    expect(after.byName.get('local-kms')?.pid).toBe(before.byName.get('local-kms')?.pid);
  }, 600_000); // provisioning: a Maven copy, two `go install`s from warm caches, then a Cassandra start

  it('local-kms serves the seeded keys by alias, from a 0600 seed, and keeps them across a restart', async () => {
    const settings = exported(services(['env']).stdout);
    expect(statSync(join(runDir, 'local-kms', 'seed.yaml')).mode & 0o777).toBe(0o600);
    const client = kmsClient(settings);
    try {
      for (const [alias, variable] of [['alias/cassette-old', 'OLD'], ['alias/cassette-new', 'NEW'], ['alias/cassette-other', 'OTHER']] as const) {
        const described = await client.send(new DescribeKeyCommand({ KeyId: alias }));
        expect(described.KeyMetadata?.Arn, alias).toBe(settings[`CASSETTE_TEST_KMS_${variable}_ARN`]);
      }
      const sealed = await client.send(new EncryptCommand({ KeyId: 'alias/cassette-old', Plaintext: Buffer.from('kept across a restart') }));
      const pidBefore = statusJson().byName.get('local-kms')?.pid;
      const restarted = services(['restart', 'local-kms']);
      expect(restarted.status, restarted.stderr).toBe(0);
      expect(statusJson().byName.get('local-kms')?.pid).not.toBe(pidBefore);
      const opened = await client.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob }));
      expect(Buffer.from(opened.Plaintext ?? new Uint8Array()).toString()).toBe('kept across a restart');
      expect(opened.KeyId).toBe(settings.CASSETTE_TEST_KMS_OLD_ARN);
    } finally {
      client.destroy();
    }
  });

  it('down stops everything; up afterwards works again', async () => {
    const down = services(['down']);
    expect(down.status, down.stderr).toBe(0);
    const stopped = statusJson();
    expect(stopped.status).toBe(3);
    expect([...stopped.byName.values()].every((s) => !s.running)).toBe(true);
    await expect(releaseVersion(9042 + OFFSET)).rejects.toThrow();

    // With --version 4.1, a Cassandra 4.1 node besides; `down 4.1` stops only it.
    const again = services(['up', '--version', '4.1']);
    expect(again.status, again.stderr).toBe(0);
    expect(await releaseVersion(9042 + OFFSET)).toMatch(/^5\.0\./);
    const with41 = exported(again.stdout);
    expect(with41.CASSETTE_TEST_C41_CASSANDRA_PORT).toBe(String(9342 + OFFSET));
    expect(with41.CASSETTE_TEST_C41_CASSANDRA_DC).toBe('datacenter1');
    expect(await releaseVersion(9342 + OFFSET)).toMatch(/^4\.1\./);
    expect(statusJson().byName.get('cassandra-41')?.running).toBe(true);
    const down41 = services(['down', '4.1']);
    expect(down41.stderr).toContain('cassandra-41 stopped');
    expect(statusJson().byName.get('cassandra-41')?.running).toBe(false);
    expect(statusJson().byName.get('cassandra')?.running).toBe(true);
    expect(services(['down']).status).toBe(0);
  }, 300_000);

  it('names a port already in use in one line, exits non-zero and leaves nothing running', async () => {
    const blocker: Server = createServer();
    const port = 9042 + OFFSET;
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const r = services(['up']);
      expect(r.status).toBe(1);
      const errorLines = r.stderr.split('\n').filter((l) => l.includes('already in use'));
      expect(errorLines).toHaveLength(1);
      expect(errorLines[0]).toContain(`port ${port}`);
      const after = statusJson();
      expect([...after.byName.values()].every((s) => !s.running)).toBe(true); // minio and local-kms were stopped again
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('names a missing provisioning tool (mvn) in one line when the cache is empty', () => {
    // A PATH with only what the script itself needs, and an empty cache: provisioning needs mvn.
    const bin = join(runDir, 'bin');
    mkdirSync(bin, { recursive: true });
    for (const tool of ['node', 'bash', 'dirname', 'env']) {
      const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      symlinkSync(found, join(bin, tool));
    }
    const r = services(['up'], { PATH: bin, CASSETTE_CACHE_DIR: join(runDir, 'empty-cache') });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/`mvn` not found on PATH.*apt-get install maven/);
    expect(statusJson().status).toBe(3);
  });

  it('rejects an unknown command with usage and exit 2', () => {
    const r = services(['start']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage: scripts/services up');
    for (const args of [['up', '--version', '3.11'], ['up', '--version']]) {
      const v = services(args);
      expect(v.status, args.join(' ')).toBe(2);
      expect(v.stderr).toContain('--version takes one of 4.1');
    }
  });
});
