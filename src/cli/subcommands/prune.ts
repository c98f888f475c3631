/** commander wiring of `cassette prune`. */
import type { Command } from 'commander';
import { formatBytes } from '../../commands/list.js';
import { silentProgress } from '../../commands/progress.js';
import { runPrune, type PruneReport } from '../../commands/prune/prune.js';
import type { RetentionPolicy } from '../../commands/prune/retention.js';
import { CassetteError } from '../../errors.js';
import { openRepository } from '../compose.js';
import type { ProgramContext } from '../context.js';
import { withRunLeases } from '../leases.js';
import { progressForStderr } from '../progress-reporter.js';
import { addRepositoryFlags, positiveInt, resolveRepository, stringFlag, type ParsedFlags } from '../shared-flags.js';

const UNIT_MS: Readonly<Record<string, number>> = { w: 7 * 86_400_000, d: 86_400_000, h: 3_600_000, m: 60_000 };

/** "30d", "2w", "36h", "1d12h", "90m" → milliseconds. */
export function parseDuration(value: string, flag: string): number {
  const text = value.trim().toLowerCase();
  if (!/^(\d+[wdhm])+$/.test(text)) throw new CassetteError('USAGE', `${flag} must be a duration like 30d, 2w, 36h, 1d12h or 90m, not "${value}"`);
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)([wdhm])/g)) ms += Number(n) * (UNIT_MS[unit as string] as number);
  if (ms <= 0) throw new CassetteError('USAGE', `${flag} must be longer than 0`);
  return ms;
}

const n = (value: number): string => value.toLocaleString('en-US');

export function formatPruneReport(r: PruneReport): string {
  const would = r.dryRun ? 'would remove' : 'removed';
  const garbageObjects = r.garbage.reduce((sum, g) => sum + g.objects, 0);
  const lines = [
    `prune of ${r.repository}${r.dryRun ? ' (dry run, nothing removed)' : ''}: ${would} ${r.removed.length} backup${r.removed.length === 1 ? '' : 's'}, ` +
      `${n(garbageObjects)} unreferenced chunk${garbageObjects === 1 ? '' : 's'}, ${r.staleLeases} stale lease${r.staleLeases === 1 ? '' : 's'}; ` +
      `${formatBytes(r.bytesFreed)} ${r.dryRun ? 'would be freed' : 'freed'} (${n(r.objectsRemoved)} objects)`,
  ];
  for (const b of r.removed) {
    lines.push(`  ${would} ${b.backupId}  ${b.createdAt ?? '-'}  ${b.keyspace ?? '-'}  ${b.state}  ${n(b.rows)} rows  ${formatBytes(b.bytes)}`);
  }
  for (const g of r.garbage) lines.push(`  garbage in ${g.backupId}: ${n(g.objects)} chunks of abandoned attempts, ${formatBytes(g.bytes)}`);
  for (const b of r.kept) lines.push(`  keep ${b.backupId}  ${b.createdAt ?? '-'}  ${b.keyspace ?? '-'}  ${b.state}: ${b.reasons.join('; ')}`);
  return `${lines.join('\n')}\n`;
}

export function registerPrune(program: Command, context: ProgramContext): void {
  const command = program
    .command('prune')
    .description('remove backups a retention policy no longer keeps, and chunks abandoned attempts left (--dry-run to see first)')
    .option('--keep-last <n>', 'keep the n newest complete backups of each keyspace')
    .option('--keep-daily <n>', 'keep the newest backup of each of the last n days that have backups (UTC)')
    .option('--keep-weekly <n>', 'keep the newest backup of each of the last n ISO weeks that have backups')
    .option('--keep-monthly <n>', 'keep the newest backup of each of the last n months that have backups')
    .option('--keep-within <duration>', "keep every backup created within this long of the keyspace's newest backup (30d, 2w, 36h)")
    .option('--keyspace <name>', "prune only this keyspace's backups")
    .option('--forget-incomplete-older-than <duration>', 'also remove incomplete backups started longer ago than this (default: keep them, they can be resumed)')
    .option('--dry-run', 'report what would be removed, remove nothing')
    .option('--parallel <n>', 'objects deleted at once', '16')
    .option('--json', 'print one JSON report on stdout at the end');
  addRepositoryFlags(command);
  command.action(async (flags: ParsedFlags) => {
    const str = (name: string): string | undefined => stringFlag(flags, name);
    const count = (name: string, flag: string): number | undefined => (str(name) === undefined ? undefined : positiveInt(str(name), flag, 1, { max: 1_000_000 }));
    const policy: RetentionPolicy = {
      ...(count('keepLast', '--keep-last') === undefined ? {} : { keepLast: count('keepLast', '--keep-last') as number }),
      ...(count('keepDaily', '--keep-daily') === undefined ? {} : { keepDaily: count('keepDaily', '--keep-daily') as number }),
      ...(count('keepWeekly', '--keep-weekly') === undefined ? {} : { keepWeekly: count('keepWeekly', '--keep-weekly') as number }),
      ...(count('keepMonthly', '--keep-monthly') === undefined ? {} : { keepMonthly: count('keepMonthly', '--keep-monthly') as number }),
      ...(str('keepWithin') === undefined ? {} : { keepWithinMs: parseDuration(str('keepWithin') as string, '--keep-within') }),
    };
    const forget = str('forgetIncompleteOlderThan');
    const request = {
      policy,
      ...(str('keyspace') === undefined ? {} : { keyspace: str('keyspace') as string }),
      ...(forget === undefined ? {} : { forgetIncompleteOlderThanMs: parseDuration(forget, '--forget-incomplete-older-than') }),
      dryRun: flags.dryRun === true,
      parallel: positiveInt(str('parallel'), '--parallel', 16, { max: 256 }),
    };
    const store = openRepository(resolveRepository(flags, context.env));
    const json = flags.json === true;
    const progress = json ? silentProgress : progressForStderr();
    const report = request.dryRun
      ? await runPrune(request, { store, progress, signal: context.signal, now: Date.now })
      : await withRunLeases(store, 'prune', context, (leases, signal) => runPrune(request, { store, leases, progress, signal, now: Date.now }));
    context.stdout(json ? `${JSON.stringify(report)}\n` : formatPruneReport(report));
  });
}
