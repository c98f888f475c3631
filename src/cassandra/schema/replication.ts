/**
 * A keyspace's replication map across topologies, pure: renaming the datacenters of a
 * NetworkTopologyStrategy map (`restore --dc-map`), and checking that a replication fits a
 * target cluster's datacenters before a keyspace is created with it.
 *
 * A replication map is what `system_schema.keyspaces.replication` holds: `class`, and per
 * strategy its options — `replication_factor` for SimpleStrategy, one factor per datacenter for
 * NetworkTopologyStrategy (a factor may be `3/1`: three replicas, one of them transient).
 */
import { CassetteError } from '../../errors.js';

/** A replication map: `class` and the strategy's options, all strings. */
export type Replication = Readonly<Record<string, string>>;

/** What the fit check needs to know of a node. */
export interface PlacedNode {
  readonly datacenter: string;
}

const CLASS_PREFIX = /^org\.apache\.cassandra\.locator\./;

/** `SimpleStrategy`, `NetworkTopologyStrategy`, … without the package. */
export function strategyOf(replication: Replication): string {
  return (replication['class'] ?? '').replace(CLASS_PREFIX, '');
}

/** `{"class":"NetworkTopologyStrategy","dc1":"3"}`: the map as JSON, the class without its package. */
export function describeReplication(replication: Replication): string {
  const { class: cls, ...options } = replication;
  return JSON.stringify({ class: (cls ?? '').replace(CLASS_PREFIX, ''), ...options });
}

/** The datacenters a NetworkTopologyStrategy map names, in its order (not `class`, not a default `replication_factor`). */
export function datacentersOf(replication: Replication): string[] {
  return Object.keys(replication).filter((key) => key !== 'class' && key !== 'replication_factor');
}

/** The full replica count of a factor: `3` and `3/1` are 3; undefined when it is not a factor. */
export function replicaCount(factor: string): number | undefined {
  const m = /^\s*(\d+)\s*(?:\/\s*\d+\s*)?$/.exec(factor);
  return m === null ? undefined : Number(m[1]);
}

/**
 * `replication` with its datacenters renamed by `dcMap` (source → target; datacenters the map
 * does not name keep their name). When two datacenters end up with one name, the larger factor
 * wins. `what` names the map in messages ("the backup's replication").
 *
 * Throws INVALID_INPUT when the strategy is not NetworkTopologyStrategy (a SimpleStrategy map
 * has no datacenters to rename) or when the map names a source datacenter that neither the
 * replication nor `source` (the backup's replication, when `replication` is an override given in
 * the target's terms) names.
 */
export function renameDatacenters(replication: Replication, dcMap: ReadonlyMap<string, string>, what: string, source?: { readonly replication: Replication; readonly what: string }): Replication {
  const strategy = strategyOf(replication);
  if (strategy !== 'NetworkTopologyStrategy') {
    throw new CassetteError('INVALID_INPUT', `--dc-map renames the datacenters of a NetworkTopologyStrategy replication, but ${what} is ${describeReplication(replication)}`, {
      hint: 'drop --dc-map, or give a NetworkTopologyStrategy replication with --replication, e.g. {"class":"NetworkTopologyStrategy","dc1":"3"}',
    });
  }
  const named = datacentersOf(replication);
  const fromSource = source !== undefined && strategyOf(source.replication) === 'NetworkTopologyStrategy' ? datacentersOf(source.replication) : [];
  const known = [...new Set([...named, ...fromSource])];
  const unknown = [...dcMap.keys()].filter((dc) => !known.includes(dc));
  if (unknown.length > 0) {
    const which = source === undefined ? `${what} ${describeReplication(replication)} does not name`
      : `neither ${what} ${describeReplication(replication)} nor ${source.what} ${describeReplication(source.replication)} names`;
    throw new CassetteError('INVALID_INPUT', `--dc-map names datacenter ${unknown.map((dc) => `"${dc}"`).join(', ')}, which ${which}`, {
      hint: known.length === 0 ? 'the replication names no datacenter' : `map its datacenters: ${known.join(', ')}`,
    });
  }
  const renamed: Record<string, string> = {};
  for (const [key, value] of Object.entries(replication)) {
    const name = named.includes(key) ? (dcMap.get(key) ?? key) : key;
    const before = renamed[name];
    if (before === undefined || (replicaCount(value) ?? 0) > (replicaCount(before) ?? 0)) renamed[name] = value;
  }
  return renamed;
}

/**
 * Refuses (INVALID_INPUT) a replication a keyspace cannot be created with in a cluster of
 * `nodes`: a NetworkTopologyStrategy datacenter the cluster does not have, or a factor above the
 * nodes of its datacenter (SimpleStrategy: above the cluster's nodes) — Cassandra would place
 * fewer replicas than the factor, so every QUORUM or LOCAL_QUORUM write would fail as
 * unavailable. Says nothing when `nodes` is empty (the topology is unknown) or for other
 * strategies. `what` names the map in messages.
 */
export function requireReplicationFits(replication: Replication, nodes: readonly PlacedNode[], what: string): void {
  if (nodes.length === 0) return;
  const perDc = new Map<string, number>();
  for (const node of nodes) perDc.set(node.datacenter, (perDc.get(node.datacenter) ?? 0) + 1);
  const have = [...perDc].sort(([a], [b]) => a.localeCompare(b)).map(([dc, n]) => `${dc} (${n} node${n === 1 ? '' : 's'})`).join(', ');
  const problems: string[] = [];
  const missing: string[] = [];
  const strategy = strategyOf(replication);
  if (strategy === 'SimpleStrategy') {
    const factor = replicaCount(replication['replication_factor'] ?? '');
    if (factor !== undefined && factor > nodes.length) problems.push(`replication factor ${factor} is more than the cluster's ${nodes.length} node${nodes.length === 1 ? '' : 's'} (every QUORUM write would fail)`);
  } else if (strategy === 'NetworkTopologyStrategy') {
    const wanted = datacentersOf(replication).map((dc) => [dc, replication[dc] ?? ''] as const);
    const fallback = replication['replication_factor'];
    // NetworkTopologyStrategy's `replication_factor` applies to every datacenter not named.
    if (fallback !== undefined) for (const dc of perDc.keys()) if (replication[dc] === undefined) wanted.push([dc, fallback]);
    for (const [dc, value] of wanted) {
      const factor = replicaCount(value);
      const count = perDc.get(dc);
      if (count === undefined) {
        problems.push(`datacenter "${dc}" is not in the target cluster`);
        missing.push(dc);
      }
      else if (factor !== undefined && factor > count) problems.push(`replication factor ${factor} in datacenter "${dc}" is more than its ${count} node${count === 1 ? '' : 's'} (every LOCAL_QUORUM write would fail)`);
    }
  }
  if (problems.length === 0) return;
  // Suggestions from the target itself: a factor of up to 3 in each of its datacenters, and a
  // datacenter map onto its only datacenter when it has one.
  const fitting = Object.fromEntries([...perDc].sort(([a], [b]) => a.localeCompare(b)).map(([dc, n]) => [dc, String(Math.min(3, n))]));
  const onto = perDc.size === 1 && missing.length > 0 ? missing.map((dc) => `${dc}:${[...perDc.keys()][0] as string}`).join(',') : 'SRC:DST';
  throw new CassetteError('INVALID_INPUT', `the keyspace cannot be created with ${what} ${describeReplication(replication)}: ${problems.join('; ')}; the target has ${have}`, {
    hint: `give a replication the target can hold with --replication '${JSON.stringify({ class: 'NetworkTopologyStrategy', ...fitting })}', `
      + `or rename the datacenters with --dc-map ${onto}`,
  });
}

/**
 * The replication a created keyspace gets instead of the backup's: `--replication`, with its
 * datacenters renamed by `--dc-map` (or the backup's, renamed); undefined when neither is given.
 * `what` names it in messages.
 */
export function replicationOverride(
  request: { readonly replication?: Replication; readonly dcMap?: ReadonlyMap<string, string> },
  schema: { readonly replication: Replication },
): { replication: Replication; what: string } | undefined {
  if (request.dcMap === undefined) return request.replication === undefined ? undefined : { replication: request.replication, what: 'the --replication override' };
  if (request.replication === undefined) {
    return { replication: renameDatacenters(schema.replication, request.dcMap, "the backup's replication"), what: "the backup's replication renamed by --dc-map" };
  }
  // The map's source datacenters may be the backup's (the override is then in the target's terms already).
  const source = { replication: schema.replication, what: "the backup's replication" };
  return { replication: renameDatacenters(request.replication, request.dcMap, 'the --replication override', source), what: 'the --replication override renamed by --dc-map' };
}
