/**
 * The subcommands cassette is built around. A command appears here until its issue lands and it
 * moves to its own file in this folder; until then the CLI lists it and refuses it with exit 2.
 */

/** One planned subcommand: its name and a one-line summary for --help. */
export interface PlannedCommand {
  readonly name: string;
  readonly summary: string;
}

export const PLANNED_COMMANDS: readonly PlannedCommand[] = Object.freeze([
  { name: 'verify', summary: 'check a backup\'s chunks against its manifest, or a cluster against a backup' },
]);
