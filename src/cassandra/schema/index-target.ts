/**
 * Reading an index's target as `system_schema.indexes.options.target` stores it: the column name
 * (double-quoted when it needs quoting, inner quotes doubled), optionally wrapped in the
 * collection function the index covers — `values(m)`, `keys(m)`, `entries(m)`, `full(l)`.
 */

/** What part of the column an index covers. `value` is a plain column index. */
export type IndexedPart = 'value' | 'values' | 'keys' | 'entries' | 'full';

export interface IndexTarget {
  /** The column's name as stored (unquoted, case preserved). */
  readonly column: string;
  readonly part: IndexedPart;
}

const WRAPPED = /^\s*(values|keys|entries|full)\s*\((.*)\)\s*$/is;

/**
 * The column an index target names, or undefined when the text is not one column target (an
 * empty string, or something a custom index stored in a form cassette does not know).
 */
export function parseIndexTarget(target: string): IndexTarget | undefined {
  const wrapped = WRAPPED.exec(target);
  const part = (wrapped?.[1]?.toLowerCase() ?? 'value') as IndexedPart;
  const column = unquote((wrapped?.[2] ?? target).trim());
  return column === undefined ? undefined : { column, part };
}

function unquote(name: string): string | undefined {
  if (name === '') return undefined;
  if (name.startsWith('"')) {
    if (name.length < 2 || !name.endsWith('"')) return undefined;
    const inner = name.slice(1, -1);
    // A lone quote inside would mean the text is not one identifier.
    if (inner.replaceAll('""', '').includes('"')) return undefined;
    return inner.replaceAll('""', '"');
  }
  // Unquoted names are stored as Cassandra folded them (lowercase); they never contain spaces,
  // commas or parentheses.
  return /^[A-Za-z0-9_]+$/.test(name) ? name : undefined;
}
