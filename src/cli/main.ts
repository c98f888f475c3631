/**
 * Process entry point: the only module that touches process.argv, stdout/stderr and exit codes.
 */
import { readFileSync } from 'node:fs';
import { buildProgram } from './program.js';
import { describeFailure } from './exit.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram(packageVersion()).parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    const failure = describeFailure(err);
    for (const line of failure.lines) process.stderr.write(`${line}\n`);
    return failure.exitCode;
  }
}

process.exitCode = await main(process.argv.slice(2));
