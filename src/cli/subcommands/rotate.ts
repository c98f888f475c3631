/** commander wiring of `cassette rotate` (start or resume the online job) and its status/pause/resume/throttle. */
import { availableParallelism, hostname } from 'node:os';
import type { Command } from 'commander';
import { assertRotationReady, runDoctor } from '../../commands/doctor.js';
import { runRotate } from '../../commands/rotate/rotate.js';
import type { RotateReport } from '../../commands/rotate/types.js';
import { controlRotation, formatRotationStatus, runRotateStatus } from '../../commands/rotate/status.js';
import { loadRotationConfig } from '../../config/rotation-config.js';
import type { RotationConfig } from '../../config/rotation-types.js';
import { createCipher } from '../../crypto/registry.js';
import { CassetteError } from '../../errors.js';
import { workerTransformer } from '../../pipeline/transform/worker-pool.js';
import { parseByteSize } from './backup.js';
import { openRepository, storeOptionsFor, withCluster } from '../compose.js';
import type { ProgramContext } from '../context.js';
import { isHolderAlive, withRunLeases } from '../leases.js';
import { addObservabilityFlags, withObservability } from '../observe/observability.js';
import { resolveRotationConnection, resolveRotationRepository } from '../rotation-flags.js';
import { addConnectionFlags, addRepositoryFlags, positiveInt, stringFlag, type ParsedFlags } from '../shared-flags.js';

const n = (value: number): string => value.toLocaleString('en-US');

function formatRotateReport(r: RotateReport): string {
  const lines = [
    `rotation ${r.jobId} of keyspace ${r.keyspace} complete${r.resumed ? ' (resumed)' : ''}: every row is under key version ${r.newKeyVersion} ` +
      `after ${r.rounds} round${r.rounds === 1 ? '' : 's'}`,
    ...r.tables.map((t) => `  ${t.name}: ${n(t.valuesRotated)} values re-encrypted in ${n(t.rowsChanged)} rows, ${n(t.rowsSkipped)} rows already at the new version, ` +
      `${n(t.raced)} raced (left to the application, rotated in a later round), ${n(t.valuesQuarantined)} quarantined`),
    `${(r.durationMs / 1000).toFixed(1)} s, ${n(r.rowsPerSecond)} rows/s written back`,
    `consistency: ${r.consistency.map((t) => `${t.table} read ${t.read}, write ${t.write}`).join('; ')}; LWT serial ${r.serialConsistency}`,
  ];
  if (!r.writetimesPreserved) lines.push('note: the LWT guard (or preserve_writetime: false) writes at the current time; original WRITETIMEs + 1 µs were not kept');
  return `${lines.join('\n')}\n`;
}

async function configOf(flags: ParsedFlags): Promise<RotationConfig> {
  return loadRotationConfig(stringFlag(flags, 'config') as string);
}

function parseRate(value: string): number | null {
  if (value === 'unlimited') return null;
  return positiveInt(value, '--rate', 1);
}

export function registerRotate(program: Command, context: ProgramContext): void {
  const rotate = program
    .command('rotate')
    .description('online key rotation in place: start or resume the job of a config (status, pause, resume, throttle)')
    .option('--job <id>', 'resume this job instead of the unfinished job of the config')
    .option('--new', 'start a new job even if the config has an unfinished one (e.g. after an intended schema change)')
    .option('--job-id <id>', 'a job shared by many workers: every worker runs the same command with this id (j + UTC time + 6 hex digits, e.g. j20261204T120000Z-3fa9c1); the first plans the job, the others join, ranges are claimed one by one')
    .option('--rate <rows/s>', 'write-back rows per second (default: execution.rate, else unlimited); `rotate throttle --rate` changes it while the job runs')
    .option('--max-rounds <n>', 'verification rounds this run may add for rows found still under an old key', '3')
    .option('--allow-failures <n>', 'values no key opens that are tolerated (quarantined) before the job fails with exit 7', '0')
    .option('--max-errors <n>', 'stop once more rows than this could not be written back', '100')
    .option('--max-in-flight <n>', 'write requests in flight', '32')
    .option('--batch-bytes <size>', 'largest single-partition batch', '4KiB')
    .option('--fetch-size <n>', 'rows per page when exporting', '2000')
    .option('--threads <n>', 'worker threads re-encrypting (default: one per core)')
    .option('--json', 'print one JSON report (or status) on stdout');
  // Not addRotationFlags: a required --config on `rotate` would be demanded of its subcommands too.
  rotate.option('--config <file>', "rotation config (YAML; cassandra-rekey's config.yaml works as is), see docs/config.md");
  addConnectionFlags(rotate);
  addRepositoryFlags(rotate);
  addObservabilityFlags(rotate);
  rotate.action((flags: ParsedFlags) => withObservability(flags, context, 'rotate', async (observe) => {
    if (stringFlag(flags, 'config') === undefined) throw new CassetteError('USAGE', 'rotate needs --config <file> (a rotation config, see docs/config.md)');
    const config = await configOf(flags);
    const location = resolveRotationRepository(config, flags, context.env);
    const store = openRepository(location, observe.wrapStore);
    const cipher = await createCipher(config.provider, context.env);
    const json = flags.json === true;
    const progress = observe.progress(json);
    await withCluster(resolveRotationConnection(config, flags, context.env), context.signal, async (connected) => {
      const cluster = observe.cluster(connected);
      // The doctor's checks run first; any failure stops the job before it plans or writes.
      const preflight = await runDoctor(config, { session: cluster.session, store, env: context.env, now: Date.now, levels: cluster.levels }, { sample: 0 });
      for (const check of preflight.checks) if (check.status === 'warn') progress.note(`warning: ${check.message}`);
      assertRotationReady(preflight);
      const threads = positiveInt(stringFlag(flags, 'threads'), '--threads', availableParallelism(), { max: 256 });
      const transformer = workerTransformer({ repositoryUrl: location.url, storeOptions: storeOptionsFor(location), cipher: config.provider, sealing: location.sealing }, threads);
      const rate = stringFlag(flags, 'rate');
      const jobId = stringFlag(flags, 'job');
      const sharedJobId = stringFlag(flags, 'jobId');
      if (sharedJobId !== undefined && (jobId !== undefined || flags.new === true)) throw new CassetteError('USAGE', 'give --job-id alone, not with --job or --new (a shared job resumes by running the same command again)');
      try {
        const report = await withRunLeases(store, 'rotate', context, (leases, signal) => runRotate({
          config,
          ...(jobId === undefined ? {} : { jobId }),
          ...(sharedJobId === undefined ? {} : { sharedJobId }),
          newJob: flags.new === true,
          ...(rate === undefined ? {} : { rate: positiveInt(rate, '--rate', 1) }),
          maxRounds: positiveInt(stringFlag(flags, 'maxRounds'), '--max-rounds', 3, { max: 100 }),
          maxErrors: positiveInt(stringFlag(flags, 'maxErrors'), '--max-errors', 100, { min: 0 }),
          fetchSize: positiveInt(stringFlag(flags, 'fetchSize'), '--fetch-size', 2000, { max: 100_000 }),
          maxInFlight: positiveInt(stringFlag(flags, 'maxInFlight'), '--max-in-flight', 32, { max: 4096 }),
          batchBytes: parseByteSize(stringFlag(flags, 'batchBytes') ?? '4KiB', '--batch-bytes', 256),
          retryForMs: location.retryForMs,
        }, {
          store, cluster, cipher, transformer, progress, signal, leases, now: Date.now, toolVersion: context.version,
          worker: { host: hostname(), pid: process.pid }, isHolderAlive,
        }), { shared: sharedJobId !== undefined });
        context.stdout(json ? `${JSON.stringify(report)}\n` : formatRotateReport(report));
        const allowed = positiveInt(stringFlag(flags, 'allowFailures'), '--allow-failures', 0, { min: 0 });
        if (report.valuesQuarantined > allowed) {
          throw new CassetteError('COMPLETED_WITH_ERRORS', `rotation ${report.jobId} finished, but ${report.valuesQuarantined} values open under no configured key (--allow-failures ${allowed})`, {
            hint: `they are left unchanged; the quarantine lists are under rotations/${report.jobId}/rounds/*/transform/quarantine/ in ${report.repository}`,
          });
        }
      } finally {
        await transformer.close();
        cipher.close?.();
      }
    });
  }));

  // The subcommands share rotate's options (--config, --job, --repo…, --rate, --json): commander
  // gives an option to the parent when both declare it, so they read the merged options.
  const sub = (name: string, description: string, act: (flags: ParsedFlags, config: RotationConfig) => Promise<void>): void => {
    rotate.command(name).description(description).action(async (_flags: ParsedFlags, command: Command) => {
      const flags = command.optsWithGlobals<ParsedFlags>();
      if (stringFlag(flags, 'config') === undefined) throw new CassetteError('USAGE', `rotate ${name} needs --config <file>: the config the job was started with`);
      await act(flags, await configOf(flags));
    });
  };
  sub('status', 'ranges done per stage, rows rotated / skipped / raced / quarantined, rate, latency, ETA (--json)', async (flags, config) => {
    const store = openRepository(resolveRotationRepository(config, flags, context.env));
    const status = await runRotateStatus(config, store, Date.now(), stringFlag(flags, 'job') ?? stringFlag(flags, 'jobId'));
    context.stdout(flags.json === true ? `${JSON.stringify(status)}\n` : formatRotationStatus(status));
  });
  for (const action of ['pause', 'resume'] as const) {
    sub(action, action === 'pause' ? 'running workers finish their ranges in flight, then the job waits' : 'a paused job continues', async (flags, config) => {
      const store = openRepository(resolveRotationRepository(config, flags, context.env));
      const done = await controlRotation(config, store, { action }, Date.now(), stringFlag(flags, 'job') ?? stringFlag(flags, 'jobId'));
      context.stdout(`rotation ${done.jobId}: ${action} recorded; the running job acts on it within a second` +
        (action === 'resume' ? ' (if no job process is running, run `cassette rotate --config …` to continue it)' : '') + '\n');
    });
  }
  sub('throttle', 'change the write-back rate of a running job: --rate <rows/s|unlimited>', async (flags, config) => {
    const value = stringFlag(flags, 'rate');
    if (value === undefined) throw new CassetteError('USAGE', 'rotate throttle needs --rate <rows/s> or --rate unlimited');
    const store = openRepository(resolveRotationRepository(config, flags, context.env));
    const rate = parseRate(value);
    const done = await controlRotation(config, store, { action: 'throttle', rate }, Date.now(), stringFlag(flags, 'job') ?? stringFlag(flags, 'jobId'));
    context.stdout(`rotation ${done.jobId}: rate ${rate === null ? 'unlimited' : `${rate} rows/s`} recorded; the running job applies it within a second\n`);
  });
}
