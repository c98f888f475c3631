/**
 * Consistency levels on the real 4-node, two-datacenter cluster (dc1: nodes 1-3, dc2: node 4),
 * keyspaces with NetworkTopologyStrategy dc1:3, dc2:1 (4 replicas of every partition), through the
 * built CLI. What Cassandra 5.0 does, and what these tests hold it to:
 * - one dc1 node down: ALL (4 of 4) cannot be met, exit 4; QUORUM (3 of 4), LOCAL_QUORUM (2 of 3
 *   in dc1) and EACH_QUORUM (2 of 3 in dc1, 1 of 1 in dc2) can;
 * - dc2 (node 4) down: EACH_QUORUM cannot be met — for reads too: Cassandra 5.0 serves EACH_QUORUM
 *   reads by asking a quorum in every datacenter — exit 4; LOCAL_QUORUM can. An LWT at SERIAL
 *   needs a quorum of all 4 replicas (3): the three dc1 replicas are enough;
 * - dc2 and one dc1 node down: SERIAL (3 needed, 2 alive) cannot be met, exit 4; LOCAL_SERIAL
 *   (2 of the 3 dc1 replicas) can.
 * A node is stopped with SIGKILL; each group of tests restarts what it stopped and waits until the
 * driver, and every live coordinator, sees the nodes as they are before going on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cliEnv, runCli } from '../support/cassette.js';
import { clusterClient, killNode, nodeAddress, startNode, waitForHostsUp } from '../support/cluster.js';
import { uniqueName } from '../support/clients.js';

const ROWS = 1_000;
const { consistencies, responseErrorCodes } = cassandra.types;

describe('consistency levels on the 4-node two-DC cluster (CLI)', () => {
  const settings = inject('services').cluster;
  const source = uniqueName('it_cl_src');
  const target = uniqueName('it_cl_tgt');
  const lwtTarget = uniqueName('it_cl_lwt');
  const work = mkdtempSync(join(tmpdir(), 'cassette-cluster-consistency-'));
  const repo = join(work, 'repo');
  const connection = ['--hosts', settings.hosts.join(','), '--port', String(settings.port), '--dc', settings.dc];
  const client = clusterClient(settings);
  const all = [...settings.hosts];
  const node = (n: number): string => nodeAddress(settings, n);
  let backupId = '';

  // Replicas stay down for the whole case: --retry-for 5s instead of the default 5 minutes
  // (docs/config.md, "Riding out outages") so that an expected exit 4 comes soon.
  function cli(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
    return runCli([...args, '--retry-for', '5s', ...connection], cliEnv());
  }

  function backup(level: string, json = true): ReturnType<typeof cli> {
    return cli(['backup', '--keyspace', source, '--repo', join(work, `backup-${level}-${Date.now()}`), '--consistency', level, '--splits', '32', ...(json ? ['--json'] : [])]);
  }

  function restore(level: string, more: readonly string[] = []): ReturnType<typeof cli> {
    return cli(['restore', backupId, '--repo', repo, '--target-keyspace', target, '--consistency', level, '--json', ...more]);
  }

  function lwtRestore(serial: string, more: readonly string[] = []): ReturnType<typeof cli> {
    return cli(['restore', backupId, '--repo', repo, '--target-keyspace', lwtTarget, '--guard', 'lwt', '--guard-column', 'kv', '--guard-value', '"old"',
      '--serial-consistency', serial, '--json', ...more]);
  }

  /** exit 4 with `text` in the one-line message. */
  function expectUnavailable(result: ReturnType<typeof cli>, text: string): void {
    expect(result.status, result.stderr).toBe(4);
    expect(result.stderr).toContain(text);
    expect(result.stdout).toBe('');
  }

  /**
   * Waits until every live dc1 coordinator answers a read at `level` with Unavailable (it has
   * noticed the nodes down) — or, with `expected: 'ok'`, answers it (it sees them back): right after
   * a SIGKILL a coordinator still waits for the dead replica and times out instead.
   */
  async function untilCoordinators(level: number, expected: 'unavailable' | 'ok'): Promise<void> {
    const deadline = Date.now() + 120_000;
    // Pinned to one host, the driver's retry on the next host ends in NoHostAvailableError around the answer.
    const isUnavailable = (err: unknown): boolean => (err instanceof cassandra.errors.NoHostAvailableError
      ? Object.values(err.innerErrors as Record<string, unknown>).some(isUnavailable)
      : err instanceof cassandra.errors.ResponseError && err.code === responseErrorCodes.unavailableException);
    for (const host of client.hosts.values().filter((h) => h.datacenter === settings.dc && h.isUp())) {
      for (;;) {
        let seen = '';
        const outcome = await client.execute(`SELECT id FROM ${source}.items WHERE id = 0`, [], { host, consistency: level, prepare: true, readTimeout: 5_000 })
          .then(() => 'ok', (err: unknown) => {
            seen = (err as Error).message;
            return isUnavailable(err) ? 'unavailable' : 'other';
          });
        if (outcome === expected) break;
        if (Date.now() > deadline) throw new Error(`coordinator ${host.address} still answers ${outcome} at consistency ${level}, not ${expected}: ${seen}`);
        await sleep(500);
      }
    }
  }

  /** Nodes stopped by the tests now (addresses). */
  const down = new Set<string>();

  /**
   * Stops `nodes`, waits until the driver sees them down and every live coordinator refuses
   * `level` as unavailable; returns what restarts them and waits until `level` is served again.
   */
  async function stop(nodes: readonly number[], level: number): Promise<() => Promise<void>> {
    const stopped: number[] = [];
    const restart = async (): Promise<void> => {
      for (const n of stopped.reverse()) {
        startNode(n);
        down.delete(node(n));
      }
      await waitForHostsUp(client, all.filter((h) => !down.has(h)));
      await untilCoordinators(level, 'ok');
    };
    try {
      for (const n of nodes) {
        killNode(n);
        stopped.push(n);
        down.add(node(n));
      }
      await waitForHostsUp(client, all.filter((h) => !down.has(h)));
      await untilCoordinators(level, 'unavailable');
    } catch (err) {
      await restart();
      throw err;
    }
    return restart;
  }

  /** Runs `cql` once per parameter list at ALL, 32 at a time: every replica holds every row. */
  async function writeAll(cql: string, params: readonly unknown[][]): Promise<void> {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < params.length) await client.execute(cql, params[next++] as unknown[], { prepare: true, consistency: consistencies.all });
    };
    await Promise.all(Array.from({ length: 32 }, lane));
  }

  beforeAll(async () => {
    await client.connect();
    const replication = "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 1}";
    for (const ks of [source, target, lwtTarget]) {
      await client.execute(`CREATE KEYSPACE ${ks} WITH replication = ${replication}`);
      await client.execute(`CREATE TABLE ${ks}.items (id int PRIMARY KEY, kv text, v text)`);
    }
    await writeAll(`INSERT INTO ${source}.items (id, kv, v) VALUES (?, 'old', ?)`, Array.from({ length: ROWS }, (_, id) => [id, `value ${id}`]));
    // The LWT target holds every key under the guard value, with a stale value the restore replaces.
    await writeAll(`INSERT INTO ${lwtTarget}.items (id, kv, v) VALUES (?, 'old', 'stale')`, Array.from({ length: ROWS }, (_, id) => [id]));
    const r = cli(['backup', '--keyspace', source, '--repo', repo, '--splits', '32', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { backupId: string; rows: number; consistency: string };
    expect(report).toMatchObject({ rows: ROWS, consistency: 'LOCAL_QUORUM' });
    backupId = report.backupId;
  }, 300_000);

  afterAll(async () => {
    for (const ks of [source, target, lwtTarget]) await client.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
    await client.shutdown();
    rmSync(work, { recursive: true, force: true });
  }, 120_000);

  describe('one dc1 node down (node 3)', () => {
    let restart: () => Promise<void> = () => Promise.resolve();
    beforeAll(async () => { restart = await stop([3], consistencies.all); }, 300_000);
    afterAll(async () => { await restart(); }, 300_000);

    it('backup: ALL fails with exit 4; QUORUM, LOCAL_QUORUM and EACH_QUORUM read every row', () => {
      expectUnavailable(backup('ALL'), 'too few live replicas for consistency ALL: 4 needed, 3 alive');
      for (const level of ['QUORUM', 'LOCAL_QUORUM', 'EACH_QUORUM']) {
        const r = backup(level);
        expect(r.status, `${level}: ${r.stderr}`).toBe(0);
        expect(JSON.parse(r.stdout)).toMatchObject({ rows: ROWS, consistency: level });
      }
    });

    it('restore: ALL fails with exit 4 and nothing rejected; QUORUM writes every row', () => {
      const failed = restore('ALL');
      expectUnavailable(failed, 'too few live replicas for consistency ALL: 4 needed, 3 alive');
      expect(failed.stderr).toMatch(/resume with: cassette restore /);
      const r = restore('QUORUM');
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ written: ROWS, rejected: 0, consistency: 'QUORUM', serialConsistency: 'LOCAL_SERIAL' });
    });
  });

  describe('dc2 down (node 4)', () => {
    let restart: () => Promise<void> = () => Promise.resolve();
    beforeAll(async () => { restart = await stop([4], consistencies.eachQuorum); }, 300_000);
    afterAll(async () => { await restart(); }, 300_000);

    it('backup: EACH_QUORUM reads fail with exit 4 (a quorum in every datacenter); LOCAL_QUORUM reads every row', () => {
      expectUnavailable(backup('EACH_QUORUM'), 'too few live replicas for consistency EACH_QUORUM: 1 needed, 0 alive');
      const r = backup('LOCAL_QUORUM', false);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain(`${ROWS.toLocaleString('en-US')} rows`);
      expect(r.stdout).toMatch(/read at LOCAL_QUORUM/);
    });

    it('restore: EACH_QUORUM fails with exit 4; LOCAL_QUORUM writes every row and says so', () => {
      expectUnavailable(restore('EACH_QUORUM'), 'too few live replicas for consistency EACH_QUORUM: 1 needed, 0 alive');
      const r = cli(['restore', backupId, '--repo', repo, '--target-keyspace', target, '--consistency', 'LOCAL_QUORUM']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain(`${ROWS.toLocaleString('en-US')} of ${ROWS.toLocaleString('en-US')} rows written`);
      expect(r.stdout).toMatch(/^consistency LOCAL_QUORUM$/m);
    });

    it('restore --guard lwt at SERIAL: the three dc1 replicas are a quorum of the four', () => {
      const r = lwtRestore('SERIAL');
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ guard: 'lwt', written: ROWS, races: 0, consistency: 'LOCAL_QUORUM', serialConsistency: 'SERIAL' });
    });

    describe('and one dc1 node down too (node 3)', () => {
      let restartBoth: () => Promise<void> = () => Promise.resolve();
      beforeAll(async () => { restartBoth = await stop([3], consistencies.quorum); }, 300_000);
      afterAll(async () => { await restartBoth(); }, 300_000);

      it('restore --guard lwt: SERIAL fails with exit 4 (3 of 4 needed, 2 alive); LOCAL_SERIAL writes every row', () => {
        const failed = lwtRestore('SERIAL');
        expectUnavailable(failed, 'too few live replicas for consistency SERIAL: 3 needed, 2 alive');
        expect(failed.stderr).toContain('--serial-consistency LOCAL_SERIAL');
        const r = cli(['restore', backupId, '--repo', repo, '--target-keyspace', lwtTarget, '--guard', 'lwt', '--guard-column', 'kv', '--guard-value', '"old"',
          '--serial-consistency', 'LOCAL_SERIAL']);
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toContain(`${ROWS.toLocaleString('en-US')} of ${ROWS.toLocaleString('en-US')} rows written`);
        expect(r.stdout).toMatch(/^consistency LOCAL_QUORUM, LWT serial consistency LOCAL_SERIAL$/m);
      });

      it('restore: QUORUM (3 of 4) fails with exit 4; backup at LOCAL_QUORUM (2 of 3 in dc1) still reads every row', () => {
        expectUnavailable(restore('QUORUM'), 'too few live replicas for consistency QUORUM: 3 needed, 2 alive');
        const r = backup('LOCAL_QUORUM');
        expect(r.status, r.stderr).toBe(0);
        expect(JSON.parse(r.stdout)).toMatchObject({ rows: ROWS, consistency: 'LOCAL_QUORUM' });
      });
    });
  });
});
