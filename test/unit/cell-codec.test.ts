import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import cassandra from 'cassandra-driver';
import { cellProjection, decodeCell, encodeCell, int64ToJson, type Cell } from '../../src/cassandra/values/cell-codec.js';
import { CqlMap } from '../../src/cassandra/values/cql-map.js';
import { parseCqlType, type CqlType, type UserTypeDefinition } from '../../src/cassandra/values/cql-type.js';
import { installNullListElementFix } from '../../src/cassandra/values/driver-list-decoding.js';
import { ValueCodecError, type JsonValue } from '../../src/cassandra/values/value-codec.js';

const { Uuid } = cassandra.types;
const userTypes: UserTypeDefinition[] = [{ name: 'addr', fields: [{ name: 'street', type: 'text' }, { name: 'zip', type: 'int' }, { name: 'city', type: 'text' }] }];
const col = (text: string): { type: CqlType } => ({ type: parseCqlType(text, userTypes) });
const READ_AT = 1_800_000_000;
const TS = 1_795_352_130_710_000n;

/** encodeCell → JSON text → decodeCell. */
function throughJson(cell: Cell): JsonValue {
  return JSON.parse(JSON.stringify(cell)) as JsonValue;
}

function codecError(run: () => unknown): ValueCodecError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValueCodecError);
    return error as ValueCodecError;
  }
  throw new Error('expected a ValueCodecError');
}

describe('single-cell columns', () => {
  it('writes {v, t} without TTL and {v, t, e} with one, e = read time + TTL', () => {
    expect(encodeCell(col('int'), 5, TS, null, READ_AT)).toEqual({ v: 5, t: 1_795_352_130_710_000 });
    expect(encodeCell(col('text'), '', TS, 3600, READ_AT)).toEqual({ v: '', t: 1_795_352_130_710_000, e: READ_AT + 3600 });
    expect(encodeCell(col('frozen<list<int>>'), [], TS, 0, READ_AT)).toEqual({ v: [], t: 1_795_352_130_710_000, e: READ_AT });
  });

  it('writes 64-bit timestamps as numbers up to 2^53−1 and as strings beyond', () => {
    expect(int64ToJson(2n ** 53n - 1n)).toBe(2 ** 53 - 1);
    expect(int64ToJson(-(2n ** 53n) + 1n)).toBe(-(2 ** 53) + 1);
    expect(int64ToJson(2n ** 53n)).toBe('9007199254740992');
    expect(int64ToJson(-(2n ** 63n) + 1n)).toBe('-9223372036854775807');
    expect(encodeCell(col('int'), 1, 2n ** 63n - 1n, null, READ_AT)).toEqual({ v: 1, t: '9223372036854775807' });
    expect(encodeCell(col('int'), 1, -5n, null, READ_AT)).toEqual({ v: 1, t: -5 });
  });

  it('gives counters a timestamp and never an expiry', () => {
    expect(encodeCell(col('counter'), 7n, TS, null, READ_AT)).toEqual({ v: '7', t: 1_795_352_130_710_000 });
    expect(encodeCell(col('counter'), 7n, TS, 10, READ_AT)).not.toHaveProperty('e');
    expect(codecError(() => decodeCell(col('counter'), { v: '7', t: 1, e: 5 })).message).toMatch(/counter cell has no expiry/);
  });

  it('decodes what it encodes, through JSON text, for any timestamp and TTL', () => {
    fc.assert(fc.property(fc.bigInt(-(2n ** 63n) + 1n, 2n ** 63n - 1n), fc.option(fc.integer({ min: 0, max: 630_720_000 })), (ts, ttl) => {
      const cell = encodeCell(col('bigint'), 12n, ts, ttl, READ_AT);
      expect(decodeCell(col('bigint'), throughJson(cell))).toEqual({
        kind: 'single', value: 12n, writetime: ts, expiresAt: ttl === null ? null : READ_AT + ttl,
      });
    }));
  });

  it('accepts a timestamp written as a string even when it is small', () => {
    expect(decodeCell(col('int'), { v: 1, t: '12' })).toMatchObject({ writetime: 12n });
  });

  it('refuses a null value and a missing timestamp', () => {
    expect(codecError(() => encodeCell(col('int'), null, TS, null, READ_AT)).message).toMatch(/null column has no cell/);
    expect(codecError(() => encodeCell(col('int'), 1, null, null, READ_AT)).message).toMatch(/WRITETIME is not a bigint/);
    expect(codecError(() => encodeCell(col('int'), 1, TS, 1.5, READ_AT)).message).toMatch(/TTL is not an integer/);
  });
});

describe('multi-cell columns', () => {
  it('aligns t and e with list, set and map elements; e entries null without TTL', () => {
    const cell = encodeCell(col('set<int>'), [1, 2, 4], [TS, TS, 5n], [null, null, 1000], READ_AT);
    expect(cell).toEqual({ v: [1, 2, 4], t: [1_795_352_130_710_000, 1_795_352_130_710_000, 5], e: [null, null, READ_AT + 1000] });
    const map = encodeCell(col('map<text, int>'), new CqlMap([['a', 1], ['b', 2]]), [1n, 2n], [null, null], READ_AT);
    expect(map).toEqual({ v: [['a', 1], ['b', 2]], t: [1, 2] });
    expect(map).not.toHaveProperty('e');
    expect(encodeCell(col('list<int>'), [3, 3], [1n, 2n], null, READ_AT)).toEqual({ v: [3, 3], t: [1, 2] });
  });

  it('gives a non-frozen user type one entry per field, null for a field without a cell', () => {
    const value = { street: 'Main', zip: null, city: 'X' };
    const cell = encodeCell(col('addr'), value, [TS, null, 2n ** 60n], [null, null, 60], READ_AT);
    expect(cell).toEqual({ v: { street: 'Main', zip: null, city: 'X' }, t: [1_795_352_130_710_000, null, '1152921504606846976'], e: [null, null, READ_AT + 60] });
  });

  it('refuses timestamps that do not line up (what the unfixed driver produces)', () => {
    expect(codecError(() => encodeCell(col('addr'), { street: 'a', zip: null, city: 'c' }, [TS, null, null], null, READ_AT)).message)
      .toMatch(/WRITETIME entry 2 of a live cell is not a bigint/);
    expect(codecError(() => encodeCell(col('addr'), { street: 'a', zip: null, city: null }, [TS, TS, null], null, READ_AT)).message)
      .toMatch(/belongs to a null field/);
    expect(codecError(() => encodeCell(col('set<int>'), [1, 2], [TS], null, READ_AT)).message).toMatch(/not a list of 2 timestamps/);
    expect(codecError(() => encodeCell(col('set<int>'), [1, 2], TS, null, READ_AT)).message).toMatch(/not a list of 2 timestamps/);
    expect(codecError(() => encodeCell(col('set<int>'), [1], [TS], [1, 2], READ_AT)).message).toMatch(/TTL is not a list of 1/);
    expect(codecError(() => encodeCell(col('addr'), { street: 'a', zip: null, city: null }, [TS, null, null], [5, 5, null], READ_AT)).message)
      .toMatch(/TTL entry 1/);
  });

  it('decodes into element cells ready to write back one by one', () => {
    const set = decodeCell(col('set<int>'), throughJson(encodeCell(col('set<int>'), [1, 4], [TS, 5n], [null, 1000], READ_AT)));
    expect(set).toEqual({ kind: 'multi', value: [1, 4], cells: [
      { key: 1, value: 1, writetime: TS, expiresAt: null },
      { key: 4, value: 4, writetime: 5n, expiresAt: READ_AT + 1000 },
    ] });
    const list = decodeCell(col('list<text>'), { v: ['a', 'a'], t: [1, 2] });
    expect(list).toMatchObject({ cells: [{ key: 0, value: 'a', writetime: 1n }, { key: 1, value: 'a', writetime: 2n }] });
    const map = decodeCell(col('map<int, frozen<list<int>>>'), { v: [[1, []], [2, [5]]], t: [1, 2], e: [7, null] });
    expect(map).toMatchObject({ cells: [{ key: 1, writetime: 1n, expiresAt: 7 }, { key: 2, value: [5], writetime: 2n, expiresAt: null }] });
    const udt = decodeCell(col('addr'), { v: { street: 'Main', zip: null, city: 'X' }, t: [1, null, '1152921504606846976'] });
    expect(udt).toMatchObject({ cells: [
      { key: 'street', value: 'Main', writetime: 1n, expiresAt: null },
      { key: 'city', value: 'X', writetime: 2n ** 60n, expiresAt: null },
    ] });
  });

  it('rejects cells whose arrays do not line up with the value', () => {
    const bad: [string, JsonValue, RegExp][] = [
      ['set<int>', { v: [1, 2], t: [1] }, /"t" is not an array of 2/],
      ['set<int>', { v: [1, 2], t: 1 }, /"t" is not an array of 2/],
      ['set<int>', { v: [1], t: [1], e: 5 }, /"e" is not an array of 1/],
      ['set<int>', { v: [1], t: [null] }, /entry 0 has no timestamp/],
      ['addr', { v: { street: null, zip: 1, city: null }, t: [1, 1, null] }, /has a timestamp but its field is null/],
      ['int', { v: 1 }, /no write timestamp/],
      ['int', { t: 1 }, /no value/],
      ['int', { v: 1, t: 1, x: 2 }, /unknown cell key "x"/],
      ['int', { v: 1, t: 1.5 }, /signed 64-bit integer/],
      ['int', { v: 1, t: '9223372036854775808' }, /signed 64-bit integer/],
      ['int', { v: 1, t: 1, e: '5' }, /expiry is an integer/],
      ['int', [1, 2], /a cell is an object/],
      ['int', { v: 'x', t: 1 }, /int value "x"/],
    ];
    for (const [type, json, message] of bad) {
      const error = codecError(() => decodeCell(col(type), json));
      expect(error.message).toMatch(message);
      expect(error.code).toBe('BACKUP_INVALID');
    }
  });
});

describe('cellProjection', () => {
  installNullListElementFix();
  const columns = [
    { name: 'email', type: parseCqlType('text') },
    { name: 'Tags', type: parseCqlType('set<text>') },
    { name: 'we"ird', type: parseCqlType('counter') },
  ];

  it('selects value, WRITETIME and TTL of each column, names quoted', () => {
    expect(cellProjection(columns).selectors).toEqual([
      '"email"', 'WRITETIME("email")', 'TTL("email")',
      '"Tags"', 'WRITETIME("Tags")', 'TTL("Tags")',
      '"we""ird"', 'WRITETIME("we""ird")', 'TTL("we""ird")',
    ]);
  });

  it('encodes a row, leaving null columns out and naming the column of a bad value', () => {
    const projection = cellProjection(columns);
    const id = Uuid.random();
    expect(projection.encodeCells([id, 'a@b', 3n, 60, ['x'], [4n], [null], 9n, 5n, null], 1, READ_AT)).toEqual({
      email: { v: 'a@b', t: 3, e: READ_AT + 60 },
      Tags: { v: ['x'], t: [4] },
      'we"ird': { v: '9', t: 5 },
    });
    expect(projection.encodeCells([null, null, null, null, null, null, 1n, 2n, null], 0, READ_AT)).toEqual({ 'we"ird': { v: '1', t: 2 } });
    const error = codecError(() => projection.encodeCells([5, 1n, null, null, null, null, null, null, null], 0, READ_AT));
    expect(error.column).toBe('email');
    expect(error.message).toMatch(/^column "email": cannot encode text value 5/);
  });

  it('refuses primary-key columns', () => {
    expect(() => cellProjection([{ name: 'id', type: parseCqlType('int'), kind: 'partition_key' }])).toThrow(/primary-key column/);
    expect(() => cellProjection([{ name: 'ck', type: parseCqlType('int'), kind: 'clustering' }])).toThrow(/primary-key column/);
    expect(cellProjection([{ name: 's', type: parseCqlType('int'), kind: 'static' }]).selectors).toHaveLength(3);
  });
});
