/**
 * Loads the rows of one (already verified) chunk into the target: plan each row's writes, gather
 * the statements of consecutive rows of one partition into unlogged single-partition batches under
 * `batchBytes`, and send them through the RequestGate (bounded in flight, optional rate), retrying
 * transient failures with backoff. Rows that still fail are returned as rejects, never dropped;
 * conditional (LWT) writes that do not apply are returned as races.
 */
import { CassetteError } from '../../errors.js';
import type { JsonValue } from '../../cassandra/values/value-codec.js';
import type { CqlWriteSession } from '../../cassandra/connection/session.js';
import { writeList, type ListWrite, type RowPlan, type TableWriter, type WriteStatement } from '../../cassandra/writes/row-writes.js';
import { withFreshTtls } from '../../cassandra/writes/statement.js';
import { unmetConsistency } from '../../cassandra/connection/connect.js';
import { isNoHostAvailable, isTransientWriteError, reasonOf, wasNeverSent } from '../../cassandra/writes/write-errors.js';
import { DEFAULT_RETRY_FOR_MS, formatDuration, withRetries } from '../retry.js';

/** No node took the request for all of --retry-for: the cluster's state, not the rows' — stop the load. */
function clusterOutage(err: unknown): CassetteError {
  return new CassetteError('CLUSTER_UNAVAILABLE', `no Cassandra node took the writes for all of --retry-for: ${reasonOf(err)}`, {
    hint: "check the cluster's health (nodetool status); a longer --retry-for waits out longer outages",
    cause: err,
  });
}

/** Writes back off up to 10 s: shorter than reads' 30 s, so a restarted node is used again soon. */
const MAX_WRITE_RETRY_DELAY_MS = 10_000;
import type { RequestGate } from './request-gate.js';

/** A row as stored in a chunk (docs/format.md §6.1). */
export interface StoredRow {
  readonly k: JsonValue[];
  readonly c: Record<string, JsonValue>;
}

export interface RejectedRow {
  readonly row: StoredRow;
  readonly reason: string;
}

export interface ChunkLoadResult {
  /** Rows read from the chunk. */
  readonly rows: number;
  /** Rows whose writes all succeeded. */
  readonly written: number;
  readonly expiredCells: number;
  /** Rows not written at all because every cell had expired (they would not exist any more). */
  readonly expiredRows: number;
  readonly rejected: readonly RejectedRow[];
  /** Primary keys of rows whose conditional write did not apply (guard lwt). */
  readonly races: readonly JsonValue[][];
}

export interface ChunkLoadSettings {
  readonly batchBytes: number;
  /** How long a failing request keeps being retried (--retry-for); default 5 minutes. */
  readonly retryForMs?: number;
  /** An optional cap on attempts per request, on top of the deadline. */
  readonly attempts?: number;
  readonly retryBaseDelayMs: number;
  /** Driver code of every write and every read of the list protocol. */
  readonly consistency: number;
  /** Driver code of the Paxos phase of conditional (LWT) writes; absent: the connection's. */
  readonly serialConsistency?: number;
}

export interface ChunkLoadDeps {
  readonly session: CqlWriteSession;
  readonly gate: RequestGate;
  readonly signal: AbortSignal;
  readonly now: () => number;
  /** Rows written (for progress). */
  readonly onRows: (rows: number) => void;
  /** Requests are waiting out an outage of Cassandra (`line` says so); undefined once one got through. */
  readonly onWait?: (line: string | undefined) => void;
  /** Called for every rejected row; throws to stop the load (e.g. past --max-errors). */
  readonly onReject: (reject: RejectedRow) => void;
}

interface PendingRow {
  readonly row: StoredRow;
  readonly plan: RowPlan;
}

/** One request: a batch (or a single statement) for rows of one partition. */
interface Unit {
  readonly rows: PendingRow[];
  readonly statements: WriteStatement[];
  bytes: number;
}

export async function loadChunk(
  rows: AsyncIterable<unknown[]>,
  writer: TableWriter,
  partitionKeyColumns: number,
  settings: ChunkLoadSettings,
  deps: ChunkLoadDeps,
): Promise<ChunkLoadResult> {
  const rejected: RejectedRow[] = [];
  const races: JsonValue[][] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let count = 0;
  let written = 0;
  let expiredCells = 0;
  let expiredRows = 0;

  const reject = (row: StoredRow, reason: string): void => {
    const entry = { row, reason };
    rejected.push(entry);
    try {
      deps.onReject(entry);
    } catch (err) {
      failure ??= { error: err };
    }
  };

  /** Resolves true when the unit's writes applied, false when its LWT condition did not hold. */
  const execute = async (unit: Unit): Promise<boolean> => {
    const conditional = unit.statements.some((s) => s.conditional);
    const idempotent = unit.statements.every((s) => s.idempotent);
    const options = { consistency: settings.consistency, isIdempotent: idempotent, ...(settings.serialConsistency === undefined ? {} : { serialConsistency: settings.serialConsistency }) };
    const send = async (): Promise<boolean> => {
      if (unit.statements.length === 0) return true; // only list writes, done below
      // TTLs as of now, not as of planning: the unit may have waited for the gate or a retry.
      const nowSeconds = Math.floor(deps.now() / 1000);
      const statements = unit.statements.map((s) => withFreshTtls(s, nowSeconds));
      if (statements.length === 1) {
        const [only] = statements as [WriteStatement];
        const rs = await deps.session.execute(only.cql, only.params, options);
        return !conditional || rs.rows[0]?.get('[applied]') !== false;
      }
      // A conditional batch (one row's LWT with several TTLs) answers [applied] like a single LWT.
      const rs = await deps.session.batch(statements, options);
      return !conditional || rs.rows[0]?.get('[applied]') !== false;
    };
    // A statement that is not idempotent (a counter increment) is sent again only when the driver
    // says no host got it; anything else could apply it twice.
    const applied = await withRetries(send, {
      retryForMs: settings.retryForMs ?? DEFAULT_RETRY_FOR_MS,
      ...(settings.attempts === undefined ? {} : { attempts: settings.attempts }),
      baseDelayMs: settings.retryBaseDelayMs,
      maxDelayMs: MAX_WRITE_RETRY_DELAY_MS,
      signal: deps.signal,
      isRetryable: idempotent ? isTransientWriteError : wasNeverSent,
      ...(deps.onWait === undefined ? {} : {
        onRetry: ({ error, delayMs, remainingMs }) => deps.onWait?.(`waiting for Cassandra to take writes: ${reasonOf(error)} (retrying for up to ${formatDuration(remainingMs + delayMs)} more)`),
        onRecovered: () => deps.onWait?.(undefined),
      }),
    });
    if (!applied) {
      for (const pending of unit.rows) races.push(pending.row.k);
      return false;
    }
    for (const pending of unit.rows) {
      for (const list of pending.plan.lists as readonly ListWrite[]) await writeList(deps.session, list, { consistency: settings.consistency });
    }
    return true;
  };

  const submit = async (unit: Unit): Promise<void> => {
    await deps.gate.acquire(unit.rows.length, deps.signal);
    if (failure !== undefined) {
      // The load is already failing (e.g. past --max-errors): send nothing more.
      deps.gate.release();
      throw failure.error;
    }
    const request = execute(unit).then(
      (applied) => {
        if (!applied) return;
        written += unit.rows.length;
        deps.onRows(unit.rows.length);
      },
      (err: unknown) => {
        // Too few live replicas for the level is the cluster's state, not the rows': stop the load.
        const unmet = unmetConsistency(err);
        if (deps.signal.aborted) failure ??= { error: deps.signal.reason };
        else if (unmet !== undefined) failure ??= { error: unmet };
        else if (isNoHostAvailable(err)) failure ??= { error: clusterOutage(err) };
        else for (const pending of unit.rows) reject(pending.row, reasonOf(err));
      },
    ).finally(() => {
      deps.gate.release();
      inFlight.delete(request);
    });
    inFlight.add(request);
  };

  // Statements of consecutive rows of one partition go together; a new partition flushes.
  let unit: Unit | undefined;
  let unitKey: readonly JsonValue[] = [];
  const flush = async (): Promise<void> => {
    if (unit !== undefined && unit.rows.length > 0) {
      await submit(unit);
    }
    unit = undefined;
  };

  try {
    for await (const batch of rows) {
      for (const value of batch) {
        if (failure !== undefined) throw failure.error;
        deps.signal.throwIfAborted();
        const row = value as StoredRow;
        count++;
        let plan: RowPlan;
        try {
          // Rounded up: Cassandra adds the TTL to its own whole second, which is at most the next
          // one; planning against the next second centres the restored expiry on the stored one
          // (within ±1 s) and treats a cell that expires within the second as expired.
          plan = writer.planRow(row, Math.ceil(deps.now() / 1000));
        } catch (err) {
          reject(row, reasonOf(err));
          continue;
        }
        expiredCells += plan.expiredCells;
        if (plan.statements.length === 0 && plan.lists.length === 0) {
          expiredRows++; // every cell had expired: the row would no longer exist
          continue;
        }
        let rowBytes = 0;
        let conditional = false;
        for (const statement of plan.statements) {
          rowBytes += statement.bytes;
          if (statement.conditional) conditional = true;
        }
        // Conditional writes go alone: Cassandra refuses USING TIMESTAMP in them and a conditional
        // batch would tie the rows' outcomes together.
        if (unit === undefined || !samePartition(unitKey, row.k, partitionKeyColumns) || conditional || unit.bytes + rowBytes > settings.batchBytes) {
          await flush();
          unit = { rows: [], statements: [], bytes: 0 };
          unitKey = row.k;
        }
        unit.rows.push({ row, plan });
        for (const statement of plan.statements) unit.statements.push(statement);
        unit.bytes += rowBytes;
        if (conditional) await flush();
      }
    }
    await flush();
  } finally {
    // Whatever happens, let the requests in flight settle before the caller moves on.
    await Promise.allSettled([...inFlight]);
  }
  if (failure !== undefined) throw failure.error;
  return { rows: count, written, expiredCells, expiredRows, rejected, races };
}

/** Whether two rows' keys (§6.3 JSON) start with the same `columns` partition key values. */
function samePartition(a: readonly JsonValue[], b: readonly JsonValue[], columns: number): boolean {
  for (let i = 0; i < columns; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    // Scalars differ; a frozen collection, tuple or UDT key is compared by its JSON.
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
    if (JSON.stringify(x) !== JSON.stringify(y)) return false;
  }
  return true;
}
