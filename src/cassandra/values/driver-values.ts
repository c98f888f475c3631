/**
 * Native (unparameterized) CQL values: the driver's JavaScript form ↔ the JSON of format.md §6.3.
 * This is the only codec file that imports cassandra-driver (for its value classes), so it is named
 * like the other driver adapters. Values are what the driver returns when created with
 * DRIVER_ENCODING (value-codec.ts): bigint/counter/varint as JS bigint, decimal as BigDecimal,
 * timestamp as Date, date as LocalDate, time as LocalTime, and so on; decoding returns the same
 * classes, which the driver binds back to the same bytes.
 */
import cassandra from 'cassandra-driver';
import type { NativeTypeName } from './cql-type.js';
import { formatInet, parseInet } from './inet-text.js';
import type { JsonValue } from './json-value.js';
import { ValueCodecError } from './value-codec-error.js';

const { BigDecimal, Duration, InetAddress, LocalDate, LocalTime, Long, TimeUuid, Tuple, Uuid, Vector } = cassandra.types;
type Long = cassandra.types.Long;

/** The fields the driver's Duration has but does not declare. */
interface DurationFields {
  readonly months: number;
  readonly days: number;
  readonly nanoseconds: Long;
}

const LocalDateFromDays = LocalDate as unknown as new (daysSinceEpoch: number) => cassandra.types.LocalDate;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const DATE_CENTER = 2 ** 31;
const MAX_TIME_NANOS = 86_399_999_999_999;
const MAX_DATE_MS = 8.64e15;

/** Encodes a native value the driver returned. @throws ValueCodecError (encode) */
export function encodeNative(name: NativeTypeName, value: unknown): JsonValue {
  switch (name) {
    case 'text':
    case 'varchar':
    case 'ascii':
      if (typeof value === 'string') return value;
      throw encodeError(name, value, 'expected a string');
    case 'int':
    case 'smallint':
    case 'tinyint':
      if (typeof value === 'number' && Number.isInteger(value)) return value;
      throw encodeError(name, value, 'expected an integer number');
    case 'bigint':
    case 'counter':
    case 'varint':
      if (typeof value === 'bigint') return value.toString();
      throw encodeError(name, value, 'expected a bigint (is the client created with DRIVER_ENCODING?)');
    case 'boolean':
      if (typeof value === 'boolean') return value;
      throw encodeError(name, value, 'expected a boolean');
    case 'float':
    case 'double':
      return encodeFloating(name, value);
    case 'blob':
      if (Buffer.isBuffer(value)) return value.toString('base64');
      throw encodeError(name, value, 'expected a Buffer');
    case 'uuid':
    case 'timeuuid':
      if (value instanceof Uuid) return value.toString();
      throw encodeError(name, value, 'expected a Uuid');
    case 'timestamp':
      return encodeTimestamp(value);
    case 'date':
      if (value instanceof LocalDate) return value.toBuffer().readUInt32BE(0) - DATE_CENTER;
      throw encodeError(name, value, 'expected a LocalDate');
    case 'time':
      if (value instanceof LocalTime) return value.getTotalNanoseconds().toNumber();
      throw encodeError(name, value, 'expected a LocalTime');
    case 'decimal':
      return encodeDecimal(value);
    case 'duration':
      return encodeDuration(value);
    case 'inet':
      if (value instanceof InetAddress) return formatInet(value.getBuffer());
      throw encodeError(name, value, 'expected an InetAddress');
  }
}

/** Decodes the JSON of a native value into the driver's form. @throws ValueCodecError (decode) */
export function decodeNative(name: NativeTypeName, json: JsonValue): unknown {
  switch (name) {
    case 'text':
    case 'varchar':
      if (typeof json === 'string') return json;
      throw decodeError(name, json, 'expected a string');
    case 'ascii':
      if (typeof json === 'string' && isAscii(json)) return json;
      throw decodeError(name, json, 'expected a string of US-ASCII characters');
    case 'int':
      return decodeInteger(name, json, 2 ** 31);
    case 'smallint':
      return decodeInteger(name, json, 2 ** 15);
    case 'tinyint':
      return decodeInteger(name, json, 2 ** 7);
    case 'bigint':
    case 'counter': {
      const value = decodeBigInt(name, json);
      if (value < INT64_MIN || value > INT64_MAX) throw decodeError(name, json, 'outside the signed 64-bit range');
      return value;
    }
    case 'varint':
      return decodeBigInt(name, json);
    case 'boolean':
      if (typeof json === 'boolean') return json;
      throw decodeError(name, json, 'expected true or false');
    case 'float':
    case 'double':
      return decodeFloating(name, json);
    case 'blob':
      return decodeBlob(json);
    case 'uuid':
    case 'timeuuid':
      return decodeUuid(name, json);
    case 'timestamp':
      if (typeof json === 'number' && Number.isInteger(json) && Math.abs(json) <= MAX_DATE_MS) return new Date(json);
      throw decodeError(name, json, 'expected an integer number of milliseconds within ±8.64e15');
    case 'date':
      if (typeof json === 'number' && Number.isInteger(json) && json >= -DATE_CENTER && json < DATE_CENTER) {
        return new LocalDateFromDays(json);
      }
      throw decodeError(name, json, 'expected an integer number of days within [-2^31, 2^31-1]');
    case 'time':
      if (typeof json === 'number' && Number.isInteger(json) && json >= 0 && json <= MAX_TIME_NANOS) {
        return new LocalTime(Long.fromNumber(json));
      }
      throw decodeError(name, json, 'expected an integer number of nanoseconds within [0, 86399999999999]');
    case 'decimal':
      return decodeDecimal(json);
    case 'duration':
      return decodeDuration(json);
    case 'inet':
      return decodeInet(json);
  }
}

/** A driver Tuple holding `elements` (null for a null component). */
export function toDriverTuple(elements: unknown[]): unknown {
  return Tuple.fromArray(elements);
}

/** The components of a driver Tuple, or undefined when `value` is not one. */
export function tupleElements(value: unknown): readonly unknown[] | undefined {
  return value instanceof Tuple ? (value.elements as unknown[]) : undefined;
}

/** A driver Vector holding `elements`; `subtype` is the element type's CQL text (informational). */
export function toDriverVector(elements: unknown[], subtype: string): unknown {
  return new Vector(elements, subtype);
}

/** The elements of a driver Vector (or a Float32Array, which the driver also binds as a vector). */
export function vectorElements(value: unknown): readonly unknown[] | undefined {
  if (value instanceof Float32Array) return Array.from(value);
  return value instanceof Vector ? (value.elements as unknown[]) : undefined;
}

function encodeError(name: string, value: unknown, problem: string): ValueCodecError {
  return new ValueCodecError('encode', name, value, problem);
}

function decodeError(name: string, json: unknown, problem: string): ValueCodecError {
  return new ValueCodecError('decode', name, json, problem);
}

function encodeFloating(name: NativeTypeName, value: unknown): JsonValue {
  if (typeof value !== 'number') throw encodeError(name, value, 'expected a number');
  if (value !== value) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  if (value === 0 && 1 / value < 0) return '-0';
  return value;
}

function decodeFloating(name: NativeTypeName, json: JsonValue): number {
  let value: number;
  if (typeof json === 'number') value = json;
  else if (json === 'NaN') value = NaN;
  else if (json === 'Infinity') value = Infinity;
  else if (json === '-Infinity') value = -Infinity;
  else if (json === '-0') value = -0;
  else throw decodeError(name, json, 'expected a number or "NaN", "Infinity", "-Infinity", "-0"');
  if (typeof json === 'number') {
    if (!Number.isFinite(value)) throw decodeError(name, json, 'not a finite number');
    // A float must be exactly representable in 32 bits, or binding it would silently round it.
    if (name === 'float' && Math.fround(value) !== value) throw decodeError(name, json, 'not exactly a 32-bit float');
  }
  return value;
}

function decodeInteger(name: NativeTypeName, json: JsonValue, limit: number): number {
  if (typeof json === 'number' && Number.isInteger(json) && json >= -limit && json < limit) return json;
  throw decodeError(name, json, `expected an integer within [${-limit}, ${limit - 1}]`);
}

/** A bigint from a canonical decimal string (`-?(0|[1-9][0-9]*)`); BigInt() alone accepts "0x1f", " 1", "". */
function decodeBigInt(name: NativeTypeName, json: JsonValue): bigint {
  if (typeof json !== 'string' || !isIntegerText(json, 0, json.length)) {
    throw decodeError(name, json, 'expected a decimal integer string');
  }
  return BigInt(json);
}

/** Whether text[start, end) is a canonical decimal integer: optional "-", no leading zeros, no "-0". */
export function isIntegerText(text: string, start: number, end: number): boolean {
  let i = start;
  if (text.charCodeAt(i) === 45 /* - */) i++;
  if (i >= end) return false;
  const first = text.charCodeAt(i);
  if (first === 48 /* 0 */) return i + 1 === end && i === start;
  for (; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code < 48 || code > 57) return false;
  }
  return true;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

function encodeTimestamp(value: unknown): JsonValue {
  if (!(value instanceof Date)) throw encodeError('timestamp', value, 'expected a Date');
  const ms = value.getTime();
  // The driver turns a timestamp beyond JS Date's range into an Invalid Date: the value is lost.
  if (Number.isNaN(ms)) throw encodeError('timestamp', value, 'outside the JavaScript Date range (±8.64e15 ms)');
  return ms;
}

function decodeBlob(json: JsonValue): Buffer {
  if (typeof json !== 'string') throw decodeError('blob', json, 'expected a base64 string');
  const bytes = Buffer.from(json, 'base64');
  // Buffer.from ignores bad characters and missing padding; only canonical base64 round-trips.
  if (bytes.toString('base64') !== json) throw decodeError('blob', json, 'not canonical padded base64 (RFC 4648 §4)');
  return bytes;
}

function decodeUuid(name: NativeTypeName, json: JsonValue): unknown {
  if (typeof json !== 'string' || !isUuidText(json)) {
    throw decodeError(name, json, 'expected a hyphenated UUID string (8-4-4-4-12 hex digits)');
  }
  const bytes = Buffer.from(json.replaceAll('-', ''), 'hex');
  if (name === 'uuid') return new Uuid(bytes);
  if (json[14] !== '1') throw decodeError(name, json, 'not a version 1 (time-based) UUID');
  return new TimeUuid(bytes);
}

function isUuidText(text: string): boolean {
  if (text.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const code = text.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (code !== 45) return false;
    } else if (!((code >= 48 && code <= 57) || (code >= 97 && code <= 102) || (code >= 65 && code <= 70))) {
      return false;
    }
  }
  return true;
}

// decimal: "<unscaled>E<exponent>", value = unscaled × 10^exponent, exponent = -scale.

function encodeDecimal(value: unknown): JsonValue {
  if (!(value instanceof BigDecimal)) throw encodeError('decimal', value, 'expected a BigDecimal');
  // BigDecimal has no public accessors for its parts (and its toString drops negative scales),
  // so read them from its wire form: a 32-bit scale, then the unscaled varint.
  const bytes = BigDecimal.toBuffer(value);
  const scale = bytes.readInt32BE(0);
  return `${signedBigIntFromBytes(bytes.subarray(4))}E${-scale}`;
}

function decodeDecimal(json: JsonValue): unknown {
  const at = typeof json === 'string' ? json.indexOf('E') : -1;
  if (typeof json !== 'string' || at < 0 || !isIntegerText(json, 0, at) || !isIntegerText(json, at + 1, json.length)) {
    throw decodeError('decimal', json, 'expected "<unscaled>E<exponent>" with decimal integers, e.g. "150E-2"');
  }
  const exponent = Number(json.slice(at + 1));
  if (!(exponent > -(2 ** 31) && exponent <= 2 ** 31)) {
    throw decodeError('decimal', json, 'exponent outside the 32-bit scale range');
  }
  const unscaled = bytesFromSignedBigInt(BigInt(json.slice(0, at)));
  const bytes = Buffer.allocUnsafe(4 + unscaled.length);
  bytes.writeInt32BE(-exponent || 0, 0);
  unscaled.copy(bytes, 4);
  return BigDecimal.fromBuffer(bytes);
}

/** A two's-complement big-endian byte string as a bigint (empty = 0). */
function signedBigIntFromBytes(bytes: Buffer): bigint {
  if (bytes.length === 0) return 0n;
  const unsigned = BigInt(`0x${bytes.toString('hex')}`);
  return (bytes[0] ?? 0) >= 0x80 ? unsigned - (1n << BigInt(bytes.length * 8)) : unsigned;
}

/** The shortest two's-complement big-endian bytes of a bigint, as Cassandra's varint. */
function bytesFromSignedBigInt(value: bigint): Buffer {
  let length = 1;
  while (value < -(1n << BigInt(length * 8 - 1)) || value >= 1n << BigInt(length * 8 - 1)) length++;
  const unsigned = value < 0n ? value + (1n << BigInt(length * 8)) : value;
  return Buffer.from(unsigned.toString(16).padStart(length * 2, '0'), 'hex');
}

// duration: "-?<months>mo<days>d<nanoseconds>ns"; Cassandra requires all three to share one sign.

function encodeDuration(value: unknown): JsonValue {
  if (!(value instanceof Duration)) throw encodeError('duration', value, 'expected a Duration');
  const { months, days, nanoseconds } = value as unknown as DurationFields;
  const nanos = BigInt(nanoseconds.toString());
  const negative = months < 0 || days < 0 || nanos < 0n;
  if (negative && (months > 0 || days > 0 || nanos > 0n)) {
    throw encodeError('duration', value, 'months, days and nanoseconds have different signs');
  }
  const sign = negative ? '-' : '';
  return `${sign}${Math.abs(months)}mo${Math.abs(days)}d${negative ? -nanos : nanos}ns`;
}

function decodeDuration(json: JsonValue): unknown {
  const problem = 'expected "-?<months>mo<days>d<nanoseconds>ns", e.g. "-1mo2d3ns"';
  if (typeof json !== 'string') throw decodeError('duration', json, problem);
  const negative = json.startsWith('-');
  const start = negative ? 1 : 0;
  const mo = json.indexOf('mo', start);
  const d = json.indexOf('d', mo + 2);
  const ns = json.indexOf('ns', d + 1);
  if (mo < 0 || d < 0 || ns < 0 || ns + 2 !== json.length ||
    !isUnsignedText(json, start, mo) || !isUnsignedText(json, mo + 2, d) || !isUnsignedText(json, d + 1, ns)) {
    throw decodeError('duration', json, problem);
  }
  const sign = negative ? -1n : 1n;
  const months = sign * BigInt(json.slice(start, mo));
  const days = sign * BigInt(json.slice(mo + 2, d));
  const nanos = sign * BigInt(json.slice(d + 1, ns));
  if (months < -(2n ** 31n) || months >= 2n ** 31n || days < -(2n ** 31n) || days >= 2n ** 31n) {
    throw decodeError('duration', json, 'months or days outside the signed 32-bit range');
  }
  if (nanos < INT64_MIN || nanos > INT64_MAX) throw decodeError('duration', json, 'nanoseconds outside the signed 64-bit range');
  return new Duration(Number(months), Number(days), Long.fromString(nanos.toString()));
}

function isUnsignedText(text: string, start: number, end: number): boolean {
  return text.charCodeAt(start) !== 45 && isIntegerText(text, start, end);
}

function decodeInet(json: JsonValue): unknown {
  const bytes = typeof json === 'string' ? parseInet(json) : undefined;
  if (bytes === undefined) throw decodeError('inet', json, 'expected a dotted-quad IPv4 or an IPv6 address');
  return new InetAddress(bytes);
}
