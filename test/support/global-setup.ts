/**
 * Integration-test global setup: use the services named in CASSETTE_TEST_* variables if they are
 * all set; otherwise start them with `scripts/services up --secure --second --cluster --version 4.1` and, afterwards, stop only
 * what this run started. If the services cannot start, setup throws and the run fails with the
 * reason: integration tests never skip silently.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { settingsFromEnv, type ServiceSettings } from './settings.js';

declare module 'vitest' {
  export interface ProvidedContext {
    services: ServiceSettings;
  }
}

const servicesScript = fileURLToPath(new URL('../../scripts/services', import.meta.url));

function runServices(args: readonly string[]): string {
  const result = spawnSync(servicesScript, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (result.error) throw new Error(`could not run scripts/services ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`scripts/services ${args.join(' ')} failed with exit ${result.status}; its messages are above. Integration tests need the real services.`);
  }
  return result.stdout;
}

export default function setup(project: TestProject): (() => void) | undefined {
  const fromEnv = settingsFromEnv(process.env);
  if (fromEnv) {
    project.provide('services', fromEnv);
    return undefined;
  }
  const out = JSON.parse(runServices(['up', '--secure', '--second', '--cluster', '--version', '4.1', '--json'])) as { started: string[]; env: Record<string, string> };
  const settings = settingsFromEnv(out.env);
  if (!settings) throw new Error(`scripts/services up did not report every setting; got: ${Object.keys(out.env).join(', ')}`);
  project.provide('services', settings);
  return () => {
    if (out.started.length > 0) runServices(['down', ...out.started]);
  };
}
