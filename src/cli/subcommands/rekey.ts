/** commander wiring of `cassette rekey`: the offline transform of a backup into a new one. */
import { availableParallelism, hostname } from 'node:os';
import type { Command } from 'commander';
import { runRekey, type RekeyReport } from '../../commands/rekey/rekey.js';
import { loadRotationConfig } from '../../config/rotation-config.js';
import { createCipher } from '../../crypto/registry.js';
import { CassetteError } from '../../errors.js';
import { workerTransformer } from '../../pipeline/transform/worker-pool.js';
import { resumeCommand } from './backup.js';
import { openRepository, storeOptionsFor } from '../compose.js';
import type { ProgramContext } from '../context.js';
import { isHolderAlive, withRunLeases } from '../leases.js';
import { addObservabilityFlags, withObservability } from '../observe/observability.js';
import { resolveRotationRepository } from '../rotation-flags.js';
import { addEncryptionFlags, addRepositoryFlags, positiveInt, stringFlag, type ParsedFlags } from '../shared-flags.js';

const n = (value: number): string => value.toLocaleString('en-US');

export function formatRekeyReport(r: RekeyReport): string {
  const target = r.dryRun ? 'dry run, nothing written' : `new backup ${r.backupId ?? ''}`;
  const lines = [
    `rekey of backup ${r.sourceBackupId} (${r.provider}, keys ${r.oldKeyVersions.join(', ')} → ${r.newKeyVersion}): ${target}` + (r.resumed ? ', resumed' : ''),
    `${n(r.valuesRotated)} values ${r.dryRun ? 'would be re-encrypted' : 're-encrypted'}, ${n(r.valuesAlreadyCurrent)} already under the new key, ` +
      `${n(r.rowsSkipped)} rows skipped (key version already new), ${n(r.valuesQuarantined)} quarantined`,
    ...r.tables.map((t) => `  ${t.name}: ${t.rotated ? `columns ${t.columns.join(', ')}` : 'copied unchanged'}, ${n(t.rows)} rows, ${n(t.chunks)} chunks`),
    ...(r.shared === undefined ? [] : [`shared run: this worker re-encrypted ${n(r.shared.rangesMine)} ranges; the others the rest`]),
    `this run: ${n(r.valuesThisRun)} values in ${(r.durationMs / 1000).toFixed(1)} s (${n(r.valuesPerSecond)} values/s)` +
      (r.kmsCalls === undefined ? '' : `, KMS calls: ${n(r.kmsCalls.generateDataKey)} GenerateDataKey, ${n(r.kmsCalls.decrypt)} Decrypt`),
  ];
  if (r.valuesQuarantined > 0) {
    lines.push(`quarantined (no key opens the value; table, column, primary key)${r.quarantineFolder === undefined ? '' : `, full list under ${r.quarantineFolder}`}:`);
    for (const q of r.quarantineSample) lines.push(`  ${q.table}.${q.column} ${JSON.stringify(q.key)}`);
    if (r.valuesQuarantined > r.quarantineSample.length) lines.push(`  … and ${n(r.valuesQuarantined - r.quarantineSample.length)} more`);
  }
  return `${lines.join('\n')}\n`;
}

export function registerRekey(program: Command, context: ProgramContext): void {
  const command = program
    .command('rekey')
    .description('re-encrypt columns of a backup under a new key, offline, into a new backup')
    .argument('[backup-id]', 'the backup to re-encrypt (see `cassette list`)')
    .requiredOption('--config <file>', 'rotation config (YAML): tables, encrypted columns, provider and keys')
    .option('--dry-run', 'open every value and report, writing nothing')
    .option('--allow-failures <n>', 'values no key opens that are tolerated (quarantined) before the run fails with exit 7', '0')
    .option('--resume <new-backup-id>', 'finish an interrupted rekey: chunks it has finished are kept')
    .option('--rekey-id <new-backup-id>', 'a rekey shared by many workers: every worker runs the same command with this id for the new backup (UTC time + 6 hex digits, e.g. 20261204T120000Z-3fa9c1); the first creates it, the others join, ranges are claimed one by one')
    .option('--threads <n>', 'worker threads re-encrypting chunks (default: one per core)')
    .option('--json', 'print one JSON report on stdout at the end');
  addRepositoryFlags(command);
  addEncryptionFlags(command);
  addObservabilityFlags(command);
  command.action((backupId: string | undefined, flags: ParsedFlags) => withObservability(flags, context, 'rekey', async (observe) => {
    const config = await loadRotationConfig(stringFlag(flags, 'config') as string);
    const location = resolveRotationRepository(config, flags, context.env);
    const store = openRepository(location, observe.wrapStore);
    // Keys are loaded here first, so a missing or malformed key fails before anything is written.
    const cipher = await createCipher(config.provider, context.env);
    const threads = positiveInt(stringFlag(flags, 'threads'), '--threads', availableParallelism(), { max: 256 });
    const transformer = workerTransformer({ repositoryUrl: location.url, storeOptions: storeOptionsFor(location), cipher: config.provider, sealing: location.sealing }, threads);
    const json = flags.json === true;
    const resume = stringFlag(flags, 'resume');
    const rekeyId = stringFlag(flags, 'rekeyId');
    try {
      const report = await withRunLeases(store, 'rekey', context, (leases, signal) => runRekey({
        ...(backupId === undefined ? {} : { backupId }),
        ...(resume === undefined ? {} : { resume }),
        ...(rekeyId === undefined ? {} : { rekeyId }),
        config,
        dryRun: flags.dryRun === true,
        allowFailures: positiveInt(stringFlag(flags, 'allowFailures'), '--allow-failures', 0, { min: 0 }),
        retryForMs: location.retryForMs,
      }, {
        store, cipher, transformer,
        progress: observe.progress(json),
        signal,
        leases,
        now: Date.now,
        toolVersion: context.version,
        resumeHint: (id) => resumeCommand(context.argv, id),
        worker: { host: hostname(), pid: process.pid },
        isHolderAlive,
      }), { shared: rekeyId !== undefined });
      context.stdout(json ? `${JSON.stringify(report)}\n` : formatRekeyReport(report));
      if (report.valuesQuarantined > report.allowFailures) {
        throw new CassetteError('COMPLETED_WITH_ERRORS', `rekey finished, but ${report.valuesQuarantined} values open under no configured key (--allow-failures ${report.allowFailures})`, {
          hint: report.quarantineFolder === undefined
            ? 'the report lists them; check the keys in the config'
            : `they are left unchanged and listed under ${report.quarantineFolder} in ${report.repository}`,
        });
      }
    } finally {
      await transformer.close();
      cipher.close?.();
    }
  }));
}
