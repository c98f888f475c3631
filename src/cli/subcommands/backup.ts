/** commander wiring of `cassette backup` and `cassette list`. */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { runBackup, type BackupReport } from '../../commands/backup.js';
import { formatBytes, formatList, runList } from '../../commands/list.js';
import { CassetteError } from '../../errors.js';
import { readEncryption } from '../../manifest/sealed-store.js';
import { openRepository, withCluster } from '../compose.js';
import type { ProgramContext } from '../context.js';
import { isHolderAlive, withRunLeases } from '../leases.js';
import { addObservabilityFlags, withObservability } from '../observe/observability.js';
import { addConnectionFlags, addEncryptionFlags, addRepositoryFlags, positiveInt, resolveConnection, resolveRepository, listFlag, stringFlag } from '../shared-flags.js';

/** "64MiB", "512k", "1048576" → bytes. */
export function parseByteSize(value: string, flag: string, min = 64 * 1024): number {
  const m = /^(\d+)\s*([kmg]?)(i?b)?$/i.exec(value.trim());
  if (m === null) throw new CassetteError('USAGE', `${flag} must be a size like 67108864, 64MiB or 512KiB, not "${value}"`);
  const factor = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g'];
  const bytes = Number(m[1]) * factor;
  if (bytes < min) throw new CassetteError('USAGE', `${flag} must be at least ${min >= 1024 ? `${min / 1024}KiB` : `${min} bytes`}`);
  return bytes;
}

/** The user's command line with `--resume <id>` replacing any earlier resume flag. */
export function resumeCommand(argv: readonly string[], backupId: string): string {
  // A worker of a shared run resumes by running the same command again: it joins the run.
  const shared = argv.some((arg) => /^--(backup|restore|rekey)-id(=|$)/.test(arg));
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--resume') { i++; continue; }
    if (arg.startsWith('--resume=')) continue;
    kept.push(/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);
  }
  return `cassette ${[...kept, ...(shared ? [] : ['--resume', backupId])].join(' ')}`;
}

function formatBackupReport(r: BackupReport): string {
  const lines = [
    `backup ${r.backupId} complete: keyspace ${r.keyspace}, ${r.tables.length} tables, ${r.ranges} ranges, ${r.chunks} chunks, ` +
      `${r.rows.toLocaleString('en-US')} rows, ${formatBytes(r.bytes)} in ${r.repository}`,
    `this run: ${r.rowsThisRun.toLocaleString('en-US')} rows in ${(r.durationMs / 1000).toFixed(1)} s (${r.rowsPerSecond.toLocaleString('en-US')} rows/s)` +
      `, read at ${r.consistency}${r.resumed ? ', resumed' : ''}`,
  ];
  if (r.shared !== undefined) lines.push(`shared run: this worker read ${r.shared.rangesMine} of the ${r.ranges} ranges`);
  const byNode = Object.entries(r.rangesByNode);
  if (byNode.length > 0) lines.push(`ranges read per node: ${byNode.map(([node, n]) => `${node} ${n}`).join(', ')}`);
  const approximated = (r.approximatedWritetimes ?? []).flatMap((t) => t.columns.map((c) => `${t.name}.${c}`));
  if (approximated.length > 0) lines.push(`note: approximated writetimes and TTLs (Cassandra 4.x, docs/format.md §6.4): ${approximated.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

export function registerBackup(program: Command, context: ProgramContext): void {
  const command = program
    .command('backup')
    .description('export a keyspace\'s tables by token range into a backup repository')
    .option('--keyspace <name>', 'keyspace to back up')
    .option('--tables <list>', 'comma-separated tables (default: every table of the keyspace)')
    .option('--resume <backup-id>', 'finish an interrupted backup: read only the ranges it has not finished')
    .option('--backup-id <id>', 'a backup shared by many workers: every worker runs the same command with this id (UTC time + 6 hex digits, e.g. 20261204T120000Z-3fa9c1); the first creates it, the others join, ranges are claimed one by one')
    .option('--workers <n>', 'with --backup-id: how many workers are expected (sizes the plan; never partitions it)')
    .option('--splits <n>', 'token ranges per table (default: from the ring size, nodes and --parallel)')
    .option('--parallel <n>', 'token ranges read at once', '4')
    .option('--fetch-size <n>', 'rows per page', '2000')
    .option('--max-chunk-bytes <size>', 'roll to a new chunk file once it holds this much NDJSON (uncompressed)', '8MiB')
    .option('--gzip-level <n>', 'gzip level 1 (fast) to 9 (small)', '1')
    .option('--json', 'print one JSON report on stdout at the end');
  addConnectionFlags(command);
  addRepositoryFlags(command);
  addEncryptionFlags(command);
  addObservabilityFlags(command);
  command.action((flags: Record<string, string | boolean | undefined>) => withObservability(flags, context, 'backup', async (observe) => {
    const str = (name: string): string | undefined => stringFlag(flags, name);
    const connection = resolveConnection(flags, context.env);
    const location = resolveRepository(flags, context.env);
    const store = openRepository(location, observe.wrapStore);
    const tables = listFlag(flags, 'tables');
    const request = {
      ...(str('keyspace') === undefined ? {} : { keyspace: str('keyspace') as string }),
      ...(tables === undefined ? {} : { tables }),
      ...(str('resume') === undefined ? {} : { resume: str('resume') as string }),
      ...(str('backupId') === undefined ? {} : { backupId: str('backupId') as string }),
      ...(str('workers') === undefined ? {} : { workers: positiveInt(str('workers'), '--workers', 1, { max: 10_000 }) }),
      ...(str('splits') === undefined ? {} : { splits: positiveInt(str('splits'), '--splits', 0, { max: 100_000 }) }),
      parallel: positiveInt(str('parallel'), '--parallel', 4, { max: 256 }),
      fetchSize: positiveInt(str('fetchSize'), '--fetch-size', 2000, { max: 100_000 }),
      gzipLevel: positiveInt(str('gzipLevel'), '--gzip-level', 1, { min: 1, max: 9 }),
      maxChunkBytes: parseByteSize(str('maxChunkBytes') ?? '8MiB', '--max-chunk-bytes'),
      consistency: connection.consistency,
      retryForMs: location.retryForMs,
    };
    if (request.backupId !== undefined && request.resume !== undefined) throw new CassetteError('USAGE', 'give --backup-id or --resume, not both (a shared run resumes by running the same command again)');
    if (request.keyspace === undefined && request.resume === undefined) {
      throw new CassetteError('USAGE', 'backup needs --keyspace <name> (or --resume <backup-id>)');
    }
    if (request.resume !== undefined && location.sealing.sealNewTo !== undefined) {
      // A resumed backup keeps how it began (format.md §12): refuse flags that say otherwise.
      const began = await readEncryption(store, request.resume);
      const wanted = [...location.sealing.sealNewTo.recipients].sort().join(',');
      if (began === undefined || [...began.recipients].sort().join(',') !== wanted) {
        throw new CassetteError('USAGE', `backup ${request.resume} was begun ${began === undefined ? 'unencrypted' : 'encrypted to other recipients'}; a resumed backup keeps how it began`, {
          hint: 'resume it without --encrypt-to / --recipients-file (give --identity to read an encrypted one)',
        });
      }
    }
    const known = request.backupId ?? request.resume;
    if (known !== undefined) observe.setJob(known);
    const json = flags.json === true;
    await withCluster(connection, context.signal, async (connected) => {
      const cluster = observe.cluster(connected);
      const report = await withRunLeases(store, 'backup', context, (leases, signal) => runBackup(request, {
        store,
        cluster,
        progress: observe.progress(json),
        signal,
        leases,
        worker: { host: hostname(), pid: process.pid },
        isHolderAlive,
        now: Date.now,
        toolVersion: context.version,
        resumeHint: (id) => resumeCommand(context.argv, id),
      }), { shared: request.backupId !== undefined });
      context.stdout(json ? `${JSON.stringify(report)}\n` : formatBackupReport(report));
    });
  }));
}

export function registerList(program: Command, context: ProgramContext): void {
  const command = program
    .command('list')
    .description('list the backups in a repository: id, created, status, tables, rows, bytes')
    .option('--json', 'print the list as JSON');
  addRepositoryFlags(command);
  command.action(async (flags: Record<string, string | boolean | undefined>) => {
    const store = openRepository(resolveRepository(flags, context.env));
    const report = await runList({ store });
    context.stdout(flags.json === true ? `${JSON.stringify(report)}\n` : formatList(report));
  });
}
