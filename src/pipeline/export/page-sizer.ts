/**
 * Bounds a range's pages by bytes, not only by rows: each page asks for as many rows as fit in a
 * byte budget at the row width seen so far (raw NDJSON bytes per row of the rows already encoded),
 * never more than the fetch size. With one page of prefetch (read-range.ts) at most two pages are
 * alive per range, so a range holds about two budgets of rows whatever their width — 2000 rows of
 * 20 KiB no longer take 80 MiB per range (docs/decisions/0003).
 *
 * Until a row has been measured the width is unknown: the first pages ask for at most
 * {@link FIRST_PAGE_ROWS} rows, which costs one or two extra round trips per range.
 */

/** Rows per page before any row width is known. */
export const FIRST_PAGE_ROWS = 200;

/** Default byte budget of one page, in raw NDJSON bytes. */
export const DEFAULT_PAGE_BYTES = 4 * 1024 * 1024;

export class PageSizer {
  readonly #maxRows: number;
  readonly #budgetBytes: number;
  #rows = 0;
  #bytes = 0;

  /** `maxRows`: the fetch size (a cap); `budgetBytes`: the raw NDJSON bytes one page should hold at most. */
  constructor(maxRows: number, budgetBytes: number = DEFAULT_PAGE_BYTES) {
    this.#maxRows = Math.max(1, Math.floor(maxRows));
    this.#budgetBytes = Math.max(1, budgetBytes);
  }

  /** Records rows as encoded: how many, and their raw NDJSON bytes. */
  observe(rows: number, rawBytes: number): void {
    if (rows <= 0) return;
    this.#rows += rows;
    this.#bytes += rawBytes;
  }

  /** Rows to ask for in the next page: between 1 and the fetch size. */
  nextPageRows(): number {
    if (this.#rows === 0) return Math.min(this.#maxRows, FIRST_PAGE_ROWS);
    const width = Math.max(1, this.#bytes / this.#rows);
    return Math.max(1, Math.min(this.#maxRows, Math.floor(this.#budgetBytes / width)));
  }
}
