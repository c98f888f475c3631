/**
 * Cassandra 4.x (docs/format.md §6.4): the per-cluster decision (release versions → can WRITETIME/TTL
 * of multi-cell columns be read), the projection that approximates those writetimes, a backup of a
 * fake 4.1 cluster (recorded in backup.json and the manifest, a warning per column, resumed the same
 * way), and the list protocol against a target that cannot read list writetimes.
 */
import { describe, expect, it } from 'vitest';
import { runBackup, type BackupDeps, type BackupRequest } from '../../src/commands/backup.js';
import type { ProgressSink } from '../../src/commands/progress.js';
import { CassetteError } from '../../src/errors.js';
import { multiCellColumns, readsElementWritetimes, releaseMajor } from '../../src/cassandra/reads/read-capabilities.js';
import { tableReaderFor } from '../../src/cassandra/reads/table-reader.js';
import { approximatedCellProjection } from '../../src/cassandra/values/approximated-cells.js';
import { cellProjection, type CellColumn } from '../../src/cassandra/values/cell-codec.js';
import { CqlMap } from '../../src/cassandra/values/cql-map.js';
import { parseCqlType, type UserTypeDefinition } from '../../src/cassandra/values/cql-type.js';
import { installNullListElementFix } from '../../src/cassandra/values/driver-list-decoding.js';
import type { KeyspaceSchema, ColumnSchema } from '../../src/cassandra/schema/model.js';
import { tableWriterFor, writeList, type ListWrite } from '../../src/cassandra/writes/row-writes.js';
import type { BatchStatement, CqlWriteSession, QueryOptions, QueryResult } from '../../src/cassandra/connection/session.js';
import { backupHeaderKey } from '../../src/manifest/keys.js';
import { readDocument } from '../../src/manifest/repository.js';
import { BackupHeader } from '../../src/manifest/format.js';
import { readBackup } from '../support/read-backup.js';
import { fakeCluster, fakeToken, FAKE_TOPOLOGY } from '../support/fakes/fake-cluster.js';
import { FakeRow, FakeSession, row, tokenRangeRows } from '../support/fakes/fake-session.js';
import { memoryFaultyStore } from '../support/fakes/faulty-store.js';

const READ_AT = 1_800_000_000;
const TYPES: UserTypeDefinition[] = [{ name: 'addr', fields: [{ name: 'street', type: 'text' }, { name: 'n', type: 'int' }] }];

function column(name: string, type: string, kind: ColumnSchema['kind'] = 'regular', position = -1): ColumnSchema {
  return { name, type, kind, position };
}

const SCHEMA: KeyspaceSchema = {
  name: 'ks',
  replication: { class: 'org.apache.cassandra.locator.SimpleStrategy', replication_factor: '1' },
  durableWrites: true,
  types: TYPES,
  tables: [{
    name: 't',
    columns: [
      column('k', 'int', 'partition_key', 0), column('c', 'int', 'clustering', 0),
      column('ss', 'text', 'static'), column('sl', 'list<int>', 'static'),
      column('a', 'text'), column('b', 'bigint'), column('fl', 'frozen<list<int>>'),
      column('l', 'list<int>'), column('m', 'map<int, text>'), column('s', 'set<text>'), column('u', 'addr'),
    ],
    options: {}, isCounter: false, cql: '',
  }],
  indexes: [],
  views: [],
} as unknown as KeyspaceSchema;

describe('which clusters can read WRITETIME/TTL of multi-cell columns', () => {
  it('reads the major version of a release', () => {
    expect(releaseMajor('4.1.10')).toBe(4);
    expect(releaseMajor('5.0.8')).toBe(5);
    expect(releaseMajor('3.11.17')).toBe(3);
    expect(releaseMajor('unknown')).toBeUndefined();
    expect(releaseMajor('')).toBeUndefined();
  });

  it('is true only when no node runs a release before 5.0; unknown versions do not count', () => {
    expect(readsElementWritetimes(['5.0.8'])).toBe(true);
    expect(readsElementWritetimes(['5.0.8', '5.1.0'])).toBe(true);
    expect(readsElementWritetimes(['4.1.10'])).toBe(false);
    expect(readsElementWritetimes(['4.0.13'])).toBe(false);
    expect(readsElementWritetimes(['5.0.8', '4.1.10'])).toBe(false); // a rolling upgrade: a 4.1 coordinator refuses
    expect(readsElementWritetimes(['unknown', '4.1.10'])).toBe(false);
    expect(readsElementWritetimes(['unknown'])).toBe(true);
    expect(readsElementWritetimes([])).toBe(true);
  });

  it('names the non-frozen collections and user types of a table, static ones included, frozen ones not', () => {
    expect(multiCellColumns(SCHEMA, 't')).toEqual(['sl', 'l', 'm', 's', 'u']);
    expect(multiCellColumns(SCHEMA, 'missing')).toEqual([]);
  });
});

const cellColumns = (names: string[]): CellColumn[] => names.map((name) => {
  const c = SCHEMA.tables[0]?.columns.find((x) => x.name === name) as ColumnSchema;
  return { name, kind: c.kind, type: parseCqlType(c.type, TYPES) };
});

describe('approximatedCellProjection', () => {
  const projection = approximatedCellProjection(cellColumns(['ss', 'sl', 'a', 'b', 'fl', 'l', 'm', 'u']));

  it('reads single-cell columns with WRITETIME and TTL and multi-cell ones by value alone', () => {
    expect(projection.selectors).toEqual([
      '"ss"', 'WRITETIME("ss")', 'TTL("ss")', '"sl"',
      '"a"', 'WRITETIME("a")', 'TTL("a")', '"b"', 'WRITETIME("b")', 'TTL("b")', '"fl"', 'WRITETIME("fl")', 'TTL("fl")',
      '"l"', '"m"', '"u"',
    ]);
    expect(projection.approximated).toEqual(['sl', 'l', 'm', 'u']);
  });

  // values in select-list order: ss wt ttl, sl, a wt ttl, b wt ttl, fl wt ttl, l, m, u
  const values = (over: Partial<Record<'ss' | 'sl' | 'a' | 'b' | 'fl' | 'l' | 'm' | 'u', unknown[]>>): unknown[] => {
    const v = { ss: ['st', 7n, null], sl: [[9]], a: ['x', 100n, 50], b: [5n, 300n, 20], fl: [[1], 200n, 50], l: [[1, 2]], m: [new CqlMap([[1, 'one']])], u: [{ street: 's', n: null }], ...over };
    return ['key', ...v.ss, ...v.sl, ...v.a, ...v.b, ...v.fl, ...v.l, ...v.m, ...v.u];
  };

  it('gives every element the latest writetime of the row\'s single cells of its kind, and their latest expiry when all expire', () => {
    const cells = projection.encodeCells(values({}), 1, READ_AT);
    expect(Object.keys(cells)).toEqual(['ss', 'sl', 'a', 'b', 'fl', 'l', 'm', 'u']); // column order, as the 5.0 path
    expect(cells.a).toEqual({ v: 'x', t: 100, e: READ_AT + 50 });
    expect(cells.l).toEqual({ v: [1, 2], t: [300, 300], e: [READ_AT + 50, READ_AT + 50] });
    expect(cells.m).toEqual({ v: [[1, 'one']], t: [300], e: [READ_AT + 50] });
    expect(cells.u).toEqual({ v: { street: 's', n: null }, t: [300, null], e: [READ_AT + 50, null] }); // a null field has no cell
    // A static collection follows the static cells (no TTL there), not the row's.
    expect(cells.sl).toEqual({ v: [9], t: [7] });
  });

  it('gives no expiry when one of the single cells has none', () => {
    const cells = projection.encodeCells(values({ b: [5n, 300n, null] }), 1, READ_AT);
    expect(cells.l).toEqual({ v: [1, 2], t: [300, 300] });
  });

  it('falls back to the given time (else the read time), without expiry, when the row has no single cell of that kind', () => {
    const bare = values({ ss: [null, null, null], a: [null, null, null], b: [null, null, null], fl: [null, null, null] });
    const cells = projection.encodeCells(bare, 1, READ_AT);
    expect(cells.l).toEqual({ v: [1, 2], t: [READ_AT * 1_000_000, READ_AT * 1_000_000] });
    expect(cells.sl).toEqual({ v: [9], t: [READ_AT * 1_000_000] });
    expect(Object.keys(cells)).toEqual(['sl', 'l', 'm', 'u']);
    // A backup passes its start: the same in every page, so a static column is the same in every row of its partition.
    const started = approximatedCellProjection(cellColumns(['ss', 'sl', 'a', 'b', 'fl', 'l', 'm', 'u']), 1_700_000_000_000_000n);
    expect(started.encodeCells(bare, 1, READ_AT).sl).toEqual({ v: [9], t: [1_700_000_000_000_000] });
    expect(started.encodeCells(bare, 1, READ_AT + 5).l).toEqual({ v: [1, 2], t: [1_700_000_000_000_000, 1_700_000_000_000_000] });
  });

  it('leaves out null collections, like the 5.0 path', () => {
    const cells = projection.encodeCells(values({ l: [null], m: [null], u: [null], sl: [null] }), 1, READ_AT);
    expect(Object.keys(cells)).toEqual(['ss', 'a', 'b', 'fl']);
  });
});

describe('tableReaderFor decides per table', () => {
  it('reads 5.0 tables as before, and 4.x tables without WRITETIME/TTL of multi-cell columns', () => {
    installNullListElementFix();
    const exact = tableReaderFor(SCHEMA, 't');
    expect(exact.cql).toContain('WRITETIME("l")');
    expect(exact.approximated).toBeUndefined();
    expect(exact.cql).toBe(tableReaderFor(SCHEMA, 't', undefined, { elementWritetimes: true }).cql);
    expect(cellProjection(cellColumns(['a'])).selectors).toEqual(approximatedCellProjection(cellColumns(['a'])).selectors);

    const approximated = tableReaderFor(SCHEMA, 't', undefined, { elementWritetimes: false });
    expect(approximated.cql).not.toMatch(/WRITETIME\("(l|m|s|u|sl)"\)|TTL\("(l|m|s|u|sl)"\)/);
    expect(approximated.cql).toContain('WRITETIME("a")');
    expect(approximated.approximated).toEqual(['sl', 'l', 'm', 's', 'u']);
    // A selection of single-cell columns (rotate's) approximates nothing.
    expect(tableReaderFor(SCHEMA, 't', ['a', 'b'], { elementWritetimes: false }).approximated).toBeUndefined();
  });
});

/** A fake 4.1 node with one table `(id int PRIMARY KEY, v text, tags list<int>)`, refusing WRITETIME(tags). */
function fake41(rows: number): FakeSession {
  const session = new FakeSession()
    .answer('FROM system_schema.keyspaces', [row({ keyspace_name: 'ks', durable_writes: true, replication: new Map([['class', 'org.apache.cassandra.locator.SimpleStrategy'], ['replication_factor', '1']]) })])
    .answer('FROM system_schema.types', [])
    .answer('FROM system_schema.tables', [row({ keyspace_name: 'ks', table_name: 'a', gc_grace_seconds: 864000, comment: '' })])
    .answer('FROM system_schema.columns', [
      row({ table_name: 'a', column_name: 'id', clustering_order: 'none', kind: 'partition_key', position: 0, type: 'int' }),
      row({ table_name: 'a', column_name: 'tags', clustering_order: 'none', kind: 'regular', position: -1, type: 'list<int>' }),
      row({ table_name: 'a', column_name: 'v', clustering_order: 'none', kind: 'regular', position: -1, type: 'text' }),
    ])
    .answer('FROM system_schema.indexes', [])
    .answer('FROM system_schema.views', []);
  session.answer((cql) => cql.includes('WRITETIME("tags")'), () => {
    throw new Error('Cannot use selection function writeTime on non-frozen collection tags');
  });
  session.answer('FROM "ks"."a" WHERE token(', tokenRangeRows(Array.from({ length: rows }, (_, i) => ({
    token: fakeToken(i, rows),
    row: new FakeRow(['id', 'tags', 'v', 'writetime(v)', 'ttl(v)'], [i, [i, i + 1], `row ${i}`, 1_000n + BigInt(i), i % 2 === 0 ? 600 : null]),
  }))));
  return session;
}

describe('runBackup of a 4.1 cluster', () => {
  const REQUEST: BackupRequest = { keyspace: 'ks', splits: 3, parallel: 2, fetchSize: 4, gzipLevel: 1, maxChunkBytes: 64 * 1024, consistency: 'LOCAL_QUORUM', attempts: 1, retryBaseDelayMs: 1 };
  const setup = (): { deps: BackupDeps; notes: string[]; store: ReturnType<typeof memoryFaultyStore> } => {
    const session = fake41(10);
    const store = memoryFaultyStore();
    const notes: string[] = [];
    const progress: ProgressSink = { start: () => undefined, skip: () => undefined, rows: () => undefined, unitDone: () => undefined, note: (line) => notes.push(line), stop: () => undefined };
    const node = { ...FAKE_TOPOLOGY.nodes[0], releaseVersion: '4.1.10' } as (typeof FAKE_TOPOLOGY.nodes)[number];
    const cluster = { ...fakeCluster(session), releaseVersion: '4.1.10', topology: { nodes: [node] } };
    let ms = Date.UTC(2026, 10, 22);
    return { deps: { store, cluster, progress, signal: new AbortController().signal, now: () => (ms += 10), toolVersion: 'test', resumeHint: (id) => id }, notes, store };
  };

  it('records the approximated columns, warns once per column, and never asks 4.1 for WRITETIME of a collection', async () => {
    const { deps, notes, store } = setup();
    const report = await runBackup(REQUEST, deps);
    expect(report.approximatedWritetimes).toEqual([{ name: 'a', columns: ['tags'] }]);
    expect(report.rows).toBe(10);
    expect(notes.filter((n) => n.startsWith('warning:'))).toEqual([expect.stringMatching(/^warning: ks\.a\.tags: Cassandra 4\.1\.10 cannot read the writetimes/) as unknown]);
    const header = await readDocument(store, backupHeaderKey(report.backupId), BackupHeader, 'header');
    expect(header?.approximatedWritetimes).toEqual({ rule: 'row-cells', tables: [{ name: 'a', columns: ['tags'] }] });
    const back = await readBackup(store, report.backupId);
    expect(back.manifest.approximatedWritetimes).toEqual(header?.approximatedWritetimes);
    const rows = back.rows.get('a')?.map((r) => r.row) ?? [];
    expect(rows).toHaveLength(10);
    for (const r of rows) {
      const i = r.k[0] as number;
      const v = r.c.v as { t: number; e?: number };
      expect(r.c.tags).toEqual({ v: [i, i + 1], t: [1000 + i, 1000 + i], ...(v.e === undefined ? {} : { e: [v.e, v.e] }) });
      expect(v.e === undefined).toBe(i % 2 === 1);
    }
  });

  it('a resume reads as the backup started: by backup.json, not by the version the cluster reports now', async () => {
    const { deps, store } = setup();
    store.failPutWhen((key) => key.endsWith('/ranges/a/00002.json'), { error: new CassetteError('REPOSITORY_UNAVAILABLE', 'disk went away') });
    const failed = await runBackup(REQUEST, deps).then(() => undefined, (e: unknown) => e);
    expect(failed).toBeInstanceOf(CassetteError);
    const id = store.putKeys()[0]?.split('/')[1] as string;
    // The fake still refuses WRITETIME("tags"): the resume must not ask for it.
    const cluster = { ...deps.cluster, releaseVersion: '5.0.8', topology: FAKE_TOPOLOGY };
    const { keyspace: _k, ...rest } = REQUEST;
    const report = await runBackup({ ...rest, resume: id }, { ...deps, cluster });
    expect(report.rows).toBe(10);
    expect(report.approximatedWritetimes).toEqual([{ name: 'a', columns: ['tags'] }]);
  });

  it('a cluster that says it runs 5.0 is asked for WRITETIME of the collection (which this fake refuses)', async () => {
    const { deps } = setup();
    const cluster = { ...deps.cluster, releaseVersion: '5.0.8', topology: FAKE_TOPOLOGY };
    await expect(runBackup(REQUEST, { ...deps, cluster })).rejects.toThrow(/Cannot use selection function writeTime on non-frozen collection tags/);
  });
});

/** A 4.x list: SELECT without WRITETIME answers values only; appends make cells; DELETE l[i] USING TIMESTAMP w shadows a cell at ≤ w. */
class Fake41ListSession implements CqlWriteSession {
  cells: { value: string; writetime: bigint }[] = [];
  deliverNextBatch = 1;
  readonly log: string[] = [];

  execute(cql: string, params: readonly unknown[] = []): Promise<QueryResult> {
    if (cql.startsWith('SELECT')) {
      if (cql.includes('WRITETIME')) return Promise.reject(new Error('Cannot use selection function writeTime on non-frozen collection l'));
      this.log.push('read');
      const row = [this.cells.length === 0 ? null : this.cells.map((cell) => cell.value)];
      return Promise.resolve({ rows: [{ get: (i: string | number) => row[Number(i)], values: () => row }] });
    }
    if (cql.startsWith('DELETE')) {
      const [index, writetime] = params as [number, bigint];
      this.log.push(`delete ${index}@${writetime}`);
      if ((this.cells[index]?.writetime ?? 0n) <= writetime) this.cells.splice(index, 1);
      return Promise.resolve({ rows: [] });
    }
    return Promise.reject(new Error(`unexpected ${cql}`));
  }

  batch(statements: readonly BatchStatement[], _options: QueryOptions = {}): Promise<QueryResult> {
    this.log.push(`batch ${statements.length}`);
    for (let copy = 0; copy < this.deliverNextBatch; copy++) {
      for (const s of statements) {
        const [writetime, , [value]] = s.params as [bigint, number, string[]];
        this.cells.push({ value: value as string, writetime });
      }
    }
    this.deliverNextBatch = 1;
    return Promise.resolve({ rows: [] });
  }
}

describe('writeList against a 4.x target', () => {
  const table = { name: 'e', columns: [column('k', 'int', 'partition_key', 0), column('l', 'list<text>')], options: {}, isCounter: false, cql: '' };
  const plan = (readsWritetimes: boolean): ListWrite => tableWriterFor({ keyspace: 'ks', table, types: [] }, { kind: 'none' }, { markerTimestampMicros: 1n, targetReadsListWritetimes: readsWritetimes })
    .planRow({ k: [1], c: { l: { v: ['b', 'a', 'b'], t: [5, 3, 6] } } }, READ_AT).lists[0] as ListWrite;

  it('reads the list back by its values alone', () => {
    expect(plan(true).selectCql).toBe('SELECT "l", WRITETIME("l") FROM "ks"."e" WHERE "k" = ?');
    expect(plan(false).selectCql).toBe('SELECT "l" FROM "ks"."e" WHERE "k" = ?');
  });

  it('writes once, and removes surplus copies at the writetimes the batch wrote', async () => {
    const session = new Fake41ListSession();
    session.deliverNextBatch = 2;
    const list = plan(false);
    expect(await writeList(session, list, { nowSeconds: () => READ_AT })).toEqual({ appended: 3, removed: 3, expired: 0 });
    expect(session.cells).toEqual([{ value: 'b', writetime: 5n }, { value: 'a', writetime: 3n }, { value: 'b', writetime: 6n }]);
    expect(session.log).toEqual(['read', 'batch 3', 'read', 'delete 5@6', 'delete 4@3', 'delete 3@5', 'read']);
    expect(await writeList(session, list, { nowSeconds: () => READ_AT })).toEqual({ appended: 0, removed: 0, expired: 0 });
  });

  it('writes a list once when several calls write it at once (a static list, in every row of its partition)', async () => {
    for (const readsWritetimes of [false, true]) {
      const session = new Fake41ListSession();
      const list = plan(readsWritetimes);
      if (readsWritetimes) {
        const values = session.execute.bind(session);
        session.execute = (cql: string, params?: readonly unknown[]): Promise<QueryResult> => {
          if (!cql.startsWith('SELECT')) return values(cql, params);
          session.log.push('read');
          const row = session.cells.length === 0 ? [null, null] : [session.cells.map((c) => c.value), session.cells.map((c) => c.writetime)];
          return Promise.resolve({ rows: [{ get: (i: string | number) => row[Number(i)], values: () => row }] });
        };
      }
      const outcomes = await Promise.all([1, 2, 3].map(() => writeList(session, list, { nowSeconds: () => READ_AT })));
      expect(outcomes.map((o) => o.appended).sort()).toEqual([0, 0, 3]);
      expect(session.cells.map((c) => c.value)).toEqual(['b', 'a', 'b']);
      expect(session.log.filter((l) => l.startsWith('batch'))).toHaveLength(1);
    }
  });

  it('refuses a list holding other values', async () => {
    const session = new Fake41ListSession();
    session.cells = [{ value: 'other', writetime: 1n }];
    await expect(writeList(session, plan(false), { nowSeconds: () => READ_AT })).rejects.toThrow(/the target list holds 1 element\(s\) \["other"\]/);
  });
});
