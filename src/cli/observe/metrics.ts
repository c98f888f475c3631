/**
 * Prometheus metrics of a run, on prom-client (the one adapter that imports it): a registry of
 * cassette's metrics, a ProgressSink that feeds them and passes every call on to the sink that
 * shows progress, request timers, and the `/metrics` endpoint. Label values are ids and names
 * (job, worker, command, table, op) — never a value or a key of a row.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { WAITING_FOR_WORKERS, type ProgressEvent, type ProgressPlan, type ProgressSink } from '../../commands/progress.js';

/** The labels every series of a run carries besides `job`. */
export interface RunLabels {
  /** `<hostname>/<pid>`: the identity leases and claims use. */
  readonly worker: string;
  /** The subcommand: backup, restore, rekey, rotate, verify. */
  readonly command: string;
}

/** What a request is, for `cassette_request_duration_seconds{op}`. */
export type RequestOp = 'read' | 'write' | 'store';

type TableLabel = 'job' | 'worker' | 'command' | 'table';
type RunLabel = 'job' | 'worker' | 'command';

/** One table's series, and the rows and bytes counted since the last scrape. */
interface TableSeries {
  readonly rows: Counter.Internal;
  readonly bytes: Counter.Internal;
  readonly done: Gauge.Internal<TableLabel>;
  pendingRows: number;
  pendingBytes: number;
}

/** Latency buckets in seconds: 1 ms to 30 s. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The metrics of one process. `job` is set when the work starts (ProgressPlan.job); series
 * touched before that have `job=""`. Rows and bytes, counted once per page or batch, are added up
 * in plain numbers and handed to prom-client when it collects (a scrape), so the hot path costs
 * a map lookup and two additions.
 */
export class RunMetrics {
  readonly registry = new Registry();
  readonly #labels: RunLabels;
  #job = '';
  readonly #rows: Counter<TableLabel>;
  readonly #bytes: Counter<TableLabel>;
  readonly #unitsDone: Gauge<TableLabel>;
  readonly #unitsTotal: Gauge<TableLabel>;
  readonly #retries: Counter<RunLabel>;
  readonly #rejects: Counter<RunLabel>;
  readonly #races: Counter<RunLabel>;
  readonly #backpressure: Gauge<RunLabel>;
  readonly #duration: Histogram<RunLabel | 'op'>;
  readonly #perTable = new Map<string, TableSeries>();
  readonly #perOp = new Map<RequestOp, Histogram.Internal<RunLabel | 'op'>>();

  /** `defaults`: also the process metrics (CPU, memory, event loop) with prefix `cassette_`. */
  constructor(labels: RunLabels, { defaults = true }: { defaults?: boolean } = {}) {
    this.#labels = labels;
    const registers = [this.registry];
    const tableLabels: TableLabel[] = ['job', 'worker', 'command', 'table'];
    const runLabels: RunLabel[] = ['job', 'worker', 'command'];
    const flush = (): void => this.#flush();
    this.#rows = new Counter({ name: 'cassette_rows_total', help: 'Rows processed (read, written, re-encrypted, checked)', labelNames: tableLabels, registers, collect: flush });
    this.#bytes = new Counter({ name: 'cassette_bytes_total', help: 'Uncompressed bytes of the rows processed', labelNames: tableLabels, registers, collect: flush });
    this.#unitsDone = new Gauge({ name: 'cassette_units_done', help: 'Units of work done (ranges or chunks), including those done before a resume', labelNames: tableLabels, registers });
    this.#unitsTotal = new Gauge({ name: 'cassette_units_total', help: 'Units of work planned (ranges or chunks)', labelNames: tableLabels, registers });
    this.#retries = new Counter({ name: 'cassette_retries_total', help: 'Failed attempts that were retried (range re-reads, repository and Cassandra outages)', labelNames: runLabels, registers });
    this.#rejects = new Counter({ name: 'cassette_rejects_total', help: 'Rows a load rejected', labelNames: runLabels, registers });
    this.#races = new Counter({ name: 'cassette_lwt_races_total', help: 'Rows whose LWT guard lost to a concurrent write', labelNames: runLabels, registers });
    this.#backpressure = new Gauge({ name: 'cassette_backpressure', help: '1 while backpressure slows or pauses the write-back, else 0', labelNames: runLabels, registers });
    this.#duration = new Histogram({ name: 'cassette_request_duration_seconds', help: 'Request latency: read (Cassandra SELECT), write (Cassandra write or batch), store (repository put)', labelNames: [...runLabels, 'op'], buckets: BUCKETS, registers });
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'cassette_' });
  }

  #run(): Record<RunLabel, string> {
    return { job: this.#job, worker: this.#labels.worker, command: this.#labels.command };
  }

  #table(table: string): TableSeries {
    let series = this.#perTable.get(table);
    if (series === undefined) {
      const labels = { ...this.#run(), table };
      series = { rows: this.#rows.labels(labels), bytes: this.#bytes.labels(labels), done: this.#unitsDone.labels(labels), pendingRows: 0, pendingBytes: 0 };
      this.#perTable.set(table, series);
    }
    return series;
  }

  /** Hands the rows and bytes counted since the last scrape to their counters. */
  #flush(): void {
    for (const series of this.#perTable.values()) {
      series.rows.inc(series.pendingRows);
      series.bytes.inc(series.pendingBytes);
      series.pendingRows = 0;
      series.pendingBytes = 0;
    }
  }

  /** Series from now on carry this `job`. */
  setJob(job: string): void {
    if (job === this.#job) return;
    this.#flush();
    this.#job = job;
    this.#perTable.clear();
    this.#perOp.clear();
  }

  /** Work starts (again, for a rotation's next round): the job's id and its units per table. */
  start(plan: ProgressPlan): void {
    if (plan.job !== undefined) this.setJob(plan.job);
    for (const part of plan.parts) {
      this.#unitsTotal.set({ ...this.#run(), table: part.name }, part.units);
      this.#table(part.name).done.set(0);
    }
    this.#backpressure.set(this.#run(), 0);
  }

  rows(table: string, rows: number, bytes: number): void {
    const series = this.#table(table);
    series.pendingRows += rows;
    series.pendingBytes += bytes;
  }

  unitsDone(table: string, units: number): void {
    this.#table(table).done.inc(units);
  }

  count(event: ProgressEvent): void {
    switch (event.kind) {
      case 'retry': this.#retries.inc(this.#run()); break;
      case 'rejects': this.#rejects.inc(this.#run(), event.count); break;
      case 'races': this.#races.inc(this.#run(), event.count); break;
      case 'backpressure': this.#backpressure.set(this.#run(), event.active ? 1 : 0); break;
    }
  }

  /** Records one request of `op` that took `seconds`. */
  observe(op: RequestOp, seconds: number): void {
    let child = this.#perOp.get(op);
    if (child === undefined) {
      child = this.#duration.labels({ ...this.#run(), op });
      this.#perOp.set(op, child);
    }
    child.observe(seconds);
  }

  /** The registry in Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/**
 * A sink that counts into `metrics` and passes every call on to `inner`. Each `waiting` call with
 * a line is one failed attempt being retried (ProgressSink.waiting), so it counts as a retry.
 */
export function metricsSink(inner: ProgressSink, metrics: RunMetrics): ProgressSink {
  return {
    start: (plan) => { metrics.start(plan); inner.start(plan); },
    skip: (part, units) => { metrics.unitsDone(part, units); inner.skip(part, units); },
    rows: (part, rows, bytes) => { metrics.rows(part, rows, bytes); inner.rows(part, rows, bytes); },
    unitDone: (part, unit) => { metrics.unitsDone(part, 1); inner.unitDone(part, unit); },
    note: (line) => inner.note(line),
    waiting: (subject, line) => {
      if (line !== undefined && subject !== WAITING_FOR_WORKERS) metrics.count({ kind: 'retry' });
      inner.waiting?.(subject, line);
    },
    observe: (event) => { metrics.count(event); inner.observe?.(event); },
    stop: () => inner.stop(),
  };
}

/** The running `/metrics` endpoint. */
export interface MetricsEndpoint {
  /** The port it listens on (the OS's choice for port 0). */
  readonly port: number;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (the registry's text) on `host:port`; anything else is 404. The server is
 * unref'd: it never keeps a finished command alive.
 */
export async function serveMetrics(metrics: RunMetrics, host: string, port: number): Promise<MetricsEndpoint> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics\n');
      return;
    }
    metrics.text().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
