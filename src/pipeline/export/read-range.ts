/**
 * Reads one token range of one table, page by page, with the next page requested while the
 * current one is being processed (one page of prefetch; see docs/decisions/0003). Memory: at most
 * two pages of rows are alive.
 */
import type { CqlSession, QueryRow } from '../../cassandra/connection/session.js';

/** One page of rows and the wall-clock second it arrived (for absolute expiries). */
export interface Page {
  readonly rows: readonly QueryRow[];
  readonly readAtSeconds: number;
}

export interface ReadRangeOptions {
  readonly fetchSize: number;
  /** Rows to ask for in each page, when it should vary (page-sizer.ts); `fetchSize` otherwise. */
  readonly pageRows?: () => number;
  readonly consistency: number;
  /** Driver routing hints that send the reads to a replica of the range. */
  readonly routing?: object;
  readonly signal?: AbortSignal;
  readonly now?: () => number;
}

/**
 * Yields the pages of `cql` (a SELECT whose last two markers are the range's start, exclusive,
 * and end, inclusive). Throws the driver's error; the caller retries by re-reading the range.
 */
export async function* readRange(session: CqlSession, cql: string, params: readonly unknown[], options: ReadRangeOptions): AsyncGenerator<Page> {
  const now = options.now ?? Date.now;
  const fetch = async (pageState: string | undefined): Promise<Page & { next: string | undefined }> => {
    const rs = await session.execute(cql, params, {
      prepare: true,
      fetchSize: options.pageRows?.() ?? options.fetchSize,
      consistency: options.consistency,
      isIdempotent: true,
      ...(options.routing === undefined ? {} : { routing: options.routing }),
      ...(pageState === undefined ? {} : { pageState }),
    });
    return { rows: rs.rows, readAtSeconds: Math.floor(now() / 1000), next: rs.pageState };
  };
  // If the consumer stops early or we abort, a pending page's rejection must not go unhandled;
  // awaiting it below still sees the rejection.
  const guarded = (pageState: string | undefined): Promise<Page & { next: string | undefined }> => {
    const promise = fetch(pageState);
    promise.catch(() => undefined);
    return promise;
  };
  options.signal?.throwIfAborted();
  let pending: Promise<Page & { next: string | undefined }> | undefined = guarded(undefined);
  while (pending !== undefined) {
    const page: Page & { next: string | undefined } = await pending;
    options.signal?.throwIfAborted();
    pending = page.next === undefined ? undefined : guarded(page.next);
    yield page;
  }
}
