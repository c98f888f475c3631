import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { RequestGate } from '../../src/pipeline/load/request-gate.js';

/** Lets every pending promise callback run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await nextTurn();
}

/** A clock the test moves by hand (ms). */
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

/** Starts `acquire` and records when it resolves or rejects. */
function track(p: Promise<void>): { state: () => 'pending' | 'acquired' | 'rejected'; error: () => unknown; done: Promise<void> } {
  let state: 'pending' | 'acquired' | 'rejected' = 'pending';
  let error: unknown;
  const done = p.then(() => { state = 'acquired'; }, (err: unknown) => { state = 'rejected'; error = err; });
  return { state: () => state, error: () => error, done };
}

/** Waits (a few ms at most, polling) until `cond` holds. */
async function until(cond: () => boolean, maxMs = 500): Promise<void> {
  for (let waited = 0; !cond(); waited++) {
    if (waited > maxMs) throw new Error('condition not reached');
    await sleep(1);
  }
}

describe('RequestGate: in-flight bound', () => {
  it('never lets more than maxInFlight acquire at once; each release admits exactly one waiter, in order', async () => {
    const gate = new RequestGate(2);
    const order: number[] = [];
    const acquires = [0, 1, 2, 3, 4].map((i) => gate.acquire(1).then(() => { order.push(i); }));
    await settle();
    expect(order).toEqual([0, 1]);
    expect(gate.inFlight).toBe(2);

    gate.release();
    await settle();
    expect(order).toEqual([0, 1, 2]);
    expect(gate.inFlight).toBe(2);

    gate.release();
    gate.release();
    await settle();
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(gate.inFlight).toBe(2);

    await Promise.all(acquires);
    gate.release();
    gate.release();
    expect(gate.inFlight).toBe(0);
  });

  it('treats maxInFlight below 1 as 1', async () => {
    const gate = new RequestGate(0);
    await gate.acquire(1);
    const second = track(gate.acquire(1));
    await settle();
    expect(second.state()).toBe('pending');
    gate.release();
    await second.done;
    expect(second.state()).toBe('acquired');
    expect(gate.inFlight).toBe(1);
  });

  it('rejects at once, without taking a slot, when the signal is already aborted and no slot is free', async () => {
    const gate = new RequestGate(1);
    await gate.acquire(1);
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(gate.acquire(1, controller.signal)).rejects.toThrow('stop');
    expect(gate.inFlight).toBe(1);
  });
});

describe('RequestGate: rate', () => {
  it('lets a full bucket through at once, then waits until the clock has refilled enough budget', async () => {
    const clock = manualClock();
    const gate = new RequestGate(10, 1000, clock.now); // 1000 rows/s: 1 row per ms
    await gate.acquire(1000); // the bucket starts full
    const next = track(gate.acquire(3)); // needs 3 ms of budget: sleeps 3 ms, re-checks the (frozen) clock
    await sleep(8);
    expect(next.state()).toBe('pending');

    clock.advance(2); // 2 rows of budget: not enough
    await sleep(8);
    expect(next.state()).toBe('pending');

    clock.advance(1);
    await until(() => next.state() !== 'pending');
    expect(next.state()).toBe('acquired');
    expect(gate.inFlight).toBe(2);
  });

  it('lets a request bigger than one second of rate through on a full bucket, and charges it all', async () => {
    const clock = manualClock();
    const gate = new RequestGate(10, 1000, clock.now);
    await gate.acquire(1005); // bigger than the bucket: goes through because the bucket is full, 5 rows in debt
    const next = track(gate.acquire(1));
    await sleep(8);
    expect(next.state()).toBe('pending');
    clock.advance(5); // pays the debt only
    await sleep(8);
    expect(next.state()).toBe('pending');
    clock.advance(1);
    await until(() => next.state() !== 'pending');
    expect(next.state()).toBe('acquired');
  });

  it('serves waiters on the budget in turn as the clock advances', async () => {
    const clock = manualClock();
    const gate = new RequestGate(10, 1000, clock.now);
    await gate.acquire(1000);
    const done: string[] = [];
    const a = gate.acquire(2).then(() => done.push('a'));
    await sleep(3);
    clock.advance(2);
    await a;
    const b = gate.acquire(2).then(() => done.push('b'));
    await sleep(3);
    expect(done).toEqual(['a']);
    clock.advance(2);
    await b;
    expect(done).toEqual(['a', 'b']);
  });

  it('abort while waiting for budget rejects and frees the slot for the next waiter', async () => {
    const clock = manualClock();
    const gate = new RequestGate(1, 1000, clock.now);
    await gate.acquire(1000);
    gate.release();
    expect(gate.inFlight).toBe(0);

    const controller = new AbortController();
    const waiting = track(gate.acquire(5, controller.signal)); // holds the only slot while it waits for budget
    await settle();
    expect(gate.inFlight).toBe(1);
    const queued = track(gate.acquire(1)); // waits for the slot
    await settle();

    controller.abort(new Error('stop'));
    await waiting.done;
    expect(waiting.state()).toBe('rejected');
    expect((waiting.error() as Error).name).toBe('AbortError');

    // The aborted acquire released its slot: the queued one takes it (once budget allows).
    clock.advance(10);
    await until(() => queued.state() !== 'pending');
    expect(queued.state()).toBe('acquired');
    expect(gate.inFlight).toBe(1);
  });
});

describe('RequestGate: changing the rate at runtime', () => {
  it('reports the rate, accepts undefined (unlimited) and refuses non-positive or non-finite rates', () => {
    const gate = new RequestGate(1);
    expect(gate.rate).toBeUndefined();
    gate.setRate(100);
    expect(gate.rate).toBe(100);
    gate.setRate(undefined);
    expect(gate.rate).toBeUndefined();
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => gate.setRate(bad)).toThrow(RangeError);
    expect(new RequestGate(1, 250).rate).toBe(250);
  });

  it('setting the same rate again keeps the budget', async () => {
    const clock = manualClock();
    const gate = new RequestGate(10, 1000, clock.now);
    gate.setRate(1000);
    await gate.acquire(1000); // still a full bucket
    expect(gate.inFlight).toBe(1);
  });

  it('going from unlimited to a rate starts with an empty bucket', async () => {
    const clock = manualClock();
    const gate = new RequestGate(10, undefined, clock.now);
    await gate.acquire(500); // unlimited: no budget needed
    gate.setRate(1000);
    const next = track(gate.acquire(2));
    await sleep(8);
    expect(next.state()).toBe('pending');
    clock.advance(2);
    await until(() => next.state() !== 'pending');
    expect(next.state()).toBe('acquired');
  });

  it('lowering the rate caps the saved budget at one second of the new rate and refills at the new rate', async () => {
    const clock = manualClock();
    const gate = new RequestGate(10, 1000, clock.now); // full bucket: 1000 rows
    gate.setRate(10);
    await gate.acquire(10); // one second of the new rate is left, not 1000 rows
    const next = track(gate.acquire(1)); // needs 100 ms at 10 rows/s
    await sleep(8);
    expect(next.state()).toBe('pending');
    clock.advance(50);
    await sleep(8);
    expect(next.state()).toBe('pending');
    clock.advance(50);
    await until(() => next.state() !== 'pending');
    expect(next.state()).toBe('acquired');
  });

  it('a waiter sleeping for budget adapts when the rate rises', async () => {
    const clock = manualClock();
    const gate = new RequestGate(10, 1, clock.now); // 1 row/s
    await gate.acquire(1);
    const next = track(gate.acquire(1)); // would need a whole second at 1 row/s
    await sleep(8);
    gate.setRate(1000);
    clock.advance(1); // 1 ms is one row at the new rate
    await until(() => next.state() !== 'pending', 2000);
    expect(next.state()).toBe('acquired');
  });

  it('switching to unlimited releases a waiter at once, even on a frozen clock', async () => {
    const clock = manualClock();
    const gate = new RequestGate(10, 1000, clock.now);
    await gate.acquire(1000);
    const next = track(gate.acquire(5));
    await sleep(8);
    expect(next.state()).toBe('pending');
    gate.setRate(undefined);
    await until(() => next.state() !== 'pending', 2000);
    expect(next.state()).toBe('acquired');
  });

  it('abort while sleeping for budget after a rate change still rejects with an AbortError and frees the slot', async () => {
    const clock = manualClock();
    const gate = new RequestGate(10, 1000, clock.now);
    await gate.acquire(1000);
    const controller = new AbortController();
    const waiting = track(gate.acquire(5, controller.signal));
    await settle();
    gate.setRate(500);
    await sleep(3);
    controller.abort(new Error('stop'));
    await waiting.done;
    expect(waiting.state()).toBe('rejected');
    expect((waiting.error() as Error).name).toBe('AbortError');
    expect(gate.inFlight).toBe(1);
  });
});

describe('RequestGate: pause', () => {
  it('holds new acquirers without giving them a slot, leaves running requests alone, and releases them in order on resume', async () => {
    const gate = new RequestGate(4);
    await gate.acquire(1); // running before the pause
    gate.setPaused(true);
    expect(gate.paused).toBe(true);
    const order: number[] = [];
    const acquires = [0, 1, 2].map((i) => gate.acquire(1).then(() => { order.push(i); }));
    await settle();
    expect(order).toEqual([]);
    expect(gate.inFlight).toBe(1);

    gate.release(); // the running request settles normally while paused
    expect(gate.inFlight).toBe(0);
    await settle();
    expect(order).toEqual([]);

    gate.setPaused(false);
    expect(gate.paused).toBe(false);
    await Promise.all(acquires);
    expect(order).toEqual([0, 1, 2]);
    expect(gate.inFlight).toBe(3);
  });

  it('a slot freed while paused is not used until resume', async () => {
    const gate = new RequestGate(1);
    await gate.acquire(1);
    const queued = track(gate.acquire(1)); // waits for the slot
    await settle();
    gate.setPaused(true);
    gate.release();
    await settle();
    expect(queued.state()).toBe('pending');
    expect(gate.inFlight).toBe(0);
    gate.setPaused(false);
    await queued.done;
    expect(queued.state()).toBe('acquired');
    expect(gate.inFlight).toBe(1);
  });

  it('also holds an acquirer that already had a slot and was waiting for budget', async () => {
    const clock = manualClock();
    const gate = new RequestGate(10, 1000, clock.now);
    await gate.acquire(1000);
    const next = track(gate.acquire(1));
    await sleep(3);
    gate.setPaused(true);
    clock.advance(100); // plenty of budget, but paused
    await sleep(8);
    expect(next.state()).toBe('pending');
    gate.setPaused(false);
    await until(() => next.state() !== 'pending');
    expect(next.state()).toBe('acquired');
  });

  it('abort while paused rejects with the signal reason, takes no slot, and does not strand the next waiter', async () => {
    const gate = new RequestGate(1);
    await gate.acquire(1);
    const controller = new AbortController();
    const first = track(gate.acquire(1, controller.signal));
    const second = track(gate.acquire(1));
    await settle();
    gate.setPaused(true);
    gate.release(); // wakes `first` for the slot; it finds the gate paused and waits
    await settle();
    controller.abort(new Error('stop'));
    await first.done;
    expect(first.state()).toBe('rejected');
    expect((first.error() as Error).message).toBe('stop');
    expect(gate.inFlight).toBe(0);

    gate.setPaused(false);
    await second.done;
    expect(second.state()).toBe('acquired');
    expect(gate.inFlight).toBe(1);
  });

  it('rejects at once when paused and the signal is already aborted; pausing twice or resuming when running changes nothing', async () => {
    const gate = new RequestGate(2);
    gate.setPaused(false);
    expect(gate.paused).toBe(false);
    gate.setPaused(true);
    gate.setPaused(true);
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(gate.acquire(1, controller.signal)).rejects.toThrow('stop');
    expect(gate.inFlight).toBe(0);
    gate.setPaused(false);
    await gate.acquire(1);
    expect(gate.inFlight).toBe(1);
  });
});
