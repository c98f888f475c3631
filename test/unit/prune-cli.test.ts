import { describe, expect, it } from 'vitest';
import { formatPruneReport, parseDuration } from '../../src/cli/subcommands/prune.js';
import { CassetteError } from '../../src/errors.js';
import { thrown } from '../support/thrown.js';

describe('cassette prune flags and output', () => {
  it('parses durations in weeks, days, hours and minutes, and refuses anything else (USAGE)', () => {
    expect(parseDuration('30d', '--keep-within')).toBe(30 * 86_400_000);
    expect(parseDuration('2w', '--keep-within')).toBe(14 * 86_400_000);
    expect(parseDuration('1d12h', '--keep-within')).toBe(36 * 3_600_000);
    expect(parseDuration(' 90M ', '--keep-within')).toBe(90 * 60_000);
    for (const bad of ['', '3', '3x', '1.5d', '-1d', 'd', '0d']) {
      const err = thrown(() => parseDuration(bad, '--forget-incomplete-older-than'));
      expect(err).toBeInstanceOf(CassetteError);
      expect(err.code).toBe('USAGE');
      expect(err.message).toContain('--forget-incomplete-older-than');
    }
  });

  it('says what it removes, the garbage, what it keeps and why, and the bytes freed', () => {
    const text = formatPruneReport({
      repository: '/repo', dryRun: false, objectsRemoved: 12, bytesFreed: 3 * 1024 * 1024, staleLeases: 1, durationMs: 10,
      removed: [{ backupId: '20261101T000000Z-aaaaaa', keyspace: 'app', createdAt: '2026-11-01T00:00:00.000Z', state: 'complete', rows: 1200, objects: 10, bytes: 3 * 1024 * 1024 - 100 }],
      garbage: [{ backupId: '20261130T000000Z-bbbbbb', objects: 2, bytes: 100 }],
      kept: [{ backupId: '20261130T000000Z-bbbbbb', keyspace: 'app', createdAt: '2026-11-30T00:00:00.000Z', state: 'complete', rows: 1300, objects: 12, bytes: 5000, reasons: ['keep-last', 'keep-daily'] }],
    });
    expect(text).toBe([
      'prune of /repo: removed 1 backup, 2 unreferenced chunks, 1 stale lease; 3.0 MiB freed (12 objects)',
      '  removed 20261101T000000Z-aaaaaa  2026-11-01T00:00:00.000Z  app  complete  1,200 rows  3.0 MiB',
      '  garbage in 20261130T000000Z-bbbbbb: 2 chunks of abandoned attempts, 100 B',
      '  keep 20261130T000000Z-bbbbbb  2026-11-30T00:00:00.000Z  app  complete: keep-last; keep-daily',
      '',
    ].join('\n'));
  });
});
