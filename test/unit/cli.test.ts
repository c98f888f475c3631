import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import { CommanderError } from 'commander';
import { buildProgram } from '../../src/cli/program.js';
import { PLANNED_COMMANDS } from '../../src/commands/planned.js';
import { describeFailure } from '../../src/cli/exit.js';
import { CassetteError, ExitCode } from '../../src/errors.js';
import type { ProgramContext } from '../../src/cli/program.js';

const context: ProgramContext = { version: '0.0.0-test', env: {}, argv: [], signal: new AbortController().signal, stdout: () => undefined };

const COMMANDS = ['backup', 'list', 'restore', 'rekey', 'rotate', 'status', 'doctor', 'verify'];
/** A planned command the tests hand to buildProgram (cassette plans none at the moment). */
const PLANNED = [{ name: 'frobnicate', summary: 'a command not built yet' }];

describe('cassette CLI skeleton', () => {
  it('lists every subcommand in --help', () => {
    const help = buildProgram(context).helpInformation();
    for (const name of COMMANDS) expect(help).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
  });

  it('plans no command that is not built', () => {
    expect(PLANNED_COMMANDS).toEqual([]);
  });

  it.each(PLANNED.map((p) => p.name))('a planned `%s` is listed, says it is not built yet and maps to exit 2', async (name) => {
    const program = buildProgram(context, PLANNED);
    expect(program.helpInformation()).toMatch(new RegExp(`^  ${name}\\b.*\\[not built yet\\]`, 'm'));
    const err = await program.parseAsync([name], { from: 'user' }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CassetteError);
    const failure = describeFailure(err);
    expect(failure.exitCode).toBe(ExitCode.usage);
    expect(failure.lines[0]).toBe(`cassette: \`cassette ${name}\` is planned but not built yet`);
  });

  it('maps commander usage errors to exit 2 and help/version to 0', () => {
    expect(describeFailure(new CommanderError(1, 'commander.unknownCommand', 'x')).exitCode).toBe(2);
    expect(describeFailure(new CommanderError(0, 'commander.helpDisplayed', 'x')).exitCode).toBe(0);
    expect(describeFailure(new CommanderError(0, 'commander.version', 'x')).exitCode).toBe(0);
  });

  it('maps a cassandra-driver error that no command translated to exit 4, not to a bug', () => {
    for (const err of [Object.assign(new Error('Socket was closed'), { name: 'DriverError' }), new cassandra.errors.NoHostAvailableError({}), new cassandra.errors.OperationTimedOutError('Operation timed out')]) {
      const failure = describeFailure(err);
      expect(failure.exitCode, err.name).toBe(ExitCode.clusterUnavailable);
      expect(failure.lines[0]).toMatch(/^cassette: the cluster failed a request: /);
      expect(failure.lines[1]).toMatch(/nodetool status/);
    }
  });

  it('treats anything that is not a CassetteError as an internal error (exit 1)', () => {
    const failure = describeFailure(new TypeError('boom'));
    expect(failure.exitCode).toBe(ExitCode.internal);
    expect(failure.lines[0]).toContain('internal error');
  });

  it('an error thrown after SIGINT/SIGTERM (a connection cut short) is the interruption: exit 130, not a bug', () => {
    const failure = describeFailure(Object.assign(new Error('The operation was aborted'), { name: 'AbortError' }), 'interrupted by SIGINT');
    expect(failure).toEqual({ exitCode: ExitCode.interrupted, lines: [
      'cassette: interrupted by SIGINT',
      '  hint: run the same command again; a backup, restore or rekey already under way is finished with --resume <id> (see `cassette list`, `cassette status`)',
    ] });
    // What a command said about its own interruption (with its --resume hint) is kept.
    const own = new CassetteError('INTERRUPTED', 'backup x interrupted; 3 of 8 ranges are saved', { hint: 'resume with: cassette backup --resume x' });
    expect(describeFailure(own, 'interrupted by SIGINT').lines).toEqual(['cassette: backup x interrupted; 3 of 8 ranges are saved', '  hint: resume with: cassette backup --resume x']);
  });

  it('prints a hint on its own line', () => {
    const failure = describeFailure(new CassetteError('INVALID_INPUT', 'unknown keyspace "x"', { hint: 'check --keyspace' }));
    expect(failure).toEqual({ exitCode: ExitCode.invalidInput, lines: ['cassette: unknown keyspace "x"', '  hint: check --keyspace'] });
  });
});
