import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readRange, type Page, type ReadRangeOptions } from '../../src/pipeline/export/read-range.js';
import { FakeSession, operationTimedOut, row, tokenRangeRows, type TokenedRow } from '../support/fakes/fake-session.js';

const CQL = 'SELECT "id", "v" FROM "ks"."t" WHERE token("id") > ? AND token("id") <= ?';
const RANGE = [-100n, 100n] as const;

/** 10 rows with tokens -90, -70, …, 90, and one outside the range. */
const ROWS: TokenedRow[] = [
  ...Array.from({ length: 10 }, (_, i) => ({ token: BigInt(-90 + 20 * i), row: row({ id: i, v: `v${i}` }) })),
  { token: 500n, row: row({ id: 99, v: 'outside' }) },
];

function session(): FakeSession {
  return new FakeSession().answer('FROM "ks"."t"', tokenRangeRows(ROWS));
}

function read(s: FakeSession, more: Partial<ReadRangeOptions> = {}): AsyncGenerator<Page> {
  return readRange(s, CQL, RANGE, { fetchSize: 3, consistency: 6, ...more });
}

/** A few turns of the event loop, for anything the code under test might start on its own. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await nextTurn();
}

/** Collects unhandled rejections while a test runs. */
let unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
beforeEach(() => {
  unhandled = [];
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

describe('readRange', () => {
  it('yields every row of the range in pages of fetchSize, passing each pageState back', async () => {
    const s = session();
    const pages: Page[] = [];
    for await (const page of read(s)) pages.push(page);
    expect(pages.map((p) => p.rows.map((r) => r.get('id')))).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]);
    expect(s.calls).toHaveLength(4);
    expect(s.calls[0]?.options.pageState).toBeUndefined();
    for (let i = 1; i < s.calls.length; i++) {
      // The state the previous answer carried (the fake's states are "fake-page:<offset>").
      expect(s.calls[i]?.options.pageState).toBe(`fake-page:${3 * i}`);
    }
    for (const call of s.calls) {
      expect(call.cql).toBe(CQL);
      expect(call.params).toEqual([-100n, 100n]);
      expect(call.options).toMatchObject({ prepare: true, fetchSize: 3, consistency: 6, isIdempotent: true });
      expect(call.options).not.toHaveProperty('routing');
    }
  });

  it('passes routing hints through unchanged on every page', async () => {
    const s = session();
    const routing = { keyspace: 'ks', routingKey: { toString: () => '100' } };
    for await (const _page of read(s, { routing })) { /* drain */ }
    expect(s.calls.every((c) => c.options.routing === routing)).toBe(true);
  });

  it('requests the next page before the consumer has finished the current one, and never more than one ahead', async () => {
    const s = session();
    const pages = read(s);
    expect(s.calls).toHaveLength(0); // nothing happens until the first pull

    const first = await pages.next();
    expect(first.value?.rows).toHaveLength(3);
    expect(s.calls).toHaveLength(2); // page 2 is already on its way while page 1 is processed
    await settle();
    expect(s.calls).toHaveLength(2); // …and page 3 is not

    await pages.next();
    expect(s.calls).toHaveLength(3);
    await settle();
    expect(s.calls).toHaveLength(3);

    await pages.next();
    await pages.next(); // the last page: nothing more to request
    await settle();
    expect(s.calls).toHaveLength(4);
    expect((await pages.next()).done).toBe(true);
    expect(s.peakInFlight()).toBe(1);
  });

  it('stamps each page with the second it arrived, from the injected clock', async () => {
    const s = session();
    let ms = 1_763_815_904_999; // …:44.999
    const now = (): number => (ms += 1_001);
    const stamps: number[] = [];
    for await (const page of read(s, { now })) stamps.push(page.readAtSeconds);
    expect(stamps).toEqual([1_763_815_906, 1_763_815_907, 1_763_815_908, 1_763_815_909]);
  });

  it('surfaces a failure of page 3 to the consumer after pages 1 and 2', async () => {
    const timeout = operationTimedOut();
    const s = session().failCall(3, timeout);
    const seen: number[] = [];
    const err = await (async () => {
      for await (const page of read(s)) seen.push(page.rows.length);
    })().then(() => undefined, (e: unknown) => e);
    expect(err).toBe(timeout);
    expect(seen).toEqual([3, 3]);
    expect(s.calls).toHaveLength(3);
  });

  it('leaves no unhandled rejection when the consumer stops while the failing prefetch is in flight', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const s = session()
      .onExecute((call) => (call.seq === 2 ? held : undefined))
      .failCall(2);
    for await (const _page of read(s)) break; // stop after page 1, page 2 still pending
    expect(s.inFlight).toBe(1);
    release();
    await settle();
    expect(s.inFlight).toBe(0);
    expect(unhandled).toEqual([]);
  });

  it('leaves no unhandled rejection when the consumer stops after the prefetch already failed', async () => {
    const s = session().failCall(2);
    const pages = read(s);
    await pages.next();
    await settle(); // page 2 has failed by now
    await pages.return(undefined);
    await settle();
    expect(unhandled).toEqual([]);
  });

  it('stops before the next page once the signal aborts, with the abort reason', async () => {
    const controller = new AbortController();
    const reason = new Error('interrupted by SIGINT');
    const s = session();
    const seen: number[] = [];
    const err = await (async () => {
      for await (const page of read(s, { signal: controller.signal })) {
        seen.push(page.rows.length);
        controller.abort(reason);
      }
    })().then(() => undefined, (e: unknown) => e);
    expect(err).toBe(reason);
    expect(seen).toEqual([3]);
    await settle();
    expect(s.calls).toHaveLength(2); // the prefetch already sent is not followed by another
  });

  it('treats an empty last page (Cassandra\'s pageState at an exact page boundary) as the end', async () => {
    const s = new FakeSession().answer('FROM "ks"."t"', tokenRangeRows(ROWS.slice(0, 6))).emptyLastPage();
    const sizes: number[] = [];
    for await (const page of read(s)) sizes.push(page.rows.length);
    expect(sizes).toEqual([3, 3, 0]);
  });

  it('reads a range with no rows as one empty page', async () => {
    const s = new FakeSession().answer('FROM "ks"."t"', []);
    const sizes: number[] = [];
    for await (const page of read(s)) sizes.push(page.rows.length);
    expect(sizes).toEqual([0]);
  });
});
