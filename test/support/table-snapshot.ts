/**
 * Comparing tables cell by cell across clusters, for restore tests: read every row of a keyspace's
 * tables encoded as the backup format does (values, WRITETIMEs, expiries), and compare two such
 * snapshots (values and writetimes exact; expiries equal up to the whole second each read rounds to).
 */
import { expect } from 'vitest';
import type { CqlSession } from '../../src/cassandra/connection/session.js';
import { tableReaderFor, type TableReaderOptions } from '../../src/cassandra/reads/table-reader.js';
import { MAX_TOKEN, MIN_TOKEN } from '../../src/cassandra/ring/token-ranges.js';
import { captureKeyspace } from '../../src/cassandra/schema/capture.js';

export interface Cell { v: unknown; t: unknown; e?: number | (number | null)[] }
export type Rows = Map<string, Record<string, Cell>>;

/**
 * Every row of every table of `keyspace`, encoded as the backup format does, read now. On
 * Cassandra 4.x pass `{ elementWritetimes: false }` (multi-cell writetimes approximated, format.md §6.4).
 */
export async function snapshot(cluster: { readonly session: CqlSession }, keyspace: string, tables: readonly string[], options: TableReaderOptions = {}): Promise<{ rows: Map<string, Rows>; readAt: number }> {
  const schema = await captureKeyspace(cluster.session, keyspace);
  const out = new Map<string, Rows>();
  const readAt = Math.floor(Date.now() / 1000);
  for (const table of tables) {
    const reader = tableReaderFor(schema, table, undefined, options);
    const rows: Rows = new Map();
    let pageState: string | undefined;
    do {
      const rs = await cluster.session.execute(reader.cql, [MIN_TOKEN, MAX_TOKEN], { fetchSize: 5000, ...(pageState === undefined ? {} : { pageState }) });
      for (const r of rs.rows) {
        const row = JSON.parse(reader.encodeRow(r, readAt)) as { k: unknown[]; c: Record<string, Cell> };
        rows.set(JSON.stringify(row.k), row.c);
      }
      pageState = rs.pageState;
    } while (pageState !== undefined);
    out.set(table, rows);
  }
  return { rows: out, readAt };
}

/** Source and target equal cell by cell: values and writetimes exact, expiries within 1 s. */
export function expectSame(source: Map<string, Rows>, target: Map<string, Rows>, skipWritetime: ReadonlySet<string> = new Set()): void {
  for (const [table, rows] of source) {
    const copy = target.get(table) as Rows;
    expect(copy.size, table).toBe(rows.size);
    for (const [key, cells] of rows) {
      const other = copy.get(key);
      expect(other, `${table} ${key}`).toBeDefined();
      expect(Object.keys(other ?? {}).sort(), `${table} ${key}`).toEqual(Object.keys(cells).sort());
      for (const [name, cell] of Object.entries(cells)) {
        const got = (other as Record<string, Cell>)[name] as Cell;
        expect(got.v, `${table} ${key} ${name}`).toEqual(cell.v);
        if (!skipWritetime.has(table)) expect(got.t, `${table} ${key} ${name} writetime`).toEqual(cell.t);
        const expiries = [cell.e ?? []].flat();
        const gotExpiries = [got.e ?? []].flat();
        expect(gotExpiries.length, `${table} ${key} ${name} expiry`).toBe(expiries.length);
        expiries.forEach((e, i) => {
          if (e === null) expect(gotExpiries[i]).toBeNull();
          // Expiries are whole seconds: the backup reads `client second + remaining TTL` and the
          // restore writes `expiry − client second`, and each may land a second late when the
          // server's clock has passed a second boundary the client's has not: the copy expires
          // 0–2 s after the source. Each snapshot reads the same way, so the two reads add ±1 s.
          else {
            const late = (gotExpiries[i] as number) - e;
            expect(late, `${table} ${key} ${name} expiry`).toBeGreaterThanOrEqual(-1);
            expect(late, `${table} ${key} ${name} expiry`).toBeLessThanOrEqual(3);
          }
        });
      }
    }
  }
}
