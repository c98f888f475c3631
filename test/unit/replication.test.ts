/**
 * Restoring across topologies, the pure parts: `--dc-map` parsing (USAGE), renaming the
 * datacenters of a NetworkTopologyStrategy replication (larger factor wins, refusals for
 * SimpleStrategy and unknown source datacenters), the fit check against a target's nodes, and the
 * replication a schema plan reports.
 */
import { describe, expect, it } from 'vitest';
import { parseDcMap } from '../../src/cli/subcommands/restore.js';
import { planSchema } from '../../src/cassandra/schema/plan.js';
import {
  describeReplication, renameDatacenters, replicaCount, requireReplicationFits,
} from '../../src/cassandra/schema/replication.js';
import { keyspaceSchema, tableSchema } from '../support/synthetic-backup.js';
import { thrown } from '../support/thrown.js';

const NTS = 'org.apache.cassandra.locator.NetworkTopologyStrategy';
const SOURCE = { class: NTS, dc1: '3', dc2: '1' };
const dcs = (spec: Record<string, number>): { datacenter: string }[] =>
  Object.entries(spec).flatMap(([datacenter, n]) => Array.from({ length: n }, () => ({ datacenter })));

describe('--dc-map parsing', () => {
  it('reads SRC:DST pairs, trimming blanks', () => {
    expect([...parseDcMap('dc1:datacenter1, dc2 : datacenter1')]).toEqual([['dc1', 'datacenter1'], ['dc2', 'datacenter1']]);
    expect([...parseDcMap('a:b')]).toEqual([['a', 'b']]);
  });

  it.each([
    ['', /must list SRC:DST pairs/],
    [' , ', /must list SRC:DST pairs/],
    ['dc1', /entry "dc1" is not SRC:DST/],
    ['dc1:', /entry "dc1:" is not SRC:DST/],
    [':dc1', /entry ":dc1" is not SRC:DST/],
    ['dc1:a:b', /entry "dc1:a:b" is not SRC:DST/],
    ['dc1:a,', /entry "" is not SRC:DST/],
    ['dc1:class', /is not SRC:DST/],
    ['dc1:a,dc1:b', /maps datacenter "dc1" twice/],
  ])('refuses %j with a usage error (exit 2)', (value, message) => {
    const err = thrown(() => parseDcMap(value));
    expect(err.code).toBe('USAGE');
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('\n');
  });
});

describe('renaming datacenters', () => {
  it('renames the datacenters the map names and keeps the others', () => {
    expect(renameDatacenters(SOURCE, new Map([['dc1', 'east']]), 'x')).toEqual({ class: NTS, east: '3', dc2: '1' });
  });

  it('merges datacenters mapped to one name: the larger factor wins, in either order', () => {
    expect(renameDatacenters(SOURCE, new Map([['dc1', 'datacenter1'], ['dc2', 'datacenter1']]), 'x')).toEqual({ class: NTS, datacenter1: '3' });
    expect(renameDatacenters({ class: NTS, a: '1', b: '5' }, new Map([['a', 'z'], ['b', 'z']]), 'x')).toEqual({ class: NTS, z: '5' });
    expect(renameDatacenters({ class: NTS, a: '2', b: '2/1' }, new Map([['b', 'a']]), 'x')).toEqual({ class: NTS, a: '2' });
    // A datacenter renamed onto one that is not renamed merges with it too.
    expect(renameDatacenters({ class: NTS, dc1: '3', dc2: '1' }, new Map([['dc2', 'dc1']]), 'x')).toEqual({ class: NTS, dc1: '3' });
  });

  it('keeps a NetworkTopologyStrategy default replication_factor as it is', () => {
    expect(renameDatacenters({ class: 'NetworkTopologyStrategy', replication_factor: '2', dc1: '3' }, new Map([['dc1', 'x']]), 'x'))
      .toEqual({ class: 'NetworkTopologyStrategy', replication_factor: '2', x: '3' });
  });

  it('refuses a SimpleStrategy replication (exit 3), naming it', () => {
    const err = thrown(() => renameDatacenters({ class: 'org.apache.cassandra.locator.SimpleStrategy', replication_factor: '1' }, new Map([['dc1', 'a']]), "the backup's replication"));
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.exitCode).toBe(3);
    expect(err.message).toBe(`--dc-map renames the datacenters of a NetworkTopologyStrategy replication, but the backup's replication is {"class":"SimpleStrategy","replication_factor":"1"}`);
    expect(err.hint).toMatch(/--replication/);
  });

  it('refuses source datacenters the replication does not name, listing the ones it does', () => {
    const err = thrown(() => renameDatacenters(SOURCE, new Map([['dc1', 'a'], ['dc3', 'a'], ['east', 'b']]), 'the --replication override'));
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.message).toBe(`--dc-map names datacenter "dc3", "east", which the --replication override {"class":"NetworkTopologyStrategy","dc1":"3","dc2":"1"} does not name`);
    expect(err.hint).toBe('map its datacenters: dc1, dc2');
  });

  it('accepts, for an override, source datacenters the backup\'s replication names (and renames only the override\'s)', () => {
    const backup = { replication: SOURCE, what: "the backup's replication" };
    const override = { class: NTS, datacenter1: '1' };
    expect(renameDatacenters(override, new Map([['dc1', 'datacenter1'], ['dc2', 'datacenter1']]), 'the --replication override', backup)).toEqual(override);
    expect(renameDatacenters({ class: NTS, dc1: '1', dc2: '2' }, new Map([['dc1', 'x'], ['dc2', 'x']]), 'the --replication override', backup)).toEqual({ class: NTS, x: '2' });
    const err = thrown(() => renameDatacenters(override, new Map([['dc3', 'x']]), 'the --replication override', backup));
    expect(err.message).toMatch(/^--dc-map names datacenter "dc3", which neither the --replication override .* nor the backup's replication .* names$/);
    expect(err.hint).toBe('map its datacenters: datacenter1, dc1, dc2');
    // A SimpleStrategy backup adds no names.
    const simple = { replication: { class: 'SimpleStrategy', replication_factor: '1' }, what: "the backup's replication" };
    expect(thrown(() => renameDatacenters(override, new Map([['dc1', 'x']]), 'the --replication override', simple)).hint).toBe('map its datacenters: datacenter1');
  });
});

describe('a replication against the target topology', () => {
  it('accepts factors up to the nodes of each named datacenter', () => {
    expect(() => requireReplicationFits(SOURCE, dcs({ dc1: 3, dc2: 1 }), 'x')).not.toThrow();
    expect(() => requireReplicationFits({ class: NTS, dc1: '2' }, dcs({ dc1: 3, dc2: 1 }), 'x')).not.toThrow();
    expect(() => requireReplicationFits({ class: 'SimpleStrategy', replication_factor: '1' }, dcs({ datacenter1: 1 }), 'x')).not.toThrow();
    expect(() => requireReplicationFits({ class: NTS, datacenter1: '0' }, dcs({ datacenter1: 1 }), 'x')).not.toThrow();
  });

  it('refuses a datacenter the target does not have, and a factor above a datacenter\'s nodes, in one line', () => {
    const err = thrown(() => requireReplicationFits(SOURCE, dcs({ datacenter1: 1 }), "the backup's replication"));
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.message).toBe(`the keyspace cannot be created with the backup's replication {"class":"NetworkTopologyStrategy","dc1":"3","dc2":"1"}: `
      + 'datacenter "dc1" is not in the target cluster; datacenter "dc2" is not in the target cluster; the target has datacenter1 (1 node)');
    expect(err.hint).toBe(`give a replication the target can hold with --replication '{"class":"NetworkTopologyStrategy","datacenter1":"1"}', `
      + 'or rename the datacenters with --dc-map dc1:datacenter1,dc2:datacenter1');
    const tooMany = thrown(() => requireReplicationFits({ class: NTS, datacenter1: '3' }, dcs({ datacenter1: 1 }), 'the --replication override'));
    expect(tooMany.message).toMatch(/replication factor 3 in datacenter "datacenter1" is more than its 1 node \(every LOCAL_QUORUM write would fail\)/);
    expect(tooMany.message).not.toContain('\n');
    const twoDcs = thrown(() => requireReplicationFits({ class: NTS, east: '3' }, dcs({ dc1: 4, dc2: 1 }), 'x'));
    expect(twoDcs.hint).toBe(`give a replication the target can hold with --replication '{"class":"NetworkTopologyStrategy","dc1":"3","dc2":"1"}', `
      + 'or rename the datacenters with --dc-map SRC:DST');
  });

  it('counts a transient factor by its full replicas, and applies a default replication_factor to every datacenter', () => {
    expect(() => requireReplicationFits({ class: NTS, dc1: '3/1' }, dcs({ dc1: 3 }), 'x')).not.toThrow();
    expect(thrown(() => requireReplicationFits({ class: NTS, dc1: '4/1' }, dcs({ dc1: 3 }), 'x')).message).toMatch(/factor 4 in datacenter "dc1" is more than its 3 nodes/);
    expect(thrown(() => requireReplicationFits({ class: NTS, replication_factor: '2', dc1: '3' }, dcs({ dc1: 3, dc2: 1 }), 'x')).message)
      .toMatch(/factor 2 in datacenter "dc2" is more than its 1 node/);
  });

  it('refuses a SimpleStrategy factor above the cluster\'s nodes', () => {
    expect(thrown(() => requireReplicationFits({ class: 'SimpleStrategy', replication_factor: '3' }, dcs({ datacenter1: 1 }), 'x')).message)
      .toMatch(/replication factor 3 is more than the cluster's 1 node/);
    expect(() => requireReplicationFits({ class: 'SimpleStrategy', replication_factor: '3' }, dcs({ dc1: 3, dc2: 1 }), 'x')).not.toThrow();
  });

  it('says nothing when the topology is unknown or the strategy is another', () => {
    expect(() => requireReplicationFits(SOURCE, [], 'x')).not.toThrow();
    expect(() => requireReplicationFits({ class: 'LocalStrategy' }, dcs({ dc1: 1 }), 'x')).not.toThrow();
  });

  it('reads factors and describes maps', () => {
    expect([replicaCount('3'), replicaCount('3/1'), replicaCount(' 2 '), replicaCount('x'), replicaCount('')]).toEqual([3, 3, 2, undefined, undefined]);
    expect(describeReplication({ class: NTS, dc1: '3' })).toBe('{"class":"NetworkTopologyStrategy","dc1":"3"}');
  });
});

describe('the replication a schema plan reports', () => {
  const source = { ...keyspaceSchema('ks', [tableSchema('t', [['id', 'int', 'partition_key'], ['v', 'text', 'regular']])]), replication: SOURCE };

  it('is the one a created keyspace gets (the override, when given)', () => {
    expect(planSchema(source, undefined, { tables: [] }).replication).toEqual({ created: true, map: SOURCE });
    const override = { class: NTS, datacenter1: '1' };
    const plan = planSchema(source, undefined, { tables: [], replication: override });
    expect(plan.replication).toEqual({ created: true, map: override });
    expect(plan.statements[0]).toMatch(/^CREATE KEYSPACE ks WITH replication = \{'class': 'org.apache.cassandra.locator.NetworkTopologyStrategy', 'datacenter1': '1'\}/);
  });

  it('is the existing keyspace\'s own when the keyspace exists (the override is only noted)', () => {
    const existing = { ...source, replication: { class: NTS, datacenter1: '1' } };
    const plan = planSchema(source, existing, { tables: [], replication: { class: NTS, east: '3' } });
    expect(plan.replication).toEqual({ created: false, map: existing.replication });
    expect(plan.notes.join('\n')).toMatch(/the override .* is not applied/);
  });
});
