/**
 * compareRange with a fake cluster and an in-memory repository: a range exported by the real export
 * stage compares equal to the same rows (also after a live read times out mid-range and is read
 * again, with the progress rows rolled back); a changed row is found by the drill-down whether the
 * rows were kept from the digest pass or read again; a range above --max-drill-rows is reported
 * differing but not listed; a damaged chunk is BACKUP_INVALID.
 */
import { describe, expect, it } from 'vitest';
import type { TableReader } from '../../src/cassandra/reads/table-reader.js';
import { backupFolder, chunkKey } from '../../src/manifest/keys.js';
import type { RangeMarker } from '../../src/manifest/format.js';
import { compareRange, type CompareRangeJob, type CompareSettings } from '../../src/pipeline/compare/compare-range.js';
import { exportRange } from '../../src/pipeline/export/export-range.js';
import { FakeSession, row, tokenRangeRows, type TokenedRow } from '../support/fakes/fake-session.js';
import { MemoryStore } from '../support/fakes/memory-store.js';
import { scratchKeyspaceFor } from '../../src/commands/compare/drill.js';

const BACKUP_ID = '20261122T125144Z-3fa9c1';
const CQL = 'SELECT "id", "v" FROM "ks"."t" WHERE token("id") > ? AND token("id") <= ?';
const NOW_MS = Date.UTC(2026, 10, 22, 12, 52, 1);
const range = { start: -100n, end: 100n };

const rowsWith = (changed?: number): TokenedRow[] =>
  Array.from({ length: 10 }, (_, i) => ({ token: BigInt(-90 + 20 * i), row: row({ id: i, v: i === changed ? 'changed' : `v${i}` }) }));

/** A stand-in for the real table reader: one text cell with a fixed writetime. */
const reader: TableReader = { cql: CQL, encodeRow: (r) => JSON.stringify({ k: [r.get('id')], c: { v: { v: r.get('v'), t: 1 } } }) };
const settings: CompareSettings = { fetchSize: 3, consistency: 6, retryForMs: 60_000, attempts: 3, retryBaseDelayMs: 1, maxKeys: 10, maxDrillRows: 100 };

async function backedUp(store: MemoryStore): Promise<RangeMarker> {
  return exportRange({ folder: backupFolder(BACKUP_ID), table: 't', index: 0, range, reader }, { fetchSize: 3, consistency: 6, gzipLevel: 1, maxChunkBytes: 40, attempts: 1, retryBaseDelayMs: 1 }, {
    session: new FakeSession().answer('FROM "ks"."t"', tokenRangeRows(rowsWith())), store, signal: new AbortController().signal, now: () => NOW_MS, onRows: () => undefined, onRetry: () => undefined,
  });
}

function jobOf(marker: RangeMarker): CompareRangeJob {
  return { table: 't', index: 0, range, reader, valueOnly: new Set(), chunks: marker.chunks.map((entry) => ({ key: chunkKey(BACKUP_ID, entry.key), entry })) };
}

function depsOf(session: FakeSession, store: MemoryStore) {
  const rows: number[] = [];
  const retries: string[] = [];
  return { rows, retries, deps: { session, store, signal: new AbortController().signal, now: () => NOW_MS, onRows: (_t: string, n: number) => rows.push(n), onRetry: (line: string) => retries.push(line) } };
}

describe('compareRange', () => {
  it('finds the same rows equal by digest, also after a live read fails mid-range and is read again', async () => {
    const store = new MemoryStore();
    const marker = await backedUp(store);
    expect(marker.chunks.length).toBeGreaterThan(1);
    const session = new FakeSession().answer('FROM "ks"."t"', tokenRangeRows(rowsWith())).failCall(3); // the third page
    const { rows, retries, deps } = depsOf(session, store);
    const outcome = await compareRange(jobOf(marker), settings, deps);
    expect(outcome).toEqual({ backupRows: 10, liveRows: 10, digestsEqual: true, tooBig: false });
    expect(retries).toHaveLength(1);
    expect(rows.reduce((a, b) => a + b, 0)).toBe(10);
  });

  it('finds a changed row by key, from kept rows or read again, and refuses to list a range above --max-drill-rows', async () => {
    const store = new MemoryStore();
    const job = jobOf(await backedUp(store));
    const changed = () => new FakeSession().answer('FROM "ks"."t"', tokenRangeRows(rowsWith(4)));
    const expected = { column: 'v', kind: 'changed', value: true, writetime: false, expiry: false };
    for (const keepRows of [10_000, 0]) {
      const outcome = await compareRange(job, { ...settings, keepRows }, depsOf(changed(), store).deps);
      expect(outcome.digestsEqual).toBe(false);
      expect(outcome.match?.different).toBe(1);
      expect(outcome.match?.differentRows).toEqual([{ key: [4], columns: [expected] }]);
      expect([outcome.match?.missing, outcome.match?.extra, outcome.match?.compared]).toEqual([0, 0, 10]);
    }
    const big = await compareRange(job, { ...settings, keepRows: 0, maxDrillRows: 5 }, depsOf(changed(), store).deps);
    expect(big).toEqual({ backupRows: 10, liveRows: 10, digestsEqual: false, tooBig: true });
  });

  it('refuses a damaged chunk (BACKUP_INVALID)', async () => {
    const store = new MemoryStore();
    const marker = await backedUp(store);
    const first = marker.chunks[0] as RangeMarker['chunks'][number];
    const damaged = { ...marker, chunks: [{ ...first, sha256: '0'.repeat(64) }, ...marker.chunks.slice(1)] };
    const session = new FakeSession().answer('FROM "ks"."t"', tokenRangeRows(rowsWith()));
    await expect(compareRange(jobOf(damaged), settings, depsOf(session, store).deps)).rejects.toMatchObject({ code: 'BACKUP_INVALID' });
  });
});

describe('scratchKeyspaceFor', () => {
  it('derives <keyspace>_drill_<6 hex> from the backup, cut to Cassandra\'s 48 characters', () => {
    expect(scratchKeyspaceFor('app_data', BACKUP_ID)).toBe('app_data_drill_3fa9c1');
    const long = scratchKeyspaceFor('k'.repeat(48), BACKUP_ID);
    expect(long).toHaveLength(48);
    expect(long.endsWith('_drill_3fa9c1')).toBe(true);
  });
});
