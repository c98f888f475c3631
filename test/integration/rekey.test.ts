/**
 * The built `cassette rekey` end to end on the real services: values a Python application sealed
 * with Fernet are backed up, re-encrypted into a new backup and restored, and then open in Python
 * under the new key only, with every other cell, writetime and TTL as it was; a corrupt value is
 * quarantined (exit 7) by table, column and primary key; a dry run writes nothing; a rekey killed
 * with SIGKILL resumes to the same rows as an uninterrupted one; no plaintext and no key reaches
 * the repository or any output; bad input fails with the documented status and writes nothing.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CipherContext, ColumnCipher } from '../../src/crypto/cipher.js';
import { fernetKey, sealFernetToken } from '../../src/crypto/fernet.js';
import { createCipher } from '../../src/crypto/registry.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { cliEnv, runCli, s3StoreFor, startCli } from '../support/cassette.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { fernetDecryptInPython, fernetEncryptInPython, fernetGenerateKeyInPython } from '../support/python.js';
import { readBackup, type BackupRow } from '../support/read-backup.js';

const BASE_TS = 1_700_000_000_000_000; // µs
const CANARY = 'CANARY-plaintext-4f1d9a7e-never-stored';
const CANARY_ROW = 101;
const CORRUPT_ROW = 42;
const ROWS = 400;

type Under = 'old' | 'new' | 'corrupt';

/** One row of the interop table as the application wrote it. */
interface SourceRow {
  readonly tenant: string;
  readonly id: number;
  readonly ssn: { readonly plain: string; readonly under: Under } | null;
  readonly email: { readonly plain: string; readonly under: Under } | null;
  readonly keyVersion: '1' | '2';
}

/**
 * The interop rows: every 10th (from 3) already rotated (both values and key_version under the
 * new key); every 10th (from 7) half rotated (ssn under the new key, email under the old, key_version
 * still 1); nulls every 11th ssn and 13th email; one corrupt email; the canary as one ssn.
 */
function interopRows(): SourceRow[] {
  return Array.from({ length: ROWS }, (_, i) => {
    const skipped = i % 10 === 3;
    const ssnUnder: Under = skipped || i % 10 === 7 ? 'new' : 'old';
    const emailUnder: Under = i === CORRUPT_ROW ? 'corrupt' : skipped ? 'new' : 'old';
    const ssnPlain = i === CANARY_ROW ? CANARY : `${String(100 + (i % 800)).padStart(3, '0')}-${String(i % 100).padStart(2, '0')}-${String((i * 37) % 10_000).padStart(4, '0')}`;
    return {
      tenant: `t${i % 4}`,
      id: i,
      ssn: i % 11 === 0 ? null : { plain: ssnPlain, under: ssnUnder },
      email: i % 13 === 0 ? null : { plain: `user${i}@example.com`, under: emailUnder },
      keyVersion: skipped ? '2' : '1',
    };
  });
}

/** What a rekey must report for these rows (rekey-row.ts semantics). */
function expectedTotals(rows: readonly SourceRow[]): { rowsSkipped: number; rowsChanged: number; valuesRotated: number; valuesAlreadyCurrent: number; valuesQuarantined: number } {
  const totals = { rowsSkipped: 0, rowsChanged: 0, valuesRotated: 0, valuesAlreadyCurrent: 0, valuesQuarantined: 0 };
  for (const row of rows) {
    if (row.keyVersion === '2') {
      totals.rowsSkipped++;
      continue;
    }
    const values = [row.ssn, row.email].filter((v) => v !== null);
    const rotated = values.filter((v) => v.under === 'old').length;
    const current = values.filter((v) => v.under === 'new').length;
    const corrupt = values.filter((v) => v.under === 'corrupt').length;
    totals.valuesRotated += rotated;
    totals.valuesAlreadyCurrent += current;
    totals.valuesQuarantined += corrupt;
    if (rotated > 0 || (corrupt === 0 && current > 0)) totals.rowsChanged++;
  }
  return totals;
}

/** The key_version a row must have after the rekey. */
function rotatedKeyVersion(row: SourceRow): '1' | '2' {
  if (row.keyVersion === '2') return '2';
  const values = [row.ssn, row.email].filter((v) => v !== null);
  return values.length > 0 && values.every((v) => v.under !== 'corrupt') ? '2' : '1';
}

/** Flips one bit of a token's HMAC, keeping it well-formed url-safe base64: no key opens it. */
function corrupt(token: string): string {
  const bytes = Buffer.from(token, 'base64url');
  bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 0x10;
  return bytes.toString('base64url').padEnd(token.length, '=');
}

function writeConfig(dir: string, name: string, keyspace: string, table = 'people'): string {
  const path = join(dir, name);
  writeFileSync(path, [
    `cluster: {contact_points: [127.0.0.1], port: 9042, keyspace: ${keyspace}}`,
    'provider: {type: fernet, old_key_env: REKEY_OLD_KEY, new_key_env: REKEY_NEW_KEY, old_key_version: "1", new_key_version: "2"}',
    'tables:',
    `  - name: ${table}`,
    '    encrypted_columns: [ssn, email]',
    '',
  ].join('\n'));
  return path;
}

/** Every file under a directory repository: relative path → size, for "nothing written" checks. */
function listing(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (d: string): void => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.set(relative(dir, path), statSync(path).size);
    }
  };
  walk(dir);
  return out;
}

/** Every object of a repository as text (gzip objects inflated). */
async function repositoryTexts(store: BlobStore): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const entry of store.list('')) {
    const bytes = await buffer(await store.get(entry.key));
    out.set(entry.key, (entry.key.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8'));
  }
  return out;
}

interface Cell {
  readonly value: unknown;
  readonly writetime: string | null;
  readonly ttl: number | null;
}

const COLUMNS = ['ssn', 'email', 'name', 'score', 'key_version'] as const;
type Column = (typeof COLUMNS)[number];

/** Every row of a `people` table: "tenant/id" → column → value, WRITETIME and TTL. */
async function readPeople(client: cassandra.Client, keyspace: string): Promise<Map<string, Record<Column, Cell>>> {
  const select = COLUMNS.map((c) => `${c}, WRITETIME(${c}) AS wt_${c}, TTL(${c}) AS ttl_${c}`).join(', ');
  const rs = await client.execute(`SELECT tenant, id, ${select} FROM ${keyspace}.people`, [], { fetchSize: 200_000 });
  const out = new Map<string, Record<Column, Cell>>();
  for (const r of rs.rows) {
    const cells = Object.fromEntries(COLUMNS.map((c) => {
      const wt = r.get(`wt_${c}`) as cassandra.types.Long | null;
      return [c, { value: r.get(c), writetime: wt === null ? null : wt.toString(), ttl: r.get(`ttl_${c}`) as number | null }];
    })) as Record<Column, Cell>;
    out.set(`${r.get('tenant') as string}/${r.get('id') as number}`, cells);
  }
  return out;
}

function tokenText(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('latin1') : String(value);
}

function newestDerived(repo: string, sourceId: string): string | undefined {
  const dir = join(repo, 'backups');
  if (!existsSync(dir)) return undefined;
  return readdirSync(dir).sort().reverse().find((id) => {
    const header = join(dir, id, 'backup.json');
    if (!existsSync(header)) return false;
    const doc = JSON.parse(readFileSync(header, 'utf8')) as { derivedFrom?: { backupId: string } };
    return doc.derivedFrom?.backupId === sourceId;
  });
}

function countFiles(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir, { recursive: true }).filter((name) => String(name).endsWith('.json')).length;
}

describe('cassette rekey (CLI) on a Python-encrypted table', () => {
  const services = inject('services');
  const keyspace = uniqueName('it_rekey');
  const restored: string[] = [];
  const work = mkdtempSync(join(tmpdir(), 'cassette-rekey-'));
  const repo = join(work, 'repo');
  const connection = ['--hosts', services.cassandra.host, '--port', String(services.cassandra.port), '--dc', services.cassandra.dc];
  const rows = interopRows();
  let client: cassandra.Client;
  let oldKey: string;
  let newKey: string;
  let keys: Record<string, string>;
  let config: string;
  let sourceId: string;
  /** Every stdout and stderr of every command run, for the leak checks. */
  const outputs: string[] = [];
  const run = (args: readonly string[], env = cliEnv(undefined, keys)): ReturnType<typeof runCli> => {
    const r = runCli(args, env);
    outputs.push(r.stdout, r.stderr);
    return r;
  };

  beforeAll(async () => {
    [oldKey, newKey] = await Promise.all([fernetGenerateKeyInPython(), fernetGenerateKeyInPython()]);
    keys = { REKEY_OLD_KEY: oldKey, REKEY_NEW_KEY: newKey };
    config = writeConfig(work, 'rekey.yaml', keyspace);
    // The application's tokens, sealed by Python's Fernet.
    const plain = (under: Under): { row: number; column: 'ssn' | 'email'; plain: string }[] => rows.flatMap((r) =>
      (['ssn', 'email'] as const).flatMap((column) => {
        const v = r[column];
        return v !== null && (v.under === under || (under === 'old' && v.under === 'corrupt')) ? [{ row: r.id, column, plain: v.plain }] : [];
      }));
    const tokens = new Map<string, string>();
    for (const [under, key] of [['old', oldKey], ['new', newKey]] as const) {
      const list = plain(under);
      const sealed = await fernetEncryptInPython(key, list.map((x) => Buffer.from(x.plain)));
      list.forEach((x, n) => tokens.set(`${x.row}/${x.column}`, sealed[n] as string));
    }
    const tokenOf = (row: SourceRow, column: 'ssn' | 'email'): string | null => {
      const v = row[column];
      if (v === null) return null;
      const token = tokens.get(`${row.id}/${column}`) as string;
      return v.under === 'corrupt' ? corrupt(token) : token;
    };

    client = cassandraClient(services.cassandra);
    await client.connect();
    await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    await client.execute(`CREATE TABLE ${keyspace}.people (tenant text, id int, ssn blob, email text, name text, score int, key_version text, PRIMARY KEY ((tenant), id))`);
    await client.execute(`CREATE TABLE ${keyspace}.audit (day text, seq int, what text, PRIMARY KEY (day, seq))`);
    const insert = `INSERT INTO ${keyspace}.people (tenant, id, ssn, email, name, score, key_version) VALUES (?, ?, ?, ?, ?, ?, ?) USING TTL ? AND TIMESTAMP ?`;
    const update = `UPDATE ${keyspace}.people USING TTL ? AND TIMESTAMP ? SET email = ? WHERE tenant = ? AND id = ?`;
    const unset = cassandra.types.unset;
    for (let from = 0; from < rows.length; from += 50) {
      await Promise.all(rows.slice(from, from + 50).map(async (row) => {
        const i = row.id;
        const ssn = tokenOf(row, 'ssn');
        const email = tokenOf(row, 'email');
        // Every 7th email gets its own writetime (and every 14th its own TTL) through an UPDATE.
        const ownEmail = i % 7 === 0 && email !== null;
        const ts = cassandra.types.Long.fromNumber(BASE_TS + i * 1000);
        await client.execute(insert, [row.tenant, i, ssn === null ? unset : Buffer.from(ssn, 'latin1'), email === null || ownEmail ? unset : email,
          `name ${i}`, i * 3, row.keyVersion, i % 5 === 0 ? 86_400 : 0, ts], { prepare: true });
        if (ownEmail) {
          await client.execute(update, [i % 14 === 0 ? 7_200 : 0, cassandra.types.Long.fromNumber(BASE_TS + i * 1000 + 500), email, row.tenant, i], { prepare: true });
        }
      }));
    }
    await client.execute(`INSERT INTO ${keyspace}.audit (day, seq, what) VALUES ('2026-11-22', 1, 'opened') USING TIMESTAMP 1700000000000001`);
    const backup = run(['backup', '--repo', repo, '--keyspace', keyspace, ...connection, '--json']);
    expect(backup.status, backup.stderr).toBe(0);
    sourceId = (JSON.parse(backup.stdout) as { backupId: string }).backupId;
  });

  afterAll(async () => {
    for (const ks of [keyspace, ...restored]) await client?.execute(`DROP KEYSPACE IF EXISTS ${ks}`);
    await client?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  it('quarantines the corrupt value (exit 7), and with --allow-failures 1 writes a backup that restores to values only the new key opens', async () => {
    const totals = expectedTotals(rows);
    const failed = run(['rekey', sourceId, '--config', config, '--repo', repo, '--json']);
    expect(failed.status, failed.stderr).toBe(7);
    expect(failed.stderr).toMatch(/^cassette: rekey finished, but 1 values open under no configured key \(--allow-failures 0\)/);
    const failedReport = JSON.parse(failed.stdout) as { backupId: string; quarantineFolder: string; quarantineSample: unknown[] };
    expect(failedReport).toMatchObject({ ...totals, quarantineSample: [{ table: 'people', column: 'email', key: [`t${CORRUPT_ROW % 4}`, CORRUPT_ROW] }] });
    // The quarantine list: one line, table, column and primary key, never the value.
    const corruptToken = tokenText((await client.execute(`SELECT email FROM ${keyspace}.people WHERE tenant = ? AND id = ?`, [`t${CORRUPT_ROW % 4}`, CORRUPT_ROW], { prepare: true })).first().get('email'));
    const quarantineDir = join(repo, failedReport.quarantineFolder);
    const lists = readdirSync(quarantineDir, { recursive: true }).map(String).filter((f) => f.endsWith('.ndjson'));
    expect(lists).toHaveLength(1);
    const listed = readFileSync(join(quarantineDir, lists[0] as string), 'utf8');
    expect(listed.trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([{ table: 'people', column: 'email', key: [`t${CORRUPT_ROW % 4}`, CORRUPT_ROW] }]);
    for (const text of [listed, failed.stdout, failed.stderr]) expect(text).not.toContain(corruptToken.slice(20, 60));

    const ok = run(['rekey', sourceId, '--config', config, '--repo', repo, '--allow-failures', '1']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`rekey of backup ${sourceId} \\(fernet, keys 1 → 2\\): new backup (\\S+)`));
    expect(ok.stdout).toContain(`${totals.valuesRotated} values re-encrypted, ${totals.valuesAlreadyCurrent} already under the new key, ${totals.rowsSkipped} rows skipped (key version already new), 1 quarantined`);
    expect(ok.stdout).toContain(`people.email ["t${CORRUPT_ROW % 4}",${CORRUPT_ROW}]`);
    expect(ok.stdout).toMatch(/audit: copied unchanged/);
    const newId = /new backup (\S+)/.exec(ok.stdout)?.[1] as string;
    const manifest = JSON.parse(readFileSync(join(repo, 'backups', newId, 'manifest.json'), 'utf8')) as { derivedFrom: unknown; rekey: unknown; rekeyTotals: unknown };
    expect(manifest.derivedFrom).toEqual({ backupId: sourceId, by: 'rekey' });
    expect(manifest.rekey).toMatchObject({ provider: 'fernet', newKeyVersion: '2', oldKeyVersions: ['1'], keyVersionColumn: 'key_version', tables: [{ name: 'people', columns: ['ssn', 'email'] }] });
    expect(manifest.rekeyTotals).toEqual(totals);

    const target = uniqueName('it_rekey_restored');
    restored.push(target);
    const restore = run(['restore', newId, '--repo', repo, '--target-keyspace', target, ...connection]);
    expect(restore.status, restore.stderr).toBe(0);

    const [before, after] = [await readPeople(client, keyspace), await readPeople(client, target)];
    expect(after.size).toBe(rows.length);
    const rotatedTokens: string[] = [];
    const rotatedPlain: string[] = [];
    let rotatedCells = 0;
    for (const row of rows) {
      const key = `${row.tenant}/${row.id}`;
      const [s, r] = [before.get(key), after.get(key)];
      expect(s, key).toBeDefined();
      expect(r, key).toBeDefined();
      if (s === undefined || r === undefined) continue;
      for (const column of COLUMNS) {
        const [sc, rc] = [s[column], r[column]];
        // TTLs: the restore writes the remaining time of the same expiry, read a moment apart.
        if (sc.ttl === null) expect(rc.ttl, `${key} ${column} ttl`).toBeNull();
        else expect(Math.abs((rc.ttl ?? -100) - sc.ttl), `${key} ${column} ttl`).toBeLessThanOrEqual(2);
        if (column === 'ssn' || column === 'email') {
          const v = row[column];
          if (v === null) {
            expect(rc.value, `${key} ${column}`).toBeNull();
            continue;
          }
          if (v.under === 'old') {
            expect(tokenText(rc.value)).not.toBe(tokenText(sc.value));
            expect(BigInt(rc.writetime ?? 0), `${key} ${column} writetime`).toBe(BigInt(sc.writetime ?? 0) + 1n);
            rotatedCells++;
          } else {
            // Already under the new key, or corrupt: left byte-identical, same writetime.
            expect(rc.value, `${key} ${column}`).toEqual(sc.value);
            expect(rc.writetime, `${key} ${column} writetime`).toBe(sc.writetime);
          }
          if (v.under !== 'corrupt') {
            rotatedTokens.push(tokenText(rc.value));
            rotatedPlain.push(v.plain);
          }
        } else if (column === 'key_version') {
          expect(rc.value, `${key} key_version`).toBe(rotatedKeyVersion(row));
          if (rotatedKeyVersion(row) === row.keyVersion) expect(rc.writetime).toBe(sc.writetime);
          else expect(BigInt(rc.writetime ?? 0)).toBeGreaterThan(BigInt(sc.writetime ?? 0));
        } else {
          expect(rc.value, `${key} ${column}`).toEqual(sc.value);
          expect(rc.writetime, `${key} ${column} writetime`).toBe(sc.writetime);
        }
      }
    }
    expect(rotatedCells).toBe(totals.valuesRotated);
    // Python opens every value under the new key alone, to the original plaintext; the old key opens none.
    const underNew = await fernetDecryptInPython(newKey, rotatedTokens);
    expect(underNew.map((p) => p?.toString('utf8') ?? null)).toEqual(rotatedPlain);
    expect((await fernetDecryptInPython(oldKey, rotatedTokens)).every((p) => p === null)).toBe(true);
    // The corrupt value opens under neither, in the source and in the restored table alike.
    const corruptKey = `t${CORRUPT_ROW % 4}/${CORRUPT_ROW}`;
    expect(tokenText(after.get(corruptKey)?.email.value)).toBe(tokenText(before.get(corruptKey)?.email.value));
    expect(await fernetDecryptInPython([newKey, oldKey], [tokenText(after.get(corruptKey)?.email.value)])).toEqual([null]);
    // The table the config does not name is restored as it was.
    const audit = await client.execute(`SELECT what, WRITETIME(what) AS wt FROM ${target}.audit`);
    expect(audit.rows.map((r) => [r.get('what'), String(r.get('wt'))])).toEqual([['opened', '1700000000000001']]);
  });

  it('--dry-run opens every value, reports the counts and writes nothing', () => {
    const totals = expectedTotals(rows);
    const before = listing(repo);
    const strict = run(['rekey', sourceId, '--config', config, '--repo', repo, '--dry-run', '--json']);
    expect(strict.status, strict.stderr).toBe(7);
    const strictReport = JSON.parse(strict.stdout) as Record<string, unknown>;
    expect(strictReport).toMatchObject({ dryRun: true, ...totals });
    expect(strictReport.quarantineFolder).toBeUndefined();
    const dry = run(['rekey', sourceId, '--config', config, '--repo', repo, '--dry-run', '--allow-failures', '1', '--json']);
    expect(dry.status, dry.stderr).toBe(0);
    const report = JSON.parse(dry.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({ sourceBackupId: sourceId, dryRun: true, ...totals, valuesThisRun: totals.valuesRotated });
    expect(report.backupId).toBeUndefined();
    const human = run(['rekey', sourceId, '--config', config, '--repo', repo, '--dry-run', '--allow-failures', '1']);
    expect(human.status, human.stderr).toBe(0);
    expect(human.stdout).toContain('dry run, nothing written');
    expect(human.stdout).toContain(`${totals.valuesRotated} values would be re-encrypted`);
    expect(listing(repo)).toEqual(before);
  });

  it('refuses a missing key (exit 3), a missing or incomplete backup (exit 6) and another keyspace (exit 3), writing nothing', () => {
    const before = listing(repo);
    const noNewKey = run(['rekey', sourceId, '--config', config, '--repo', repo], cliEnv(undefined, { REKEY_OLD_KEY: oldKey }));
    expect(noNewKey.status).toBe(3);
    expect(noNewKey.stderr.split('\n')[0]).toBe('cassette: environment variable REKEY_NEW_KEY is not set');
    const noOldKey = run(['rekey', sourceId, '--config', config, '--repo', repo], cliEnv(undefined, { REKEY_NEW_KEY: newKey }));
    expect(noOldKey.status).toBe(3);
    expect(noOldKey.stderr).toMatch(/REKEY_OLD_KEY is not set/);
    const badKey = run(['rekey', sourceId, '--config', config, '--repo', repo], cliEnv(undefined, { ...keys, REKEY_NEW_KEY: 'not-a-key' }));
    expect(badKey.status).toBe(3);
    expect(badKey.stderr).toMatch(/REKEY_NEW_KEY does not hold a Fernet key/);

    const missing = run(['rekey', '20260101T000000Z-abcdef', '--config', config, '--repo', repo]);
    expect(missing.status).toBe(6);
    expect(missing.stderr.split('\n')[0]).toMatch(/^cassette: backup 20260101T000000Z-abcdef not found in /);

    const otherKeyspace = run(['rekey', sourceId, '--config', writeConfig(work, 'other.yaml', 'no_such_keyspace'), '--repo', repo]);
    expect(otherKeyspace.status).toBe(3);
    expect(otherKeyspace.stderr).toMatch(new RegExp(`backup ${sourceId} is of keyspace ${keyspace}, but .*other\\.yaml rotates keyspace no_such_keyspace`));
    const otherTable = run(['rekey', sourceId, '--config', writeConfig(work, 'table.yaml', keyspace, 'nope'), '--repo', repo]);
    expect(otherTable.status).toBe(3);
    expect(listing(repo)).toEqual(before);

    // An incomplete backup: backup.json and schema, no manifest.
    const incomplete = '20260101T000000Z-0bad00';
    mkdirSync(join(repo, 'backups', incomplete));
    for (const name of ['backup.json', 'schema.cql']) cpSync(join(repo, 'backups', sourceId, name), join(repo, 'backups', incomplete, name));
    const withIncomplete = listing(repo);
    const unfinished = run(['rekey', incomplete, '--config', config, '--repo', repo]);
    expect(unfinished.status).toBe(6);
    expect(unfinished.stderr).toMatch(new RegExp(`backup ${incomplete} is incomplete \\(no manifest\\.json\\)`));
    expect(listing(repo)).toEqual(withIncomplete);
    rmSync(join(repo, 'backups', incomplete), { recursive: true });
  });

  it('lets no plaintext and no key into the repository or any output (MinIO repository)', async () => {
    const s3 = services.s3;
    const prefix = uniqueName('it-rekey-canary');
    const s3Repo = [`--repo`, `s3://${s3.bucket}/${prefix}`, '--s3-endpoint', s3.endpoint];
    const env = cliEnv(s3, keys);
    const backup = run(['backup', ...s3Repo, '--keyspace', keyspace, ...connection, '--json'], env);
    expect(backup.status, backup.stderr).toBe(0);
    const id = (JSON.parse(backup.stdout) as { backupId: string }).backupId;
    const dry = run(['rekey', id, '--config', config, ...s3Repo, '--dry-run', '--allow-failures', '1', '--json'], env);
    expect(dry.status, dry.stderr).toBe(0);
    const rekey = run(['rekey', id, '--config', config, ...s3Repo, '--allow-failures', '1', '--threads', '2'], env);
    expect(rekey.status, rekey.stderr).toBe(0);
    const newId = /new backup (\S+)/.exec(rekey.stdout)?.[1] as string;
    const rekeyJson = run(['rekey', id, '--config', config, ...s3Repo, '--allow-failures', '1', '--json'], env);
    expect(rekeyJson.status, rekeyJson.stderr).toBe(0);
    const target = uniqueName('it_rekey_canary');
    restored.push(target);
    const restore = run(['restore', newId, ...s3Repo, '--target-keyspace', target, ...connection, '--verify'], env);
    expect(restore.status, restore.stderr).toBe(0);
    const restoreJson = run(['restore', newId, ...s3Repo, '--target-keyspace', uniqueName('it_rekey_canary_json'), ...connection, '--json'], env);
    restored.push((JSON.parse(restoreJson.stdout) as { targetKeyspace: string }).targetKeyspace);
    expect(restoreJson.status, restoreJson.stderr).toBe(0);

    // The canary really went through: the restored ssn opens to it under the new key.
    const row = (await client.execute(`SELECT ssn FROM ${target}.people WHERE tenant = ? AND id = ?`, [`t${CANARY_ROW % 4}`, CANARY_ROW], { prepare: true })).first();
    expect((await fernetDecryptInPython(newKey, [tokenText(row.get('ssn'))]))[0]?.toString('utf8')).toBe(CANARY);

    const forbidden = [CANARY, Buffer.from(CANARY).toString('base64').replace(/=+$/, ''), Buffer.from(CANARY).toString('hex'), oldKey, newKey, oldKey.slice(0, 43), newKey.slice(0, 43)];
    const repositories = [await repositoryTexts(s3StoreFor(s3, prefix)), await repositoryTexts(new FsStore(repo))];
    expect(repositories[0]?.size).toBeGreaterThan(10);
    for (const objects of repositories) {
      for (const [key, text] of objects) {
        for (const secret of forbidden) expect(text.includes(secret), `${key} contains a secret`).toBe(false);
      }
    }
    expect(outputs.length).toBeGreaterThan(20);
    for (const [n, text] of outputs.entries()) {
      for (const secret of forbidden) expect(text.includes(secret), `output ${n} contains a secret`).toBe(false);
    }
  });
});

describe('cassette rekey (CLI): SIGKILL and --resume', () => {
  const services = inject('services');
  const keyspace = uniqueName('it_rekey_kill');
  const work = mkdtempSync(join(tmpdir(), 'cassette-rekey-kill-'));
  const repo = join(work, 'repo');
  const connection = ['--hosts', services.cassandra.host, '--port', String(services.cassandra.port), '--dc', services.cassandra.dc];
  const oldKey = randomBytes(32).toString('base64url') + '=';
  const newKey = randomBytes(32).toString('base64url') + '=';
  const env = cliEnv(undefined, { REKEY_OLD_KEY: oldKey, REKEY_NEW_KEY: newKey });
  const ROW_COUNT = 100_000;
  let client: cassandra.Client;
  let sourceId: string;
  let config: string;

  beforeAll(async () => {
    config = writeConfig(work, 'rekey.yaml', keyspace);
    client = cassandraClient(services.cassandra);
    await client.connect();
    await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    await client.execute(`CREATE TABLE ${keyspace}.people (tenant text, id int, ssn blob, email text, name text, score int, key_version text, PRIMARY KEY ((tenant), id))`);
    // Tokens sealed with cassette's own Fernet (Python interop is covered above): fast enough for 200,000.
    const key = fernetKey(Buffer.from(oldKey, 'base64url'), '1');
    const seal = (text: string, i: number): string => sealFernetToken(key, Buffer.from(text), 1_700_000_000 + i, randomBytes(16)).toString('latin1');
    const params = Array.from({ length: ROW_COUNT }, (_, i) => [
      `p${i % 1000}`, i, Buffer.from(seal(`ssn-${i}`, i), 'latin1'), seal(`mail-${i}@example.com`, i), `n${i}`, i, '1',
      i % 10 === 0 ? 86_400 : 0, cassandra.types.Long.fromNumber(BASE_TS + i),
    ]);
    await cassandra.concurrent.executeConcurrent(client,
      `INSERT INTO ${keyspace}.people (tenant, id, ssn, email, name, score, key_version) VALUES (?, ?, ?, ?, ?, ?, ?) USING TTL ? AND TIMESTAMP ?`,
      params, { concurrencyLevel: 64 });
    // Small chunks: many checkpoints, so the kill lands between them.
    const backup = runCli(['backup', '--repo', repo, '--keyspace', keyspace, ...connection, '--max-chunk-bytes', '256KiB', '--json'], env);
    expect(backup.status, backup.stderr).toBe(0);
    sourceId = (JSON.parse(backup.stdout) as { backupId: string }).backupId;
  }, 300_000);

  afterAll(async () => {
    await client?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await client?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  it('resumes after SIGKILL to the same rows as an uninterrupted rekey (same plaintexts, writetimes, expiries, keys)', async () => {
    const child = startCli(['rekey', sourceId, '--config', config, '--repo', repo, '--threads', '2'], env);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    let id: string | undefined;
    for (let i = 0; i < 2400 && (id === undefined || countFiles(join(repo, 'backups', id, 'rekey')) < 10); i++) {
      await sleep(25);
      id ??= newestDerived(repo, sourceId);
    }
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(id, stderr).toBeDefined();
    const target = id as string;
    expect(countFiles(join(repo, 'backups', target, 'rekey'))).toBeGreaterThanOrEqual(10);
    expect(existsSync(join(repo, 'backups', target, 'manifest.json')), 'the rekey finished before it was killed').toBe(false);

    const resumed = runCli(['rekey', '--resume', target, '--config', config, '--repo', repo, '--threads', '2', '--json'], env);
    expect(resumed.status, resumed.stderr).toBe(0);
    const report = JSON.parse(resumed.stdout) as { backupId: string; resumed: boolean; valuesRotated: number; valuesThisRun: number; rowsChanged: number };
    expect(report).toMatchObject({ backupId: target, resumed: true, valuesRotated: 2 * ROW_COUNT, rowsChanged: ROW_COUNT });
    expect(report.valuesThisRun).toBeLessThan(2 * ROW_COUNT);
    expect(report.valuesThisRun).toBeGreaterThan(0);

    const straight = runCli(['rekey', sourceId, '--config', config, '--repo', repo, '--threads', '2', '--json'], env);
    expect(straight.status, straight.stderr).toBe(0);
    const reference = (JSON.parse(straight.stdout) as { backupId: string }).backupId;

    const cipher = await createCipher({ type: 'fernet', newKey: { source: { env: 'N' }, version: '2' }, oldKeys: [{ source: { env: 'O' }, version: '1' }], options: {} }, { N: newKey, O: oldKey });
    const [a, b] = [await comparable(repo, target, cipher), await comparable(repo, reference, cipher)];
    expect(a.size).toBe(ROW_COUNT);
    expect(b.size).toBe(ROW_COUNT);
    let differences = 0;
    for (const [key, row] of a) if (b.get(key) !== row) differences++;
    expect(differences).toBe(0);
    // And both are the source, rotated: plaintexts as sealed, writetimes + 1 µs, expiries kept.
    const sample = JSON.parse(a.get(JSON.stringify(['p10', 10])) as string) as Record<string, { v: unknown; t: unknown; e?: unknown }>;
    expect(sample.ssn).toMatchObject({ v: 'ssn-10', t: BASE_TS + 11, under: '2' });
    expect(sample.email).toMatchObject({ v: 'mail-10@example.com', t: BASE_TS + 11, under: '2' });
    expect(typeof sample.ssn?.e).toBe('number');
    expect(sample.key_version).toMatchObject({ v: '2', t: BASE_TS + 11 });
  }, 300_000);
});

/** A backup's `people` rows with every encrypted value opened: JSON(k) → JSON of the cells. */
async function comparable(repo: string, backupId: string, cipher: ColumnCipher): Promise<Map<string, string>> {
  const { rows } = await readBackup(new FsStore(repo), backupId);
  const out = new Map<string, string>();
  const context: CipherContext = { keyspace: 'x', table: 'people', column: 'x' };
  for (const { row } of rows.get('people') ?? []) {
    const cells: Record<string, unknown> = {};
    for (const [name, cell] of Object.entries((row as BackupRow).c).sort(([x], [y]) => x.localeCompare(y))) {
      if (name === 'ssn' || name === 'email') {
        const token = name === 'ssn' ? Buffer.from(String(cell.v), 'base64') : Buffer.from(String(cell.v), 'utf8');
        const opened = await cipher.open(token, context);
        cells[name] = { v: opened?.plaintext.toString('utf8') ?? null, under: opened?.keyVersion ?? null, t: cell.t, ...(cell.e === undefined ? {} : { e: cell.e }) };
      } else {
        cells[name] = cell;
      }
    }
    out.set(JSON.stringify(row.k), JSON.stringify(cells));
  }
  return out;
}
