/**
 * The value codec against the driver's own Encoder as the oracle: for any bytes of a type, what
 * the driver decodes → encodeValue → JSON text → JSON.parse → decodeValue → what the driver encodes
 * must be the same bytes, and encoding again must give the same JSON.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import cassandra from 'cassandra-driver';
import { CqlMap } from '../../src/cassandra/values/cql-map.js';
import { parseCqlType, type CqlType, type UserTypeDefinition } from '../../src/cassandra/values/cql-type.js';
import { formatInet } from '../../src/cassandra/values/inet-text.js';
import { DRIVER_ENCODING, decodeValue, encodeValue, ValueCodecError, type JsonValue } from '../../src/cassandra/values/value-codec.js';

const { BigDecimal, Duration, InetAddress, LocalDate, LocalTime, Long, TimeUuid, Tuple, Uuid, Vector, dataTypes } = cassandra.types;
const LocalDateFromDays = LocalDate as unknown as new (days: number) => cassandra.types.LocalDate;

// ---------------------------------------------------------------------------------------------
// The driver's Encoder (exported, not in its typings), configured as the real client is.

interface DriverColumnInfo { readonly code: number; readonly info?: unknown; readonly customTypeName?: string }
interface DriverEncoder {
  encode(value: unknown, type: DriverColumnInfo): Buffer | null;
  decode(bytes: Buffer, type: DriverColumnInfo): unknown;
}
const { Encoder } = cassandra as unknown as { Encoder: new (protocolVersion: number, options: object) => DriverEncoder };
const driver = new Encoder(4, { encoding: DRIVER_ENCODING });

function driverType(type: CqlType): DriverColumnInfo {
  switch (type.kind) {
    case 'native':
      return { code: (dataTypes as unknown as Record<string, number>)[type.name] as number };
    case 'list':
    case 'set':
      return { code: dataTypes[type.kind], info: driverType(type.element) };
    case 'map':
      return { code: dataTypes.map, info: [driverType(type.key), driverType(type.value)] };
    case 'tuple':
      return { code: dataTypes.tuple, info: type.components.map(driverType) };
    case 'udt':
      return { code: dataTypes.udt, info: { name: type.name, fields: type.fields.map((f) => ({ name: f.name, type: driverType(f.type) })) } };
    case 'vector':
      return { code: dataTypes.custom, customTypeName: 'vector', info: [driverType(type.element), type.dimension] };
  }
}

const userTypes: UserTypeDefinition[] = [
  { name: 'point', fields: [{ name: 'x', type: 'double' }, { name: 'label', type: 'text' }] },
  { name: 'Shape', fields: [{ name: 'name', type: 'text' }, { name: 'corners', type: 'list<frozen<point>>' }, { name: 'center', type: 'frozen<point>' }] },
];
const t = (text: string): CqlType => parseCqlType(text, userTypes);

/** bytes → driver value → JSON text → back; asserts bytes and JSON are stable; returns the JSON. */
function roundTripBytes(type: CqlType, bytes: Buffer): JsonValue {
  const info = driverType(type);
  const fromDriver = driver.decode(bytes, info);
  const json = encodeValue(type, fromDriver);
  const parsed = JSON.parse(JSON.stringify(json)) as JsonValue;
  expect(parsed).toEqual(json);
  const decoded = decodeValue(type, parsed);
  expect(driver.encode(decoded, info)?.toString('hex')).toBe(bytes.toString('hex'));
  expect(encodeValue(type, decoded)).toEqual(json);
  return json;
}

/** A value as the driver would return it → its canonical bytes → roundTripBytes. */
function roundTrip(type: CqlType, value: unknown): JsonValue {
  const bytes = driver.encode(value, driverType(type));
  if (bytes === null) throw new Error('the driver encodes this value as null');
  return roundTripBytes(type, bytes);
}

// ---------------------------------------------------------------------------------------------
// Arbitraries of driver values, per type.

const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const int64 = fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n);
const varint = fc.oneof(fc.bigInt(-(2n ** 70n), 2n ** 70n), fc.bigInt(-(10n ** 420n), 10n ** 420n), fc.constantFrom(0n, -1n, 127n, 128n, -128n, -129n, 255n, 256n));

function decimalFrom(unscaled: bigint, scale: number): unknown {
  const magnitude = driver.encode(unscaled, { code: dataTypes.varint }) as Buffer;
  const bytes = Buffer.alloc(4 + magnitude.length);
  bytes.writeInt32BE(scale, 0);
  magnitude.copy(bytes, 4);
  return BigDecimal.fromBuffer(bytes);
}

function arbitrary(type: CqlType): fc.Arbitrary<unknown> {
  switch (type.kind) {
    case 'native':
      return nativeArbitrary(type.name);
    case 'list':
    case 'set':
      return fc.array(arbitrary(type.element), { minLength: 1, maxLength: 4 });
    case 'map':
      return fc.array(fc.tuple(arbitrary(type.key), arbitrary(type.value)), { maxLength: 4 }).map((entries) => new CqlMap(entries));
    case 'tuple':
      return fc.tuple(...type.components.map((c) => fc.option(arbitrary(c), { nil: null }))).map((elements) => Tuple.fromArray(elements));
    case 'udt':
      return fc.record(Object.fromEntries(type.fields.map((f) => [f.name, fc.option(arbitrary(f.type), { nil: null })])));
    case 'vector':
      return fc.array(arbitrary(type.element), { minLength: type.dimension, maxLength: type.dimension })
        .map((elements) => new Vector(elements, 'x'));
  }
}

function nativeArbitrary(name: string): fc.Arbitrary<unknown> {
  switch (name) {
    case 'text': case 'varchar': return fc.string({ unit: 'binary', maxLength: 20 });
    case 'ascii': return fc.string({ unit: 'binary-ascii', maxLength: 20 });
    case 'int': return int32;
    case 'smallint': return fc.integer({ min: -32768, max: 32767 });
    case 'tinyint': return fc.integer({ min: -128, max: 127 });
    case 'bigint': case 'counter': return int64;
    case 'varint': return varint;
    case 'decimal': return fc.tuple(varint, int32).map(([unscaled, scale]) => decimalFrom(unscaled, scale));
    case 'float': return fc.float();
    case 'double': return fc.double();
    case 'boolean': return fc.boolean();
    case 'blob': return fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes));
    case 'uuid': return fc.uuid().map((text) => Uuid.fromString(text));
    case 'timeuuid':
      return fc.uint8Array({ minLength: 16, maxLength: 16 }).map((bytes) => {
        const buffer = Buffer.from(bytes);
        buffer[6] = ((buffer[6] ?? 0) & 0x0f) | 0x10;
        return new TimeUuid(buffer);
      });
    case 'timestamp': return fc.integer({ min: -8.64e15, max: 8.64e15 }).map((ms) => new Date(ms));
    case 'date': return int32.map((days) => new LocalDateFromDays(days));
    case 'time': return fc.integer({ min: 0, max: 86_399_999_999_999 }).map((ns) => new LocalTime(Long.fromNumber(ns)));
    case 'duration':
      return fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.bigInt(0n, 2n ** 63n - 1n))
        .map(([negative, months, days, nanos]) => negative
          ? new Duration(-months, -days, Long.fromString((-nanos).toString()))
          : new Duration(months, days, Long.fromString(nanos.toString())));
    case 'inet':
      return fc.oneof(
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }).map((v4) => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, ...v4])),
        fc.constantFrom(Buffer.alloc(16), Buffer.from('00010000000000000000000000000000', 'hex'), Buffer.from('00000000000000000000000000000001', 'hex')),
      ).map((bytes) => new InetAddress(Buffer.from(bytes)));
    default:
      throw new Error(`no arbitrary for ${name}`);
  }
}

// ---------------------------------------------------------------------------------------------

describe('encodeValue/decodeValue round trips (driver bytes → JSON text → driver bytes)', () => {
  const NATIVES = ['ascii', 'bigint', 'blob', 'boolean', 'counter', 'date', 'decimal', 'double', 'duration', 'float',
    'inet', 'int', 'smallint', 'text', 'time', 'timestamp', 'timeuuid', 'tinyint', 'uuid', 'varchar', 'varint'];

  it.each(NATIVES)('any %s value', (name) => {
    const type = t(name);
    fc.assert(fc.property(arbitrary(type), (value) => void roundTrip(type, value)), { numRuns: 300 });
  });

  it.each([
    'list<int>', 'set<text>', 'map<int, text>', 'map<double, int>', 'set<double>', 'list<frozen<list<bigint>>>',
    'frozen<map<text, frozen<list<double>>>>', 'frozen<map<frozen<tuple<int, text>>, frozen<set<uuid>>>>',
    'frozen<tuple<int, text, boolean>>', 'tuple<frozen<tuple<decimal, inet>>, varint>', 'point', 'frozen<"Shape">',
    'list<frozen<"Shape">>', 'vector<float, 3>', 'vector<double, 2>', 'vector<text, 2>', 'vector<bigint, 1>',
    'vector<vector<float, 2>, 2>', 'vector<frozen<list<int>>, 2>', 'vector<decimal, 2>', 'vector<duration, 1>',
  ])('any %s value', (text) => {
    const type = t(text);
    fc.assert(fc.property(arbitrary(type), (value) => void roundTrip(type, value)), { numRuns: 150 });
  });

  it('any bytes of the fixed-width types (including the full date range)', () => {
    const fixed: [string, number][] = [['int', 4], ['bigint', 8], ['smallint', 2], ['tinyint', 1], ['date', 4], ['uuid', 16], ['double', 8]];
    for (const [name, width] of fixed) {
      fc.assert(fc.property(fc.uint8Array({ minLength: width, maxLength: width }), (bytes) => {
        const buffer = Buffer.from(bytes);
        // NaN payloads are not kept (JavaScript has one NaN): only test canonical NaN bytes.
        if (name === 'double' && Number.isNaN(buffer.readDoubleBE(0))) return;
        roundTripBytes(t(name), buffer);
      }), { numRuns: 500 });
    }
  });
});

describe('edge values', () => {
  it('text: unicode, empty, NUL, newlines, astral characters', () => {
    for (const text of ['', 'héllo', '\u0000', 'a\nb\r\n', '\t"\\', '😀 𝄞', '\u2028\u2029', 'ﬀ\uFEFF']) {
      expect(roundTrip(t('text'), text)).toBe(text);
    }
    expect(roundTrip(t('ascii'), '\u0000\u007f')).toBe('\u0000\u007f');
  });

  it('integers at their edges', () => {
    expect(roundTrip(t('tinyint'), -128)).toBe(-128);
    expect(roundTrip(t('tinyint'), 127)).toBe(127);
    expect(roundTrip(t('smallint'), -32768)).toBe(-32768);
    expect(roundTrip(t('int'), -(2 ** 31))).toBe(-(2 ** 31));
    expect(roundTrip(t('int'), 2 ** 31 - 1)).toBe(2 ** 31 - 1);
    expect(roundTrip(t('bigint'), -(2n ** 63n))).toBe('-9223372036854775808');
    expect(roundTrip(t('bigint'), 2n ** 63n - 1n)).toBe('9223372036854775807');
    expect(roundTrip(t('counter'), 0n)).toBe('0');
    expect(roundTrip(t('varint'), 10n ** 400n)).toBe(`1${'0'.repeat(400)}`);
    expect(roundTrip(t('varint'), -(10n ** 400n) - 1n)).toBe(`-1${'0'.repeat(399)}1`);
  });

  it('decimal keeps its scale: 1.50 and 1.5 are distinct; huge and tiny values', () => {
    expect(roundTrip(t('decimal'), BigDecimal.fromString('1.50'))).toBe('150E-2');
    expect(roundTrip(t('decimal'), BigDecimal.fromString('1.5'))).toBe('15E-1');
    expect(roundTrip(t('decimal'), decimalFrom(1n, -3))).toBe('1E3');
    expect(roundTrip(t('decimal'), decimalFrom(1n, 400))).toBe('1E-400');
    expect(roundTrip(t('decimal'), decimalFrom(10n ** 400n, 0))).toBe(`1${'0'.repeat(400)}E0`);
    expect(roundTrip(t('decimal'), decimalFrom(-5n, -(2 ** 31)))).toBe('-5E2147483648');
    expect(roundTrip(t('decimal'), decimalFrom(0n, 2))).toBe('0E-2');
  });

  it('float and double: NaN, ±Infinity, −0, denormals, extremes', () => {
    for (const name of ['float', 'double']) {
      expect(roundTrip(t(name), NaN)).toBe('NaN');
      expect(roundTrip(t(name), Infinity)).toBe('Infinity');
      expect(roundTrip(t(name), -Infinity)).toBe('-Infinity');
      expect(roundTrip(t(name), -0)).toBe('-0');
      expect(roundTrip(t(name), 0)).toBe(0);
    }
    expect(roundTrip(t('double'), Number.MIN_VALUE)).toBe(5e-324);
    expect(roundTrip(t('double'), -Number.MAX_VALUE)).toBe(-Number.MAX_VALUE);
    expect(roundTrip(t('float'), 2 ** -149)).toBe(2 ** -149); // smallest float denormal
    expect(roundTrip(t('float'), Math.fround(3.4028234663852886e38))).toBe(3.4028234663852886e38);
    expect(roundTrip(t('float'), Math.fround(0.1))).toBe(0.10000000149011612);
  });

  it('blobs: empty and large', () => {
    expect(roundTrip(t('blob'), Buffer.alloc(0))).toBe('');
    const large = Buffer.alloc(1 << 20, 0xab);
    expect((decodeValue(t('blob'), roundTrip(t('blob'), large)) as Buffer).equals(large)).toBe(true);
  });

  it('timestamps before 1970 and at the Date limits', () => {
    expect(roundTrip(t('timestamp'), new Date(-86_400_000))).toBe(-86_400_000);
    expect(roundTrip(t('timestamp'), new Date(-1))).toBe(-1);
    expect(roundTrip(t('timestamp'), new Date(8.64e15))).toBe(8.64e15);
    expect(roundTrip(t('timestamp'), new Date(-8.64e15))).toBe(-8.64e15);
  });

  it('dates over the full Cassandra range (unsigned 32 bits, epoch at 2^31)', () => {
    const raw = (unsigned: number): Buffer => {
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32BE(unsigned, 0);
      return bytes;
    };
    expect(roundTripBytes(t('date'), raw(0))).toBe(-(2 ** 31));
    expect(roundTripBytes(t('date'), raw(2 ** 32 - 1))).toBe(2 ** 31 - 1);
    expect(roundTripBytes(t('date'), raw(2 ** 31))).toBe(0);
    expect(roundTrip(t('date'), new LocalDateFromDays(-719_162))).toBe(-719_162); // 0001-01-01
    expect(roundTrip(t('date'), new LocalDate(1969, 12, 31))).toBe(-1);
  });

  it('time: 0 and the last nanosecond of the day', () => {
    expect(roundTrip(t('time'), new LocalTime(Long.ZERO))).toBe(0);
    expect(roundTrip(t('time'), new LocalTime(Long.fromString('86399999999999')))).toBe(86_399_999_999_999);
  });

  it('durations: zero, negative, mixed units, 64-bit nanoseconds', () => {
    expect(roundTrip(t('duration'), new Duration(0, 0, 0))).toBe('0mo0d0ns');
    expect(roundTrip(t('duration'), new Duration(-1, -2, -3))).toBe('-1mo2d3ns');
    expect(roundTrip(t('duration'), new Duration(14, 3, Long.fromString('3600000000001')))).toBe('14mo3d3600000000001ns');
    expect(roundTrip(t('duration'), new Duration(0, 0, Long.MIN_VALUE))).toBe('-0mo0d9223372036854775808ns');
    expect(roundTrip(t('duration'), new Duration(2 ** 31 - 1, 0, Long.MAX_VALUE))).toBe('2147483647mo0d9223372036854775807ns');
    expect(roundTrip(t('duration'), new Duration(-(2 ** 31), -(2 ** 31), 0))).toBe('-2147483648mo2147483648d0ns');
  });

  it('inet keeps the byte length and prints RFC 5952 text', () => {
    const inet = (hex: string): unknown => new InetAddress(Buffer.from(hex, 'hex'));
    expect(roundTrip(t('inet'), inet('01020304'))).toBe('1.2.3.4');
    expect(roundTrip(t('inet'), inet('00000000000000000000ffff01020304'))).toBe('::ffff:1.2.3.4');
    expect(roundTrip(t('inet'), inet('00000000000000000000000000000001'))).toBe('::1');
    expect(roundTrip(t('inet'), inet('00000000000000000000000000000000'))).toBe('::');
    expect(roundTrip(t('inet'), inet('20010db8000000000001000000000001'))).toBe('2001:db8::1:0:0:1');
    expect(roundTrip(t('inet'), inet('20010db8000100010001000100010001'))).toBe('2001:db8:1:1:1:1:1:1');
    expect(roundTrip(t('inet'), inet('20010db8000000010001000100010001'))).toBe('2001:db8:0:1:1:1:1:1');
    expect(roundTrip(t('inet'), inet('fe800000000000000000000000000000'))).toBe('fe80::');
    expect(roundTrip(t('inet'), inet('00000000000000000000000001020304'))).toBe('::102:304');
    // Other spellings decode to the same bytes.
    const v6 = decodeValue(t('inet'), '2001:DB8:0:0:1:0:0:1') as cassandra.types.InetAddress;
    expect(v6.getBuffer().toString('hex')).toBe('20010db8000000000001000000000001');
    const mapped = decodeValue(t('inet'), '::FFFF:102:304') as cassandra.types.InetAddress;
    expect(mapped.getBuffer().length).toBe(16);
  });

  it('inet text agrees with the WHATWG IPv6 serializer (RFC 5952 compression) for any 16 bytes', () => {
    const zeroRuns = fc.array(fc.constantFrom(0, 0, 0, 1, 0xffff, 0xabc), { minLength: 8, maxLength: 8 });
    fc.assert(fc.property(fc.oneof(zeroRuns, fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 })), (groups) => {
      const bytes = Buffer.alloc(16);
      groups.forEach((group, i) => bytes.writeUInt16BE(group, i * 2));
      const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
      const full = groups.map((g) => g.toString(16)).join(':');
      if (!mapped) expect(formatInet(bytes)).toBe(new URL(`http://[${full}]/`).hostname.slice(1, -1));
      expect((decodeValue(t('inet'), formatInet(bytes)) as cassandra.types.InetAddress).getBuffer().equals(bytes)).toBe(true);
    }), { numRuns: 2000 });
  });

  it('uuid and timeuuid are lowercase', () => {
    expect(roundTrip(t('uuid'), Uuid.fromString('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'))).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    const timeuuid = TimeUuid.fromDate(new Date(0), 0, 'abcdef', 'ab');
    expect(roundTrip(t('timeuuid'), timeuuid)).toBe(timeuuid.toString());
  });

  it('empty collections: frozen list/set bind as a serialized empty collection, maps as an empty CqlMap', () => {
    const empty = Buffer.from('00000000', 'hex');
    expect(roundTripBytes(t('frozen<list<int>>'), empty)).toEqual([]);
    expect(roundTripBytes(t('frozen<set<text>>'), empty)).toEqual([]);
    expect(roundTripBytes(t('frozen<map<int, text>>'), empty)).toEqual([]);
    expect((decodeValue(t('frozen<list<int>>'), []) as Buffer).equals(empty)).toBe(true);
    expect(decodeValue(t('frozen<map<int, text>>'), [])).toBeInstanceOf(CqlMap);
    // Nested empty collections keep their place.
    const nested = t('frozen<list<frozen<list<int>>>>');
    expect(roundTrip(nested, [[1], empty, [2, 3]])).toEqual([[1], [], [2, 3]]);
    expect(roundTrip(t('frozen<map<int, frozen<set<int>>>>'), new CqlMap([[1, empty]]))).toEqual([[1, []]]);
  });

  it('map<double, int> keeps both 0.0 and -0.0 keys, in order', () => {
    const json = roundTrip(t('map<double, int>'), new CqlMap([[-0, 2], [0, 1]]));
    expect(json).toEqual([['-0', 2], [0, 1]]);
    expect(roundTrip(t('set<double>'), [-0, 0, NaN])).toEqual(['-0', 0, 'NaN']);
  });

  it('tuples with null components, including trailing ones the driver left out', () => {
    const type = t('frozen<tuple<int, text, int>>');
    expect(roundTrip(type, Tuple.fromArray([1, null, 3]))).toEqual([1, null, 3]);
    expect(roundTrip(type, Tuple.fromArray([null, null, null]))).toEqual([null, null, null]);
    expect(encodeValue(type, Tuple.fromArray([1]))).toEqual([1, null, null]);
  });

  it('nested user types with null fields; every field present in JSON', () => {
    const shape = t('frozen<"Shape">');
    const value = { name: 'tri', corners: [{ x: 0, label: null }, { x: -0, label: 'b' }], center: null };
    expect(roundTrip(shape, value)).toEqual({ name: 'tri', corners: [{ x: 0, label: null }, { x: '-0', label: 'b' }], center: null });
    // A value written before ALTER TYPE … ADD lacks the new field: it is null.
    expect(encodeValue(t('point'), { x: 1 })).toEqual({ x: 1, label: null });
  });

  it('vectors', () => {
    expect(roundTrip(t('vector<float, 3>'), new Vector([0.5, NaN, 1], 'float'))).toEqual([0.5, 'NaN', 1]);
    expect(encodeValue(t('vector<float, 2>'), new Float32Array([1.5, -0]))).toEqual([1.5, '-0']);
  });
});

describe('golden JSON text (pins format.md §6.3)', () => {
  const golden: [string, string, unknown][] = [
    ['text', '"héllo\\u0000\\n"', 'héllo\u0000\n'],
    ['tinyint', '-128', -128],
    ['boolean', 'true', true],
    ['bigint', '"-9223372036854775808"', -(2n ** 63n)],
    ['counter', '"42"', 42n],
    ['varint', '"18446744073709551616"', 2n ** 64n],
    ['decimal', '"150E-2"', BigDecimal.fromString('1.50')],
    ['decimal', '"-1E-3"', BigDecimal.fromString('-0.001')],
    ['float', '"-0"', -0],
    ['double', '0.1', 0.1],
    ['float', '0.10000000149011612', Math.fround(0.1)],
    ['double', '"NaN"', NaN],
    ['blob', '""', Buffer.alloc(0)],
    ['blob', '"AAH/"', Buffer.from([0, 1, 255])],
    ['uuid', '"00112233-4455-6677-8899-aabbccddeeff"', Uuid.fromString('00112233-4455-6677-8899-AABBCCDDEEFF')],
    ['timestamp', '-86400000', new Date(-86_400_000)],
    ['date', '-719162', new LocalDateFromDays(-719_162)],
    ['time', '86399999999999', new LocalTime(Long.fromString('86399999999999'))],
    ['duration', '"-1mo2d3ns"', new Duration(-1, -2, -3)],
    ['inet', '"::1"', InetAddress.fromString('::1')],
    ['inet', '"127.0.0.1"', new InetAddress(Buffer.from('7f000001', 'hex'))],
    ['list<int>', '[3,1,2]', [3, 1, 2]],
    ['set<text>', '["a","b"]', ['a', 'b']],
    ['map<int, text>', '[[1,"a"],[2,"b"]]', new CqlMap([[1, 'a'], [2, 'b']])],
    ['frozen<tuple<int, text, text>>', '[1,null,"x"]', Tuple.fromArray([1, null, 'x'])],
    ['point', '{"x":1.5,"label":null}', { x: 1.5, label: null }],
    ['vector<float, 3>', '[0.5,"NaN",1]', new Vector([0.5, NaN, 1], 'float')],
    ['frozen<list<frozen<list<int>>>>', '[[],[1]]', [[], [1]]],
  ];

  it.each(golden)('%s → %s', (typeText, text, value) => {
    const type = t(typeText);
    expect(JSON.stringify(encodeValue(type, value))).toBe(text);
    expect(JSON.stringify(encodeValue(type, decodeValue(type, JSON.parse(text) as JsonValue)))).toBe(text);
  });
});

describe('decoding bad JSON names the type and the problem', () => {
  const bad: [string, JsonValue, RegExp][] = [
    ['int', '1', /int value "1": expected an integer/],
    ['int', 2 ** 31, /int value 2147483648/],
    ['tinyint', 1.5, /tinyint/],
    ['bigint', 1, /bigint value 1: expected a decimal integer string/],
    ['bigint', '01', /bigint/],
    ['bigint', '-0', /bigint/],
    ['bigint', '0x10', /bigint/],
    ['bigint', ' 1', /bigint/],
    ['bigint', '9223372036854775808', /outside the signed 64-bit range/],
    ['varint', '', /varint/],
    ['decimal', '1.50', /decimal value "1.50"/],
    ['decimal', '15E', /decimal/],
    ['decimal', '1E-2147483648', /exponent outside/],
    ['float', 0.1, /not exactly a 32-bit float/],
    ['float', 'nan', /float/],
    ['double', '1', /double/],
    ['blob', 'AAH', /not canonical padded base64/],
    ['blob', 'A A=', /blob/],
    ['uuid', '00112233-4455-6677-8899-aabbccddeef', /uuid/],
    ['uuid', '0011223344556677-8899-aabbccddeeff', /uuid/],
    ['uuid', 'g0112233-4455-6677-8899-aabbccddeeff', /uuid/],
    ['timeuuid', '00112233-4455-4677-8899-aabbccddeeff', /not a version 1/],
    ['timestamp', 8.64e15 + 1, /timestamp/],
    ['timestamp', 1.5, /timestamp/],
    ['date', 2 ** 31, /date/],
    ['time', -1, /time/],
    ['time', 86_400_000_000_000, /time/],
    ['duration', '1d', /duration value "1d"/],
    ['duration', '1mo-2d3ns', /duration/],
    ['duration', '1mo2d3ns ', /duration/],
    ['duration', '2147483648mo0d0ns', /months or days outside/],
    ['duration', '0mo0d9223372036854775808ns', /nanoseconds outside/],
    ['inet', '1.2.3', /inet/],
    ['inet', '1.2.3.256', /inet/],
    ['inet', 'fe80::1%eth0', /inet/],
    ['ascii', 'é', /ascii/],
    ['text', 5, /text/],
    ['boolean', 'true', /boolean/],
    ['list<int>', [1, null], /list<int> value null: a collection element is null/],
    ['list<int>', { 0: 1 }, /expected an array/],
    ['map<int, text>', [[1]], /expected a \[key, value\] pair/],
    ['map<int, text>', [[1, 'a', 2]], /map<int, text>/],
    ['frozen<tuple<int, text>>', [1], /expected an array of 2 components/],
    ['point', { x: 1 }, /field "label" is missing/],
    ['point', { x: 1, label: null, z: 2 }, /unknown field "z"/],
    ['point', [1, null], /point value \[1,null\]: expected an object/],
    ['vector<float, 3>', [1, 2], /expected an array of 3 elements/],
    ['vector<float, 2>', [1, null], /collection element is null/],
  ];

  it.each(bad)('%s from %j', (typeText, json, message) => {
    let error: unknown;
    try {
      decodeValue(t(typeText), json);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValueCodecError);
    expect((error as ValueCodecError).code).toBe('BACKUP_INVALID');
    expect((error as ValueCodecError).direction).toBe('decode');
    expect((error as Error).message).toMatch(message);
  });
});

describe('encoding refuses what the format cannot hold', () => {
  it.each([
    ['bigint', /expected a bigint \(is the client created with DRIVER_ENCODING\?\)/, Long.fromNumber(5)],
    ['timestamp', /outside the JavaScript Date range/, new Date(NaN)],
    ['duration', /different signs/, new Duration(1, -1, 0)],
    ['map<text, text>', /expected a CqlMap/, { a: 'b' }],
    ['list<int>', /a collection element is null/, [1, null]],
    ['vector<float, 3>', /expected 3 elements/, new Vector([1, 2], 'float')],
    ['int', /expected an integer number/, '5'],
    ['frozen<tuple<int>>', /expected a Tuple/, [1]],
  ])('%s: %s', (typeText, message, value) => {
    let error: unknown;
    try {
      encodeValue(t(typeText), value);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValueCodecError);
    expect((error as ValueCodecError).code).toBe('INVALID_INPUT');
    expect((error as Error).message).toMatch(message);
  });
});
