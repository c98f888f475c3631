/**
 * The levels reach every statement, command by command, on the fakes: backup, restore (plain and
 * `--guard lwt`), rotate (a table with its own read level and the LWT guard, a table following
 * --consistency) and doctor's sample reads. Every statement carries a level explicitly: node-local
 * system tables at ONE, table data at the command's level (or the config's, per table), and LWT
 * writes the serial level besides. The reports name the levels.
 */
import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import type { BatchStatement, CqlWriteSession, QueryOptions, QueryResult } from '../../src/cassandra/connection/session.js';
import { runBackup } from '../../src/commands/backup.js';
import { runDoctor } from '../../src/commands/doctor.js';
import { silentProgress, type ProgressEvent, type ProgressPlan } from '../../src/commands/progress.js';
import { runRestore, type RestoreCluster, type RestoreRequest } from '../../src/commands/restore.js';
import { runRotate } from '../../src/commands/rotate/rotate.js';
import type { RotationConfig, TableRotation } from '../../src/config/rotation-types.js';
import { inProcessTransformer } from '../../src/pipeline/transform/transformer.js';
import { fakeCipher, fakeSealed } from '../support/fakes/fake-cipher.js';
import { FAKE_TOPOLOGY, fakeCluster, fakeClusterSession, isDataQuery } from '../support/fakes/fake-cluster.js';
import { FakeRow, FakeSession, row, tokenRangeRows } from '../support/fakes/fake-session.js';
import { MemoryStore } from '../support/fakes/memory-store.js';
import { keyspaceSchema, tableSchema, writeSyntheticBackup } from '../support/synthetic-backup.js';

const { consistencies } = cassandra.types;
const ONE = consistencies.one;
const EACH_QUORUM = consistencies.eachQuorum;
const SERIAL = consistencies.serial;
const LOCAL_SERIAL = consistencies.localSerial;
const SYSTEM = /\bFROM system(_schema)?\./;

/** One statement the cluster received: an execute, or each statement of a batch. */
interface Sent {
  readonly cql: string;
  readonly options: QueryOptions;
}

/** A write session over a FakeSession: executes go to it, batches are recorded and answered with no rows. */
function writable(fake: FakeSession): CqlWriteSession & { sent(): Sent[] } {
  const batches: Sent[] = [];
  return {
    execute: (cql, params, options) => fake.execute(cql, params, options),
    batch: (statements: readonly BatchStatement[], options: QueryOptions = {}): Promise<QueryResult> => {
      for (const s of statements) batches.push({ cql: s.cql, options: { ...options } });
      return Promise.resolve({ rows: [] });
    },
    sent: () => [...fake.calls.map((c) => ({ cql: c.cql, options: c.options })), ...batches],
  };
}

/** Every system read at ONE; returns the other statements. */
function dataStatements(sent: readonly Sent[]): Sent[] {
  const system = sent.filter((s) => SYSTEM.test(s.cql));
  expect(system.length).toBeGreaterThan(0);
  for (const s of system) expect([s.cql, s.options.consistency]).toEqual([s.cql, ONE]);
  return sent.filter((s) => !SYSTEM.test(s.cql) && !/^(CREATE|ALTER)\b/.test(s.cql));
}

describe('backup', () => {
  it('reads every range at --consistency and the system tables at ONE', async () => {
    const session = fakeClusterSession({ keyspace: 'ks', tables: [{ name: 'a', rows: 12 }] }).answer('FROM system.size_estimates', []);
    const report = await runBackup({ keyspace: 'ks', parallel: 2, fetchSize: 5, gzipLevel: 1, maxChunkBytes: 64 * 1024, consistency: 'EACH_QUORUM', attempts: 1, retryBaseDelayMs: 1 }, {
      store: new MemoryStore(), cluster: { ...fakeCluster(session), consistency: EACH_QUORUM }, progress: silentProgress,
      signal: new AbortController().signal, now: Date.now, toolVersion: 'test', resumeHint: (id) => id,
    });
    const data = dataStatements(session.calls);
    expect(data.length).toBeGreaterThan(2);
    expect(data.every((c) => isDataQuery(c) && c.options.consistency === EACH_QUORUM)).toBe(true);
    expect(report.consistency).toBe('EACH_QUORUM');
  });
});

describe('restore', () => {
  const BACKUP = '20261122T120000Z-cccccc';
  const t = tableSchema('t', [['id', 'int', 'partition_key'], ['kv', 'text', 'regular'], ['v', 'text', 'regular']]);
  const counts = tableSchema('counts', [['id', 'int', 'partition_key'], ['n', 'counter', 'regular']], true);
  const T = 1_700_000_000_000_001;

  async function setup(): Promise<{ store: MemoryStore; fake: FakeSession; session: ReturnType<typeof writable> }> {
    const store = new MemoryStore();
    await writeSyntheticBackup(store, BACKUP, keyspaceSchema('ks', [t, counts]), [
      { name: 't', ranges: [[[{ k: [1], c: { kv: { v: 'old', t: T }, v: { v: 'x', t: T } } }]]] },
      { name: 'counts', ranges: [[[{ k: [1], c: { n: { v: '5', t: T } } }]]] },
    ]);
    // The target keyspace does not exist yet: the restore creates it, then waits for agreement.
    const fake = new FakeSession()
      .answer('FROM system_schema.keyspaces', [])
      .answer(/FROM system_schema\.tables WHERE keyspace_name = \? AND table_name = \?/, (call) => (call.params[1] === 'counts' ? [row({ table_name: 'counts' })] : []))
      .answer('FROM system_schema.', [])
      .answer('FROM system.local', [row({ schema_version: 'v1' })])
      .answer('FROM system.peers', [])
      .answer(/^CREATE /, [])
      .answer(/^SELECT \* FROM "ks"\."counts" LIMIT 1/, [])
      .answer(/^SELECT count\(\*\)/, [row({ count: 1n })])
      .answer(/^UPDATE .* IF /, [row({ '[applied]': true })])
      .answer(/^(INSERT|UPDATE) /, []);
    return { store, fake, session: writable(fake) };
  }

  const request = (extra: Partial<RestoreRequest> = {}): RestoreRequest => ({
    backupId: BACKUP, schemaMode: 'create', guard: { kind: 'none' }, maxInFlight: 4, maxErrors: 0, batchBytes: 4096, parallel: 1, verify: true, attempts: 1, retryBaseDelayMs: 1, ...extra,
  });
  const deps = (store: MemoryStore, cluster: RestoreCluster) => ({
    store, cluster, progress: silentProgress, signal: new AbortController().signal, now: Date.now, toolVersion: 'test', resumeHint: (id: string) => id,
  });
  const cluster = (session: CqlWriteSession, serialConsistency?: number): RestoreCluster => ({
    session, consistency: EACH_QUORUM, ...(serialConsistency === undefined ? {} : { serialConsistency }), name: 'fake', hosts: ['127.0.0.1'], topology: FAKE_TOPOLOGY,
  });

  it('writes, reads the counter table and counts rows at --consistency; system tables at ONE', async () => {
    const { store, session } = await setup();
    const report = await runRestore(request(), deps(store, cluster(session, SERIAL)));
    const data = dataStatements(session.sent());
    expect(data.map((s) => s.cql.split(' ')[0])).toEqual(expect.arrayContaining(['SELECT', 'UPDATE', 'INSERT']));
    for (const s of data) expect([s.cql, s.options.consistency]).toEqual([s.cql, EACH_QUORUM]);
    expect(data.some((s) => s.cql.startsWith('SELECT * FROM "ks"."counts" LIMIT 1'))).toBe(true);
    expect(data.some((s) => s.cql.startsWith('SELECT count(*)'))).toBe(true);
    expect(report).toMatchObject({ written: 2, verified: true, consistency: 'EACH_QUORUM', serialConsistency: 'SERIAL' });
  });

  it('--guard lwt: conditional writes carry the serial level too (LOCAL_SERIAL when the cluster names none)', async () => {
    for (const [serial, name] of [[SERIAL, 'SERIAL'], [undefined, 'LOCAL_SERIAL']] as const) {
      const { store, session } = await setup();
      const report = await runRestore(request({ tables: ['t'], guard: { kind: 'lwt', column: 'kv', expected: 'old' }, verify: false }), deps(store, cluster(session, serial)));
      const lwt = dataStatements(session.sent()).filter((s) => / IF /.test(s.cql));
      expect(lwt.length).toBeGreaterThan(0);
      for (const s of lwt) expect(s.options).toMatchObject({ consistency: EACH_QUORUM, serialConsistency: serial ?? LOCAL_SERIAL });
      expect(report).toMatchObject({ written: 1, consistency: 'EACH_QUORUM', serialConsistency: name });
    }
  });
});

/** A keyspace `ks` of tables (id int PRIMARY KEY, key_version text, v text), answered from system_schema. */
function answerSchema(fake: FakeSession, tables: readonly string[]): FakeSession {
  return fake
    .answer('FROM system_schema.keyspaces', [row({ keyspace_name: 'ks', durable_writes: true, replication: new Map([['class', 'org.apache.cassandra.locator.SimpleStrategy'], ['replication_factor', '1']]) })])
    .answer('FROM system_schema.tables', tables.map((name) => row({ keyspace_name: 'ks', table_name: name, gc_grace_seconds: 864000, comment: '' })))
    .answer('FROM system_schema.columns', tables.flatMap((name) => [
      row({ table_name: name, column_name: 'id', clustering_order: 'none', kind: 'partition_key', position: 0, type: 'int' }),
      row({ table_name: name, column_name: 'key_version', clustering_order: 'none', kind: 'regular', position: -1, type: 'text' }),
      row({ table_name: name, column_name: 'v', clustering_order: 'none', kind: 'regular', position: -1, type: 'text' }),
    ]))
    .answer('FROM system_schema.', [])
    .answer('FROM system.local', [row({ cluster_name: 'fake', release_version: '5.0.8' })]);
}

const table = (name: string, extra: Partial<TableRotation> = {}): TableRotation => ({
  name, encryptedColumns: ['v'], preserveTtl: true, preserveWritetime: true, useLwtGuard: false, consistency: {}, ...extra,
});

function rotationConfig(tables: readonly TableRotation[]): RotationConfig {
  return {
    file: 'rekey.yaml',
    cluster: { contactPoints: [], keyspace: 'ks' },
    provider: { type: 'fernet', newKey: { source: { env: 'NEW' } }, oldKeys: [{ source: { env: 'OLD' } }], options: {} },
    keyVersionColumn: 'key_version',
    tables,
    execution: { workers: 2, pauseOnBackpressure: false },
  };
}

describe('rotate', () => {
  it("reads and writes each table at its config's levels, else at --consistency; LWT write-backs at --serial-consistency", async () => {
    const WT = 1_700_000_000_000_000n;
    const rotated = new Set<string>();
    const fake = answerSchema(new FakeSession(), ['plain', 'users']);
    for (const name of ['plain', 'users']) {
      const kv = (): string => (rotated.has(name) ? '2' : '1');
      // Export: id, key_version + WRITETIME + TTL, v + WRITETIME + TTL; verification: id, key_version, WRITETIME(v).
      fake.answer((cql) => cql.includes(`FROM "ks"."${name}" WHERE token(`) && cql.includes('TTL('), (call) =>
        tokenRangeRows([{ token: 42n, row: new FakeRow(['id', 'kv', 'wkv', 'tkv', 'v', 'wv', 'tv'], [1, kv(), WT, null, fakeSealed(rotated.has(name) ? 2 : 1, 's'), WT, null]) }])(call));
      fake.answer((cql) => cql.includes(`FROM "ks"."${name}" WHERE token(`), (call) => tokenRangeRows([{ token: 42n, row: new FakeRow(['id', 'kv', 'wv'], [1, kv(), WT]) }])(call));
      // The users LWT does not apply (an earlier attempt wrote it, say): the row is read back at the read level.
      fake.answer((cql) => cql.startsWith('UPDATE') && cql.includes(`"ks"."${name}"`), () => {
        rotated.add(name);
        return [row({ '[applied]': false })];
      });
      fake.answer((cql) => cql.startsWith('SELECT') && cql.includes(`FROM "ks"."${name}" WHERE "id"`), [row({ key_version: '2', v: 'other' })]);
    }
    const session = writable(fake);
    const store = new MemoryStore();
    const cipher = fakeCipher();
    const config = rotationConfig([table('users', { useLwtGuard: true, preserveWritetime: false, consistency: { read: 'ONE' } }), table('plain')]);
    const events: ProgressEvent[] = [];
    const plans: ProgressPlan[] = [];
    const progress = { ...silentProgress, start: (plan: ProgressPlan) => { plans.push(plan); }, observe: (event: ProgressEvent) => { events.push(event); } };
    const report = await runRotate({ config, maxRounds: 2, maxErrors: 0, fetchSize: 100, maxInFlight: 4, batchBytes: 4096, attempts: 1, retryBaseDelayMs: 1, tickMs: 20 }, {
      store, cluster: { ...fakeCluster(new FakeSession()), session, levels: { consistency: 'EACH_QUORUM', serialConsistency: 'SERIAL' } }, cipher,
      transformer: inProcessTransformer(store, cipher), progress, signal: new AbortController().signal, now: Date.now, toolVersion: 'test',
    });

    // What the metrics count (src/cli/observe/): the job's id, the LWT race per table, backpressure never engaged.
    expect(plans.map((p) => p.job)).toEqual(plans.map(() => report.jobId));
    const raced = report.tables.reduce((n, t) => n + t.raced, 0);
    expect(raced).toBeGreaterThan(0);
    expect(events.filter((e) => e.kind === 'races').reduce((n, e) => n + (e.kind === 'races' ? e.count : 0), 0)).toBe(raced);
    expect(events.filter((e) => e.kind === 'backpressure').every((e) => e.kind === 'backpressure' && !e.active)).toBe(true);
    const data = dataStatements(session.sent());
    const of = (name: string, kind: 'SELECT' | 'UPDATE'): Sent[] => data.filter((s) => s.cql.startsWith(kind) && s.cql.includes(`"ks"."${name}"`));
    expect(of('users', 'SELECT').length).toBeGreaterThanOrEqual(3); // export, read-back, verification
    for (const s of of('users', 'SELECT')) expect(s.options.consistency).toBe(ONE);
    for (const s of of('users', 'UPDATE')) expect(s.options).toMatchObject({ consistency: EACH_QUORUM, serialConsistency: SERIAL });
    for (const s of [...of('plain', 'SELECT'), ...of('plain', 'UPDATE')]) expect(s.options.consistency).toBe(EACH_QUORUM);
    expect(of('users', 'UPDATE').length).toBe(1);
    expect(of('plain', 'UPDATE').length).toBe(1);
    expect(data).toHaveLength(of('users', 'SELECT').length + of('plain', 'SELECT').length + 2);
    expect(report.consistency).toEqual([{ table: 'users', read: 'ONE', write: 'EACH_QUORUM' }, { table: 'plain', read: 'EACH_QUORUM', write: 'EACH_QUORUM' }]);
    expect(report.serialConsistency).toBe('SERIAL');
  });
});

describe('doctor', () => {
  it("samples each table at its read level (the config's, else --consistency) and reports the levels", async () => {
    const fake = answerSchema(new FakeSession(), ['plain', 'users']).answer(/^SELECT "v" FROM/, [row({ v: fakeSealed(1, 's') })]);
    const config = rotationConfig([table('users', { consistency: { read: 'ONE', write: 'ALL' } }), table('plain')]);
    const report = await runDoctor(config, {
      session: fake, store: new MemoryStore(), env: {}, now: Date.now, createCipher: () => Promise.resolve(fakeCipher()),
      levels: { consistency: 'QUORUM', serialConsistency: 'SERIAL' },
    }, { sample: 1 });
    const samples = dataStatements(fake.calls);
    expect(samples.map((s) => [/"ks"\."(\w+)"/.exec(s.cql)?.[1], s.options.consistency])).toEqual([['users', ONE], ['plain', consistencies.quorum]]);
    expect(report.consistency).toEqual({ tables: [{ table: 'users', read: 'ONE', write: 'ALL' }, { table: 'plain', read: 'QUORUM', write: 'QUORUM' }], serialConsistency: 'SERIAL' });
  });
});
