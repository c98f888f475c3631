/** The text forms of the `diff` and `drill` reports (keys and column names only, never a value). */
import type { DiffReport } from '../../commands/compare/diff.js';
import type { DrillOutcome } from '../../commands/compare/drill.js';
import type { TableComparison } from '../../pipeline/compare/compare-tables.js';
import type { ColumnDifference } from '../../pipeline/compare/row-match.js';

const n = (x: number): string => x.toLocaleString('en-US');
const key = (k: readonly unknown[]): string => JSON.stringify(k);

function describeColumn(d: ColumnDifference): string {
  if (d.kind === 'missing') return `${d.column} (missing)`;
  if (d.kind === 'extra') return `${d.column} (extra)`;
  const what = [d.value ? 'value' : '', d.writetime ? 'writetime' : '', d.expiry ? 'expiry' : ''].filter((w) => w !== '');
  return `${d.column} (${what.join(', ')})`;
}

/** One table's lines: the counts, then the listed keys. */
export function formatTable(t: TableComparison): string[] {
  const state = t.identical ? 'identical' : 'DIFFERENT';
  const lines = [
    `  ${t.name}: ${state} — ${n(t.ranges)} ranges (${n(t.rangesDrilled)} drilled down, ${n(t.rangesDiffering)} differing), ` +
      `${n(t.backupRows)} rows in the backup, ${n(t.liveRows)} live; missing ${n(t.missing)}, extra ${n(t.extra)}, different ${n(t.different)}` +
      (t.expectedAbsent > 0 ? `; ${n(t.expectedAbsent)} expired since the backup (expected absent)` : ''),
  ];
  if (t.rangesNotListed > 0) lines.push(`    ${t.rangesNotListed} differing ranges hold more rows than --max-drill-rows: their rows are not listed`);
  const more = (listed: number, total: number): string => (total > listed ? ` … and ${n(total - listed)} more` : '');
  if (t.missingKeys.length > 0) lines.push(`    missing: ${t.missingKeys.map(key).join(' ')}${more(t.missingKeys.length, t.missing)}`);
  if (t.extraKeys.length > 0) lines.push(`    extra: ${t.extraKeys.map(key).join(' ')}${more(t.extraKeys.length, t.extra)}`);
  for (const d of t.differentRows) lines.push(`    different: ${key(d.key)}: ${d.columns.map(describeColumn).join(', ')}`);
  if (t.different > t.differentRows.length) lines.push(`    … and ${n(t.different - t.differentRows.length)} more different rows`);
  return lines;
}

export function formatDiffReport(r: DiffReport): string {
  const lines = [
    `diff of backup ${r.backupId} (${r.sourceKeyspace}, ${r.backupCreatedAt}) with keyspace ${r.keyspace} of cluster ${r.cluster}: ` +
      `${r.identical ? 'identical' : 'DIFFERENT'} (${(r.durationMs / 1000).toFixed(1)} s)`,
    ...r.tables.flatMap(formatTable),
    ...r.notes.map((note) => `note: ${note}`),
  ];
  return `${lines.join('\n')}\n`;
}

export function formatDrillReport(o: DrillOutcome): string {
  const r = o.report;
  const hours = (r.backupAgeSeconds / 3600).toFixed(1);
  const lines = [
    `DR drill ${r.drillId} of backup ${r.backupId}: ${r.result}`,
    `  backup: taken ${r.backupCreatedAt} (${hours} h before the drill) from cluster ${r.source.cluster} (Cassandra ${r.source.releaseVersion}), keyspace ${r.source.keyspace}`,
    `  target: cluster ${r.target.cluster} (${r.target.hosts.join(', ')}, Cassandra ${r.target.releaseVersion}), scratch keyspace ${r.scratchKeyspace} ${r.scratch}`,
    `  restore: ${n(r.rows)} rows in ${(r.restoreDurationMs / 1000).toFixed(1)} s (the recovery time measured)${r.restoreId === undefined ? '' : `, restore ${r.restoreId}`}; comparison ${(r.compareDurationMs / 1000).toFixed(1)} s`,
    ...r.tables.map((t) => `  ${t.name}: ${t.result} — ${n(t.backupRows)} rows backed up, ${n(t.restoredRows)} restored, ${n(t.ranges)} ranges compared; ` +
      `missing ${n(t.missing)}, extra ${n(t.extra)}, different ${n(t.different)}` +
      (t.sampleKeys.missing.length + t.sampleKeys.extra.length + t.sampleKeys.different.length > 0
        ? ` (e.g. ${[...t.sampleKeys.missing, ...t.sampleKeys.extra, ...t.sampleKeys.different].slice(0, 5).map(key).join(' ')})` : '')),
    ...o.notes.map((note) => `note: ${note}`),
    `evidence report: ${o.repository}/${o.reportKey}`,
  ];
  return `${lines.join('\n')}\n`;
}
