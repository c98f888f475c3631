/**
 * `runDoctor` with a fake cluster (system_schema rows answered by FakeSession), a fake cipher and
 * an in-memory store: which checks come out ok, warn or fail, with which code, in which order; the
 * pure schema and settings checks over hand-built schemas; index-target parsing.
 */
import { describe, expect, it } from 'vitest';
import { parseIndexTarget } from '../../src/cassandra/schema/index-target.js';
import type { ColumnSchema, KeyspaceSchema, TableSchema } from '../../src/cassandra/schema/model.js';
import { checkSettings, checkTables, type DoctorCheck } from '../../src/commands/doctor-checks.js';
import { assertRotationReady, firstFailure, runDoctor, type DoctorDeps } from '../../src/commands/doctor.js';
import type { RotationConfig, TableRotation } from '../../src/config/rotation-types.js';
import type { CipherContext, ColumnCipher, Opened } from '../../src/crypto/cipher.js';
import { CassetteError } from '../../src/errors.js';
import { FakeSession, row } from '../support/fakes/fake-session.js';
import { FaultyStore } from '../support/fakes/faulty-store.js';
import { MemoryStore } from '../support/fakes/memory-store.js';

const KS = 'shop';

function tableRotation(extra: Partial<TableRotation> = {}): TableRotation {
  return {
    name: 'users', encryptedColumns: ['ssn', 'email'], preserveTtl: true, preserveWritetime: false, useLwtGuard: false,
    consistency: { read: 'LOCAL_QUORUM', write: 'LOCAL_QUORUM' }, ...extra,
  };
}

function rotationConfig(extra: Partial<RotationConfig> = {}, tables: readonly TableRotation[] = [tableRotation()]): RotationConfig {
  return {
    file: 'rekey.yaml',
    cluster: { contactPoints: ['127.0.0.1'], keyspace: KS },
    provider: { type: 'fernet', newKey: { source: { env: 'NEW' }, version: 'v2' }, oldKeys: [{ source: { env: 'OLD' }, version: 'v1' }], options: {} },
    keyVersionColumn: 'key_version',
    tables,
    execution: { workers: 4, pauseOnBackpressure: false },
    ...extra,
  };
}

const col = (name: string, type: string, kind: ColumnSchema['kind'] = 'regular', position = -1): ColumnSchema => ({ name, type, kind, position });

function usersTable(columns: readonly ColumnSchema[] = [], isCounter = false): TableSchema {
  return {
    name: 'users',
    columns: [
      col('tenant_id', 'uuid', 'partition_key', 0), col('user_id', 'int', 'partition_key', 1), { ...col('event_time', 'timestamp', 'clustering', 0), order: 'asc' },
      col('email', 'text'), col('key_version', 'text'), col('ssn', 'blob'), ...columns,
    ],
    options: {},
    isCounter,
    cql: '',
  };
}

function keyspace(extra: Partial<KeyspaceSchema> = {}): KeyspaceSchema {
  return { name: KS, replication: {}, durableWrites: true, types: [], tables: [usersTable()], indexes: [], views: [], ...extra };
}

const V2: { newVersion: string; oldVersions: readonly string[] } = { newVersion: 'v2', oldVersions: ['v1'] };
const fails = (checks: readonly DoctorCheck[]): DoctorCheck[] => checks.filter((c) => c.status === 'fail');

/** A cipher that "seals" as `<version>:` + hex plaintext (ASCII, like a Fernet token); opens values with a known prefix. */
function fakeCipher(newKeyVersion = 'v2', oldKeyVersions: readonly string[] = ['v1']): ColumnCipher {
  return {
    type: 'fernet', newKeyVersion, oldKeyVersions, textEncoding: 'utf8',
    open(ciphertext: Buffer, _context: CipherContext): Opened | undefined {
      const text = ciphertext.toString('latin1');
      const at = text.indexOf(':');
      const version = text.slice(0, at);
      if (at < 0 || (version !== newKeyVersion && !oldKeyVersions.includes(version))) return undefined;
      return { plaintext: Buffer.from(text.slice(at + 1), 'hex'), keyVersion: version, current: version === newKeyVersion };
    },
    seal(plaintext: Buffer): Buffer {
      return Buffer.from(`${newKeyVersion}:${plaintext.toString('hex')}`, 'latin1');
    },
  };
}

/** A FakeSession answering capture of `schema`'s tables and columns (no types, indexes or views beyond the given). */
function fakeCluster(schema: KeyspaceSchema, sampleRows: readonly Record<string, unknown>[] = []): FakeSession {
  const columns = schema.tables.flatMap((t) => t.columns.map((c) => row({
    table_name: t.name, column_name: c.name, clustering_order: c.order ?? 'none', kind: c.kind, position: c.position, type: c.type,
  })));
  return new FakeSession()
    .answer('FROM system.local', [row({ cluster_name: 'Test Cluster', release_version: '5.0.4' })])
    .answer('FROM system_schema.keyspaces', [row({ keyspace_name: KS, durable_writes: true, replication: new Map([['class', 'SimpleStrategy']]) })])
    .answer('FROM system_schema.types', [])
    .answer('FROM system_schema.tables', schema.tables.map((t) => row({ table_name: t.name })))
    .answer('FROM system_schema.columns', columns)
    .answer('FROM system_schema.indexes', schema.indexes.map((i) => row({ table_name: i.table, index_name: i.name, kind: i.kind, options: new Map(Object.entries(i.options)) })))
    .answer('FROM system_schema.views', [])
    .answer(/^SELECT .* FROM "shop"\."users" LIMIT \d+$/, sampleRows.map((r) => row(r)));
}

function deps(extra: Partial<DoctorDeps> = {}): DoctorDeps {
  return {
    session: fakeCluster(keyspace()),
    store: new MemoryStore(),
    env: {},
    createCipher: async () => fakeCipher(),
    now: () => Date.UTC(2026, 0, 2, 3, 4, 5),
    ...extra,
  };
}

describe('runDoctor', () => {
  it('passes a good table with every check, in order, and leaves nothing in the repository', async () => {
    const store = new MemoryStore();
    const session = fakeCluster(keyspace(), [
      { ssn: Buffer.from('v1:123'), email: 'v2:a@b' },
      { ssn: Buffer.from('v2:456'), email: null },
    ]);
    const report = await runDoctor(rotationConfig({}, [tableRotation({ partitionKey: ['tenant_id', 'user_id'], clusteringKey: ['event_time'] })]), deps({ session, store }));
    expect(fails(report.checks)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checkedAt).toBe('2026-01-02T03:04:05.000Z');
    expect(report.checks.map((c) => c.id)).toEqual([
      'cluster.connect', 'keyspace.exists', 'table.exists', 'table.partition-key', 'table.clustering-key', 'column.type', 'column.type',
      'column.index', 'column.view', 'key-version.column', 'keys.load', 'keys.roundtrip', 'column.sample', 'column.sample', 'repository.write',
    ]);
    expect(report.checks.find((c) => c.id === 'keys.load')?.message).toBe('fernet keys loaded: new key v2, old key v1');
    const samples = report.checks.filter((c) => c.id === 'column.sample').map((c) => c.message);
    expect(samples).toEqual([
      'users.ssn: 2 sampled values open: 1 under the new key v2, 1 under old keys (1 v1), 0 under none',
      'users.email: 1 sampled value opens: 1 under the new key v2, 0 under old keys, 0 under none',
    ]);
    const keys: string[] = [];
    for await (const entry of store.list('')) keys.push(entry.key);
    expect(keys).toEqual([]);
    expect(() => assertRotationReady(report)).not.toThrow();
  });

  it('warns when sampled values open under no key, and never prints them', async () => {
    const session = fakeCluster(keyspace(), [{ ssn: Buffer.from('v0:secret-plaintext'), email: 'v1:x' }]);
    const report = await runDoctor(rotationConfig(), deps({ session }));
    const ssn = report.checks.find((c) => c.id === 'column.sample' && c.column === 'ssn');
    expect(ssn?.status).toBe('warn');
    expect(ssn?.message).toContain('1 of 1 sampled value opens under no key');
    expect(JSON.stringify(report)).not.toContain('secret-plaintext');
    expect(report.ok).toBe(true);
  });

  it('skips sampling with sample 0', async () => {
    const session = fakeCluster(keyspace());
    const report = await runDoctor(rotationConfig(), deps({ session }), { sample: 0 });
    expect(report.checks.some((c) => c.id === 'column.sample')).toBe(false);
    expect(session.calls.some((c) => c.cql.includes('"users"'))).toBe(false);
  });

  it('lists the local checks and the cluster failure when the cluster is unreachable (code CLUSTER_UNAVAILABLE)', async () => {
    const unreachable = new CassetteError('CLUSTER_UNAVAILABLE', 'cannot connect to Cassandra at 127.0.0.1:1: connection refused', { hint: 'check --hosts' });
    const report = await runDoctor(rotationConfig({ stateKeyspace: 'rekey_meta' }), deps({ session: { unavailable: unreachable } }));
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['cluster.connect', 'fail'], ['keys.load', 'ok'], ['keys.roundtrip', 'ok'], ['repository.write', 'ok'], ['settings.state-keyspace', 'ok'],
    ]);
    expect(report.checks[0]).toMatchObject({ message: unreachable.message, code: 'CLUSTER_UNAVAILABLE' });
    expect(report.checks[0]?.hint).toContain('check --hosts');
    expect(() => assertRotationReady(report)).toThrow(expect.objectContaining({ code: 'CLUSTER_UNAVAILABLE', exitCode: 4 }));
  });

  it('reports a missing keyspace with capture\'s message and hint', async () => {
    const session = new FakeSession()
      .answer('FROM system.local', [row({ cluster_name: 'c', release_version: '5.0.4' })])
      .answer('FROM system_schema.keyspaces', [row({ keyspace_name: 'other', durable_writes: true, replication: new Map() })]);
    const report = await runDoctor(rotationConfig(), deps({ session }));
    expect(report.checks[1]).toMatchObject({ id: 'keyspace.exists', status: 'fail', code: 'INVALID_INPUT', message: 'keyspace "shop" does not exist in the cluster' });
  });

  it('fails keys.load with the provider\'s message and code, checking integer key-version columns from configured versions', async () => {
    const schema = keyspace({ tables: [usersTable().columns.map((c) => (c.name === 'key_version' ? col('key_version', 'int') : c))].map((columns) => ({ ...usersTable(), columns })) });
    const createCipher = async (): Promise<ColumnCipher> => {
      throw new CassetteError('INVALID_INPUT', 'environment variable NEW is not set', { hint: 'export NEW' });
    };
    const report = await runDoctor(rotationConfig(), deps({ session: fakeCluster(schema), createCipher }));
    expect(report.checks.find((c) => c.id === 'keys.load')).toMatchObject({ status: 'fail', code: 'INVALID_INPUT', message: 'fernet keys did not load: environment variable NEW is not set', hint: 'export NEW' });
    expect(report.checks.some((c) => c.id === 'keys.roundtrip' || c.id === 'column.sample')).toBe(false);
    expect(report.checks.find((c) => c.id === 'key-version.column')).toMatchObject({ status: 'fail' });
  });

  it('keeps PROVIDER_UNAVAILABLE from a failing provider, and fails a round trip that opens under an old key', async () => {
    const down = async (): Promise<ColumnCipher> => ({
      ...fakeCipher(), seal: () => { throw new CassetteError('PROVIDER_UNAVAILABLE', 'the key service is down'); },
    });
    const report = await runDoctor(rotationConfig(), deps({ createCipher: down }), { sample: 0 });
    expect(report.checks.find((c) => c.id === 'keys.roundtrip')).toMatchObject({ status: 'fail', code: 'PROVIDER_UNAVAILABLE' });

    const stale = async (): Promise<ColumnCipher> => ({ ...fakeCipher(), seal: (p: Buffer) => Buffer.from(`v1:${p.toString('hex')}`) });
    const second = await runDoctor(rotationConfig(), deps({ createCipher: stale }), { sample: 0 });
    expect(second.checks.find((c) => c.id === 'keys.roundtrip')?.message).toBe('a value sealed under the new key v2 opened as key v1, not as the new key');
  });

  it('fails repository.write with REPOSITORY_UNAVAILABLE when the probe cannot be put', async () => {
    const store = new FaultyStore(new MemoryStore('broken'));
    store.failPutWhen(() => true, { times: Infinity });
    const report = await runDoctor(rotationConfig(), deps({ store }), { sample: 0 });
    expect(report.checks.find((c) => c.id === 'repository.write')).toMatchObject({ status: 'fail', code: 'REPOSITORY_UNAVAILABLE' });
    expect(firstFailure(report)?.id).toBe('repository.write');
    expect(() => assertRotationReady(report)).toThrow(expect.objectContaining({ code: 'REPOSITORY_UNAVAILABLE', exitCode: 5 }));
  });

  it('reports a repository that could not be opened with its error\'s code', async () => {
    const report = await runDoctor(rotationConfig(), deps({ store: { unavailable: new CassetteError('INVALID_INPUT', 'bad repository URL ftp://x') } }), { sample: 0 });
    expect(report.checks.find((c) => c.id === 'repository.write')).toMatchObject({ status: 'fail', code: 'INVALID_INPUT', message: 'bad repository URL ftp://x' });
  });
});

describe('checkTables', () => {
  const only = (checks: readonly DoctorCheck[], id: string): DoctorCheck[] => checks.filter((c) => c.id === id);

  it('fails a missing table, naming the tables there are and saying when it is a view', () => {
    const [missing] = checkTables(rotationConfig({}, [tableRotation({ name: 'Users' })]), keyspace(), V2);
    expect(missing).toMatchObject({ id: 'table.exists', status: 'fail', table: 'Users', message: 'table Users does not exist in keyspace shop' });
    expect(missing?.hint).toContain('tables in shop: users');
    const view = { name: 'by_email', baseTable: 'users', includeAllColumns: false, whereClause: '', columns: [], options: {}, cql: '' };
    const [isView] = checkTables(rotationConfig({}, [tableRotation({ name: 'by_email' })]), keyspace({ views: [view] }), V2);
    expect(isView?.hint).toContain('materialized view of users');
  });

  it('compares configured keys with the schema\'s, order included', () => {
    const checks = checkTables(rotationConfig({}, [tableRotation({ partitionKey: ['user_id', 'tenant_id'], clusteringKey: [] })]), keyspace(), V2);
    expect(only(checks, 'table.partition-key')[0]).toMatchObject({
      status: 'fail', message: 'users partition key is (tenant_id, user_id), not (user_id, tenant_id) as configured',
      hint: 'set partition_key: [tenant_id, user_id] for users in rekey.yaml (order matters)',
    });
    expect(only(checks, 'table.clustering-key')[0]?.message).toBe('users clustering key is (event_time), not none as configured');
  });

  it('refuses missing, mistyped, key, static and counter columns, one check each', () => {
    const table = usersTable([col('age', 'int'), col('note', 'text', 'static')]);
    const checks = checkTables(rotationConfig({}, [tableRotation({ encryptedColumns: ['nope', 'age', 'tenant_id', 'event_time', 'note', 'ssn'] })]), keyspace({ tables: [table] }), V2);
    expect(fails(checks).map((c) => [c.id, c.column, c.message])).toEqual([
      ['column.exists', 'nope', 'users.nope does not exist'],
      ['column.type', 'age', 'users.age is int; encrypted columns must be blob or text'],
      ['column.key', 'tenant_id', 'users.tenant_id is a partition key column: re-encrypting it changes the row\'s key and needs copy-and-swap; out of scope'],
      ['column.type', 'tenant_id', 'users.tenant_id is uuid; encrypted columns must be blob or text'],
      ['column.key', 'event_time', 'users.event_time is a clustering column: re-encrypting it changes the row\'s key and needs copy-and-swap; out of scope'],
      ['column.type', 'event_time', 'users.event_time is timestamp; encrypted columns must be blob or text'],
      ['column.static', 'note', 'users.note is a static column: rotating encrypted static columns is not supported'],
    ]);
    const counters = { ...usersTable([], true), name: 'hits', columns: [col('id', 'int', 'partition_key', 0), col('n', 'counter')] };
    const counterChecks = checkTables(rotationConfig({ keyVersionColumn: null }, [tableRotation({ name: 'hits', encryptedColumns: ['n'] })]), keyspace({ tables: [counters] }), V2);
    expect(only(counterChecks, 'table.counter')[0]?.message).toBe('hits is a counter table: counters cannot be SET; rotation of counter tables is not supported');
  });

  it.each([
    ['email', 'COMPOSITES', {}],
    ['values(email)', 'COMPOSITES', {}],
    ['"email"', 'CUSTOM', { class_name: 'org.apache.cassandra.index.sai.StorageAttachedIndex' }],
    ['full(email)', 'CUSTOM', { class_name: 'org.apache.cassandra.index.sasi.SASIIndex' }],
  ] as const)('refuses an index with target %s over an encrypted column', (target, kind, options) => {
    const index = { table: 'users', name: 'users_email_idx', kind, options: { target, ...options }, cql: '' };
    const [failed] = fails(checkTables(rotationConfig(), keyspace({ indexes: [index] }), V2));
    expect(failed).toMatchObject({ id: 'column.index', column: 'email', hint: expect.stringContaining('DROP INDEX "shop"."users_email_idx";') });
    expect(failed?.message).toMatch(/^users\.email is indexed by users_email_idx \((secondary|SAI|SASI) index\): the index would keep stale ciphertext$/);
  });

  it('accepts an index over another column, and refuses views that include an encrypted column', () => {
    const index = { table: 'users', name: 'by_version', kind: 'COMPOSITES' as const, options: { target: 'key_version' }, cql: '' };
    const view = (name: string, includeAllColumns: boolean, columns: readonly ColumnSchema[]) => ({ name, baseTable: 'users', includeAllColumns, whereClause: '', columns, options: {}, cql: '' });
    const ok = checkTables(rotationConfig(), keyspace({ indexes: [index], views: [view('v_ok', false, [col('user_id', 'int'), col('key_version', 'text')])] }), V2);
    expect(fails(ok)).toEqual([]);
    const bad = checkTables(rotationConfig(), keyspace({ views: [view('v_all', true, []), view('v_ssn', false, [col('ssn', 'blob')])] }), V2);
    expect(fails(bad).map((c) => c.message)).toEqual([
      'users.ssn, users.email are in materialized view v_all: the view would need rebuilding',
      'users.ssn is in materialized view v_ssn: the view would need rebuilding',
    ]);
  });

  it('gives the exact ALTER TABLE for a missing key-version column', () => {
    const table = { ...usersTable(), name: 'Users', columns: usersTable().columns.filter((c) => c.name !== 'key_version') };
    const [failed] = fails(checkTables(rotationConfig({}, [tableRotation({ name: 'Users' })]), keyspace({ tables: [table] }), V2));
    expect(failed).toMatchObject({ id: 'key-version.column', hint: 'ALTER TABLE "shop"."Users" ADD "key_version" text;' });
  });

  it.each([
    ['int', { newVersion: '2', oldVersions: ['1'] }, 'ok'],
    ['tinyint', { newVersion: '200', oldVersions: ['1'] }, 'fail'],
    ['bigint', { newVersion: 'v2', oldVersions: ['1'] }, 'fail'],
    ['varint', { newVersion: '123456789012345678901234567890', oldVersions: ['-1'] }, 'ok'],
    ['int', { newVersion: '2.0', oldVersions: ['1'] }, 'fail'],
    ['ascii', { newVersion: 'anything', oldVersions: [] }, 'ok'],
    ['uuid', { newVersion: '2', oldVersions: [] }, 'fail'],
  ] as const)('a %s key-version column with versions %j is %s', (type, versions, status) => {
    const table = { ...usersTable(), columns: usersTable().columns.map((c) => (c.name === 'key_version' ? col('key_version', type) : c)) };
    const checks = checkTables(rotationConfig(), keyspace({ tables: [table] }), versions);
    expect(checks.find((c) => c.id === 'key-version.column')?.status).toBe(status);
  });

  it('refuses a key-version column that is a key or static column, and warns when versions are unknown', () => {
    const table = { ...usersTable(), columns: usersTable().columns.map((c) => (c.name === 'key_version' ? col('key_version', 'text', 'static') : c)) };
    expect(checkTables(rotationConfig(), keyspace({ tables: [table] }), V2).find((c) => c.id === 'key-version.column')?.message)
      .toBe('users.key_version is a static column; the key-version column must be a regular column');
    const ints = { ...usersTable(), columns: usersTable().columns.map((c) => (c.name === 'key_version' ? col('key_version', 'int') : c)) };
    expect(checkTables(rotationConfig(), keyspace({ tables: [ints] }), undefined).find((c) => c.id === 'key-version.column')?.status).toBe('warn');
  });
});

describe('checkSettings', () => {
  it('warns about LWT with preserved WRITETIME, fails LWT without a key-version column, notes the state keyspace and a missing threshold', () => {
    const checks = checkSettings(rotationConfig(
      { keyVersionColumn: null, stateKeyspace: 'rekey_meta', execution: { workers: 1, pauseOnBackpressure: true } },
      [tableRotation({ useLwtGuard: true, preserveWritetime: true })],
    ));
    expect(checks.map((c) => [c.id, c.status])).toEqual([
      ['settings.lwt-writetime', 'warn'], ['settings.lwt-key-version', 'fail'], ['settings.state-keyspace', 'ok'], ['settings.backpressure', 'warn'],
    ]);
    expect(checks[0]?.message).toBe('users: LWT cannot keep WRITETIME (Cassandra refuses USING TIMESTAMP on conditional writes): use_lwt_guard wins; rewritten cells get the Paxos ballot time');
    expect(checks[2]?.message).toBe('state.keyspace rekey_meta is ignored: cassette keeps job state in the repository');
  });

  it('says nothing about consistent settings', () => {
    expect(checkSettings(rotationConfig({ execution: { workers: 1, pauseOnBackpressure: true, readP99ThresholdMs: 50 } }))).toEqual([]);
  });
});

describe('parseIndexTarget', () => {
  it.each([
    ['email', { column: 'email', part: 'value' }],
    ['"Email"', { column: 'Email', part: 'value' }],
    ['"a""b"', { column: 'a"b', part: 'value' }],
    ['values(m)', { column: 'm', part: 'values' }],
    ['keys("M")', { column: 'M', part: 'keys' }],
    ['entries(m)', { column: 'm', part: 'entries' }],
    ['FULL(l)', { column: 'l', part: 'full' }],
    ['', undefined],
    ['a, b', undefined],
    ['"open', undefined],
  ] as const)('%s → %j', (target, expected) => {
    expect(parseIndexTarget(target)).toEqual(expected);
  });
});
