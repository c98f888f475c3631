/** The CassetteError a synchronous call throws; fails the test when it throws nothing or something else. */
import { CassetteError } from '../../src/errors.js';

export function thrown(fn: () => unknown): CassetteError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CassetteError) return err;
    throw err;
  }
  throw new Error('expected a CassetteError');
}
