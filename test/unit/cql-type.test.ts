import { formatIdentifier, quoteIdentifier } from '../../src/cassandra/values/identifiers.js';
import { describe, expect, it } from 'vitest';
import { CassetteError } from '../../src/errors.js';
import {
  formatCqlType, isMultiCell, parseCqlType, type CqlType, type UserTypeDefinition,
} from '../../src/cassandra/values/cql-type.js';

// User types as system_schema.types spells them (seen on Cassandra 5.0): quoted names inside
// field types, collections inside a UDT not marked frozen.
const userTypes: UserTypeDefinition[] = [
  { name: 'MyType', fields: [{ name: 'a', type: 'int' }, { name: 'B', type: 'text' }] },
  { name: 'addr', fields: [{ name: 'street', type: 'text' }, { name: 'loc', type: 'frozen<"MyType">' }, { name: 'tags', type: 'list<text>' }] },
  { name: 'we"ird', fields: [{ name: 'x', type: 'int' }] },
];

const NATIVES = [
  'ascii', 'bigint', 'blob', 'boolean', 'counter', 'date', 'decimal', 'double', 'duration', 'float', 'inet', 'int',
  'smallint', 'text', 'time', 'timestamp', 'timeuuid', 'tinyint', 'uuid', 'varchar', 'varint',
];

describe('parseCqlType', () => {
  it.each(NATIVES)('parses the native type %s', (name) => {
    expect(parseCqlType(name)).toEqual({ kind: 'native', name });
  });

  // Spellings copied from system_schema.columns.type on Cassandra 5.0.
  it.each([
    'frozen<map<int, frozen<list<text>>>>',
    'map<text, frozen<set<uuid>>>',
    'map<double, int>',
    'list<frozen<tuple<int, text>>>',
    'frozen<tuple<int, text>>',
    'tuple<int, text, frozen<list<int>>>',
    'vector<float, 3>',
    'vector<vector<float, 2>, 2>',
    'vector<frozen<list<int>>, 2>',
    '"MyType"',
    'frozen<"MyType">',
    'addr',
    'frozen<addr>',
    'list<frozen<addr>>',
    'map<frozen<"MyType">, frozen<addr>>',
    '"we""ird"',
  ])('formats %s back to the same text', (text) => {
    expect(formatCqlType(parseCqlType(text, userTypes))).toBe(text);
  });

  it('builds the tree of a nested collection', () => {
    expect(parseCqlType('frozen<map<int, frozen<list<text>>>>')).toEqual({
      kind: 'map', frozen: true,
      key: { kind: 'native', name: 'int' },
      value: { kind: 'list', frozen: true, element: { kind: 'native', name: 'text' } },
    });
    expect(parseCqlType('vector<float, 3>')).toEqual({ kind: 'vector', element: { kind: 'native', name: 'float' }, dimension: 3 });
    expect(parseCqlType('tuple<int, text>')).toEqual({
      kind: 'tuple', frozen: false, components: [{ kind: 'native', name: 'int' }, { kind: 'native', name: 'text' }],
    });
  });

  it('resolves user types by name, nested ones too, keeping the field order', () => {
    const addr = parseCqlType('addr', userTypes);
    expect(addr).toEqual({
      kind: 'udt', frozen: false, name: 'addr',
      fields: [
        { name: 'street', type: { kind: 'native', name: 'text' } },
        { name: 'loc', type: { kind: 'udt', frozen: true, name: 'MyType', fields: [
          { name: 'a', type: { kind: 'native', name: 'int' } },
          { name: 'B', type: { kind: 'native', name: 'text' } },
        ] } },
        { name: 'tags', type: { kind: 'list', frozen: false, element: { kind: 'native', name: 'text' } } },
      ],
    });
    expect(parseCqlType('"we""ird"', userTypes)).toMatchObject({ kind: 'udt', name: 'we"ird' });
  });

  it('tolerates missing or extra spaces and upper-case keywords', () => {
    expect(formatCqlType(parseCqlType('MAP<INT,frozen< LIST<Text> >>'))).toBe('map<int, frozen<list<text>>>');
    expect(formatCqlType(parseCqlType(' vector<float,3> '))).toBe('vector<float, 3>');
  });

  it.each([
    ['an unknown name', 'texty'],
    ['an unknown user type', 'frozen<nope>'],
    ['a case-mismatched user type', 'mytype'],
    ['a custom type', "'org.apache.cassandra.db.marshal.DynamicCompositeType(s=>UTF8Type)'"],
    ['an unclosed bracket', 'list<int'],
    ['a map with one parameter', 'map<int>'],
    ['a list with two parameters', 'list<int, int>'],
    ['a zero dimension', 'vector<float, 0>'],
    ['a non-numeric dimension', 'vector<float, x>'],
    ['trailing text', 'int int'],
    ['a frozen native', 'frozen<int>'],
    ['an unknown parameterized type', 'bag<int>'],
    ['an unterminated quoted name', '"MyType'],
    ['an empty string', ''],
  ])('rejects %s with INVALID_INPUT', (_what, text) => {
    expect(() => parseCqlType(text, userTypes)).toThrow(CassetteError);
    try {
      parseCqlType(text, userTypes);
    } catch (error) {
      expect((error as CassetteError).code).toBe('INVALID_INPUT');
      expect((error as CassetteError).message).toContain('CQL type');
    }
  });

  it('rejects a user type that contains itself', () => {
    const cyclic: UserTypeDefinition[] = [
      { name: 'a', fields: [{ name: 'b', type: 'frozen<b>' }] },
      { name: 'b', fields: [{ name: 'a', type: 'frozen<a>' }] },
    ];
    expect(() => parseCqlType('a', cyclic)).toThrow(/contains itself/);
  });
});

describe('isMultiCell', () => {
  const cases: [string, boolean][] = [
    ['int', false], ['counter', false], ['list<int>', true], ['set<text>', true], ['map<int, text>', true],
    ['frozen<list<int>>', false], ['frozen<map<int, text>>', false], ['"MyType"', true], ['frozen<"MyType">', false],
    ['frozen<tuple<int, text>>', false], ['tuple<int, text>', false], ['vector<float, 3>', false],
  ];
  it.each(cases)('%s → %s', (text, expected) => {
    expect(isMultiCell(parseCqlType(text, userTypes))).toBe(expected);
  });
});

describe('identifiers', () => {
  it('quotes always with quoteIdentifier, doubling inner quotes', () => {
    expect(quoteIdentifier('name')).toBe('"name"');
    expect(quoteIdentifier('a"b')).toBe('"a""b"');
  });

  it('quotes only when needed with formatIdentifier', () => {
    expect(formatIdentifier('address')).toBe('address');
    expect(formatIdentifier('My_Type')).toBe('"My_Type"');
    expect(formatIdentifier('select')).toBe('"select"');
    expect(formatIdentifier('1st')).toBe('"1st"');
  });

  it('formats a user type with a reserved name quoted', () => {
    const type: CqlType = { kind: 'udt', frozen: true, name: 'table', fields: [] };
    expect(formatCqlType(type)).toBe('frozen<"table">');
  });
});
