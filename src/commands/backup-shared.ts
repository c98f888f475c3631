/**
 * A backup shared by many workers (docs/format.md §13): joining it, or creating it when first.
 * Which ranges a worker takes is pipeline/work-claims.ts.
 */
import { CassetteError } from '../errors.js';
import type { BackupHeader } from '../manifest/format.js';
import { readHeader } from '../manifest/repository.js';
import { BlobExistsError } from '../storage/blob-store.js';
import { BACKUP_ID_PATTERN } from '../manifest/keys.js';
import type { WorkClaimsDeps } from '../pipeline/work-claims.js';

/**
 * A shared run (format.md §13): the first worker creates the backup (write-once backup.json with
 * its plan), the others join it — same keyspace and tables — and its plan is theirs.
 */
export async function joinOrCreate(request: { readonly tables?: readonly string[] }, backupId: string, deps: WorkClaimsDeps, start: () => Promise<BackupHeader>, reopen: () => Promise<BackupHeader>): Promise<BackupHeader> {
  if (!BACKUP_ID_PATTERN.test(backupId)) {
    throw new CassetteError('USAGE', `--backup-id ${backupId} is not a backup id (20261204T120000Z-3fa9c1: UTC time, then 6 hex digits)`);
  }
  if ((await readHeader(deps.store, backupId)) === undefined) {
    try {
      return await start();
    } catch (err) {
      if (!(err instanceof BlobExistsError)) throw err; // another worker created it first: join it
    }
  } else {
    await deps.leases?.hold({ kind: 'backup', id: backupId }, 'work');
  }
  const header = await reopen();
  if (request.tables !== undefined) {
    const planned = header.tables.map((t) => t.name).sort().join(',');
    if ([...request.tables].sort().join(',') !== planned) {
      throw new CassetteError('USAGE', `backup ${backupId} was planned for tables ${planned}; this worker was given ${request.tables.join(',')}`, { hint: 'give every worker of one run the same command' });
    }
  }
  return header;
}
