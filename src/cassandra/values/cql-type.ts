/**
 * CQL types as a tree: parsed from the text `system_schema.columns.type` holds (format.md §5) and
 * formatted back to CQL. User types are resolved by name, so a UDT node carries its fields' types
 * and the value codec never needs the schema again.
 */
import { formatIdentifier } from './identifiers.js';
import { CassetteError } from '../../errors.js';

/** The CQL types that have no parameters, as `system_schema` spells them (`varchar` kept as given). */
export type NativeTypeName =
  | 'ascii' | 'bigint' | 'blob' | 'boolean' | 'counter' | 'date' | 'decimal' | 'double' | 'duration'
  | 'float' | 'inet' | 'int' | 'smallint' | 'text' | 'time' | 'timestamp' | 'timeuuid' | 'tinyint'
  | 'uuid' | 'varchar' | 'varint';

const NATIVE_TYPE_NAMES: ReadonlySet<string> = new Set<NativeTypeName>([
  'ascii', 'bigint', 'blob', 'boolean', 'counter', 'date', 'decimal', 'double', 'duration',
  'float', 'inet', 'int', 'smallint', 'text', 'time', 'timestamp', 'timeuuid', 'tinyint',
  'uuid', 'varchar', 'varint',
]);

/** One field of a user type, with its parsed type. */
export interface UdtField {
  readonly name: string;
  readonly type: CqlType;
}

/**
 * A parsed CQL type. `frozen` is true when the text said `frozen<…>`; only a top-level non-frozen
 * list, set, map or user type is stored as one cell per element (see {@link isMultiCell}). Tuples and
 * vectors are always single cells; a tuple keeps `frozen` only so that formatting is faithful.
 */
export type CqlType =
  | { readonly kind: 'native'; readonly name: NativeTypeName }
  | { readonly kind: 'list'; readonly frozen: boolean; readonly element: CqlType }
  | { readonly kind: 'set'; readonly frozen: boolean; readonly element: CqlType }
  | { readonly kind: 'map'; readonly frozen: boolean; readonly key: CqlType; readonly value: CqlType }
  | { readonly kind: 'tuple'; readonly frozen: boolean; readonly components: readonly CqlType[] }
  | { readonly kind: 'udt'; readonly frozen: boolean; readonly name: string; readonly fields: readonly UdtField[] }
  | { readonly kind: 'vector'; readonly element: CqlType; readonly dimension: number };

/** A keyspace's user type as backup.json describes it (format.md §5): field types are CQL text. */
export interface UserTypeDefinition {
  readonly name: string;
  readonly fields: readonly { readonly name: string; readonly type: string }[];
}

/**
 * Parses a CQL type as `system_schema.columns.type` spells it (`frozen<map<int, frozen<list<text>>>>`,
 * `vector<float, 3>`, `"MyType"`, …). User type names are looked up in `userTypes` (case-sensitive,
 * unquoted names); nested user types are resolved too.
 *
 * @throws CassetteError INVALID_INPUT for malformed text, an unknown type name, or a custom
 *   (`'org.apache…'`) type, which cassette cannot back up.
 */
export function parseCqlType(text: string, userTypes: readonly UserTypeDefinition[] = []): CqlType {
  const byName = new Map<string, UserTypeDefinition>();
  for (const userType of userTypes) byName.set(userType.name, userType);
  return new TypeParser(text, byName, []).parseAll();
}

/** True for a non-frozen list, set, map or user type: stored as one cell per element or field. */
export function isMultiCell(type: CqlType): boolean {
  switch (type.kind) {
    case 'list':
    case 'set':
    case 'map':
    case 'udt':
      return !type.frozen;
    case 'native':
    case 'tuple':
    case 'vector':
      return false;
  }
}

/** The CQL text of a type, in `system_schema`'s spelling (`map<text, frozen<list<int>>>`). */
export function formatCqlType(type: CqlType): string {
  switch (type.kind) {
    case 'native':
      return type.name;
    case 'list':
    case 'set':
      return frozenIf(type.frozen, `${type.kind}<${formatCqlType(type.element)}>`);
    case 'map':
      return frozenIf(type.frozen, `map<${formatCqlType(type.key)}, ${formatCqlType(type.value)}>`);
    case 'tuple':
      return frozenIf(type.frozen, `tuple<${type.components.map(formatCqlType).join(', ')}>`);
    case 'udt':
      return frozenIf(type.frozen, formatIdentifier(type.name));
    case 'vector':
      return `vector<${formatCqlType(type.element)}, ${type.dimension}>`;
  }
}

function frozenIf(frozen: boolean, text: string): string {
  return frozen ? `frozen<${text}>` : text;
}

/** A recursive-descent parser over one type text; `resolving` guards against cyclic user types. */
class TypeParser {
  readonly #text: string;
  readonly #userTypes: ReadonlyMap<string, UserTypeDefinition>;
  readonly #resolving: readonly string[];
  #pos = 0;

  constructor(text: string, userTypes: ReadonlyMap<string, UserTypeDefinition>, resolving: readonly string[]) {
    this.#text = text;
    this.#userTypes = userTypes;
    this.#resolving = resolving;
  }

  parseAll(): CqlType {
    const type = this.#parseType();
    this.#skipSpaces();
    if (this.#pos !== this.#text.length) throw this.#error(`unexpected "${this.#text.slice(this.#pos)}"`);
    return type;
  }

  #parseType(): CqlType {
    this.#skipSpaces();
    const char = this.#text[this.#pos];
    if (char === '"') return this.#userType(this.#quotedName(), false);
    if (char === "'") throw this.#error('custom types are not supported');
    const word = this.#word();
    this.#skipSpaces();
    const parameterized = this.#text[this.#pos] === '<';
    if (!parameterized) {
      if (NATIVE_TYPE_NAMES.has(word)) return { kind: 'native', name: word as NativeTypeName };
      return this.#userType(word, false);
    }
    this.#pos++;
    let type: CqlType;
    switch (word) {
      case 'frozen':
        type = freeze(this.#parseType());
        break;
      case 'list':
      case 'set':
        type = { kind: word, frozen: false, element: this.#parseType() };
        break;
      case 'map': {
        const key = this.#parseType();
        this.#expect(',');
        type = { kind: 'map', frozen: false, key, value: this.#parseType() };
        break;
      }
      case 'tuple': {
        const components = [this.#parseType()];
        while (this.#accept(',')) components.push(this.#parseType());
        type = { kind: 'tuple', frozen: false, components };
        break;
      }
      case 'vector': {
        const element = this.#parseType();
        this.#expect(',');
        this.#skipSpaces();
        const digits = this.#word();
        const dimension = Number(digits);
        if (!/^[1-9][0-9]*$/.test(digits) || !Number.isSafeInteger(dimension)) {
          throw this.#error(`vector dimension "${digits}" is not a positive integer`);
        }
        type = { kind: 'vector', element, dimension };
        break;
      }
      default:
        throw this.#error(`unknown parameterized type "${word}"`);
    }
    this.#expect('>');
    return type;
  }

  #userType(name: string, frozen: boolean): CqlType {
    const definition = this.#userTypes.get(name);
    if (definition === undefined) throw this.#error(`unknown type "${name}"`);
    if (this.#resolving.includes(name)) throw this.#error(`user type "${name}" contains itself`);
    const resolving = [...this.#resolving, name];
    const fields = definition.fields.map((field) => ({
      name: field.name,
      type: new TypeParser(field.type, this.#userTypes, resolving).parseAll(),
    }));
    return { kind: 'udt', frozen, name, fields };
  }

  #word(): string {
    const start = this.#pos;
    while (this.#pos < this.#text.length && /[A-Za-z0-9_]/.test(this.#text[this.#pos] ?? '')) this.#pos++;
    if (this.#pos === start) throw this.#error('expected a type name');
    // Unquoted CQL names are case-insensitive; system_schema stores them in lowercase.
    return this.#text.slice(start, this.#pos).toLowerCase();
  }

  #quotedName(): string {
    let name = '';
    this.#pos++;
    for (;;) {
      const end = this.#text.indexOf('"', this.#pos);
      if (end < 0) throw this.#error('unterminated quoted name');
      name += this.#text.slice(this.#pos, end);
      this.#pos = end + 1;
      if (this.#text[this.#pos] !== '"') return name;
      name += '"';
      this.#pos++;
    }
  }

  #accept(char: string): boolean {
    this.#skipSpaces();
    if (this.#text[this.#pos] !== char) return false;
    this.#pos++;
    return true;
  }

  #expect(char: string): void {
    if (!this.#accept(char)) throw this.#error(`expected "${char}"`);
  }

  #skipSpaces(): void {
    while (this.#text[this.#pos] === ' ') this.#pos++;
  }

  #error(problem: string): CassetteError {
    return new CassetteError('INVALID_INPUT', `cannot parse CQL type "${this.#text}" at ${this.#pos}: ${problem}`, {
      hint: 'cassette reads types as system_schema spells them; custom (Java class) types are not supported',
    });
  }
}

function freeze(type: CqlType): CqlType {
  switch (type.kind) {
    case 'list':
    case 'set':
    case 'map':
    case 'tuple':
    case 'udt':
      return { ...type, frozen: true };
    case 'vector':
      return type; // always a single cell
    case 'native':
      // frozen<int> is meaningless; Cassandra never spells it, so reject rather than guess.
      throw new CassetteError('INVALID_INPUT', `cannot parse CQL type: frozen<${formatCqlType(type)}> freezes a ${type.kind} type`);
  }
}
