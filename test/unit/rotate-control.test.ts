import { describe, expect, it } from 'vitest';
import { ControlReader, sendControl } from '../../src/pipeline/rotate/control.js';
import { MemoryStore } from '../support/fakes/memory-store.js';

const JOB = 'j20261122T120000Z-abcdef';
const at = (ms: number): string => new Date(ms).toISOString();

describe('rotation control documents', () => {
  it('folds pause, resume and throttle in time order, reading each document once', async () => {
    const store = new MemoryStore();
    const reader = new ControlReader(store, JOB);
    expect(await reader.poll()).toEqual([]);
    expect(reader.state).toEqual({ paused: false, rate: undefined });

    await sendControl(store, JOB, { action: 'pause', at: at(1000) }, 1000);
    await sendControl(store, JOB, { action: 'throttle', at: at(2000), rate: 500 }, 2000);
    expect((await reader.poll()).map((c) => c.action)).toEqual(['pause', 'throttle']);
    expect(reader.state).toEqual({ paused: true, rate: 500 });
    expect(await reader.poll()).toEqual([]);

    await sendControl(store, JOB, { action: 'resume', at: at(3000) }, 3000);
    await sendControl(store, JOB, { action: 'throttle', at: at(4000), rate: null }, 4000);
    await reader.poll();
    expect(reader.state).toEqual({ paused: false, rate: null });

    // A reader started later sees the same state from the history.
    const late = new ControlReader(store, JOB);
    await late.poll();
    expect(late.state).toEqual(reader.state);
  });

  it('two commands in the same millisecond are both kept (write-once keys never collide)', async () => {
    const store = new MemoryStore();
    await sendControl(store, JOB, { action: 'pause', at: at(5) }, 5);
    await sendControl(store, JOB, { action: 'resume', at: at(5) }, 5);
    const reader = new ControlReader(store, JOB);
    expect(await reader.poll()).toHaveLength(2);
  });
});
