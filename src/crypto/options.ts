/** Checking a provider's `options` block against the names it understands. */
import { CassetteError } from '../errors.js';

/** Throws INVALID_INPUT naming every option the provider does not know (a typo must not be ignored). */
export function rejectUnknownOptions(provider: string, options: Readonly<Record<string, unknown>>, known: readonly string[]): void {
  const unknown = Object.keys(options).filter((name) => !known.includes(name));
  if (unknown.length === 0) return;
  throw new CassetteError('INVALID_INPUT', `the ${provider} provider does not know the option${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')}`, {
    hint: known.length === 0 ? `${provider} takes no options` : `${provider} options are: ${known.join(', ')}`,
  });
}
