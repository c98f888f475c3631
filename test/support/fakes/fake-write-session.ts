/**
 * A {@link CqlWriteSession} fake for unit tests of the load path: records every `execute` and
 * `batch` call in one ordered log, answers each with the rows a responder returns (none by
 * default), and injects failures — on calls a predicate picks, a given number of times — and
 * hooks that run before a call is answered (to hold it on a promise, or abort a signal at an
 * exact point). Counts calls in flight, by event order, so concurrency checks are deterministic.
 */
import type { BatchStatement, CqlWriteSession, QueryOptions, QueryResult, QueryRow } from '../../../src/cassandra/connection/session.js';

/** One call as the session received it. */
export interface WriteCall {
  /** 1 for the first call, 2 for the next, … (execute and batch count alike). */
  readonly seq: number;
  readonly kind: 'execute' | 'batch';
  /** The single statement of an execute, or a batch's statements in order. */
  readonly statements: readonly BatchStatement[];
  readonly options: QueryOptions;
}

interface Fault {
  readonly when: (call: WriteCall) => boolean;
  readonly error: unknown;
  remaining: number;
}

export class FakeWriteSession implements CqlWriteSession {
  readonly calls: WriteCall[] = [];
  readonly #faults: Fault[] = [];
  readonly #hooks: ((call: WriteCall) => void | Promise<void>)[] = [];
  #respond: (call: WriteCall) => readonly QueryRow[] = () => [];
  #inFlight = 0;
  #peak = 0;

  /** Calls started and not yet settled. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The most calls ever in flight at once. */
  get peakInFlight(): number {
    return this.#peak;
  }

  /** The CQL texts of every call, a batch as its statements' texts. */
  get sent(): string[][] {
    return this.calls.map((call) => call.statements.map((s) => s.cql));
  }

  /** Answers every call with what `respond(call)` returns. */
  answer(respond: (call: WriteCall) => readonly QueryRow[]): this {
    this.#respond = respond;
    return this;
  }

  /** Rejects the next `times` calls for which `when` holds with `error` (Infinity: every one). */
  failWhen(when: (call: WriteCall) => boolean, error: unknown, times = 1): this {
    this.#faults.push({ when, error, remaining: times });
    return this;
  }

  /** Runs `hook` for every call once recorded, and waits for it before answering. */
  onCall(hook: (call: WriteCall) => void | Promise<void>): this {
    this.#hooks.push(hook);
    return this;
  }

  execute(cql: string, params: readonly unknown[] = [], options: QueryOptions = {}): Promise<QueryResult> {
    return this.#call('execute', [{ cql, params: [...params] }], options);
  }

  batch(statements: readonly BatchStatement[], options: QueryOptions = {}): Promise<QueryResult> {
    return this.#call('batch', statements.map((s) => ({ cql: s.cql, params: [...s.params] })), options);
  }

  async #call(kind: WriteCall['kind'], statements: readonly BatchStatement[], options: QueryOptions): Promise<QueryResult> {
    const call: WriteCall = { seq: this.calls.length + 1, kind, statements, options: { ...options } };
    this.calls.push(call);
    this.#inFlight++;
    this.#peak = Math.max(this.#peak, this.#inFlight);
    try {
      for (const hook of this.#hooks) await hook(call);
      const fault = this.#faults.find((f) => f.remaining > 0 && f.when(call));
      if (fault !== undefined) {
        fault.remaining--;
        throw fault.error;
      }
      return { rows: this.#respond(call) };
    } finally {
      this.#inFlight--;
    }
  }
}
