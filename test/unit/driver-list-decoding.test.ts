import { describe, expect, it } from 'vitest';
import cassandra from 'cassandra-driver';
import { installNullListElementFix, isNullListElementFixInstalled } from '../../src/cassandra/values/driver-list-decoding.js';
import { DRIVER_ENCODING } from '../../src/cassandra/values/value-codec.js';

interface DriverColumnInfo { readonly code: number; readonly info?: unknown }
interface DriverEncoder {
  encode(value: unknown, type: DriverColumnInfo): Buffer | null;
  decode(bytes: Buffer, type: DriverColumnInfo): unknown;
}
const { Encoder } = cassandra as unknown as { Encoder: new (protocolVersion: number, options: object) => DriverEncoder };
const { dataTypes } = cassandra.types;
const listOfInt = { code: dataTypes.list, info: { code: dataTypes.int } };
const listOfBigint = { code: dataTypes.list, info: { code: dataTypes.bigint } };

/** A serialized list (protocol v3+): count, then per element a 4-byte length (-1 = null) and bytes. */
function serializedList(elements: (Buffer | null)[]): Buffer {
  const parts = [int32(elements.length)];
  for (const element of elements) parts.push(element === null ? int32(-1) : Buffer.concat([int32(element.length), element]));
  return Buffer.concat(parts);
}
function int32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeInt32BE(value, 0);
  return bytes;
}
function int64(value: bigint): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigInt64BE(value, 0);
  return bytes;
}

describe('installNullListElementFix', () => {
  const ttls = serializedList([null, null, int32(1000)]); // TTL(s) of a set whose last element alone has a TTL
  const writetimes = serializedList([int64(7n), null, int64(9n)]); // WRITETIME(u) of a UDT with a null middle field

  it('fixes the driver’s decoding of lists with null elements (and shows the bug while unfixed)', () => {
    const encoder = new Encoder(4, { encoding: DRIVER_ENCODING });
    if (!isNullListElementFixInstalled()) {
      // cassandra-driver 4.10.0: the elements after a null are lost. When this starts failing,
      // the driver has been fixed and driver-list-decoding.ts can go.
      expect(encoder.decode(ttls, listOfInt)).toEqual([null, null, null]);
      expect(encoder.decode(writetimes, listOfBigint)).toEqual([7n, null, null]);
      // With one more element it throws, inside the driver's socket parser: the process dies.
      expect(() => encoder.decode(serializedList([int64(7n), null, int64(9n), int64(10n)]), listOfBigint)).toThrow(RangeError);
    }
    installNullListElementFix();
    installNullListElementFix(); // idempotent
    expect(isNullListElementFixInstalled()).toBe(true);
    expect(encoder.decode(ttls, listOfInt)).toEqual([null, null, 1000]);
    expect(encoder.decode(writetimes, listOfBigint)).toEqual([7n, null, 9n]);
  });

  it('leaves other values as they were: lists without nulls, sets, nested lists, empty bytes', () => {
    installNullListElementFix();
    const encoder = new Encoder(4, { encoding: DRIVER_ENCODING });
    expect(encoder.decode(serializedList([int32(1), int32(2)]), listOfInt)).toEqual([1, 2]);
    expect(encoder.decode(serializedList([]), listOfInt)).toEqual([]);
    expect(encoder.decode(Buffer.alloc(0), listOfInt)).toBeNull();
    const nested = { code: dataTypes.list, info: listOfInt };
    expect(encoder.decode(serializedList([serializedList([int32(3)]), serializedList([])]), nested)).toEqual([[3], []]);
    const setOfInt = { code: dataTypes.set, info: { code: dataTypes.int } };
    expect(encoder.decode(serializedList([int32(1)]), setOfInt)).toEqual([1]);
    const withSet = new Encoder(4, { encoding: { ...DRIVER_ENCODING, set: Set } });
    expect(withSet.decode(serializedList([int32(1), int32(2)]), setOfInt)).toEqual(new Set([1, 2]));
    expect(encoder.decode(int32(5), { code: dataTypes.int })).toBe(5);
  });
});
