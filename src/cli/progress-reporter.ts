/**
 * Shows progress on stderr: cli-progress bars (per part and total: units, rows, MB, rows/s, ETA)
 * when stderr is a TTY, and a plain line every `intervalMs` otherwise (logs, CI, cron). While work
 * waits out an outage, the total bar (or the periodic line) says what it waits for, until it got
 * through. The ETA comes from rows when the plan estimates them (a backup's `system.size_estimates`),
 * else from finished units.
 */
import cliProgress from 'cli-progress';
import type { ProgressPlan, ProgressSink } from '../commands/progress.js';
import { formatDuration } from '../pipeline/retry.js';

interface Tally {
  units: number;
  done: number;
  rows: number;
  bytes: number;
  /** Estimated rows of the whole part (0: no estimate). */
  estimatedRows: number;
}

const MB = 1024 * 1024;

interface BarEntry {
  readonly label: string;
  readonly tally: Tally;
  readonly bar: cliProgress.SingleBar;
}

function rate(rows: number, startedAt: number): number {
  const seconds = (Date.now() - startedAt) / 1000;
  return seconds > 0 ? Math.round(rows / seconds) : 0;
}

/**
 * Time left: from rows against the estimate while the estimate is above the rows done (an
 * estimate that turns out low falls back to units), else from finished units; `?` until either
 * has something to go on. Never Infinity or NaN.
 */
export function eta(t: Tally, skippedUnits: number, elapsedMs: number): string {
  if (t.done >= t.units) return '0s';
  const freshRows = t.rows;
  let seconds: number | undefined;
  if (t.estimatedRows > t.rows && freshRows > 0) seconds = (elapsedMs / 1000 / freshRows) * (t.estimatedRows - t.rows);
  else if (t.done - skippedUnits > 0) seconds = (elapsedMs / 1000 / (t.done - skippedUnits)) * (t.units - t.done);
  if (seconds === undefined || !Number.isFinite(seconds)) return '?';
  return formatDuration(seconds * 1000);
}

/** Rows, with the estimate when there is one still above them: "12,000/~1,000,000". */
function rowsText(t: Tally): string {
  const rows = t.rows.toLocaleString('en-US');
  return t.estimatedRows > t.rows ? `${rows}/~${t.estimatedRows.toLocaleString('en-US')}` : rows;
}

/** The waits in progress, by subject; the first one's line and how many more. */
class Waits {
  readonly #lines = new Map<string, string>();
  /** Returns true when the subject started or stopped waiting (worth a line of its own). */
  set(subject: string, line: string | undefined): boolean {
    const was = this.#lines.has(subject);
    if (line === undefined) this.#lines.delete(subject);
    else this.#lines.set(subject, line);
    return was !== (line !== undefined);
  }
  get summary(): string {
    const [first] = this.#lines.values();
    if (first === undefined) return '';
    return this.#lines.size === 1 ? first : `${first} (and ${this.#lines.size - 1} more waiting)`;
  }
}

/** Bars on a TTY. */
class BarsProgress implements ProgressSink {
  readonly #bars = new cliProgress.MultiBar({
    stream: process.stderr,
    format: ' {name} |{bar}| {value}/{total} {unit} | {rows} rows | {mb} MB | {rate} rows/s | ETA {eta}{waiting}',
    hideCursor: true,
    clearOnComplete: false,
    autopadding: true,
    barsize: 24,
  }, cliProgress.Presets.shades_classic);
  readonly #parts = new Map<string, BarEntry>();
  #total: BarEntry | undefined;
  #skipped = 0;
  #startedAt = Date.now();
  #unit = 'units';
  readonly #waits = new Waits();

  start(plan: ProgressPlan): void {
    this.#startedAt = Date.now();
    this.#unit = plan.unitName;
    const width = Math.max(5, ...plan.parts.map((p) => p.name.length));
    for (const part of plan.parts) {
      const tally = tallyOf(part.units, part.estimatedRows);
      const label = part.name.padEnd(width);
      this.#parts.set(part.name, { label, tally, bar: this.#bars.create(part.units, 0, this.#payload(label, tally)) });
    }
    const tally = tallyOf(plan.parts.reduce((n, p) => n + p.units, 0), plan.parts.reduce((n, p) => n + (p.estimatedRows ?? 0), 0));
    const label = 'total'.padEnd(width);
    this.#total = { label, tally, bar: this.#bars.create(tally.units, 0, this.#payload(label, tally)) };
  }

  #payload(name: string, t: Tally): Record<string, string | number> {
    const waiting = t === this.#total?.tally && this.#waits.summary !== '' ? ` | ${this.#waits.summary}` : '';
    return { name, unit: this.#unit, rows: rowsText(t), mb: (t.bytes / MB).toFixed(1), rate: rate(t.rows, this.#startedAt).toLocaleString('en-US'), eta: eta(t, this.#skipped, Date.now() - this.#startedAt), waiting };
  }

  #update(part: string, change: (t: Tally) => void): void {
    const entry = this.#parts.get(part);
    for (const e of [entry, this.#total]) {
      if (e === undefined) continue;
      change(e.tally);
      e.bar.update(e.tally.done, this.#payload(e.label, e.tally));
    }
  }

  skip(part: string, units: number): void {
    this.#skipped += units;
    this.#update(part, (t) => { skipUnits(t, units); });
  }
  rows(part: string, rows: number, bytes: number): void {
    this.#update(part, (t) => { t.rows += rows; t.bytes += bytes; });
  }
  unitDone(part: string): void {
    this.#update(part, (t) => { t.done += 1; });
  }
  note(line: string): void {
    this.#bars.log(`${line}\n`);
  }
  waiting(subject: string, line: string | undefined): void {
    this.#waits.set(subject, line);
    const total = this.#total;
    if (total === undefined) {
      if (line !== undefined) this.#bars.log(`${line}\n`); // before the bars exist (opening the backup)
      return;
    }
    total.bar.update(total.tally.done, this.#payload(total.label, total.tally));
  }
  stop(): void {
    this.#bars.stop();
  }
}

/** Units done before this run: their share of the row estimate is not to be read again. */
function skipUnits(t: Tally, units: number): void {
  const left = Math.max(1, t.units - t.done);
  t.estimatedRows = Math.round((t.estimatedRows * Math.max(0, left - units)) / left);
  t.done += units;
}

function tallyOf(units: number, estimatedRows: number | undefined): Tally {
  return { units, done: 0, rows: 0, bytes: 0, estimatedRows: Math.max(0, Math.round(estimatedRows ?? 0)) };
}

/** Periodic plain lines when stderr is not a TTY. */
class LineProgress implements ProgressSink {
  readonly #intervalMs: number;
  #total: Tally = tallyOf(0, 0);
  readonly #waits = new Waits();
  #title = 'progress';
  #unit = 'units';
  #skipped = 0;
  #startedAt = Date.now();
  #timer: NodeJS.Timeout | undefined;

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }
  start(plan: ProgressPlan): void {
    this.#title = plan.title;
    this.#unit = plan.unitName;
    this.#startedAt = Date.now();
    this.#total = tallyOf(plan.parts.reduce((n, p) => n + p.units, 0), plan.parts.reduce((n, p) => n + (p.estimatedRows ?? 0), 0));
    this.#timer = setInterval(() => this.#line(), this.#intervalMs);
    this.#timer.unref();
  }
  #line(): void {
    const t = this.#total;
    const waiting = this.#waits.summary === '' ? '' : `; ${this.#waits.summary}`;
    process.stderr.write(`${this.#title}: ${t.done}/${t.units} ${this.#unit}, ${rowsText(t)} rows, ` +
      `${(t.bytes / MB).toFixed(1)} MB, ${rate(t.rows, this.#startedAt).toLocaleString('en-US')} rows/s, ETA ${eta(t, this.#skipped, Date.now() - this.#startedAt)}${waiting}\n`);
  }
  skip(_part: string, units: number): void {
    this.#skipped += units;
    skipUnits(this.#total, units);
  }
  rows(_part: string, rows: number, bytes: number): void {
    this.#total.rows += rows;
    this.#total.bytes += bytes;
  }
  unitDone(): void {
    this.#total.done += 1;
  }
  note(line: string): void {
    process.stderr.write(`${line}\n`);
  }
  /** A wait that begins gets a line at once; its end gets one too; in between the periodic line repeats it. */
  waiting(subject: string, line: string | undefined): void {
    if (!this.#waits.set(subject, line)) return;
    process.stderr.write(line === undefined ? `resumed: ${subject} got through\n` : `${line}\n`);
  }
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#total.units > 0) this.#line();
  }
}

/** The sink for this process: bars on a TTY, lines every 10 s otherwise. */
export function progressForStderr(intervalMs = 10_000): ProgressSink {
  return process.stderr.isTTY ? new BarsProgress() : new LineProgress(intervalMs);
}
