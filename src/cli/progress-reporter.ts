/**
 * Shows progress on stderr: cli-progress bars (per part and total: units, rows, MB, rows/s, ETA)
 * when stderr is a TTY, and a plain line every `intervalMs` otherwise (logs, CI, cron).
 */
import cliProgress from 'cli-progress';
import type { ProgressPlan, ProgressSink } from '../commands/progress.js';

interface Tally {
  units: number;
  done: number;
  rows: number;
  bytes: number;
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

function eta(done: number, skipped: number, units: number, startedAt: number): string {
  const fresh = done - skipped;
  if (fresh <= 0 || done >= units) return done >= units ? '0s' : '?';
  const seconds = ((Date.now() - startedAt) / 1000 / fresh) * (units - done);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.round(seconds % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
}

/** Bars on a TTY. */
class BarsProgress implements ProgressSink {
  readonly #bars = new cliProgress.MultiBar({
    stream: process.stderr,
    format: ' {name} |{bar}| {value}/{total} {unit} | {rows} rows | {mb} MB | {rate} rows/s | ETA {eta}',
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

  start(plan: ProgressPlan): void {
    this.#startedAt = Date.now();
    this.#unit = plan.unitName;
    const width = Math.max(5, ...plan.parts.map((p) => p.name.length));
    for (const part of plan.parts) {
      const tally = { units: part.units, done: 0, rows: 0, bytes: 0 };
      const label = part.name.padEnd(width);
      this.#parts.set(part.name, { label, tally, bar: this.#bars.create(part.units, 0, this.#payload(label, tally)) });
    }
    const units = plan.parts.reduce((n, p) => n + p.units, 0);
    const tally = { units, done: 0, rows: 0, bytes: 0 };
    const label = 'total'.padEnd(width);
    this.#total = { label, tally, bar: this.#bars.create(units, 0, this.#payload(label, tally)) };
  }

  #payload(name: string, t: Tally): Record<string, string | number> {
    return { name, unit: this.#unit, rows: t.rows.toLocaleString('en-US'), mb: (t.bytes / MB).toFixed(1), rate: rate(t.rows, this.#startedAt).toLocaleString('en-US'), eta: eta(t.done, this.#skipped, t.units, this.#startedAt) };
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
    this.#update(part, (t) => { t.done += units; });
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
  stop(): void {
    this.#bars.stop();
  }
}

/** Periodic plain lines when stderr is not a TTY. */
class LineProgress implements ProgressSink {
  readonly #intervalMs: number;
  readonly #total: Tally = { units: 0, done: 0, rows: 0, bytes: 0 };
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
    this.#total.units = plan.parts.reduce((n, p) => n + p.units, 0);
    this.#timer = setInterval(() => this.#line(), this.#intervalMs);
    this.#timer.unref();
  }
  #line(): void {
    const t = this.#total;
    process.stderr.write(`${this.#title}: ${t.done}/${t.units} ${this.#unit}, ${t.rows.toLocaleString('en-US')} rows, ` +
      `${(t.bytes / MB).toFixed(1)} MB, ${rate(t.rows, this.#startedAt).toLocaleString('en-US')} rows/s, ETA ${eta(t.done, this.#skipped, t.units, this.#startedAt)}\n`);
  }
  skip(_part: string, units: number): void {
    this.#skipped += units;
    this.#total.done += units;
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
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#total.units > 0) this.#line();
  }
}

/** The sink for this process: bars on a TTY, lines every 10 s otherwise. */
export function progressForStderr(intervalMs = 10_000): ProgressSink {
  return process.stderr.isTTY ? new BarsProgress() : new LineProgress(intervalMs);
}
