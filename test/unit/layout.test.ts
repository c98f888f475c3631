/**
 * The layout docs/architecture.md promises, checked on the code: who may import whom (the rules in
 * .dependency-cruiser.cjs, type-only imports included, no circles), which files may import which
 * SDK, small folders and files, and every folder under src/ described in architecture.md.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult, type IForbiddenRuleType } from 'dependency-cruiser';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const rules = createRequire(import.meta.url)(join(root, '.dependency-cruiser.cjs')) as { forbidden: IForbiddenRuleType[] };

/** The most source files a folder under src/ holds directly, and the most lines a source file has. */
const MAX_FILES_PER_FOLDER = 12;
const MAX_LINES_PER_FILE = 400;

/** Every folder under src/ (itself included), relative to the repository root, with its .ts files. */
function sourceFolders(): { folder: string; files: string[] }[] {
  const out: { folder: string; files: string[] }[] = [];
  const walk = (dir: string): void => {
    const entries = readdirSync(dir, { withFileTypes: true });
    out.push({ folder: relative(root, dir), files: entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => join(dir, e.name)) });
    for (const e of entries) if (e.isDirectory()) walk(join(dir, e.name));
  };
  walk(join(root, 'src'));
  return out;
}

describe('layout', () => {
  it('keeps every import rule of .dependency-cruiser.cjs: layers, no circles, SDKs only in their adapters', async () => {
    const result = await cruise(
      ['src'],
      { baseDir: root, validate: true, ruleSet: { forbidden: rules.forbidden }, tsPreCompilationDeps: true, doNotFollow: { path: '^node_modules' }, outputType: 'json' },
      {},
      { tsConfig: extractTSConfig(join(root, 'tsconfig.json')) },
    );
    const output = JSON.parse(result.output as string) as ICruiseResult;
    const violations = output.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}${v.cycle ? ` (cycle: ${v.cycle.map((c) => c.name).join(' → ')})` : ''}`);
    expect(violations).toEqual([]);
    expect(output.summary.totalCruised).toBeGreaterThan(100); // it really read the code
  }, 60_000);

  it(`has no folder under src/ holding more than ${MAX_FILES_PER_FOLDER} source files directly`, () => {
    const crowded = sourceFolders().filter((f) => f.files.length > MAX_FILES_PER_FOLDER).map((f) => `${f.folder}: ${f.files.length}`);
    expect(crowded).toEqual([]);
  });

  it(`has no source file over ${MAX_LINES_PER_FILE} lines`, () => {
    const long = sourceFolders()
      .flatMap((f) => f.files)
      .map((file) => ({ file: relative(root, file), lines: readFileSync(file, 'utf8').split('\n').length - 1 }))
      .filter((f) => f.lines > MAX_LINES_PER_FILE)
      .map((f) => `${f.file}: ${f.lines}`);
    expect(long).toEqual([]);
  });

  it('describes every folder under src/ in docs/architecture.md', () => {
    const doc = readFileSync(join(root, 'docs', 'architecture.md'), 'utf8');
    const missing = sourceFolders()
      .map((f) => `${f.folder}/`)
      .filter((folder) => folder !== 'src/' && !doc.includes(`\`${folder}\``));
    expect(missing).toEqual([]);
  });
});
