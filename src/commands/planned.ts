/**
 * The subcommands cassette is built around. A command appears here until its issue lands and it
 * moves to its own file in this folder; until then the CLI lists it and refuses it with exit 2.
 */

/** One planned subcommand: its name and a one-line summary for --help. */
export interface PlannedCommand {
  readonly name: string;
  readonly summary: string;
}

/** Empty: every planned subcommand is built. A new one is listed here until it lands. */
export const PLANNED_COMMANDS: readonly PlannedCommand[] = Object.freeze([]);
