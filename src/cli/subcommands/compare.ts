/** commander wiring of `cassette diff` and `cassette drill`. */
import type { Command } from 'commander';
import { runDiff } from '../../commands/compare/diff.js';
import { runDrill } from '../../commands/compare/drill.js';
import { silentProgress, type ProgressSink } from '../../commands/progress.js';
import { CassetteError } from '../../errors.js';
import { openRepository, withCluster } from '../compose.js';
import type { ProgramContext } from '../context.js';
import { progressForStderr } from '../progress-reporter.js';
import { addConnectionFlags, addRepositoryFlags, listFlag, positiveInt, resolveConnection, resolveRepository, stringFlag, type ParsedFlags } from '../shared-flags.js';
import { parseByteSize } from './backup.js';
import { parseDcMap, parseReplication } from './restore.js';
import { formatDiffReport, formatDrillReport } from './compare-report.js';

/** A sink that opens a fresh stderr reporter for each phase (a drill restores, then compares). */
function phasedProgress(): ProgressSink {
  let current: ProgressSink = silentProgress;
  return {
    start: (plan) => { current = progressForStderr(); current.start(plan); },
    skip: (part, units) => current.skip(part, units),
    rows: (part, rows, bytes) => current.rows(part, rows, bytes),
    unitDone: (part) => current.unitDone(part),
    note: (line) => current.note(line),
    stop: () => current.stop(),
  };
}

function addCompareFlags(command: Command): Command {
  return command
    .option('--tables <list>', 'comma-separated tables (default: every table in the backup)')
    .option('--parallel <n>', 'token ranges compared at once', '4')
    .option('--fetch-size <n>', 'rows per page of the live reads', '2000')
    .option('--max-keys <n>', 'primary keys listed per kind (missing, extra, different) per table', '100')
    .option('--max-drill-rows <n>', 'most backed-up rows of one differing range held in memory to list its rows', '500000')
    .option('--json', 'print one JSON report on stdout at the end');
}

function compareOptions(flags: ParsedFlags, retryForMs: number): { parallel: number; fetchSize: number; maxKeys: number; maxDrillRows: number; retryForMs: number } {
  const str = (name: string): string | undefined => stringFlag(flags, name);
  return {
    parallel: positiveInt(str('parallel'), '--parallel', 4, { max: 256 }),
    fetchSize: positiveInt(str('fetchSize'), '--fetch-size', 2000, { max: 100_000 }),
    maxKeys: positiveInt(str('maxKeys'), '--max-keys', 100, { min: 0, max: 10_000 }),
    maxDrillRows: positiveInt(str('maxDrillRows'), '--max-drill-rows', 500_000, { max: 100_000_000 }),
    retryForMs,
  };
}

export function registerDiff(program: Command, context: ProgramContext): void {
  const command = program
    .command('diff')
    .description('compare a live keyspace with a backup by token range: rows missing, extra and different, by primary key')
    .argument('<backup-id>', 'the backup to compare with (see `cassette list`)')
    .option('--keyspace <name>', 'the live keyspace to compare (default: the backed-up keyspace)');
  addCompareFlags(command);
  addConnectionFlags(command);
  addRepositoryFlags(command);
  command.action(async (backupId: string, flags: ParsedFlags) => {
    const connection = resolveConnection(flags, context.env);
    const location = resolveRepository(flags, context.env);
    const store = openRepository(location);
    const tables = listFlag(flags, 'tables');
    const keyspace = stringFlag(flags, 'keyspace');
    const json = flags.json === true;
    await withCluster(connection, context.signal, async (cluster) => {
      const report = await runDiff({
        backupId, ...compareOptions(flags, location.retryForMs), ...(tables === undefined ? {} : { tables }), ...(keyspace === undefined ? {} : { keyspace }),
      }, { store, cluster, progress: json ? silentProgress : progressForStderr(), signal: context.signal, now: Date.now });
      context.stdout(json ? `${JSON.stringify(report)}\n` : formatDiffReport(report));
      if (!report.identical) {
        throw new CassetteError('DIFFERENCES_FOUND', `keyspace ${report.keyspace} differs from backup ${report.backupId}: ${report.missing} rows missing, ${report.extra} extra, ${report.different} different`, {
          hint: 'the keys are listed above (--max-keys lists more)',
        });
      }
    });
  });
}

export function registerDrill(program: Command, context: ProgramContext): void {
  const command = program
    .command('drill')
    .description('DR drill: restore a backup into a scratch keyspace, prove it equals the backup, drop it, and store an evidence report')
    .argument('<backup-id>', 'the backup to drill (see `cassette list`)')
    .option('--scratch-keyspace <name>', 'restore into this keyspace (default: <keyspace>_drill_<6 hex digits of the backup id>)')
    .option('--keep', 'keep the scratch keyspace afterwards')
    .option('--replication <json>', 'replication of the scratch keyspace, e.g. {"class":"SimpleStrategy","replication_factor":1}')
    .option('--dc-map <map>', 'rename the datacenters of that replication (the backup\'s or --replication\'s), e.g. dc1:datacenter1')
    .option('--restore-parallel <n>', 'chunks restored at once', '2')
    .option('--max-in-flight <n>', 'write requests in flight during the restore', '64')
    .option('--batch-bytes <size>', 'largest unlogged single-partition batch of the restore', '4KiB')
    .option('--max-errors <n>', 'stop the restore once more rows than this have failed', '100');
  addCompareFlags(command);
  addConnectionFlags(command);
  addRepositoryFlags(command);
  command.action(async (backupId: string, flags: ParsedFlags) => {
    const str = (name: string): string | undefined => stringFlag(flags, name);
    const connection = resolveConnection(flags, context.env);
    const location = resolveRepository(flags, context.env);
    const store = openRepository(location);
    const tables = listFlag(flags, 'tables');
    const json = flags.json === true;
    await withCluster(connection, context.signal, async (cluster) => {
      const outcome = await runDrill({
        backupId, ...compareOptions(flags, location.retryForMs), ...(tables === undefined ? {} : { tables }),
        ...(str('scratchKeyspace') === undefined ? {} : { scratchKeyspace: str('scratchKeyspace') as string }),
        keep: flags.keep === true,
        ...(str('replication') === undefined ? {} : { replication: parseReplication(str('replication') as string) }),
        ...(str('dcMap') === undefined ? {} : { dcMap: parseDcMap(str('dcMap') as string) }),
        restoreParallel: positiveInt(str('restoreParallel'), '--restore-parallel', 2, { max: 64 }),
        maxInFlight: positiveInt(str('maxInFlight'), '--max-in-flight', 64, { max: 4096 }),
        batchBytes: parseByteSize(str('batchBytes') ?? '4KiB', '--batch-bytes', 256),
        maxErrors: positiveInt(str('maxErrors'), '--max-errors', 100, { min: 0 }),
      }, { store, cluster, progress: json ? silentProgress : phasedProgress(), signal: context.signal, now: Date.now, toolVersion: context.version });
      context.stdout(json ? `${JSON.stringify(outcome.report)}\n` : formatDrillReport(outcome));
      if (outcome.report.result !== 'PASS') {
        const r = outcome.report;
        const sum = (f: (t: (typeof r.tables)[number]) => number): number => r.tables.reduce((x, t) => x + f(t), 0);
        throw new CassetteError('DIFFERENCES_FOUND', `drill ${r.drillId} FAILED: the restored data differ from backup ${r.backupId} (${sum((t) => t.missing)} rows missing, ${sum((t) => t.extra)} extra, ${sum((t) => t.different)} different)`, {
          hint: `the evidence report is ${outcome.repository}/${outcome.reportKey}; run \`cassette diff\` against a kept scratch keyspace (--keep) for every key`,
        });
      }
    });
  });
}
