/**
 * The progress port: commands report what they do through it; the CLI decides how to show it
 * (bars on a TTY, periodic lines otherwise, nothing in tests).
 */
export interface ProgressPlan {
  readonly title: string;
  /** What a unit of work is called in progress lines: "ranges", "chunks". */
  readonly unitName: string;
  /** Units of work per part (token ranges per table, chunks per table …). */
  /**
   * Units of work per part (token ranges per table, chunks per table …), and optionally an
   * estimate of its rows (a backup's, from `system.size_estimates`): shown as an estimate, used
   * for the ETA while the rows done stay below it; it may be low, high or absent.
   */
  readonly parts: readonly { readonly name: string; readonly units: number; readonly estimatedRows?: number }[];
  /** The id of the run (backup id, restore id, rekey target, rotation job), for metrics and logs. */
  readonly job?: string;
}

/**
 * What a sink may count beyond rows and units (metrics): a retry that is only a note (a range
 * re-read), rows a load rejected or lost to an LWT race (per part, once per chunk or range), and
 * backpressure holding back the write-back. Never carries a value or a key.
 */
export type ProgressEvent =
  | { readonly kind: 'retry' }
  | { readonly kind: 'rejects'; readonly part: string; readonly count: number }
  | { readonly kind: 'races'; readonly part: string; readonly count: number }
  | { readonly kind: 'backpressure'; readonly active: boolean };

export interface ProgressSink {
  start(plan: ProgressPlan): void;
  /** Units already done before this run (resume). */
  skip(part: string, units: number): void;
  /** Rows processed and their uncompressed bytes. */
  rows(part: string, rows: number, bytes: number): void;
  /** One unit of `part` finished; `unit` names it (a range index, `range/chunk`) for logs. */
  unitDone(part: string, unit?: string): void;
  /** A notable event (a retry, a warning) worth a line of its own. */
  note(line: string): void;
  /**
   * Work is waiting out an outage: `line` says what for and how long it will keep trying ("waiting
   * for the repository s3://…: connection refused (retrying for up to 4m32s more)"); `undefined`
   * clears it once the work got through. `subject` tells concurrent waits apart (a range, the
   * repository). Called once per failed attempt while the wait lasts, so a sink may count retries
   * by it — except for the subject {@link WAITING_FOR_WORKERS}: a worker of a shared run waiting for
   * ranges other workers hold (format.md §13), which is no failure. Optional: a sink without it
   * shows nothing of waits.
   */
  waiting?(subject: string, line: string | undefined): void;
  /** Counts an event (metrics). Optional: a sink without it ignores them. */
  observe?(event: ProgressEvent): void;
  stop(): void;
}

/** A sink that shows nothing. */
export const silentProgress: ProgressSink = Object.freeze({
  start: () => undefined,
  skip: () => undefined,
  rows: () => undefined,
  unitDone: () => undefined,
  note: () => undefined,
  stop: () => undefined,
});

/** The `waiting` subject of a shared run's worker waiting for ranges other live workers hold. */
export const WAITING_FOR_WORKERS = 'workers';
