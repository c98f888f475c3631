/**
 * The observability flags every long-running command shares (`--metrics-port`, `--metrics-host`,
 * `--log-format`) and the run they set up: the progress sink (bars or lines, or JSON records),
 * counting into Prometheus metrics served on `/metrics` while the command runs, request timers
 * for the cluster and the repository, and the final error as a JSON record.
 */
import { hostname } from 'node:os';
import { Option, type Command } from 'commander';
import type { CqlWriteSession } from '../../cassandra/connection/session.js';
import { silentProgress, type ProgressSink } from '../../commands/progress.js';
import { CassetteError } from '../../errors.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { ProgramContext } from '../context.js';
import { progressForStderr } from '../progress-reporter.js';
import { positiveInt, stringFlag, type ParsedFlags } from '../shared-flags.js';
import { JsonLogProgress, jsonLogger, logFailure, type RunLog } from './json-log.js';
import { RunMetrics, metricsSink, serveMetrics, type RunLabels } from './metrics.js';
import { timedSession, timedStore } from './timed.js';

/** Adds --metrics-port, --metrics-host and --log-format. */
export function addObservabilityFlags(command: Command): Command {
  return command
    .option('--metrics-port <port>', 'serve Prometheus metrics on http://<metrics-host>:<port>/metrics while the command runs; 0 picks a free port, logged at start [env CASSETTE_METRICS_PORT]')
    .addOption(new Option('--metrics-host <address>', 'address the metrics endpoint listens on [env CASSETTE_METRICS_HOST]').default(undefined, '0.0.0.0'))
    .addOption(new Option('--log-format <format>', 'stderr: text (progress bars or lines) or json (one JSON record per line) [env CASSETTE_LOG_FORMAT]').default(undefined, 'text'));
}

/** What a command's wiring takes from the run's observability. */
export interface Observability {
  /**
   * The progress sink: JSON records with --log-format json; else bars or lines, or nothing when
   * `quiet` (--json); counting into the metrics when they are served.
   */
  progress(quiet: boolean): ProgressSink;
  /** The cluster with its requests timed when metrics are served. */
  cluster<C extends { readonly session: CqlWriteSession }>(cluster: C): C;
  /** For openRepository: times the repository's puts when metrics are served. */
  readonly wrapStore: ((store: BlobStore) => BlobStore) | undefined;
  /** A job id known before the work starts (the backup verify checks, a resumed backup's id). */
  setJob(job: string): void;
}

/** `<hostname>/<pid>`: the identity leases and claims use. */
export function workerName(): string {
  return `${hostname()}/${process.pid}`;
}

function logFormatOf(flags: ParsedFlags, env: ProgramContext['env']): 'text' | 'json' {
  const given = stringFlag(flags, 'logFormat') ?? (env.CASSETTE_LOG_FORMAT === '' ? undefined : env.CASSETTE_LOG_FORMAT) ?? 'text';
  if (given !== 'text' && given !== 'json') throw new CassetteError('USAGE', `--log-format must be text or json, not "${given}"`);
  return given;
}

/**
 * Runs `work` with the observability the flags ask for; the metrics endpoint is closed when it
 * ends, whatever the outcome. With --log-format json the failure that ends the run is written by
 * main.ts as a JSON record too (context.failureOutput).
 */
export async function withObservability<T>(flags: ParsedFlags, context: ProgramContext, command: string, work: (observability: Observability) => Promise<T>): Promise<T> {
  const labels: RunLabels = { worker: workerName(), command };
  const format = logFormatOf(flags, context.env);
  const portText = stringFlag(flags, 'metricsPort') ?? (context.env.CASSETTE_METRICS_PORT === '' ? undefined : context.env.CASSETTE_METRICS_PORT);
  const port = portText === undefined ? undefined : positiveInt(portText, '--metrics-port', 0, { min: 0, max: 65535 });
  const host = stringFlag(flags, 'metricsHost') ?? (context.env.CASSETTE_METRICS_HOST || '0.0.0.0');
  const log: RunLog | undefined = format === 'json' ? jsonLogger(labels) : undefined;
  if (log !== undefined && context.failureOutput !== undefined) {
    context.failureOutput.json = (failure) => logFailure(log.logger, failure);
    context.failureOutput.notice = (line) => log.logger.warn({ event: 'signal' }, line);
  }
  const metrics = port === undefined ? undefined : new RunMetrics(labels);
  const endpoint = metrics === undefined ? undefined : await serveMetrics(metrics, host, port as number).catch((err: unknown) => {
    throw new CassetteError('INVALID_INPUT', `cannot serve metrics on ${host}:${String(port)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      hint: 'give another --metrics-port (0 lets the system pick a free one) or --metrics-host', cause: err,
    });
  });
  if (endpoint !== undefined) {
    const url = `http://${host}:${endpoint.port}/metrics`;
    if (log !== undefined) log.logger.info({ event: 'metrics', port: endpoint.port, host }, `metrics on ${url}`);
    else process.stderr.write(`cassette: metrics on ${url}\n`);
  }
  const record = metrics === undefined ? undefined : metrics.observe.bind(metrics);
  try {
    return await work({
      progress: (quiet) => {
        const shown = log !== undefined ? new JsonLogProgress(log) : quiet ? silentProgress : progressForStderr();
        return metrics === undefined ? shown : metricsSink(shown, metrics);
      },
      cluster: (cluster) => (record === undefined ? cluster : { ...cluster, session: timedSession(cluster.session, record) }),
      wrapStore: record === undefined ? undefined : (store) => timedStore(store, record),
      setJob: (job) => {
        log?.setJob(job);
        metrics?.setJob(job);
      },
    });
  } finally {
    await endpoint?.close();
  }
}
