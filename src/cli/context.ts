/**
 * The process as the program sees it, in a module of its own: program.ts builds the subcommands,
 * and each subcommand's wiring takes this context without importing program.ts back.
 */

/** What the program needs from its process; main.ts passes the real one, tests their own. */
export interface ProgramContext {
  readonly version: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The user's arguments, for building resume hints. */
  readonly argv: readonly string[];
  /** Aborted on SIGINT/SIGTERM. */
  readonly signal: AbortSignal;
  readonly stdout: (text: string) => void;
}
