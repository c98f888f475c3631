/**
 * Encrypted backups (age) on the real Cassandra and MinIO, through the built CLI:
 *
 * 1. every chunk of an encrypted backup decrypts with the `age` CLI to the gzip NDJSON a plain
 *    backup of the same keyspace holds, and a canary from a plain column appears in no object;
 * 2. `list` and `verify` work without the identity (stored objects against index.json);
 * 3. a restore with the identity gives the same table as a plain restore; a wrong or missing
 *    identity is exit 3 and writes nothing;
 * 4. a flipped bit in an encrypted chunk is caught before any of its rows is written (restore
 *    exit 6), and `verify` without the identity names the chunk (exit 13).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer, text } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import cassandra from 'cassandra-driver';
import { Decrypter, generateIdentity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cliEnv, runCli, s3StoreFor } from '../support/cassette.js';
import { cassandraClient, uniqueName } from '../support/clients.js';

const ROWS = 20_000;
const servicesScript = fileURLToPath(new URL('../../scripts/services', import.meta.url));

interface ManifestLike { tables: { name: string; ranges: { index: number; chunks: { key: string; rows: number }[] }[] }[] }

describe('encrypted backups (age) on the real services', () => {
  const services = inject('services');
  const work = mkdtempSync(join(tmpdir(), 'cassette-age-'));
  const prefix = uniqueName('age');
  const repo = `s3://${services.s3.bucket}/${prefix}`;
  const raw = s3StoreFor(services.s3, prefix);
  const keyspace = uniqueName('it_age');
  const canary = `CANARY-${randomBytes(9).toString('hex')}`;
  const keyspaces = [keyspace];
  let client: cassandra.Client;
  let identity: string;
  let identityFile: string;
  let wrongFile: string;
  let sealedId: string;
  let plainId: string;
  let ageBin: string;

  const connection = (): string[] => ['--hosts', services.cassandra.host, '--port', String(services.cassandra.port), '--dc', services.cassandra.dc];
  const repoFlags = (): string[] => ['--repo', repo, '--s3-endpoint', services.s3.endpoint];
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => cliEnv(services.s3, extra);
  const folder = (id: string): string => `backups/${id}/`;

  /** The rows of a table, sorted, as comparable text. */
  async function tableRows(ks: string): Promise<string[]> {
    const rs = await client.execute(`SELECT id, name, ssn, note, WRITETIME(name) AS wt FROM ${ks}.people`, [], { fetchSize: 50_000 });
    return rs.rows.map((r) => JSON.stringify([r.get('id'), r.get('name'), (r.get('ssn') as Buffer | null)?.toString('hex') ?? null, r.get('note'), String(r.get('wt'))])).sort();
  }

  async function manifestOf(id: string): Promise<ManifestLike> {
    const decrypter = new Decrypter();
    decrypter.addIdentity(identity);
    const bytes = await buffer(await raw.get(`${folder(id)}manifest.json`));
    return JSON.parse(bytes.subarray(0, 1).toString() === '{' ? bytes.toString() : Buffer.from(await decrypter.decrypt(bytes)).toString()) as ManifestLike;
  }

  beforeAll(async () => {
    ageBin = execFileSync(servicesScript, ['tool', 'age'], { encoding: 'utf8' }).trim();
    identity = await generateIdentity();
    identityFile = join(work, 'key.txt');
    writeFileSync(identityFile, `# created for a test\n${identity}\n`, { mode: 0o600 });
    wrongFile = join(work, 'wrong.txt');
    writeFileSync(wrongFile, `${await generateIdentity()}\n`, { mode: 0o600 });
    client = cassandraClient(services.cassandra);
    await client.connect();
    await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    await client.execute(`CREATE TABLE ${keyspace}.people (id int PRIMARY KEY, name text, ssn blob, note text)`);
    const params = Array.from({ length: ROWS }, (_, i) => [i, i === 4242 ? canary : `name-${i}`, randomBytes(24), i % 3 === 0 ? null : `note ${i}`]);
    await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${keyspace}.people (id, name, ssn, note) VALUES (?, ?, ?, ?) USING TIMESTAMP 1700000000000000`, params, { concurrencyLevel: 64 });

    const recipient = await identityToRecipient(identity);
    const sealed = runCli(['backup', '--keyspace', keyspace, ...repoFlags(), ...connection(), '--encrypt-to', recipient, '--max-chunk-bytes', '256KiB', '--json'], env());
    expect(sealed.status, sealed.stderr).toBe(0);
    sealedId = (JSON.parse(sealed.stdout) as { backupId: string }).backupId;
    const plain = runCli(['backup', '--keyspace', keyspace, ...repoFlags(), ...connection(), '--max-chunk-bytes', '256KiB', '--json'], env());
    expect(plain.status, plain.stderr).toBe(0);
    plainId = (JSON.parse(plain.stdout) as { backupId: string }).backupId;
  }, 300_000);

  afterAll(async () => {
    for (const ks of keyspaces) await client?.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
    await client?.shutdown();
    for await (const entry of raw.list('')) await raw.delete(entry.key);
    rmSync(work, { recursive: true, force: true });
  });

  it('every chunk decrypts with the age CLI to the NDJSON the plain backup holds; the canary is in no object', async () => {
    const [sealedManifest, plainManifest] = [await manifestOf(sealedId), await manifestOf(plainId)];
    const ndjsonOf = async (id: string, manifest: ManifestLike, decrypt: boolean): Promise<Map<number, string>> => {
      const byRange = new Map<number, string>();
      for (const range of manifest.tables[0]?.ranges ?? []) {
        let all = '';
        for (const chunk of range.chunks) {
          const stored = await buffer(await raw.get(folder(id) + chunk.key));
          const gzip = decrypt ? execFileSync(ageBin, ['-d', '-i', identityFile], { input: stored, maxBuffer: 1 << 28 }) : stored;
          all += gunzipSync(gzip).toString('utf8');
        }
        byRange.set(range.index, all);
      }
      return byRange;
    };
    const fromSealed = await ndjsonOf(sealedId, sealedManifest, true);
    const fromPlain = await ndjsonOf(plainId, plainManifest, false);
    expect(fromSealed.size).toBeGreaterThan(1);
    expect(fromSealed).toEqual(fromPlain);
    expect([...fromSealed.values()].join('').split('\n').filter((l) => l !== '')).toHaveLength(ROWS);

    const needles = [Buffer.from(canary), Buffer.from(Buffer.from(canary).toString('base64').slice(0, 16))];
    let objects = 0;
    for await (const entry of raw.list(folder(sealedId))) {
      const bytes = await buffer(await raw.get(entry.key));
      objects++;
      const gz = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
      for (const needle of needles) expect(gz.includes(needle) || bytes.includes(needle), entry.key).toBe(false);
    }
    expect(objects).toBeGreaterThan(5);
    // The plain backup does hold it (the scan would have found it).
    const plainHit = await (async () => {
      for await (const entry of raw.list(`${folder(plainId)}data/`)) if (gunzipSync(await buffer(await raw.get(entry.key))).includes(Buffer.from(canary))) return true;
      return false;
    })();
    expect(plainHit).toBe(true);
  });

  it('list and verify work without the identity; verify with it checks the contents too', () => {
    const listed = runCli(['list', ...repoFlags(), '--json'], env());
    expect(listed.status, listed.stderr).toBe(0);
    const backups = (JSON.parse(listed.stdout) as { backups: { backupId: string; status: string; rows: number; encrypted?: boolean; keyspace?: string }[] }).backups;
    expect(backups.find((b) => b.backupId === sealedId)).toMatchObject({ status: 'complete', rows: ROWS, encrypted: true, keyspace });
    expect(backups.find((b) => b.backupId === plainId)?.encrypted).toBeUndefined();

    const stored = runCli(['verify', sealedId, ...repoFlags(), '--json'], env());
    expect(stored.status, stored.stderr).toBe(0);
    expect(JSON.parse(stored.stdout)).toMatchObject({ ok: true, rows: ROWS, encryption: { scheme: 'age', contentsChecked: false } });
    const full = runCli(['verify', sealedId, ...repoFlags(), '--identity', identityFile, '--json'], env());
    expect(full.status, full.stderr).toBe(0);
    expect(JSON.parse(full.stdout)).toMatchObject({ ok: true, rows: ROWS, rowsRead: ROWS, encryption: { contentsChecked: true } });
  });

  it('restore with the identity equals a plain restore; a wrong or missing identity is exit 3 and writes nothing', async () => {
    const [fromSealed, fromPlain, wrong, missing] = ['age_r_sealed', 'age_r_plain', 'age_r_wrong', 'age_r_missing'].map((p) => uniqueName(p));
    keyspaces.push(fromSealed as string, fromPlain as string, wrong as string, missing as string);
    const a = runCli(['restore', sealedId, ...repoFlags(), '--target-keyspace', fromSealed as string, ...connection(), '--json'], env({ CASSETTE_AGE_IDENTITY_FILE: identityFile }));
    expect(a.status, a.stderr).toBe(0);
    const b = runCli(['restore', plainId, ...repoFlags(), '--target-keyspace', fromPlain as string, ...connection(), '--json'], env());
    expect(b.status, b.stderr).toBe(0);
    const source = await tableRows(keyspace);
    expect(source).toHaveLength(ROWS);
    expect(await tableRows(fromSealed as string)).toEqual(source);
    expect(await tableRows(fromPlain as string)).toEqual(source);

    const restoresBefore = await countKeys(`${folder(sealedId)}restores/`);
    const w = runCli(['restore', sealedId, ...repoFlags(), '--target-keyspace', wrong as string, ...connection(), '--identity', wrongFile], env());
    expect(w.status, w.stderr).toBe(3);
    expect(w.stderr.split('\n')[0]).toContain(`of backup ${sealedId} is encrypted to other keys than the identity in ${wrongFile}`);
    const m = runCli(['restore', sealedId, ...repoFlags(), '--target-keyspace', missing as string, ...connection()], env());
    expect(m.status, m.stderr).toBe(3);
    expect(m.stderr.split('\n')[0]).toContain(`backup ${sealedId} is encrypted with age`);
    expect(m.stderr).not.toContain(identity);
    for (const ks of [wrong, missing]) {
      expect((await client.execute('SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [ks])).rowLength, ks).toBe(0);
    }
    expect(await countKeys(`${folder(sealedId)}restores/`)).toBe(restoresBefore);
  });

  it('a flipped bit in an encrypted chunk: restore refuses it before writing any of its rows (exit 6); verify without the identity names it (exit 13)', async () => {
    const manifest = await manifestOf(sealedId);
    const range = manifest.tables[0]?.ranges.find((r) => r.chunks.length > 0);
    const chunk = range?.chunks[0];
    expect(chunk).toBeDefined();
    const key = folder(sealedId) + (chunk?.key ?? '');
    const original = await buffer(await raw.get(key));
    const ids = gunzipSync(execFileSync(ageBin, ['-d', '-i', identityFile], { input: original })).toString().split('\n').filter((l) => l !== '')
      .map((l) => (JSON.parse(l) as { k: number[] }).k[0] as number);
    expect(ids.length).toBe(chunk?.rows);
    const damaged = Buffer.from(original);
    damaged.writeUInt8((damaged.at(-40) ?? 0) ^ 0x10, damaged.length - 40);
    await raw.put(key, damaged);
    try {
      const target = uniqueName('age_r_damaged');
      keyspaces.push(target);
      const r = runCli(['restore', sealedId, ...repoFlags(), '--target-keyspace', target, ...connection(), '--parallel', '1'], env({ CASSETTE_AGE_IDENTITY_FILE: identityFile }));
      expect(r.status, r.stderr).toBe(6);
      expect(r.stderr).toMatch(new RegExp(`${chunk?.key ?? '?'} of backup ${sealedId} cannot be decrypted: it is damaged`));
      const exists = (await client.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?', [target, 'people'])).rowLength > 0;
      if (exists) {
        const written = await client.execute(`SELECT id FROM ${target}.people WHERE id IN (${ids.slice(0, 100).join(',')})`);
        expect(written.rowLength).toBe(0);
      }
      const v = runCli(['verify', sealedId, ...repoFlags(), '--json'], env());
      expect(v.status, v.stderr).toBe(13);
      const report = JSON.parse(v.stdout) as { problems: { key: string; problem: string }[] };
      expect(report.problems).toEqual([{ key, problem: 'its SHA-256 is not the one index.json records (changed or damaged)' }]);
    } finally {
      await raw.put(key, original);
    }
  });

  async function countKeys(prefix: string): Promise<number> {
    let n = 0;
    for await (const _ of raw.list(prefix)) n++;
    return n;
  }

  it('drill proves the encrypted backup restores; rekey --encrypt-to seals the new backup to another recipient only', async () => {
    const drill = runCli(['drill', sealedId, ...repoFlags(), ...connection(), '--identity', identityFile, '--json'], env());
    expect(drill.status, drill.stderr).toBe(0);
    expect(JSON.parse(drill.stdout)).toMatchObject({ result: 'PASS' });
    const drills = [];
    for await (const entry of raw.list(`${folder(sealedId)}drills/`)) drills.push(entry.key);
    expect(drills.length).toBeGreaterThan(0);
    for (const key of drills) expect((await buffer(await raw.get(key))).subarray(0, 22).toString(), key).toBe('age-encryption.org/v1\n');

    const next = await generateIdentity();
    const nextFile = join(work, 'next.txt');
    writeFileSync(nextFile, `${next}\n`, { mode: 0o600 });
    const config = join(work, 'rekey.yaml');
    // The ssn values are random bytes, not Fernet tokens: every one is quarantined (and left as it is).
    writeFileSync(config, `cluster: {keyspace: ${keyspace}}\nprovider: {type: fernet, old_key_env: OLD, new_key_env: NEW}\ntables: [{name: people, encrypted_columns: [ssn]}]\nkey_version_column: null\n`);
    const fernet = (): string => `${randomBytes(32).toString('base64url')}=`;
    const r = runCli(['rekey', sealedId, '--config', config, ...repoFlags(), '--identity', identityFile, '--encrypt-to', await identityToRecipient(next), '--allow-failures', String(ROWS), '--json'], env({ OLD: fernet(), NEW: fernet() }));
    expect(r.status, r.stderr).toBe(0);
    const target = (JSON.parse(r.stdout) as { backupId: string }).backupId;
    expect(JSON.parse(await text(await raw.get(`${folder(target)}encryption.json`)))).toMatchObject({ recipients: [await identityToRecipient(next)] });
    const withNext = runCli(['verify', target, ...repoFlags(), '--identity', nextFile, '--json'], env());
    expect(withNext.status, withNext.stderr).toBe(0);
    expect(JSON.parse(withNext.stdout)).toMatchObject({ ok: true, rows: ROWS, rowsRead: ROWS });
    const withOld = runCli(['verify', target, ...repoFlags(), '--identity', identityFile], env());
    expect(withOld.status).toBe(3);
  });

  it('a passphrase-encrypted backup reads back with the passphrase only (exit 3 naming the file otherwise)', async () => {
    const pass = join(work, 'pass.txt');
    writeFileSync(pass, `${randomBytes(12).toString('base64url')}\n`, { mode: 0o600 });
    const wrongPass = join(work, 'wrong-pass.txt');
    writeFileSync(wrongPass, 'not the passphrase\n', { mode: 0o600 });
    const b = runCli(['backup', '--keyspace', keyspace, '--tables', 'people', ...repoFlags(), ...connection(), '--passphrase-file', pass, '--json'], env());
    expect(b.status, b.stderr).toBe(0);
    const id = (JSON.parse(b.stdout) as { backupId: string }).backupId;
    const doc = JSON.parse(await text(await raw.get(`${folder(id)}encryption.json`))) as { passphraseIdentity?: string };
    expect(doc.passphraseIdentity).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----/);
    const ok = runCli(['verify', id, ...repoFlags(), '--json'], env({ CASSETTE_AGE_PASSPHRASE_FILE: pass }));
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, rows: ROWS, rowsRead: ROWS, encryption: { contentsChecked: true } });
    const wrong = runCli(['verify', id, ...repoFlags(), '--passphrase-file', wrongPass], env());
    expect(wrong.status).toBe(3);
    expect(wrong.stderr).toContain(`the passphrase in ${wrongPass} does not open backup ${id}`);
    expect(wrong.stderr).not.toContain('not the passphrase');
  });

  it('the index holds no schema or row data, and encryption.json names the recipient', async () => {
    const index = await text(await raw.get(`${folder(sealedId)}index.json`));
    expect(index).not.toContain('"columns"');
    expect(index).not.toContain(canary);
    expect(JSON.parse(await text(await raw.get(`${folder(sealedId)}encryption.json`)))).toMatchObject({ kind: 'cassette-encryption', scheme: 'age', recipients: [await identityToRecipient(identity)] });
  });
});
