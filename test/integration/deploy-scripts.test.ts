/**
 * The shell scripts the pods of deploy/kubernetes/ run, run here as they are written — against
 * the test Cassandra and a directory repository instead of the cluster and bucket they name, with
 * the built CLI instead of the image's path — as several "pods" of one Job at once.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { buildProgram, type ProgramContext } from '../../src/cli/program.js';
import { cliEnv, repoRoot } from '../support/cassette.js';
import { cassandraClient, uniqueName } from '../support/clients.js';

const ROWS = 3000;
/** Flags another change of issue 14 adds (metrics, logs): dropped while the CLI does not know them yet. */
const PENDING_FLAGS = ['--metrics-port 9464', '--log-format json'];

interface Pod { readonly status: number | null; readonly stdout: string; readonly stderr: string }
interface Report { readonly backupId?: string; readonly ok?: boolean; readonly rows?: number; readonly shared?: { readonly complete: boolean } }

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

function runPod(script: string, env: Record<string, string>): Promise<Pod> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', script], { cwd: repoRoot, env: { ...cliEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
const reports = (pod: Pod): Report[] => pod.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Report);

describe('the pods\' scripts of deploy/kubernetes/', () => {
  const services = inject('services');
  const work = mkdtempSync(join(tmpdir(), 'cassette-deploy-'));
  const keyspace = uniqueName('it_deploy');
  let client: cassandra.Client;
  const known = new Set(buildProgram({ version: '0', env: {}, argv: [], signal: new AbortController().signal, stdout: () => undefined } as ProgramContext)
    .commands.flatMap((c) => c.options.map((o) => o.long)));

  /** The manifest's script, pointed at the test services and `repo`; waits of 1 s instead of 60. */
  function forTest(file: string, repo: string): string {
    return adapt(containerOf(file).args[0] as string, [
      ['node --max-old-space-size=384 /app/bin/cassette.js', `node ${join(repoRoot, 'bin', 'cassette.js')}`],
      ['--keyspace app ', `--keyspace ${keyspace} `],
      ['--hosts cassandra-0.cassandra,cassandra-1.cassandra,cassandra-2.cassandra --dc dc1 --username cassette --password-file /var/run/secrets/cassette/cassandra/password',
        `--hosts ${services.cassandra.host} --port ${services.cassandra.port} --dc ${services.cassandra.dc}`],
      ['--repo s3://backups/cassandra', `--repo ${repo}`],
      ['sleep 60', 'sleep 1'],
      ...PENDING_FLAGS.filter((f) => !known.has(f.split(' ')[0] as string)).map((f) => [` ${f}`, ''] as const),
    ]);
  }

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    await client.execute(`CREATE TABLE ${keyspace}.events (id int, seq int, payload text, PRIMARY KEY ((id), seq))`);
    const params = Array.from({ length: ROWS }, (_, i) => [Math.floor(i / 5), i % 5, `payload-${i}`]);
    await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${keyspace}.events (id, seq, payload) VALUES (?, ?, ?)`, params, { concurrencyLevel: 64 });
  }, 300_000);

  afterAll(async () => {
    await client?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
    await client?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  it('backup-job.yaml: pods running the same script at once end once the one backup is complete; a late pod ends at once', async () => {
    const repo = join(work, 'job');
    const script = forTest('backup-job.yaml', repo);
    const id = plainEnv('backup-job.yaml').BACKUP_ID;
    const pods = await Promise.all([0, 1, 2].map((index) => runPod(script, { ...plainEnv('backup-job.yaml'), JOB_COMPLETION_INDEX: String(index) })));
    for (const pod of pods) {
      expect(pod.status, pod.stderr).toBe(0);
      expect(reports(pod).at(-1)).toMatchObject({ backupId: id, rows: ROWS, shared: { complete: true } });
    }
    const late = await runPod(script, { ...plainEnv('backup-job.yaml'), JOB_COMPLETION_INDEX: '3' });
    expect(late.status, late.stderr).toBe(0);
    expect(reports(late)).toEqual([expect.objectContaining({ backupId: id, shared: expect.objectContaining({ complete: true }) })]);
  }, 300_000);

  it('backup-cronjob.yaml: the night\'s pods share the id made from the Job name, and index 0 verifies the backup', async () => {
    const repo = join(work, 'nightly');
    const script = forTest('backup-cronjob.yaml', repo);
    const minutes = Date.UTC(2026, 11, 5, 2, 0) / 60_000;
    const id = `20261205T020000Z-${(minutes % 16_777_216).toString(16).padStart(6, '0')}`;
    const pods = await Promise.all([0, 1].map((index) => runPod(script, { JOB_NAME: `cassette-nightly-${minutes}`, JOB_COMPLETION_INDEX: String(index) })));
    for (const pod of pods) {
      expect(pod.status, pod.stderr).toBe(0);
      expect(reports(pod).filter((r) => r.shared !== undefined).at(-1)).toMatchObject({ backupId: id, shared: { complete: true } });
    }
    expect(reports(pods[0] as Pod).at(-1)).toMatchObject({ backupId: id, ok: true, rows: ROWS });
    expect(reports(pods[1] as Pod).some((r) => r.ok !== undefined)).toBe(false);
    const unnamed = await runPod(script, { JOB_NAME: 'cassette-nightly', JOB_COMPLETION_INDEX: '0' });
    expect(unnamed.status).toBe(2);
    expect(unnamed.stderr).toContain('no scheduled time in the Job name cassette-nightly');
  }, 300_000);
});
