/**
 * The rotation config (`--config rekey.yaml`): YAML in, a validated, normalized, readonly
 * {@link RotationConfig} out. cassandra-rekey's config.yaml is accepted exactly as its README
 * shows it; cassette's additions are optional. docs/config.md ("Rotation config") documents every
 * setting; this file must accept exactly those and nothing else.
 *
 * Defaults: `cluster.port` 9042; `key_version_column` `key_version` (explicit `null`: the tables
 * have none); per table `preserve_ttl` true, `preserve_writetime` true, `use_lwt_guard` false,
 * `consistency` LOCAL_QUORUM for read and write; `execution.workers` 4,
 * `execution.pause_on_backpressure` false. Relative paths (`cluster.password_file`, key files,
 * `provider.module`, a `repo` directory) are resolved against the config file's folder.
 *
 * Secrets never come from the file: a `password` key anywhere, and a literal key value under
 * `provider` (`new_key: "…"`, `old_key: …`, `key: …`), are refused. Keys come only from
 * environment variables or files.
 *
 * Errors: CassetteError('INVALID_INPUT') with one line per problem (the first five, in document
 * order, joined by "; "): `file:line:col: path.in[0].document: expected …, got …`. Messages
 * never repeat a string value from the file (it could be a secret), except the values of
 * enumerations (provider type, consistency level).
 *
 * This file is the entry point: it reads and parses the YAML, runs the checks and reports the
 * problems found. The settings live in config-document.ts (top level, cluster, state, execution),
 * provider-settings.ts and table-settings.ts; problems and where they are, in config-problems.ts;
 * the secrets refused, in refused-secrets.ts.
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isScalar, LineCounter, parseDocument } from 'yaml';
import { CassetteError } from '../errors.js';
import { configSchema, normalize } from './config-document.js';
import { DEFAULT_HINT, formatPath, fromIssue, joinReported, startsWith, walk, type Path, type Problem } from './config-problems.js';
import { refusedSecrets } from './refused-secrets.js';
import type { RotationConfig } from './rotation-types.js';

export { DEFAULT_KEY_VERSION_COLUMN } from './config-document.js';
export { PROVIDER_TYPES } from './provider-settings.js';

/**
 * Reads and parses the rotation config at `path`. Rejects with CassetteError('INVALID_INPUT')
 * naming the path when the file cannot be read, and as {@link parseRotationConfig} otherwise.
 */
export async function loadRotationConfig(path: string): Promise<RotationConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason = READ_ERRORS[(err as NodeJS.ErrnoException).code ?? ''] ?? (err as Error).message;
    throw new CassetteError('INVALID_INPUT', `cannot read the rotation config ${path}: ${reason}`, {
      hint: 'check the --config path (relative paths are resolved against the working directory)',
    });
  }
  return parseRotationConfig(text, path);
}

const READ_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
};

/**
 * Parses, validates and normalizes the YAML `text` of a rotation config; `file` is its path, used
 * in messages and as the base of the relative paths it contains. Pure apart from that: reads no
 * file and no environment variable. Throws CassetteError('INVALID_INPUT') for anything invalid.
 */
export function parseRotationConfig(text: string, file: string): RotationConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const where = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => `${where(e.pos[0])}: invalid YAML: ${e.message.split('\n')[0] ?? ''}`);
    throw new CassetteError('INVALID_INPUT', joinReported(lines), { hint: 'fix the YAML syntax: indentation, quoting, unique keys' });
  }
  if (doc.contents === null) {
    throw new CassetteError('INVALID_INPUT', `${file}:1:1: the file is empty; expected the settings cluster, provider and tables`, { hint: DEFAULT_HINT });
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (err) {
    throw new CassetteError('INVALID_INPUT', `${file}:1:1: invalid YAML: ${(err as Error).message}`, { hint: DEFAULT_HINT });
  }

  const problems = refusedSecrets(value);
  const parsed = configSchema.safeParse(value);
  if (!parsed.success) {
    const refused = problems.map((p) => p.path);
    const issues = parsed.error.issues;
    // With an unsupported provider type, the provider's other settings are for that provider: not typos.
    const typeFailed = issues.some((i) => i.path.length === 2 && i.path[0] === 'provider' && i.path[1] === 'type');
    for (const issue of issues) {
      if (refused.some((r) => startsWith(issue.path, r))) continue;
      const problem = fromIssue(issue, value);
      if (typeFailed && problem.at === 'key' && issue.path.length === 2 && issue.path[0] === 'provider') continue;
      problems.push(problem);
    }
  }
  if (problems.length === 0 && parsed.success) {
    const source = (path: Path): string | undefined => {
      const node = walk(doc, path).node;
      return isScalar(node) && typeof node.source === 'string' ? node.source : undefined;
    };
    const config = normalize(parsed.data, { file, base: dirname(file), source, problems });
    if (problems.length === 0) return config;
  }
  const located = problems
    .map((p) => ({ p, offset: walk(doc, p.path, p.at).offset }))
    .sort((a, b) => a.offset - b.offset);
  const lines = located.map(({ p, offset }) => `${where(offset)}: ${p.path.length === 0 ? '' : `${formatPath(p.path)}: `}${p.message}`);
  throw new CassetteError('INVALID_INPUT', joinReported(lines), { hint: located.find(({ p }) => p.hint !== undefined)?.p.hint ?? DEFAULT_HINT });
}
