import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import type { RowPlan, TableWriter, WriteStatement } from '../../src/cassandra/writes/row-writes.js';
import { withFreshTtls } from '../../src/cassandra/writes/statement.js';
import type { JsonValue } from '../../src/cassandra/values/value-codec.js';
import { loadChunk, type ChunkLoadSettings, type RejectedRow, type StoredRow } from '../../src/pipeline/load/load-chunk.js';
import { RequestGate } from '../../src/pipeline/load/request-gate.js';
import { row as resultRow } from '../support/fakes/fake-session.js';
import { FakeWriteSession } from '../support/fakes/fake-write-session.js';

const NOW_MS = 1_700_000_000_001;

/** A statement named `cql`; plain (idempotent, unconditional) unless told. */
function stmt(cql: string, opts: { bytes?: number; idempotent?: boolean; conditional?: boolean } = {}): WriteStatement {
  return { cql, params: [cql], idempotent: opts.idempotent ?? true, conditional: opts.conditional ?? false, bytes: opts.bytes ?? 10 };
}

function plan(statements: WriteStatement[], expiredCells = 0): RowPlan {
  return { statements, expiredCells, lists: [] };
}

function stored(...k: JsonValue[]): StoredRow {
  return { k, c: {} };
}

/** A writer whose plans come from `planFor`; records the nowSeconds it was given. */
function fakeWriter(planFor: (row: StoredRow) => RowPlan): TableWriter & { nows: number[] } {
  const nows: number[] = [];
  return {
    keyspace: 'ks',
    table: 't',
    nows,
    planRow: (row, nowSeconds) => {
      nows.push(nowSeconds);
      return planFor({ k: [...row.k], c: { ...row.c } });
    },
  };
}

/** Each row planned as one plain statement named after its key, e.g. `a/1`. */
const oneStatementPerRow = fakeWriter((r) => plan([stmt(r.k.join('/'))]));

async function* chunk(...batches: StoredRow[][]): AsyncIterable<unknown[]> {
  for (const batch of batches) yield batch;
}

const SETTINGS: ChunkLoadSettings = { batchBytes: 1000, attempts: 3, retryBaseDelayMs: 1, consistency: 6 };

interface Harness {
  readonly session: FakeWriteSession;
  readonly rejects: RejectedRow[];
  readonly progress: number[];
  readonly controller: AbortController;
  run(rows: AsyncIterable<unknown[]>, writer: TableWriter, pkColumns?: number, settings?: Partial<ChunkLoadSettings>): ReturnType<typeof loadChunk>;
}

function harness(opts: { maxInFlight?: number; onReject?: (r: RejectedRow) => void } = {}): Harness {
  const session = new FakeWriteSession();
  const rejects: RejectedRow[] = [];
  const progress: number[] = [];
  const controller = new AbortController();
  const gate = new RequestGate(opts.maxInFlight ?? 4);
  return {
    session, rejects, progress, controller,
    run: (rows, writer, pkColumns = 1, settings = {}) => loadChunk(rows, writer, pkColumns, { ...SETTINGS, ...settings }, {
      session,
      gate,
      signal: controller.signal,
      now: () => NOW_MS,
      onRows: (n) => progress.push(n),
      onReject: (r) => {
        rejects.push(r);
        opts.onReject?.(r);
      },
    }),
  };
}

const timeout = (message = 'timeout'): Error => new cassandra.errors.OperationTimedOutError(message);

describe('loadChunk: packing rows into requests', () => {
  it('batches consecutive rows of one partition; a new partition starts a new request; one statement goes through execute', async () => {
    const h = harness({ maxInFlight: 1 });
    const result = await h.run(chunk([stored('a', 1), stored('a', 2)], [stored('b', 1), stored('a', 3)]), oneStatementPerRow);
    expect(h.session.calls.map((c) => c.kind)).toEqual(['batch', 'execute', 'execute']);
    expect(h.session.sent).toEqual([['a/1', 'a/2'], ['b/1'], ['a/3']]);
    expect(h.session.calls[0]?.statements[0]?.params).toEqual(['a/1']);
    expect(h.session.calls.every((c) => c.options.consistency === 6 && c.options.isIdempotent === true)).toBe(true);
    expect(result).toEqual({ rows: 4, written: 4, expiredCells: 0, expiredRows: 0, rejected: [], races: [] });
    expect(h.progress).toEqual([2, 1, 1]);
  });

  it('compares the first partitionKeyColumns values of k to tell partitions apart', async () => {
    const h = harness({ maxInFlight: 1 });
    await h.run(chunk([stored('a', 'x', 1), stored('a', 'x', 2), stored('a', 'y', 1)]), oneStatementPerRow, 2);
    expect(h.session.sent).toEqual([['a/x/1', 'a/x/2'], ['a/y/1']]);
  });

  it('splits a partition\'s batch so its statements stay within batchBytes; a row bigger than that goes alone', async () => {
    const h = harness({ maxInFlight: 1 });
    const writer = fakeWriter((r) => plan(r.k[1] === 9 ? [stmt('big1', { bytes: 150 }), stmt('big2', { bytes: 150 })] : [stmt(r.k.join('/'), { bytes: 40 })]));
    const rows = [1, 2, 3, 4, 5].map((c) => stored('p', c));
    const result = await h.run(chunk([...rows, stored('p', 9), stored('p', 6)]), writer, 1, { batchBytes: 100 });
    expect(h.session.sent).toEqual([['p/1', 'p/2'], ['p/3', 'p/4'], ['p/5'], ['big1', 'big2'], ['p/6']]);
    expect(h.session.calls.map((c) => c.kind)).toEqual(['batch', 'batch', 'execute', 'batch', 'execute']);
    expect(result.written).toBe(7);
  });

  it('marks a request non-idempotent when any of its statements is', async () => {
    const h = harness({ maxInFlight: 1 });
    const writer = fakeWriter((r) => plan([stmt(r.k.join('/'), { idempotent: r.k[1] !== 2 })]));
    await h.run(chunk([stored('a', 1), stored('a', 2), stored('b', 1)]), writer);
    expect(h.session.calls.map((c) => c.options.isIdempotent)).toEqual([false, true]);
  });
});

describe('loadChunk: conditional writes', () => {
  const writer = fakeWriter((r) => plan([stmt(r.k.join('/'), { conditional: r.k[1] !== 0, idempotent: r.k[1] === 0 })]));

  it('sends each conditional statement alone and counts [applied] = false as a race, not a write', async () => {
    const h = harness({ maxInFlight: 1 });
    h.session.answer((call) => {
      const cql = call.statements[0]?.cql ?? '';
      return cql === 'p/2' ? [resultRow({ '[applied]': false, v: 7 })] : cql.endsWith('/0') ? [] : [resultRow({ '[applied]': true })];
    });
    const result = await h.run(chunk([stored('p', 0), stored('p', 1), stored('p', 2), stored('p', 3), stored('q', 0)]), writer, 1, { serialConsistency: 9 });
    expect(h.session.sent).toEqual([['p/0'], ['p/1'], ['p/2'], ['p/3'], ['q/0']]);
    expect(h.session.calls.every((c) => c.kind === 'execute')).toBe(true);
    expect(h.session.calls[1]?.options).toMatchObject({ consistency: 6, serialConsistency: 9, isIdempotent: false });
    expect(result.races).toEqual([['p', 2]]);
    expect(result.written).toBe(4);
    expect(result.rejected).toEqual([]);
    expect(h.progress.reduce((a, b) => a + b, 0)).toBe(4);
  });

  it('does not carry plain rows of the partition into the conditional request', async () => {
    const h = harness({ maxInFlight: 1 });
    h.session.answer(() => [resultRow({ '[applied]': true })]);
    await h.run(chunk([stored('p', 0, 'x'), stored('p', 0, 'y'), stored('p', 1), stored('p', 0, 'z')]), fakeWriter((r) => plan([stmt(r.k.join('/'), { conditional: r.k[1] === 1 })])));
    expect(h.session.sent).toEqual([['p/0/x', 'p/0/y'], ['p/1'], ['p/0/z']]);
  });
});

describe('loadChunk: failures', () => {
  it('retries a transient error of an idempotent request until it succeeds', async () => {
    const h = harness({ maxInFlight: 1 });
    h.session.failWhen((c) => c.statements[0]?.cql === 'a/1', timeout(), 2);
    const result = await h.run(chunk([stored('a', 1), stored('a', 2), stored('b', 1)]), oneStatementPerRow);
    expect(h.session.sent).toEqual([['a/1', 'a/2'], ['a/1', 'a/2'], ['a/1', 'a/2'], ['b/1']]);
    expect(result.written).toBe(3);
    expect(result.rejected).toEqual([]);
    expect(h.rejects).toEqual([]);
  });

  it('does not retry a non-idempotent request, and rejects its rows with the first line of the error', async () => {
    const h = harness({ maxInFlight: 1 });
    h.session.failWhen((c) => c.statements[0]?.cql === 'a/1', timeout('timed out\nhost 10.0.0.1 details'));
    const writer = fakeWriter((r) => plan([stmt(r.k.join('/'), { idempotent: false })]));
    const result = await h.run(chunk([stored('a', 1), stored('b', 1)]), writer);
    expect(h.session.sent).toEqual([['a/1'], ['b/1']]);
    expect(result.rejected).toEqual([{ row: stored('a', 1), reason: 'timed out' }]);
    expect(result.written).toBe(1);
  });

  it('does not retry an error that is not transient', async () => {
    const h = harness({ maxInFlight: 1 });
    h.session.failWhen(() => true, new cassandra.errors.ResponseError(cassandra.types.responseErrorCodes.invalid, 'Invalid query'));
    const result = await h.run(chunk([stored('a', 1)]), oneStatementPerRow);
    expect(h.session.calls).toHaveLength(1);
    expect(result.rejected.map((r) => r.reason)).toEqual(['Invalid query']);
  });

  it('rejects every row of a request that keeps failing, calling onReject per row, and goes on with the rest', async () => {
    const h = harness({ maxInFlight: 2 });
    h.session.failWhen((c) => c.statements[0]?.cql === 'a/1', timeout('still timing out'), Infinity);
    const result = await h.run(chunk([stored('a', 1), stored('a', 2), stored('b', 1)]), oneStatementPerRow, 1, { attempts: 3 });
    expect(h.session.calls.filter((c) => c.statements[0]?.cql === 'a/1')).toHaveLength(3);
    expect(result.rejected).toEqual([
      { row: stored('a', 1), reason: 'still timing out' },
      { row: stored('a', 2), reason: 'still timing out' },
    ]);
    expect(h.rejects).toEqual(result.rejected);
    expect(result.written).toBe(1);
    expect(result.rows).toBe(3);
  });

  it('stops when onReject throws: rejects with that error and does not send the chunk\'s later rows', async () => {
    const stop = new Error('too many errors');
    const h = harness({ maxInFlight: 1, onReject: () => { throw stop; } });
    h.session.failWhen((c) => c.statements[0]?.cql === 'b/1', timeout(), Infinity);
    const rows = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((p) => stored(p, 1));
    await expect(h.run(chunk(rows), oneStatementPerRow, 1, { attempts: 2 })).rejects.toBe(stop);
    expect(h.session.sent.slice(0, 3)).toEqual([['a/1'], ['b/1'], ['b/1']]);
    // A request already waiting at the gate may still go (see the report); nothing read after the failure does.
    expect(h.session.sent.flat()).not.toContain('e/1');
    expect(h.session.sent.flat()).not.toContain('g/1');
    expect(h.rejects.map((r) => r.row)).toEqual([stored('b', 1)]);
  });

  it('rejects with the onReject error when the failing request is the chunk\'s last', async () => {
    const stop = new Error('too many errors');
    const h = harness({ maxInFlight: 4, onReject: () => { throw stop; } });
    h.session.failWhen((c) => c.statements[0]?.cql === 'b/1', new Error('Invalid query'));
    await expect(h.run(chunk([stored('a', 1), stored('b', 1)]), oneStatementPerRow)).rejects.toBe(stop);
    expect(h.session.inFlight).toBe(0);
  });

  it('rejects only the row whose plan throws, with the error\'s first line', async () => {
    const h = harness({ maxInFlight: 1 });
    const writer = fakeWriter((r) => {
      if (r.k[1] === 2) throw new Error('ks.t: column v: not an int\n  at decode');
      return plan([stmt(r.k.join('/'))]);
    });
    const result = await h.run(chunk([stored('a', 1), stored('a', 2), stored('a', 3)]), writer);
    expect(result.rejected).toEqual([{ row: stored('a', 2), reason: 'ks.t: column v: not an int' }]);
    expect(h.rejects).toEqual(result.rejected);
    expect(h.session.sent).toEqual([['a/1', 'a/3']]);
    expect(result).toMatchObject({ rows: 3, written: 2 });
  });

  it('stops with onReject\'s error when it throws for a row whose plan failed', async () => {
    const stop = new Error('too many errors');
    const h = harness({ maxInFlight: 1, onReject: () => { throw stop; } });
    const writer = fakeWriter((r) => {
      if (r.k[0] === 'b') throw new Error('bad row');
      return plan([stmt(r.k.join('/'))]);
    });
    await expect(h.run(chunk([stored('a', 1), stored('b', 1), stored('c', 1)]), writer)).rejects.toBe(stop);
    expect(h.session.sent.flat()).not.toContain('c/1');
  });
});

describe('loadChunk: expired cells and rows', () => {
  it('counts rows without statements or lists as expired, not written, and sums expired cells', async () => {
    const h = harness({ maxInFlight: 1 });
    const writer = fakeWriter((r) => (r.k[1] === 2 ? plan([], 3) : plan([stmt(r.k.join('/'))], r.k[1] === 1 ? 2 : 0)));
    const result = await h.run(chunk([stored('a', 1), stored('a', 2), stored('a', 3)]), writer);
    expect(result).toEqual({ rows: 3, written: 2, expiredCells: 5, expiredRows: 1, rejected: [], races: [] });
    expect(h.session.sent).toEqual([['a/1', 'a/3']]);
  });

  it('recomputes each TTL when the request is sent, also on a retry, so a wait does not extend the cell’s life', async () => {
    const session = new FakeWriteSession();
    let clockMs = NOW_MS;
    const expiresAt = Math.floor(NOW_MS / 1000) + 100;
    const ttl = (): WriteStatement => ({ cql: 'ttl', params: ['k', 'v', 99, 0], idempotent: true, conditional: false, bytes: 10, ttls: [{ index: 3, expiresAt }] });
    const fixed = stmt('no-ttl');
    const writer = fakeWriter(() => plan([ttl(), fixed]));
    // Each attempt fails while the clock moves on 7 s; the third one goes through.
    session.failWhen(() => {
      clockMs += 7_000;
      return true;
    }, timeout(), 2);
    const result = await loadChunk(chunk([stored('a', 1)]), writer, 1, SETTINGS, {
      session, gate: new RequestGate(1), signal: new AbortController().signal, now: () => clockMs, onRows: () => undefined, onReject: () => undefined,
    });
    expect(result.written).toBe(1);
    const sentTtls = session.calls.map((call) => call.statements[0]?.params[3]);
    const nowSeconds = Math.floor(NOW_MS / 1000);
    expect(sentTtls).toEqual([expiresAt - nowSeconds, expiresAt - nowSeconds - 7, expiresAt - nowSeconds - 14]);
    expect(session.calls.every((call) => call.statements[1]?.params[0] === 'no-ttl')).toBe(true);
    // Never 0 (which would make the cell permanent), even when the expiry has passed meanwhile.
    expect(withFreshTtls(ttl(), expiresAt + 5).params[3]).toBe(1);
  });

  it('plans against the next whole second of the injected clock', async () => {
    const h = harness();
    const writer = fakeWriter(() => plan([stmt('x')]));
    await h.run(chunk([stored('a', 1)]), writer);
    expect(writer.nows).toEqual([Math.ceil(NOW_MS / 1000)]);
    expect(writer.nows).toEqual([1_700_000_001]);
  });
});

describe('loadChunk: abort', () => {
  it('rejects with the abort reason and sends nothing when aborted before it starts', async () => {
    const h = harness();
    const reason = new Error('interrupted');
    h.controller.abort(reason);
    await expect(h.run(chunk([stored('a', 1)]), oneStatementPerRow)).rejects.toBe(reason);
    expect(h.session.calls).toEqual([]);
  });

  it('stops at an abort during a request: the failed request is not retried nor its rows rejected, later rows are not sent', async () => {
    const h = harness({ maxInFlight: 1 });
    const reason = new Error('interrupted');
    h.session.onCall((c) => {
      if (c.statements[0]?.cql === 'b/1') {
        h.controller.abort(reason);
        throw timeout();
      }
    });
    await expect(h.run(chunk([stored('a', 1), stored('b', 1), stored('c', 1)]), oneStatementPerRow)).rejects.toBe(reason);
    expect(h.session.sent).toEqual([['a/1'], ['b/1']]);
    expect(h.rejects).toEqual([]);
    expect(h.session.inFlight).toBe(0);
  });
});

describe('loadChunk: concurrency', () => {
  it('keeps at most maxInFlight requests running at once', async () => {
    const h = harness({ maxInFlight: 3 });
    const release: (() => void)[] = [];
    h.session.onCall(() => new Promise<void>((resolve) => {
      release.push(resolve);
      // Let requests pile up, then release them one by one as each new one arrives.
      if (release.length >= 3) release.shift()?.();
    }));
    const rows = Array.from({ length: 20 }, (_, i) => stored(`p${i}`, 1));
    const run = h.run(chunk(rows), oneStatementPerRow);
    const drain = setInterval(() => release.shift()?.(), 1);
    try {
      const result = await run;
      expect(result.written).toBe(20);
    } finally {
      clearInterval(drain);
    }
    expect(h.session.peakInFlight).toBeLessThanOrEqual(3);
    expect(h.session.peakInFlight).toBeGreaterThan(1);
  });
});
