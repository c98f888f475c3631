/**
 * Process entry point: the only module that touches process.argv, stdout/stderr, signals and exit
 * codes.
 */
import { readFileSync } from 'node:fs';
import { buildProgram } from './program.js';
import type { FailureOutput } from './context.js';
import { describeFailure } from './exit.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

async function main(argv: readonly string[]): Promise<number> {
  // The SDK is pinned (docs/decisions/0002); its warning about future versions is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const controller = new AbortController();
  const failureOutput: FailureOutput = {};
  let signals = 0;
  const onSignal = (name: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      const line = `${name} received; stopping after abandoning ranges in flight (again to quit at once)`;
      if (failureOutput.notice !== undefined) failureOutput.notice(line);
      else process.stderr.write(`cassette: ${line}\n`);
      controller.abort(new Error(`interrupted by ${name}`));
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const program = buildProgram({
      version: packageVersion(),
      env: process.env,
      argv,
      signal: controller.signal,
      stdout: (text) => process.stdout.write(text),
      failureOutput,
    });
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    const reason: unknown = controller.signal.reason;
    const failure = describeFailure(err, controller.signal.aborted ? (reason instanceof Error ? reason.message : 'interrupted') : undefined);
    if (failureOutput.json !== undefined) failureOutput.json(failure);
    else for (const line of failure.lines) process.stderr.write(`${line}\n`);
    return failure.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

process.exitCode = await main(process.argv.slice(2));
// Everything is written and closed by now; a socket a driver failed to close (cassandra.Client
// after a node restart, see connect.ts) must not keep a finished command alive. Unref'd: a clean
// exit does not wait for it.
setTimeout(() => process.exit(), 5_000).unref();
