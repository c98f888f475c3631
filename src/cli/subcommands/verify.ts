/** commander wiring of `cassette verify`. */
import type { Command } from 'commander';
import { formatBytes } from '../../commands/list.js';
import { runVerify, type VerifyReport } from '../../commands/verify/verify.js';
import { loadRotationConfig } from '../../config/rotation-config.js';
import { createCipher } from '../../crypto/registry.js';
import { CassetteError } from '../../errors.js';
import { parseDataSubset } from '../../pipeline/check/chunk-subset.js';
import { openRepository, openStoredObjects } from '../compose.js';
import type { ProgramContext } from '../context.js';
import { addObservabilityFlags, withObservability } from '../observe/observability.js';
import { resolveRotationRepository } from '../rotation-flags.js';
import { addRepositoryFlags, positiveInt, resolveRepository, stringFlag, type ParsedFlags } from '../shared-flags.js';

const n = (value: number): string => value.toLocaleString('en-US');

/** The text report: a summary line, then every damaged object with what is wrong with it. */
export function formatVerifyReport(r: VerifyReport): string {
  const stored = r.encryption !== undefined && !r.encryption.contentsChecked;
  const lines = [
    `backup ${r.backupId} in ${r.repository}: ${r.ok ? 'OK' : `DAMAGED, ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}`}`,
    ...(r.encryption === undefined ? [] : [`encrypted with age to ${r.encryption.recipients.length} recipient${r.encryption.recipients.length === 1 ? '' : 's'}: ` +
      (stored ? 'no identity given, so only the stored objects were checked (presence, sizes, SHA-256 against index.json); give --identity to check the contents' : 'contents decrypted and checked, and the stored objects against index.json')]),
    stored
      ? `stored objects: ${n(r.objects)} in the folder, ${n(r.chunks)} chunks (${n(r.tables)} tables, ${n(r.rows)} rows, ${formatBytes(r.bytes)} by the index)`
      : `structure: backup.json, manifest, ${n(r.ranges)} range markers, ${n(r.chunks)} chunks' presence and sizes (${n(r.tables)} tables, ${n(r.rows)} rows, ${formatBytes(r.bytes)} by the manifest)`,
    `data read (subset ${r.dataSubset}): ${n(r.chunksRead)} chunks, ${stored ? 'stored SHA-256 checked' : `${n(r.rowsRead)} rows`}, ${formatBytes(r.bytesRead)} in ${(r.durationMs / 1000).toFixed(1)} s`,
  ];
  if (r.tokenCheckSkipped.length > 0) lines.push(`note: row tokens not checked for ${r.tokenCheckSkipped.join(', ')} (partition key type not covered)`);
  if (r.rekeySample !== undefined) {
    lines.push(`rekey sample: ${n(r.rekeySample.valuesOpened)} values opened with key version ${r.rekeySample.newKeyVersion}, ${n(r.rekeySample.valuesNotOpened)} did not` +
      (r.rekeySample.valuesQuarantined > 0 ? `, ${n(r.rekeySample.valuesQuarantined)} quarantined by the rekey (no key opened them)` : ''));
  }
  if (r.unreferenced.length > 0) {
    lines.push(`note: ${n(r.unreferenced.length)} unreferenced objects under data/ (${formatBytes(r.unreferenced.reduce((s, u) => s + u.size, 0))}): chunks of abandoned attempts, not damage`);
  }
  for (const p of r.problems) lines.push(`  ${p.key}: ${p.problem}`);
  return `${lines.join('\n')}\n`;
}

export function registerVerify(program: Command, context: ProgramContext): void {
  const command = program
    .command('verify')
    .description("check a backup: manifest, markers, every chunk's presence and size, and its data (checksums, rows, types, tokens)")
    .argument('<backup-id>', 'the backup to check (see `cassette list`)')
    .option('--read-data-subset <subset>', 'read only part of the chunks: 10% or n/m (a deterministic choice by chunk key); all or 0', 'all')
    .option('--no-read-data', 'read no chunk data: check presence and sizes only (same as --read-data-subset 0)')
    .option('--parallel <n>', 'chunks read at once', '4')
    .option('--config <file>', 'a rekeyed backup\'s rotation config: open a sample of its values with the new key')
    .option('--json', 'print one JSON report on stdout at the end');
  addRepositoryFlags(command);
  addObservabilityFlags(command);
  command.action((backupId: string, flags: ParsedFlags) => withObservability(flags, context, 'verify', async (observe) => {
    observe.setJob(backupId);
    const subset = flags.readData === false ? parseDataSubset('0') : parseDataSubset(stringFlag(flags, 'readDataSubset') ?? 'all');
    const parallel = positiveInt(stringFlag(flags, 'parallel'), '--parallel', 4, { max: 64 });
    const configFile = stringFlag(flags, 'config');
    const config = configFile === undefined ? undefined : await loadRotationConfig(configFile);
    const location = config === undefined ? resolveRepository(flags, context.env) : resolveRotationRepository(config, flags, context.env);
    const store = openRepository(location, observe.wrapStore);
    const cipher = config === undefined ? undefined : await createCipher(config.provider, context.env);
    const json = flags.json === true;
    const report = await runVerify({ backupId, subset, parallel, canDecrypt: location.sealing.identities !== undefined || location.sealing.passphrase !== undefined, ...(config === undefined ? {} : { config }) }, {
      store,
      storedObjects: openStoredObjects(location),
      ...(cipher === undefined ? {} : { cipher }),
      progress: observe.progress(json),
      signal: context.signal,
      now: Date.now,
    }).finally(() => cipher?.close?.());
    context.stdout(json ? `${JSON.stringify(report)}\n` : formatVerifyReport(report));
    if (!report.ok) {
      const first = report.problems[0];
      throw new CassetteError('BACKUP_DAMAGED', `backup ${backupId} is damaged: ${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}${first === undefined ? '' : ` (first: ${first.key}: ${first.problem})`}`, {
        hint: 'restore from another backup, and take a new backup; the report lists every damaged object',
      });
    }
  }));
}
