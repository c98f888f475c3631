/**
 * Waiting until every node has the same schema, through the {@link CqlSession} port: the driver's
 * `client.metadata.checkSchemaAgreement()` is not on the port, so this polls
 * `system.local.schema_version` and `system.peers.schema_version` instead, as the drivers do.
 *
 * The two queries may be coordinated by different nodes (the port cannot pin both to one host).
 * Agreement is still meaningful: every node appears in some node's `system.peers`, so equal
 * versions everywhere seen means no node known to the cluster disagrees. A peer whose version is
 * null (still joining) is left out, as the drivers do.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CassetteError } from '../../errors.js';
import { SYSTEM_READ, type CqlSession } from '../connection/session.js';

/** Options of {@link waitForSchemaAgreement}. */
export interface SchemaAgreementOptions {
  /** Give up after this long. Default 30 000 ms. */
  readonly timeoutMs?: number;
  /** Pause between polls. Default 200 ms. */
  readonly pollIntervalMs?: number;
  /** What was just changed, for the error message (`CREATE TABLE ks.t`). */
  readonly after?: string;
}

/** The default of {@link SchemaAgreementOptions.timeoutMs}. */
export const DEFAULT_AGREEMENT_TIMEOUT_MS = 30_000;

/**
 * Resolves once all nodes report one schema version. Throws CLUSTER_UNAVAILABLE naming each
 * version and its nodes when they still differ after `timeoutMs` (a node down with an old schema
 * is the usual cause); rejects with the driver's error when the system tables cannot be read.
 * Reads only: safe to call any number of times.
 */
export async function waitForSchemaAgreement(session: CqlSession, options: SchemaAgreementOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_AGREEMENT_TIMEOUT_MS;
  const pollIntervalMs = options.pollIntervalMs ?? 200;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const versions = await schemaVersions(session);
    if (versions.size <= 1) return;
    const left = deadline - Date.now();
    if (left <= 0) {
      const seen = [...versions].map(([version, nodes]) => `${version} on ${nodes.join(', ')}`).join('; ');
      throw new CassetteError(
        'CLUSTER_UNAVAILABLE',
        `schema versions did not agree within ${timeoutMs} ms${options.after === undefined ? '' : ` after ${options.after}`}: ${seen}`,
        { hint: 'a node may be down or slow: check `nodetool describecluster`, then re-run (objects already created are kept and reused)' },
      );
    }
    await sleep(Math.min(pollIntervalMs, left));
  }
}

/** Schema version → the nodes reporting it (`coordinator` for the node that answered the system.local read). */
export async function schemaVersions(session: CqlSession): Promise<Map<string, string[]>> {
  const [local, peers] = await Promise.all([
    session.execute('SELECT schema_version FROM system.local', [], SYSTEM_READ),
    session.execute('SELECT peer, schema_version FROM system.peers', [], SYSTEM_READ),
  ]);
  const versions = new Map<string, string[]>();
  const add = (version: unknown, node: string): void => {
    const key = version === null || version === undefined ? 'no version' : String(version);
    versions.set(key, [...(versions.get(key) ?? []), node]);
  };
  for (const row of local.rows) add(row.get('schema_version'), 'coordinator');
  for (const row of peers.rows) {
    const version = row.get('schema_version');
    if (version !== null && version !== undefined) add(version, String(row.get('peer')));
  }
  return versions;
}
