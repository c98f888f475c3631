/**
 * Regressions found by fault injection in the restore loader: aborts while waiting at the gate,
 * failures with requests still in flight, nothing sent after --max-errors trips, and rows whose only
 * writes are lists.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import type { TableWriter } from '../../src/cassandra/writes/row-writes.js';
import { loadChunk, type StoredRow } from '../../src/pipeline/load/load-chunk.js';
import { RequestGate } from '../../src/pipeline/load/request-gate.js';
import { FakeWriteSession } from '../support/fakes/fake-write-session.js';

const writer: TableWriter = {
  keyspace: 'ks', table: 't',
  planRow: (r) => ({ statements: [{ cql: r.k.join('/'), params: [], idempotent: true, conditional: false, bytes: 10 }], expiredCells: 0, lists: [] }),
} as TableWriter;
async function* chunk(rows: StoredRow[]): AsyncGenerator<StoredRow[]> {
  yield rows;
}
const rows = (...ps: string[]): StoredRow[] => ps.map((p) => ({ k: [p, 1], c: {} }));
const settings = { batchBytes: 1000, attempts: 1, retryBaseDelayMs: 1, consistency: 6 };

describe('loadChunk and RequestGate regressions', () => {
  it('an abort while waiting for a gate slot rejects and leaves the slot alone', async () => {
    const gate = new RequestGate(1);
    await gate.acquire(1);
    const ac = new AbortController();
    const waiting = gate.acquire(1, ac.signal);
    ac.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    expect(gate.inFlight).toBe(1);
    gate.release();
    expect(gate.inFlight).toBe(0);
  });

  it('waits for requests in flight before rejecting', async () => {
    const session = new FakeWriteSession();
    let releaseA!: () => void;
    session.onCall((c) => (c.statements[0]?.cql === 'a/1' ? new Promise<void>((r) => { releaseA = r; }) : undefined));
    session.failWhen((c) => c.statements[0]?.cql === 'b/1', new Error('Invalid query'));
    const stop = new Error('too many errors');
    let settled = false;
    const p = loadChunk(chunk(rows('a', 'b', 'c', 'd', 'e')), writer, 1, settings,
      { session, gate: new RequestGate(2), signal: new AbortController().signal, now: () => 0, onRows: () => undefined, onReject: () => { throw stop; } })
      .finally(() => { settled = true; });
    await sleep(5);
    expect(settled).toBe(false); // a/1 is still in flight
    releaseA();
    await expect(p).rejects.toBe(stop);
    expect(session.inFlight).toBe(0);
  });

  it('sends nothing more once onReject has thrown', async () => {
    const session = new FakeWriteSession();
    session.failWhen((c) => c.statements[0]?.cql === 'b/1', new Error('Invalid query'));
    const stop = new Error('too many errors');
    const p = loadChunk(chunk(rows('a', 'b', 'c', 'd')), writer, 1, settings,
      { session, gate: new RequestGate(1), signal: new AbortController().signal, now: () => 0, onRows: () => undefined, onReject: () => { throw stop; } });
    await expect(p).rejects.toBe(stop);
    expect(session.calls.map((c) => c.statements[0]?.cql)).not.toContain('d/1');
  });

  it('sends no empty batch for a row with nothing to write (all cells expired)', async () => {
    const session = new FakeWriteSession();
    session.onCall((c) => {
      if (c.kind === 'batch' && c.statements.length === 0) throw new cassandra.errors.ArgumentError('Queries array should not be empty');
    });
    const listOnly = { keyspace: 'ks', table: 't', planRow: () => ({ statements: [], expiredCells: 0, lists: [] }) } as unknown as TableWriter;
    const expired = await loadChunk(chunk(rows('a')), listOnly, 1, settings,
      { session, gate: new RequestGate(1), signal: new AbortController().signal, now: () => 0, onRows: () => undefined, onReject: () => undefined });
    expect(expired).toMatchObject({ expiredRows: 1, written: 0, rejected: [] });
    expect(session.calls).toEqual([]);
  });
});
