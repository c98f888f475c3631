/**
 * `--log-format json`: structured logs on pino (the one adapter that imports it), one JSON record
 * per line on stderr, for what the text format prints as progress, notes, waits and the final
 * error. Every record carries `job`, `worker` and `command`; records about a unit of work add
 * `table` and `range`. Records hold ids, counts and the same sentences the text format prints —
 * never a cell value, a key, a password or a secret.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import type { ProgressEvent, ProgressPlan, ProgressSink } from '../../commands/progress.js';
import type { Failure } from '../exit.js';
import type { RunLabels } from './metrics.js';

/** A run's logger and the job id its records carry. */
export interface RunLog {
  readonly logger: Logger;
  /** Records from now on carry this `job` (null until the job's id is known). */
  setJob(job: string): void;
}

/**
 * A logger whose records carry `job`, `worker` and `command`, with the level as a name and an ISO
 * time. `destination` defaults to stderr, written synchronously so that no record is lost when the
 * process exits.
 */
export function jsonLogger(labels: RunLabels, destination?: DestinationStream): RunLog {
  let job: string | null = null;
  const logger = pino({
    base: { worker: labels.worker, command: labels.command },
    mixin: () => ({ job }),
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }, destination ?? pino.destination({ dest: 2, sync: true }));
  return { logger, setJob: (id) => { job = id; } };
}

/** The failure that ends the run as one `error` record: message, hint, exit status. */
export function logFailure(logger: Logger, failure: Failure): void {
  if (failure.lines.length === 0) return; // commander printed its own usage message
  const [first = '', ...rest] = failure.lines;
  const hint = rest.find((line) => line.trimStart().startsWith('hint: '))?.trim().slice('hint: '.length);
  logger.error({ exitCode: failure.exitCode, ...(hint === undefined ? {} : { hint }) }, first.replace(/^cassette: /, ''));
}

interface Tally { units: number; done: number; rows: number; bytes: number }

/**
 * Progress as records: `start` (the plan), one record per unit done (`table`, `range`: a range
 * index, `range/chunk` for chunk units), notes (warnings at level warn), waits, a `progress`
 * record every `intervalMs` and a last one at `stop`.
 */
export class JsonLogProgress implements ProgressSink {
  readonly #run: RunLog;
  readonly #log: Logger;
  readonly #intervalMs: number;
  #unit = 'units';
  #title = '';
  #total: Tally = { units: 0, done: 0, rows: 0, bytes: 0 };
  #timer: NodeJS.Timeout | undefined;

  constructor(run: RunLog, intervalMs = 10_000) {
    this.#run = run;
    this.#log = run.logger;
    this.#intervalMs = intervalMs;
  }

  start(plan: ProgressPlan): void {
    if (plan.job !== undefined) this.#run.setJob(plan.job);
    this.#title = plan.title;
    this.#unit = plan.unitName;
    this.#total = { units: plan.parts.reduce((n, p) => n + p.units, 0), done: 0, rows: 0, bytes: 0 };
    this.#log.info({ event: 'start', unit: plan.unitName, parts: plan.parts.map((p) => ({ table: p.name, units: p.units })) }, plan.title);
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = setInterval(() => this.#progress(), this.#intervalMs);
    this.#timer.unref();
  }
  #progress(): void {
    const t = this.#total;
    this.#log.info({ event: 'progress', unitsDone: t.done, unitsTotal: t.units, rows: t.rows, bytes: t.bytes }, `${this.#title}: ${t.done}/${t.units} ${this.#unit}`);
  }
  skip(part: string, units: number): void {
    this.#total.done += units;
    this.#log.info({ event: 'skip', table: part, units }, `${units} ${this.#unit} of ${part} done before this run`);
  }
  rows(_part: string, rows: number, bytes: number): void {
    this.#total.rows += rows;
    this.#total.bytes += bytes;
  }
  unitDone(part: string, unit?: string): void {
    this.#total.done += 1;
    this.#log.info({ event: 'done', table: part, ...(unit === undefined ? {} : { range: unit }) }, `${this.#unit.replace(/s$/, '')} done`);
  }
  note(line: string): void {
    if (/^warning\b/i.test(line)) this.#log.warn({ event: 'note' }, line);
    else this.#log.info({ event: 'note' }, line);
  }
  waiting(subject: string, line: string | undefined): void {
    if (line === undefined) this.#log.info({ event: 'resumed', subject }, `resumed: ${subject} got through`);
    else this.#log.warn({ event: 'waiting', subject }, line);
  }
  observe(event: ProgressEvent): void {
    if (event.kind === 'rejects' || event.kind === 'races') {
      this.#log.warn({ event: event.kind, table: event.part, count: event.count }, `${event.count} rows ${event.kind === 'rejects' ? 'rejected' : 'lost an LWT race'}`);
    }
  }
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#total.units > 0) this.#progress();
  }
}
