/**
 * planSchema, the pure target-schema planner: the backup's keyspace against a target keyspace
 * given as a value (no Cassandra), from a missing keyspace to an incompatible one, in every mode.
 */
import { describe, expect, it } from 'vitest';
import { CassetteError } from '../../src/errors.js';
import { plannedKeyspace, planSchema, type PlanSchemaOptions } from '../../src/cassandra/schema/plan.js';
import {
  renameKeyspace, renderIndexCql, renderSchemaCql, renderTableCql, renderViewCql,
} from '../../src/cassandra/schema/render.js';
import type {
  ColumnSchema, IndexSchema, KeyspaceSchema, TableSchema, UserTypeSchema, ViewSchema,
} from '../../src/cassandra/schema/capture.js';

const pk = (name: string, type: string, position = 0): ColumnSchema => ({ name, type, kind: 'partition_key', position });
const ck = (name: string, type: string, position: number, order: 'asc' | 'desc'): ColumnSchema =>
  ({ name, type, kind: 'clustering', position, order });
const col = (name: string, type: string): ColumnSchema => ({ name, type, kind: 'regular', position: -1 });

function table(name: string, columns: readonly ColumnSchema[], options: TableSchema['options'] = {}): TableSchema {
  const t = { name, columns, options, isCounter: columns.some((c) => c.type === 'counter') };
  return { ...t, cql: renderTableCql('app', t) };
}

function index(tableName: string, name: string, target: string): IndexSchema {
  const i = { table: tableName, name, kind: 'COMPOSITES' as const, options: { target } };
  return { ...i, cql: renderIndexCql('app', i) };
}

const point: UserTypeSchema = { name: 'point', fields: [{ name: 'x', type: 'double' }, { name: 'y', type: 'double' }] };
const shape: UserTypeSchema = { name: 'shape', fields: [{ name: 'name', type: 'text' }, { name: 'center', type: 'frozen<point>' }] };
const unused: UserTypeSchema = { name: 'unused', fields: [{ name: 'n', type: 'int' }] };

const users = table('users', [pk('id', 'uuid'), ck('ts', 'timestamp', 0, 'desc'), col('email', 'text'), col('home', 'frozen<shape>')],
  { default_time_to_live: 3600 });
const counts = table('counts', [pk('page', 'text'), col('views', 'counter')]);
const ignored = table('ignored', [pk('k', 'int'), col('u', 'frozen<unused>')]);

const byEmailView = {
  name: 'users_by_email', baseTable: 'users', includeAllColumns: false,
  whereClause: 'email IS NOT NULL AND id IS NOT NULL AND ts IS NOT NULL',
  columns: [pk('email', 'text'), ck('id', 'uuid', 0, 'asc'), ck('ts', 'timestamp', 1, 'asc')],
  options: {},
};
const byEmail: ViewSchema = { ...byEmailView, cql: renderViewCql('app', byEmailView) };

/** The backup: two restored tables with a nested type, an index and a view, plus a table (and type) not restored. */
const backup: KeyspaceSchema = {
  name: 'app',
  replication: { class: 'org.apache.cassandra.locator.NetworkTopologyStrategy', dc1: '3' },
  durableWrites: true,
  types: [point, shape, unused],
  tables: [counts, ignored, users],
  indexes: [index('ignored', 'ignored_u_idx', 'u'), index('users', 'users_email_idx', 'email')],
  views: [byEmail],
};

const SIMPLE = { class: 'SimpleStrategy', replication_factor: '1' };
const SIMPLE_STORED = { class: 'org.apache.cassandra.locator.SimpleStrategy', replication_factor: '1' };
const RESTORED = ['users', 'counts'];

const request = (extra: Partial<PlanSchemaOptions> = {}): PlanSchemaOptions =>
  ({ tables: RESTORED, keyspace: 'restored', replication: SIMPLE, ...extra });

/** The backup's restored part as a target keyspace `restored` that someone already created. */
const inPlace: KeyspaceSchema = {
  ...renameKeyspace({ ...backup, types: [point, shape], tables: [counts, users], indexes: [backup.indexes[1] as IndexSchema] }, 'restored'),
  replication: SIMPLE_STORED,
};

function refusal(plan: () => unknown): CassetteError {
  try {
    plan();
  } catch (err) {
    expect(err).toBeInstanceOf(CassetteError);
    expect((err as CassetteError).code).toBe('INVALID_INPUT');
    return err as CassetteError;
  }
  throw new Error('planSchema did not refuse');
}

describe('planSchema', () => {
  it('creates a missing keyspace with its restored types, tables, indexes and views, in that order', () => {
    const options = request();
    const plan = planSchema(backup, undefined, options);
    expect(plan.keyspace).toBe('restored');
    expect(plan.statements.map((s) => s.split('\n')[0])).toEqual([
      "CREATE KEYSPACE restored WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'} AND durable_writes = true",
      'CREATE TYPE restored.point (',
      'CREATE TYPE restored.shape (',
      'CREATE TABLE restored.counts (',
      'CREATE TABLE restored.users (',
      'CREATE INDEX users_email_idx ON restored.users (email)',
      'CREATE MATERIALIZED VIEW restored.users_by_email AS',
    ]);
    const restricted = { ...backup, types: [point, shape], tables: [counts, users], indexes: [backup.indexes[1] as IndexSchema] };
    expect(plan.statements).toEqual(renderSchemaCql(restricted, { keyspace: 'restored', replication: SIMPLE }));
    expect(plan.existing).toEqual([]);
    expect(plan.notes).toEqual([]);
    expect(plan.request).toEqual({ source: backup, options });
  });

  it('keeps the backup\'s name and replication when none is given, and restores every table for an empty list', () => {
    const plan = planSchema(backup, undefined, { tables: [] });
    expect(plan.keyspace).toBe('app');
    expect(plan.statements).toEqual(renderSchemaCql(backup));
  });

  it('plans nothing for a compatible target, in every mode, listing what is in place', () => {
    for (const mode of ['create', 'skip', 'require-existing'] as const) {
      const plan = planSchema(backup, inPlace, request({ mode }));
      expect(plan.statements, mode).toEqual([]);
      expect(plan.notes, mode).toEqual([]);
      expect(plan.existing, mode).toEqual([
        'keyspace restored', 'type restored.point', 'type restored.shape', 'table restored.counts', 'table restored.users',
        'index restored.users_email_idx', 'materialized view restored.users_by_email',
      ]);
    }
  });

  it('notes what differs without stopping the restore: replication, TTL default, index kind, WHERE clause', () => {
    const target: KeyspaceSchema = {
      ...inPlace,
      tables: inPlace.tables.map((t) => (t.name === 'users' ? { ...t, options: {} } : t)),
      indexes: [{ ...inPlace.indexes[0] as IndexSchema, name: 'other_name' }],
      views: inPlace.views.map((v) => ({ ...v, whereClause: 'email IS NOT NULL AND id IS NOT NULL AND ts IS NOT NULL AND ts > 0' })),
    };
    const plan = planSchema(backup, target, { tables: RESTORED, keyspace: 'restored' });
    expect(plan.statements).toEqual([]);
    expect(plan.notes).toEqual([
      `keyspace restored exists with replication ${JSON.stringify(SIMPLE_STORED)}; the backup's ${JSON.stringify(backup.replication)} is not applied`,
      'table restored.users: default_time_to_live is 3600 in the backup, 0 in the target (restored cells keep their own TTLs)',
      'index restored.users_email_idx of the backup exists in the target as other_name',
      'materialized view restored.users_by_email: WHERE clause is "email IS NOT NULL AND id IS NOT NULL AND ts IS NOT NULL" '
        + 'in the backup, "email IS NOT NULL AND id IS NOT NULL AND ts IS NOT NULL AND ts > 0" in the target',
    ]);
    expect(plan.existing).toContain('index restored.other_name');
  });

  it('creates only what is missing from an existing keyspace', () => {
    const target: KeyspaceSchema = { ...inPlace, types: [point], tables: [], indexes: [], views: [] };
    const plan = planSchema(backup, target, request());
    expect(plan.statements.map((s) => s.split('\n')[0])).toEqual([
      'CREATE TYPE restored.shape (',
      'CREATE TABLE restored.counts (',
      'CREATE TABLE restored.users (',
      'CREATE INDEX users_email_idx ON restored.users (email)',
      'CREATE MATERIALIZED VIEW restored.users_by_email AS',
    ]);
    expect(plan.existing).toEqual(['keyspace restored', 'type restored.point']);
  });

  it('refuses incompatible objects, listing every difference before anything is created', () => {
    const target: KeyspaceSchema = {
      ...inPlace,
      types: [point, { name: 'shape', fields: [{ name: 'name', type: 'text' }] }],
      tables: [
        { ...counts, columns: [pk('page', 'text'), col('views', 'bigint')], isCounter: false },
        { ...users, columns: [pk('id', 'uuid'), ck('ts', 'timestamp', 0, 'asc'), col('email', 'blob'), col('home', 'frozen<shape>')] },
      ],
      indexes: [{ ...inPlace.indexes[0] as IndexSchema, options: { target: 'home' } }],
      views: [{ ...inPlace.views[0] as ViewSchema, baseTable: 'counts' }],
    };
    const error = refusal(() => planSchema(backup, target, request()));
    expect(error.message).toBe([
      'type restored.shape in the target is incompatible with the backup: missing field "center" (frozen<point>)',
      'table restored.counts in the target is incompatible with the backup: column "views": backup has counter, target has bigint',
      'backup is a counter table, target is not',
      'table restored.users in the target is incompatible with the backup: clustering order of "ts": backup DESC, target ASC',
      'column "email": backup has text, target has blob',
      'index restored.users_email_idx in the target is incompatible with the backup: backup indexes "users" (email), target indexes "users" (home)',
      'materialized view restored.users_by_email in the target is incompatible with the backup: base table: backup "users", target "counts"',
    ].join('; '));
    expect(error.hint).toBe('restore into a new keyspace with --target-keyspace, or fix the table');
  });

  it('refuses a table that is a view in the target, and a view that is a table', () => {
    const target: KeyspaceSchema = {
      ...inPlace,
      tables: [counts, { ...users, name: 'users_by_email' }],
      views: [{ ...inPlace.views[0] as ViewSchema, name: 'users' }],
    };
    expect(refusal(() => planSchema(backup, target, request())).message).toBe([
      'table restored.users in the target is incompatible with the backup: it is a materialized view in the target',
      'materialized view restored.users_by_email in the target is incompatible with the backup: it is a table in the target',
    ].join('; '));
  });

  it('creates nothing in mode skip or require-existing: a missing table is refused, a missing index or view noted', () => {
    const target: KeyspaceSchema = { ...inPlace, tables: [users], indexes: [], views: [] };
    const skip = refusal(() => planSchema(backup, target, request({ mode: 'skip' })));
    expect(skip.message).toBe('table restored.counts does not exist in the target, and schema mode "skip" creates nothing');
    expect(skip.hint).toBe('create the missing tables first, or restore with schema mode "create"');

    const plan = planSchema(backup, target, request({ mode: 'require-existing', tables: ['users'] }));
    expect(plan.statements).toEqual([]);
    expect(plan.notes).toEqual([
      'index restored.users_email_idx does not exist in the target; schema mode "require-existing" does not create it',
      'materialized view restored.users_by_email does not exist in the target; schema mode "require-existing" does not create it',
    ]);
    expect(plan.existing).toEqual(['keyspace restored', 'type restored.point', 'type restored.shape', 'table restored.users']);
  });

  it('refuses incompatible and missing tables together, with both hints', () => {
    const target: KeyspaceSchema = { ...inPlace, tables: [{ ...users, columns: users.columns.filter((c) => c.name !== 'email') }] };
    const error = refusal(() => planSchema(backup, target, request({ mode: 'skip' })));
    expect(error.message).toBe('table restored.users in the target is incompatible with the backup: missing column "email" (text); '
      + 'table restored.counts does not exist in the target, and schema mode "skip" creates nothing');
    expect(error.hint).toBe('restore into a new keyspace with --target-keyspace, or fix the table; '
      + 'create the missing tables first, or restore with schema mode "create"');
  });

  it('refuses a missing keyspace when the mode creates nothing', () => {
    for (const mode of ['skip', 'require-existing'] as const) {
      const error = refusal(() => planSchema(backup, undefined, request({ mode })));
      expect(error.message).toBe(`keyspace restored does not exist in the target, and schema mode "${mode}" creates nothing`);
      expect(error.hint).toBe('create the keyspace and its tables first, or restore with schema mode "create"');
    }
  });

  it('refuses a bad request whatever the target, as plannedKeyspace does first', () => {
    const bad: [Partial<PlanSchemaOptions>, string][] = [
      [{ tables: ['nope'] }, 'unknown table "nope" in keyspace "app"'],
      [{ keyspace: 'no-dashes' }, '"no-dashes" cannot be a keyspace name'],
      [{ replication: { replication_factor: '1' } }, 'the replication override {"replication_factor":"1"} has no "class"'],
    ];
    for (const [extra, message] of bad) {
      expect(refusal(() => planSchema(backup, inPlace, request(extra))).message).toBe(message);
      expect(refusal(() => plannedKeyspace(backup, request(extra))).message).toBe(message);
    }
    expect(plannedKeyspace(backup, request())).toBe('restored');
    expect(plannedKeyspace(backup, { tables: [] })).toBe('app');
  });
});
