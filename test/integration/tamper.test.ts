/**
 * The tamper matrix (issue 11, item 6): tampered copies of one pristine backup of a real keyspace —
 * a flipped bit, a truncated chunk, a missing chunk, a missing marker, an edited manifest, two
 * ranges' chunks swapped, a backup claiming an unknown format version. For each, the built
 * `cassette verify` exits 13 naming the damaged object (6, naming it, for the unknown version: this
 * build cannot judge it), and `cassette restore` exits 6 naming it with no row of the affected
 * chunks in the target — for everything but the flipped bit, before anything at all is written.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import cassandra from 'cassandra-driver';
import { runBackup } from '../../src/commands/backup.js';
import { silentProgress } from '../../src/commands/progress.js';
import type { Manifest } from '../../src/manifest/format.js';
import { readManifest } from '../../src/manifest/repository.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { cliEnv, clusterFor, runCli } from '../support/cassette.js';

type ChunkEntry = Manifest['tables'][number]['ranges'][number]['chunks'][number];

/** What a tamper did: the object the tools must name, how, and the rows that must not be restored. */
interface Tampered {
  /** Repository key (relative to the repo) of the object both tools must name. */
  readonly object: string;
  /** What verify says about it. */
  readonly problem: RegExp;
  /** Primary keys ([pk, ck]) of the rows of the affected chunks. */
  readonly affected: readonly string[];
  /** Whether the restore must refuse before writing anything at all. */
  readonly upFront: boolean;
  /** Exit status of verify: 13, or 6 when this build cannot read the backup. */
  readonly verifyStatus: 13 | 6;
}

describe('tamper matrix: verify and restore', () => {
  const services = inject('services');
  const source = uniqueName('verify_tamper');
  const work = mkdtempSync(join(tmpdir(), 'cassette-tamper-'));
  const pristine = join(work, 'pristine');
  const connection = ['--hosts', services.cassandra.host, '--port', String(services.cassandra.port), '--dc', services.cassandra.dc];
  const targets: string[] = [];
  let client: cassandra.Client;
  let backupId: string;
  let manifest: Manifest;
  /** Chunks of ranges that have two or more, in manifest order. */
  let chunks: { range: number; entry: ChunkEntry }[];

  const folder = (repo: string): string => join(repo, 'backups', backupId);
  const rowsOf = (entry: ChunkEntry): string[] =>
    gunzipSync(readFileSync(join(folder(pristine), entry.key))).toString('utf8').trim().split('\n').map((line) => JSON.stringify((JSON.parse(line) as { k: unknown[] }).k));
  const chunkObject = (entry: ChunkEntry): string => `backups/${backupId}/${entry.key}`;

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    await client.execute(`CREATE KEYSPACE ${source} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    await client.execute(`CREATE TABLE ${source}.events (pk int, ck int, v text, PRIMARY KEY (pk, ck))`);
    const rows: unknown[][] = [];
    for (let pk = 0; pk < 400; pk++) for (let ck = 0; ck < 10; ck++) rows.push([pk, ck, `${pk}/${ck} `.repeat(25)]);
    await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${source}.events (pk, ck, v) VALUES (?, ?, ?)`, rows, { concurrencyLevel: 64 });
    const cluster = await clusterFor(services.cassandra);
    try {
      const store = new FsStore(pristine);
      backupId = (await runBackup(
        { keyspace: source, parallel: 2, fetchSize: 100, gzipLevel: 1, maxChunkBytes: 64 * 1024, consistency: 'LOCAL_QUORUM', splits: 4 },
        { store, cluster, progress: silentProgress, signal: new AbortController().signal, now: Date.now, toolVersion: 'test', resumeHint: (id: string) => id } as never,
      )).backupId;
      manifest = (await readManifest(store, backupId)) as Manifest;
    } finally {
      await cluster.close();
    }
    chunks = (manifest.tables[0]?.ranges ?? []).filter((r) => r.chunks.length >= 2).flatMap((r) => r.chunks.map((entry) => ({ range: r.index, entry })));
    expect(chunks.length).toBeGreaterThanOrEqual(4);
  });

  afterAll(async () => {
    for (const ks of [source, ...targets]) await client?.execute(`DROP KEYSPACE IF EXISTS ${ks}`);
    await client?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  /** A chunk in the middle of the restore order, so that others before it may load first. */
  const middle = (): { range: number; entry: ChunkEntry } => chunks[Math.floor(chunks.length / 2)] as { range: number; entry: ChunkEntry };

  const cases: readonly (readonly [string, (repo: string) => Tampered])[] = [
    ['a flipped bit', (repo) => {
      const { entry } = middle();
      const file = join(folder(repo), entry.key);
      const bytes = readFileSync(file);
      bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 0x04;
      writeFileSync(file, bytes);
      return { object: chunkObject(entry), problem: /^chunk does not match its checksum/, affected: rowsOf(entry), upFront: false, verifyStatus: 13 };
    }],
    ['a truncated chunk', (repo) => {
      const { entry } = middle();
      truncateSync(join(folder(repo), entry.key), entry.bytes >> 1);
      return { object: chunkObject(entry), problem: new RegExp(`^${entry.bytes >> 1} bytes; the manifest records ${entry.bytes} for chunk`), affected: rowsOf(entry), upFront: true, verifyStatus: 13 };
    }],
    ['a missing chunk', (repo) => {
      const { range, entry } = middle();
      rmSync(join(folder(repo), entry.key));
      return { object: chunkObject(entry), problem: new RegExp(`^missing: chunk \\d+ of range ${range} of table events$`), affected: rowsOf(entry), upFront: true, verifyStatus: 13 };
    }],
    ['a missing marker', (repo) => {
      const { range } = middle();
      const name = `ranges/events/${String(range).padStart(5, '0')}.json`;
      rmSync(join(folder(repo), name));
      const affected = (manifest.tables[0]?.ranges.find((r) => r.index === range)?.chunks ?? []).flatMap(rowsOf);
      return { object: `backups/${backupId}/${name}`, problem: new RegExp(`^missing: the range marker of range ${range} of table events$`), affected, upFront: true, verifyStatus: 13 };
    }],
    ['an edited manifest', (repo) => {
      const { range, entry } = middle();
      const file = join(folder(repo), 'manifest.json');
      const edited = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
      const chunk = edited.tables[0]?.ranges.find((r) => r.index === range)?.chunks.find((c) => c.key === entry.key) as { sha256: string; rows: number };
      chunk.rows -= 1;
      writeFileSync(file, `${JSON.stringify(edited, null, 2)}\n`);
      return { object: `backups/${backupId}/manifest.json`, problem: new RegExp(`^range ${range} of table events says \\d+ rows; its chunks hold \\d+$`), affected: rowsOf(entry), upFront: true, verifyStatus: 13 };
    }],
    ['chunks swapped between two ranges', (repo) => {
      const a = chunks[0] as { range: number; entry: ChunkEntry };
      const b = chunks.find((c) => c.range !== a.range && c.entry.bytes !== a.entry.bytes) as { range: number; entry: ChunkEntry };
      const [fa, fb] = [join(folder(repo), a.entry.key), join(folder(repo), b.entry.key)];
      const [ba, bb] = [readFileSync(fa), readFileSync(fb)];
      writeFileSync(fa, bb);
      writeFileSync(fb, ba);
      return { object: chunkObject(a.entry), problem: new RegExp(`^${b.entry.bytes} bytes; the manifest records ${a.entry.bytes} for chunk`), affected: [...rowsOf(a.entry), ...rowsOf(b.entry)], upFront: true, verifyStatus: 13 };
    }],
    ['a backup claiming an unknown format version', (repo) => {
      const file = join(folder(repo), 'backup.json');
      writeFileSync(file, readFileSync(file, 'utf8').replace('"formatVersion": 1', '"formatVersion": 2'));
      return { object: `backups/${backupId}/backup.json`, problem: /claims format version 2; this build of cassette reads up to version 1/, affected: [], upFront: true, verifyStatus: 6 };
    }],
  ];

  /** A tampered copy of the pristine repository. */
  const tamper = (name: string, apply: (repo: string) => Tampered): { repo: string; tampered: Tampered } => {
    const repo = join(work, name.replace(/\W+/g, '-'));
    cpSync(pristine, repo, { recursive: true });
    return { repo, tampered: apply(repo) };
  };

  describe.each(cases)('%s', (name, apply) => {
    it('verify names the object (exit 13, or 6 for a version it cannot read)', () => {
      const { repo, tampered } = tamper(`verify ${name}`, apply);
      const r = runCli(['verify', backupId, '--repo', repo, '--json'], cliEnv());
      expect(r.status, r.stderr).toBe(tampered.verifyStatus);
      if (tampered.verifyStatus === 6) {
        expect(r.stderr.split('\n')[0]).toMatch(new RegExp(`^cassette: ${repo}/${tampered.object} claims format version 2`));
        return;
      }
      const report = JSON.parse(r.stdout) as { ok: boolean; problems: { key: string; problem: string }[] };
      expect(report.ok).toBe(false);
      expect(report.problems).toContainEqual({ key: tampered.object, problem: expect.stringMatching(tampered.problem) });
      expect(r.stderr.split('\n')[0]).toMatch(new RegExp(`^cassette: backup ${backupId} is damaged: \\d+ problems? \\(first: `));
      const text = runCli(['verify', backupId, '--repo', repo], cliEnv());
      expect(text.status).toBe(13);
      expect(text.stdout).toContain(`  ${tampered.object}: `);
    });

    it('restore refuses it, naming the object (exit 6), with no row of the affected chunks written', async () => {
      const { repo, tampered } = tamper(`restore ${name}`, apply);
      const target = uniqueName('verify_tamper_dst');
      targets.push(target);
      const r = runCli(['restore', backupId, '--repo', repo, '--target-keyspace', target, '--parallel', '1', ...connection], cliEnv());
      expect(r.status, r.stderr).toBe(6);
      const named = tampered.object.slice(`backups/${backupId}/`.length);
      // Progress lines come first on stderr; the failure is the line cassette: … (and its hint).
      const failure = r.stderr.split('\n').find((line) => line.startsWith('cassette: ')) ?? '';
      expect(failure).toContain(tampered.upFront ? tampered.object : named);
      if (!tampered.upFront) expect(failure).toMatch(/does not match its checksum/);
      const exists = (await client.execute('SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [target])).rows.length > 0;
      if (tampered.upFront) {
        expect(exists).toBe(false); // refused before the schema, before any row
        return;
      }
      const present = new Set((await client.execute(`SELECT pk, ck FROM ${target}.events`, [], { fetchSize: 10_000 })).rows.map((row) => JSON.stringify([row.get('pk'), row.get('ck')])));
      expect(present.size).toBeGreaterThan(0); // chunks before it were loaded …
      expect(tampered.affected.length).toBeGreaterThan(0);
      for (const key of tampered.affected) expect(present.has(key), key).toBe(false); // … none of its rows
    });
  });
});
