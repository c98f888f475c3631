/** `cassette list`: the backups in a repository, complete and incomplete, oldest first. */
import type { ClusterDescription } from '../manifest/format.js';
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
    (b.status === 'incomplete' ? (b.ranges.total > 0 ? `incomplete (${b.ranges.done}/${b.ranges.total} ranges)` : 'incomplete') : b.status) + (b.encrypted === true ? ', encrypted' : ''),
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

/**
 * The source cluster of a backup in one line, for people: `cluster prod, Cassandra 5.0.8,
 * Murmur3Partitioner, 4 nodes: dc1 ×3, dc2 ×1, 16 tokens each`. Undefined when the backup
 * records no topology (backups of cassette 0.1.0).
 */
export function describeSource(cluster: ClusterDescription | undefined): string | undefined {
  const nodes = cluster?.topology?.nodes;
  if (cluster === undefined || nodes === undefined) return undefined;
  const versions = [...new Set(nodes.map((n) => n.releaseVersion))].sort();
  const version = versions.length <= 1 ? (versions[0] ?? cluster.releaseVersion) : `${versions.join(' + ')} (mixed)`;
  const parts = [`cluster ${cluster.name}`, `Cassandra ${version}`, cluster.partitioner.replace(/^org\.apache\.cassandra\.dht\./, '')];
  if (nodes.length > 0) {
    const perDc = new Map<string, number>();
    for (const node of nodes) perDc.set(node.datacenter, (perDc.get(node.datacenter) ?? 0) + 1);
    const dcs = [...perDc].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })).map(([dc, n]) => `${dc} ×${n}`).join(', ');
    const tokens = [...new Set(nodes.map((n) => n.tokens))].sort((a, b) => a - b);
    const plural = (n: number): string => (n === 1 ? 'token' : 'tokens');
    const first = tokens[0] as number;
    const last = tokens[tokens.length - 1] as number;
    parts.push(`${nodes.length} ${nodes.length === 1 ? 'node' : 'nodes'}: ${dcs}`, tokens.length === 1 ? `${first} ${plural(first)} each` : `${first}–${last} tokens per node`);
  }
  return parts.join(', ');
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
