/**
 * The golden fixture of an encrypted backup (test/fixtures/format-v1-age, made by its
 * make-fixture.mjs from the plain format-v1 fixture; docs/format.md §12) must stay readable by every
 * later build: each sealed object is an age file whose plaintext is the plain fixture's object byte
 * for byte, index.json names every stored object with its size and SHA-256, and the backup reads
 * back through the SealedStore — listed without the identity, read with it — to the plain rows.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Decrypter } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { listBackups, readManifest } from '../../src/manifest/repository.js';
import { SealedStore } from '../../src/manifest/sealed-store.js';
import { checkSealedIndex } from '../../src/pipeline/check/sealed-index.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { BACKUP_ID, IDENTITY, RECIPIENT } from '../fixtures/format-v1-age/make-fixture.mjs';
import { readBackup } from '../support/read-backup.js';

const sealedRoot = fileURLToPath(new URL('../fixtures/format-v1-age/repo/', import.meta.url));
const plainRoot = fileURLToPath(new URL('../fixtures/format-v1/repo/', import.meta.url));
const folder = `backups/${BACKUP_ID}`;

function files(root: string, prefix = ''): string[] {
  return readdirSync(join(root, prefix)).flatMap((name) => {
    const rel = prefix === '' ? name : `${prefix}/${name}`;
    return statSync(join(root, rel)).isDirectory() ? files(root, rel) : [rel];
  });
}

describe('format v1, encrypted (age): golden fixture', () => {
  const raw = new FsStore(sealedRoot);
  const reader = new SealedStore(raw, { identities: { identities: [IDENTITY], source: 'make-fixture.mjs' } });

  it('every sealed object decrypts to the plain fixture\'s object, byte for byte; only encryption.json and index.json are plaintext', async () => {
    const sealed = files(join(sealedRoot, folder)).sort();
    const plain = files(join(plainRoot, folder)).sort();
    expect(sealed).toEqual([...plain, 'encryption.json', 'index.json'].sort());
    const decrypter = new Decrypter();
    decrypter.addIdentity(IDENTITY);
    for (const name of plain) {
      const stored = readFileSync(join(sealedRoot, folder, name));
      expect(stored.subarray(0, 22).toString(), name).toBe('age-encryption.org/v1\n');
      expect(Buffer.from(await decrypter.decrypt(stored)).equals(readFileSync(join(plainRoot, folder, name))), name).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(sealedRoot, folder, 'encryption.json'), 'utf8'))).toEqual({ formatVersion: 1, kind: 'cassette-encryption', scheme: 'age', recipients: [RECIPIENT] });
  });

  it('index.json names every stored object with its size and SHA-256 (verify without the identity finds nothing wrong)', async () => {
    const found = await checkSealedIndex(raw, BACKUP_ID, { parallel: 4, readChunk: () => true });
    expect(found.problems).toEqual([]);
    expect(found.index).toMatchObject({ kind: 'cassette-backup-index', keyspace: 'golden_v1', encryption: { scheme: 'age', recipients: [RECIPIENT] } });
    expect(found.chunksRead).toBe(found.index.totals.chunks);
    expect(readFileSync(join(sealedRoot, folder, 'index.json'), 'utf8')).not.toContain('"columns"');
  });

  it('is listed without the identity, and reads back with it to the plain fixture\'s manifest and rows', async () => {
    const [listed] = await listBackups(new SealedStore(raw, {}));
    const plain = new FsStore(plainRoot);
    const plainManifest = await readManifest(plain, BACKUP_ID);
    expect(listed).toMatchObject({ backupId: BACKUP_ID, status: 'complete', encrypted: true, keyspace: 'golden_v1', rows: plainManifest?.totals.rows });
    expect(await readManifest(reader, BACKUP_ID)).toEqual(plainManifest);
    const [a, b] = [await readBackup(reader, BACKUP_ID), await readBackup(plain, BACKUP_ID)];
    expect([...a.rows.keys()]).toEqual([...b.rows.keys()]);
    for (const [table, rows] of b.rows) expect(a.rows.get(table), table).toEqual(rows);
  });
});
