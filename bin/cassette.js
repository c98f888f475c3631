#!/usr/bin/env -S node --max-old-space-size=384
// The heap cap keeps peak memory flat over long runs: without it V8 on a large machine lets garbage
// grow to ~4x the live heap before collecting (docs/benchmarks.md). 384 MiB leaves room for
// --parallel 4 x 2 pages, each of at most ~4 MiB of rows whatever their width (page-sizer.ts); for
// more, run `node --max-old-space-size=<MiB> $(command -v cassette) …`.
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
