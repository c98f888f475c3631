/**
 * The aws-kms provider against a real KMS API (local-kms, started by scripts/services) and
 * cassandra-rekey's own aws_kms provider (Python, scripts/python-rekey-env):
 *
 * 1. values cassandra-rekey sealed under the old CMK are rotated by `cassette rekey` (offline, a
 *    backup) and by `cassette rotate` (online, the live table), with cassandra-rekey's config as
 *    is; cassandra-rekey then opens every value under the new CMK, and not under the old one;
 * 2. cassette shares data keys (`data_key_reuse`) and counts its KMS calls;
 * 3. `doctor` checks each CMK with a round trip; an unknown CMK is exit 3, an unreachable KMS exit 10.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FsStore } from '../../src/storage/fs-store.js';
import { cliEnv, runCli } from '../support/cassette.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { awsKmsDecryptInPython, awsKmsEncryptInPython } from '../support/python.js';
import { readBackup } from '../support/read-backup.js';

const ROWS = 2_000;
const T0 = 1_700_000_000_000_000n;

interface RekeyReport { backupId: string; valuesRotated: number; valuesQuarantined: number; kmsCalls?: { generateDataKey: number; decrypt: number } }
interface RotateReport { valuesRotated: number; valuesQuarantined: number; tables: { valuesAlreadyCurrent: number; rowsSkipped: number }[] }
interface DoctorReport { ok: boolean; checks: { id: string; status: string; message: string; code?: string }[] }

/** The wrapped data key of a value in the aws-kms layout. */
function wrappedKeyOf(value: Buffer): string {
  return value.subarray(4, 4 + value.readUInt32BE(0)).toString('hex');
}

describe('aws-kms provider on local-kms, interoperating with cassandra-rekey', () => {
  const services = inject('services');
  const kms = services.kms;
  const work = mkdtempSync(join(tmpdir(), 'cassette-kms-'));
  const repo = join(work, 'repo');
  const keyspace = uniqueName('it_kms');
  let client: cassandra.Client;
  const plaintexts = Array.from({ length: ROWS }, (_, i) => Buffer.from(i % 7 === 0 ? randomBytes(40) : `ssn-${i}-${'x'.repeat(i % 50)}`));
  const nulls = (i: number): boolean => i % 10 === 3;
  const stored = plaintexts.filter((_, i) => !nulls(i));

  const connection = (): string[] => ['--hosts', services.cassandra.host, '--port', String(services.cassandra.port), '--dc', services.cassandra.dc];
  // KMS through the standard AWS variables; local-kms takes any credentials.
  const env = (endpoint = kms.endpoint): NodeJS.ProcessEnv => cliEnv(undefined, {
    AWS_ENDPOINT_URL_KMS: endpoint, AWS_REGION: kms.region, AWS_ACCESS_KEY_ID: 'cassette-test', AWS_SECRET_ACCESS_KEY: 'cassette-test',
  });
  /** cassandra-rekey's config, as it writes one for aws_kms (plus cassette's repo). */
  const writeConfig = (name: string, provider: string, tables: readonly string[] = ['people']): string => {
    const path = join(work, name);
    writeFileSync(path, [
      `cluster: {contact_points: ["${services.cassandra.host}:${services.cassandra.port}"], local_dc: ${services.cassandra.dc}, keyspace: ${keyspace}}`,
      `repo: ${repo}`,
      `provider: ${provider}`,
      'tables:',
      ...tables.flatMap((table) => [`  - name: ${table}`, '    encrypted_columns: [ssn]', '    use_lwt_guard: false']),
      '',
    ].join('\n'));
    return path;
  };
  // A second table whose values are under two CMKs (old and other): cassette's list of old CMKs opens both.
  const MIXED = 200;
  const mixedPlain = Array.from({ length: MIXED }, (_, i) => Buffer.from(`mixed-${i}`));
  const rekeyProvider = `{type: aws_kms, old_cmk_arn: "${kms.oldArn}", new_cmk_arn: "${kms.newArn}", aws_region: ${kms.region}}`;

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    await client.execute(`CREATE TABLE ${keyspace}.people (id int PRIMARY KEY, ssn blob, name text, key_version text)`);
    const sealed = await awsKmsEncryptInPython(kms, kms.oldArn, kms.otherArn, stored);
    let next = 0;
    const params = plaintexts.map((_, i) => [i, nulls(i) ? null : sealed[next++], `name-${i}`, 'v1', cassandra.types.Long.fromString(String(T0 + BigInt(i)))]);
    await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${keyspace}.people (id, ssn, name, key_version) VALUES (?, ?, ?, ?) USING TIMESTAMP ?`, params, { concurrencyLevel: 32 });
    await client.execute(`CREATE TABLE ${keyspace}.mixed (id int PRIMARY KEY, ssn blob, key_version text)`);
    const underOld = await awsKmsEncryptInPython(kms, kms.oldArn, kms.otherArn, mixedPlain.slice(0, MIXED / 2));
    const underOther = await awsKmsEncryptInPython(kms, kms.otherArn, kms.oldArn, mixedPlain.slice(MIXED / 2));
    await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${keyspace}.mixed (id, ssn, key_version) VALUES (?, ?, ?)`,
      [...underOld, ...underOther].map((value, i) => [i, value, 'v1']), { concurrencyLevel: 32 });
  }, 300_000);

  afterAll(async () => {
    await client?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
    await client?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  it('doctor: a GenerateDataKey/Decrypt round trip per CMK and the sample opens under the old CMK', () => {
    const config = writeConfig('doctor.yaml', rekeyProvider);
    const r = runCli(['doctor', '--config', config, ...connection(), '--json'], env());
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as DoctorReport;
    const byId = (id: string) => report.checks.filter((c) => c.id === id);
    expect(byId('kms.new_cmk').map((c) => c.status)).toEqual(['ok']);
    expect(byId('kms.old_cmk').map((c) => c.status)).toEqual(['ok']);
    expect(byId('keys.roundtrip')[0]?.status).toBe('ok');
    expect(byId('column.sample')[0]).toMatchObject({ status: 'ok' });
    expect(byId('column.sample')[0]?.message).toContain('v1');
  });

  it('doctor: an unknown CMK alias is exit 3 and an unreachable KMS exit 10, each in one line naming the CMK or endpoint', () => {
    const missing = writeConfig('missing.yaml', `{type: aws-kms, old_cmk_arn: "${kms.oldArn}", new_cmk_arn: alias/cassette-missing}`);
    const a = runCli(['doctor', '--config', missing, ...connection()], env());
    expect(a.status, a.stderr).toBe(3);
    expect(a.stdout + a.stderr).toContain('alias/cassette-missing: no such key');

    const config = writeConfig('down.yaml', rekeyProvider);
    const b = runCli(['doctor', '--config', config, ...connection(), '--sample', '0', '--json'], env('http://127.0.0.1:9'));
    expect(b.status, b.stderr).toBe(10);
    const report = JSON.parse(b.stdout) as DoctorReport;
    const failed = report.checks.find((c) => c.id === 'kms.new_cmk');
    expect(failed).toMatchObject({ status: 'fail', code: 'PROVIDER_UNAVAILABLE' });
    expect(failed?.message).toContain(`new CMK ${kms.newArn}: KMS GenerateDataKey on ${kms.newArn} failed at http://127.0.0.1:9`);
  });

  it('rekey (offline, old CMKs listed): the new backup\'s values open in cassandra-rekey under the new CMK only, with data keys shared', async () => {
    const backup = runCli(['backup', '--repo', repo, '--keyspace', keyspace, ...connection(), '--json'], env());
    expect(backup.status, backup.stderr).toBe(0);
    const sourceId = (JSON.parse(backup.stdout) as { backupId: string }).backupId;
    const config = writeConfig('rekey.yaml', `{type: aws-kms, old_cmk_arn: ["${kms.oldArn}", alias/cassette-other], new_cmk_arn: alias/cassette-new}`, ['people', 'mixed']);
    const r = runCli(['rekey', sourceId, '--config', config, '--threads', '2', '--json'], env());
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as RekeyReport;
    expect(report).toMatchObject({ valuesRotated: stored.length + MIXED, valuesQuarantined: 0 });
    // Each of cassandra-rekey's values has a data key of its own: one Decrypt each. Sealing shares data keys.
    expect(report.kmsCalls?.decrypt).toBe(stored.length + MIXED);
    expect(report.kmsCalls?.generateDataKey).toBeGreaterThan(0);
    expect(report.kmsCalls?.generateDataKey).toBeLessThanOrEqual(10);

    const read = await readBackup(new FsStore(repo), report.backupId);
    const mixed = [...(read.rows.get('mixed') ?? [])].sort((a, b) => (a.row.k[0] as number) - (b.row.k[0] as number));
    const mixedOpened = await awsKmsDecryptInPython(kms, kms.newArn, kms.otherArn, mixed.map(({ row }) => Buffer.from(row.c.ssn?.v as string, 'base64')));
    expect(mixedOpened.map((p) => p?.toString())).toEqual(mixedPlain.map((p) => p.toString()));
    const rows = read.rows.get('people') ?? [];
    expect(rows).toHaveLength(ROWS);
    const byId = new Map(rows.map(({ row }) => [row.k[0] as number, row]));
    const ids = plaintexts.map((_, i) => i).filter((i) => !nulls(i));
    const values = ids.map((i) => Buffer.from(byId.get(i)?.c.ssn?.v as string, 'base64'));
    for (const i of plaintexts.keys()) if (nulls(i)) expect(byId.get(i)?.c.ssn).toBeUndefined();
    expect(ids.every((i) => byId.get(i)?.c.key_version?.v === 'v2')).toBe(true);
    expect(new Set(values.map(wrappedKeyOf)).size).toBeLessThanOrEqual(8);
    const opened = await awsKmsDecryptInPython(kms, kms.newArn, kms.otherArn, values);
    expect(opened.every((p, n) => p !== null && p.equals(stored[n] ?? Buffer.alloc(0)))).toBe(true);
  });

  it('rotate (online, cassandra-rekey\'s config as is): every value moves to the new CMK; a second run finds nothing to do', async () => {
    const config = writeConfig('rotate.yaml', rekeyProvider);
    const r = runCli(['rotate', '--config', config, ...connection(), '--json'], env());
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout) as RotateReport).toMatchObject({ valuesRotated: stored.length, valuesQuarantined: 0 });

    const rs = await client.execute(`SELECT id, ssn, key_version, WRITETIME(ssn) AS wt FROM ${keyspace}.people`, [], { fetchSize: 10_000 });
    const rows = new Map(rs.rows.map((row) => [row.get('id') as number, row]));
    expect(rows.size).toBe(ROWS);
    const ids = plaintexts.map((_, i) => i).filter((i) => !nulls(i));
    for (const i of plaintexts.keys()) if (nulls(i)) expect(rows.get(i)?.get('ssn')).toBeNull();
    expect(ids.every((i) => rows.get(i)?.get('key_version') === 'v2')).toBe(true);
    // The writetime is the original + 1 µs (the timestamp guard).
    expect(ids.every((i) => BigInt(String(rows.get(i)?.get('wt'))) === T0 + BigInt(i) + 1n)).toBe(true);
    const values = ids.map((i) => rows.get(i)?.get('ssn') as Buffer);
    const underNew = await awsKmsDecryptInPython(kms, kms.newArn, kms.otherArn, values);
    expect(underNew.every((p, n) => p !== null && p.equals(stored[n] ?? Buffer.alloc(0)))).toBe(true);
    const underOld = await awsKmsDecryptInPython(kms, kms.oldArn, kms.otherArn, values.slice(0, 20));
    expect(underOld.every((p) => p === null)).toBe(true);

    const again = runCli(['rotate', '--config', config, ...connection(), '--new', '--json'], env());
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout) as RotateReport).toMatchObject({ valuesRotated: 0, valuesQuarantined: 0 });
  });
});
