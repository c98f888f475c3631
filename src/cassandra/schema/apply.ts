/**
 * The schema side of a restore, against the cluster: read the target keyspace as it is now,
 * hand it with the backup's keyspace to plan.ts (which decides, purely, what to create and what
 * to refuse before a row is written), then run the plan's statements.
 *
 * Every statement is a plain `CREATE` (see render.ts), so an object created concurrently by
 * someone else fails loudly and {@link applySchema} plans again: the object then exists and is
 * accepted only if it is compatible. The planning types are re-exported from here, so callers
 * import the whole schema step from this module.
 */
import { CassetteError } from '../../errors.js';
import { formatIdentifier } from '../values/identifiers.js';
import { captureKeyspace } from './capture.js';
import type { KeyspaceSchema } from './model.js';
import { plannedKeyspace, planSchema, type PlanSchemaOptions, type SchemaPlan } from './plan.js';
import { DEFAULT_AGREEMENT_TIMEOUT_MS, waitForSchemaAgreement } from './agreement.js';
import { SYSTEM_READ, type CqlSession } from '../connection/session.js';

export { SCHEMA_MODES, type PlanSchemaOptions, type SchemaMode, type SchemaPlan } from './plan.js';

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
 * Reads the target keyspace as it is now and plans against it ({@link planSchema}: what to
 * create for the restored tables, their user types, indexes and views). Reads only. Throws
 * INVALID_INPUT as planSchema does (a bad request before anything is read); rejects with the
 * driver's error when the cluster cannot be read.
 */
export async function planTargetSchema(
  session: CqlSession,
  source: KeyspaceSchema,
  options: PlanSchemaOptions,
): Promise<SchemaPlan> {
  const keyspace = plannedKeyspace(source, options); // a bad request is refused before any read
  return planSchema(source, await captureTarget(session, keyspace), options);
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

/** The target keyspace's schema, or undefined when it does not exist. */
async function captureTarget(session: CqlSession, keyspace: string): Promise<KeyspaceSchema | undefined> {
  const found = await session.execute(
    'SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [keyspace], SYSTEM_READ,
  );
  return found.rows.length === 0 ? undefined : captureKeyspace(session, keyspace);
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
