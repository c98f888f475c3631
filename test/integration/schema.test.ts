import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type cassandra from 'cassandra-driver';
import { CassetteError } from '../../src/errors.js';
import {
  captureKeyspace, findTable, resolveTables, schemaFingerprint, type KeyspaceSchema,
} from '../../src/cassandra/schema/capture.js';
import { renameKeyspace, renderSchemaCql } from '../../src/cassandra/schema/render.js';
import type { CqlSession } from '../../src/cassandra/connection/session.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { portEncodedClient, sessionFrom } from '../support/session.js';

/** Everything the schema capture must describe, in one keyspace. */
function richSchemaCql(ks: string): string[] {
  return [
    `CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1} AND durable_writes = false`,
    // "location" sorts after "address" but must be created first: address uses it.
    `CREATE TYPE ${ks}.location (lat double, lon double, "Label" text)`,
    `CREATE TYPE ${ks}.address (street text, "Zip" text, at frozen<location>)`,
    `CREATE TABLE ${ks}.events (
       tenant text, day date, seq int, at timestamp,
       region text static,
       tags set<text>, scores frozen<list<int>>, attrs map<text, text>, pairs frozen<map<int, frozen<set<text>>>>,
       home frozen<address>, work address, embedding vector<float, 3>, note text,
       PRIMARY KEY ((tenant, day), seq, at))
     WITH CLUSTERING ORDER BY (seq ASC, at DESC)
       AND default_time_to_live = 86400 AND gc_grace_seconds = 3600
       AND comment = 'tenant''s events'
       AND compaction = {'class': 'LeveledCompactionStrategy', 'sstable_size_in_mb': '80'}`,
    `CREATE TABLE ${ks}.page_views (page text PRIMARY KEY, views counter, clicks counter)`,
    `CREATE TABLE ${ks}."UserProfiles" ("UserId" uuid PRIMARY KEY, "Display Name" text, "Nick" text, "select" int)`,
    `CREATE INDEX events_note_idx ON ${ks}.events (note)`,
    `CREATE INDEX ON ${ks}.events (keys(attrs))`,
    // SAI refuses a column whose name is not alphanumeric-underscore; a legacy index takes it.
    `CREATE INDEX ON ${ks}."UserProfiles" ("Display Name")`,
    `CREATE INDEX profiles_nick_sai ON ${ks}."UserProfiles" ("Nick") USING 'sai' WITH OPTIONS = {'case_sensitive': 'false'}`,
    `CREATE INDEX events_embedding_sai ON ${ks}.events (embedding) USING 'sai' WITH OPTIONS = {'similarity_function': 'dot_product'}`,
    `CREATE MATERIALIZED VIEW ${ks}.events_by_note AS
       SELECT tenant, day, seq, at, note, scores FROM ${ks}.events
       WHERE tenant IS NOT NULL AND day IS NOT NULL AND seq IS NOT NULL AND at IS NOT NULL AND note IS NOT NULL
         AND tenant IN ('acme', 'o''brien')
       PRIMARY KEY (note, tenant, day, seq, at)
       WITH CLUSTERING ORDER BY (tenant ASC, day ASC, seq ASC, at DESC) AND comment = 'by note'`,
  ];
}

async function expectInvalidInput(promise: Promise<unknown>): Promise<CassetteError> {
  const error = await promise.then(() => undefined, (err: unknown) => err);
  expect(error).toBeInstanceOf(CassetteError);
  expect((error as CassetteError).code).toBe('INVALID_INPUT');
  return error as CassetteError;
}

describe('schema capture on real Cassandra 5.0', () => {
  const settings = inject('services').cassandra;
  const keyspace = uniqueName('it_schema');
  const copy = uniqueName('it_schema_copy');
  let client: cassandra.Client;
  let session: CqlSession;
  let original: KeyspaceSchema;

  beforeAll(async () => {
    client = portEncodedClient(settings);
    await client.connect();
    session = sessionFrom(client);
    for (const statement of richSchemaCql(keyspace)) await client.execute(statement);
    original = await captureKeyspace(session, keyspace);
  });

  afterAll(async () => {
    for (const ks of [keyspace, copy]) await client.execute(`DROP KEYSPACE IF EXISTS ${ks}`);
    await client.shutdown();
  });

  it('captures the keyspace, user types in dependency order, and tables by name', () => {
    expect(original.name).toBe(keyspace);
    expect(original.replication).toEqual({ class: 'org.apache.cassandra.locator.SimpleStrategy', replication_factor: '1' });
    expect(original.durableWrites).toBe(false);
    expect(original.types).toEqual([
      { name: 'location', fields: [{ name: 'lat', type: 'double' }, { name: 'lon', type: 'double' }, { name: 'Label', type: 'text' }] },
      { name: 'address', fields: [{ name: 'street', type: 'text' }, { name: 'Zip', type: 'text' }, { name: 'at', type: 'frozen<location>' }] },
    ]);
    expect(original.tables.map((t) => t.name)).toEqual(['UserProfiles', 'events', 'page_views']);
  });

  it('captures columns with their kinds, positions, clustering order and types as system_schema spells them', () => {
    const events = findTable(original, 'events');
    expect(events?.columns).toEqual([
      { name: 'tenant', type: 'text', kind: 'partition_key', position: 0 },
      { name: 'day', type: 'date', kind: 'partition_key', position: 1 },
      { name: 'seq', type: 'int', kind: 'clustering', position: 0, order: 'asc' },
      { name: 'at', type: 'timestamp', kind: 'clustering', position: 1, order: 'desc' },
      { name: 'region', type: 'text', kind: 'static', position: -1 },
      { name: 'attrs', type: 'map<text, text>', kind: 'regular', position: -1 },
      { name: 'embedding', type: 'vector<float, 3>', kind: 'regular', position: -1 },
      { name: 'home', type: 'frozen<address>', kind: 'regular', position: -1 },
      { name: 'note', type: 'text', kind: 'regular', position: -1 },
      { name: 'pairs', type: 'frozen<map<int, frozen<set<text>>>>', kind: 'regular', position: -1 },
      { name: 'scores', type: 'frozen<list<int>>', kind: 'regular', position: -1 },
      { name: 'tags', type: 'set<text>', kind: 'regular', position: -1 },
      { name: 'work', type: 'address', kind: 'regular', position: -1 },
    ]);
    expect(events?.isCounter).toBe(false);
    expect(findTable(original, 'page_views')?.isCounter).toBe(true);
    expect(findTable(original, 'UserProfiles')?.columns.map((c) => c.name)).toEqual(['UserId', 'Display Name', 'Nick', 'select']);
  });

  it('captures table options as system_schema.tables stores them', () => {
    const options = findTable(original, 'events')?.options ?? {};
    expect(options).toMatchObject({
      default_time_to_live: 86400,
      gc_grace_seconds: 3600,
      comment: "tenant's events",
      compaction: {
        class: 'org.apache.cassandra.db.compaction.LeveledCompactionStrategy',
        max_threshold: '32', min_threshold: '4', sstable_size_in_mb: '80',
      },
      caching: { keys: 'ALL', rows_per_partition: 'NONE' },
      bloom_filter_fp_chance: 0.1,
      crc_check_chance: 1,
      speculative_retry: '99p',
      additional_write_policy: '99p',
      read_repair: 'BLOCKING',
      extensions: {},
    });
    expect(Object.keys(options)).not.toContain('id');
    expect(Object.keys(options)).not.toContain('read_repair_chance');
  });

  it('captures secondary and SAI indexes and the materialized view', () => {
    expect(original.indexes.map(({ cql: _cql, ...index }) => index)).toEqual([
      { table: 'UserProfiles', name: 'UserProfiles_DisplayName_idx', kind: 'COMPOSITES', options: { target: '"Display Name"' } },
      { table: 'UserProfiles', name: 'profiles_nick_sai', kind: 'CUSTOM', options: { case_sensitive: 'false', class_name: 'sai', target: '"Nick"' } },
      { table: 'events', name: 'events_attrs_idx', kind: 'COMPOSITES', options: { target: 'keys(attrs)' } },
      { table: 'events', name: 'events_embedding_sai', kind: 'CUSTOM', options: { class_name: 'sai', similarity_function: 'dot_product', target: 'embedding' } },
      { table: 'events', name: 'events_note_idx', kind: 'COMPOSITES', options: { target: 'note' } },
    ]);
    expect(original.indexes.map((index) => index.cql).slice(0, 2)).toEqual([
      `CREATE INDEX "UserProfiles_DisplayName_idx" ON ${keyspace}."UserProfiles" ("Display Name")`,
      `CREATE CUSTOM INDEX profiles_nick_sai ON ${keyspace}."UserProfiles" ("Nick") USING 'sai' WITH OPTIONS = {'case_sensitive': 'false'}`,
    ]);
    const [view] = original.views;
    expect(original.views).toHaveLength(1);
    expect(view?.name).toBe('events_by_note');
    expect(view?.baseTable).toBe('events');
    expect(view?.includeAllColumns).toBe(false);
    expect(view?.columns.map((c) => `${c.kind}:${c.name}`)).toEqual([
      'partition_key:note', 'clustering:tenant', 'clustering:day', 'clustering:seq', 'clustering:at', 'regular:scores',
    ]);
    expect(view?.options).not.toHaveProperty('default_time_to_live');
    expect(view?.options['comment']).toBe('by note');
    // Cassandra 5.0 stores the WHERE clause's string literals unescaped; rendering re-escapes them.
    expect(view?.whereClause).toContain("tenant IN ('acme', 'o'brien')");
    expect(view?.cql).toContain("tenant IN ('acme', 'o''brien')");
    expect(view?.cql).toContain(`FROM ${keyspace}.events`);
  });

  it('recreates the keyspace under a new name from the rendered CQL, identical apart from the name', async () => {
    for (const statement of renderSchemaCql(original, { keyspace: copy })) await client.execute(statement);
    const restored = await captureKeyspace(session, copy);
    const expected = renameKeyspace(original, copy);
    expect(restored).toEqual(expected);
    expect(schemaFingerprint(restored)).toBe(schemaFingerprint(expected));
    expect(schemaFingerprint(restored)).not.toBe(schemaFingerprint(original));
  });

  it('captures the same schema through a client with the default driver encoding (maps as objects)', async () => {
    const plain = cassandraClient(settings);
    try {
      await plain.connect();
      expect(await captureKeyspace(sessionFrom(plain), keyspace)).toEqual(original);
    } finally {
      await plain.shutdown();
    }
  });

  it('refuses an unknown keyspace, naming the existing ones', async () => {
    const error = await expectInvalidInput(captureKeyspace(session, 'no_such_keyspace'));
    expect(error.message).toBe('keyspace "no_such_keyspace" does not exist in the cluster');
    expect(error.hint).toContain(keyspace);
    expect(error.hint).not.toContain('system_schema');
    const caseError = await expectInvalidInput(captureKeyspace(session, keyspace.toUpperCase()));
    expect(caseError.hint).toContain(`did you mean "${keyspace}"`);
  });

  it('refuses unknown tables, names being case-sensitive', () => {
    expect(resolveTables(original, ['UserProfiles']).map((t) => t.name)).toEqual(['UserProfiles']);
    expect(() => resolveTables(original, ['userprofiles', 'events', 'nope'])).toThrowError(
      `unknown tables "userprofiles", "nope" in keyspace "${keyspace}"`,
    );
  });
});
