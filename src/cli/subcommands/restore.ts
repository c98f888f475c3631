/** commander wiring of `cassette restore` and `cassette status`. */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { runRestore, type RestoreReport } from '../../commands/restore.js';
import { formatStatus, runStatus } from '../../commands/status/status.js';
import type { Guard } from '../../cassandra/writes/row-writes.js';
import { describeReplication } from '../../cassandra/schema/replication.js';
import { CassetteError } from '../../errors.js';
import { parseByteSize, resumeCommand } from './backup.js';
import { openRepository, withCluster } from '../compose.js';
import type { ProgramContext } from '../context.js';
import { isHolderAlive, withRunLeases } from '../leases.js';
import { addObservabilityFlags, withObservability } from '../observe/observability.js';
import { addConnectionFlags, addRepositoryFlags, positiveInt, resolveConnection, resolveRepository, listFlag, stringFlag } from '../shared-flags.js';

type Flags = Record<string, string | boolean | undefined>;

function parseJson(value: string, flag: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new CassetteError('USAGE', `${flag} must be JSON, not ${value}`);
  }
}

/** `--replication '{"class":"SimpleStrategy","replication_factor":1}'` → string map. */
export function parseReplication(value: string): Record<string, string> {
  const parsed = parseJson(value, '--replication');
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || typeof (parsed as Record<string, unknown>).class !== 'string') {
    throw new CassetteError('USAGE', '--replication must be a JSON object with a "class", e.g. {"class":"SimpleStrategy","replication_factor":1}');
  }
  return Object.fromEntries(Object.entries(parsed as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}

/**
 * `--dc-map dc1:datacenter1,dc2:datacenter1` → source datacenter → target datacenter. USAGE for
 * an empty map, an entry that is not `SRC:DST`, or a source named twice.
 */
export function parseDcMap(value: string): Map<string, string> {
  const map = new Map<string, string>();
  const example = 'e.g. --dc-map dc1:datacenter1,dc2:datacenter1';
  const entries = value.split(',').map((entry) => entry.trim());
  if (entries.every((entry) => entry === '')) throw new CassetteError('USAGE', `--dc-map must list SRC:DST pairs, ${example}`);
  for (const entry of entries) {
    const parts = entry.split(':').map((part) => part.trim());
    const [source, target] = parts;
    if (parts.length !== 2 || !source || !target || [source, target].some((dc) => dc === 'class' || dc === 'replication_factor')) {
      throw new CassetteError('USAGE', `--dc-map entry "${entry}" is not SRC:DST (two datacenter names), ${example}`);
    }
    if (map.has(source)) throw new CassetteError('USAGE', `--dc-map maps datacenter "${source}" twice`);
    map.set(source, target);
  }
  return map;
}

function parseGuard(flags: Flags): Guard {
  const kind = typeof flags.guard === 'string' ? flags.guard : 'none';
  if (kind === 'none' || kind === 'timestamp') return { kind };
  if (kind === 'lwt') {
    if (typeof flags.guardColumn !== 'string' || typeof flags.guardValue !== 'string') {
      throw new CassetteError('USAGE', '--guard lwt needs --guard-column <column> and --guard-value <JSON value the column must hold>');
    }
    return { kind: 'lwt', column: flags.guardColumn, expected: parseJson(flags.guardValue, '--guard-value') };
  }
  throw new CassetteError('USAGE', `--guard must be none, timestamp or lwt, not "${kind}"`);
}

function formatRestoreReport(r: RestoreReport): string {
  const lines = [
    `restore ${r.restoreId} of backup ${r.backupId} into ${r.targetKeyspace} (cluster ${r.targetCluster}) complete: ` +
      `${r.written.toLocaleString('en-US')} of ${r.rows.toLocaleString('en-US')} rows written, ${r.expiredCells.toLocaleString('en-US')} expired cells skipped, ` +
      `${r.rejected} rejected, ${r.races} races`,
    `${(r.durationMs / 1000).toFixed(1)} s, ${r.rowsPerSecond.toLocaleString('en-US')} rows/s, ${(r.bytesPerSecond / 1024 / 1024).toFixed(1)} MB/s` +
      (r.verified === undefined ? '' : r.verified ? ', verified: row counts match' : ''),
  ];
  const replication = describeReplication(r.replication.map);
  lines.push(r.replication.created ? `keyspace ${r.targetKeyspace} created with replication ${replication}`
    : `keyspace ${r.targetKeyspace} already existed with replication ${replication}; it was kept`);
  lines.push(`consistency ${r.consistency}${r.guard === 'lwt' ? `, LWT serial consistency ${r.serialConsistency}` : ''}`);
  if (r.shared !== undefined) lines.push(`shared run: this worker loaded ${r.shared.rangesMine} ranges; the others the rest`);
  if (!r.writetimesPreserved) lines.push('note: --guard lwt writes at the LWT ballot time; original WRITETIMEs were not preserved');
  const approximated = (r.approximatedWritetimes ?? []).flatMap((t) => t.columns.map((c) => `${t.name}.${c}`));
  if (approximated.length > 0) lines.push(`note: written with the approximated writetimes and TTLs the backup holds (read from Cassandra 4.x, docs/format.md §6.4): ${approximated.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

export function registerRestore(program: Command, context: ProgramContext): void {
  const command = program
    .command('restore')
    .description('load a backup into a cluster with preserved TTL and WRITETIME')
    .argument('<backup-id>', 'the backup to restore (see `cassette list`)')
    .option('--tables <list>', 'comma-separated tables (default: every table in the backup)')
    .option('--target-keyspace <name>', 'restore into this keyspace instead of the backed-up one')
    .option('--replication <json>', 'replication for a keyspace the restore creates, e.g. {"class":"SimpleStrategy","replication_factor":1}')
    .option('--dc-map <map>', 'rename the datacenters of that replication (the backup\'s or --replication\'s), e.g. dc1:datacenter1,dc2:datacenter1')
    .option('--schema <mode>', 'create (missing keyspace, types, tables, indexes), skip, or require-existing', 'create')
    .option('--guard <mode>', 'none (empty targets), timestamp (writetime + 1 µs), or lwt (UPDATE … IF column = value)', 'none')
    .option('--guard-column <name>', 'with --guard lwt: the column the condition checks (e.g. key_version)')
    .option('--guard-value <json>', 'with --guard lwt: the value it must hold for the write to apply')
    .option('--resume <restore-id>', 'finish an interrupted restore: skip chunks it has finished')
    .option('--restore-id <id>', 'a restore shared by many workers: every worker runs the same command with this id (r + UTC time + 6 hex digits, e.g. r20261204T120000Z-3fa9c1); the first creates the run and the schema, the others join, ranges are claimed one by one')
    .option('--max-in-flight <n>', 'write requests in flight', '64')
    .option('--rate <rows/s>', 'at most this many rows per second')
    .option('--max-errors <n>', 'stop once more rows than this have failed', '100')
    .option('--batch-bytes <size>', 'largest unlogged single-partition batch', '4KiB')
    .option('--parallel <n>', 'chunks loaded at once', '2')
    .option('--verify', 'after loading, count rows per range in the target and compare')
    .option('--json', 'print one JSON report on stdout at the end');
  addConnectionFlags(command);
  addRepositoryFlags(command);
  addObservabilityFlags(command);
  command.action((backupId: string, flags: Flags) => withObservability(flags, context, 'restore', async (observe) => {
    const str = (name: string): string | undefined => stringFlag(flags, name);
    const schemaMode = str('schema') ?? 'create';
    if (schemaMode !== 'create' && schemaMode !== 'skip' && schemaMode !== 'require-existing') {
      throw new CassetteError('USAGE', `--schema must be create, skip or require-existing, not "${schemaMode}"`);
    }
    const connection = resolveConnection(flags, context.env);
    const location = resolveRepository(flags, context.env);
    const store = openRepository(location, observe.wrapStore);
    const tables = listFlag(flags, 'tables');
    const request = {
      backupId,
      ...(tables === undefined ? {} : { tables }),
      ...(str('targetKeyspace') === undefined ? {} : { targetKeyspace: str('targetKeyspace') as string }),
      ...(str('replication') === undefined ? {} : { replication: parseReplication(str('replication') as string) }),
      ...(str('dcMap') === undefined ? {} : { dcMap: parseDcMap(str('dcMap') as string) }),
      schemaMode: schemaMode as 'create' | 'skip' | 'require-existing',
      guard: parseGuard(flags),
      ...(str('resume') === undefined ? {} : { resume: str('resume') as string }),
      ...(str('restoreId') === undefined ? {} : { restoreId: str('restoreId') as string }),
      maxInFlight: positiveInt(str('maxInFlight'), '--max-in-flight', 64, { max: 4096 }),
      ...(str('rate') === undefined ? {} : { rate: positiveInt(str('rate'), '--rate', 0) }),
      maxErrors: positiveInt(str('maxErrors'), '--max-errors', 100, { min: 0 }),
      batchBytes: parseByteSize(str('batchBytes') ?? '4KiB', '--batch-bytes', 256),
      parallel: positiveInt(str('parallel'), '--parallel', 2, { max: 64 }),
      verify: flags.verify === true,
      retryForMs: location.retryForMs,
    };
    if (request.restoreId !== undefined && request.resume !== undefined) throw new CassetteError('USAGE', 'give --restore-id or --resume, not both (a shared run resumes by running the same command again)');
    const json = flags.json === true;
    await withCluster(connection, context.signal, async (connected) => {
      const cluster = observe.cluster(connected);
      const report = await withRunLeases(store, 'restore', context, (leases, signal) => runRestore(request, {
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
      }), { shared: request.restoreId !== undefined });
      context.stdout(json ? `${JSON.stringify(report)}\n` : formatRestoreReport(report));
      if (report.rejected > 0) {
        throw new CassetteError('COMPLETED_WITH_ERRORS', `restore ${report.restoreId} finished, but ${report.rejected} rows were rejected`, {
          hint: `they are listed with the reason under backups/${report.backupId}/restores/${report.restoreId}/rejects/ in ${report.repository}`,
        });
      }
    });
  }));
}

export function registerStatus(program: Command, context: ProgramContext): void {
  const command = program
    .command('status')
    .description('show the state of a backup or a restore run')
    .argument('<id>', 'a backup id or a restore id')
    .option('--json', 'print the status as JSON');
  addRepositoryFlags(command);
  command.action(async (id: string, flags: Flags) => {
    const store = openRepository(resolveRepository(flags, context.env));
    const status = await runStatus(id, { store, now: Date.now });
    context.stdout(flags.json === true ? `${JSON.stringify(status)}\n` : formatStatus(status));
  });
}
