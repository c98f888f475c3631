/** commander wiring of `cassette doctor`: the read-only pre-flight of a key rotation. */
import type { Command } from 'commander';
import { DEFAULT_SAMPLE, firstFailure, runDoctor, type DoctorDeps, type DoctorReport } from '../../commands/doctor.js';
import type { CheckStatus } from '../../commands/doctor-checks.js';
import { loadRotationConfig } from '../../config/rotation-config.js';
import { DEFAULT_SERIAL_CONSISTENCY, type ConsistencyLevels } from '../../cassandra/connection/options.js';
import { CassetteError } from '../../errors.js';
import { connectCluster, openRepository, type ClusterHandle } from '../compose.js';
import type { ProgramContext } from '../context.js';
import { addRotationFlags, resolveRotationConnection, resolveRotationRepository } from '../rotation-flags.js';
import { positiveInt, stringFlag, type ParsedFlags } from '../shared-flags.js';

const MARKS: Readonly<Record<CheckStatus, string>> = { ok: '✓', warn: '!', fail: '✗' };

/** One line per check (`✓`, `!` or `✗`, the check's id, its message), hints indented below, then a summary. */
export function formatDoctorReport(report: DoctorReport): string {
  const lines: string[] = [`doctor: ${report.config}, keyspace ${report.keyspace}`, formatLevels(report.consistency)];
  for (const c of report.checks) {
    lines.push(`${MARKS[c.status]} ${c.id.padEnd(24)} ${c.message}`);
    if (c.hint !== undefined && c.status !== 'ok') lines.push(`  ${' '.repeat(24)} hint: ${c.hint}`);
  }
  const count = (status: CheckStatus): number => report.checks.filter((c) => c.status === status).length;
  const failed = count('fail');
  const warnings = `${count('warn')} warning${count('warn') === 1 ? '' : 's'}`;
  lines.push(failed === 0
    ? `ready to rotate: ${count('ok')} checks ok, ${warnings}`
    : `not ready: ${failed} check${failed === 1 ? '' : 's'} failed, ${warnings}, ${count('ok')} ok`);
  return `${lines.join('\n')}\n`;
}

/** `consistency: users read LOCAL_QUORUM, write LOCAL_QUORUM; LWT serial LOCAL_SERIAL`. */
export function formatLevels(levels: DoctorReport['consistency']): string {
  const tables = levels.tables.map((t) => `${t.table} read ${t.read}, write ${t.write}`).join('; ');
  return `consistency: ${tables === '' ? 'no tables' : tables}; LWT serial ${levels.serialConsistency}`;
}

export function registerDoctor(program: Command, context: ProgramContext): void {
  const command = program
    .command('doctor')
    .description('read-only pre-flight checks of cluster, repository and keys')
    .option('--sample <n>', `non-null values per encrypted column opened to see which key they are under (0: none)`, String(DEFAULT_SAMPLE))
    .option('--json', 'print the report as JSON');
  addRotationFlags(command);
  command.action(async (flags: ParsedFlags) => {
    const path = stringFlag(flags, 'config');
    if (path === undefined) throw new CassetteError('USAGE', 'doctor needs --config <file> (a rotation config, see docs/config.md)');
    const config = await loadRotationConfig(path);
    const sample = positiveInt(stringFlag(flags, 'sample'), '--sample', DEFAULT_SAMPLE, { min: 0, max: 10_000 });
    // Connection and repository problems are checks in the report, so the local checks still run.
    let store: DoctorDeps['store'];
    try {
      store = openRepository(resolveRotationRepository(config, flags, context.env));
    } catch (err) {
      store = { unavailable: err };
    }
    let cluster: ClusterHandle | undefined;
    let session: DoctorDeps['session'];
    let levels: ConsistencyLevels | undefined;
    try {
      const connection = resolveRotationConnection(config, flags, context.env);
      levels = { consistency: connection.consistency, serialConsistency: connection.serialConsistency ?? DEFAULT_SERIAL_CONSISTENCY };
      cluster = await connectCluster(connection);
      session = cluster.session;
    } catch (err) {
      session = { unavailable: err };
    }
    let report: DoctorReport;
    try {
      report = await runDoctor(config, { session, store, env: context.env, now: Date.now, ...(levels === undefined ? {} : { levels }) }, { sample });
    } finally {
      await cluster?.close();
    }
    context.stdout(flags.json === true ? `${JSON.stringify(report)}\n` : formatDoctorReport(report));
    const failed = firstFailure(report);
    if (failed !== undefined) {
      const n = report.checks.filter((c) => c.status === 'fail').length;
      // The exit status is the first failure's: 4 cluster unreachable, 5 repository, else 3.
      throw new CassetteError(failed.code ?? 'INVALID_INPUT', `doctor: ${n} check${n === 1 ? '' : 's'} failed`, {
        hint: flags.json === true ? 'the failed checks have "status": "fail" in the report' : 'the failed checks are marked ✗ above',
      });
    }
  });
}
