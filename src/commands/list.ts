/** `cassette list`: the backups in a repository, complete and incomplete, oldest first. */
import { listBackups, type BackupSummary } from '../manifest/repository.js';
import type { BlobStore } from '../storage/blob-store.js';

export interface ListReport {
  readonly repository: string;
  readonly backups: readonly BackupSummary[];
}

export async function runList(deps: { readonly store: BlobStore }): Promise<ListReport> {
  return { repository: deps.store.description, backups: await listBackups(deps.store) };
}

/** The report as an aligned text table for people. */
export function formatList(report: ListReport): string {
  if (report.backups.length === 0) return `no backups in ${report.repository}\n`;
  const rows = report.backups.map((b) => [
    b.backupId,
    b.createdAt ?? '-',
    b.status === 'incomplete' ? `incomplete (${b.ranges.done}/${b.ranges.total} ranges)` : b.status,
    b.keyspace ?? '-',
    b.tables.join(',') || '-',
    b.rows.toLocaleString('en-US'),
    formatBytes(b.bytes),
  ]);
  const head = ['ID', 'CREATED', 'STATUS', 'KEYSPACE', 'TABLES', 'ROWS', 'BYTES'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}
