/**
 * The error of the value and cell codecs: one value that cannot be encoded to, or decoded from, the
 * JSON of format.md §6. It is a row-level problem; callers count it against `--max-errors` and
 * write the row to the rejects file rather than abort.
 */
import { CassetteError } from '../../errors.js';

/**
 * `direction` says which way failed: `encode` (a value read from Cassandra that the format cannot
 * represent, code INVALID_INPUT) or `decode` (JSON in a backup that is not a valid value of its
 * type, code BACKUP_INVALID). The message names the CQL type and the value's problem.
 */
export class ValueCodecError extends CassetteError {
  readonly direction: 'encode' | 'decode';
  /** The CQL type, as CQL text, of the innermost value that failed. */
  readonly cqlType: string;
  /** The column the value belongs to, when known (added by the cell codec). */
  readonly column: string | undefined;
  readonly #value: unknown;
  readonly #problem: string;

  constructor(direction: 'encode' | 'decode', cqlType: string, value: unknown, problem: string, column?: string) {
    super(
      direction === 'encode' ? 'INVALID_INPUT' : 'BACKUP_INVALID',
      `${column === undefined ? '' : `column "${column}": `}cannot ${direction} ${cqlType} value ${describeValue(value)}: ${problem}`,
      {
        hint: direction === 'encode'
          ? 'the value cannot be represented in backup format 1 (see docs/format.md §6.3 "Known limits")'
          : 'the backup chunk is damaged or was not written by cassette; check it with its sha256 in the range marker',
      },
    );
    this.name = 'ValueCodecError';
    this.direction = direction;
    this.cqlType = cqlType;
    this.column = column;
    this.#value = value;
    this.#problem = problem;
  }

  /** The same error, with the column it happened in named in the message. */
  inColumn(column: string): ValueCodecError {
    return new ValueCodecError(this.direction, this.cqlType, this.#value, this.#problem, column);
  }
}

/** A short, printable description of any value, for error messages. */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'bigint':
      return `${value}n`;
    case 'undefined':
      return 'undefined';
    case 'function':
    case 'symbol':
      return typeof value;
    case 'object': {
      if (value === null) return 'null';
      if (Buffer.isBuffer(value)) return `(Buffer of ${value.length} bytes)`;
      const name = value.constructor?.name;
      if (name !== undefined && name !== 'Object' && name !== 'Array') return `(${name}) ${truncate(String(value))}`;
      return truncate(safeStringify(value));
    }
    default:
      return truncate(JSON.stringify(value));
  }
}

function safeStringify(value: object): string {
  try {
    return JSON.stringify(value, (_key, inner: unknown) => (typeof inner === 'bigint' ? `${inner}n` : inner));
  } catch {
    return String(value);
  }
}

function truncate(text: string): string {
  return text.length <= 80 ? text : `${text.slice(0, 77)}...`;
}
