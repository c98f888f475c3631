/**
 * A fix for cassandra-driver 4.10.0 decoding a list that contains null elements.
 *
 * Cassandra 5.0 returns such lists for WRITETIME/TTL of multi-cell columns: TTL(s) of a set whose
 * first element has no TTL is `[null, 1000]`, WRITETIME(u) of a user type whose second field is null
 * is `[ts, null, ts]`. The driver's `decodeList` adds the element length (-1 for null) to its read
 * offset, so every later element is read one byte early: the rest of the list silently becomes null
 * (`[null, null]` instead of `[null, 1000]`) or the parser throws a RangeError from inside the socket
 * stream, which crashes the process. The Java driver fixed the same bug as JAVA-2371.
 *
 * {@link installNullListElementFix} wraps `Encoder.prototype.decode` (shared by every connection of
 * every client) so that `list` and `set` values are decoded by a correct loop; everything else, and
 * lists without nulls, decode exactly as before. It must run before any client reads WRITETIME/TTL
 * of a multi-cell column; cell-codec.ts refuses to build such a select list until it has.
 */
import cassandra from 'cassandra-driver';

const { dataTypes } = cassandra.types;

/** The parts of the driver's (undeclared) Encoder this fix uses. */
interface DriverEncoder {
  readonly encodingOptions: { readonly set?: new (values: unknown[]) => unknown };
  readonly collectionLengthSize: number;
  decodeCollectionLength(bytes: Buffer, offset: number): number;
  decode(bytes: Buffer | null, type: DriverColumnInfo): unknown;
}

interface DriverColumnInfo {
  readonly code: number;
  readonly info?: unknown;
}

type Decode = (this: DriverEncoder, bytes: Buffer | null, type: DriverColumnInfo) => unknown;

const FIXED = Symbol.for('cassette.nullListElementFix');

function encoderPrototype(): { decode: Decode; [FIXED]?: true } {
  const { Encoder } = cassandra as unknown as { Encoder: { prototype: { decode: Decode; [FIXED]?: true } } };
  return Encoder.prototype;
}

/** Installs the fix once per process; later calls do nothing. */
export function installNullListElementFix(): void {
  const prototype = encoderPrototype();
  if (prototype[FIXED] === true) return;
  const original = prototype.decode;
  prototype.decode = function decode(this: DriverEncoder, bytes: Buffer | null, type: DriverColumnInfo): unknown {
    if (bytes === null || bytes.length === 0 || (type.code !== dataTypes.list && type.code !== dataTypes.set)) {
      return original.call(this, bytes, type);
    }
    const list = decodeList(this, bytes, type.info as DriverColumnInfo);
    const SetClass = type.code === dataTypes.set ? this.encodingOptions.set : undefined;
    return SetClass === undefined ? list : new SetClass(list);
  };
  prototype[FIXED] = true;
}

/** Whether {@link installNullListElementFix} has run in this process. */
export function isNullListElementFixInstalled(): boolean {
  return encoderPrototype()[FIXED] === true;
}

function decodeList(encoder: DriverEncoder, bytes: Buffer, elementType: DriverColumnInfo): unknown[] {
  const count = encoder.decodeCollectionLength(bytes, 0);
  const lengthSize = encoder.collectionLengthSize;
  let offset = lengthSize;
  const list = new Array<unknown>(count);
  for (let i = 0; i < count; i++) {
    const length = encoder.decodeCollectionLength(bytes, offset);
    offset += lengthSize;
    if (length < 0) {
      list[i] = null;
      continue;
    }
    list[i] = encoder.decode(bytes.subarray(offset, offset + length), elementType);
    offset += length;
  }
  return list;
}
