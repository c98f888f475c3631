/**
 * The 4-node, two-datacenter test cluster (`scripts/services up --cluster`): clients, node
 * addresses, and stopping/starting single nodes through scripts/services (SIGKILL by default).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import cassandra from 'cassandra-driver';
import type { ClusterSettings } from './settings.js';

const servicesScript = fileURLToPath(new URL('../../scripts/services', import.meta.url));

/**
 * A plain client of the cluster with `dc` (dc1 by default) as its local datacenter, writing and
 * reading at LOCAL_QUORUM like cassette (the driver's LOCAL_ONE would let a test's seed writes be
 * invisible to a LOCAL_QUORUM read right after a node restart). Callers shut it down.
 */
export function clusterClient(settings: ClusterSettings, options: { dc?: string; keyspace?: string } = {}): cassandra.Client {
  return new cassandra.Client({
    contactPoints: settings.hosts.map((h) => `${h}:${settings.port}`),
    // Peers found through system.peers get this port, not the driver's 9042: with a port offset the
    // addresses 127.0.0.2-5 also answer on 9042 — another cluster.
    protocolOptions: { port: settings.port },
    localDataCenter: options.dc ?? settings.dc,
    queryOptions: { consistency: cassandra.types.consistencies.localQuorum },
    ...(options.keyspace === undefined ? {} : { keyspace: options.keyspace }),
  });
}

/** The address of node `n` (1-based, as `scripts/services stop-node N` counts). */
export function nodeAddress(settings: ClusterSettings, n: number): string {
  const host = settings.hosts[n - 1];
  if (host === undefined) throw new Error(`the cluster has no node ${n}`);
  return host;
}

function services(args: readonly string[]): void {
  const result = spawnSync(servicesScript, args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (result.status !== 0) throw new Error(`scripts/services ${args.join(' ')} failed (exit ${result.status}): ${result.stderr}`);
}

/** SIGKILLs node `n` (its data stays). */
export function killNode(n: number): void {
  services(['stop-node', String(n)]);
}

/** Restarts node `n` on its data; returns once every other running node sees it up. */
export function startNode(n: number): void {
  services(['start-node', String(n)]);
}

/**
 * Polls until `client` sees exactly the nodes in `up` as up (addresses without port), so a test
 * does not start before the driver has noticed a kill or a restart. Only the nodes the driver
 * holds connections to are compared: it learns about the others (remote datacenters, distance
 * `ignored`) from gossip events alone, which a busy control connection may deliver late or not at
 * all; tests that need a remote node down wait for the coordinators' own view instead.
 */
export async function waitForHostsUp(client: cassandra.Client, up: readonly string[], timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const address = (h: cassandra.Host): string => h.address.split(':')[0] ?? h.address;
  // The driver's typings leave out `options`, which every Client has (the options it was built with, defaults filled in).
  const { options } = client as unknown as { options: { policies?: { loadBalancing?: { getDistance(host: cassandra.Host): number } } } };
  const policy = options.policies?.loadBalancing;
  const connected = (h: cassandra.Host): boolean => policy === undefined || policy.getDistance(h) !== cassandra.types.distance.ignored;
  for (;;) {
    const hosts = client.hosts.values();
    const ignored = new Set(hosts.filter((h) => !connected(h)).map(address));
    const seen = hosts.filter((h) => connected(h) && h.isUp()).map(address).sort();
    const wanted = up.filter((a) => !ignored.has(a)).sort();
    if (JSON.stringify(seen) === JSON.stringify(wanted)) return;
    if (Date.now() > deadline) throw new Error(`the driver sees ${seen.join(', ')} up, not ${wanted.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
