/**
 * The retention policy of `cassette prune`, restic's `forget` rules over complete backups: a pure
 * function from backups and a policy to the backups kept, each with the rules that keep it.
 *
 * Backups are grouped into series (by default one per keyspace: backups of different keyspaces
 * are different things) and each series is judged alone, newest first by `createdAt` (UTC):
 * - `keepLast` N: the N newest;
 * - `keepDaily` / `keepWeekly` / `keepMonthly` D: the newest backup of each of the D most recent
 *   days / ISO weeks / months that have a backup (days without backups do not count);
 * - `keepWithinMs`: every backup created within that long before the series' newest backup (not
 *   before now: a repository that stops getting backups does not empty itself).
 * A backup is kept when any rule keeps it. Each rule, when given, is at least 1 and keeps the
 * newest backup, so the newest complete backup of every series is always kept.
 */

export interface RetentionPolicy {
  readonly keepLast?: number;
  readonly keepDaily?: number;
  readonly keepWeekly?: number;
  readonly keepMonthly?: number;
  readonly keepWithinMs?: number;
}

export type KeepRule = 'last' | 'daily' | 'weekly' | 'monthly' | 'within';

export interface RetentionCandidate {
  readonly backupId: string;
  /** ISO-8601 UTC. */
  readonly createdAt: string;
  /** The series the backup belongs to (its keyspace). */
  readonly series: string;
}

/** True when the policy has at least one rule (a bare prune must not delete everything). */
export function hasRule(policy: RetentionPolicy): boolean {
  return policy.keepLast !== undefined || policy.keepDaily !== undefined || policy.keepWeekly !== undefined ||
    policy.keepMonthly !== undefined || policy.keepWithinMs !== undefined;
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `2026-11-22`: the UTC day. */
export function dayOf(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** `2026-W47`: the ISO-8601 week (weeks start on Monday; week 1 holds the year's first Thursday), UTC. */
export function isoWeekOf(ms: number): string {
  const d = new Date(ms);
  const thursday = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  thursday.setUTCDate(thursday.getUTCDate() + 4 - (thursday.getUTCDay() || 7));
  const year = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 / 7) + 1;
  return `${year}-W${pad(week)}`;
}

/** `2026-11`: the UTC month. */
export function monthOf(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`;
}

/** The backups the policy keeps, by id, with every rule that keeps each; the others may go. */
export function applyRetention(candidates: readonly RetentionCandidate[], policy: RetentionPolicy): Map<string, KeepRule[]> {
  const kept = new Map<string, KeepRule[]>();
  const series = new Map<string, RetentionCandidate[]>();
  for (const c of candidates) series.set(c.series, [...(series.get(c.series) ?? []), c]);
  for (const members of series.values()) {
    const newestFirst = [...members].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || (a.backupId < b.backupId ? 1 : -1));
    const buckets: { rule: KeepRule; count: number | undefined; bucket: (ms: number, index: number) => string; last?: string }[] = [
      { rule: 'last', count: policy.keepLast, bucket: (_ms, index) => String(index) },
      { rule: 'daily', count: policy.keepDaily, bucket: dayOf },
      { rule: 'weekly', count: policy.keepWeekly, bucket: isoWeekOf },
      { rule: 'monthly', count: policy.keepMonthly, bucket: monthOf },
    ];
    const newest = newestFirst[0] === undefined ? 0 : Date.parse(newestFirst[0].createdAt);
    newestFirst.forEach((c, index) => {
      const ms = Date.parse(c.createdAt);
      const rules: KeepRule[] = [];
      for (const b of buckets) {
        if (b.count === undefined || b.count <= 0) continue;
        const value = b.bucket(ms, index);
        if (value === b.last) continue;
        b.last = value;
        b.count--;
        rules.push(b.rule);
      }
      if (policy.keepWithinMs !== undefined && newest - ms <= policy.keepWithinMs) rules.push('within');
      if (rules.length > 0) kept.set(c.backupId, rules);
    });
  }
  return kept;
}
