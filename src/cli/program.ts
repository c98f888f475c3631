/**
 * commander wiring: flags and subcommands only. Each subcommand's work lives in src/commands as a
 * plain function; the actions here resolve flags, build the real dependencies (compose.ts), call
 * it, and print its report. Failures propagate to main.ts, which maps them to exit codes.
 */
import { Command } from 'commander';
import { notImplemented } from '../errors.js';
import { PLANNED_COMMANDS, type PlannedCommand } from '../commands/planned.js';
import { registerBackup, registerList } from './subcommands/backup.js';
import { registerRestore, registerStatus } from './subcommands/restore.js';
import { registerRekey } from './subcommands/rekey.js';
import { registerRotate } from './subcommands/rotate.js';
import { registerDoctor } from './subcommands/doctor.js';
import { registerVerify } from './subcommands/verify.js';
import { registerDiff, registerDrill } from './subcommands/compare.js';
import { registerPrune } from './subcommands/prune.js';
import type { ProgramContext } from './context.js';

export type { ProgramContext } from './context.js';

/** Builds the `cassette` program; `planned` (tests pass their own) are listed and refused with exit 2. */
export function buildProgram(context: ProgramContext, planned: readonly PlannedCommand[] = PLANNED_COMMANDS): Command {
  const program = new Command('cassette')
    .description('Token-range backups, offline key rotation and faithful restores for Apache Cassandra')
    .version(context.version)
    .exitOverride()
    .showHelpAfterError('(run `cassette --help` for usage)');

  registerBackup(program, context);
  registerList(program, context);
  registerRestore(program, context);
  registerStatus(program, context);
  registerDoctor(program, context);
  registerRekey(program, context);
  registerRotate(program, context);
  registerVerify(program, context);
  registerDiff(program, context);
  registerDrill(program, context);
  registerPrune(program, context);
  for (const command of planned) {
    program
      .command(command.name)
      .description(`${command.summary} [not built yet]`)
      .allowUnknownOption(true)
      .allowExcessArguments(true)
      .action(() => {
        throw notImplemented(command.name);
      });
  }
  return program;
}
