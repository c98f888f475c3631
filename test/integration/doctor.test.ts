/**
 * `cassette doctor` against the real Cassandra (and MinIO for one repository): a well-prepared
 * table passes every check (exit 0 through the CLI too); each thing a rotation must refuse —
 * missing table, column or key-version column, a wrong column type, a counter table, encrypted
 * key columns, SAI and secondary indexes and a materialized view over an encrypted column — fails
 * its own check; bad keys fail without printing key text; LWT with preserved WRITETIMEs warns; an
 * unwritable repository exits 5 and an unreachable cluster 4, still listing the local checks.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type cassandra from 'cassandra-driver';
import type { ClusterHandle } from '../../src/cli/compose.js';
import { runDoctor, type DoctorCheck, type DoctorReport } from '../../src/commands/doctor.js';
import { loadRotationConfig } from '../../src/config/rotation-config.js';
import { createCipher } from '../../src/crypto/registry.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { cliEnv, clusterFor, runCli, s3StoreFor } from '../support/cassette.js';

/** A Fernet key as Python's Fernet.generate_key() writes it: url-safe base64 of 32 random bytes, padded. */
function fernetKey(): string {
  return randomBytes(32).toString('base64').replaceAll('+', '-').replaceAll('/', '_');
}

interface TableYaml {
  readonly name: string;
  readonly encrypted: readonly string[];
  readonly extra?: string;
}

describe('cassette doctor', () => {
  const services = inject('services');
  const ks = uniqueName('it_doctor');
  const work = mkdtempSync(join(tmpdir(), 'cassette-doctor-'));
  const repo = join(work, 'repo');
  const keys = { old: fernetKey(), new: fernetKey() };
  const env = { REKEY_OLD_KEY: keys.old, REKEY_NEW_KEY: keys.new };
  let client: cassandra.Client;
  let cluster: ClusterHandle;
  let configs = 0;

  /** Writes a rotation config for `tables` and returns its path. */
  function writeConfig(tables: readonly TableYaml[], options: { provider?: string; top?: string; port?: number; repo?: string } = {}): string {
    const path = join(work, `rekey-${++configs}.yaml`);
    const provider = options.provider ?? [
      '  type: fernet',
      '  old_key_env: REKEY_OLD_KEY',
      '  old_key_version: v1',
      '  new_key_env: REKEY_NEW_KEY',
      '  new_key_version: v2',
    ].join('\n');
    writeFileSync(path, [
      'cluster:',
      `  contact_points: [${services.cassandra.host}]`,
      `  port: ${options.port ?? services.cassandra.port}`,
      `  local_dc: ${services.cassandra.dc}`,
      `  keyspace: ${ks}`,
      `repo: ${options.repo ?? repo}`,
      'provider:',
      provider,
      'tables:',
      ...tables.flatMap((t) => [
        `  - name: ${t.name}`,
        `    encrypted_columns: [${t.encrypted.join(', ')}]`,
        ...(t.extra === undefined ? [] : t.extra.split('\n').map((line) => `    ${line}`)),
      ]),
      ...(options.top === undefined ? [] : [options.top]),
      '',
    ].join('\n'));
    return path;
  }

  async function doctor(tables: readonly TableYaml[], options: Parameters<typeof writeConfig>[1] = {}): Promise<DoctorReport> {
    const config = await loadRotationConfig(writeConfig(tables, options));
    return runDoctor(config, { session: cluster.session, store: new FsStore(repo), env, now: Date.now });
  }

  const failures = (report: DoctorReport): DoctorCheck[] => report.checks.filter((c) => c.status === 'fail');
  const cli = (path: string, extraEnv: Record<string, string> = env, args: readonly string[] = []) =>
    runCli(['doctor', '--config', path, ...args], cliEnv(undefined, extraEnv));

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    await client.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    const ddl = [
      `CREATE TABLE ${ks}.users (tenant_id uuid, user_id int, event_time timestamp, ssn blob, email text, key_version text,
         PRIMARY KEY ((tenant_id, user_id), event_time))`,
      `CREATE TABLE ${ks}.no_kv (id int PRIMARY KEY, secret blob)`,
      `CREATE TABLE ${ks}.typed (id int PRIMARY KEY, age int, secret blob, key_version text)`,
      `CREATE TABLE ${ks}.hits (id int PRIMARY KEY, n counter)`,
      `CREATE TABLE ${ks}.by_pk (secret blob PRIMARY KEY, note text, key_version text)`,
      `CREATE TABLE ${ks}.by_ck (id int, secret text, note text, key_version text, PRIMARY KEY (id, secret))`,
      `CREATE TABLE ${ks}.sai_t (id int PRIMARY KEY, secret text, key_version text)`,
      `CREATE INDEX sai_t_secret ON ${ks}.sai_t (secret) USING 'sai'`,
      `CREATE TABLE ${ks}.idx_t (id int PRIMARY KEY, secret blob, key_version text)`,
      `CREATE INDEX idx_t_secret ON ${ks}.idx_t (secret)`,
      `CREATE TABLE ${ks}.mv_t (id int PRIMARY KEY, grp int, secret text, key_version text)`,
      `CREATE MATERIALIZED VIEW ${ks}.mv_t_by_grp AS SELECT * FROM ${ks}.mv_t WHERE grp IS NOT NULL AND id IS NOT NULL PRIMARY KEY (grp, id)`,
    ];
    for (const statement of ddl) await client.execute(statement);

    // Stored values: three under the old key, one under the new key, one under neither, one null.
    const underOld = await createCipher({
      type: 'fernet', newKey: { source: { env: 'REKEY_OLD_KEY' }, version: 'v1' }, oldKeys: [{ source: { env: 'REKEY_NEW_KEY' }, version: 'v2' }], options: {},
    }, env);
    const underNew = await createCipher({
      type: 'fernet', newKey: { source: { env: 'REKEY_NEW_KEY' }, version: 'v2' }, oldKeys: [{ source: { env: 'REKEY_OLD_KEY' }, version: 'v1' }], options: {},
    }, env);
    const context = (column: string) => ({ keyspace: ks, table: 'users', column });
    const insert = `INSERT INTO ${ks}.users (tenant_id, user_id, event_time, ssn, email, key_version) VALUES (?, ?, ?, ?, ?, ?)`;
    const tenant = '3f1e9b5c-51d4-4f7e-9d43-2b8f7c3e1a01';
    for (let i = 0; i < 3; i++) {
      const ssn = Buffer.from(await underOld.seal(Buffer.from(`ssn-${i}`), context('ssn')));
      const email = Buffer.from(await underOld.seal(Buffer.from(`user${i}@example.com`), context('email'))).toString('utf8');
      await client.execute(insert, [tenant, i, new Date(1_700_000_000_000 + i), ssn, email, 'v1'], { prepare: true });
    }
    const fresh = Buffer.from(await underNew.seal(Buffer.from('ssn-new'), context('ssn')));
    await client.execute(insert, [tenant, 10, new Date(1_700_000_000_100), fresh, null, 'v2'], { prepare: true });
    cluster = await clusterFor(services.cassandra);
  });

  afterAll(async () => {
    await client?.execute(`DROP MATERIALIZED VIEW IF EXISTS ${ks}.mv_t_by_grp`);
    await client?.execute(`DROP KEYSPACE IF EXISTS ${ks}`);
    await cluster?.close();
    await client?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  const users: TableYaml = {
    name: 'users', encrypted: ['ssn', 'email'],
    extra: 'partition_key: [tenant_id, user_id]\nclustering_key: [event_time]\npreserve_writetime: true',
  };

  it('passes a prepared table: every check ok, samples counted by key, repository on MinIO too', async () => {
    const config = await loadRotationConfig(writeConfig([users]));
    const s3 = s3StoreFor(services.s3, uniqueName('doctor'));
    const report = await runDoctor(config, { session: cluster.session, store: s3, env, now: Date.now });
    expect(failures(report)).toEqual([]);
    expect(report.checks.filter((c) => c.status === 'warn')).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.id)).toEqual([
      'cluster.connect', 'keyspace.exists', 'table.exists', 'table.partition-key', 'table.clustering-key', 'column.type', 'column.type',
      'column.index', 'column.view', 'key-version.column', 'keys.load', 'keys.roundtrip', 'column.sample', 'column.sample', 'repository.write',
    ]);
    const messages = report.checks.map((c) => c.message);
    expect(messages).toContain('fernet keys loaded: new key v2, old key v1');
    expect(messages).toContain('users.ssn: 4 sampled values open: 1 under the new key v2, 3 under old keys (3 v1), 0 under none');
    expect(messages).toContain('users.email: 3 sampled values open: 0 under the new key v2, 3 under old keys (3 v1), 0 under none');
    expect(report.checks.find((c) => c.id === 'repository.write')?.message).toContain(`s3://${services.s3.bucket}/`);
  });

  it('exits 0 through the CLI, with one line per check and a JSON report', () => {
    const path = writeConfig([users]);
    const human = cli(path);
    expect(human.stderr).toBe('');
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(/^✓ cluster\.connect +connected to cluster /m);
    expect(human.stdout).toMatch(/^ready to rotate: 15 checks ok, 0 warnings$/m);
    const json = cli(path, env, ['--json']);
    expect(json.status).toBe(0);
    const report = JSON.parse(json.stdout) as DoctorReport;
    expect(report.ok).toBe(true);
    expect(report.checks).toHaveLength(15);
    for (const text of [human.stdout, json.stdout]) {
      expect(text).not.toContain(keys.old);
      expect(text).not.toContain(keys.new);
    }
  });

  it('fails a table that does not exist', async () => {
    const report = await doctor([users, { name: 'nope', encrypted: ['secret'] }]);
    expect(failures(report)).toEqual([expect.objectContaining({ id: 'table.exists', table: 'nope', message: `table nope does not exist in keyspace ${ks}`, code: 'INVALID_INPUT' })]);
  });

  it('fails an encrypted column that does not exist', async () => {
    const report = await doctor([{ name: 'users', encrypted: ['ssn', 'phone'] }]);
    expect(failures(report)).toEqual([expect.objectContaining({ id: 'column.exists', table: 'users', column: 'phone', message: 'users.phone does not exist' })]);
  });

  it('fails an encrypted column of the wrong type', async () => {
    const report = await doctor([{ name: 'typed', encrypted: ['secret', 'age'] }]);
    expect(failures(report)).toEqual([expect.objectContaining({ id: 'column.type', column: 'age', message: 'typed.age is int; encrypted columns must be blob or text' })]);
  });

  it('fails a missing key-version column with the exact ALTER TABLE as the hint', async () => {
    const report = await doctor([{ name: 'no_kv', encrypted: ['secret'] }]);
    expect(failures(report)).toEqual([expect.objectContaining({ id: 'key-version.column', table: 'no_kv' })]);
    expect(failures(report)[0]?.hint).toBe(`ALTER TABLE "${ks}"."no_kv" ADD "key_version" text;`);
  });

  it('refuses a counter table', async () => {
    const report = await doctor([{ name: 'hits', encrypted: ['n'] }], { top: 'key_version_column: null' });
    const failed = failures(report);
    expect(failed[0]).toMatchObject({ id: 'table.counter', table: 'hits', message: 'hits is a counter table: counters cannot be SET; rotation of counter tables is not supported' });
  });

  it('refuses an encrypted partition key column', async () => {
    const report = await doctor([{ name: 'by_pk', encrypted: ['secret'] }]);
    expect(failures(report)).toEqual([expect.objectContaining({ id: 'column.key', column: 'secret' })]);
    expect(failures(report)[0]?.message).toContain('by_pk.secret is a partition key column');
    expect(failures(report)[0]?.message).toContain('copy-and-swap; out of scope');
  });

  it('refuses an encrypted clustering column', async () => {
    const report = await doctor([{ name: 'by_ck', encrypted: ['secret'] }]);
    expect(failures(report)).toEqual([expect.objectContaining({ id: 'column.key', column: 'secret' })]);
    expect(failures(report)[0]?.message).toContain('by_ck.secret is a clustering column');
  });

  it('refuses an SAI index on an encrypted column', async () => {
    const report = await doctor([{ name: 'sai_t', encrypted: ['secret'] }]);
    expect(failures(report)).toEqual([expect.objectContaining({
      id: 'column.index', column: 'secret', message: 'sai_t.secret is indexed by sai_t_secret (SAI index): the index would keep stale ciphertext',
    })]);
    expect(failures(report)[0]?.hint).toContain(`DROP INDEX "${ks}"."sai_t_secret";`);
  });

  it('refuses a secondary index on an encrypted column', async () => {
    const report = await doctor([{ name: 'idx_t', encrypted: ['secret'] }]);
    expect(failures(report)).toEqual([expect.objectContaining({
      id: 'column.index', column: 'secret', message: 'idx_t.secret is indexed by idx_t_secret (secondary index): the index would keep stale ciphertext',
    })]);
  });

  it('refuses a materialized view that includes an encrypted column', async () => {
    const report = await doctor([{ name: 'mv_t', encrypted: ['secret'] }]);
    expect(failures(report)).toEqual([expect.objectContaining({
      id: 'column.view', column: 'secret', message: 'mv_t.secret is in materialized view mv_t_by_grp: the view would need rebuilding',
    })]);
  });

  it('fails keys.load when a key variable is missing, exit 3, printing no key text', () => {
    const result = cli(writeConfig([users]), { REKEY_OLD_KEY: keys.old });
    expect(result.status).toBe(3);
    expect(result.stdout).toMatch(/^✗ keys\.load +fernet keys did not load: environment variable REKEY_NEW_KEY is not set$/m);
    expect(result.stderr).toContain('doctor: 1 check failed');
    expect(result.stdout + result.stderr).not.toContain(keys.old);
  });

  it('fails keys.load for a key in the wrong format, printing neither key', () => {
    const wrong = `not-a-fernet-key-${randomBytes(6).toString('hex')}`;
    const result = cli(writeConfig([users]), { REKEY_OLD_KEY: keys.old, REKEY_NEW_KEY: wrong }, ['--json']);
    expect(result.status).toBe(3);
    const report = JSON.parse(result.stdout) as DoctorReport;
    expect(report.checks.find((c) => c.id === 'keys.load')).toMatchObject({ status: 'fail', code: 'INVALID_INPUT' });
    expect(report.checks.find((c) => c.id === 'keys.load')?.message).toContain('REKEY_NEW_KEY');
    expect(result.stdout + result.stderr).not.toContain(wrong);
    expect(result.stdout + result.stderr).not.toContain(keys.old);
  });

  it('warns that LWT cannot keep WRITETIME, and still exits 0', () => {
    const path = writeConfig([{ ...users, extra: 'preserve_writetime: true\nuse_lwt_guard: true' }]);
    const result = cli(path, env, ['--json']);
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout) as DoctorReport;
    expect(report.checks.filter((c) => c.status !== 'ok')).toEqual([expect.objectContaining({
      id: 'settings.lwt-writetime', status: 'warn', table: 'users',
      message: 'users: LWT cannot keep WRITETIME (Cassandra refuses USING TIMESTAMP on conditional writes): use_lwt_guard wins; rewritten cells get the Paxos ballot time',
    })]);
  });

  it('exits 5 when the repository is not writable (a file where its directory should be)', () => {
    const file = join(work, 'not-a-directory');
    writeFileSync(file, 'x');
    const result = cli(writeConfig([users], { repo: join(file, 'repo') }));
    expect(result.status).toBe(5);
    expect(result.stdout).toMatch(/^✗ repository\.write +cannot write doctor\/[0-9a-f]+\.probe in repository .*not-a-directory\/repo: /m);
    expect(result.stderr).toContain('doctor: 1 check failed');
  });

  it('exits 4 when the cluster is unreachable, still listing the key, repository and settings checks', () => {
    const result = cli(writeConfig([users], { port: 1, top: 'state:\n  keyspace: rekey_meta' }), env, ['--json']);
    expect(result.status).toBe(4);
    const report = JSON.parse(result.stdout) as DoctorReport;
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['cluster.connect', 'fail'], ['keys.load', 'ok'], ['keys.roundtrip', 'ok'], ['repository.write', 'ok'], ['settings.state-keyspace', 'ok'],
    ]);
    expect(report.checks[0]?.code).toBe('CLUSTER_UNAVAILABLE');
  });
});
