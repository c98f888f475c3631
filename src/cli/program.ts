/**
 * commander wiring: flags and subcommands only. Each subcommand's work lives in src/commands as a
 * plain function; the actions here resolve flags, build the real dependencies (compose.ts), call
 * it, and print its report. Failures propagate to main.ts, which maps them to exit codes.
 */
import { Command } from 'commander';
import { notImplemented } from '../errors.js';
import { PLANNED_COMMANDS } from '../commands/planned.js';
import { registerBackup, registerList } from './subcommands/backup.js';
import { registerRestore, registerStatus } from './subcommands/restore.js';
import { registerRekey } from './subcommands/rekey.js';
import { registerRotate } from './subcommands/rotate.js';
import { registerDoctor } from './subcommands/doctor.js';
import { registerPrune } from './subcommands/prune.js';
import type { ProgramContext } from './context.js';

export type { ProgramContext } from './context.js';

/** Builds the `cassette` program. */
export function buildProgram(context: ProgramContext): Command {
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
  registerPrune(program, context);
  for (const planned of PLANNED_COMMANDS) {
    program
      .command(planned.name)
      .description(`${planned.summary} [not built yet]`)
      .allowUnknownOption(true)
      .allowExcessArguments(true)
      .action(() => {
        throw notImplemented(planned.name);
      });
  }
  return program;
}
