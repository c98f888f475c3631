/**
 * Secrets the rotation config must not hold, checked before the schema so the message says why: a
 * `password` key anywhere, and a literal key value under `provider` (`new_key: "…"`, `old_key: …`,
 * `key: …`). Keys come only from environment variables or files, the password from
 * CASSETTE_PASSWORD or a password file.
 */
import type { Path, Problem } from './config-problems.js';

const PASSWORD_REFUSED =
  'secrets never go in config files; set CASSETTE_PASSWORD, or name a file whose first line is the password with cluster.password_file or --password-file';
const LITERAL_KEY_REFUSED =
  'key values never go in config files; keys come only from environment variables (new_key_env, old_key_env, env:) or files (new_key_file, old_key_file, file:)';
const LITERAL_KEY_NAMES = new Set(['key', 'old_key', 'new_key']);

export function refusedSecrets(root: unknown): Problem[] {
  const problems: Problem[] = [];
  const visit = (value: unknown, path: Path, inProvider: boolean): void => {
    if (value === null || typeof value !== 'object') return;
    for (const [key, child] of Object.entries(value)) {
      const at = [...path, Array.isArray(value) ? Number(key) : key];
      const isLiteral = child !== null && typeof child !== 'object';
      if (!Array.isArray(value) && key === 'password') {
        problems.push({ path: at, message: PASSWORD_REFUSED, at: 'key', hint: 'remove the password from the file' });
      } else if (!Array.isArray(value) && inProvider && LITERAL_KEY_NAMES.has(key) && isLiteral) {
        problems.push({ path: at, message: LITERAL_KEY_REFUSED, at: 'key', hint: 'remove the key from the file and name its environment variable or file instead' });
      } else {
        visit(child, at, inProvider || (path.length === 0 && key === 'provider'));
      }
    }
  };
  visit(root, [], false);
  return problems;
}
