/**
 * Target-schema planning, pure: given the backup's keyspace and the target's current keyspace
 * (captured beforehand by apply.ts, or undefined when absent), decide in one pass, keyspace →
 * user types → tables → indexes → views, what to create, what is already in place, what to tell
 * the operator, and what to refuse. Reads nothing and writes nothing.
 *
 * {@link planSchema} tells the whole story top to bottom; each step below it is called once, in
 * that order. An existing object is compared with diff.ts, a missing one is rendered with
 * render.ts (a plain `CREATE`, so a concurrent creation fails loudly and apply.ts plans again).
 */
import { CassetteError } from '../../errors.js';
import { formatIdentifier } from '../values/identifiers.js';
import type { IndexSchema, KeyspaceSchema, TableSchema, UserTypeSchema, ViewSchema } from './model.js';
import { canonicalJson, compareNames, findTable, resolveTables, typesInDependencyOrder } from './model.js';
import {
  renameKeyspace, renderIndexCql, renderKeyspaceCql, renderTableCql, renderTypeCql, renderViewCql,
} from './render.js';
import { diffTableShape, diffUserType, diffViews, tableNotes, usedTypeNames, type SchemaTypes } from './diff.js';

/**
 * What a restore may do to the target's schema. `create`: create the keyspace, user types,
 * tables, indexes and views that are missing. `skip` and `require-existing`: create nothing, and
 * refuse a missing table; they plan alike (`skip` is what an operator says when the schema is
 * managed elsewhere, `require-existing` when it must already be there) and differ only in wording.
 */
export type SchemaMode = 'create' | 'skip' | 'require-existing';

/** Every {@link SchemaMode}, for option parsing. */
export const SCHEMA_MODES: readonly SchemaMode[] = ['create', 'skip', 'require-existing'];

/** Options of {@link planSchema} (and of planTargetSchema in apply.ts). */
export interface PlanSchemaOptions {
  /** Default `create`. */
  readonly mode?: SchemaMode;
  /** The tables being restored, exact names; empty means every table of the backup. */
  readonly tables: readonly string[];
  /** The target keyspace's name; default the backup's. */
  readonly keyspace?: string;
  /** Replaces the backup's replication map when the keyspace is created (`class` required). */
  readonly replication?: Readonly<Record<string, string>>;
}

/** What applySchema (apply.ts) will run, and what was found in place. */
export interface SchemaPlan {
  /** The target keyspace. */
  readonly keyspace: string;
  /** CQL in dependency order: keyspace, user types, tables, indexes, views. Empty: nothing to do. */
  readonly statements: readonly string[];
  /** Objects already in the target and compatible (`table ks.t`, `type ks.point`, …). */
  readonly existing: readonly string[];
  /** Things worth telling the operator that do not stop the restore (a differing TTL default, …). */
  readonly notes: readonly string[];
  /** The keyspace's replication: the one it is created with (`created`), or the one it already has. */
  readonly replication: { readonly created: boolean; readonly map: Readonly<Record<string, string>> };
  /** The planning inputs, so applySchema can plan again after a concurrent creation. */
  readonly request: { readonly source: KeyspaceSchema; readonly options: PlanSchemaOptions };
}

/**
 * Compares the backup's keyspace `source` (renamed to `options.keyspace`, replication replaced
 * by `options.replication`) with `current`, the target keyspace as it is now (undefined when it
 * does not exist), for the restored tables, their user types (transitively), indexes and views,
 * and returns what to create.
 *
 * Throws INVALID_INPUT, listing every difference, when an existing table, view, user type or
 * index is incompatible with the backup; when a table (or the keyspace) is missing and the mode
 * creates nothing; for an unknown table name, a bad keyspace name or a replication map without
 * `class` (checked first, in that order; {@link plannedKeyspace} checks the same).
 */
export function planSchema(source: KeyspaceSchema, current: KeyspaceSchema | undefined, options: PlanSchemaOptions): SchemaPlan {
  // The request: which tables, and the keyspace as the target should have it.
  const { mode, restored, wanted } = resolveRequest(source, options);
  const ks = wanted.name;
  if (current === undefined && mode !== 'create') throw missingKeyspace(ks, mode);

  // What the restored tables bring along, and what the target already has.
  const tables = wanted.tables.filter((t) => restored.has(t.name));
  const typeNames = new Set(usedTypeNames(tables.flatMap((t) => t.columns), wanted.types));
  const target: Target = { ks, mode, current, types: { wanted: wanted.types, actual: current?.types ?? [] } };

  // One step per kind of object, in the order they must be created.
  const steps: readonly Findings[] = [
    planKeyspace(target, wanted, options.replication !== undefined),
    planTypes(target, typesInDependencyOrder(wanted.types.filter((t) => typeNames.has(t.name)))),
    planTables(target, tables),
    planIndexes(target, wanted.indexes.filter((i) => restored.has(i.table))),
    planViews(target, wanted.views.filter((v) => restored.has(v.baseTable))),
  ];

  // Refuse anything incompatible or missing, all at once; otherwise hand back the plan.
  const all = (kind: keyof Findings): string[] => steps.flatMap((step) => step[kind]);
  const incompatible = all('incompatible');
  const missing = all('missing');
  if (incompatible.length > 0 || missing.length > 0) throw refusal(mode, incompatible, missing);
  const replication = current === undefined ? { created: true, map: wanted.replication } : { created: false, map: current.replication };
  return { keyspace: ks, statements: all('statements'), existing: all('existing'), notes: all('notes'), replication, request: { source, options } };
}

/**
 * The target keyspace's name for this request, after the checks {@link planSchema} makes before
 * looking at the target (table names, keyspace name, replication `class`), so that a caller can
 * refuse a bad request before reading the cluster. Throws INVALID_INPUT as planSchema does.
 */
export function plannedKeyspace(source: KeyspaceSchema, options: PlanSchemaOptions): string {
  return resolveRequest(source, options).wanted.name;
}

/** The target as the steps see it. */
interface Target {
  readonly ks: string;
  readonly mode: SchemaMode;
  /** The target keyspace now; undefined when it does not exist. */
  readonly current: KeyspaceSchema | undefined;
  readonly types: SchemaTypes;
}

/** What one step found; {@link planSchema} concatenates them in step order. */
interface Findings {
  readonly statements: string[];
  readonly existing: string[];
  readonly notes: string[];
  /** Sentences: `table ks.t in the target is incompatible with the backup: …`. */
  readonly incompatible: string[];
  /** Sentences: `table ks.t does not exist in the target`. */
  readonly missing: string[];
}

/** The mode, the restored table names, and the backup's keyspace renamed, replication replaced. */
function resolveRequest(source: KeyspaceSchema, options: PlanSchemaOptions): {
  readonly mode: SchemaMode; readonly restored: ReadonlySet<string>; readonly wanted: KeyspaceSchema;
} {
  const mode = options.mode ?? 'create';
  const restored = new Set(resolveTables(source, options.tables).map((t) => t.name));
  const keyspace = options.keyspace ?? source.name;
  // Cassandra's own rule (SchemaConstants.NAME_LENGTH and the allowed characters).
  if (!/^\w{1,48}$/.test(keyspace)) {
    throw new CassetteError('INVALID_INPUT', `"${keyspace}" cannot be a keyspace name`, {
      hint: 'a keyspace name has 1 to 48 letters, digits and underscores',
    });
  }
  const replication = options.replication;
  if (replication !== undefined && !(replication['class'] ?? '').trim()) {
    throw new CassetteError('INVALID_INPUT', `the replication override ${JSON.stringify(replication)} has no "class"`, {
      hint: 'e.g. {"class":"SimpleStrategy","replication_factor":"1"} or {"class":"NetworkTopologyStrategy","dc1":"3"}',
    });
  }
  const renamed = keyspace === source.name ? source : renameKeyspace(source, keyspace);
  return { mode, restored, wanted: replication === undefined ? renamed : { ...renamed, replication } };
}

function missingKeyspace(ks: string, mode: SchemaMode): CassetteError {
  return new CassetteError('INVALID_INPUT', `keyspace ${formatIdentifier(ks)} does not exist in the target, and schema mode "${mode}" creates nothing`, {
    hint: 'create the keyspace and its tables first, or restore with schema mode "create"',
  });
}

function planKeyspace(target: Target, wanted: KeyspaceSchema, overridden: boolean): Findings {
  const found = noFindings();
  const label = `keyspace ${formatIdentifier(target.ks)}`;
  if (target.current === undefined) {
    found.statements.push(renderKeyspaceCql(wanted));
    return found;
  }
  found.existing.push(label);
  if (!sameReplication(wanted.replication, target.current.replication)) {
    found.notes.push(`${label} exists with replication ${JSON.stringify(target.current.replication)}; `
      + `${overridden ? 'the override' : "the backup's"} ${JSON.stringify(wanted.replication)} is not applied`);
  }
  return found;
}

function planTypes(target: Target, types: readonly UserTypeSchema[]): Findings {
  const found = noFindings();
  for (const type of types) {
    const label = `type ${qualified(target.ks, type.name)}`;
    const actual = target.types.actual.find((t) => t.name === type.name);
    if (actual === undefined) {
      // Without create, a missing type means the tables using it are missing too: reported there.
      if (target.mode === 'create') found.statements.push(renderTypeCql(target.ks, type));
      continue;
    }
    const diffs = diffUserType(type, actual, target.types);
    if (diffs.length > 0) found.incompatible.push(incompatible(label, diffs));
    else found.existing.push(label);
  }
  return found;
}

function planTables(target: Target, tables: readonly TableSchema[]): Findings {
  const found = noFindings();
  for (const table of tables) {
    const label = `table ${qualified(target.ks, table.name)}`;
    if (target.current?.views.some((v) => v.name === table.name) === true) {
      found.incompatible.push(incompatible(label, ['it is a materialized view in the target']));
      continue;
    }
    const actual = target.current === undefined ? undefined : findTable(target.current, table.name);
    if (actual === undefined) {
      if (target.mode === 'create') found.statements.push(renderTableCql(target.ks, table));
      else found.missing.push(`${label} does not exist in the target`);
      continue;
    }
    const diffs = diffTableShape(table, actual, target.types);
    if (diffs.length > 0) {
      found.incompatible.push(incompatible(label, diffs));
      continue;
    }
    found.existing.push(label);
    found.notes.push(...tableNotes(table, actual).map((note) => `${label}: ${note}`));
  }
  return found;
}

/**
 * An index of the backup is in place when the target has one of the same name on the same
 * table and target expression (another kind or other options are a note: they change queries,
 * not what a restore writes), or an identical one under another name (Cassandra refuses
 * duplicates). A same-named index on something else is incompatible: ours cannot be created.
 */
function planIndexes(target: Target, indexes: readonly IndexSchema[]): Findings {
  const found = noFindings();
  const actualIndexes = target.current?.indexes ?? [];
  for (const index of indexes) {
    const label = `index ${qualified(target.ks, index.name)}`;
    const sameName = actualIndexes.find((i) => i.name === index.name);
    if (sameName !== undefined) {
      if (sameName.table !== index.table || sameName.options['target'] !== index.options['target']) {
        found.incompatible.push(incompatible(label, [`backup indexes ${indexed(index)}, target indexes ${indexed(sameName)}`]));
        continue;
      }
      found.existing.push(label);
      if (!sameIndexDefinition(index, sameName)) {
        found.notes.push(`${label}: backup has ${describeIndex(index)}, target has ${describeIndex(sameName)}`);
      }
      continue;
    }
    const twin = actualIndexes.find((i) => i.table === index.table && sameIndexDefinition(index, i));
    if (twin !== undefined) {
      found.existing.push(`index ${qualified(target.ks, twin.name)}`);
      found.notes.push(`${label} of the backup exists in the target as ${formatIdentifier(twin.name)}`);
    } else if (target.mode === 'create') {
      found.statements.push(renderIndexCql(target.ks, index));
    } else {
      found.notes.push(`${label} does not exist in the target; schema mode "${target.mode}" does not create it`);
    }
  }
  return found;
}

function planViews(target: Target, views: readonly ViewSchema[]): Findings {
  const found = noFindings();
  for (const view of views) {
    const label = `materialized view ${qualified(target.ks, view.name)}`;
    if (target.current !== undefined && findTable(target.current, view.name) !== undefined) {
      found.incompatible.push(incompatible(label, ['it is a table in the target']));
      continue;
    }
    const actual = target.current?.views.find((v) => v.name === view.name);
    if (actual === undefined) {
      if (target.mode === 'create') found.statements.push(renderViewCql(target.ks, view));
      else found.notes.push(`${label} does not exist in the target; schema mode "${target.mode}" does not create it`);
      continue;
    }
    const diffs = diffViews(view, actual, target.types);
    if (diffs.length > 0) {
      found.incompatible.push(incompatible(label, diffs));
      continue;
    }
    found.existing.push(label);
    if (view.whereClause !== actual.whereClause) {
      found.notes.push(`${label}: WHERE clause is "${view.whereClause}" in the backup, "${actual.whereClause}" in the target`);
    }
  }
  return found;
}

function refusal(mode: SchemaMode, incompatibleObjects: readonly string[], missing: readonly string[]): CassetteError {
  const missingSentence = missing.length === 0 ? [] : [
    `${missing.join('; ')}, and schema mode "${mode}" creates nothing`,
  ];
  const hints = [
    ...(incompatibleObjects.length === 0 ? [] : ['restore into a new keyspace with --target-keyspace, or fix the table']),
    ...(missing.length === 0 ? [] : ['create the missing tables first, or restore with schema mode "create"']),
  ];
  return new CassetteError('INVALID_INPUT', [...incompatibleObjects, ...missingSentence].join('; '), { hint: hints.join('; ') });
}

function noFindings(): Findings {
  return { statements: [], existing: [], notes: [], incompatible: [], missing: [] };
}

function incompatible(label: string, diffs: readonly string[]): string {
  return `${label} in the target is incompatible with the backup: ${diffs.join('; ')}`;
}

/** Equal maps once the strategy class is named the same way (`SimpleStrategy` or fully qualified). */
function sameReplication(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const canonical = (map: Readonly<Record<string, string>>): string => canonicalJson(Object.fromEntries(
    Object.entries(map).map(([k, v]) => [k, k === 'class' ? v.replace(/^org\.apache\.cassandra\.locator\./, '') : v]),
  ));
  return canonical(a) === canonical(b);
}

function sameIndexDefinition(a: IndexSchema, b: IndexSchema): boolean {
  return a.kind === b.kind && canonicalJson(a.options) === canonicalJson(b.options);
}

function indexed(index: IndexSchema): string {
  return `"${index.table}" (${index.options['target'] ?? '?'})`;
}

function describeIndex(index: IndexSchema): string {
  const options = Object.entries(index.options)
    .filter(([name]) => name !== 'target')
    .sort(([a], [b]) => compareNames(a, b))
    .map(([name, value]) => `${name}=${value}`);
  return `${index.kind}${options.length === 0 ? '' : ` (${options.join(', ')})`}`;
}

function qualified(keyspace: string, name: string): string {
  return `${formatIdentifier(keyspace)}.${formatIdentifier(name)}`;
}
