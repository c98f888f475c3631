/**
 * Restore's schema step against the real Cassandra 5.0: planning a target (new keyspace name,
 * replication override), creating it, refusing incompatible or missing tables before any DDL,
 * accepting objects created concurrently when compatible, and creating on a second, independent
 * cluster.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type cassandra from 'cassandra-driver';
import { CassetteError } from '../../src/errors.js';
import { captureKeyspace, type KeyspaceSchema } from '../../src/cassandra/schema/capture.js';
import { renameKeyspace, renderSchemaCql } from '../../src/cassandra/schema/render.js';
import { applySchema, planTargetSchema, type PlanSchemaOptions } from '../../src/cassandra/schema/apply.js';
import { usedTypeNames } from '../../src/cassandra/schema/diff.js';
import type { CqlSession, QueryResult } from '../../src/cassandra/connection/session.js';
import { allTypesSchema } from '../fixtures/all-types.mjs';
import { uniqueName } from '../support/clients.js';
import { portEncodedClient, sessionFrom } from '../support/session.js';
import type { CassandraSettings } from '../support/settings.js';

const RESTORED = ['all_types', 'page_views', 'users'];
const SIMPLE_RF1 = { class: 'SimpleStrategy', replication_factor: '1' };
const SIMPLE_RF1_STORED = { class: 'org.apache.cassandra.locator.SimpleStrategy', replication_factor: '1' };

/** A rich keyspace: user types (nested), all types, a counter table, SAI and legacy indexes, a view, and a table not restored. */
function sourceCql(ks: string): string[] {
  return [
    // Not SimpleStrategy, so that the override is visible in the target.
    `CREATE KEYSPACE ${ks} WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 1} AND durable_writes = false`,
    ...allTypesSchema(ks),
    `CREATE INDEX all_types_i_idx ON ${ks}.all_types (i)`,
    `CREATE TABLE ${ks}.page_views (page text PRIMARY KEY, views counter, clicks counter)`,
    `CREATE TABLE ${ks}.users (id uuid, ts timestamp, email text, region text static, tags set<text>, home frozen<shape>,
       PRIMARY KEY (id, ts)) WITH CLUSTERING ORDER BY (ts DESC) AND default_time_to_live = 3600`,
    `CREATE INDEX users_email_sai ON ${ks}.users (email) USING 'sai'`,
    `CREATE MATERIALIZED VIEW ${ks}.users_by_email AS SELECT id, ts, email FROM ${ks}.users
       WHERE email IS NOT NULL AND id IS NOT NULL AND ts IS NOT NULL PRIMARY KEY (email, id, ts)`,
    `CREATE TYPE ${ks}.unused (n int)`,
    `CREATE TABLE ${ks}.ignored (k int PRIMARY KEY, u frozen<unused>)`,
  ];
}

/** The part of `schema` a restore of `tables` brings: those tables, the types they use, their indexes and views. */
function restrictTo(schema: KeyspaceSchema, tables: readonly string[]): KeyspaceSchema {
  const keep = new Set(tables);
  const kept = schema.tables.filter((t) => keep.has(t.name));
  const types = new Set(usedTypeNames(kept.flatMap((t) => t.columns), schema.types));
  return {
    ...schema,
    types: schema.types.filter((t) => types.has(t.name)),
    tables: kept,
    indexes: schema.indexes.filter((i) => keep.has(i.table)),
    views: schema.views.filter((v) => keep.has(v.baseTable)),
  };
}

/** The session, recording every statement it runs. */
function recording(session: CqlSession): { session: CqlSession; statements: string[] } {
  const statements: string[] = [];
  return {
    statements,
    session: { execute: (cql, params, options) => { statements.push(cql); return session.execute(cql, params, options); } },
  };
}

const ddl = (statements: readonly string[]): string[] => statements.filter((s) => !/^\s*SELECT\b/i.test(s));

async function rejection(promise: Promise<unknown>): Promise<CassetteError> {
  const error = await promise.then(() => undefined, (err: unknown) => err);
  expect(error).toBeInstanceOf(CassetteError);
  return error as CassetteError;
}

/** The independent second cluster, started by the global setup (scripts/services up --second). */
function secondClusterSettings(): CassandraSettings {
  return inject('services').second;
}

describe('restore schema planning and creation on real Cassandra 5.0', () => {
  const settings = inject('services').cassandra;
  const source = uniqueName('it_apply_src');
  const target = uniqueName('it_apply_dst');
  const incompatible = uniqueName('it_apply_bad');
  const compatible = uniqueName('it_apply_ok');
  const concurrent = uniqueName('it_apply_race');
  const slow = uniqueName('it_apply_slow');
  const refused = uniqueName('it_apply_refused');
  const created = [source, target, incompatible, compatible, concurrent, slow, refused];
  let client: cassandra.Client;
  let session: CqlSession;
  let original: KeyspaceSchema;

  const options = (extra: Partial<PlanSchemaOptions> = {}): PlanSchemaOptions => ({ tables: RESTORED, ...extra });
  const expectedIn = (keyspace: string, tables: readonly string[] = RESTORED): KeyspaceSchema =>
    ({ ...renameKeyspace(restrictTo(original, tables), keyspace), replication: SIMPLE_RF1_STORED });

  beforeAll(async () => {
    client = portEncodedClient(settings);
    await client.connect();
    session = sessionFrom(client);
    for (const statement of sourceCql(source)) await client.execute(statement);
    original = await captureKeyspace(session, source);
  });

  afterAll(async () => {
    for (const ks of created) await client.execute(`DROP KEYSPACE IF EXISTS ${ks}`);
    await client.shutdown();
  });

  it('creates the restored tables, their types, indexes and view under a new name with the replication override', async () => {
    const plan = await planTargetSchema(session, original, options({ keyspace: target, replication: SIMPLE_RF1 }));
    expect(plan.keyspace).toBe(target);
    expect(plan.existing).toEqual([]);
    expect(plan.notes).toEqual([]);
    expect(plan.statements).toEqual(renderSchemaCql(restrictTo(original, RESTORED), { keyspace: target, replication: SIMPLE_RF1 }));
    expect(plan.statements.join('\n')).not.toMatch(/unused|ignored/);

    await applySchema(session, plan);
    expect(await captureKeyspace(session, target)).toEqual(expectedIn(target));
  });

  it('plans nothing the second time, in every mode, and lists what is in place', async () => {
    for (const mode of ['create', 'skip', 'require-existing'] as const) {
      const again = await planTargetSchema(session, original, options({ keyspace: target, replication: SIMPLE_RF1, mode }));
      expect(again.statements, mode).toEqual([]);
      expect(again.notes, mode).toEqual([]);
      expect(again.existing, mode).toEqual([
        `keyspace ${target}`, `type ${target}.point`, `type ${target}.shape`,
        `table ${target}.all_types`, `table ${target}.page_views`, `table ${target}.users`,
        `index ${target}.all_types_i_idx`, `index ${target}.users_email_sai`, `materialized view ${target}.users_by_email`,
      ]);
    }
    const withoutOverride = await planTargetSchema(session, original, options({ keyspace: target }));
    expect(withoutOverride.statements).toEqual([]);
    expect(withoutOverride.notes).toEqual([
      `keyspace ${target} exists with replication ${JSON.stringify(SIMPLE_RF1_STORED)}; the backup's `
        + `${JSON.stringify(original.replication)} is not applied`,
    ]);
  });

  it('refuses an incompatible table and user type, listing every difference, before any DDL', async () => {
    for (const statement of [
      `CREATE KEYSPACE ${incompatible} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
      `CREATE TYPE ${incompatible}.point (x double, label text)`,
      `CREATE TYPE ${incompatible}.shape (name text, center frozen<point>)`,
      `CREATE TABLE ${incompatible}.users (id uuid, ts timestamp, email blob, region text static, home frozen<shape>, extra int,
         PRIMARY KEY (id, ts)) WITH CLUSTERING ORDER BY (ts ASC)`,
    ]) await client.execute(statement);
    const before = await captureKeyspace(session, incompatible);
    const recorder = recording(session);

    const error = await rejection(planTargetSchema(recorder.session, original, options({ keyspace: incompatible })));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.exitCode).toBe(3);
    expect(error.message).toBe([
      `type ${incompatible}.shape in the target is incompatible with the backup: missing field "tags" (frozen<set<text>>)`,
      `table ${incompatible}.users in the target is incompatible with the backup: clustering order of "ts": backup DESC, target ASC`,
      'column "email": backup has text, target has blob',
      'missing column "tags" (set<text>)',
    ].join('; '));
    expect(error.hint).toBe('restore into a new keyspace with --target-keyspace, or fix the table');
    expect(ddl(recorder.statements)).toEqual([]);
    expect(await captureKeyspace(session, incompatible)).toEqual(before);
  });

  it('refuses a missing table or keyspace when the mode creates nothing', async () => {
    const skip = await rejection(planTargetSchema(session, original, { tables: ['page_views'], keyspace: incompatible, mode: 'skip' }));
    expect(skip.code).toBe('INVALID_INPUT');
    expect(skip.message).toBe(`table ${incompatible}.page_views does not exist in the target, and schema mode "skip" creates nothing`);
    expect(skip.hint).toContain('schema mode "create"');

    const nowhere = uniqueName('it_apply_none');
    const required = await rejection(planTargetSchema(session, original, options({ keyspace: nowhere, mode: 'require-existing' })));
    expect(required.code).toBe('INVALID_INPUT');
    expect(required.message).toBe(`keyspace ${nowhere} does not exist in the target, and schema mode "require-existing" creates nothing`);
  });

  it('refuses bad inputs before reading the target', async () => {
    const recorder = recording(session);
    const unknown = await rejection(planTargetSchema(recorder.session, original, { tables: ['nope'], keyspace: target }));
    expect(unknown.message).toBe(`unknown table "nope" in keyspace "${source}"`);
    const badName = await rejection(planTargetSchema(recorder.session, original, options({ keyspace: 'no-dashes' })));
    expect(badName.message).toBe('"no-dashes" cannot be a keyspace name');
    const noClass = await rejection(planTargetSchema(recorder.session, original, options({ keyspace: target, replication: { replication_factor: '1' } })));
    expect(noClass.message).toContain('has no "class"');
    expect(recorder.statements).toEqual([]);
  });

  it('accepts an existing table with extra columns and other options, noting its TTL default, and adds its index and view', async () => {
    for (const statement of [
      `CREATE KEYSPACE ${compatible} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1} AND durable_writes = false`,
      `CREATE TYPE ${compatible}.point (x double, label text, z int)`,
      `CREATE TYPE ${compatible}.shape (name text, center frozen<point>, tags frozen<set<text>>, color text)`,
      `CREATE TABLE ${compatible}.users (id uuid, ts timestamp, email varchar, region text static, tags set<text>, home frozen<shape>,
         nickname text, PRIMARY KEY (id, ts)) WITH CLUSTERING ORDER BY (ts DESC) AND comment = 'mine'`,
    ]) await client.execute(statement);
    const plan = await planTargetSchema(session, original, { tables: ['users'], keyspace: compatible });
    const renamed = renameKeyspace(original, compatible);
    expect(plan.statements).toEqual([
      ...renamed.indexes.filter((i) => i.table === 'users').map((i) => i.cql),
      ...renamed.views.map((v) => v.cql),
    ]);
    expect(plan.existing).toEqual([`keyspace ${compatible}`, `type ${compatible}.point`, `type ${compatible}.shape`, `table ${compatible}.users`]);
    expect(plan.notes).toContain(
      `table ${compatible}.users: default_time_to_live is 3600 in the backup, 0 in the target (restored cells keep their own TTLs)`,
    );
    await applySchema(session, plan);
    const after = await captureKeyspace(session, compatible);
    expect(after.indexes.map((i) => i.name)).toEqual(['users_email_sai']);
    expect(after.views.map((v) => v.name)).toEqual(['users_by_email']);
    expect((await planTargetSchema(session, original, { tables: ['users'], keyspace: compatible })).statements).toEqual([]);
  });

  it('accepts objects created concurrently when they are compatible, and refuses them when not', async () => {
    const plan = await planTargetSchema(session, original, options({ keyspace: concurrent, replication: SIMPLE_RF1 }));
    // Someone else creates the keyspace, a type and a table between our plan and its execution.
    for (const statement of [
      `CREATE KEYSPACE ${concurrent} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1} AND durable_writes = false`,
      `CREATE TYPE ${concurrent}.point (x double, label text)`,
      renameKeyspace(original, concurrent).tables.find((t) => t.name === 'page_views')?.cql ?? '',
    ]) await client.execute(statement);
    const recorder = recording(session);
    await applySchema(recorder.session, plan);
    expect(ddl(recorder.statements)[0]).toBe(plan.statements[0]); // the CREATE KEYSPACE that failed
    expect(ddl(recorder.statements).filter((s) => s.startsWith(`CREATE TYPE ${concurrent}.point `))).toEqual([]);
    expect(await captureKeyspace(session, concurrent)).toEqual(expectedIn(concurrent));

    // Now a conflicting table appears after planning: the re-plan refuses it.
    await client.execute(`DROP TABLE ${concurrent}.page_views`);
    const replan = await planTargetSchema(session, original, options({ keyspace: concurrent }));
    expect(replan.statements).toEqual([renameKeyspace(original, concurrent).tables.find((t) => t.name === 'page_views')?.cql]);
    await client.execute(`CREATE TABLE ${concurrent}.page_views (page text PRIMARY KEY, views bigint, clicks bigint)`);
    const error = await rejection(applySchema(session, replan));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toBe(`table ${concurrent}.page_views in the target is incompatible with the backup: `
      + 'column "clicks": backup has counter, target has bigint; column "views": backup has counter, target has bigint; '
      + 'backup is a counter table, target is not');
  });

  it('turns a statement the cluster refuses into INVALID_INPUT naming it', async () => {
    const plan = await planTargetSchema(session, original, {
      tables: ['page_views'], keyspace: refused, replication: { class: 'NetworkTopologyStrategy', no_such_dc: '1' },
    });
    const error = await rejection(applySchema(session, plan));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toMatch(new RegExp(`^the target cluster refused CREATE KEYSPACE ${refused} WITH .*Unrecognized strategy option \\{no_such_dc\\}`));
  });

  it('waits for schema agreement and gives up with CLUSTER_UNAVAILABLE when a node keeps another version', async () => {
    const plan = await planTargetSchema(session, original, { tables: ['page_views'], keyspace: slow, replication: SIMPLE_RF1 });
    const polls: string[] = [];
    // A peer that never catches up: the real answer plus one row with another version.
    const disagreeing: CqlSession = {
      async execute(cql, params, opts): Promise<QueryResult> {
        const result = await session.execute(cql, params, opts);
        if (!cql.includes('system.peers')) return result;
        polls.push(cql);
        const fake = { peer: '10.9.9.9', schema_version: '00000000-0000-0000-0000-000000000000' };
        return { rows: [...result.rows, { get: (c: string | number) => (typeof c === 'number' ? Object.values(fake)[c] : fake[c as keyof typeof fake]), values: () => Object.values(fake) }] };
      },
    };
    const started = Date.now();
    const error = await rejection(applySchema(disagreeing, plan, { agreementTimeoutMs: 600, agreementPollMs: 100 }));
    expect(error.code).toBe('CLUSTER_UNAVAILABLE');
    expect(error.message).toMatch(new RegExp(`^schema versions did not agree within 600 ms after CREATE KEYSPACE ${slow} .*00000000-0000-0000-0000-000000000000 on 10\\.9\\.9\\.9`));
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(polls.length).toBeGreaterThan(2);
    // Only the first statement ran; a re-run picks up from there.
    await applySchema(session, await planTargetSchema(session, original, { tables: ['page_views'], keyspace: slow, replication: SIMPLE_RF1 }));
    expect(await captureKeyspace(session, slow)).toEqual(expectedIn(slow, ['page_views']));
  });

  it('creates the keyspace on a second, independent cluster', async () => {
    const second = secondClusterSettings();
    const otherClient = portEncodedClient(second);
    await otherClient.connect();
    const other = sessionFrom(otherClient);
    try {
      const keyspaces = await otherClient.execute('SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [source]);
      expect(keyspaces.rows).toEqual([]); // really another cluster
      const plan = await planTargetSchema(other, original, { tables: ['all_types', 'page_views'], replication: SIMPLE_RF1 });
      expect(plan.statements[0]).toMatch(new RegExp(`^CREATE KEYSPACE ${source} `));
      await applySchema(other, plan);
      expect(await captureKeyspace(other, source)).toEqual(expectedIn(source, ['all_types', 'page_views']));
    } finally {
      await otherClient.execute(`DROP KEYSPACE IF EXISTS ${source}`);
      await otherClient.shutdown();
    }
  });
});
