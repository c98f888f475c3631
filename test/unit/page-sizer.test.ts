import { describe, expect, it } from 'vitest';
import { DEFAULT_PAGE_BYTES, FIRST_PAGE_ROWS, PageSizer } from '../../src/pipeline/export/page-sizer.js';
import { readRange } from '../../src/pipeline/export/read-range.js';
import { FakeSession, row, tokenRangeRows } from '../support/fakes/fake-session.js';

describe('PageSizer', () => {
  it('asks for a small first page until a row width is known, never more than the fetch size', () => {
    expect(new PageSizer(2000).nextPageRows()).toBe(FIRST_PAGE_ROWS);
    expect(new PageSizer(50).nextPageRows()).toBe(50);
  });

  it('fits pages of narrow rows to the fetch size and pages of wide rows to the byte budget', () => {
    const narrow = new PageSizer(2000);
    narrow.observe(200, 200 * 350);
    expect(narrow.nextPageRows()).toBe(2000);
    const wide = new PageSizer(2000);
    wide.observe(200, 200 * 20 * 1024);
    expect(wide.nextPageRows()).toBe(Math.floor(DEFAULT_PAGE_BYTES / (20 * 1024)));
    const huge = new PageSizer(2000, 1024);
    huge.observe(1, 1024 * 1024);
    expect(huge.nextPageRows()).toBe(1);
  });

  it('learns the width from every row encoded so far', () => {
    const sizer = new PageSizer(10_000, 1000 * 100);
    sizer.observe(10, 10 * 100);
    expect(sizer.nextPageRows()).toBe(1000);
    sizer.observe(10, 10 * 300);
    expect(sizer.nextPageRows()).toBe(500);
    sizer.observe(0, 0);
    expect(sizer.nextPageRows()).toBe(500);
  });
});

describe('readRange with pageRows', () => {
  it('asks each page for the rows pageRows gives at the time of the request', async () => {
    const rows = Array.from({ length: 10 }, (_, i) => ({ token: BigInt(i), row: row({ id: i }) }));
    const session = new FakeSession().answer('FROM "ks"."t"', tokenRangeRows(rows));
    const sizes = [2, 3, 5];
    let calls = 0;
    const pages: number[][] = [];
    for await (const page of readRange(session, 'SELECT "id" FROM "ks"."t" WHERE token("id") > ? AND token("id") <= ?', [-1n, 100n], {
      fetchSize: 1000, consistency: 6, pageRows: () => sizes[Math.min(calls++, sizes.length - 1)] as number,
    })) pages.push(page.rows.map((r) => r.get('id') as number));
    expect(pages).toEqual([[0, 1], [2, 3, 4], [5, 6, 7, 8, 9]]);
    expect(session.calls.map((c) => c.options.fetchSize)).toEqual([2, 3, 5]);
  });
});
