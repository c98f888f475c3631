/**
 * The lossless value codec of format.md §6.3: a CQL value as the driver returns it ↔ JSON.
 * Natives are in driver-values.ts; this file handles collections, tuples, user types and vectors
 * and says how the driver must be configured. Cells (value + WRITETIME + TTL) are in cell-codec.ts.
 *
 * Contract: for every value `x` the driver returns for a column of type `T` (client created with
 * {@link DRIVER_ENCODING}), `decodeValue(T, encodeValue(T, x))` binds, as a prepared-statement
 * parameter of type `T`, to the same bytes, and reads back as a value equal to `x`. It survives
 * `JSON.parse(JSON.stringify(…))`: the JSON holds no `undefined`, `bigint` or non-finite numbers.
 * The one deliberate difference from what the driver returns: an empty list or set decodes to a
 * 4-byte Buffer holding a serialized empty collection (see {@link decodeValue}).
 */
import { CqlMap } from './cql-map.js';
import { formatCqlType, type CqlType } from './cql-type.js';
import { decodeNative, encodeNative, toDriverTuple, toDriverVector, tupleElements, vectorElements } from './driver-values.js';
import type { JsonValue } from './json-value.js';
import { ValueCodecError } from './value-codec-error.js';

export { ValueCodecError } from './value-codec-error.js';

export type { JsonValue } from './json-value.js';

/**
 * The `encoding` options the cassandra-driver Client must be created with (4.10.0), checked against
 * Cassandra 5.0 by test/integration/value-codec.test.ts:
 *
 * - `useBigIntAsLong`, `useBigIntAsVarint`: bigint, counter, varint (and WRITETIME) come back as JS
 *   `bigint` (the codec accepts nothing else) instead of the driver's slow Long/Integer classes.
 * - `map: CqlMap` (a `Map` subclass): without a `map` option the driver decodes a map to a plain
 *   object whose keys are strings, which loses key types and order. `Map` itself is not enough: it
 *   merges the distinct Cassandra keys `0.0` and `-0.0` (see cql-map.ts). Side effect for other users of the client: with
 *   any `map` option the driver's own keyspace metadata (`client.metadata.keyspaces[ks].strategy`)
 *   is undefined, because it reads `replication['class']`; so its replica map knows only the primary
 *   replica of each token. Read replication from system_schema, not from driver metadata.
 * - no `set` option, on purpose: sets then decode to arrays in Cassandra's order. `Set` would merge
 *   `0.0` and `-0.0` in a `set<double>` and misalign its WRITETIME list.
 * - `copyBuffer: false`: blob, uuid, timeuuid and inet values are views of the page's network
 *   buffer instead of copies, which keeps the frame alive as long as any value of it is: fine, since
 *   rows are encoded and dropped page by page and no caller keeps a value past its page. It saves
 *   three allocations and copies per row on the export's wide rows: −25% client CPU per row
 *   (docs/benchmarks.md, "Export hot path"). `useUndefinedAsUnset` keeps the driver's default (true).
 *
 * Reading WRITETIME/TTL of multi-cell columns also needs installNullListElementFix()
 * (driver-list-decoding.ts) to have run in the process.
 */
export const DRIVER_ENCODING = Object.freeze({
  map: CqlMap,
  useBigIntAsLong: true,
  useBigIntAsVarint: true,
  copyBuffer: false,
});

/**
 * Encodes a value the driver returned for a column or element of `type` into its §6.3 JSON.
 * `value` must not be null at top level (an absent column is left out of the row); null components
 * of tuples and null fields of user types encode as `null`.
 *
 * @throws ValueCodecError (direction `encode`) when the value is not what the driver returns for `type`.
 */
export function encodeValue(type: CqlType, value: unknown): JsonValue {
  switch (type.kind) {
    case 'native':
      return encodeNative(type.name, value);
    case 'list':
    case 'set':
      return encodeElements(type, type.element, value);
    case 'map':
      return encodeMap(type, value);
    case 'tuple':
      return encodeTuple(type, value);
    case 'udt':
      return encodeUdt(type, value);
    case 'vector':
      return encodeVector(type, value);
  }
}

/**
 * Decodes §6.3 JSON into a value the driver binds as a parameter of `type`: natives as the driver's
 * classes (driver-values.ts), list/set as an array, map as a {@link CqlMap}, tuple as a driver Tuple,
 * user type as a plain object with every field (null when null), vector as a driver Vector.
 *
 * An EMPTY list or set decodes to `Buffer` `00 00 00 00` (a serialized empty collection), because
 * the driver binds `[]` as null, which would drop an empty frozen list/set (a real value in
 * Cassandra) or write a null element into an enclosing collection. The driver binds any Buffer as
 * raw bytes, and {@link encodeValue} accepts it back as `[]`.
 *
 * @throws ValueCodecError (direction `decode`) naming the type and what is wrong with the JSON.
 */
export function decodeValue(type: CqlType, json: JsonValue): unknown {
  switch (type.kind) {
    case 'native':
      return decodeNative(type.name, json);
    case 'list':
    case 'set':
      return decodeElements(type, type.element, json);
    case 'map':
      return decodeMap(type, json);
    case 'tuple':
      return decodeTuple(type, json);
    case 'udt':
      return decodeUdt(type, json);
    case 'vector':
      return decodeVector(type, json);
  }
}

/**
 * The elements of a driver list or set value, in order: an array, a `Set` (if a client uses the
 * `set` option anyway), or the empty-collection Buffer that {@link decodeValue} produces.
 * Undefined when `value` is none of these. Shared with the cell codec.
 */
export function collectionElements(value: unknown): readonly unknown[] | undefined {
  if (Array.isArray(value)) return value;
  if (value instanceof Set) return [...(value as Set<unknown>)];
  if (Buffer.isBuffer(value) && isEmptyCollectionBytes(value)) return [];
  return undefined;
}

/** The entries of a driver map value (a {@link CqlMap}, or a `Map`), or undefined for anything else. */
export function mapEntries(value: unknown): readonly (readonly [unknown, unknown])[] | undefined {
  if (value instanceof CqlMap || value instanceof Map) {
    const entries: [unknown, unknown][] = [];
    (value as ReadonlyMap<unknown, unknown>).forEach((entryValue, key) => entries.push([key, entryValue]));
    return entries;
  }
  return undefined;
}

function encodeElements(type: CqlType, elementType: CqlType, value: unknown): JsonValue {
  const elements = collectionElements(value);
  if (elements === undefined) throw encodeError(type, value, 'expected an array');
  const json = new Array<JsonValue>(elements.length);
  for (let i = 0; i < elements.length; i++) json[i] = encodeElement(type, elementType, elements[i]);
  return json;
}

function encodeElement(type: CqlType, elementType: CqlType, element: unknown): JsonValue {
  if (element === null || element === undefined) throw encodeError(type, element, 'a collection element is null');
  return encodeValue(elementType, element);
}

function encodeMap(type: Extract<CqlType, { kind: 'map' }>, value: unknown): JsonValue {
  const entries = mapEntries(value);
  if (entries === undefined) throw encodeError(type, value, 'expected a CqlMap (is the client created with DRIVER_ENCODING?)');
  return entries.map(([key, entryValue]) => [encodeElement(type, type.key, key), encodeElement(type, type.value, entryValue)]);
}

function encodeTuple(type: Extract<CqlType, { kind: 'tuple' }>, value: unknown): JsonValue {
  const elements = tupleElements(value);
  if (elements === undefined) throw encodeError(type, value, 'expected a Tuple');
  if (elements.length > type.components.length) throw encodeError(type, value, 'more components than the type has');
  // The driver leaves trailing components it did not receive as holes: they are null.
  return type.components.map((component, i) => {
    const element = elements[i];
    return element === null || element === undefined ? null : encodeValue(component, element);
  });
}

function encodeUdt(type: Extract<CqlType, { kind: 'udt' }>, value: unknown): JsonValue {
  if (typeof value !== 'object' || value === null) throw encodeError(type, value, 'expected an object');
  const record = value as Readonly<Record<string, unknown>>;
  const json: Record<string, JsonValue> = {};
  // Fields the driver did not receive (a value written before ALTER TYPE … ADD) are null.
  for (const field of type.fields) {
    const fieldValue = record[field.name];
    json[field.name] = fieldValue === null || fieldValue === undefined ? null : encodeValue(field.type, fieldValue);
  }
  return json;
}

function encodeVector(type: Extract<CqlType, { kind: 'vector' }>, value: unknown): JsonValue {
  const elements = vectorElements(value);
  if (elements === undefined) throw encodeError(type, value, 'expected a Vector');
  if (elements.length !== type.dimension) throw encodeError(type, value, `expected ${type.dimension} elements, got ${elements.length}`);
  return elements.map((element) => encodeElement(type, type.element, element));
}

function decodeElements(type: CqlType, elementType: CqlType, json: JsonValue): unknown {
  if (!Array.isArray(json)) throw decodeError(type, json, 'expected an array');
  const elements = json as readonly JsonValue[];
  if (elements.length === 0) return emptyCollectionBytes();
  const values = new Array<unknown>(elements.length);
  for (let i = 0; i < elements.length; i++) values[i] = decodeElement(type, elementType, elements[i]);
  return values;
}

function decodeElement(type: CqlType, elementType: CqlType, json: JsonValue | undefined): unknown {
  if (json === null || json === undefined) throw decodeError(type, json, 'a collection element is null');
  return decodeValue(elementType, json);
}

function decodeMap(type: Extract<CqlType, { kind: 'map' }>, json: JsonValue): unknown {
  if (!Array.isArray(json)) throw decodeError(type, json, 'expected an array of [key, value] pairs');
  const map = new CqlMap<unknown, unknown>();
  for (const entry of json as readonly JsonValue[]) {
    if (!Array.isArray(entry) || entry.length !== 2) throw decodeError(type, entry, 'expected a [key, value] pair');
    const [key, value] = entry as readonly JsonValue[];
    map.set(decodeElement(type, type.key, key), decodeElement(type, type.value, value));
  }
  return map;
}

function decodeTuple(type: Extract<CqlType, { kind: 'tuple' }>, json: JsonValue): unknown {
  if (!Array.isArray(json) || json.length !== type.components.length) {
    throw decodeError(type, json, `expected an array of ${type.components.length} components`);
  }
  const elements = json as readonly JsonValue[];
  return toDriverTuple(type.components.map((component, i) => {
    const element = elements[i];
    return element === null || element === undefined ? null : decodeValue(component, element);
  }));
}

function decodeUdt(type: Extract<CqlType, { kind: 'udt' }>, json: JsonValue): unknown {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw decodeError(type, json, 'expected an object');
  const record = json as { readonly [key: string]: JsonValue };
  const value: Record<string, unknown> = {};
  for (const field of type.fields) {
    const fieldJson = record[field.name];
    if (fieldJson === undefined) throw decodeError(type, json, `field "${field.name}" is missing`);
    value[field.name] = fieldJson === null ? null : decodeValue(field.type, fieldJson);
  }
  const keys = Object.keys(record);
  if (keys.length !== type.fields.length) {
    const unknown = keys.find((key) => !type.fields.some((field) => field.name === key));
    throw decodeError(type, json, `unknown field "${unknown ?? ''}"`);
  }
  return value;
}

function decodeVector(type: Extract<CqlType, { kind: 'vector' }>, json: JsonValue): unknown {
  if (!Array.isArray(json) || json.length !== type.dimension) {
    throw decodeError(type, json, `expected an array of ${type.dimension} elements`);
  }
  const elements = (json as readonly JsonValue[]).map((element) => decodeElement(type, type.element, element));
  return toDriverVector(elements, formatCqlType(type.element));
}

// A serialized empty list or set: a 4-byte element count of 0 (native protocol v3 and later).
function emptyCollectionBytes(): Buffer {
  return Buffer.alloc(4);
}

function isEmptyCollectionBytes(bytes: Buffer): boolean {
  return bytes.length === 4 && bytes.readInt32BE(0) === 0;
}

function encodeError(type: CqlType, value: unknown, problem: string): ValueCodecError {
  return new ValueCodecError('encode', formatCqlType(type), value, problem);
}

function decodeError(type: CqlType, json: unknown, problem: string): ValueCodecError {
  return new ValueCodecError('decode', formatCqlType(type), json, problem);
}
