import { describe, expect, it } from 'vitest';
import {
  diffTables, diffTableShape, diffUserType, diffUserTypes, diffViews, normalizeCqlType, tableNotes, usedTypeNames,
  type SchemaTypes,
} from '../../src/cassandra/schema/diff.js';
import type { ColumnSchema, TableSchema, UserTypeSchema, ViewSchema } from '../../src/cassandra/schema/capture.js';

const pk = (name: string, type: string, position = 0): ColumnSchema => ({ name, type, kind: 'partition_key', position });
const ck = (name: string, type: string, position: number, order: 'asc' | 'desc' = 'asc'): ColumnSchema =>
  ({ name, type, kind: 'clustering', position, order });
const col = (name: string, type: string, kind: 'static' | 'regular' = 'regular'): ColumnSchema => ({ name, type, kind, position: -1 });

function table(columns: readonly ColumnSchema[], extra: Partial<TableSchema> = {}): TableSchema {
  return { name: 'users', columns, options: {}, isCounter: columns.some((c) => c.type === 'counter'), cql: '', ...extra };
}

const point: UserTypeSchema = { name: 'point', fields: [{ name: 'x', type: 'double' }, { name: 'label', type: 'text' }] };
const shape: UserTypeSchema = {
  name: 'shape',
  fields: [{ name: 'name', type: 'text' }, { name: 'center', type: 'frozen<point>' }, { name: 'tags', type: 'frozen<set<text>>' }],
};
const same: SchemaTypes = { wanted: [point, shape], actual: [point, shape] };
const none: SchemaTypes = { wanted: [], actual: [] };

const users = table([
  pk('id', 'uuid'), ck('ts', 'timestamp', 0, 'desc'), col('region', 'text', 'static'),
  col('email', 'text'), col('tags', 'set<text>'), col('home', 'frozen<shape>'),
]);

describe('diffTables', () => {
  it('is empty for an identical table, whatever the options and column order', () => {
    const reordered = { ...users, columns: [...users.columns].reverse(), options: { gc_grace_seconds: 1, compaction: { class: 'x' } } };
    expect(diffTables(users, reordered, same)).toEqual([]);
  });

  it('allows extra columns in the target: they stay null', () => {
    const wider = table([...users.columns, col('nickname', 'text'), col('zone', 'int', 'static')]);
    expect(diffTables(users, wider, same)).toEqual([]);
  });

  it('reports a column of another type', () => {
    const target = table(users.columns.map((c) => (c.name === 'email' ? { ...c, type: 'blob' } : c)));
    expect(diffTables(users, target, same)).toEqual(['column "email": backup has text, target has blob']);
  });

  it('reports a missing column with its type, and a missing static column as static', () => {
    const target = table(users.columns.filter((c) => c.name !== 'tags' && c.name !== 'region'));
    expect(diffTables(users, target, same)).toEqual(['missing column "region" (text static)', 'missing column "tags" (set<text>)']);
  });

  it('reports static-ness both ways', () => {
    const target = table(users.columns.map((c) => {
      if (c.name === 'region') return { ...c, kind: 'regular' as const };
      if (c.name === 'email') return { ...c, kind: 'static' as const };
      return c;
    }));
    expect(diffTables(users, target, same)).toEqual([
      'column "region": backup has a static column, target has a regular one',
      'column "email": backup has a regular column, target has a static one',
    ]);
  });

  it('reports the clustering order', () => {
    const target = table(users.columns.map((c) => (c.name === 'ts' ? { ...c, order: 'asc' as const } : c)));
    expect(diffTables(users, target, same)).toEqual(['clustering order of "ts": backup DESC, target ASC']);
  });

  it('reports a key column of another type', () => {
    const target = table(users.columns.map((c) => (c.name === 'id' ? { ...c, type: 'timeuuid' } : c)));
    expect(diffTables(users, target, same)).toEqual(['column "id": backup has uuid, target has timeuuid']);
  });

  it('reports a different partition key: other names, another order, one column more', () => {
    const composite = table([pk('tenant', 'text', 0), pk('day', 'date', 1), col('v', 'int')]);
    const swapped = table([pk('day', 'date', 0), pk('tenant', 'text', 1), col('v', 'int')]);
    const single = table([pk('tenant', 'text', 0), col('day', 'date'), col('v', 'int')]);
    expect(diffTables(composite, swapped, none)).toEqual(['partition key: backup ("tenant", "day"), target ("day", "tenant")']);
    expect(diffTables(single, composite, none)).toEqual([
      'partition key: backup ("tenant"), target ("tenant", "day")',
      'column "day": backup has a regular column, target has it in the primary key',
    ]);
  });

  it('reports different clustering columns', () => {
    const target = table([pk('id', 'uuid'), ck('ts', 'timestamp', 0, 'desc'), ck('seq', 'int', 1),
      col('region', 'text', 'static'), col('email', 'text'), col('tags', 'set<text>'), col('home', 'frozen<shape>')]);
    expect(diffTables(users, target, same)).toEqual(['clustering columns: backup ("ts"), target ("ts", "seq")']);
  });

  it('reports counter-ness', () => {
    const counters = table([pk('page', 'text'), col('views', 'counter')]);
    const plain = table([pk('page', 'text'), col('views', 'bigint')]);
    expect(diffTables(counters, plain, none)).toEqual([
      'column "views": backup has counter, target has bigint',
      'backup is a counter table, target is not',
    ]);
    expect(diffTableShape(plain, counters, none)).toEqual([
      'column "views": backup has bigint, target has counter',
      'backup is not a counter table, target is one',
    ]);
  });

  it('lists every difference at once', () => {
    const target = table([pk('id', 'text'), ck('ts', 'timestamp', 0, 'asc'), col('region', 'text'), col('email', 'blob')]);
    expect(diffTables(users, target, same)).toEqual([
      'column "id": backup has uuid, target has text',
      'clustering order of "ts": backup DESC, target ASC',
      'column "region": backup has a static column, target has a regular one',
      'column "email": backup has text, target has blob',
      'missing column "home" (frozen<shape>)',
      'missing column "tags" (set<text>)',
    ]);
  });

  it('compares types after normalising their spelling', () => {
    const wanted = table([pk('id', 'int'), col('a', 'varchar'), col('b', 'tuple<int, text>'), col('c', 'list<list<int>>'),
      col('d', 'frozen<map<text, set<int>>>'), col('e', 'FROZEN<"point">'), col('f', 'vector<float,3>')], { name: 't' });
    const actual = table([pk('id', 'int'), col('a', 'text'), col('b', 'frozen<tuple<int, text>>'), col('c', 'list<frozen<list<int>>>'),
      col('d', 'frozen<map<text, frozen<set<int>>>>'), col('e', 'frozen<point>'), col('f', 'vector<float, 3>')], { name: 't' });
    expect(diffTables(wanted, actual, same)).toEqual([]);
  });

  it('keeps frozen and non-frozen apart at the top level, where they are stored differently', () => {
    const wanted = table([pk('id', 'int'), col('s', 'set<text>'), col('u', 'shape')]);
    const actual = table([pk('id', 'int'), col('s', 'frozen<set<text>>'), col('u', 'frozen<shape>')]);
    expect(diffTables(wanted, actual, same)).toEqual([
      'column "s": backup has set<text>, target has frozen<set<text>>',
      'column "u": backup has shape, target has frozen<shape>',
    ]);
  });
});

describe('user type compatibility', () => {
  it('allows extra trailing fields in the target', () => {
    const wider = { ...shape, fields: [...shape.fields, { name: 'color', type: 'text' }] };
    expect(diffTables(users, users, { wanted: [point, shape], actual: [point, wider] })).toEqual([]);
  });

  it('reports a missing field, a renamed or reordered field, a field of another type', () => {
    const missing = { ...shape, fields: shape.fields.slice(0, 2) };
    const renamed = { ...shape, fields: shape.fields.map((f) => (f.name === 'center' ? { ...f, name: 'centre' } : f)) };
    const retyped = { ...shape, fields: [...shape.fields.slice(0, 2), { name: 'tags', type: 'frozen<list<text>>' }] };
    const diff = (actual: UserTypeSchema): string[] => diffTables(users, users, { wanted: [point, shape], actual: [point, actual] });
    expect(diff(missing)).toEqual(['type "shape": missing field "tags" (frozen<set<text>>)']);
    expect(diff(renamed)).toEqual(['type "shape": field 2 is "center" in the backup, "centre" in the target']);
    expect(diff(retyped)).toEqual(['type "shape": field "tags": backup has frozen<set<text>>, target has frozen<list<text>>']);
  });

  it('checks the types used by a used type, and reports a type missing in the target', () => {
    const otherPoint = { ...point, fields: [{ name: 'x', type: 'int' }, { name: 'label', type: 'text' }] };
    expect(diffTables(users, users, { wanted: [point, shape], actual: [otherPoint, shape] })).toEqual([
      'type "point": field "x": backup has double, target has int',
    ]);
    expect(diffTables(users, users, { wanted: [point, shape], actual: [shape] })).toEqual([
      'type "point": does not exist in the target',
    ]);
  });

  it('ignores types the restored columns do not use', () => {
    const plain = table([pk('id', 'int'), col('v', 'text')]);
    expect(diffTables(plain, plain, { wanted: [point, shape], actual: [] })).toEqual([]);
  });

  it('diffUserType checks one type only; diffUserTypes follows fields, in dependency order', () => {
    expect(diffUserType(shape, { ...shape, fields: [] }, same)).toEqual([
      'missing field "name" (text)', 'missing field "center" (frozen<point>)', 'missing field "tags" (frozen<set<text>>)',
    ]);
    expect(diffUserType(shape, undefined, same)).toEqual(['does not exist in the target']);
    expect(diffUserTypes(['shape'], { wanted: [point, shape], actual: [] })).toEqual([
      'type "point": does not exist in the target', 'type "shape": does not exist in the target',
    ]);
    expect(usedTypeNames([{ type: 'list<frozen<shape>>' }, { type: 'int' }], [point, shape])).toEqual(['point', 'shape']);
  });
});

describe('views, notes and type spelling', () => {
  const view: ViewSchema = {
    name: 'by_email', baseTable: 'users', includeAllColumns: false, whereClause: 'email IS NOT NULL AND id IS NOT NULL',
    columns: [pk('email', 'text'), ck('id', 'uuid', 0), col('region', 'text')], options: {}, cql: '',
  };

  it('compares a view by base table and columns', () => {
    expect(diffViews(view, { ...view, whereClause: 'other' }, none)).toEqual([]);
    expect(diffViews(view, { ...view, baseTable: 'people', columns: [pk('email', 'text'), ck('id', 'uuid', 0, 'desc')] }, none)).toEqual([
      'base table: backup "users", target "people"',
      'clustering order of "id": backup ASC, target DESC',
      'missing column "region" (text)',
    ]);
  });

  it('notes a differing default_time_to_live, and nothing else', () => {
    expect(tableNotes({ options: { default_time_to_live: 0, gc_grace_seconds: 1 } }, { options: { default_time_to_live: 0 } })).toEqual([]);
    expect(tableNotes({ options: {} }, { options: { default_time_to_live: 0 } })).toEqual([]);
    expect(tableNotes({ options: { default_time_to_live: 0 } }, { options: { default_time_to_live: 86400 } })).toEqual([
      'default_time_to_live is 0 in the backup, 86400 in the target (restored cells keep their own TTLs)',
    ]);
  });

  it('normalises type spelling, and leaves text it cannot parse as it is', () => {
    expect(normalizeCqlType('map<varchar, list<list<int>>>', [])).toBe('map<text, frozen<list<frozen<list<int>>>>>');
    expect(normalizeCqlType('tuple<int, set<text>>', [])).toBe('frozen<tuple<int, frozen<set<text>>>>');
    expect(normalizeCqlType('"Geo"', ['Geo'])).toBe('"Geo"');
    expect(normalizeCqlType('list<Point>', ['point'])).toBe('list<frozen<point>>');
    expect(normalizeCqlType("  'org.example.Custom'  ", [])).toBe("'org.example.Custom'");
  });
});
