import { formatIdentifier, quoteString } from '../../src/cassandra/values/identifiers.js';
import { describe, expect, it } from 'vitest';
import { CassetteError } from '../../src/errors.js';
import {
  escapeWhereClauseLiterals, renameKeyspace, renderIndexCql, renderSchemaCql,
  renderTableCql, renderViewCql,
} from '../../src/cassandra/schema/render.js';
import {
  canonicalJson, findTable, nonKeyColumns, referencedTypes, resolveTables, schemaFingerprint, typesInDependencyOrder,
  type ColumnSchema, type KeyspaceSchema, type TableSchema, type ViewSchema,
} from '../../src/cassandra/schema/capture.js';

const pk = (name: string, type: string, position = 0): ColumnSchema => ({ name, type, kind: 'partition_key', position });
const ck = (name: string, type: string, position: number, order: 'asc' | 'desc'): ColumnSchema =>
  ({ name, type, kind: 'clustering', position, order });
const col = (name: string, type: string, kind: 'static' | 'regular' = 'regular'): ColumnSchema => ({ name, type, kind, position: -1 });

const events: TableSchema = {
  name: 'events',
  // Deliberately out of order: the renderer orders pk, ck, static, regular itself.
  columns: [col('note', 'text'), ck('at', 'timestamp', 1, 'desc'), pk('day', 'date', 1), col('region', 'text', 'static'),
    ck('seq', 'int', 0, 'asc'), pk('tenant', 'text', 0), col('home', 'frozen<address>')],
  options: {
    gc_grace_seconds: 3600,
    comment: "tenant's events",
    compaction: { class: 'org.apache.cassandra.db.compaction.LeveledCompactionStrategy', sstable_size_in_mb: '80' },
    bloom_filter_fp_chance: 0.01,
    cdc: false,
    extensions: {},
  },
  isCounter: false,
  cql: '',
};

const views: ViewSchema = {
  name: 'by_note', baseTable: 'events', includeAllColumns: false,
  whereClause: "tenant IS NOT NULL AND note IS NOT NULL AND tenant IN ('acme', 'o'brien')",
  columns: [pk('note', 'text'), ck('tenant', 'text', 0, 'asc'), col('region', 'text')],
  options: { comment: 'view' },
  cql: '',
};

const schema: KeyspaceSchema = {
  name: 'app',
  replication: { replication_factor: '1', class: 'org.apache.cassandra.locator.SimpleStrategy' },
  durableWrites: true,
  types: [
    { name: 'address', fields: [{ name: 'street', type: 'text' }, { name: 'location', type: 'frozen<"where">' }] },
    { name: 'where', fields: [{ name: 'lat', type: 'double' }, { name: 'lon', type: 'double' }] },
  ],
  tables: [
    events,
    { name: 'page_views', columns: [pk('page', 'text'), col('views', 'counter')], options: {}, isCounter: true, cql: '' },
    { name: 'User Profiles', columns: [pk('UserId', 'uuid'), col('select', 'int')], options: {}, isCounter: false, cql: '' },
  ],
  indexes: [
    { table: 'events', name: 'events_note_idx', kind: 'COMPOSITES', options: { target: 'note' }, cql: '' },
    { table: 'User Profiles', name: 'Profiles_sai', kind: 'CUSTOM', options: { class_name: 'sai', target: '"select"', case_sensitive: 'false' }, cql: '' },
    { table: 'events', name: 'region_sasi', kind: 'CUSTOM', options: { class_name: 'org.apache.cassandra.index.sasi.SASIIndex', target: 'region' }, cql: '' },
  ],
  views: [views],
};

describe('formatIdentifier', () => {
  it('leaves lowercase alphanumeric names that are not reserved bare', () => {
    expect(['users', 'a1', 'user_id', 'key', 'ttl', 'type', 'values'].map(formatIdentifier))
      .toEqual(['users', 'a1', 'user_id', 'key', 'ttl', 'type', 'values']);
  });

  it('quotes case, leading digits or underscores, spaces, reserved words, and doubles quotes', () => {
    expect(formatIdentifier('Users')).toBe('"Users"');
    expect(formatIdentifier('1st')).toBe('"1st"');
    expect(formatIdentifier('_x')).toBe('"_x"');
    expect(formatIdentifier('a b')).toBe('"a b"');
    expect(formatIdentifier('select')).toBe('"select"');
    expect(formatIdentifier('materialized')).toBe('"materialized"');
    expect(formatIdentifier('say "hi"')).toBe('"say ""hi"""');
    expect(formatIdentifier('')).toBe('""');
  });

  it('quotes strings with doubled single quotes', () => {
    expect(quoteString("it's")).toBe("'it''s'");
  });
});

describe('renderTableCql', () => {
  it('renders columns in key order, static, PRIMARY KEY, clustering order and sorted options', () => {
    expect(renderTableCql('app', events)).toBe([
      'CREATE TABLE app.events (',
      '    tenant text,',
      '    day date,',
      '    seq int,',
      '    at timestamp,',
      '    region text static,',
      '    home frozen<address>,',
      '    note text,',
      '    PRIMARY KEY ((tenant, day), seq, at)',
      ')',
      '    WITH CLUSTERING ORDER BY (seq ASC, at DESC)',
      '    AND bloom_filter_fp_chance = 0.01',
      '    AND cdc = false',
      "    AND comment = 'tenant''s events'",
      "    AND compaction = {'class': 'org.apache.cassandra.db.compaction.LeveledCompactionStrategy', 'sstable_size_in_mb': '80'}",
      '    AND gc_grace_seconds = 3600',
    ].join('\n'));
  });

  it('renders a single partition key column bare, a counter table, and quoted names', () => {
    const counter = findTable(schema, 'page_views');
    expect(counter && renderTableCql('app', counter)).toBe('CREATE TABLE app.page_views (\n    page text,\n    views counter,\n    PRIMARY KEY (page)\n)');
    const profiles = findTable(schema, 'User Profiles');
    expect(profiles && renderTableCql('My KS', profiles, { ifNotExists: true })).toBe(
      'CREATE TABLE IF NOT EXISTS "My KS"."User Profiles" (\n    "UserId" uuid,\n    "select" int,\n    PRIMARY KEY ("UserId")\n)',
    );
  });
});

describe('renderIndexCql and renderViewCql', () => {
  it('renders plain, SAI (with options) and SASI indexes', () => {
    const [plain, sai, sasi] = schema.indexes;
    expect(plain && renderIndexCql('app', plain)).toBe('CREATE INDEX events_note_idx ON app.events (note)');
    expect(sai && renderIndexCql('app', sai)).toBe(
      `CREATE CUSTOM INDEX "Profiles_sai" ON app."User Profiles" ("select") USING 'sai' WITH OPTIONS = {'case_sensitive': 'false'}`,
    );
    expect(sasi && renderIndexCql('app', sasi, { ifNotExists: true })).toBe(
      "CREATE CUSTOM INDEX IF NOT EXISTS region_sasi ON app.events (region) USING 'org.apache.cassandra.index.sasi.SASIIndex'",
    );
  });

  it('renders a view with its columns, re-escaped WHERE clause, key and options', () => {
    expect(renderViewCql('app', views)).toBe([
      'CREATE MATERIALIZED VIEW app.by_note AS',
      '    SELECT note, tenant, region',
      '    FROM app.events',
      "    WHERE tenant IS NOT NULL AND note IS NOT NULL AND tenant IN ('acme', 'o''brien')",
      '    PRIMARY KEY (note, tenant)',
      '    WITH CLUSTERING ORDER BY (tenant ASC)',
      "    AND comment = 'view'",
    ].join('\n'));
    expect(renderViewCql('app', { ...views, includeAllColumns: true })).toContain('SELECT *\n');
  });

  it('re-escapes the string literals Cassandra stores unescaped, keeping escaped ones', () => {
    expect(escapeWhereClauseLiterals("a = 'it's' AND b IS NOT NULL")).toBe("a = 'it''s' AND b IS NOT NULL");
    expect(escapeWhereClauseLiterals("a = 'it''s'")).toBe("a = 'it''s'");
    expect(escapeWhereClauseLiterals("a IN ('x', 'y's')")).toBe("a IN ('x', 'y''s')");
    expect(escapeWhereClauseLiterals(`"it's" = 'a' and "b""" = 1`)).toBe(`"it's" = 'a' and "b""" = 1`);
    expect(escapeWhereClauseLiterals("a = ''")).toBe("a = ''");
  });
});

describe('renderSchemaCql', () => {
  it('orders keyspace, types (dependencies first), tables, indexes, views', () => {
    const statements = renderSchemaCql(schema);
    expect(statements.map((s) => s.split(/[ (\n]/).slice(0, 3).join(' '))).toEqual([
      'CREATE KEYSPACE app', 'CREATE TYPE app."where"', 'CREATE TYPE app.address',
      'CREATE TABLE app.events', 'CREATE TABLE app.page_views', 'CREATE TABLE app."User',
      'CREATE INDEX events_note_idx', 'CREATE CUSTOM INDEX', 'CREATE CUSTOM INDEX', 'CREATE MATERIALIZED VIEW',
    ]);
    expect(statements[0]).toBe(
      "CREATE KEYSPACE app WITH replication = {'class': 'org.apache.cassandra.locator.SimpleStrategy', 'replication_factor': '1'} AND durable_writes = true",
    );
    expect(statements[2]).toBe('CREATE TYPE app.address (\n    street text,\n    location frozen<"where">\n)');
  });

  it('renames the keyspace everywhere and overrides replication', () => {
    const statements = renderSchemaCql(schema, {
      keyspace: 'Restored', replication: { class: 'NetworkTopologyStrategy', dc2: '3', dc1: '2' },
    });
    expect(statements[0]).toBe(
      `CREATE KEYSPACE "Restored" WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': '2', 'dc2': '3'} AND durable_writes = true`,
    );
    for (const statement of statements.slice(1)) {
      expect(statement).not.toMatch(/\bapp\./);
      expect(statement).toContain('"Restored".');
    }
    expect(statements.at(-1)).toContain('FROM "Restored".events');
  });

  it('emits IF NOT EXISTS forms when asked', () => {
    for (const statement of renderSchemaCql(schema, { ifNotExists: true })) {
      expect(statement).toMatch(/^CREATE (KEYSPACE|TYPE|TABLE|INDEX|CUSTOM INDEX|MATERIALIZED VIEW) IF NOT EXISTS /);
    }
  });

  it('renameKeyspace re-renders every cql field and changes the fingerprint only through them', () => {
    const renamed = renameKeyspace(schema, 'other');
    expect(renamed.name).toBe('other');
    expect(renamed.tables.map((t) => t.cql)).toEqual(schema.tables.map((t) => renderTableCql('other', t)));
    expect(renamed.views[0]?.cql).toContain('FROM other.events');
    expect(renameKeyspace(renamed, 'app')).toEqual(renameKeyspace(schema, 'app'));
  });
});

describe('schema helpers', () => {
  it('finds user types referenced by a type, quoted or not, but not type constructors', () => {
    const names = new Set(['address', 'where', 'list']);
    expect(referencedTypes('frozen<list<frozen<"where">>>', names)).toEqual(['where']);
    expect(referencedTypes('map<text, frozen<address>>', names)).toEqual(['address']);
    expect(referencedTypes('vector<float, 3>', names)).toEqual([]);
  });

  it('orders types by dependency whatever the input order, independent ones by name', () => {
    const types = [
      { name: 'a', fields: [{ name: 'c', type: 'frozen<c>' }] },
      { name: 'c', fields: [{ name: 'd', type: 'frozen<d>' }] },
      { name: 'b', fields: [{ name: 'x', type: 'int' }] },
      { name: 'd', fields: [{ name: 'x', type: 'int' }] },
    ];
    const expected = ['d', 'c', 'a', 'b'];
    expect(typesInDependencyOrder(types).map((t) => t.name)).toEqual(expected);
    expect(typesInDependencyOrder([...types].reverse()).map((t) => t.name)).toEqual(expected);
  });

  it('orders non-key columns static first, then by name', () => {
    expect(nonKeyColumns(events).map((c) => c.name)).toEqual(['region', 'home', 'note']);
  });

  it('resolves all tables, or the named ones case-sensitively, and names every unknown one', () => {
    expect(resolveTables(schema).map((t) => t.name)).toEqual(['events', 'page_views', 'User Profiles']);
    expect(resolveTables(schema, []).length).toBe(3);
    expect(resolveTables(schema, ['User Profiles', 'events', 'events']).map((t) => t.name)).toEqual(['events', 'User Profiles']);
    let error: unknown;
    try {
      resolveTables(schema, ['events', 'Events', 'nope', 'by_note']);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CassetteError);
    const cassetteError = error as CassetteError;
    expect(cassetteError.code).toBe('INVALID_INPUT');
    expect(cassetteError.message).toBe('unknown tables "Events", "nope", "by_note" in keyspace "app"');
    expect(cassetteError.hint).toContain('tables in "app": events, page_views, User Profiles');
    expect(cassetteError.hint).toContain('"by_note" is a materialized view');
  });

  it('fingerprints canonical JSON, independent of key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}');
    const reordered: KeyspaceSchema = { views: schema.views, indexes: schema.indexes, tables: schema.tables, types: schema.types,
      durableWrites: true, replication: { class: 'org.apache.cassandra.locator.SimpleStrategy', replication_factor: '1' }, name: 'app' };
    expect(schemaFingerprint(reordered)).toBe(schemaFingerprint(schema));
    expect(schemaFingerprint(schema)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(schemaFingerprint({ ...schema, durableWrites: false })).not.toBe(schemaFingerprint(schema));
  });
});
