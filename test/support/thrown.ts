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

/** The CassetteError a promise rejects with; fails the test when it resolves or rejects with something else. */
export async function rejection(promise: unknown): Promise<CassetteError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof CassetteError) return err;
    throw err;
  }
  throw new Error('expected a rejection with a CassetteError');
}
