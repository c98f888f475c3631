// The pairs of the side-by-side benchmark. Each function runs one repetition of one pair (the two or
// three contenders back to back, the order alternating by repetition) and returns one measurement per
// contender: { wall, cpu, rssMiB, ...extra }.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENCRYPTED_COLUMNS, TABLE, createTable, countKeyVersions, generateRows, newFernetKey } from './dataset.mjs';
import { runMeasuredOk } from './measure.mjs';
import { DSBULK_MAIN } from './provision.mjs';

const HERE = new URL('.', import.meta.url).pathname;
const ordered = (run, contenders) => (run % 2 === 1 ? contenders : [...contenders].reverse());
const measure = (r, extra = {}) => ({ wall: r.wall, cpu: r.cpu, rssMiB: r.rssMiB, ...extra });

/** `java … DataStaxBulkLoader <args>`, measured. The driver sees only `keyspace`'s schema (see below). */
function dsbulk(ctx, keyspace, args, label) {
  // refreshed-keyspaces: dsbulk's java-driver 4.14 cannot parse `vector` columns; restricting schema
  // metadata to the benchmark's keyspace keeps other keyspaces of a shared node from breaking it.
  return runMeasuredOk('java', ['-Xmx2g', '-cp', join(ctx.dsbulkLib, '*'), DSBULK_MAIN, ...args,
    '-h', ctx.host, '-port', String(ctx.port), '--driver.basic.load-balancing-policy.local-datacenter', ctx.dc,
    '--datastax-java-driver.advanced.metadata.schema.refreshed-keyspaces', `["${keyspace}"]`,
    '--log.directory', join(ctx.work, 'dsbulk-logs')], { label, cwd: ctx.work });
}

const cassette = (ctx, args, label, env = process.env) => runMeasuredOk(ctx.cli, [...args, '--hosts', ctx.host, '--port', String(ctx.port), '--dc', ctx.dc, '--json'],
  { label, env, cwd: ctx.work });

/**
 * (a) export: `cassette backup` to a directory, dsbulk `unload` to gzip JSON with every cell's writetime
 * and TTL, and the driver-only read. Keeps the last cassette backup and dsbulk export for (b).
 */
export async function exportPair(ctx, run) {
  const out = {};
  for (const who of ordered(run, ['cassette', 'dsbulk', 'driver'])) {
    if (who === 'cassette') {
      rmSync(ctx.cassetteRepo, { recursive: true, force: true });
      const r = await cassette(ctx, ['backup', '--repo', ctx.cassetteRepo, '--keyspace', ctx.dataKeyspace, '--tables', TABLE], 'cassette backup');
      const report = JSON.parse(r.stdout);
      out.cassette = measure(r, { rows: report.totals?.rows ?? report.rows, backupId: report.backupId });
    } else if (who === 'dsbulk') {
      rmSync(ctx.dsbulkExport, { recursive: true, force: true });
      const r = await dsbulk(ctx, ctx.dataKeyspace, ['unload', '-k', ctx.dataKeyspace, '-t', TABLE, '-url', ctx.dsbulkExport, '-c', 'json',
        '--connector.json.compression', 'gzip', '--schema.preserveTimestamp', 'true', '--schema.preserveTtl', 'true'], 'dsbulk unload');
      out.dsbulk = measure(r, { files: readdirSync(ctx.dsbulkExport).length });
    } else {
      const r = await runMeasuredOk(process.execPath, [join(HERE, 'driver-read.mjs'), ctx.host, String(ctx.port), ctx.dc, ctx.dataKeyspace], { label: 'driver-only read' });
      out.driver = measure(r, { rows: JSON.parse(r.stdout).rows });
    }
  }
  return out;
}

/** (b) restore into fresh keyspaces: `cassette restore` (writetimes and TTLs kept) vs dsbulk `load` of its own export. */
export async function restorePair(ctx, run) {
  const out = {};
  for (const who of ordered(run, ['cassette', 'dsbulk'])) {
    const keyspace = `${ctx.keyspacePrefix}_restore_${who === 'cassette' ? 'c' : 'd'}`;
    await ctx.client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    if (who === 'cassette') {
      const r = await cassette(ctx, ['restore', ctx.backupId, '--repo', ctx.cassetteRepo, '--target-keyspace', keyspace,
        '--replication', '{"class":"SimpleStrategy","replication_factor":1}'], 'cassette restore');
      out.cassette = measure(r);
    } else {
      await createTable(ctx.client, keyspace);
      const r = await dsbulk(ctx, keyspace, ['load', '-k', keyspace, '-t', TABLE, '-url', ctx.dsbulkExport, '-c', 'json',
        '--connector.json.compression', 'gzip', '--schema.preserveTimestamp', 'true', '--schema.preserveTtl', 'true'], 'dsbulk load');
      out.dsbulk = measure(r);
    }
    out[who].rows = (await countKeyVersions(ctx.client, keyspace, 'v1')).rows; // paged: a count(*) can time out on a busy node
    await ctx.client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  }
  return out;
}

/** The rotation configs: one table, two Fernet columns, v1 → v2; each tool's own defaults otherwise. */
function rotateConfigs(ctx, keyspace) {
  const cluster = `cluster: {contact_points: ["${ctx.host}"], port: ${ctx.port}, local_dc: ${ctx.dc}, keyspace: ${keyspace}}`;
  const provider = 'provider: {type: fernet, old_key_env: BENCHP_OLD_KEY, new_key_env: BENCHP_NEW_KEY, old_key_version: v1, new_key_version: v2}';
  const table = (extra) => `tables:\n  - {name: ${TABLE}, partition_key: [id, shard], clustering_key: [at], encrypted_columns: [${ENCRYPTED_COLUMNS.join(', ')}], ${extra}}`;
  const cassetteFile = join(ctx.work, `rotate-cassette-${keyspace}.yaml`);
  const rekeyFile = join(ctx.work, `rotate-rekey-${keyspace}.yaml`);
  writeFileSync(cassetteFile, [cluster, `repo: ${join(ctx.work, 'rotate-repo')}`, 'key_version_column: key_version', provider,
    table('preserve_ttl: true, preserve_writetime: true, use_lwt_guard: false'), ''].join('\n'));
  writeFileSync(rekeyFile, [cluster, `state: {keyspace: ${ctx.rekeyStateKeyspace}}`, provider,
    table('preserve_ttl: false, preserve_writetime: true, use_lwt_guard: false'), ''].join('\n'));
  return { cassetteFile, rekeyFile };
}

/** cassandra-rekey's state keyspace, once: `init-state`, then RF 1 (its QUORUM cannot be met on one node otherwise). */
async function rekeyState(ctx, configFile, env) {
  if (ctx.rekeyStateReady) return;
  await runMeasuredOk(join(ctx.pythonBin, 'cassandra-rekey'), ['init-state', '--config', configFile], { env, label: 'cassandra-rekey init-state' });
  await ctx.client.execute(`ALTER KEYSPACE ${ctx.rekeyStateKeyspace} WITH replication = {'class': 'NetworkTopologyStrategy', '${ctx.dc}': 1}`);
  ctx.rekeyStateReady = true;
}

/**
 * (c) online rotation of `ctx.rotateRows` rows, each tool on a freshly generated table of the same
 * content: `cassette rotate` (timestamp guard) vs cassandra-rekey `run` (its `plan` is not timed).
 * Afterwards every row must hold key_version v2.
 */
export async function rotatePair(ctx, run) {
  const out = {};
  for (const who of ordered(run, ['cassette', 'cassandra-rekey'])) {
    const keyspace = `${ctx.keyspacePrefix}_rotate_${who === 'cassette' ? 'c' : 'k'}`;
    await ctx.client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await createTable(ctx.client, keyspace);
    const oldKey = newFernetKey();
    await generateRows(ctx.client, keyspace, ctx.rotateRows, oldKey, ctx.fernet);
    const env = { ...process.env, BENCHP_OLD_KEY: oldKey, BENCHP_NEW_KEY: newFernetKey() };
    const { cassetteFile, rekeyFile } = rotateConfigs(ctx, keyspace);
    let r;
    if (who === 'cassette') {
      rmSync(join(ctx.work, 'rotate-repo'), { recursive: true, force: true });
      r = await cassette(ctx, ['rotate', '--config', cassetteFile], 'cassette rotate', env);
    } else {
      await rekeyState(ctx, rekeyFile, env);
      const job = randomUUID();
      const bin = join(ctx.pythonBin, 'cassandra-rekey');
      await runMeasuredOk(bin, ['plan', '--config', rekeyFile, '--job-id', job], { env, label: 'cassandra-rekey plan' });
      r = await runMeasuredOk(bin, ['run', '--config', rekeyFile, '--job-id', job], { env, label: 'cassandra-rekey run' });
    }
    const left = await countKeyVersions(ctx.client, keyspace, 'v2');
    if (left.rows !== ctx.rotateRows || left.other !== 0) {
      throw new Error(`bench: after ${who}'s rotation ${keyspace} has ${left.rows} rows, ${left.other} of them not under v2`);
    }
    out[who] = measure(r, { rows: left.rows });
    await ctx.client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  }
  return out;
}

/** (d) the offline rekey transform: bench/rekey-transform.mjs with --threads 2, one run; values/s from its report. */
export async function rekeyTransform(ctx) {
  const dir = join(ctx.work, 'rekey-transform');
  mkdirSync(dir, { recursive: true });
  const r = await runMeasuredOk(process.execPath, [join(HERE, '..', 'rekey-transform.mjs'), '--rows', String(ctx.rekeyRows), '--threads', '2',
    '--runs', '1', '--dir', ctx.rekeyDir, '--no-wait', '--json'], { label: 'bench/rekey-transform.mjs' });
  const [result] = JSON.parse(r.stdout.trim().split('\n').at(-1));
  return { cassette: { wall: result.wall, cpu: result.cpu, rssMiB: result.peakRssMiB, valuesPerSecond: result.valuesPerSecond, values: result.values } };
}
