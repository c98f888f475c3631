/**
 * The Murmur3 token of a backed-up row's partition key (docs/format.md §6.1 `k`), computed from its
 * §6.3 JSON without the driver: each key value is serialized as Cassandra stores it (the native
 * protocol's value bytes), the components are joined as {@link partitionKeyBytes} says, and
 * hashed with {@link murmur3Token}. `cassette verify` uses it to check that every row lies in the
 * token range its chunk belongs to.
 *
 * Covered: every native type that may be a key, frozen lists, sets, maps, tuples and user types of
 * them. Not covered (the caller skips the check for such a table): `duration` (never a key) and
 * `vector`. The JSON must already be valid for its type (decode the row first).
 */
import type { CqlType } from '../values/cql-type.js';
import { parseInet } from '../values/inet-text.js';
import type { JsonValue } from '../values/json-value.js';
import { murmur3Token, partitionKeyBytes } from './murmur3.js';

type Serializer = (json: JsonValue) => Buffer;

const DATE_CENTER = 2 ** 31;

/**
 * A function from a row's `k` (partition-key values first) to its token, for a table whose
 * partition key columns have `types`; undefined when a type is not covered.
 */
export function keyTokenOf(types: readonly CqlType[]): ((k: readonly JsonValue[]) => bigint) | undefined {
  const serializers: Serializer[] = [];
  for (const type of types) {
    const serializer = serializerFor(type);
    if (serializer === undefined) return undefined;
    serializers.push(serializer);
  }
  return (k) => murmur3Token(partitionKeyBytes(serializers.map((serialize, i) => serialize(k[i] ?? null))));
}

function serializerFor(type: CqlType): Serializer | undefined {
  switch (type.kind) {
    case 'native':
      return nativeSerializer(type.name);
    case 'list':
    case 'set': {
      const element = serializerFor(type.element);
      if (element === undefined) return undefined;
      return (json) => {
        const items = json as readonly JsonValue[];
        return Buffer.concat([int32(items.length), ...items.map((item) => withLength(element(item)))]);
      };
    }
    case 'map': {
      const key = serializerFor(type.key);
      const value = serializerFor(type.value);
      if (key === undefined || value === undefined) return undefined;
      return (json) => {
        const entries = json as readonly (readonly [JsonValue, JsonValue])[];
        return Buffer.concat([int32(entries.length), ...entries.flatMap(([k, v]) => [withLength(key(k)), withLength(value(v))])]);
      };
    }
    case 'tuple': {
      const components = type.components.map(serializerFor);
      if (components.some((c) => c === undefined)) return undefined;
      return (json) => Buffer.concat((components as Serializer[]).map((serialize, i) => nullable(serialize, (json as readonly JsonValue[])[i] ?? null)));
    }
    case 'udt': {
      const fields = type.fields.map((field) => ({ name: field.name, serialize: serializerFor(field.type) }));
      if (fields.some((f) => f.serialize === undefined)) return undefined;
      return (json) => Buffer.concat(fields.map((f) => nullable(f.serialize as Serializer, (json as Readonly<Record<string, JsonValue>>)[f.name] ?? null)));
    }
    case 'vector':
      return undefined;
  }
}

function nativeSerializer(name: Extract<CqlType, { kind: 'native' }>['name']): Serializer | undefined {
  switch (name) {
    case 'text':
    case 'varchar':
    case 'ascii':
      return (json) => Buffer.from(json as string, 'utf8');
    case 'blob':
      return (json) => Buffer.from(json as string, 'base64');
    case 'boolean':
      return (json) => Buffer.of(json === true ? 1 : 0);
    case 'tinyint':
      return (json) => fixed(1, (b) => b.writeInt8(json as number));
    case 'smallint':
      return (json) => fixed(2, (b) => b.writeInt16BE(json as number));
    case 'int':
      return (json) => int32(json as number);
    case 'bigint':
    case 'counter':
      return (json) => int64(BigInt(json as string));
    case 'timestamp':
    case 'time':
      return (json) => int64(BigInt(json as number));
    case 'date':
      return (json) => fixed(4, (b) => b.writeUInt32BE((json as number) + DATE_CENTER));
    case 'float':
      return (json) => fixed(4, (b) => b.writeFloatBE(floating(json)));
    case 'double':
      return (json) => fixed(8, (b) => b.writeDoubleBE(floating(json)));
    case 'uuid':
    case 'timeuuid':
      return (json) => Buffer.from((json as string).replace(/-/g, ''), 'hex');
    case 'inet':
      return (json) => parseInet(json as string) ?? Buffer.alloc(0);
    case 'varint':
      return (json) => varint(BigInt(json as string));
    case 'decimal':
      return (json) => {
        const [unscaled, exponent] = (json as string).split('E');
        return Buffer.concat([int32(-Number(exponent)), varint(BigInt(unscaled ?? '0'))]);
      };
    case 'duration':
      return undefined;
  }
}

function fixed(size: number, write: (b: Buffer) => void): Buffer {
  const b = Buffer.alloc(size);
  write(b);
  return b;
}

function int32(n: number): Buffer {
  return fixed(4, (b) => b.writeInt32BE(n));
}

function int64(n: bigint): Buffer {
  return fixed(8, (b) => b.writeBigInt64BE(n));
}

/** A value inside a collection: its 4-byte length, then its bytes. */
function withLength(bytes: Buffer): Buffer {
  return Buffer.concat([int32(bytes.length), bytes]);
}

/** A tuple component or user-type field: length-prefixed, or length −1 for null. */
function nullable(serialize: Serializer, json: JsonValue): Buffer {
  return json === null ? int32(-1) : withLength(serialize(json));
}

function floating(json: JsonValue): number {
  if (json === '-0') return -0;
  if (typeof json === 'string') return Number(json); // "NaN", "Infinity", "-Infinity"
  return json as number;
}

/** Java's BigInteger.toByteArray: the shortest big-endian two's complement. */
export function varint(n: bigint): Buffer {
  const bytes = byteLength(n);
  return Buffer.from(BigInt.asUintN(bytes * 8, n).toString(16).padStart(bytes * 2, '0'), 'hex');
}

/** Bytes of the shortest two's complement of `n`, sign bit included. */
function byteLength(n: bigint): number {
  let bytes = 1;
  while (n < -(1n << BigInt(bytes * 8 - 1)) || n >= 1n << BigInt(bytes * 8 - 1)) bytes++;
  return bytes;
}
