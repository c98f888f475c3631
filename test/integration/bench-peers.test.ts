/**
 * A smoke run of the side-by-side peer benchmark (`npm run bench:peers`, bench/peers.mjs), so that it
 * does not rot: a few thousand rows, one repetition, every pair with its real peers — dsbulk 1.10.0
 * and cassandra-rekey 0.1.0, provisioned into the cache on first use (Maven Central, PyPI) — against
 * the shared Cassandra under keyspaces `benchp_smoke…`, dropped afterwards. Its docs output goes to a
 * temporary folder, never into docs/. Needs `npm run build` (the benchmark runs the built CLI).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ROWS = 3_000;
const ROTATE_ROWS = 1_000;

interface Measured { readonly wall: number; readonly cpu: number; readonly rssMiB: number; readonly rows?: number; readonly values?: number; readonly files?: number }
type Pair = Readonly<Record<string, Measured>>;
interface Raw {
  readonly rows: number; readonly rotateRows: number; readonly runs: number;
  readonly export: readonly Pair[]; readonly restore: readonly Pair[]; readonly rotate: readonly Pair[]; readonly rekey: readonly Pair[];
  readonly goals: readonly { readonly goal: string; readonly text: string }[];
}

describe('npm run bench:peers (smoke run)', () => {
  const services = inject('services');
  const dir = mkdtempSync(join(tmpdir(), 'benchp-smoke-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('provisions the peers, runs every pair once and writes its section, chart and raw results', () => {
    const docs = join(dir, 'benchmarks.md');
    const raw = join(dir, 'raw.json');
    // A docs file with another section and a stale section of its own: the run replaces only its own.
    writeFileSync(docs, '# Benchmarks\n\n## Another section\n\nkept as is\n\n<!-- bench:peers:start (written by `npm run bench:peers`; edits here are overwritten) -->\nstale\n<!-- bench:peers:end -->\n\n## Last section\n\nkept too\n');
    const tag = `smoke${randomBytes(3).toString('hex')}`;
    const r = spawnSync(process.execPath, [join(root, 'bench', 'peers.mjs'), '--rows', String(ROWS), '--runs', '1', '--rotate-rows', String(ROTATE_ROWS),
      '--rekey-rows', String(ROWS), '--tag', tag, '--docs', docs, '--raw', raw, '--drop-data',
      '--hosts', services.cassandra.host, '--port', String(services.cassandra.port), '--dc', services.cassandra.dc],
    { cwd: root, encoding: 'utf8', timeout: 900_000 });
    expect(r.status, `bench:peers failed:\n${r.stderr}`).toBe(0);

    const results = JSON.parse(readFileSync(raw, 'utf8')) as Raw;
    expect(results.runs).toBe(1);
    const [exported] = results.export;
    const [restored] = results.restore;
    const [rotated] = results.rotate;
    const [rekeyed] = results.rekey;
    expect(Object.keys(exported ?? {}).sort()).toEqual(['cassette', 'driver', 'dsbulk']);
    expect(exported?.cassette?.rows).toBe(ROWS);
    expect(exported?.driver?.rows).toBe(ROWS);
    expect(exported?.dsbulk?.files).toBeGreaterThan(0);
    expect(restored?.cassette?.rows).toBe(ROWS);
    expect(restored?.dsbulk?.rows).toBe(ROWS);
    expect(rotated?.cassette?.rows).toBe(ROTATE_ROWS);
    expect(rotated?.['cassandra-rekey']?.rows).toBe(ROTATE_ROWS);
    expect(rekeyed?.cassette?.values).toBe(2 * ROWS);
    for (const pair of [exported, restored, rotated, rekeyed]) {
      for (const m of Object.values(pair ?? {})) {
        expect(m.wall).toBeGreaterThan(0);
        expect(m.cpu).toBeGreaterThan(0);
        expect(m.rssMiB).toBeGreaterThan(0);
      }
    }
    expect(results.goals).toHaveLength(8);
    expect(results.goals.every((g) => g.text !== 'not measured')).toBe(true);

    const text = readFileSync(docs, 'utf8');
    expect(text.match(/<!-- bench:peers:start/g)).toHaveLength(1);
    expect(text).not.toContain('\nstale\n');
    expect(text).toContain('## Another section\n\nkept as is\n');
    expect(text).toContain('## Last section\n\nkept too\n');
    for (const contender of ['cassette backup', 'dsbulk 1.10.0 unload', 'cassandra-driver read only', 'cassette restore', 'dsbulk 1.10.0 load',
      'cassette rotate', 'cassandra-rekey 0.1.0 run', 'cassette rekey']) {
      expect(text).toContain(`| ${contender}`);
    }
    for (const goal of results.goals) expect(text).toContain(`| ${goal.goal} | ${goal.text} |`);
    expect(text).toContain('![wall time per job and contender');
    const svg = readFileSync(join(dir, 'bench', 'peers.svg'), 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    for (const contender of ['cassette', 'dsbulk', 'cassandra-rekey', 'driver']) expect(svg).toContain(contender);
  }, 900_000);
});
