/** Which write failures prove that no node received the request (so a counter increment may be sent again). */
import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import { isNoHostAvailable, wasNeverSent } from '../../src/cassandra/writes/write-errors.js';

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9042'), { code: 'ECONNREFUSED' });

describe('wasNeverSent', () => {
  it('is true when the driver had no host to try, or every host refused the connection', () => {
    expect(wasNeverSent(new cassandra.errors.NoHostAvailableError({}))).toBe(true);
    expect(wasNeverSent(new cassandra.errors.NoHostAvailableError({ '127.0.0.1:9042': refused }))).toBe(true);
  });

  it('is false when a host may have received the request (a timeout, a connection lost mid-request)', () => {
    const timedOut = new cassandra.errors.OperationTimedOutError('timed out', '127.0.0.1:9042');
    expect(wasNeverSent(new cassandra.errors.NoHostAvailableError({ '127.0.0.1:9042': timedOut }))).toBe(false);
    expect(wasNeverSent(new cassandra.errors.NoHostAvailableError({ a: refused, b: new Error('Socket was closed') }))).toBe(false);
    expect(wasNeverSent(timedOut)).toBe(false);
    expect(wasNeverSent(new Error('connect ECONNREFUSED'))).toBe(false);
  });

  it('isNoHostAvailable tells the driver outage apart from other errors', () => {
    expect(isNoHostAvailable(new cassandra.errors.NoHostAvailableError({}))).toBe(true);
    expect(isNoHostAvailable(new Error('x'))).toBe(false);
  });
});
