/**
 * `cassette verify`'s pure parts — the deterministic data subset, the ring-cover check, the
 * manifest/marker/header cross-checks, the key serializer behind the token check — and runVerify
 * on the golden fixtures (every one verifies clean; a rekeyed one opens its sample with the new
 * key) and on tampered copies of one (each problem names its object).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { keyTokenOf, varint } from '../../src/cassandra/ring/key-token.js';
import { murmur3Token, partitionKeyBytes } from '../../src/cassandra/ring/murmur3.js';
import { MAX_TOKEN, MIN_TOKEN, splitRing } from '../../src/cassandra/ring/token-ranges.js';
import { parseCqlType } from '../../src/cassandra/values/cql-type.js';
import { silentProgress } from '../../src/commands/progress.js';
import { runVerify, type VerifyReport } from '../../src/commands/verify/verify.js';
import { loadRotationConfig } from '../../src/config/rotation-config.js';
import { createCipher } from '../../src/crypto/registry.js';
import type { Manifest, RangeMarker } from '../../src/manifest/format.js';
import { listBackups, readHeader, readManifest } from '../../src/manifest/repository.js';
import { chunkKeyHash, parseDataSubset, selectsChunk, type DataSubset } from '../../src/pipeline/check/chunk-subset.js';
import { chunkKeyProblem, manifestAgainstHeader, markerAgainstManifest, ringCoverProblems, totalsProblems } from '../../src/pipeline/check/cross-checks.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { thrown } from '../support/thrown.js';

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
const keys = Array.from({ length: 2000 }, (_, i) => `data/t/${String(i % 97).padStart(5, '0')}-${(i * 2654435761 >>> 0).toString(16).padStart(8, '0')}-${String(i).padStart(5, '0')}.ndjson.gz`);
const selected = (subset: DataSubset): string[] => keys.filter((k) => selectsChunk(subset, k));

describe('--read-data-subset', () => {
  it('parses percentages, slices, all and none, and refuses anything else with USAGE', () => {
    expect(parseDataSubset('10%')).toEqual({ kind: 'percent', percent: 10 });
    expect(parseDataSubset('2.5%')).toEqual({ kind: 'percent', percent: 2.5 });
    expect(parseDataSubset('3/7')).toEqual({ kind: 'slice', n: 3, m: 7 });
    expect(parseDataSubset('1/1')).toEqual({ kind: 'all' });
    expect(parseDataSubset('100%')).toEqual({ kind: 'all' });
    for (const none of ['0', '0%', 'none']) expect(parseDataSubset(none)).toEqual({ kind: 'none' });
    for (const bad of ['', '101%', '-5%', '0/7', '8/7', 'x', '10', '1/0']) {
      expect(thrown(() => parseDataSubset(bad)), bad).toMatchObject({ code: 'USAGE' });
    }
  });

  it('chooses by the chunk key alone: the same chunks every time, about the share asked for, larger shares a superset', () => {
    expect(selected({ kind: 'percent', percent: 10 })).toEqual(selected({ kind: 'percent', percent: 10 }));
    const ten = selected({ kind: 'percent', percent: 10 });
    const thirty = new Set(selected({ kind: 'percent', percent: 30 }));
    expect(ten.length).toBeGreaterThan(140);
    expect(ten.length).toBeLessThan(260);
    expect(ten.every((k) => thirty.has(k))).toBe(true);
    expect(selected({ kind: 'all' })).toHaveLength(keys.length);
    expect(selected({ kind: 'none' })).toHaveLength(0);
    // The rule as documented: the first 8 bytes of SHA-256(key), big-endian, below p% of 2^64.
    for (const k of keys.slice(0, 50)) expect(selectsChunk({ kind: 'percent', percent: 10 }, k)).toBe(chunkKeyHash(k) < (2n ** 64n) / 10n);
  });

  it('splits the chunks into m disjoint slices n/m that together are every chunk', () => {
    const slices = [1, 2, 3, 4, 5, 6, 7].map((n) => selected({ kind: 'slice', n, m: 7 }));
    expect(slices.flat().sort()).toEqual([...keys].sort());
    for (const slice of slices) expect(slice.length).toBeGreaterThan(200);
  });
});

describe('ring cover', () => {
  const plan = (ranges: { start: bigint; end: bigint }[]): { index: number; start: string; end: string }[] =>
    ranges.map((r, index) => ({ index, start: String(r.start), end: String(r.end) }));

  it('accepts a split ring and names gaps, overlaps, a short ring and out-of-order indexes', () => {
    const good = plan(splitRing([], 17));
    expect(ringCoverProblems(good)).toEqual([]);
    const gap = good.map((r, i) => (i === 5 ? { ...r, start: String(BigInt(r.start) + 1n) } : r));
    expect(ringCoverProblems(gap)).toEqual([expect.stringMatching(/not cover the ring exactly once: range 5 starts at .*\(gap\)/)]);
    const overlap = good.map((r, i) => (i === 5 ? { ...r, start: String(BigInt(r.start) - 1n) } : r));
    expect(ringCoverProblems(overlap)).toEqual([expect.stringMatching(/range 5 .*\(overlap\)/)]);
    expect(ringCoverProblems(good.slice(0, -1))).toEqual([expect.stringMatching(/the ranges end at .*, not at 9223372036854775807/)]);
    expect(ringCoverProblems(good.slice(1))).toEqual(expect.arrayContaining([expect.stringMatching(/position 0 has index 1/), expect.stringMatching(/range 0 starts at/)]));
    expect(ringCoverProblems([])).toEqual(['has no ranges']);
    expect(ringCoverProblems(plan([{ start: MIN_TOKEN, end: MAX_TOKEN }]))).toEqual([]);
  });
});

describe('cross-checks', () => {
  const store = new FsStore(join(fixtures, 'format-v1/repo'));
  const id = '20261122T131201Z-c2fbdf';
  const load = async (): Promise<{ manifest: Manifest; header: NonNullable<Awaited<ReturnType<typeof readHeader>>> }> => ({
    manifest: (await readManifest(store, id)) as Manifest,
    header: (await readHeader(store, id)) as NonNullable<Awaited<ReturnType<typeof readHeader>>>,
  });

  it('finds nothing wrong with the golden fixture', async () => {
    const { manifest, header } = await load();
    expect(manifestAgainstHeader(header, manifest)).toEqual([]);
    expect(totalsProblems(manifest)).toEqual([]);
  });

  it('names an edited manifest: totals, a chunk\'s rows, a dropped table, a changed schema, a changed plan', async () => {
    const { manifest, header } = await load();
    const table = manifest.tables.find((t) => t.ranges.some((r) => r.chunks.length > 0)) as Manifest['tables'][number];
    const range = table.ranges.find((r) => r.chunks.length > 0) as Manifest['tables'][number]['ranges'][number];
    const withChunkRows = structuredClone(manifest);
    const edited = withChunkRows.tables.find((t) => t.name === table.name)?.ranges.find((r) => r.index === range.index)?.chunks[0] as { rows: number };
    edited.rows += 1;
    expect(totalsProblems(withChunkRows)).toEqual([`range ${range.index} of table ${table.name} says ${range.rows} rows; its chunks hold ${range.rows + 1}`]);
    expect(totalsProblems({ ...manifest, totals: { ...manifest.totals, rows: manifest.totals.rows + 5 } })).toEqual([`totals.rows is ${manifest.totals.rows + 5}; the tables add up to ${manifest.totals.rows}`]);
    expect(manifestAgainstHeader(header, { ...manifest, tables: manifest.tables.slice(1) })).toEqual([expect.stringMatching(/^lists tables \[.*\]; backup.json plans \[.*\]$/)]);
    const keyspace = structuredClone(manifest.keyspace);
    (keyspace.tables[0]?.columns[0] as { type: string }).type = 'bigint';
    expect(manifestAgainstHeader(header, { ...manifest, keyspace })).toEqual(['"keyspace" differs from backup.json\'s', expect.stringMatching(/^"schemaFingerprint" is not the fingerprint of its "keyspace"/)]);
    const plan = structuredClone(manifest);
    plan.tables[0]?.ranges.pop();
    expect(manifestAgainstHeader(header, plan)).toEqual([expect.stringMatching(new RegExp(`^the ranges of table ${manifest.tables[0]?.name} differ from backup.json's plan`))]);
  });

  it('names where a marker disagrees with the manifest, and a chunk listed under another range', async () => {
    const { manifest } = await load();
    const table = manifest.tables[0] as Manifest['tables'][number];
    const entry = table.ranges[3] as Manifest['tables'][number]['ranges'][number];
    const marker: RangeMarker = { formatVersion: 1, table: table.name, ...entry };
    expect(markerAgainstManifest(marker, table.name, entry)).toEqual([]);
    expect(markerAgainstManifest({ ...marker, rows: entry.rows + 1, attempt: 'ffffffff' }, table.name, entry)).toEqual([
      `"attempt" differs from the manifest's entry for range ${entry.index}`, `"rows" differs from the manifest's entry for range ${entry.index}`,
    ]);
    expect(chunkKeyProblem('t', 3, 'data/t/00003-a81f03c2-00000.ndjson.gz')).toBeUndefined();
    expect(chunkKeyProblem('t', 4, 'data/t/00003-a81f03c2-00000.ndjson.gz')).toMatch(/listed for range 4 of table t, but its name is not one of that range's chunks/);
    expect(chunkKeyProblem('u', 3, 'data/t/00003-a81f03c2-00000.ndjson.gz')).toBeDefined();
  });
});

describe('partition key tokens from §6.3 JSON', () => {
  it('serializes varints as Java does', () => {
    const hex = (n: bigint): string => varint(n).toString('hex');
    expect([0n, 1n, 127n, 128n, 255n, 256n, -1n, -128n, -129n, 2n ** 63n].map(hex)).toEqual(['00', '01', '7f', '0080', '00ff', '0100', 'ff', '80', 'ff7f', '008000000000000000']);
  });

  it('hashes a composite key as CompositeType of the values\' bytes', () => {
    const tokenOf = keyTokenOf([parseCqlType('int'), parseCqlType('text')]);
    const int = Buffer.alloc(4);
    int.writeInt32BE(7);
    expect(tokenOf?.([7, 'hé'])).toBe(murmur3Token(partitionKeyBytes([int, Buffer.from('hé', 'utf8')])));
    expect(keyTokenOf([parseCqlType('vector<float, 3>')])).toBeUndefined();
  });
});

describe('runVerify on the golden fixtures', () => {
  const work = mkdtempSync(join(tmpdir(), 'cassette-verify-unit-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const verify = (store: FsStore, backupId: string, extra: Partial<Parameters<typeof runVerify>[0]> = {}, cipher?: Parameters<typeof runVerify>[1]['cipher']): Promise<VerifyReport> =>
    runVerify({ backupId, subset: { kind: 'all' }, parallel: 4, ...extra }, { store, progress: silentProgress, signal: new AbortController().signal, now: Date.now, ...(cipher === undefined ? {} : { cipher }) });

  it.each(['format-v1', 'format-v1-rekey', 'format-v1-c41', 'format-v1-topology'])('%s verifies clean, reading every chunk and checking every row\'s token', async (name) => {
    const store = new FsStore(join(fixtures, name, 'repo'));
    for (const backup of await listBackups(store)) {
      const report = await verify(store, backup.backupId);
      expect(report.problems).toEqual([]);
      expect(report).toMatchObject({ ok: true, dataSubset: 'all', chunksRead: report.chunks, rowsRead: report.rows, tokenCheckSkipped: [] });
    }
  });

  it('opens the rekeyed backup\'s sample with the new key; the value the rekey quarantined is counted apart', async () => {
    const dir = join(fixtures, 'format-v1-rekey');
    const store = new FsStore(join(dir, 'repo'));
    const generator = readFileSync(join(dir, 'make-fixture.mjs'), 'utf8');
    const keyOf = (name: string): string => /= '([^']+)'/.exec(generator.split('\n').find((l) => l.startsWith(`export const ${name}`)) ?? '')?.[1] ?? '';
    const env = { REKEY_OLD_KEY: keyOf('OLD_KEY'), REKEY_NEW_KEY: keyOf('NEW_KEY') };
    const config = await loadRotationConfig(join(dir, 'rekey.yaml'));
    const manifests = await Promise.all((await listBackups(store)).map((b) => readManifest(store, b.backupId)));
    const derived = manifests.find((m) => m?.derivedFrom !== undefined)?.backupId as string;
    const source = manifests.find((m) => m?.derivedFrom === undefined)?.backupId as string;
    const report = await verify(store, derived, { config }, await createCipher(config.provider, env));
    expect(report.problems).toEqual([]);
    expect(report.rekeySample).toEqual({ newKeyVersion: '2', valuesOpened: 6, valuesNotOpened: 0, valuesQuarantined: 1 });

    // With the keys swapped, the "new" key opens nothing the rekey wrote: each value is named, never shown.
    const swapped = await createCipher(config.provider, { REKEY_OLD_KEY: env.REKEY_NEW_KEY, REKEY_NEW_KEY: env.REKEY_OLD_KEY });
    const bad = await verify(store, derived, { config }, swapped);
    expect(bad.ok).toBe(false);
    expect(bad.problems.map((p) => p.problem)).toContain('users.ssn of row [1] is still under old key version 1');
    expect(JSON.stringify(bad)).not.toContain('ssn-1');

    expect(await verify(store, source, { config }, swapped).catch((e: unknown) => e)).toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('names each damaged object of a tampered copy: a flipped bit, a missing marker, an edited marker', async () => {
    const repo = join(work, 'tampered');
    cpSync(join(fixtures, 'format-v1/repo'), repo, { recursive: true });
    const store = new FsStore(repo);
    const id = '20261122T131201Z-c2fbdf';
    const manifest = (await readManifest(store, id)) as Manifest;
    const chunk = manifest.tables.flatMap((t) => t.ranges.flatMap((r) => r.chunks))[0] as Manifest['tables'][number]['ranges'][number]['chunks'][number];
    const file = join(repo, 'backups', id, chunk.key);
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] = (bytes[Math.floor(bytes.length / 2)] as number) ^ 0x10;
    writeFileSync(file, bytes);
    rmSync(join(repo, 'backups', id, 'ranges/hits/00002.json'));
    const markerFile = join(repo, 'backups', id, 'ranges/hits/00003.json');
    writeFileSync(markerFile, readFileSync(markerFile, 'utf8').replace('"rows": 0', '"rows": 1'));
    const report = await verify(store, id);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual(expect.arrayContaining([
      { key: `backups/${id}/${chunk.key}`, problem: expect.stringMatching(/^chunk does not match its checksum/) },
      { key: `backups/${id}/ranges/hits/00002.json`, problem: 'missing: the range marker of range 2 of table hits' },
      { key: `backups/${id}/ranges/hits/00003.json`, problem: '"rows" differs from the manifest\'s entry for range 3' },
    ]));
    const quick = await verify(store, id, { subset: { kind: 'none' } });
    expect(quick.chunksRead).toBe(0);
    expect(quick.problems.map((p) => p.key)).not.toContain(`backups/${id}/${chunk.key}`); // same size: only reading finds it
  });
});
