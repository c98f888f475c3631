/**
 * The schema side of a restore: compare the backup's keyspace (renamed, replication overridden)
 * with what the target cluster has for the tables being restored, refuse anything incompatible
 * before a row is written, and create what is missing.
 *
 * Planning only reads; every statement is a plain `CREATE` (see render.ts), so an object
 * created concurrently by someone else fails loudly and {@link applySchema} plans again: the
 * object then exists and is accepted only if it is compatible. Compatibility is diff.ts.
 */
import { CassetteError } from '../../errors.js';
import { formatIdentifier } from '../values/identifiers.js';
import { captureKeyspace } from './capture.js';
import type { IndexSchema, KeyspaceSchema, TableSchema, UserTypeSchema, ViewSchema } from './model.js';
import { canonicalJson, compareNames, findTable, resolveTables, typesInDependencyOrder } from './model.js';
import {
  renameKeyspace, renderIndexCql, renderKeyspaceCql, renderTableCql, renderTypeCql, renderViewCql,
} from './render.js';
import { diffTableShape, diffUserType, diffViews, tableNotes, usedTypeNames, type SchemaTypes } from './diff.js';
import { DEFAULT_AGREEMENT_TIMEOUT_MS, waitForSchemaAgreement } from './agreement.js';
import type { CqlSession } from '../connection/session.js';

/**
 * What a restore may do to the target's schema. `create`: create the keyspace, user types,
 * tables, indexes and views that are missing. `skip` and `require-existing`: create nothing, and
 * refuse a missing table; they plan alike (`skip` is what an operator says when the schema is
 * managed elsewhere, `require-existing` when it must already be there) and differ only in wording.
 */
export type SchemaMode = 'create' | 'skip' | 'require-existing';

/** Every {@link SchemaMode}, for option parsing. */
export const SCHEMA_MODES: readonly SchemaMode[] = ['create', 'skip', 'require-existing'];

/** Options of {@link planTargetSchema}. */
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

/** What {@link applySchema} will run, and what was found in place. */
export interface SchemaPlan {
  /** The target keyspace. */
  readonly keyspace: string;
  /** CQL in dependency order: keyspace, user types, tables, indexes, views. Empty: nothing to do. */
  readonly statements: readonly string[];
  /** Objects already in the target and compatible (`table ks.t`, `type ks.point`, …). */
  readonly existing: readonly string[];
  /** Things worth telling the operator that do not stop the restore (a differing TTL default, …). */
  readonly notes: readonly string[];
  /** The planning inputs, so {@link applySchema} can plan again after a concurrent creation. */
  readonly request: { readonly source: KeyspaceSchema; readonly options: PlanSchemaOptions };
}

/** Options of {@link applySchema}. */
export interface ApplySchemaOptions {
  /** How long to wait for schema agreement after each statement. Default 30 000 ms. */
  readonly agreementTimeoutMs?: number;
  /** Pause between schema-version polls. Default 200 ms. */
  readonly agreementPollMs?: number;
}

/** Names in the driver's error codes (native protocol spec §9) that this module acts on. */
const SERVER_ERROR = { syntax: 0x2000, unauthorized: 0x2100, invalid: 0x2200, config: 0x2300, alreadyExists: 0x2400 } as const;

/**
 * Compares the backup's keyspace `source` (renamed to `options.keyspace`, replication replaced
 * by `options.replication`) with the target cluster for the restored tables, their user types
 * (transitively), indexes and views, and returns what to create. Reads only.
 *
 * Throws INVALID_INPUT, listing every difference, when an existing table, view, user type or
 * index is incompatible with the backup; when a table (or the keyspace) is missing and the mode
 * creates nothing; for an unknown table name, a bad keyspace name or a replication map without
 * `class`. Rejects with the driver's error when the cluster cannot be read.
 */
export async function planTargetSchema(
  session: CqlSession,
  source: KeyspaceSchema,
  options: PlanSchemaOptions,
): Promise<SchemaPlan> {
  const mode = options.mode ?? 'create';
  const restored = new Set(resolveTables(source, options.tables).map((t) => t.name));
  const wanted = wantedSchema(source, options);
  const ks = wanted.name;
  const target = await captureTarget(session, ks);
  if (target === undefined && mode !== 'create') {
    throw new CassetteError('INVALID_INPUT', `keyspace ${formatIdentifier(ks)} does not exist in the target, and schema mode "${mode}" creates nothing`, {
      hint: 'create the keyspace and its tables first, or restore with schema mode "create"',
    });
  }

  const tables = wanted.tables.filter((t) => restored.has(t.name));
  const typeNames = new Set(usedTypeNames(tables.flatMap((t) => t.columns), wanted.types));
  const draft: Draft = {
    ks, mode, target,
    types: { wanted: wanted.types, actual: target?.types ?? [] },
    statements: [], existing: [], notes: [], incompatible: [], missing: [],
  };
  planKeyspace(draft, wanted, options.replication !== undefined);
  planTypes(draft, typesInDependencyOrder(wanted.types.filter((t) => typeNames.has(t.name))));
  planTables(draft, tables);
  planIndexes(draft, wanted.indexes.filter((i) => restored.has(i.table)));
  planViews(draft, wanted.views.filter((v) => restored.has(v.baseTable)));
  if (draft.incompatible.length > 0 || draft.missing.length > 0) throw refusal(draft);
  return { keyspace: ks, statements: draft.statements, existing: draft.existing, notes: draft.notes, request: { source, options } };
}

/**
 * Runs the plan's statements one at a time, waiting for schema agreement after each. When one
 * fails because its object was just created by someone else, plans again (which refuses the
 * object unless it is compatible) and runs what is still missing. Throws INVALID_INPUT when the
 * cluster refuses a statement (bad replication, materialized views disabled, no permission),
 * CLUSTER_UNAVAILABLE when the schema does not agree in time or the target keeps changing;
 * rejects with the driver's error for anything else. Safe to re-run: a new plan skips what exists.
 */
export async function applySchema(session: CqlSession, plan: SchemaPlan, options: ApplySchemaOptions = {}): Promise<void> {
  const agreement = {
    timeoutMs: options.agreementTimeoutMs ?? DEFAULT_AGREEMENT_TIMEOUT_MS,
    ...(options.agreementPollMs === undefined ? {} : { pollIntervalMs: options.agreementPollMs }),
  };
  let pending = plan;
  // Each conflict means one more object exists, so a re-plan has fewer statements; the bound
  // only guards against a target whose schema someone keeps dropping and recreating.
  for (let replans = 0; pending.statements.length > 0; replans += 1) {
    if (replans > plan.statements.length) {
      throw new CassetteError('CLUSTER_UNAVAILABLE', `the schema of keyspace ${formatIdentifier(plan.keyspace)} kept changing while it was being created`, {
        hint: 'another client is changing the target keyspace; re-run the restore once it is done',
      });
    }
    if (!(await runUntilConflict(session, pending.statements, agreement))) return;
    pending = await planTargetSchema(session, plan.request.source, plan.request.options);
  }
}

/** Runs statements in order; true when one failed because its object already exists. */
async function runUntilConflict(
  session: CqlSession,
  statements: readonly string[],
  agreement: { readonly timeoutMs: number; readonly pollIntervalMs?: number },
): Promise<boolean> {
  for (const statement of statements) {
    const after = summarize(statement);
    try {
      await session.execute(statement, [], { prepare: false });
    } catch (err) {
      if (!isAlreadyExists(err)) throw refusedStatement(err, after);
      await waitForSchemaAgreement(session, { ...agreement, after });
      return true;
    }
    await waitForSchemaAgreement(session, { ...agreement, after });
  }
  return false;
}

/** The plan being built; the planX functions append to it. */
interface Draft {
  readonly ks: string;
  readonly mode: SchemaMode;
  readonly target: KeyspaceSchema | undefined;
  readonly types: SchemaTypes;
  readonly statements: string[];
  readonly existing: string[];
  readonly notes: string[];
  /** Sentences: `table ks.t in the target is incompatible with the backup: …`. */
  readonly incompatible: string[];
  /** Sentences: `table ks.t does not exist in the target`. */
  readonly missing: string[];
}

function planKeyspace(draft: Draft, wanted: KeyspaceSchema, overridden: boolean): void {
  const label = `keyspace ${formatIdentifier(draft.ks)}`;
  if (draft.target === undefined) {
    draft.statements.push(renderKeyspaceCql(wanted));
    return;
  }
  draft.existing.push(label);
  if (!sameReplication(wanted.replication, draft.target.replication)) {
    draft.notes.push(`${label} exists with replication ${JSON.stringify(draft.target.replication)}; `
      + `${overridden ? 'the override' : "the backup's"} ${JSON.stringify(wanted.replication)} is not applied`);
  }
}

function planTypes(draft: Draft, types: readonly UserTypeSchema[]): void {
  for (const type of types) {
    const label = `type ${qualified(draft.ks, type.name)}`;
    const actual = draft.types.actual.find((t) => t.name === type.name);
    if (actual === undefined) {
      // Without create, a missing type means the tables using it are missing too: reported there.
      if (draft.mode === 'create') draft.statements.push(renderTypeCql(draft.ks, type));
      continue;
    }
    const diffs = diffUserType(type, actual, draft.types);
    if (diffs.length > 0) draft.incompatible.push(incompatible(label, diffs));
    else draft.existing.push(label);
  }
}

function planTables(draft: Draft, tables: readonly TableSchema[]): void {
  for (const table of tables) {
    const label = `table ${qualified(draft.ks, table.name)}`;
    if (draft.target?.views.some((v) => v.name === table.name) === true) {
      draft.incompatible.push(incompatible(label, ['it is a materialized view in the target']));
      continue;
    }
    const actual = draft.target === undefined ? undefined : findTable(draft.target, table.name);
    if (actual === undefined) {
      if (draft.mode === 'create') draft.statements.push(renderTableCql(draft.ks, table));
      else draft.missing.push(`${label} does not exist in the target`);
      continue;
    }
    const diffs = diffTableShape(table, actual, draft.types);
    if (diffs.length > 0) {
      draft.incompatible.push(incompatible(label, diffs));
      continue;
    }
    draft.existing.push(label);
    draft.notes.push(...tableNotes(table, actual).map((note) => `${label}: ${note}`));
  }
}

/**
 * An index of the backup is in place when the target has one of the same name on the same
 * table and target expression (another kind or other options are a note: they change queries,
 * not what a restore writes), or an identical one under another name (Cassandra refuses
 * duplicates). A same-named index on something else is incompatible: ours cannot be created.
 */
function planIndexes(draft: Draft, indexes: readonly IndexSchema[]): void {
  const actualIndexes = draft.target?.indexes ?? [];
  for (const index of indexes) {
    const label = `index ${qualified(draft.ks, index.name)}`;
    const sameName = actualIndexes.find((i) => i.name === index.name);
    if (sameName !== undefined) {
      if (sameName.table !== index.table || sameName.options['target'] !== index.options['target']) {
        draft.incompatible.push(incompatible(label, [`backup indexes ${indexed(index)}, target indexes ${indexed(sameName)}`]));
        continue;
      }
      draft.existing.push(label);
      if (!sameIndexDefinition(index, sameName)) {
        draft.notes.push(`${label}: backup has ${describeIndex(index)}, target has ${describeIndex(sameName)}`);
      }
      continue;
    }
    const twin = actualIndexes.find((i) => i.table === index.table && sameIndexDefinition(index, i));
    if (twin !== undefined) {
      draft.existing.push(`index ${qualified(draft.ks, twin.name)}`);
      draft.notes.push(`${label} of the backup exists in the target as ${formatIdentifier(twin.name)}`);
    } else if (draft.mode === 'create') {
      draft.statements.push(renderIndexCql(draft.ks, index));
    } else {
      draft.notes.push(`${label} does not exist in the target; schema mode "${draft.mode}" does not create it`);
    }
  }
}

function planViews(draft: Draft, views: readonly ViewSchema[]): void {
  for (const view of views) {
    const label = `materialized view ${qualified(draft.ks, view.name)}`;
    if (draft.target !== undefined && findTable(draft.target, view.name) !== undefined) {
      draft.incompatible.push(incompatible(label, ['it is a table in the target']));
      continue;
    }
    const actual = draft.target?.views.find((v) => v.name === view.name);
    if (actual === undefined) {
      if (draft.mode === 'create') draft.statements.push(renderViewCql(draft.ks, view));
      else draft.notes.push(`${label} does not exist in the target; schema mode "${draft.mode}" does not create it`);
      continue;
    }
    const diffs = diffViews(view, actual, draft.types);
    if (diffs.length > 0) {
      draft.incompatible.push(incompatible(label, diffs));
      continue;
    }
    draft.existing.push(label);
    if (view.whereClause !== actual.whereClause) {
      draft.notes.push(`${label}: WHERE clause is "${view.whereClause}" in the backup, "${actual.whereClause}" in the target`);
    }
  }
}

function refusal(draft: Draft): CassetteError {
  const missing = draft.missing.length === 0 ? [] : [
    `${draft.missing.join('; ')}, and schema mode "${draft.mode}" creates nothing`,
  ];
  const hints = [
    ...(draft.incompatible.length === 0 ? [] : ['restore into a new keyspace with --target-keyspace, or fix the table']),
    ...(draft.missing.length === 0 ? [] : ['create the missing tables first, or restore with schema mode "create"']),
  ];
  return new CassetteError('INVALID_INPUT', [...draft.incompatible, ...missing].join('; '), { hint: hints.join('; ') });
}

function incompatible(label: string, diffs: readonly string[]): string {
  return `${label} in the target is incompatible with the backup: ${diffs.join('; ')}`;
}

/** The backup's keyspace as the target should have it: renamed, replication replaced. */
function wantedSchema(source: KeyspaceSchema, options: PlanSchemaOptions): KeyspaceSchema {
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
  return replication === undefined ? renamed : { ...renamed, replication };
}

/** The target keyspace's schema, or undefined when it does not exist. */
async function captureTarget(session: CqlSession, keyspace: string): Promise<KeyspaceSchema | undefined> {
  const found = await session.execute(
    'SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [keyspace], { prepare: true },
  );
  return found.rows.length === 0 ? undefined : captureKeyspace(session, keyspace);
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

/** `CREATE TABLE ks.t`: a statement's first line without its opening parenthesis, for messages. */
function summarize(statement: string): string {
  return (statement.split('\n')[0] ?? statement).replace(/\s*\($/, '').replace(/ AS$/, '');
}

/**
 * Driver errors carry the server's error code as a number. Cassandra 5.0 answers an existing
 * keyspace or table with ALREADY_EXISTS, an existing type or index with INVALID ("… already
 * exists"), and an identical index under another name with INVALID ("… is a duplicate of …").
 */
function isAlreadyExists(err: unknown): boolean {
  const code = errorCode(err);
  if (code === SERVER_ERROR.alreadyExists) return true;
  return code === SERVER_ERROR.invalid && /already exists|is a duplicate of existing index/.test(errorMessage(err));
}

function refusedStatement(err: unknown, statement: string): unknown {
  const code = errorCode(err);
  if (code === SERVER_ERROR.unauthorized) {
    return new CassetteError('INVALID_INPUT', `the target cluster refused ${statement}: ${errorMessage(err)}`, {
      hint: 'the restoring user needs CREATE permission on the keyspace (or ALL KEYSPACES)', cause: err,
    });
  }
  if (code === SERVER_ERROR.syntax || code === SERVER_ERROR.invalid || code === SERVER_ERROR.config) {
    return new CassetteError('INVALID_INPUT', `the target cluster refused ${statement}: ${errorMessage(err)}`, {
      hint: 'check the replication override (strategy, data center names) and the target\'s settings '
        + '(materialized_views_enabled, SAI); objects created so far are kept and reused on the next run',
      cause: err,
    });
  }
  return err;
}

function errorCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'number' ? err.code : undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
