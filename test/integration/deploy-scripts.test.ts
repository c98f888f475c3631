/**
 * The shell scripts the pods of deploy/kubernetes/ run, run here as they are written — against
 * the test Cassandra and a directory repository instead of the cluster and bucket they name, with
 * the built CLI instead of the image's path — as several "pods" of one Job at once.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { createCipher } from '../../src/crypto/registry.js';
import { cliEnv, repoRoot } from '../support/cassette.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { createEventsKeyspace } from '../support/backup-dataset.js';

const ROWS = 3000;
/** Every pod serves metrics on the same port; here the "pods" share one host, so each takes a free port. */
const OWN_PORT = ['--metrics-port 9464', '--metrics-port 0'] as const;

interface Pod { readonly status: number | null; readonly stdout: string; readonly stderr: string }
interface Report { readonly backupId?: string; readonly ok?: boolean; readonly rows?: number; readonly shared?: { readonly rangesMine: number } }

interface Container { readonly command: string[]; readonly args: string[]; readonly env: { name: string; value?: string }[] }

/** The container of a manifest's pods. */
function containerOf(file: string): Container {
  const doc = parse(readFileSync(join(repoRoot, 'deploy', 'kubernetes', file), 'utf8')) as { kind: string; spec: { jobTemplate?: { spec: unknown } } };
  const job = (doc.kind === 'CronJob' ? doc.spec.jobTemplate?.spec : doc.spec) as { template: { spec: { containers: Container[] } } };
  const [container] = job.template.spec.containers;
  expect(container?.command).toEqual(['/bin/sh', '-c']);
  return container as Container;
}
/** The variables a manifest sets to plain values (secret references left out). */
const plainEnv = (file: string): Record<string, string> =>
  Object.fromEntries(containerOf(file).env.flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])));

/** `script` with each `[from, to]` replaced; each `from` must be there. */
function adapt(script: string, replacements: readonly (readonly [string, string])[]): string {
  let out = script;
  for (const [from, to] of replacements) {
    expect(out, from).toContain(from);
    out = out.split(from).join(to);
  }
  return out;
}

/** Runs `script` as a pod's `sh -c`. */
function runPod(script: string, env: Record<string, string>): Promise<Pod> {
  let stdout = '';
  let stderr = '';
  return new Promise<Pod>((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', script], { cwd: repoRoot, env: { ...cliEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const fernetKey = (): string => randomBytes(32).toString('base64url').padEnd(44, '=');
/** The range count of a finished backup in a directory repository (its manifest's totals). */
const rangesOf = (repo: string, id: string): number =>
  (JSON.parse(readFileSync(join(repo, 'backups', id, 'manifest.json'), 'utf8')) as { totals: { ranges: number } }).totals.ranges;
const reports = (pod: Pod): Report[] => pod.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Report);

describe('the pods\' scripts of deploy/kubernetes/', () => {
  const services = inject('services');
  const work = mkdtempSync(join(tmpdir(), 'cassette-deploy-'));
  const keyspace = uniqueName('it_deploy');
  let client: cassandra.Client;

  /** The manifest's script, pointed at the test services and `repo`. */
  function forTest(file: string, repo: string): string {
    return adapt(containerOf(file).args[0] as string, [
      ['node --max-old-space-size=384 /app/bin/cassette.js', `node ${join(repoRoot, 'bin', 'cassette.js')}`],
      ['--keyspace app ', `--keyspace ${keyspace} `],
      ['--hosts cassandra-0.cassandra,cassandra-1.cassandra,cassandra-2.cassandra --dc dc1 --username cassette --password-file /var/run/secrets/cassette/cassandra/password',
        `--hosts ${services.cassandra.host} --port ${services.cassandra.port} --dc ${services.cassandra.dc}`],
      ['--repo s3://backups/cassandra', `--repo ${repo}`],
      OWN_PORT,
    ]);
  }

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    await createEventsKeyspace(client, keyspace, ROWS, { perPartition: 5 });
  }, 300_000);

  afterAll(async () => {
    await client?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
    await client?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  it('backup-job.yaml: pods running the same script at once end once the one backup is complete, their shares adding up; a late pod ends at once', async () => {
    const repo = join(work, 'job');
    const script = forTest('backup-job.yaml', repo);
    const id = plainEnv('backup-job.yaml').BACKUP_ID as string;
    const pods = await Promise.all([0, 1, 2].map((index) => runPod(script, { ...plainEnv('backup-job.yaml'), JOB_COMPLETION_INDEX: String(index) })));
    for (const pod of pods) {
      expect(pod.status, pod.stderr).toBe(0);
      expect(reports(pod).at(-1)).toMatchObject({ backupId: id, rows: ROWS, shared: { rangesMine: expect.any(Number) } });
    }
    const ranges = rangesOf(repo, id);
    expect(ranges).toBeGreaterThan(0);
    expect(pods.reduce((sum, pod) => sum + (reports(pod).at(-1)?.shared?.rangesMine ?? 0), 0)).toBe(ranges);
    const late = await runPod(script, { ...plainEnv('backup-job.yaml'), JOB_COMPLETION_INDEX: '3' });
    expect(late.status, late.stderr).toBe(0);
    expect(reports(late)).toEqual([expect.objectContaining({ backupId: id, shared: { rangesMine: 0 } })]);
  }, 300_000);

  it('backup-cronjob.yaml: the night\'s pods share the id made from the Job name, and index 0 verifies the backup', async () => {
    const repo = join(work, 'nightly');
    const script = forTest('backup-cronjob.yaml', repo);
    const minutes = Date.UTC(2026, 11, 5, 2, 0) / 60_000;
    const id = `20261205T020000Z-${(minutes % 16_777_216).toString(16).padStart(6, '0')}`;
    const pods = await Promise.all([0, 1].map((index) => runPod(script, { JOB_NAME: `cassette-nightly-${minutes}`, JOB_COMPLETION_INDEX: String(index) })));
    for (const pod of pods) {
      expect(pod.status, pod.stderr).toBe(0);
      expect(reports(pod).filter((r) => r.shared !== undefined)).toEqual([expect.objectContaining({ backupId: id, rows: ROWS, shared: { rangesMine: expect.any(Number) } })]);
    }
    const shares = pods.map((pod) => reports(pod).find((r) => r.shared !== undefined)?.shared?.rangesMine ?? 0);
    expect(shares.reduce((a, b) => a + b, 0)).toBe(rangesOf(repo, id));
    expect(reports(pods[0] as Pod).at(-1)).toMatchObject({ backupId: id, ok: true, rows: ROWS });
    expect(reports(pods[1] as Pod).some((r) => r.ok !== undefined)).toBe(false);
    const unnamed = await runPod(script, { JOB_NAME: 'cassette-nightly', JOB_COMPLETION_INDEX: '0' });
    expect(unnamed.status).toBe(2);
    expect(unnamed.stderr).toContain('no scheduled time in the Job name cassette-nightly');
  }, 300_000);

  it('rotate-job.yaml: three pods running the same script at once share one rotation job and rotate every row', async () => {
    const repo = join(work, 'rotation');
    const secrets = join(work, 'keys');
    mkdirSync(secrets);
    const keys = { old: fernetKey(), new: fernetKey() };
    writeFileSync(join(secrets, 'old.key'), `${keys.old}\n`, { mode: 0o600 });
    writeFileSync(join(secrets, 'new.key'), `${keys.new}\n`, { mode: 0o600 });
    const env = { OLD: keys.old, NEW: keys.new };
    const underOld = await createCipher({ type: 'fernet', newKey: { source: { env: 'OLD' } }, oldKeys: [{ source: { env: 'NEW' } }], options: {} }, env);
    const underNew = await createCipher({ type: 'fernet', newKey: { source: { env: 'NEW' } }, oldKeys: [{ source: { env: 'OLD' } }], options: {} }, env);
    const rows = 12_000;
    await client.execute(`CREATE TABLE ${keyspace}.users (id int PRIMARY KEY, ssn text, email text, key_version text)`);
    const where = (column: string) => ({ keyspace, table: 'users', column });
    const params = await Promise.all(Array.from({ length: rows }, async (_, i) => [i,
      Buffer.from(await underOld.seal(Buffer.from(`ssn-${i}`), where('ssn'))).toString('utf8'),
      Buffer.from(await underOld.seal(Buffer.from(`user${i}@example.com`), where('email'))).toString('utf8'),
      underOld.newKeyVersion]));
    await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${keyspace}.users (id, ssn, email, key_version) VALUES (?, ?, ?, ?)`, params, { concurrencyLevel: 64 });

    // The ConfigMap's rotation.yaml, pointed at the test Cassandra, the keyspace, the repository and the key files.
    const configMap = parse(readFileSync(join(repoRoot, 'deploy', 'kubernetes', 'rotation-configmap.yaml'), 'utf8')) as { data: Record<string, string> };
    const configDir = join(work, 'etc');
    mkdirSync(configDir);
    writeFileSync(join(configDir, 'rotation.yaml'), adapt(configMap.data['rotation.yaml'] as string, [
      ['contact_points: [cassandra-0.cassandra, cassandra-1.cassandra, cassandra-2.cassandra]', `contact_points: ["${services.cassandra.host}:${services.cassandra.port}"]`],
      ['local_dc: dc1', `local_dc: ${services.cassandra.dc}`],
      ['keyspace: app', `keyspace: ${keyspace}`],
      ['  username: cassette\n  password_file: /var/run/secrets/cassette/cassandra/password\n', ''],
      ['repo: s3://backups/cassandra', `repo: ${repo}`],
      ['/var/run/secrets/cassette/keys', secrets],
    ]));
    const script = adapt(containerOf('rotate-job.yaml').args[0] as string, [
      ['node --max-old-space-size=384 /app/bin/cassette.js', `node ${join(repoRoot, 'bin', 'cassette.js')}`],
      ['/etc/cassette/rotation.yaml', join(configDir, 'rotation.yaml')],
      OWN_PORT,
    ]);

    const jobId = plainEnv('rotate-job.yaml').ROTATION_JOB_ID as string;
    const pods = await Promise.all([0, 1, 2].map((index) => runPod(script, { ...plainEnv('rotate-job.yaml'), JOB_COMPLETION_INDEX: String(index) })));
    for (const pod of pods) {
      expect(pod.status, pod.stderr).toBe(0);
      const report = JSON.parse(pod.stdout.trim().split('\n').at(-1) as string) as { jobId: string; newKeyVersion: string };
      expect(report).toMatchObject({ jobId, newKeyVersion: underNew.newKeyVersion });
    }
    expect(readdirSync(join(repo, 'rotations'))).toEqual([jobId]);
    const rs = await client.execute(`SELECT id, ssn, key_version FROM ${keyspace}.users`, [], { fetchSize: 100_000 });
    expect(rs.rows).toHaveLength(rows);
    for (const row of rs.rows) {
      expect(row.get('key_version')).toBe(underNew.newKeyVersion);
      const opened = await underNew.open(Buffer.from(row.get('ssn') as string), where('ssn'));
      expect(opened?.current).toBe(true);
      expect(opened?.plaintext.toString()).toBe(`ssn-${row.get('id') as number}`);
    }
  }, 300_000);
});
