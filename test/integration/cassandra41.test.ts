/**
 * Cassandra 4.1 (the `--version 4.1` node of scripts/services), checking what docs/format.md §6.4
 * promises for backups of 4.x clusters:
 *
 * 1. the CLI backs up a 4.1 keyspace of plain columns, non-frozen lists, sets, maps and a user type
 *    (regular and static), frozen collections, TTLs and explicit timestamps: values exact,
 *    single-cell writetimes and expiries exact, every multi-cell column's writetimes and expiries
 *    the row's approximation, a warning per such column, and the columns named in the manifest;
 * 2. restored into 4.1 (a new keyspace): values exact, single-cell writetimes exact, lists intact;
 * 3. restored into 5.0: the same, and each element's WRITETIME/TTL is the backup's approximation;
 * 4. a 5.0 backup restored into 4.1 (lists written through the value-only list protocol);
 * 5. `cassette rotate` on 4.1: every value under the new key, WRITETIME + 1 µs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import cassandra from 'cassandra-driver';
import { runBackup } from '../../src/commands/backup.js';
import { runRestore, type RestoreRequest } from '../../src/commands/restore.js';
import { silentProgress } from '../../src/commands/progress.js';
import type { ClusterHandle } from '../../src/cli/compose.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { cliEnv, clusterFor, runCli } from '../support/cassette.js';
import { readBackup, type BackupRow } from '../support/read-backup.js';
import { expectSame, snapshot, type Cell, type Rows } from '../support/table-snapshot.js';
import { fernetDecryptInPython, fernetEncryptInPython, fernetGenerateKeyInPython } from '../support/python.js';

const T0 = 1_700_000_000_000_000;
const DAY = 86_400;
const PARTITIONS = 60;
const PER_PARTITION = 25; // 1,500 rows of `multi`, five variants
const PLAIN_ROWS = 1_000;
const MULTI = ['l', 'st', 'm', 'u'];
const SINGLE = ['v', 'n', 'fl', 'fm', 'fu'];

const t = (i: number): number => T0 + 10 * i;
/** A static's writetime; partitions with an even number also have the static scalar `ss`. */
const ts = (p: number): number => T0 + 9_000_000 + 10 * p;

/** The CQL text of row i of `multi` (partition ⌊i/25⌋, clustering i mod 25): five ways of writing a row. */
function multiRow(ks: string, i: number): string[] {
  const k = Math.floor(i / PER_PARTITION);
  const c = i % PER_PARTITION;
  const where = `WHERE k = ${k} AND c = ${c}`;
  const coll = `[${i}, ${i + 1}, ${i}], {'s${i}', 'a${i}'}, {${i + 1000}: 'one', 1: 'x'}, {street: 'st${i}', n: ${i}}`;
  const frozen = `[${i}], {'f': ${i}}, {street: 'f${i}', n: null}`;
  const all = `INSERT INTO ${ks}.multi (k, c, v, n, l, st, m, u, fl, fm, fu) VALUES (${k}, ${c}, 'v${i}', ${i}, ${coll}, ${frozen})`;
  switch (i % 5) {
    case 0: // one INSERT with TTL: the approximation is exact
      return [`${all} USING TIMESTAMP ${t(i)} AND TTL ${DAY}`];
    case 1: // later appends, without TTL: the approximation is the INSERT's writetime
      return [`${all} USING TIMESTAMP ${t(i)}`, `UPDATE ${ks}.multi USING TIMESTAMP ${t(i) + 5} SET l = l + [99], m[7] = 'late', u.n = 42 ${where}`];
    case 2: // collections only: no single cell to take a writetime from
      return [`INSERT INTO ${ks}.multi (k, c, l, st, m, u) VALUES (${k}, ${c}, ${coll}) USING TIMESTAMP ${t(i)} AND TTL ${DAY}`];
    case 3: // cells written apart, one without TTL: the latest writetime, no expiry
      return [
        `INSERT INTO ${ks}.multi (k, c, v) VALUES (${k}, ${c}, 'v${i}') USING TIMESTAMP ${t(i)} AND TTL ${DAY}`,
        `UPDATE ${ks}.multi USING TIMESTAMP ${t(i) + 7} AND TTL 0 SET n = ${i} ${where}`,
        `UPDATE ${ks}.multi USING TIMESTAMP ${t(i) + 3} SET l = [${i}], m = {${i}: 'm'} ${where}`,
      ];
    default: // two TTLs: the later expiry; a user type with a null field
      return [
        `INSERT INTO ${ks}.multi (k, c, v, l, st, m, u) VALUES (${k}, ${c}, 'v${i}', [${i}], {'s'}, {1: 'a'}, {street: 'st${i}'}) USING TIMESTAMP ${t(i)} AND TTL 1000`,
        `UPDATE ${ks}.multi USING TIMESTAMP ${t(i)} AND TTL 2000 SET n = ${i} ${where}`,
      ];
  }
}

function staticRow(ks: string, p: number): string {
  return p % 2 === 0
    ? `UPDATE ${ks}.multi USING TIMESTAMP ${ts(p)} SET ss = 'p${p}', sl = ['a', 'b'] WHERE k = ${p}`
    : `UPDATE ${ks}.multi USING TIMESTAMP ${ts(p)} SET sl = ['only'] WHERE k = ${p}`;
}

async function createSchema(client: cassandra.Client, ks: string): Promise<void> {
  await client.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
  await client.execute(`CREATE TYPE ${ks}.addr (street text, n int)`);
  await client.execute(`CREATE TABLE ${ks}.multi (k int, c int, v text, n int, l list<int>, st set<text>, m map<int, text>, u addr,
    fl frozen<list<int>>, fm frozen<map<text, int>>, fu frozen<addr>, ss text static, sl list<text> static, PRIMARY KEY (k, c))`);
  await client.execute(`CREATE TABLE ${ks}.plain (k int, c int, s text static, v text, b blob, d double, PRIMARY KEY (k, c))`);
}

async function load(client: cassandra.Client, ks: string, partitions: number): Promise<void> {
  const statements: string[] = [];
  for (let i = 0; i < partitions * PER_PARTITION; i++) statements.push(...multiRow(ks, i));
  for (let p = 0; p < partitions; p++) statements.push(staticRow(ks, p));
  for (let i = 0; i < PLAIN_ROWS * (partitions / PARTITIONS); i++) {
    const p = i % 40;
    statements.push(`INSERT INTO ${ks}.plain (k, c, v, b, d) VALUES (${p}, ${i}, 'v${i}', 0x${i.toString(16).padStart(4, '0')}, ${i / 7}) USING TIMESTAMP ${t(i)}${i % 3 === 0 ? ` AND TTL ${DAY}` : ''}`);
    if (i < 40) statements.push(`INSERT INTO ${ks}.plain (k, s) VALUES (${p}, 's${p}') USING TIMESTAMP ${t(i) + 1}`);
  }
  // In order per row (an UPDATE after its INSERT), several rows at once.
  await cassandra.concurrent.executeConcurrent(client, statements.map((query) => ({ query, params: [] })), { concurrencyLevel: 1 });
}

/** What §6.4 says the backup holds as the writetime and expiry of a row's multi-cell columns, from its single cells. */
function approximation(cells: Readonly<Record<string, { t: unknown; e?: unknown }>>, names: readonly string[]): { t: number | undefined; e: number | undefined } {
  const present = names.map((n) => cells[n]).filter((c) => c !== undefined);
  if (present.length === 0) return { t: undefined, e: undefined };
  const expiries = present.map((c) => c.e as number | undefined);
  return { t: Math.max(...present.map((c) => Number(c.t))), e: expiries.every((e) => e !== undefined) ? Math.max(...(expiries as number[])) : undefined };
}

/** Values equal everywhere; single-cell writetimes exact and expiries within 2 s; multi-cell columns by value. */
function expectSameValues(source: Map<string, Rows>, target: Map<string, Rows>): void {
  for (const [table, rows] of source) {
    const copy = target.get(table) as Rows;
    expect(copy.size, table).toBe(rows.size);
    for (const [key, cells] of rows) {
      const other = copy.get(key) as Record<string, Cell>;
      expect(Object.keys(other ?? {}).sort(), `${table} ${key}`).toEqual(Object.keys(cells).sort());
      for (const [name, cell] of Object.entries(cells)) {
        const got = other[name] as Cell;
        expect(got.v, `${table} ${key} ${name}`).toEqual(cell.v);
        if (Array.isArray(cell.t)) continue;
        expect(got.t, `${table} ${key} ${name} writetime`).toEqual(cell.t);
        expect(got.e === undefined, `${table} ${key} ${name} expiry`).toBe(cell.e === undefined);
        if (cell.e !== undefined) expect(Math.abs((got.e as number) - (cell.e as number))).toBeLessThanOrEqual(2);
      }
    }
  }
}

describe('Cassandra 4.1', () => {
  const services = inject('services');
  const work = mkdtempSync(join(tmpdir(), 'cassette-c41-'));
  const repo = join(work, 'repo');
  const store = new FsStore(repo);
  const source = uniqueName('it_c41');
  const keyspaces41: string[] = [source];
  const keyspaces50: string[] = [];
  let client41: cassandra.Client;
  let client50: cassandra.Client;
  let c41: ClusterHandle;
  let c50: ClusterHandle;
  let backupId: string;
  let backupStartedAt: number;
  let backupEndedAt: number;
  let backupStderr: string;
  const started = Date.now();

  const connection = (s: { host: string; port: number; dc: string }): string[] => ['--hosts', s.host, '--port', String(s.port), '--dc', s.dc];
  const deps = (cluster: ClusterHandle) => ({
    store, cluster, progress: silentProgress, signal: new AbortController().signal, now: Date.now, toolVersion: 'test', resumeHint: (id: string) => id,
  });
  const restoreRequest = (extra: Partial<RestoreRequest>): RestoreRequest => ({
    backupId, schemaMode: 'create', guard: { kind: 'none' }, maxInFlight: 32, maxErrors: 0, batchBytes: 4096, parallel: 2, verify: true, ...extra,
  });

  beforeAll(async () => {
    client41 = cassandraClient(services.c41);
    client50 = cassandraClient(services.cassandra);
    await Promise.all([client41.connect(), client50.connect()]);
    expect((await client41.execute('SELECT release_version FROM system.local')).first().get('release_version')).toMatch(/^4\.1\./);
    await createSchema(client41, source);
    await load(client41, source, PARTITIONS);
    [c41, c50] = await Promise.all([clusterFor(services.c41), clusterFor(services.cassandra)]);
    backupStartedAt = Date.now();
    const run = runCli(['backup', '--keyspace', source, '--repo', repo, '--splits', '8', ...connection(services.c41)], cliEnv());
    backupEndedAt = Date.now();
    expect(run.status, run.stderr).toBe(0);
    backupId = /^backup (\S+) complete/m.exec(run.stdout)?.[1] as string;
    backupStderr = run.stderr;
    console.log(`cassandra41: setup and CLI backup ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 300_000);

  afterAll(async () => {
    for (const ks of keyspaces41) await client41?.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
    for (const ks of keyspaces50) await client50?.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
    await Promise.all([c41?.close(), c50?.close(), client41?.shutdown(), client50?.shutdown()]);
    rmSync(work, { recursive: true, force: true });
    console.log(`cassandra41: whole file ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  it('backs up every multi-cell column with the row\'s approximated writetimes, says so once per column, and records them', async () => {
    // One warning per column, and the manifest and the report name the columns.
    for (const column of ['sl', ...MULTI]) {
      expect(backupStderr.split('\n').filter((line) => line.startsWith(`warning: ${source}.multi.${column}: Cassandra 4.1.`)), column).toHaveLength(1);
    }
    expect(backupStderr).not.toMatch(new RegExp(`warning: ${source}\\.(multi\\.(fl|fm|fu|v|n|ss)|plain)`));
    const { manifest, rows } = await readBackup(store, backupId);
    expect(manifest.cluster.releaseVersion).toMatch(/^4\.1\./);
    expect(manifest.approximatedWritetimes).toEqual({ rule: 'row-cells', tables: [{ name: 'multi', columns: ['sl', 'l', 'm', 'st', 'u'] }] });

    const multi = (rows.get('multi') ?? []).map((r) => r.row);
    expect(multi).toHaveLength(PARTITIONS * PER_PARTITION);
    // Where the row has no single cell of the column's kind: the time the backup started.
    const startedMicros = Date.parse(manifest.createdAt) * 1000;
    expect(Date.parse(manifest.createdAt)).toBeGreaterThanOrEqual(backupStartedAt);
    expect(Date.parse(manifest.createdAt)).toBeLessThanOrEqual(backupEndedAt);
    const fallback = (cell: { t: unknown }): void => {
      for (const entry of (cell.t as unknown as (number | null)[]).filter((x) => x !== null)) expect(entry).toBe(startedMicros);
    };
    for (const row of multi) {
      const [k, c] = row.k as [number, number];
      const i = k * PER_PARTITION + c;
      const what = `multi row ${i}`;
      const cell = (name: string): BackupRow['c'][string] => row.c[name] as BackupRow['c'][string];
      // Values exact, by variant.
      const lists: Record<number, unknown> = { 0: [i, i + 1, i], 1: [i, i + 1, i, 99], 2: [i, i + 1, i], 3: [i], 4: [i] };
      expect(cell('l').v, what).toEqual(lists[i % 5]);
      if (i % 5 !== 3) expect(cell('u').v, what).toEqual(i % 5 === 4 ? { street: `st${i}`, n: null } : { street: `st${i}`, n: i % 5 === 1 ? 42 : i });
      if (i % 5 === 1) expect(cell('m').v, what).toEqual([[1, 'x'], [7, 'late'], [i + 1000, 'one']]);
      if (i % 5 <= 1) expect([cell('fl').v, cell('fm').v, cell('fu').v], what).toEqual([[i], [['f', i]], { street: `f${i}`, n: null }]);
      // Single cells: exact writetimes.
      if (i % 5 !== 2) expect(cell('v').t, what).toBe(t(i));
      if (i % 5 === 3) expect(cell('n').t, what).toBe(t(i) + 7);
      // Multi-cell columns: every entry the row's approximation (§6.4).
      const regular = approximation(row.c, SINGLE);
      for (const name of MULTI) {
        const got = row.c[name];
        if (got === undefined) continue;
        const live = (got.t as unknown as (number | null)[]).filter((x) => x !== null);
        if (regular.t === undefined) fallback(got);
        else expect(new Set(live), `${what} ${name}`).toEqual(new Set([regular.t]));
        const expected = { 0: t(i), 1: t(i), 2: undefined, 3: t(i) + 7, 4: t(i) }[i % 5];
        expect(regular.t, what).toBe(expected);
        if (regular.e === undefined) expect(got.e, `${what} ${name} expiry`).toBeUndefined();
        else expect(new Set((got.e as (number | null)[]).filter((x) => x !== null)), `${what} ${name} expiry`).toEqual(new Set([regular.e]));
        expect(regular.e === undefined, `${what} has an approximated expiry`).toBe(i % 5 === 1 || i % 5 === 2 || i % 5 === 3);
      }
      if (i % 5 === 4) expect(cell('u').t, `${what} u`).toEqual([t(i), null]); // the null field has no cell
      // The static list: the static scalar's writetime, or the read time where there is none.
      if (k % 2 === 0) expect(cell('sl').t, what).toEqual([ts(k), ts(k)]);
      else fallback(cell('sl'));
    }
    expect((rows.get('plain') ?? []).length).toBe(PLAIN_ROWS);
  });

  it('restores into a new 4.1 keyspace: values exact, single-cell writetimes exact, lists intact', async () => {
    const target = uniqueName('it_c41_back');
    keyspaces41.push(target);
    const report = await runRestore(restoreRequest({ targetKeyspace: target }), deps(c41));
    expect(report).toMatchObject({ rejected: 0, verified: true, approximatedWritetimes: [{ name: 'multi', columns: ['sl', 'l', 'm', 'st', 'u'] }] });
    const before = await snapshot(c41, source, ['multi', 'plain'], { elementWritetimes: false });
    const after = await snapshot(c41, target, ['multi', 'plain'], { elementWritetimes: false });
    expectSameValues(before.rows, after.rows);
    expectSame(new Map([['plain', before.rows.get('plain') as Rows]]), after.rows);
    // Restoring again (a resume replays chunks) keeps every list as it was: the value-only list protocol.
    await runRestore(restoreRequest({ targetKeyspace: target, schemaMode: 'require-existing' }), deps(c41));
    expectSameValues(new Map([['multi', before.rows.get('multi') as Rows]]), (await snapshot(c41, target, ['multi'], { elementWritetimes: false })).rows);
  }, 300_000);

  it('restores into 5.0: each element gets the backup\'s approximated writetime and TTL', async () => {
    const target = uniqueName('it_c41_to50');
    keyspaces50.push(target);
    const report = await runRestore(restoreRequest({ targetKeyspace: target }), deps(c50));
    expect(report).toMatchObject({ rejected: 0, verified: true });
    const { rows } = await readBackup(store, backupId);
    const after = await snapshot(c50, target, ['multi', 'plain']);
    for (const table of ['multi', 'plain']) {
      const restored = after.rows.get(table) as Rows;
      const backedUp = rows.get(table) ?? [];
      expect(restored.size, table).toBe(backedUp.length);
      for (const { row } of backedUp) {
        const got = restored.get(JSON.stringify(row.k)) as Record<string, Cell>;
        expect(Object.keys(got).sort()).toEqual(Object.keys(row.c).sort());
        for (const [name, cell] of Object.entries(row.c)) {
          const what = `${table} ${JSON.stringify(row.k)} ${name}`;
          expect(got[name]?.v, what).toEqual(cell.v);
          expect(got[name]?.t, what).toEqual(cell.t); // 5.0 reads each element's writetime: the backup's approximation
          const want = [cell.e ?? []].flat() as (number | null)[];
          const have = [got[name]?.e ?? []].flat();
          expect(have.length, what).toBe(want.length);
          want.forEach((e, n) => (e === null ? expect(have[n]).toBeNull() : expect(Math.abs((have[n] as number) - e), what).toBeLessThanOrEqual(2)));
        }
      }
    }
  }, 300_000);

  it('restores a 5.0 backup into 4.1', async () => {
    const from = uniqueName('it_c50_src');
    keyspaces50.push(from);
    await createSchema(client50, from);
    await load(client50, from, 8);
    const id = (await runBackup({ keyspace: from, parallel: 2, fetchSize: 1000, gzipLevel: 1, maxChunkBytes: 1 << 20, consistency: 'LOCAL_QUORUM', splits: 4 }, deps(c50))).backupId;
    const target = uniqueName('it_c50_to41');
    keyspaces41.push(target);
    const report = await runRestore(restoreRequest({ backupId: id, targetKeyspace: target }), deps(c41));
    expect(report).toMatchObject({ rejected: 0, verified: true });
    expect(report.approximatedWritetimes).toBeUndefined();
    const before = await snapshot(c50, from, ['multi', 'plain'], { elementWritetimes: false });
    const after = await snapshot(c41, target, ['multi', 'plain'], { elementWritetimes: false });
    expectSameValues(before.rows, after.rows);
  }, 300_000);

  it('rotates the keys of a 4.1 table: new key only, WRITETIME + 1 µs', async () => {
    const ROWS = 300;
    const ks = uniqueName('it_c41_rot');
    keyspaces41.push(ks);
    await client41.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    await client41.execute(`CREATE TABLE ${ks}.users (id int PRIMARY KEY, ssn blob, email text, tags list<text>, key_version text)`);
    const [oldKey, newKey] = [await fernetGenerateKeyInPython(), await fernetGenerateKeyInPython()];
    const plain = Array.from({ length: 2 * ROWS }, (_, n) => Buffer.from(`${n < ROWS ? 'ssn' : 'mail'}-${n % ROWS}`));
    const tokens = await fernetEncryptInPython(oldKey, plain);
    await cassandra.concurrent.executeConcurrent(client41,
      `INSERT INTO ${ks}.users (id, ssn, email, tags, key_version) VALUES (?, ?, ?, ?, '1') USING TIMESTAMP ? AND TTL ?`,
      Array.from({ length: ROWS }, (_, i) => [i, Buffer.from(tokens[i] as string, 'ascii'), tokens[ROWS + i], [`t${i}`], cassandra.types.Long.fromNumber(t(i)), i % 2 === 0 ? DAY : 0]),
      { concurrencyLevel: 32 });
    const config = join(work, 'rotate.yaml');
    writeFileSync(config, [
      `cluster: {contact_points: [${services.c41.host}], port: ${services.c41.port}, keyspace: ${ks}}`,
      `repo: ${join(work, 'rotations')}`,
      'provider: {type: fernet, old_key_env: REKEY_OLD_KEY, new_key_env: REKEY_NEW_KEY, old_key_version: "1", new_key_version: "2"}',
      'tables:',
      '  - name: users',
      '    partition_key: [id]',
      '    clustering_key: []',
      '    encrypted_columns: [ssn, email]',
      '    use_lwt_guard: false',
      'execution: {workers: 1}',
      '',
    ].join('\n'));
    const run = runCli(['rotate', '--config', config, ...connection(services.c41), '--json'], cliEnv(undefined, { REKEY_OLD_KEY: oldKey, REKEY_NEW_KEY: newKey }));
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ rounds: 1, valuesRotated: 2 * ROWS, valuesQuarantined: 0 });
    const rs = await client41.execute(`SELECT id, ssn, email, tags, key_version, WRITETIME(ssn) AS w1, WRITETIME(email) AS w2, TTL(ssn) AS ttl FROM ${ks}.users`, [], { fetchSize: 1000 });
    expect(rs.rowLength).toBe(ROWS);
    const opened = await fernetDecryptInPython(newKey, [...rs.rows.map((r) => (r.get('ssn') as Buffer).toString('ascii')), ...rs.rows.map((r) => r.get('email') as string)]);
    rs.rows.forEach((r, n) => {
      const i = r.get('id') as number;
      expect(r.get('key_version')).toBe('2');
      expect([String(r.get('w1')), String(r.get('w2'))]).toEqual([String(t(i) + 1), String(t(i) + 1)]);
      expect(r.get('ttl') === null).toBe(i % 2 === 1);
      expect(r.get('tags')).toEqual([`t${i}`]);
      expect(opened[n]?.toString()).toBe(`ssn-${i}`);
      expect(opened[ROWS + n]?.toString()).toBe(`mail-${i}`);
    });
  }, 300_000);
});
