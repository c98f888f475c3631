/**
 * Writes a small, complete backup (docs/format.md) of hand-made rows into a BlobStore, for unit
 * tests of the stages that read backups (rekey, rotate's transform) without a cluster.
 */
import { buildManifest } from '../../src/commands/backup.js';
import { schemaFingerprint, type KeyspaceSchema } from '../../src/cassandra/schema/model.js';
import { FORMAT_VERSION, type BackupHeader, type Manifest, type RangeMarker } from '../../src/manifest/format.js';
import { backupHeaderKey, chunkKey, chunkRelativeKey, manifestKey, markerKey, schemaCqlKey } from '../../src/manifest/keys.js';
import { writeDocument } from '../../src/manifest/repository.js';
import { writeChunks } from '../../src/pipeline/export/chunk-writer.js';
import type { BlobStore } from '../../src/storage/blob-store.js';

export interface SyntheticTable {
  readonly name: string;
  /** Per range, its chunks, each a list of rows ({k, c} objects). */
  readonly ranges: readonly (readonly (readonly unknown[])[])[];
}

/** A table schema: `columns` as [name, type, kind]. */
export function tableSchema(name: string, columns: readonly (readonly [string, string, 'partition_key' | 'clustering' | 'static' | 'regular'])[], isCounter = false): KeyspaceSchema['tables'][number] {
  const positions = new Map<string, number>();
  return {
    name,
    columns: columns.map(([column, type, kind]) => {
      const position = kind === 'partition_key' || kind === 'clustering' ? (positions.get(kind) ?? 0) : -1;
      if (position >= 0) positions.set(kind, position + 1);
      return { name: column, type, kind, position, ...(kind === 'clustering' ? { order: 'asc' as const } : {}) };
    }),
    options: {},
    isCounter,
    cql: `CREATE TABLE ${name} (…)`,
  };
}

export function keyspaceSchema(name: string, tables: KeyspaceSchema['tables']): KeyspaceSchema {
  return { name, replication: { class: 'org.apache.cassandra.locator.SimpleStrategy', replication_factor: '1' }, durableWrites: true, types: [], tables, indexes: [], views: [] } as unknown as KeyspaceSchema;
}

export async function writeSyntheticBackup(store: BlobStore, backupId: string, schema: KeyspaceSchema, tables: readonly SyntheticTable[]): Promise<Manifest> {
  const span = (2n ** 64n) / BigInt(Math.max(...tables.map((t) => t.ranges.length)));
  const header: BackupHeader = {
    formatVersion: FORMAT_VERSION,
    kind: 'cassette-backup',
    backupId,
    createdAt: '2026-11-22T12:00:00.000Z',
    tool: { name: 'cassette', version: 'test' },
    cluster: { name: 'synthetic', partitioner: 'org.apache.cassandra.dht.Murmur3Partitioner', releaseVersion: '5.0.8' },
    keyspace: schema as unknown as BackupHeader['keyspace'],
    schemaFingerprint: schemaFingerprint(schema),
    options: { compression: 'gzip', gzipLevel: 1, maxChunkBytes: 8 << 20, consistency: 'LOCAL_QUORUM' },
    tables: tables.map((t) => ({
      name: t.name,
      ranges: t.ranges.map((_, index) => {
        const start = -(2n ** 63n) + span * BigInt(index);
        const end = index === t.ranges.length - 1 ? 2n ** 63n - 1n : start + span;
        return { index, start: start.toString(), end: end.toString() };
      }),
    })),
  };
  await writeDocument(store, backupHeaderKey(backupId), header);
  await store.put(schemaCqlKey(backupId), 'CREATE KEYSPACE synthetic;\n', { ifAbsent: true });
  const markers = new Map<string, Map<number, RangeMarker>>();
  for (const table of tables) {
    const done = new Map<number, RangeMarker>();
    markers.set(table.name, done);
    for (const [index, chunks] of table.ranges.entries()) {
      const entries = [];
      for (const [seq, rows] of chunks.entries()) {
        const relativeKey = chunkRelativeKey(table.name, index, 'aaaaaaaa', seq);
        const lines = async function* (): AsyncGenerator<string[]> {
          yield rows.map((row) => JSON.stringify(row));
        };
        const written = await writeChunks(lines(), {
          store, keyFor: () => ({ key: chunkKey(backupId, relativeKey), relativeKey }), gzipLevel: 1, maxChunkBytes: Number.POSITIVE_INFINITY,
        });
        entries.push(...written);
      }
      const planned = header.tables.find((t) => t.name === table.name)?.ranges[index];
      const marker: RangeMarker = {
        formatVersion: FORMAT_VERSION, table: table.name, index, start: planned?.start ?? '0', end: planned?.end ?? '0', attempt: 'aaaaaaaa',
        rows: entries.reduce((n, e) => n + e.rows, 0), bytes: entries.reduce((n, e) => n + e.bytes, 0), readAt: '2026-11-22T12:00:01.000Z', chunks: entries,
      };
      await writeDocument(store, markerKey(backupId, table.name, index), marker);
      done.set(index, marker);
    }
  }
  const manifest = buildManifest(header, markers, Date.parse('2026-11-22T12:00:02.000Z'));
  await writeDocument(store, manifestKey(backupId), manifest);
  return manifest;
}
