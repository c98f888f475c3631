/**
 * The rotation config's problems and where they are: a problem is a path in the YAML document (at
 * its key or its value) and a message. This file finds that path's line and column in the parsed
 * document, formats paths (`tables[0].encrypted_columns`), turns schema issues into
 * `expected …, got …` messages, suggests the setting a typo resembles (did you mean …?) and joins
 * the first few problems into one error. Values are described by kind, never repeated (a string
 * could be a secret).
 */
import { isAlias, isMap, isScalar, isSeq, type Document } from 'yaml';
import type { z } from 'zod';

const MAX_REPORTED = 5;

/** The hint of an error when no problem gives a better one. */
export const DEFAULT_HINT = 'every setting is described in docs/config.md, section "Rotation config (--config)"';

/** A path in the document: mapping keys and list indexes, from the root. */
export type Path = readonly PropertyKey[];

/** One thing wrong with the file: where (a path in the document, at its key or its value) and what. */
export interface Problem {
  readonly path: Path;
  readonly message: string;
  readonly at?: 'key';
  readonly hint?: string;
}

/** The first MAX_REPORTED lines joined by "; ", and how many more there are. */
export function joinReported(lines: readonly string[]): string {
  const shown = lines.slice(0, MAX_REPORTED).join('; ');
  return lines.length > MAX_REPORTED ? `${shown}; and ${lines.length - MAX_REPORTED} more` : shown;
}

/** Whether `path` is `prefix` or lies under it. */
export function startsWith(path: Path, prefix: Path): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => segment === path[i]);
}

/** `tables[0].encrypted_columns`; odd keys quoted: `cluster["contact points"]`. */
export function formatPath(path: Path): string {
  return path
    .map((segment, i) => {
      if (typeof segment === 'number') return `[${segment}]`;
      const key = String(segment);
      if (!/^[\w-]+$/.test(key)) return `[${JSON.stringify(key)}]`;
      return i === 0 ? key : `.${key}`;
    })
    .join('');
}

/**
 * Finds `path` in the document: the node there, if any, and the offset to report — the key's or
 * the value's start, or the nearest existing ancestor's start when the path does not exist.
 */
export function walk(doc: Document, path: Path, at?: 'key'): { node: unknown; offset: number } {
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (const [i, segment] of path.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (pair === undefined) return { node: undefined, offset };
      if (at === 'key' && i === path.length - 1) return { node: pair.value, offset: rangeStart(pair.key) ?? offset };
      node = pair.value;
      offset = rangeStart(node) ?? rangeStart(pair.key) ?? offset;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      if (node === undefined) return { node, offset };
      offset = rangeStart(node) ?? offset;
    } else {
      return { node: undefined, offset };
    }
  }
  return { node, offset };
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: readonly number[] | null } | null | undefined)?.range;
  return range?.[0];
}

/** What a value is, without repeating a string (it could be a secret). */
function describe(value: unknown): string {
  if (value === null) return 'an empty value';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'a mapping';
  return 'a value of another kind';
}

/** A string from an enumeration-like setting, quoted when it is short and plain; else its kind. */
export function echo(value: unknown): string {
  return typeof value === 'string' && /^[\w.:-]{1,40}$/.test(value) ? JSON.stringify(value) : describe(value);
}

function valueAt(root: unknown, path: Path): unknown {
  let value = root;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

/** A schema issue as a problem: an unknown setting (with did-you-mean), a missing one, or "expected …, got …". */
export function fromIssue(issue: z.core.$ZodIssue, root: unknown): Problem {
  const params = issue.code === 'custom' ? (issue.params as { known?: readonly string[]; hint?: string } | undefined) : undefined;
  if (params?.known !== undefined) {
    const key = String(issue.path[issue.path.length - 1]);
    const near = nearest(key, params.known);
    const message = near === undefined ? `unknown setting (known here: ${params.known.join(', ')})` : `unknown setting (did you mean ${near}?)`;
    return { path: issue.path, message, at: 'key' };
  }
  const value = valueAt(root, issue.path);
  let message = issue.message;
  if (value === undefined && issue.path.length > 0) message = `missing; ${message}`;
  else if (message.startsWith('expected ') && !message.includes(', got ')) message = `${message}, got ${describe(value)}`;
  return { path: issue.path, message, ...(params?.hint === undefined ? {} : { hint: params.hint }) };
}

/** The known name within edit distance 2 of `name` (a likely typo), if any. */
export function nearest(name: string, known: readonly string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance <= 2 && distance < candidate.length && (best === undefined || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
