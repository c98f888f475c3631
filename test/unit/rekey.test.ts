import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { runRekey, type RekeyDeps, type RekeyRequest } from '../../src/commands/rekey/rekey.js';
import { silentProgress } from '../../src/commands/progress.js';
import type { RotationConfig } from '../../src/config/rotation-types.js';
import type { ColumnCipher } from '../../src/crypto/cipher.js';
import { CassetteError } from '../../src/errors.js';
import { manifestKey, schemaCqlKey } from '../../src/manifest/keys.js';
import { readManifest } from '../../src/manifest/repository.js';
import { inProcessTransformer, type ChunkTransformer } from '../../src/pipeline/transform/transformer.js';
import { fakeCipher, fakeSealed } from '../support/fakes/fake-cipher.js';
import { MemoryStore } from '../support/fakes/memory-store.js';
import { LeaseHolder } from '../../src/pipeline/lease-holder.js';
import { readBackup } from '../support/read-backup.js';
import { keyspaceSchema, tableSchema, writeSyntheticBackup } from '../support/synthetic-backup.js';

const SOURCE = '20261122T120000Z-000001';

const schema = keyspaceSchema('app', [
  tableSchema('users', [['tenant', 'text', 'partition_key'], ['id', 'int', 'partition_key'], ['at', 'timestamp', 'clustering'],
    ['email', 'blob', 'regular'], ['key_version', 'text', 'regular'], ['name', 'text', 'regular'], ['ssn', 'blob', 'regular']]),
  tableSchema('plain', [['id', 'int', 'partition_key'], ['v', 'text', 'regular']]),
]);

const config: RotationConfig = {
  file: 'rekey.yaml',
  cluster: { contactPoints: ['127.0.0.1'], keyspace: 'app' },
  provider: { type: 'module', oldKeys: [], options: {} },
  keyVersionColumn: 'key_version',
  tables: [{ name: 'users', encryptedColumns: ['ssn', 'email'], preserveTtl: true, preserveWritetime: true, useLwtGuard: false, consistency: { read: 'LOCAL_QUORUM', write: 'LOCAL_QUORUM' } }],
  execution: { workers: 4, pauseOnBackpressure: false },
};

function userRow(i: number, version = 1): unknown {
  return {
    k: ['t', i, 1_700_000_000_000 + i],
    c: {
      ssn: { v: fakeSealed(version, `ssn-${i}`), t: 1_000 + i, e: 2_000_000_000 },
      ...(i % 3 === 0 ? {} : { email: { v: fakeSealed(version, `mail-${i}`), t: 2_000 + i } }),
      key_version: { v: String(version), t: 1_000 },
      name: { v: `n${i}`, t: 5 },
    },
  };
}

async function setup(rows: (i: number) => unknown = userRow): Promise<MemoryStore> {
  const store = new MemoryStore();
  let i = 0;
  const chunk = (n: number): unknown[] => Array.from({ length: n }, () => rows(i++));
  await writeSyntheticBackup(store, SOURCE, schema, [
    { name: 'users', ranges: [[chunk(5), chunk(4)], [], [chunk(6)]] },
    { name: 'plain', ranges: [[[{ k: [1], c: { v: { v: 'x', t: 1 } } }]], [[{ k: [2], c: {} }]]] },
  ]);
  return store;
}

async function allKeys(store: MemoryStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of store.list('')) keys.push(entry.key);
  return keys;
}

function deps(store: MemoryStore, overrides: Partial<RekeyDeps> = {}): RekeyDeps {
  const cipher = fakeCipher();
  return {
    store, cipher, transformer: inProcessTransformer(store, cipher), progress: silentProgress,
    signal: new AbortController().signal, now: Date.now, toolVersion: 'test', resumeHint: (id) => `cassette rekey --resume ${id}`,
    ...overrides,
  };
}

const request: RekeyRequest = { backupId: SOURCE, config, dryRun: false, allowFailures: 0 };
const resumeOf = (id: string, extra: Partial<RekeyRequest> = {}): RekeyRequest => ({ config, dryRun: false, allowFailures: 0, ...extra, resume: id });

describe('runRekey', () => {
  it('writes a new backup: rotated columns re-encrypted, every other cell and table identical, derivedFrom recorded', async () => {
    const store = await setup();
    const report = await runRekey(request, deps(store));
    expect(report).toMatchObject({ sourceBackupId: SOURCE, dryRun: false, valuesRotated: 25, valuesAlreadyCurrent: 0, valuesQuarantined: 0, rowsChanged: 15, rowsSkipped: 0 });
    const target = report.backupId as string;
    const manifest = await readManifest(store, target);
    expect(manifest?.derivedFrom).toEqual({ backupId: SOURCE, by: 'rekey' });
    expect(manifest?.rekey).toEqual({ provider: 'module', newKeyVersion: '2', oldKeyVersions: ['1', '0'], keyVersionColumn: 'key_version', tables: [{ name: 'users', columns: ['ssn', 'email'] }] });
    expect(manifest?.rekeyTotals).toMatchObject({ valuesRotated: 25, rowsChanged: 15 });
    const source = await readManifest(store, SOURCE);
    expect(manifest?.tables.find((t) => t.name === 'plain')).toEqual(source?.tables.find((t) => t.name === 'plain'));
    expect(manifest?.totals.rows).toBe(source?.totals.rows);

    const before = await readBackup(store, SOURCE);
    const after = await readBackup(store, target);
    const users = after.rows.get('users') ?? [];
    expect(users).toHaveLength(15);
    for (const [n, { row }] of users.entries()) {
      const old = (before.rows.get('users') ?? [])[n]?.row as unknown as { k: unknown; c: Record<string, { v: string; t: number; e?: number }> };
      const c = row.c as Record<string, { v: string; t: number; e?: number } | undefined>;
      expect(row.k).toEqual(old.k);
      expect(c.name).toEqual(old.c.name);
      for (const column of ['ssn', 'email']) {
        if (old.c[column] === undefined) {
          expect(c[column]).toBeUndefined();
          continue;
        }
        const value = Buffer.from(c[column]?.v ?? '', 'base64');
        expect(value[0]).toBe(2);
        expect(value.subarray(1).toString()).toBe(Buffer.from(old.c[column].v, 'base64').subarray(1).toString());
        expect(c[column]?.t).toBe(old.c[column].t + 1);
        expect(c[column]?.e).toBe(old.c[column].e);
      }
      expect(c.key_version?.v).toBe('2');
    }
    expect(after.rows.get('plain')).toEqual(before.rows.get('plain'));
  });

  it('a remote provider (parallelism > 1, answers out of order) writes the same rows in the same order and counts its KMS calls', async () => {
    const serial = await setup();
    const serialReport = await runRekey(request, deps(serial));
    const store = await setup();
    const base = fakeCipher();
    let calls = 0;
    // Every answer arrives after a random delay, so rows finish out of order.
    const later = <T>(value: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), Math.random() * 5));
    const remote: ColumnCipher = {
      ...base,
      parallelism: 4,
      open: async (ciphertext, context) => { calls++; return later(await base.open(ciphertext, context)); },
      seal: async (plaintext, context) => later(await base.seal(plaintext, context)),
      kmsCalls: () => ({ generateDataKey: 0, decrypt: calls }),
    };
    const report = await runRekey(request, deps(store, { cipher: remote, transformer: inProcessTransformer(store, remote) }));
    expect(report.kmsCalls).toEqual({ generateDataKey: 0, decrypt: 25 });
    const expected = (await readBackup(serial, serialReport.backupId as string)).rows.get('users')?.map((r) => ({ k: r.row.k, kv: (r.row.c as Record<string, { v: unknown }>).key_version?.v }));
    const got = (await readBackup(store, report.backupId as string)).rows.get('users')?.map((r) => ({ k: r.row.k, kv: (r.row.c as Record<string, { v: unknown }>).key_version?.v }));
    expect(got).toEqual(expected);
    expect(got).toHaveLength(15);
  });

  it('is idempotent: re-keying the new backup rotates nothing', async () => {
    const store = await setup();
    const first = await runRekey(request, deps(store));
    const again = await runRekey({ ...request, backupId: first.backupId as string }, deps(store));
    expect(again).toMatchObject({ valuesRotated: 0, rowsSkipped: 15, rowsChanged: 0 });
  });

  it('counts values already under the new key as rotated already', async () => {
    const store = await setup((i) => (i % 2 === 0 ? userRow(i, 2) : userRow(i)));
    const report = await runRekey(request, deps(store));
    expect(report.rowsSkipped).toBe(8); // key_version "2" already
    expect(report.valuesRotated).toBe(12);
  });

  it('quarantines values no key opens, by table, column and primary key, and lists them in the repository', async () => {
    const store = await setup((i) => (i === 4 ? { k: ['t', 4, 5], c: { ssn: { v: Buffer.from([7, 7]).toString('base64'), t: 1 } } } : userRow(i)));
    const report = await runRekey(request, deps(store));
    expect(report.valuesQuarantined).toBe(1);
    expect(report.quarantineSample).toEqual([{ table: 'users', column: 'ssn', key: ['t', 4, 5] }]);
    expect(report.quarantineFolder).toBe(`backups/${report.backupId}/quarantine/`);
    const keys = [];
    for await (const entry of store.list(report.quarantineFolder as string)) keys.push(entry.key);
    expect(keys).toHaveLength(1);
    const listed = (await text(await store.get(keys[0] as string))).trim();
    expect(JSON.parse(listed)).toEqual({ table: 'users', column: 'ssn', key: ['t', 4, 5] });
  });

  it('a dry run opens every value and writes nothing', async () => {
    const store = await setup();
    const keysBefore = await allKeys(store);
    const cipher = fakeCipher();
    const report = await runRekey({ ...request, dryRun: true }, deps(store, { cipher, transformer: inProcessTransformer(store, cipher) }));
    expect(report).toMatchObject({ backupId: undefined, dryRun: true, valuesRotated: 25 });
    expect(cipher.sealed).toBe(0);
    expect(await allKeys(store)).toEqual(keysBefore);
  });

  it('resumes an interrupted rekey: finished chunks are kept and the result equals an uninterrupted one', async () => {
    const store = await setup();
    const controller = new AbortController();
    const cipher = fakeCipher();
    const inner = inProcessTransformer(store, cipher);
    let runs = 0;
    const stopping: ChunkTransformer = {
      concurrency: 1,
      run: async (task, signal) => {
        const result = await inner.run(task, signal);
        if (++runs === 2) controller.abort(new Error('SIGINT'));
        return result;
      },
      close: () => Promise.resolve(),
    };
    const interrupted = runRekey(request, deps(store, { cipher, transformer: stopping, signal: controller.signal }));
    await expect(interrupted).rejects.toMatchObject({ code: 'INTERRUPTED' });
    const error = await interrupted.then(() => undefined, (e: unknown) => e as CassetteError) as CassetteError;
    const target = /--resume (\S+)/.exec(error.hint ?? '')?.[1] as string;
    expect(await store.head(manifestKey(target))).toBeUndefined();

    const resumed = await runRekey(resumeOf(target), deps(store, { cipher }));
    expect(resumed).toMatchObject({ backupId: target, resumed: true, valuesRotated: 25 });
    expect(resumed.valuesThisRun).toBeLessThan(25);
    const after = await readBackup(store, target);
    const clean = await runRekey(request, deps(store));
    const reference = await readBackup(store, clean.backupId as string);
    expect(after.rows).toEqual(reference.rows);
  });

  it('a rekey killed between the new backup.json and schema.cql: the resume copies schema.cql (crash matrix)', async () => {
    const store = await setup();
    const controller = new AbortController();
    const cipher = fakeCipher();
    const inner = inProcessTransformer(store, cipher);
    const stopping: ChunkTransformer = {
      concurrency: 1,
      run: async (task, signal) => {
        controller.abort(new Error('killed'));
        return inner.run(task, signal);
      },
      close: () => Promise.resolve(),
    };
    const error = await runRekey(request, deps(store, { cipher, transformer: stopping, signal: controller.signal })).then(() => undefined, (e: unknown) => e as CassetteError) as CassetteError;
    const target = /--resume (\S+)/.exec(error.hint ?? '')?.[1] as string;
    await store.delete(schemaCqlKey(target)); // what a SIGKILL right after backup.json leaves
    await runRekey(resumeOf(target), deps(store, { cipher }));
    expect(await text(await store.get(schemaCqlKey(target)))).toBe(await text(await store.get(schemaCqlKey(SOURCE))));
  });

  it('refuses a resume with other rotation settings, an incomplete source, another keyspace and unknown tables', async () => {
    const store = await setup();
    await expect(runRekey({ ...request, backupId: '20261122T120000Z-ffffff' }, deps(store))).rejects.toMatchObject({ code: 'BACKUP_INVALID' });
    await expect(runRekey({ ...request, config: { ...config, cluster: { ...config.cluster, keyspace: 'other' } } }, deps(store)))
      .rejects.toThrow(/keyspace app, but rekey.yaml rotates keyspace other/);
    await expect(runRekey({ ...request, config: { ...config, tables: [{ ...config.tables[0]!, name: 'nope' }] } }, deps(store)))
      .rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/no table nope/) });
    await expect(runRekey({ ...request, config: { ...config, tables: [{ ...config.tables[0]!, encryptedColumns: ['name2'] }] } }, deps(store)))
      .rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/no column name2/) });

    const done = await runRekey(request, deps(store));
    const other = { ...config, tables: [{ ...config.tables[0]!, encryptedColumns: ['ssn'] }] };
    await expect(runRekey(resumeOf(done.backupId as string, { config: other }), deps(store)))
      .rejects.toThrow(/other rotation settings/);
  });
});

describe('runRekey shared by several workers (--rekey-id, format.md §13)', () => {
  const ID = '20261204T180000Z-c0ffee';
  const worker = (store: MemoryStore, n: number): RekeyDeps => deps(store, {
    leases: new LeaseHolder(store, { command: 'rekey', host: `host-${n}`, pid: n, now: Date.now }),
  });

  it('three workers make one new backup, every range once, equal to a single-process rekey', async () => {
    const store = await setup();
    const workers = [1, 2, 3].map((n) => worker(store, n));
    const reports = await Promise.all(workers.map((d) => runRekey({ ...request, rekeyId: ID, claimPollMs: 5 }, d)));
    await Promise.all(workers.map((d) => (d.leases as LeaseHolder).release()));
    expect(reports.map((r) => r.backupId)).toEqual([ID, ID, ID]);
    // Every worker returns once the new backup is complete, with its totals.
    expect(reports.map((r) => r.valuesRotated)).toEqual([25, 25, 25]);
    expect(reports.reduce((n, r) => n + (r.shared?.rangesMine ?? 0), 0)).toBe(5);
    const single = await setup();
    const alone = await runRekey(request, deps(single));
    const strip = (b: Awaited<ReturnType<typeof readBackup>>) => [...b.rows.entries()];
    expect(strip(await readBackup(store, ID))).toEqual(strip(await readBackup(single, alone.backupId as string)));
  });

  it('refuses a worker whose config rotates something else than the run it joins', async () => {
    const store = await setup();
    await runRekey({ ...request, rekeyId: ID }, worker(store, 1));
    const other: RotationConfig = { ...config, tables: [{ ...(config.tables[0] as RotationConfig['tables'][number]), encryptedColumns: ['ssn'] }] };
    const refused = await runRekey({ ...request, config: other, rekeyId: ID }, worker(store, 2)).then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(CassetteError);
    expect((refused as CassetteError).code).toBe('USAGE');
  });
});
