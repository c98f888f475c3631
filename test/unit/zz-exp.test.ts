import { setImmediate as nextTurn } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { readRange } from '../../src/pipeline/export/read-range.js';
import { FakeSession } from '../support/fakes/fake-session.js';
it('already aborted', async () => {
  const unhandled: unknown[] = [];
  process.on('unhandledRejection', (r) => unhandled.push(r));
  const s = new FakeSession().answer('t', []).failCall(1);
  const err = await (async () => { for await (const _p of readRange(s, 'SELECT t', [0n, 1n], { fetchSize: 3, consistency: 1, signal: AbortSignal.abort(new Error('stop')) })) { /* */ } })().then(() => undefined, (e) => e);
  for (let i = 0; i < 10; i++) await nextTurn();
  console.log('err', err, 'calls', s.calls.length, 'unhandled', unhandled);
  expect(unhandled).toEqual([]);
});
