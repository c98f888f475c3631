/**
 * commander wiring: flags and subcommands only. Each subcommand's work lives in src/commands as a
 * plain function; this file parses, calls it and hands failures back to main.ts.
 */
import { Command } from 'commander';
import { notImplemented } from '../errors.js';
import { PLANNED_COMMANDS } from '../commands/planned.js';

/** Builds the `cassette` program. `version` comes from package.json via the caller. */
export function buildProgram(version: string): Command {
  const program = new Command('cassette')
    .description('Token-range backups, offline key rotation and faithful restores for Apache Cassandra')
    .version(version)
    .exitOverride()
    .showHelpAfterError('(run `cassette --help` for usage)');

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
