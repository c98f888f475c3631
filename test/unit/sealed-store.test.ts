import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { gunzipSync } from 'node:zlib';
import { Decrypter, generateIdentity, identityToRecipient } from 'age-encryption';
import { afterAll, describe, expect, it } from 'vitest';
import { BackupIndex } from '../../src/manifest/encryption-format.js';
import { indexKey, manifestKey } from '../../src/manifest/keys.js';
import { readManifest } from '../../src/manifest/repository.js';
import { SealedStore } from '../../src/manifest/sealed-store.js';
import { runRekey } from '../../src/commands/rekey/rekey.js';
import { silentProgress } from '../../src/commands/progress.js';
import { inProcessTransformer } from '../../src/pipeline/transform/transformer.js';
import type { RotationConfig } from '../../src/config/rotation-types.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { CassetteError } from '../../src/errors.js';
import { rejection } from '../support/thrown.js';
import { fakeCipher, fakeSealed } from '../support/fakes/fake-cipher.js';
import { readBackup } from '../support/read-backup.js';
import { keyspaceSchema, tableSchema, writeSyntheticBackup } from '../support/synthetic-backup.js';

const ID = '20261204T120000Z-abcdef';
const CANARY = 'CANARY-7f3a9c-plain-column';
const schema = keyspaceSchema('app', [tableSchema('users', [['id', 'int', 'partition_key'], ['name', 'text', 'regular'], ['ssn', 'blob', 'regular'], ['key_version', 'text', 'regular']])]);
const row = (i: number): unknown => ({ k: [i], c: { name: { v: i === 7 ? CANARY : `name-${i}`, t: 10 + i }, ssn: { v: fakeSealed(1, `ssn-${i}`), t: 20 + i }, key_version: { v: '1', t: 5 } } });


/** Every file under `dir`, relative. */
function files(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix)).flatMap((name) => {
    const rel = prefix === '' ? name : `${prefix}/${name}`;
    return statSync(join(dir, rel)).isDirectory() ? files(dir, rel) : [rel];
  });
}

describe('SealedStore: encrypted backups through the same commands', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cassette-sealed-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  const other = await generateIdentity();
  const raw = new FsStore(dir);
  const writer = new SealedStore(raw, { sealNewTo: { recipients: [recipient] } });
  const reader = new SealedStore(raw, { identities: { identities: [identity], source: 'key.txt' } });
  const plainRows = [[row(0), row(1), row(2)], [row(3)], [row(4), row(5), row(6), row(7)]];
  await writeSyntheticBackup(writer, ID, schema, [{ name: 'users', ranges: plainRows.map((chunk) => [chunk]) }]);

  it('stores every object but encryption.json and index.json as an age file; the canary is nowhere in plaintext', () => {
    const stored = files(dir).filter((f) => f.startsWith(`backups/${ID}/`)).map((f) => f.slice(`backups/${ID}/`.length));
    expect(stored).toEqual(expect.arrayContaining(['encryption.json', 'index.json', 'backup.json', 'schema.cql', 'manifest.json']));
    for (const name of stored) {
      const bytes = readFileSync(join(dir, 'backups', ID, name));
      if (name === 'encryption.json' || name === 'index.json') expect(bytes.subarray(0, 1).toString()).toBe('{');
      else expect(bytes.subarray(0, 22).toString(), name).toBe('age-encryption.org/v1\n');
      expect(bytes.includes(Buffer.from(CANARY)), name).toBe(false);
      expect(bytes.includes(Buffer.from('"ssn"')), name).toBe(false);
    }
  });

  it('reads back with the identity: the same manifest and rows as written; a chunk decrypts (age) to the gzip NDJSON of a plain backup', async () => {
    const back = await readBackup(reader, ID);
    expect((back.rows.get('users') ?? []).map((r) => r.row)).toEqual(plainRows.flat());
    const manifest = await readManifest(reader, ID);
    const chunk = manifest?.tables[0]?.ranges[2]?.chunks[0];
    const sealed = readFileSync(join(dir, 'backups', ID, chunk?.key ?? ''));
    const decrypter = new Decrypter();
    decrypter.addIdentity(identity);
    const gzip = Buffer.from(await decrypter.decrypt(sealed));
    expect(createHash('sha256').update(gzip).digest('hex')).toBe(chunk?.sha256);
    expect(gunzipSync(gzip).toString()).toBe(`${[row(4), row(5), row(6), row(7)].map((r) => JSON.stringify(r)).join('\n')}\n`);
  });

  it('index.json has what listing and verifying need — stored sizes and SHA-256 of every object — and no schema', async () => {
    const index = BackupIndex.parse(JSON.parse(await text(await raw.get(indexKey(ID)))));
    expect(index).toMatchObject({ backupId: ID, keyspace: 'app', encryption: { scheme: 'age', recipients: [recipient] }, totals: { tables: 1, ranges: 3, chunks: 3, rows: 8 } });
    const all = [...index.objects.map((o) => o.key), ...index.tables.flatMap((t) => t.ranges.flatMap((r) => r.chunks.map((c) => c.key)))];
    for (const key of all) {
      const bytes = readFileSync(join(dir, 'backups', ID, key));
      const entry = index.objects.find((o) => o.key === key) ?? index.tables[0]?.ranges.flatMap((r) => r.chunks).find((c) => c.key === key);
      expect(entry, key).toMatchObject({ bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    }
    expect(index.objects.map((o) => o.key).sort()).toEqual(['backup.json', 'ranges/users/00000.json', 'ranges/users/00001.json', 'ranges/users/00002.json', 'schema.cql']);
    expect(JSON.stringify(index)).not.toContain('"columns"');
  });

  it('without an identity, or with another one, reading fails with INVALID_INPUT naming the backup', async () => {
    const none = await rejection(readManifest(new SealedStore(raw, {}), ID));
    expect(none.code).toBe('INVALID_INPUT');
    expect(none.message).toContain(`backup ${ID} is encrypted with age (to ${recipient.slice(0, 12)}…); no identity was given to read it`);
    const wrong = await rejection(readManifest(new SealedStore(raw, { identities: { identities: [other], source: 'other.txt' } }), ID));
    expect(wrong).toMatchObject({ code: 'INVALID_INPUT', message: `manifest.json of backup ${ID} is encrypted to other keys than the identity in other.txt` });
  });

  it('a flipped bit in a sealed chunk is BACKUP_INVALID when read', async () => {
    const manifest = await readManifest(reader, ID);
    const chunk = manifest?.tables[0]?.ranges[0]?.chunks[0];
    const path = join(dir, 'backups', ID, chunk?.key ?? '');
    const bytes = readFileSync(path);
    bytes.writeUInt8((bytes.at(-5) ?? 0) ^ 1, bytes.length - 5);
    await raw.put(`backups/${ID}/${chunk?.key ?? ''}`, bytes);
    const err = await rejection(text(await reader.get(`backups/${ID}/${chunk?.key ?? ''}`)));
    expect(err.code).toBe('BACKUP_INVALID');
    expect(err.message).toContain('cannot be decrypted: it is damaged or not an age file');
  });

  it('plain backups in the same repository pass through untouched', async () => {
    const plainId = '20261204T130000Z-123456';
    await writeSyntheticBackup(reader, plainId, schema, [{ name: 'users', ranges: [[[row(1)]]] }]);
    expect(readFileSync(join(dir, 'backups', plainId, 'manifest.json')).subarray(0, 1).toString()).toBe('{');
    expect(await readManifest(new SealedStore(raw, {}), plainId)).toMatchObject({ backupId: plainId });
  });

  it('a passphrase seals a new identity of the backup\'s own (one scrypt per reader); only the passphrase opens it', async () => {
    const store = new FsStore(mkdtempSync(join(tmpdir(), 'cassette-sealed-pass-')));
    const passphrase = { passphrase: 'correct horse battery staple', source: 'pass.txt' };
    await writeSyntheticBackup(new SealedStore(store, { passphrase }), ID, schema, [{ name: 'users', ranges: [[[row(1), row(7)]]] }]);
    const doc = JSON.parse(await text(await store.get(`backups/${ID}/encryption.json`))) as { recipients: string[]; passphraseIdentity: string };
    expect(doc.recipients).toHaveLength(1);
    expect(doc.passphraseIdentity).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----/);
    expect(doc.passphraseIdentity).not.toContain('AGE-SECRET-KEY');
    const back = await readBackup(new SealedStore(store, { passphrase }), ID);
    expect((back.rows.get('users') ?? []).map((r) => r.row)).toEqual([row(1), row(7)]);
    const wrong = await rejection(readManifest(new SealedStore(store, { passphrase: { passphrase: 'wrong', source: 'other-pass.txt' } }), ID));
    expect(wrong).toMatchObject({ code: 'INVALID_INPUT', message: `the passphrase in other-pass.txt does not open backup ${ID}` });
    const none = await rejection(readManifest(new SealedStore(store, {}), ID));
    expect(none.message).toContain('no passphrase or identity was given to read it');
    expect(none.hint).toContain('--passphrase-file');
  });

  it('rekey of an encrypted backup writes an encrypted backup to the same recipients', async () => {
    const store = new FsStore(mkdtempSync(join(tmpdir(), 'cassette-sealed-rekey-')));
    const sealedWriter = new SealedStore(store, { sealNewTo: { recipients: [recipient] } });
    await writeSyntheticBackup(sealedWriter, ID, schema, [{ name: 'users', ranges: [[[row(1), row(2)]]] }]);
    const both = new SealedStore(store, { identities: { identities: [identity], source: 'key.txt' } });
    const cipher = fakeCipher();
    const config: RotationConfig = {
      file: 'rekey.yaml', cluster: { contactPoints: ['127.0.0.1'], keyspace: 'app' }, provider: { type: 'module', oldKeys: [], options: {} }, keyVersionColumn: 'key_version',
      tables: [{ name: 'users', encryptedColumns: ['ssn'], preserveTtl: true, preserveWritetime: true, useLwtGuard: false, consistency: { read: 'LOCAL_QUORUM', write: 'LOCAL_QUORUM' } }],
      execution: { workers: 4, pauseOnBackpressure: false },
    };
    const report = await runRekey({ backupId: ID, config, dryRun: false, allowFailures: 0 }, {
      store: both, cipher, transformer: inProcessTransformer(both, cipher), progress: silentProgress, signal: new AbortController().signal, now: Date.now,
      toolVersion: 'test', resumeHint: (id) => id,
    });
    const target = report.backupId as string;
    expect((await text(await store.get(manifestKey(target)))).startsWith('age-encryption.org/v1\n')).toBe(true);
    const index = BackupIndex.parse(JSON.parse(await text(await store.get(indexKey(target)))));
    expect(index).toMatchObject({ derivedFrom: { backupId: ID, by: 'rekey' }, encryption: { recipients: [recipient] } });
    const rows = (await readBackup(both, target)).rows.get('users') ?? [];
    expect(rows.map((r) => (r.row.c as Record<string, { v: unknown }>).key_version?.v)).toEqual(['2', '2']);
  });
});
