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
  { name: 'rekey', summary: 're-encrypt columns of a backup under a new key, offline, into a new backup' },
  { name: 'rotate', summary: 'backup, rekey and guarded write-back in one run' },
  { name: 'doctor', summary: 'read-only pre-flight checks of cluster, repository and keys' },
  { name: 'verify', summary: 'check a backup\'s chunks against its manifest, or a cluster against a backup' },
]);
