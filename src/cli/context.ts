import type { Failure } from './exit.js';

/**
 * The process as the program sees it, in a module of its own: program.ts builds the subcommands,
 * and each subcommand's wiring takes this context without importing program.ts back.
 */

/**
 * How main.ts writes what it says itself — the notice of a first SIGINT/SIGTERM and the failure
 * that ends a run: text lines, unless a subcommand run with --log-format json sets these
 * (observe/observability.ts).
 */
export interface FailureOutput {
  json?: (failure: Failure) => void;
  notice?: (line: string) => void;
}

/** What the program needs from its process; main.ts passes the real one, tests their own. */
export interface ProgramContext {
  readonly version: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The user's arguments, for building resume hints. */
  readonly argv: readonly string[];
  /** Aborted on SIGINT/SIGTERM. */
  readonly signal: AbortSignal;
  readonly stdout: (text: string) => void;
  /** Where the final failure goes; absent in tests that do not look at it. */
  readonly failureOutput?: FailureOutput;
}
