/**
 * The one place where failures become exit statuses and one-line messages on stderr.
 * See docs/exit-codes.md for the published table.
 */
import { CommanderError } from 'commander';
import { CassetteError, ExitCode, type ExitStatus } from '../errors.js';

/** cassandra-driver's error classes, by name (only adapters import the driver). */
const DRIVER_ERRORS: ReadonlySet<string> = new Set(['DriverError', 'NoHostAvailableError', 'OperationTimedOutError', 'ResponseError', 'BusyConnectionError']);

/** What the CLI prints and returns for a failure. */
export interface Failure {
  readonly exitCode: ExitStatus;
  /** Lines for stderr, without trailing newlines. */
  readonly lines: readonly string[];
}

/**
 * Classifies any thrown value. Unknown errors are bugs: exit 1 with the stack for the report —
 * unless the process was interrupted (`interrupted`: the signal's reason, "interrupted by
 * SIGINT"), when whatever the interrupted step threw (a connection attempt cut short, say) is the
 * interruption itself: exit 130. Commands that had begun their work say so themselves.
 */
export function describeFailure(err: unknown, interrupted?: string): Failure {
  if (interrupted !== undefined && !(err instanceof CassetteError) && !(err instanceof CommanderError)) {
    return describeFailure(new CassetteError('INTERRUPTED', interrupted, {
      hint: 'run the same command again; a backup, restore or rekey already under way is finished with --resume <id> (see `cassette list`, `cassette status`)',
    }));
  }
  if (err instanceof CassetteError) {
    const lines = [`cassette: ${err.message}`];
    if (err.hint !== undefined) lines.push(`  hint: ${err.hint}`);
    return { exitCode: err.exitCode, lines };
  }
  if (err instanceof CommanderError) {
    // commander has already printed its own message (unknown option, missing argument, …).
    const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
    return { exitCode: ok ? ExitCode.ok : ExitCode.usage, lines: [] };
  }
  if (err instanceof Error && DRIVER_ERRORS.has(err.name)) {
    // A cluster failure no command turned into a CassetteError: still the cluster's state, not a bug.
    return {
      exitCode: ExitCode.clusterUnavailable,
      lines: [
        `cassette: the cluster failed a request: ${err.message.split('\n')[0] ?? err.message}`,
        "  hint: check the cluster's health (nodetool status), then run the same command again (a backup or restore with --resume <id>; a rotation continues by itself)",
      ],
    };
  }
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return {
    exitCode: ExitCode.internal,
    lines: [`cassette: internal error (a bug; please report it with this output): ${detail}`],
  };
}
