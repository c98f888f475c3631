/**
 * The structural checks of a backup that need no chunk data (docs/format.md §1–§4): does the
 * manifest agree with backup.json, do a table's ranges cover the ring exactly once, do the totals
 * add up, does each range marker agree with the manifest's entry for its range, is each chunk
 * named where its range's chunks live. Pure: each returns the problems it finds as sentences, and
 * the caller names the object they belong to. `verify` reports every one; `restore` refuses on
 * the first (backup-structure.ts).
 */
import { canonicalJson, schemaFingerprint, type KeyspaceSchema } from '../../cassandra/schema/model.js';
import { coverageProblem } from '../../cassandra/ring/token-ranges.js';
import type { BackupHeader, Manifest, RangeMarker } from '../../manifest/format.js';
import { chunkRelativeKey } from '../../manifest/keys.js';

/** One thing wrong with one object of a backup. `key` is the object's repository key. */
export interface BackupProblem {
  readonly key: string;
  readonly problem: string;
}

/** A planned range as backup.json and the manifest list it. */
export interface PlanRange {
  readonly index: number;
  readonly start: string;
  readonly end: string;
}

/** One range of a manifest table: its marker without `formatVersion` and `table` (format.md §4). */
export type ManifestRange = Manifest['tables'][number]['ranges'][number];

/** Fields backup.json and manifest.json must agree on (format.md §4: the manifest repeats backup.json). */
const SHARED_FIELDS = ['formatVersion', 'kind', 'backupId', 'createdAt', 'tool', 'cluster', 'keyspace', 'schemaFingerprint', 'options', 'derivedFrom', 'rekey', 'approximatedWritetimes'] as const;

/**
 * Where manifest.json disagrees with backup.json, and whether the schema fingerprint is the
 * keyspace's: the manifest's shared fields, its tables and each table's planned ranges.
 */
export function manifestAgainstHeader(header: BackupHeader, manifest: Manifest): string[] {
  const problems: string[] = [];
  for (const field of SHARED_FIELDS) {
    if (canonicalJson(header[field] ?? null) !== canonicalJson(manifest[field] ?? null)) problems.push(`"${field}" differs from backup.json's`);
  }
  const fingerprint = schemaFingerprint(manifest.keyspace as unknown as KeyspaceSchema);
  if (fingerprint !== manifest.schemaFingerprint) problems.push(`"schemaFingerprint" is not the fingerprint of its "keyspace" (${fingerprint.slice(0, 19)}…)`);
  const planned = header.tables.map((t) => t.name);
  const listed = manifest.tables.map((t) => t.name);
  if (canonicalJson(planned) !== canonicalJson(listed)) {
    problems.push(`lists tables [${listed.join(', ')}]; backup.json plans [${planned.join(', ')}]`);
    return problems;
  }
  header.tables.forEach((table, i) => {
    const ranges = (manifest.tables[i]?.ranges ?? []).map((r) => ({ index: r.index, start: r.start, end: r.end }));
    if (canonicalJson(ranges) !== canonicalJson(table.ranges)) {
      problems.push(`the ranges of table ${table.name} differ from backup.json's plan (${ranges.length} listed, ${table.ranges.length} planned)`);
    }
  });
  for (const table of header.tables) {
    if (!manifest.keyspace.tables.some((t) => t.name === table.name)) problems.push(`"keyspace" does not describe table ${table.name}`);
  }
  return problems;
}

/**
 * Whether `ranges`, in plan order, have indexes 0, 1, 2, … and cover (−2^63, 2^63−1] exactly
 * once (token-ranges.ts coverageProblem: the first starts at −2^63, each starts where the one
 * before ends, none is empty, the last ends at 2^63−1; format.md §2).
 */
export function ringCoverProblems(ranges: readonly PlanRange[]): string[] {
  if (ranges.length === 0) return ['has no ranges'];
  const problems: string[] = [];
  ranges.forEach((range, i) => {
    if (range.index !== i) problems.push(`the range at position ${i} has index ${range.index}`);
  });
  const cover = coverageProblem(ranges.map((r) => ({ start: BigInt(r.start), end: BigInt(r.end) })));
  if (cover !== undefined) problems.push(`the ranges do not cover the ring exactly once: ${cover}`);
  return problems;
}

/** Whether the manifest's per-range, per-table and backup totals add up. */
export function totalsProblems(manifest: Manifest): string[] {
  const problems: string[] = [];
  let ranges = 0;
  let chunks = 0;
  let rows = 0;
  let bytes = 0;
  for (const table of manifest.tables) {
    let tableRows = 0;
    let tableBytes = 0;
    for (const range of table.ranges) {
      const chunkRows = range.chunks.reduce((n, c) => n + c.rows, 0);
      const chunkBytes = range.chunks.reduce((n, c) => n + c.bytes, 0);
      if (chunkRows !== range.rows) problems.push(`range ${range.index} of table ${table.name} says ${range.rows} rows; its chunks hold ${chunkRows}`);
      if (chunkBytes !== range.bytes) problems.push(`range ${range.index} of table ${table.name} says ${range.bytes} bytes; its chunks hold ${chunkBytes}`);
      tableRows += range.rows;
      tableBytes += range.bytes;
      chunks += range.chunks.length;
    }
    if (tableRows !== table.rows) problems.push(`table ${table.name} says ${table.rows} rows; its ranges hold ${tableRows}`);
    if (tableBytes !== table.bytes) problems.push(`table ${table.name} says ${table.bytes} bytes; its ranges hold ${tableBytes}`);
    ranges += table.ranges.length;
    rows += tableRows;
    bytes += tableBytes;
  }
  const { totals } = manifest;
  const expect = (name: keyof typeof totals, actual: number): void => {
    if (totals[name] !== actual) problems.push(`totals.${name} is ${totals[name]}; the tables add up to ${actual}`);
  };
  expect('tables', manifest.tables.length);
  expect('ranges', ranges);
  expect('chunks', chunks);
  expect('rows', rows);
  expect('bytes', bytes);
  return problems;
}

/** Where a range marker disagrees with the manifest's entry for its range (format.md §4: the entry is the marker). */
export function markerAgainstManifest(marker: RangeMarker, table: string, entry: ManifestRange): string[] {
  const problems: string[] = [];
  if (marker.table !== table) problems.push(`names table ${marker.table}, not ${table}`);
  const { formatVersion: _version, table: _table, ...fields } = marker;
  for (const [field, value] of Object.entries(fields)) {
    if (canonicalJson(value) !== canonicalJson(entry[field as keyof ManifestRange])) problems.push(`"${field}" differs from the manifest's entry for range ${entry.index}`);
  }
  return problems;
}

/**
 * Why a chunk's relative key cannot belong to range `index` of `table` (its key must be
 * `data/<table>/<range>-<attempt>-<seq>.ndjson.gz`, format.md §1), or undefined.
 */
export function chunkKeyProblem(table: string, index: number, key: string): string | undefined {
  const prefix = chunkRelativeKey(table, index, '', 0).replace(/-00000\.ndjson\.gz$/, '');
  const rest = key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
  if (rest === undefined || !/^[0-9a-f]{8}-\d{5}\.ndjson\.gz$/.test(rest)) return `is listed for range ${index} of table ${table}, but its name is not one of that range's chunks (${prefix}<attempt>-<seq>.ndjson.gz)`;
  return undefined;
}
