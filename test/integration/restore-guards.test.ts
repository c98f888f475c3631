/**
 * Guarded write-back (the write stage of key rotation), racing real application writes:
 * `--guard lwt` never overwrites a row the application changed (lost updates = 0), and
 * `--guard timestamp` makes every rewritten cell carry the new value while application writes made
 * after the export survive.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import cassandra from 'cassandra-driver';
import { runBackup } from '../../src/commands/backup.js';
import { runRestore, type RestoreRequest } from '../../src/commands/restore.js';
import { silentProgress } from '../../src/commands/progress.js';
import type { ClusterHandle } from '../../src/cli/compose.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { clusterFor } from '../support/cassette.js';

const ROWS = 3_000;
const APP_UPDATES = 1_000;
const T0 = 1_700_000_000_000_000n;

describe('guarded write-back racing application writes', () => {
  const services = inject('services');
  const work = mkdtempSync(join(tmpdir(), 'cassette-guards-'));
  const store = new FsStore(join(work, 'repo'));
  const keyspaces: string[] = [];
  let client: cassandra.Client;
  let cluster: ClusterHandle;

  const deps = () => ({ store, cluster, progress: silentProgress, signal: new AbortController().signal, now: Date.now, toolVersion: 'test', resumeHint: (id: string) => id });
  const request = (backupId: string, extra: Partial<RestoreRequest>): RestoreRequest => ({
    backupId, schemaMode: 'require-existing', guard: { kind: 'none' }, maxInFlight: 64, maxErrors: 0, batchBytes: 4096, parallel: 2, verify: false, ...extra,
  });

  /** `live` holds the application's data (key_version 1, old secrets); `rotated` the re-encrypted copy (key_version 2), same writetimes. Returns the rotated backup's id. */
  async function setUp(live: string, rotated: string): Promise<string> {
    for (const ks of [live, rotated]) {
      keyspaces.push(ks);
      await client.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
      await client.execute(`CREATE TABLE ${ks}.accounts (id int PRIMARY KEY, secret blob, key_version int)`);
    }
    const old = Array.from({ length: ROWS }, (_, id) => [id, Buffer.from(`old-${id}-${randomBytes(8).toString('hex')}`), 1, cassandra.types.Long.fromString(String(T0 + BigInt(id)))]);
    const fresh = old.map(([id, , , ts]) => [id, Buffer.from(`new-${id as number}`), 2, ts]);
    await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${live}.accounts (id, secret, key_version) VALUES (?, ?, ?) USING TIMESTAMP ?`, old, { concurrencyLevel: 64 });
    await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${rotated}.accounts (id, secret, key_version) VALUES (?, ?, ?) USING TIMESTAMP ?`, fresh, { concurrencyLevel: 64 });
    return (await runBackup({ keyspace: rotated, parallel: 4, fetchSize: 1000, gzipLevel: 1, maxChunkBytes: 1 << 20, consistency: 'LOCAL_QUORUM' }, deps() as never)).backupId;
  }

  /**
   * 1,000 application updates of random distinct rows, made while the restore runs. Under --guard
   * lwt the application's own writes to those rows must be conditional too (docs/config.md): a
   * plain write can carry a client timestamp older than the write-back's Paxos ballot and lose to
   * it (peers.md §0.2). Under --guard timestamp plain writes are fine.
   */
  async function applicationWrites(live: string, conditional: boolean): Promise<Set<number>> {
    const ids = new Set<number>();
    while (ids.size < APP_UPDATES) ids.add(Math.floor(Math.random() * ROWS));
    const params = [...ids].map((id) => [Buffer.from(`app-${id}`), id]);
    const cql = `UPDATE ${live}.accounts SET secret = ?, key_version = 3 WHERE id = ?${conditional ? ' IF EXISTS' : ''}`;
    await cassandra.concurrent.executeConcurrent(client, cql, params, { concurrencyLevel: 32 });
    return ids;
  }

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    cluster = await clusterFor(services.cassandra);
  });

  afterAll(async () => {
    for (const ks of keyspaces) await client.execute(`DROP KEYSPACE IF EXISTS ${ks}`);
    await cluster?.close();
    await client?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  it('--guard lwt never overwrites an application update (lost updates = 0)', async () => {
    const live = uniqueName('it_guard_lwt');
    const backupId = await setUp(live, uniqueName('it_guard_lwt_rot'));
    const [report, updated] = await Promise.all([
      runRestore(request(backupId, { targetKeyspace: live, guard: { kind: 'lwt', column: 'key_version', expected: 1 }, maxInFlight: 16 }), deps()),
      applicationWrites(live, true),
    ]);
    expect(report.writetimesPreserved).toBe(false);
    const rows = (await client.execute(`SELECT id, secret, key_version FROM ${live}.accounts`, [], { fetchSize: 10_000 })).rows;
    expect(rows).toHaveLength(ROWS);
    let lost = 0;
    for (const row of rows) {
      const id = row.get('id') as number;
      const secret = (row.get('secret') as Buffer).toString();
      if (updated.has(id)) {
        if (secret !== `app-${id}` || row.get('key_version') !== 3) lost++;
      } else {
        expect(secret).toBe(`new-${id}`);
        expect(row.get('key_version')).toBe(2);
      }
    }
    expect(lost).toBe(0);
    expect(report.races).toBeGreaterThan(0); // some updates landed before the write-back reached their row
    expect(report.races + report.written).toBe(ROWS);
  });

  it('--guard timestamp: rewritten cells carry the new value, application writes after the export survive', async () => {
    const live = uniqueName('it_guard_ts');
    const backupId = await setUp(live, uniqueName('it_guard_ts_rot'));
    const [report, updated] = await Promise.all([
      runRestore(request(backupId, { targetKeyspace: live, guard: { kind: 'timestamp' } }), deps()),
      applicationWrites(live, false),
    ]);
    expect(report.written).toBe(ROWS);
    const rows = (await client.execute(`SELECT id, secret, key_version, WRITETIME(secret) AS wt FROM ${live}.accounts`, [], { fetchSize: 10_000 })).rows;
    for (const row of rows) {
      const id = row.get('id') as number;
      const secret = (row.get('secret') as Buffer).toString();
      if (updated.has(id)) {
        expect(secret).toBe(`app-${id}`); // made after the export, at "now": a later timestamp than t+1
      } else {
        expect(secret).toBe(`new-${id}`); // never the old value by a tie
        expect(BigInt(String(row.get('wt')))).toBe(T0 + BigInt(id) + 1n);
      }
    }
  });
});
