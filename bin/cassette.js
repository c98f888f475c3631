#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm run build`, which the README's
// set-up commands run). Kept as plain JS so `npx cassette` works without a TypeScript loader.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('cassette: not built yet: run `npm run build` in the repository first (exit 2)\n');
  process.exit(2);
}
await import(entry.href);
