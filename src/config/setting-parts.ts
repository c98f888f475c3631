/**
 * Building blocks shared by the rotation config's settings modules (config-document.ts,
 * provider-settings.ts, table-settings.ts): `section` (a mapping whose unknown keys are reported
 * with the known ones, for did-you-mean), the scalar validators of the document as written
 * (snake_case), and the context normalization reports its problems into. Messages are
 * "expected …"; config-problems.ts adds ", got …" from the value found.
 */
import { z } from 'zod';
import type { Path, Problem } from './config-problems.js';

/** A mapping with exactly these settings: any other key is reported as an unknown setting. */
export function section<S extends z.ZodRawShape>(shape: S, expected: string) {
  const known = Object.keys(shape);
  const unknownSetting = z.unknown().superRefine((_value, ctx) => {
    ctx.addIssue({ code: 'custom', message: 'unknown setting', params: { known } });
  });
  return z.object(shape, { error: expected }).catchall(unknownSetting);
}

export const text = (expected: string) => z.string({ error: expected }).min(1, { error: expected });
export const nameList = (expected: string, min: number) => z.array(text('expected a column name'), { error: expected }).min(min, { error: expected });
export const integer = (expected: string, min: number, max: number) =>
  z.number({ error: expected }).int({ error: expected }).min(min, { error: expected }).max(max, { error: expected });
export const positive = (expected: string) => z.number({ error: expected }).positive({ error: expected });
export const flag = z.boolean({
  error: (issue) =>
    typeof issue.input === 'string' && /^(yes|no|on|off|y|n)$/i.test(issue.input)
      ? `expected true or false, got ${JSON.stringify(issue.input)} (YAML 1.2 reads it as text)`
      : 'expected true or false',
});
export const filePath = text('expected a file path');

/** What normalization needs besides the parsed settings, and where it reports problems. */
export interface NormalizeContext {
  readonly file: string;
  /** The config file's folder: the base of relative paths. */
  readonly base: string;
  /** The source text of a scalar, to convert numeric key versions exactly as written. */
  readonly source: (path: Path) => string | undefined;
  readonly problems: Problem[];
}
