/**
 * Consistency levels at the edges: how `--consistency` / `--serial-consistency` and their
 * environment variables resolve (and what is refused, in one line), the driver codes behind the
 * names, the level of node-local system reads, and Cassandra's Unavailable answer turned into a
 * stop with exit 4 instead of a reject per row.
 */
import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import { consistencyCode, consistencyName, serialConsistencyCode, unmetConsistency } from '../../src/cassandra/connection/connect.js';
import { CONSISTENCY_NAMES, SYSTEM_READ_CONSISTENCY } from '../../src/cassandra/connection/options.js';
import { SYSTEM_READ } from '../../src/cassandra/connection/session.js';
import { exportRange } from '../../src/pipeline/export/export-range.js';
import type { StoredRow } from '../../src/pipeline/load/load-chunk.js';
import { loadChunk } from '../../src/pipeline/load/load-chunk.js';
import { RequestGate } from '../../src/pipeline/load/request-gate.js';
import type { TableWriter } from '../../src/cassandra/writes/row-writes.js';
import { resolveConnection } from '../../src/cli/shared-flags.js';
import { CassetteError, ExitCode } from '../../src/errors.js';
import { FakeSession } from '../support/fakes/fake-session.js';
import { FakeWriteSession } from '../support/fakes/fake-write-session.js';
import { MemoryStore } from '../support/fakes/memory-store.js';
import { thrown } from '../support/thrown.js';

const { consistencies, responseErrorCodes } = cassandra.types;

/** Cassandra's answer when too few replicas are alive for the level. */
function unavailable(level: number, required: number, alive: number): Error {
  const err = new cassandra.errors.ResponseError(responseErrorCodes.unavailableException, 'Not enough replicas available for query');
  return Object.assign(err, { consistencies: level, required, alive });
}

function usageMessage(run: () => unknown): string {
  const err = thrown(run);
  expect(err).toBeInstanceOf(CassetteError);
  expect((err as CassetteError).code).toBe('USAGE');
  const message = (err as CassetteError).message;
  expect(message).not.toContain('\n');
  return message;
}

describe('--consistency and --serial-consistency', () => {
  it('default to LOCAL_QUORUM and LOCAL_SERIAL', () => {
    expect(resolveConnection({}, {})).toMatchObject({ consistency: 'LOCAL_QUORUM', serialConsistency: 'LOCAL_SERIAL' });
  });

  it('come from the environment, and a flag wins over it; any case', () => {
    const env = { CASSETTE_CONSISTENCY: 'each_quorum', CASSETTE_SERIAL_CONSISTENCY: 'serial' };
    expect(resolveConnection({}, env)).toMatchObject({ consistency: 'EACH_QUORUM', serialConsistency: 'SERIAL' });
    expect(resolveConnection({ consistency: 'all', serialConsistency: 'Local_Serial' }, env)).toMatchObject({ consistency: 'ALL', serialConsistency: 'LOCAL_SERIAL' });
    // An empty variable is no setting.
    expect(resolveConnection({}, { CASSETTE_CONSISTENCY: '', CASSETTE_SERIAL_CONSISTENCY: '' })).toMatchObject({ consistency: 'LOCAL_QUORUM', serialConsistency: 'LOCAL_SERIAL' });
  });

  it.each(CONSISTENCY_NAMES)('accepts --consistency %s', (level) => {
    expect(resolveConnection({ consistency: level.toLowerCase() }, {}).consistency).toBe(level);
  });

  it('refuses anything else in one line naming the flag or the variable (exit 2)', () => {
    expect(usageMessage(() => resolveConnection({ consistency: 'LOCAL_QUROUM' }, {})))
      .toBe('--consistency must be one of ANY, ONE, TWO, THREE, QUORUM, ALL, LOCAL_QUORUM, EACH_QUORUM, LOCAL_ONE, not "LOCAL_QUROUM"');
    expect(usageMessage(() => resolveConnection({}, { CASSETTE_CONSISTENCY: 'most' }))).toMatch(/^CASSETTE_CONSISTENCY must be one of .*, not "most"$/);
    expect(usageMessage(() => resolveConnection({ consistency: 'serial' }, {}))).toContain('(SERIAL is a serial level: it goes in --serial-consistency)');
    expect(usageMessage(() => resolveConnection({ serialConsistency: 'QUORUM' }, {}))).toBe('--serial-consistency must be LOCAL_SERIAL or SERIAL, not "QUORUM"');
    expect(usageMessage(() => resolveConnection({}, { CASSETTE_SERIAL_CONSISTENCY: 'LOCAL_QUORUM' })))
      .toBe('CASSETTE_SERIAL_CONSISTENCY must be LOCAL_SERIAL or SERIAL, not "LOCAL_QUORUM"');
    expect(thrown(() => resolveConnection({ consistency: 'x' }, {}))).toHaveProperty('exitCode', ExitCode.usage);
  });
});

describe('driver codes', () => {
  it('map every accepted name to the driver code and back', () => {
    expect(consistencyCode('LOCAL_QUORUM')).toBe(consistencies.localQuorum);
    expect(consistencyCode('each_quorum')).toBe(consistencies.eachQuorum);
    expect(consistencyCode('LOCAL_ONE')).toBe(consistencies.localOne);
    for (const name of CONSISTENCY_NAMES) expect(consistencyName(consistencyCode(name))).toBe(name);
    expect(serialConsistencyCode('SERIAL')).toBe(consistencies.serial);
    expect(serialConsistencyCode('local_serial')).toBe(consistencies.localSerial);
    expect(consistencyName(consistencies.localSerial)).toBe('LOCAL_SERIAL');
  });

  it('keep serial and plain levels apart', () => {
    expect(thrown(() => consistencyCode('SERIAL')).hint).toBe('SERIAL is a serial consistency level: set it with --serial-consistency');
    expect(thrown(() => serialConsistencyCode('QUORUM')).message).toBe('unknown serial consistency level "QUORUM"');
  });

  it('read node-local system tables at ONE: TWO or THREE would be unavailable there (one replica, the coordinator)', () => {
    expect(SYSTEM_READ_CONSISTENCY).toBe('ONE');
    expect(SYSTEM_READ.consistency).toBe(consistencyCode(SYSTEM_READ_CONSISTENCY));
  });
});

describe("Cassandra's Unavailable answer", () => {
  it('is a CLUSTER_UNAVAILABLE error naming the level and the replicas needed and alive', () => {
    const err = unmetConsistency(unavailable(consistencies.eachQuorum, 1, 0));
    expect(err).toBeInstanceOf(CassetteError);
    expect(err?.exitCode).toBe(ExitCode.clusterUnavailable);
    expect(err?.message).toBe('too few live replicas for consistency EACH_QUORUM: 1 needed, 0 alive');
    expect(err?.hint).toContain('--consistency');
    expect(unmetConsistency(unavailable(consistencies.serial, 3, 2))?.hint).toContain('--serial-consistency LOCAL_SERIAL');
    const pinned = new cassandra.errors.NoHostAvailableError({ '127.0.0.2:9042': unavailable(consistencies.all, 4, 3) });
    expect(unmetConsistency(pinned)?.message).toBe('too few live replicas for consistency ALL: 4 needed, 3 alive');
    expect(unmetConsistency(new cassandra.errors.NoHostAvailableError({ a: unavailable(consistencies.all, 4, 3), b: new Error('ECONNREFUSED') }))).toBeUndefined();
    expect(unmetConsistency(new cassandra.errors.OperationTimedOutError('slow'))).toBeUndefined();
    expect(unmetConsistency(new cassandra.errors.ResponseError(responseErrorCodes.writeTimeout, 'timeout'))).toBeUndefined();
  });

  const writer: TableWriter = {
    keyspace: 'ks',
    table: 't',
    planRow: (row) => ({ statements: [{ cql: `UPDATE ${String(row.k[0])}`, params: [], idempotent: true, conditional: false, bytes: 10 }], expiredCells: 0, lists: [] }),
  };
  async function* rows(n: number): AsyncIterable<unknown[]> {
    yield Array.from({ length: n }, (_, i): StoredRow => ({ k: [i], c: {} }));
  }

  it('stops a load (after the retries) instead of rejecting row after row', async () => {
    const session = new FakeWriteSession().failWhen(() => true, unavailable(consistencies.eachQuorum, 1, 0), Infinity);
    const rejects: unknown[] = [];
    const err = await loadChunk(rows(20), writer, 1, { batchBytes: 1, attempts: 2, retryBaseDelayMs: 1, consistency: consistencies.eachQuorum }, {
      session, gate: new RequestGate(2), signal: new AbortController().signal, now: Date.now, onRows: () => undefined, onReject: (r) => rejects.push(r),
    }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CassetteError);
    expect((err as CassetteError).code).toBe('CLUSTER_UNAVAILABLE');
    expect(rejects).toEqual([]);
    expect(session.calls.length).toBeLessThan(20 * 2); // stopped early, not every row tried
    expect(session.calls.every((c) => c.options.consistency === consistencies.eachQuorum)).toBe(true);
  });

  it('fails a range read, after its retries, with the level in words (exit 4)', async () => {
    const session = new FakeSession().failWhen(() => true, new cassandra.errors.NoHostAvailableError({ '127.0.0.2:9042': unavailable(consistencies.eachQuorum, 1, 0) }), Infinity);
    const reader = { cql: 'SELECT * FROM "ks"."t" WHERE token(id) > ? AND token(id) <= ?', encodeRow: () => '{}' };
    const err = await exportRange({ folder: 'backups/x/', table: 't', index: 3, range: { start: -10n, end: 10n }, reader }, {
      fetchSize: 10, consistency: consistencies.eachQuorum, gzipLevel: 1, maxChunkBytes: 1024, attempts: 2, retryBaseDelayMs: 1,
    }, { session, store: new MemoryStore(), signal: new AbortController().signal, now: Date.now, onRows: () => undefined, onRetry: () => undefined })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CassetteError);
    expect((err as CassetteError).exitCode).toBe(ExitCode.clusterUnavailable);
    expect((err as CassetteError).message).toBe('could not read t range 3 (-10, 10] after 2 attempts: too few live replicas for consistency EACH_QUORUM: 1 needed, 0 alive');
    expect((err as CassetteError).hint).toContain('--consistency');
    expect(session.calls.every((c) => c.options.consistency === consistencies.eachQuorum)).toBe(true);
  });
});
