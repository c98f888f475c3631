/**
 * A {@link CqlSession} fake for unit tests: answers statements from memory, pages results by
 * `fetchSize` and `pageState` like the driver, records every call, counts calls in flight, and
 * injects what a real cluster cannot produce on demand — a timeout on exactly the Nth request, a
 * page that is slow, a request held until the test lets it go.
 *
 * Statements are matched by {@link FakeSession.answer}, first match wins; a statement nothing
 * matches rejects with an Error naming it, so a test notices a query it did not expect.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CqlSession, QueryOptions, QueryResult, QueryRow } from '../../../src/cassandra/connection/session.js';

/** A result row: values by select-list position, and by column name. */
export class FakeRow implements QueryRow {
  readonly #columns: readonly string[];
  readonly #values: readonly unknown[];

  constructor(columns: readonly string[], values: readonly unknown[]) {
    if (columns.length !== values.length) throw new Error(`FakeRow: ${columns.length} columns but ${values.length} values`);
    this.#columns = columns;
    this.#values = values;
  }

  /** Like the driver: an unknown column reads as undefined. */
  get(column: string | number): unknown {
    return typeof column === 'number' ? this.#values[column] : this.#values[this.#columns.indexOf(column)];
  }

  values(): unknown[] {
    return [...this.#values];
  }
}

/** A row whose columns are `fields`' keys, in insertion order. */
export function row(fields: Readonly<Record<string, unknown>>): FakeRow {
  return new FakeRow(Object.keys(fields), Object.values(fields));
}

/** One call of {@link FakeSession.execute}, as the session received it. */
export interface ExecuteCall {
  /** 1 for the session's first call, 2 for the next, … (every statement counts). */
  readonly seq: number;
  readonly cql: string;
  readonly params: readonly unknown[];
  readonly options: QueryOptions;
  /** Index of the first row this call answers with (0 without a pageState). */
  readonly offset: number;
}

/** Every row a statement returns, across all its pages. */
export type Responder = (call: ExecuteCall) => readonly QueryRow[];

/** What a statement matcher accepts: a substring, a pattern, or a predicate on the CQL. */
export type StatementMatcher = string | RegExp | ((cql: string) => boolean);

/** The error cassandra-driver raises when a coordinator does not answer in time. */
export function operationTimedOut(message = 'Operation timed out'): Error {
  return Object.assign(new Error(message), { name: 'OperationTimedOutError' });
}

/** A row of a table with the token of its partition key, for {@link tokenRangeRows}. */
export interface TokenedRow {
  readonly token: bigint;
  readonly row: QueryRow;
}

/**
 * Answers a token-range SELECT whose last two parameters are the range's start (exclusive) and end
 * (inclusive), as bigints: the rows whose token is in `(start, end]`, in token order.
 */
export function tokenRangeRows(rows: readonly TokenedRow[]): Responder {
  const sorted = [...rows].sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
  return (call) => {
    const start = call.params.at(-2);
    const end = call.params.at(-1);
    if (typeof start !== 'bigint' || typeof end !== 'bigint') {
      throw new Error(`FakeSession: a token-range statement needs bigint bounds, got ${String(start)}, ${String(end)}`);
    }
    return sorted.filter((r) => r.token > start && r.token <= end).map((r) => r.row);
  };
}

const PAGE_STATE_PREFIX = 'fake-page:';
const DRIVER_DEFAULT_FETCH_SIZE = 5000;

interface Route {
  readonly matches: (cql: string) => boolean;
  readonly respond: Responder;
}

interface Fault {
  readonly when: (call: ExecuteCall) => boolean;
  readonly error: unknown;
  remaining: number;
}

/** The fake; configure it with the chainable methods, then hand it to the code under test. */
export class FakeSession implements CqlSession {
  /** Every call, in the order they arrived. */
  readonly calls: ExecuteCall[] = [];
  readonly #routes: Route[] = [];
  readonly #faults: Fault[] = [];
  readonly #hooks: ((call: ExecuteCall) => void | Promise<void>)[] = [];
  #delayMs = 0;
  #emptyLastPage = false;
  /** When each call started and settled, on a logical clock that ticks at every start and end. */
  readonly #spans = new Map<ExecuteCall, { start: number; end: number | undefined }>();
  #clock = 0;

  /** Calls that have started and not yet settled. */
  get inFlight(): number {
    return [...this.#spans.values()].filter((span) => span.end === undefined).length;
  }

  /**
   * The most calls for which `filter` holds that were ever in flight at once (by event order, not
   * wall-clock time, so it is deterministic).
   */
  peakInFlight(filter: (call: ExecuteCall) => boolean = () => true): number {
    const events: [number, number][] = [];
    for (const [call, span] of this.#spans) {
      if (!filter(call)) continue;
      events.push([span.start, +1]);
      if (span.end !== undefined) events.push([span.end, -1]);
    }
    let now = 0;
    let peak = 0;
    for (const [, delta] of events.sort((a, b) => a[0] - b[0])) {
      now += delta;
      peak = Math.max(peak, now);
    }
    return peak;
  }

  /** Answers statements that `match` with `rows` (all pages), or with what `rows(call)` returns. */
  answer(match: StatementMatcher, rows: readonly QueryRow[] | Responder): this {
    const matches = typeof match === 'string' ? (cql: string) => cql.includes(match) : match instanceof RegExp ? (cql: string) => match.test(cql) : match;
    this.#routes.push({ matches, respond: typeof rows === 'function' ? rows : () => rows });
    return this;
  }

  /** Rejects the `n`th call (1-based, every statement counts) with `error`, after its delay and hooks. */
  failCall(n: number, error: unknown = operationTimedOut()): this {
    return this.failWhen((call) => call.seq === n, error);
  }

  /** Rejects the next `times` calls for which `when` holds with `error` (Infinity: every one). */
  failWhen(when: (call: ExecuteCall) => boolean, error: unknown = operationTimedOut(), times = 1): this {
    this.#faults.push({ when, error, remaining: times });
    return this;
  }

  /** Every call waits `ms` milliseconds (a timer) before it settles. */
  delayPages(ms: number): this {
    this.#delayMs = ms;
    return this;
  }

  /**
   * Runs `hook` for every call after it is recorded and counted in flight, and waits for what it
   * returns before answering: a test can hold a call on a promise it resolves later, or abort a
   * signal at an exact point.
   */
  onExecute(hook: (call: ExecuteCall) => void | Promise<void>): this {
    this.#hooks.push(hook);
    return this;
  }

  /**
   * When the rows end exactly at a page boundary, return that full page with a pageState and then
   * an empty last page, as Cassandra does (it cannot know the page was the last).
   */
  emptyLastPage(enabled = true): this {
    this.#emptyLastPage = enabled;
    return this;
  }

  async execute(cql: string, params: readonly unknown[] = [], options: QueryOptions = {}): Promise<QueryResult> {
    const call: ExecuteCall = { seq: this.calls.length + 1, cql, params: [...params], options: { ...options }, offset: parsePageState(options.pageState) };
    this.calls.push(call);
    const span = { start: ++this.#clock, end: undefined as number | undefined };
    this.#spans.set(call, span);
    try {
      for (const hook of this.#hooks) await hook(call);
      if (this.#delayMs > 0) await sleep(this.#delayMs);
      const fault = this.#faults.find((f) => f.remaining > 0 && f.when(call));
      if (fault !== undefined) {
        fault.remaining--;
        throw fault.error;
      }
      const route = this.#routes.find((r) => r.matches(cql));
      if (route === undefined) throw new Error(`FakeSession: no answer for ${cql}`);
      const all = route.respond(call);
      const fetchSize = options.fetchSize ?? DRIVER_DEFAULT_FETCH_SIZE;
      const end = call.offset + fetchSize;
      const more = end < all.length || (this.#emptyLastPage && end === all.length && all.length > 0);
      return { rows: all.slice(call.offset, end), ...(more ? { pageState: `${PAGE_STATE_PREFIX}${end}` } : {}) };
    } finally {
      span.end = ++this.#clock;
    }
  }
}

function parsePageState(pageState: string | undefined): number {
  if (pageState === undefined) return 0;
  const offset = pageState.startsWith(PAGE_STATE_PREFIX) ? Number(pageState.slice(PAGE_STATE_PREFIX.length)) : Number.NaN;
  if (!Number.isInteger(offset) || offset < 0) throw new Error(`FakeSession: invalid pageState ${JSON.stringify(pageState)}`);
  return offset;
}
