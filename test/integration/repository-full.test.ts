/**
 * A directory repository that runs out of space (a small tmpfs mounted for the test): the backup
 * stops at once with exit 5 and one clear line naming "no space left on device" with a hint — a full
 * disk is not an outage to wait out — keeps what it finished, and `backup --resume` after space is
 * freed (the tmpfs remounted larger) finishes with exactly the rows of an undisturbed backup.
 * Mounting needs root; if it fails the test fails with the reason, it never skips.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FsStore } from '../../src/storage/fs-store.js';
import { cliEnv, runCli } from '../support/cassette.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { createDataset } from '../support/backup-dataset.js';
import { backupDigest } from '../support/read-backup.js';

describe('a directory repository that runs out of space', () => {
  const services = inject('services');
  const keyspace = uniqueName('outage_full');
  const work = mkdtempSync(join(tmpdir(), 'cassette-full-'));
  const mount = join(work, 'small');
  const connection = ['--hosts', services.cassandra.host, '--port', String(services.cassandra.port), '--dc', services.cassandra.dc];
  let client: cassandra.Client;
  let mounted = false;

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    await createDataset(client, keyspace, { wideRows: 4_000, smallPartitions: 3_000 });
    mkdirSync(mount);
    // 256 KiB: room for backup.json, schema.cql and a few chunks, far less than the whole backup.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mount], { stdio: 'pipe' });
    mounted = true;
  });

  afterAll(async () => {
    if (mounted) execFileSync('umount', [mount], { stdio: 'pipe' });
    await client?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await client?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  it('stops with exit 5 naming "no space left on device", and --resume finishes once there is room, identical to an undisturbed backup', async () => {
    const whole = join(work, 'whole');
    const straight = runCli(['backup', '--repo', whole, '--keyspace', keyspace, ...connection, '--splits', '32', '--json'], cliEnv());
    expect(straight.status, straight.stderr).toBe(0);
    const reference = await backupDigest(new FsStore(whole), (JSON.parse(straight.stdout) as { backupId: string }).backupId);

    const full = runCli(['backup', '--repo', mount, '--keyspace', keyspace, ...connection, '--splits', '32', '--parallel', '1'], cliEnv());
    expect(full.status, full.stderr).toBe(5);
    const lines = full.stderr.trim().split('\n');
    const error = lines.find((l) => l.startsWith('cassette: ')) ?? '';
    expect(error).toMatch(new RegExp(`^cassette: cannot .* in repository ${mount}: no space left on device \\(ENOSPC\\)$`));
    const hint = lines.find((l) => l.startsWith('  hint: ')) ?? '';
    expect(hint).toMatch(new RegExp(`^  hint: free space on the filesystem that holds ${mount} .*; then resume with: cassette backup .*--resume \\S+`));
    // Failed at once: a full disk is not waited out as an outage would be.
    expect(full.stderr).not.toContain('waiting for the repository');
    const [id] = readdirSync(join(mount, 'backups'));
    expect(id).toBeDefined();
    expect(existsSync(join(mount, 'backups', id as string, 'manifest.json'))).toBe(false);

    execFileSync('mount', ['-o', 'remount,size=64m', mount], { stdio: 'pipe' });
    const resumed = runCli(['backup', '--repo', mount, ...connection, '--resume', id as string, '--json'], cliEnv());
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(await backupDigest(new FsStore(mount), id as string)).toEqual(reference);
  });
});
