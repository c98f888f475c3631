/**
 * The end of a backup run: the manifest (docs/format.md §4), built from backup.json and every range
 * marker, or the resumable error of a run that stopped.
 */
import { CassetteError } from '../errors.js';
import type { BackupHeader, Manifest, RangeMarker } from '../manifest/format.js';

/** The manifest from the plan and a marker for every planned range. */
export function buildManifest(header: BackupHeader, markers: ReadonlyMap<string, ReadonlyMap<number, RangeMarker>>, nowMs: number): Manifest {
  const tables = header.tables.map((table) => {
    const done = markers.get(table.name);
    const ranges = table.ranges.map((planned) => {
      const marker = done?.get(planned.index);
      if (marker === undefined) throw new Error(`internal: range ${planned.index} of ${table.name} has no marker`);
      const { formatVersion: _v, table: _t, ...range } = marker;
      return range;
    });
    return { name: table.name, rows: ranges.reduce((n, r) => n + r.rows, 0), bytes: ranges.reduce((n, r) => n + r.bytes, 0), ranges };
  });
  const { tables: _planned, ...fields } = header;
  return {
    ...fields,
    completedAt: new Date(nowMs).toISOString(),
    tables,
    totals: {
      tables: tables.length,
      ranges: tables.reduce((n, t) => n + t.ranges.length, 0),
      chunks: tables.reduce((n, t) => n + t.ranges.reduce((m, r) => m + r.chunks.length, 0), 0),
      rows: tables.reduce((n, t) => n + t.rows, 0),
      bytes: tables.reduce((n, t) => n + t.bytes, 0),
    },
  };
}

/**
 * A backup that stopped after it started can be resumed: say so. Errors cassette knows keep their
 * code (a repository or cluster outage) with the resume command added to the hint; a driver error
 * that outlived the retries means the cluster could not serve the range (exit 4); programming
 * errors stay bugs.
 */
export function stoppedBackup(err: unknown, backupId: string, resume: string): unknown {
  if (err instanceof CassetteError) {
    const first = err.hint === undefined ? 'fix the cause,' : `${err.hint};`;
    return new CassetteError(err.code, err.message, { hint: `${first} then resume with: ${resume}`, cause: err });
  }
  if (err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError || !(err instanceof Error)) return err;
  const detail = err.message.split('\n')[0] ?? err.message;
  return new CassetteError('CLUSTER_UNAVAILABLE', `backup ${backupId} stopped: the cluster failed a range read after every retry (${detail})`, {
    hint: `check the cluster's health (nodetool status), then resume with: ${resume}`,
    cause: err,
  });
}
