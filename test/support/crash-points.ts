/**
 * Running the built CLI and SIGKILLing it at a point defined by what it has written (the crash
 * matrix, docs/testing.md): a point is a condition on the repository or the target — "backup.json
 * exists", "k range markers are finished", "the target holds ≥ n rows" — polled until it holds;
 * then SIGKILL (no cleanup runs), and the run must have died by the signal, not finished first.
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { startCli } from './cassette.js';

/** A started CLI with its output collected and its end observable. */
export interface RunningCli {
  readonly child: ChildProcess;
  readonly ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited(): boolean;
  stdout(): string;
  stderr(): string;
}

export function start(args: readonly string[], env: NodeJS.ProcessEnv): RunningCli {
  const child = startCli(args, env);
  let out = '';
  let err = '';
  let done = false;
  child.stdout?.on('data', (chunk: Buffer) => { out += chunk.toString('utf8'); });
  child.stderr?.on('data', (chunk: Buffer) => { err += chunk.toString('utf8'); });
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  return { child, ended, exited: () => done, stdout: () => out, stderr: () => err };
}

/** Where each kill of a file landed, for its summary (printed by the test, quoted in docs/testing.md). */
export interface KillPoint {
  readonly command: string;
  readonly point: string;
  /** What the repository (or target) held right after the kill. */
  readonly landed: string;
}

/**
 * Polls `reached` (every few milliseconds) until it holds, then SIGKILLs the run and waits for its
 * exit. Fails when the run ends by itself first — the point was never reached while it ran — or
 * after `timeoutMs`.
 */
export async function killWhen(job: RunningCli, what: string, reached: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await reached())) {
    if (job.exited()) throw new Error(`the run ended before ${what}:\n${job.stderr()}`);
    if (Date.now() > deadline) {
      job.child.kill('SIGKILL');
      throw new Error(`timed out waiting for ${what}`);
    }
    await sleep(3);
  }
  job.child.kill('SIGKILL');
  const end = await job.ended;
  expect(end.signal, `the run exited by itself (${String(end.code)}) instead of being killed at ${what}:\n${job.stderr()}`).toBe('SIGKILL');
}

/** Waits for a run to finish and returns its parsed --json report; fails with its stderr otherwise. */
export async function finished<T>(job: RunningCli, status = 0): Promise<T> {
  const end = await job.ended;
  expect(end.code, job.stderr()).toBe(status);
  return JSON.parse(job.stdout()) as T;
}
