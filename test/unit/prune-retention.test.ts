import { describe, expect, it } from 'vitest';
import { applyRetention, dayOf, hasRule, isoWeekOf, monthOf, type RetentionCandidate, type RetentionPolicy } from '../../src/commands/prune/retention.js';

/** One backup per ISO time, ids b0, b1 … in the order given. */
function backups(times: readonly string[], series = 'ks'): RetentionCandidate[] {
  return times.map((createdAt, i) => ({ backupId: `${series}-${String(i).padStart(3, '0')}`, createdAt, series }));
}

function keptTimes(candidates: readonly RetentionCandidate[], policy: RetentionPolicy): string[] {
  const kept = applyRetention(candidates, policy);
  return candidates.filter((c) => kept.has(c.backupId)).map((c) => c.createdAt).sort().reverse();
}

// Like restic's forget fixture: irregular backups, several a day, gaps of days and weeks.
const HISTORY = [
  '2026-01-03T10:00:00.000Z', '2026-01-04T10:00:00.000Z', '2026-01-05T09:00:00.000Z', '2026-01-05T23:59:59.000Z',
  '2026-01-12T08:00:00.000Z', '2026-01-30T12:00:00.000Z', '2026-02-01T00:00:00.000Z', '2026-02-01T12:00:00.000Z',
  '2026-02-15T12:00:00.000Z', '2026-03-01T06:00:00.000Z', '2026-03-01T18:00:00.000Z', '2026-03-02T06:00:00.000Z',
  '2026-03-08T06:00:00.000Z', '2026-03-09T06:00:00.000Z', '2026-03-10T06:00:00.000Z', '2026-03-10T07:00:00.000Z',
];

describe('retention policy (restic forget rules)', () => {
  it('buckets by UTC day, ISO week and month', () => {
    expect(dayOf(Date.parse('2026-11-22T23:59:59.999Z'))).toBe('2026-11-22');
    expect(monthOf(Date.parse('2026-12-31T23:59:59.999Z'))).toBe('2026-12');
    // ISO weeks: Monday starts a week; week 1 holds the year's first Thursday.
    expect(isoWeekOf(Date.parse('2024-12-30T00:00:00Z'))).toBe('2025-W01');
    expect(isoWeekOf(Date.parse('2021-01-03T12:00:00Z'))).toBe('2020-W53');
    expect(isoWeekOf(Date.parse('2021-01-04T00:00:00Z'))).toBe('2021-W01');
    expect(isoWeekOf(Date.parse('2026-12-31T12:00:00Z'))).toBe('2026-W53');
    expect(isoWeekOf(Date.parse('2027-01-01T12:00:00Z'))).toBe('2026-W53');
    expect(isoWeekOf(Date.parse('2026-03-08T23:59:59Z'))).toBe('2026-W10'); // a Sunday
    expect(isoWeekOf(Date.parse('2026-03-09T00:00:00Z'))).toBe('2026-W11'); // the Monday after
  });

  it('keep-last keeps the n newest', () => {
    expect(keptTimes(backups(HISTORY), { keepLast: 3 })).toEqual(['2026-03-10T07:00:00.000Z', '2026-03-10T06:00:00.000Z', '2026-03-09T06:00:00.000Z']);
    expect(keptTimes(backups(HISTORY), { keepLast: 100 })).toHaveLength(HISTORY.length);
  });

  it('keep-daily keeps the newest of each of the last n days that have backups, skipping days without', () => {
    expect(keptTimes(backups(HISTORY), { keepDaily: 5 })).toEqual([
      '2026-03-10T07:00:00.000Z', '2026-03-09T06:00:00.000Z', '2026-03-08T06:00:00.000Z', '2026-03-02T06:00:00.000Z', '2026-03-01T18:00:00.000Z',
    ]);
  });

  it('keep-weekly keeps the newest of each ISO week (Sunday belongs to the week before Monday)', () => {
    expect(keptTimes(backups(HISTORY), { keepWeekly: 4 })).toEqual([
      '2026-03-10T07:00:00.000Z', // W11
      '2026-03-08T06:00:00.000Z', // W10 (Sunday)
      '2026-03-01T18:00:00.000Z', // W09 (Sunday)
      '2026-02-15T12:00:00.000Z', // W07
    ]);
  });

  it('keep-monthly keeps the newest of each month', () => {
    expect(keptTimes(backups(HISTORY), { keepMonthly: 12 })).toEqual(['2026-03-10T07:00:00.000Z', '2026-02-15T12:00:00.000Z', '2026-01-30T12:00:00.000Z']);
  });

  it('keep-within keeps what is within the duration of the newest backup, not of now', () => {
    expect(keptTimes(backups(HISTORY), { keepWithinMs: 2 * 86_400_000 })).toEqual([
      '2026-03-10T07:00:00.000Z', '2026-03-10T06:00:00.000Z', '2026-03-09T06:00:00.000Z',
    ]); // 2026-03-08T06:00 is 2 days and 1 hour before the newest
    expect(keptTimes(backups(HISTORY), { keepWithinMs: 2 * 86_400_000 + 3_600_000 })).toContain('2026-03-08T06:00:00.000Z');
  });

  it('keeps the union of the rules, naming each rule that keeps a backup', () => {
    const candidates = backups(HISTORY);
    const kept = applyRetention(candidates, { keepLast: 2, keepDaily: 3, keepMonthly: 2 });
    const byTime = new Map(candidates.map((c) => [c.createdAt, kept.get(c.backupId)]));
    expect(byTime.get('2026-03-10T07:00:00.000Z')).toEqual(['last', 'daily', 'monthly']);
    expect(byTime.get('2026-03-10T06:00:00.000Z')).toEqual(['last']);
    expect(byTime.get('2026-03-09T06:00:00.000Z')).toEqual(['daily']);
    expect(byTime.get('2026-03-08T06:00:00.000Z')).toEqual(['daily']);
    expect(byTime.get('2026-02-15T12:00:00.000Z')).toEqual(['monthly']);
    expect(kept.size).toBe(5);
  });

  it('judges each series (keyspace) alone, and always keeps the newest of each', () => {
    const a = backups(['2026-03-01T00:00:00.000Z', '2026-03-02T00:00:00.000Z'], 'a');
    const b = backups(['2025-01-01T00:00:00.000Z', '2025-01-02T00:00:00.000Z'], 'b');
    const kept = applyRetention([...a, ...b], { keepLast: 1 });
    expect([...kept.keys()].sort()).toEqual(['a-001', 'b-001']);
    for (const policy of [{ keepLast: 1 }, { keepDaily: 1 }, { keepWeekly: 1 }, { keepMonthly: 1 }, { keepWithinMs: 1 }]) {
      expect(applyRetention(backups(HISTORY), policy).has(`ks-${String(HISTORY.length - 1).padStart(3, '0')}`)).toBe(true);
    }
  });

  it('orders by createdAt, not by the order given, and needs a rule', () => {
    const shuffled = backups([...HISTORY].reverse());
    expect(keptTimes(shuffled, { keepLast: 1 })).toEqual(['2026-03-10T07:00:00.000Z']);
    expect(hasRule({})).toBe(false);
    expect(hasRule({ keepWithinMs: 1000 })).toBe(true);
    expect(applyRetention(backups(HISTORY), {}).size).toBe(0);
  });
});
