// scripts/services: provision, start, stop and report the real test services on loopback.
// Usage: scripts/services up [--secure] [--second] [--cluster] [--version 4.1] [--json] | down [service…] | status [--json] | env
//        | stop-node N [--graceful] | start-node N
import { CASSANDRA_PROFILES, CLUSTER_NODES, KMS, MINIO, ageBinary, kubeconformBinary, runDir } from './config.mjs';
import { cassandraSettings, clusterSettings, restartCassandra, restartNode, startCassandra, startCluster, stopNode } from './cassandra.mjs';
import { kmsSettings, restartKms, startKms } from './kms.mjs';
import { minioSettings, restartMinio, startMinio } from './minio.mjs';
import { ServiceError, portAnswers, runningPid, stopService } from './process.mjs';
import { findJava17, provisionAge, provisionCassandra, provisionKubeconform, provisionLocalKms, provisionMinio, requireOpenssl } from './provision.mjs';

const CLUSTER_NAMES = CLUSTER_NODES.map((n) => n.name);
const ALL = [MINIO.name, KMS.name, CASSANDRA_PROFILES.main.name, CASSANDRA_PROFILES.secure.name, CASSANDRA_PROFILES.second.name, CASSANDRA_PROFILES.c41.name, ...CLUSTER_NAMES];
const ALIASES = {
  secure: [CASSANDRA_PROFILES.secure.name], second: [CASSANDRA_PROFILES.second.name], main: [CASSANDRA_PROFILES.main.name], cluster: CLUSTER_NAMES,
  c41: [CASSANDRA_PROFILES.c41.name], 4.1: [CASSANDRA_PROFILES.c41.name], kms: [KMS.name],
};
/** `up --version V`: the extra single node of another Cassandra release. */
const VERSION_PROFILES = { 4.1: CASSANDRA_PROFILES.c41 };

const USAGE = `usage: scripts/services up [--secure] [--second] [--cluster] [--version 4.1] [--json]   start (provisioning on first use); prints export lines
       scripts/services down [minio|local-kms|cassandra|secure|second|c41|cluster …]   stop and delete data (all by default)
       scripts/services stop-node N [--graceful]   SIGKILL (or SIGTERM) node N (1-${CLUSTER_NODES.length}) of the cluster, keeping its data
       scripts/services start-node N               restart node N on its data; waits until it sees the other nodes
       scripts/services restart minio|local-kms|cassandra|second [--down S]   stop and start again keeping the data (and credentials, keys), S seconds down; waits until ready
       scripts/services status [--json]            what is running (exit 0 if the main services run, 3 if not)
       scripts/services env                        export lines for what is running
       scripts/services tool age|kubeconform       build the tool on first use (go install) and print its path`;

function profilesFor(flags, version) {
  const profiles = [CASSANDRA_PROFILES.main];
  if (flags.has('--secure')) profiles.push(CASSANDRA_PROFILES.secure);
  if (flags.has('--second')) profiles.push(CASSANDRA_PROFILES.second);
  if (version !== undefined) profiles.push(VERSION_PROFILES[version]);
  return profiles;
}

/**
 * `tool NAME`, built on first use: the age CLI the encrypted-backup tests decrypt objects with,
 * kubeconform the deploy tests validate the Kubernetes manifests with.
 */
const TOOLS = { age: [provisionAge, ageBinary], kubeconform: [provisionKubeconform, kubeconformBinary] };
function tool(name) {
  const entry = Object.hasOwn(TOOLS, name ?? '') ? TOOLS[name] : undefined;
  if (entry === undefined) throw new ServiceError(`unknown tool ${name ?? '(none)'}; the tools are: ${Object.keys(TOOLS).join(', ')}`);
  const [provision, binary] = entry;
  provision();
  process.stdout.write(`${binary}\n`);
  return 0;
}

function shellQuote(value) {
  return `'${String(value).replace(/'/g, `'\\''`)}'`;
}

/** Settings of every running service, as environment variables. */
async function runningSettings() {
  const env = {};
  if (runningPid(MINIO.name) !== undefined) Object.assign(env, minioSettings());
  if (runningPid(KMS.name) !== undefined) Object.assign(env, kmsSettings());
  for (const profile of Object.values(CASSANDRA_PROFILES)) {
    if (runningPid(profile.name) !== undefined) Object.assign(env, cassandraSettings(profile));
  }
  // The cluster's settings stay while any node runs: tests stop single nodes on purpose.
  if (CLUSTER_NODES.some((n) => runningPid(n.name) !== undefined)) Object.assign(env, clusterSettings(CLUSTER_NODES));
  return env;
}

function printSettings(env, started, json) {
  if (json) {
    process.stdout.write(`${JSON.stringify({ started, env })}\n`);
  } else {
    for (const [k, v] of Object.entries(env)) process.stdout.write(`export ${k}=${shellQuote(v)}\n`);
  }
}

async function up(flags, version) {
  const profiles = profilesFor(flags, version);
  // Check every prerequisite before starting anything.
  const java = findJava17();
  provisionCassandra(java);
  for (const profile of profiles) if (profile.release !== undefined) provisionCassandra(java, profile.release);
  provisionMinio();
  provisionLocalKms();
  provisionAge();
  if (profiles.some((p) => p.secure)) requireOpenssl();

  const started = [];
  const abort = async () => {
    for (const name of started.reverse()) await stopService(name, 10_000);
  };
  const onSignal = () => {
    process.stderr.write('services: interrupted; stopping what this run started\n');
    abort().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (await startMinio()) started.push(MINIO.name);
    started.push(KMS.name); // recorded first so a failed start is cleaned up too
    if (!(await startKms())) started.pop();
    // Start the Cassandra nodes one after another: on 2 cores, parallel start-ups only contend.
    for (const profile of profiles) {
      started.push(profile.name); // recorded first so a failed start is cleaned up too
      if (!(await startCassandra(profile, java))) started.pop();
    }
    if (flags.has('--cluster')) await startCluster(CLUSTER_NODES, java, (name) => started.push(name));
  } catch (err) {
    await abort();
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (started.length === 0) process.stderr.write('services: already running; nothing to do\n');
  printSettings(await runningSettings(), started, flags.has('--json'));
}

async function down(names) {
  const targets = names.length === 0 ? ALL : names.flatMap((n) => ALIASES[n] ?? [n]);
  for (const name of targets) {
    if (!ALL.includes(name)) throw new ServiceError(`unknown service "${name}"; known: minio, local-kms (kms), cassandra, secure, second, c41 (4.1), cluster, ${CLUSTER_NAMES.join(', ')}`);
  }
  for (const name of targets) {
    const was = await stopService(name);
    process.stderr.write(`services: ${name} ${was ? 'stopped' : 'was not running'}\n`);
  }
}

function clusterNode(text) {
  const node = CLUSTER_NODES.find((n) => String(n.node) === text);
  if (node === undefined) throw new ServiceError(`no cluster node "${text ?? ''}"; the cluster has nodes 1-${CLUSTER_NODES.length}`);
  return node;
}

async function stopClusterNode(text, flags) {
  const node = clusterNode(text);
  const was = await stopNode(node, { graceful: flags.has('--graceful') });
  process.stderr.write(`services: ${node.name} (${node.address}, ${node.dc}) ${was ? (flags.has('--graceful') ? 'stopped' : 'killed') : 'was not running'}; its data is kept\n`);
}

async function startClusterNode(text) {
  const node = clusterNode(text);
  const started = await restartNode(node, findJava17(), CLUSTER_NODES);
  if (!started) process.stderr.write(`services: ${node.name} already runs\n`);
}

/** Restarts one service on its data; `downSeconds` it stays down. */
async function restart(name, downSeconds) {
  const downMs = Math.round(Number(downSeconds ?? 0) * 1000);
  if (!Number.isFinite(downMs) || downMs < 0) throw new ServiceError(`--down takes seconds, not "${downSeconds}"`);
  let restarted;
  if (name === 'minio') restarted = await restartMinio(downMs);
  else if (name === KMS.name || name === 'kms') restarted = await restartKms(downMs);
  else if (name === 'cassandra' || name === 'main') restarted = await restartCassandra(CASSANDRA_PROFILES.main, findJava17(), downMs);
  else if (name === 'second') restarted = await restartCassandra(CASSANDRA_PROFILES.second, findJava17(), downMs);
  else throw new ServiceError(`cannot restart "${name}": restart takes minio, local-kms, cassandra or second (the secure node's certificates and role are made at start-up; use down and up)`);
  if (!restarted) throw new ServiceError(`${name} is not running (in ${runDir}); start it with \`scripts/services up\``);
  process.stderr.write(`services: ${name} restarted on its data\n`);
}

async function status(flags) {
  const rows = [];
  const endpoints = {
    [MINIO.name]: { host: '127.0.0.1', port: MINIO.api },
    [KMS.name]: { host: '127.0.0.1', port: KMS.port },
    ...Object.fromEntries(Object.values(CASSANDRA_PROFILES).map((p) => [p.name, { host: '127.0.0.1', port: p.native }])),
    ...Object.fromEntries(CLUSTER_NODES.map((n) => [n.name, { host: n.address, port: n.native }])),
  };
  for (const name of ALL) {
    const pid = runningPid(name);
    const { host, port } = endpoints[name];
    rows.push({ name, running: pid !== undefined, pid: pid ?? null, host, port, answering: pid !== undefined && (await portAnswers(port, host)) });
  }
  if (flags.has('--json')) {
    process.stdout.write(`${JSON.stringify({ runDir, services: rows })}\n`);
  } else {
    for (const r of rows) {
      const state = r.running ? `running (pid ${r.pid}, ${r.host}:${r.port}${r.answering ? '' : ', not answering yet'})` : 'stopped';
      process.stdout.write(`${r.name.padEnd(18)} ${state}\n`);
    }
  }
  const mainUp = rows.filter((r) => [MINIO.name, KMS.name, CASSANDRA_PROFILES.main.name].includes(r.name)).every((r) => r.running);
  return mainUp ? 0 : 3;
}

async function run(argv) {
  const [command, ...args] = argv;
  // `--version V` and `--down S` take a value; every other flag is a switch.
  const downAt = args.indexOf('--down');
  const downSeconds = downAt === -1 ? undefined : args[downAt + 1];
  const withoutDown = downAt === -1 ? args : [...args.slice(0, downAt), ...args.slice(downAt + 2)];
  const at = withoutDown.indexOf('--version');
  const version = at === -1 ? undefined : withoutDown[at + 1];
  const rest = at === -1 ? withoutDown : [...withoutDown.slice(0, at), ...withoutDown.slice(at + 2)];
  const flags = new Set(rest.filter((a) => a.startsWith('--')));
  if (at !== -1) flags.add('--version');
  if (downAt !== -1) flags.add('--down');
  const names = rest.filter((a) => !a.startsWith('--'));
  const known = { up: ['--secure', '--second', '--cluster', '--version', '--json'], down: [], status: ['--json'], env: [], 'stop-node': ['--graceful'], 'start-node': [], restart: ['--down'], tool: [] };
  if (at !== -1 && !(version in VERSION_PROFILES)) {
    process.stderr.write(`services: --version takes one of ${Object.keys(VERSION_PROFILES).join(', ')} (5.0 always runs)\n${USAGE}\n`);
    return 2;
  }
  const takesNames = { down: true, 'stop-node': true, 'start-node': true, restart: true, tool: true };
  if (!command || !(command in known) || [...flags].some((f) => !known[command].includes(f)) || (!takesNames[command] && names.length > 0)
    || ((command.endsWith('-node') || command === 'restart' || command === 'tool') && names.length !== 1)) {
    process.stderr.write(`${USAGE}\n`);
    return command === undefined || command === '--help' || command === '-h' ? 0 : 2;
  }
  switch (command) {
    case 'up': await up(flags, version); return 0;
    case 'down': await down(names); return 0;
    case 'status': return status(flags);
    case 'env': printSettings(await runningSettings(), [], false); return 0;
    case 'stop-node': await stopClusterNode(names[0], flags); return 0;
    case 'start-node': await startClusterNode(names[0]); return 0;
    case 'restart': await restart(names[0], downSeconds); return 0;
    case 'tool': return tool(names[0]);
  }
  return 2;
}

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (err) {
  if (err instanceof ServiceError) {
    process.stderr.write(`services: ${err.message}\n`);
  } else {
    process.stderr.write(`services: unexpected failure: ${err?.stack ?? err}\n`);
  }
  process.exitCode = 1;
}
