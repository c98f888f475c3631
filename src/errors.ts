/**
 * Typed errors. Every failure an operator can act on is a {@link CassetteError} with a stable
 * `code`, the process exit status it maps to, and a `hint` that says what to do next. The CLI turns
 * them into exit codes in exactly one place (src/cli/exit.ts); nothing else calls process.exit.
 *
 * The table of exit statuses is published in docs/exit-codes.md; keep the two in step.
 */

/** Process exit statuses. Stable: scripts and schedulers depend on them. */
export const ExitCode = {
  ok: 0,
  /** A bug: an error that is not a CassetteError. */
  internal: 1,
  /** Bad command line: unknown flag or command, missing argument, a command not built yet. */
  usage: 2,
  /** Input or configuration that cannot work: unknown keyspace/table, bad repository URL, missing secret. */
  invalidInput: 3,
  /** The Cassandra cluster cannot be reached or refuses us (connection, authentication, TLS), or cannot meet the consistency level. */
  clusterUnavailable: 4,
  /** The backup repository cannot be reached, read or written. */
  repositoryUnavailable: 5,
  /** A backup is missing, incomplete, corrupt, or in a format version this build cannot read. */
  backupInvalid: 6,
  /** Finished, but some rows were rejected (written to the run's rejects file in the repository). */
  completedWithErrors: 7,
  /** Aborted because more rows failed than --max-errors allows; finished chunks are kept. */
  tooManyErrors: 8,
  /** --verify found the target different from what was restored. */
  verifyMismatch: 9,
  /** The key provider failed (a module provider's service is down); nothing was written with a bad value. */
  providerUnavailable: 10,
  /** A rotation's plan no longer matches the cluster: the schema changed since the job was planned. */
  schemaDrift: 11,
  /** `diff` or `drill` found the compared data different (rows missing, extra or different). */
  differencesFound: 12,
  /** `verify` found objects of a backup missing, damaged or inconsistent with its manifest. */
  backupDamaged: 13,
  /** Another live cassette process holds the lease of the backup, restore or rotation this command would write. */
  inUse: 14,
  /** Interrupted by SIGINT/SIGTERM; finished work is kept and the run can be resumed. */
  interrupted: 130,
} as const;

export type ExitStatus = (typeof ExitCode)[keyof typeof ExitCode];

/** Stable machine-readable error codes, one per kind of failure. */
export type ErrorCode =
  | 'USAGE'
  | 'NOT_IMPLEMENTED'
  | 'INVALID_INPUT'
  | 'CLUSTER_UNAVAILABLE'
  | 'REPOSITORY_UNAVAILABLE'
  | 'BACKUP_INVALID'
  | 'COMPLETED_WITH_ERRORS'
  | 'TOO_MANY_ERRORS'
  | 'VERIFY_MISMATCH'
  | 'PROVIDER_UNAVAILABLE'
  | 'SCHEMA_DRIFT'
  | 'DIFFERENCES_FOUND'
  | 'BACKUP_DAMAGED'
  | 'IN_USE'
  | 'INTERRUPTED';

const exitByCode: Readonly<Record<ErrorCode, ExitStatus>> = {
  USAGE: ExitCode.usage,
  NOT_IMPLEMENTED: ExitCode.usage,
  INVALID_INPUT: ExitCode.invalidInput,
  CLUSTER_UNAVAILABLE: ExitCode.clusterUnavailable,
  REPOSITORY_UNAVAILABLE: ExitCode.repositoryUnavailable,
  BACKUP_INVALID: ExitCode.backupInvalid,
  COMPLETED_WITH_ERRORS: ExitCode.completedWithErrors,
  TOO_MANY_ERRORS: ExitCode.tooManyErrors,
  VERIFY_MISMATCH: ExitCode.verifyMismatch,
  PROVIDER_UNAVAILABLE: ExitCode.providerUnavailable,
  SCHEMA_DRIFT: ExitCode.schemaDrift,
  DIFFERENCES_FOUND: ExitCode.differencesFound,
  BACKUP_DAMAGED: ExitCode.backupDamaged,
  IN_USE: ExitCode.inUse,
  INTERRUPTED: ExitCode.interrupted,
};

/** An error the operator can act on. `message` names the problem in one line; `hint` says what to do. */
export class CassetteError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CassetteError';
    this.code = code;
    this.hint = options.hint;
  }

  /** The process exit status this error maps to. */
  get exitCode(): ExitStatus {
    return exitByCode[this.code];
  }
}

/** A planned subcommand that this build does not have yet. */
export function notImplemented(command: string): CassetteError {
  return new CassetteError('NOT_IMPLEMENTED', `\`cassette ${command}\` is planned but not built yet`, {
    hint: 'see `cassette --help` for the commands this build has',
  });
}
