/**
 * The rotation config (`--config`): cassandra-rekey's config.yaml verbatim, cassette's additions,
 * every error (file:line:col, path, what was expected), refusals of secrets in the file, relative
 * paths, and how flags, environment and the file combine into a connection and a repository.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveRotationConnection, resolveRotationRepository } from '../../src/cli/rotation-flags.js';
import { loadRotationConfig, parseRotationConfig } from '../../src/config/rotation-config.js';
import type { RotationConfig, TableRotation } from '../../src/config/rotation-types.js';
import { tableLevels } from '../../src/config/table-settings.js';
import { CassetteError } from '../../src/errors.js';

const FILE = '/etc/cassette/rekey.yaml';

/** cassandra-rekey's README example, as its README shows it. */
const REKEY_EXAMPLE = `cluster: {contact_points: [cass-1, cass-2], port: 9042, local_dc: dc1, keyspace: app_data}
state: {keyspace: rekey_meta}
provider: {type: fernet, old_key_env: REKEY_OLD_KEY, new_key_env: REKEY_NEW_KEY}
tables:
  - name: users
    partition_key: [tenant_id, user_id]
    clustering_key: [event_time]
    encrypted_columns: [ssn, email]
    chunks: 256
    preserve_ttl: true
    preserve_writetime: true
    use_lwt_guard: true
    consistency: {read: LOCAL_QUORUM, write: LOCAL_QUORUM}
  - name: accounts
    partition_key: [account_id]
    encrypted_columns: [account_number]
    chunks: 1024
execution: {workers: 16, read_p99_threshold_ms: 50, pause_on_backpressure: true}
`;

/** The smallest valid config, with the given provider and tables blocks. */
function minimal({ provider = 'provider: {type: fernet, old_key_env: OLD, new_key_env: NEW}', tables = 'tables: [{name: t, encrypted_columns: [c]}]', extra = '' } = {}): string {
  return `cluster: {keyspace: ks}\n${provider}\n${tables}\n${extra}`;
}

function parse(text: string, file = FILE): RotationConfig {
  return parseRotationConfig(text, file);
}

/** The CassetteError parsing throws (fails the test when it does not throw). */
function failure(text: string, file = 'rekey.yaml'): CassetteError {
  try {
    parseRotationConfig(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(CassetteError);
    expect((err as CassetteError).code).toBe('INVALID_INPUT');
    return err as CassetteError;
  }
  throw new Error('expected the config to be refused');
}

describe('parseRotationConfig: cassandra-rekey config.yaml', () => {
  it('accepts the README example verbatim and normalizes it fully', () => {
    expect(parse(REKEY_EXAMPLE)).toEqual({
      file: FILE,
      cluster: { contactPoints: ['cass-1', 'cass-2'], port: 9042, localDc: 'dc1', keyspace: 'app_data' },
      stateKeyspace: 'rekey_meta',
      provider: {
        type: 'fernet',
        newKey: { source: { env: 'REKEY_NEW_KEY' } },
        oldKeys: [{ source: { env: 'REKEY_OLD_KEY' } }],
        options: {},
      },
      keyVersionColumn: 'key_version',
      tables: [
        {
          name: 'users', partitionKey: ['tenant_id', 'user_id'], clusteringKey: ['event_time'], encryptedColumns: ['ssn', 'email'],
          chunks: 256, preserveTtl: true, preserveWritetime: true, useLwtGuard: true, consistency: { read: 'LOCAL_QUORUM', write: 'LOCAL_QUORUM' },
        },
        {
          name: 'accounts', partitionKey: ['account_id'], encryptedColumns: ['account_number'],
          chunks: 1024, preserveTtl: true, preserveWritetime: true, useLwtGuard: false, consistency: {},
        },
      ],
      execution: { workers: 16, readP99ThresholdMs: 50, pauseOnBackpressure: true },
    } satisfies RotationConfig);
  });

  it('accepts the block-style layout of the README too', () => {
    const block = `cluster:
  contact_points: [cass-1, cass-2, cass-3]
  port: 9042
  local_dc: us-west-2
  keyspace: app_data
state:
  keyspace: rekey_meta
provider:
  type: fernet
  old_key_env: REKEY_OLD_KEY
  new_key_env: REKEY_NEW_KEY
tables:
  - name: users
    partition_key: [tenant_id, user_id] # composite PK supported
    encrypted_columns: [ssn, email]
    consistency:
      read: LOCAL_QUORUM
      write: LOCAL_QUORUM
execution:
  workers: 16
`;
    const config = parse(block);
    expect(config.cluster.contactPoints).toEqual(['cass-1', 'cass-2', 'cass-3']);
    expect(config.tables[0]?.consistency).toEqual({ read: 'LOCAL_QUORUM', write: 'LOCAL_QUORUM' });
  });

  it('applies the defaults', () => {
    const config = parse(minimal());
    expect(config).toEqual({
      file: FILE,
      cluster: { contactPoints: [], port: 9042, keyspace: 'ks' },
      provider: { type: 'fernet', newKey: { source: { env: 'NEW' } }, oldKeys: [{ source: { env: 'OLD' } }], options: {} },
      keyVersionColumn: 'key_version',
      tables: [{ name: 't', encryptedColumns: ['c'], preserveTtl: true, preserveWritetime: true, useLwtGuard: false, consistency: {} }],
      execution: { workers: 4, pauseOnBackpressure: false },
    } satisfies RotationConfig);
  });

  it('uppercases consistency levels written in any case and leaves the one left out to the connection (--consistency)', () => {
    const config = parse(minimal({ tables: 'tables: [{name: t, encrypted_columns: [c], consistency: {read: local_one}}]' }));
    expect(config.tables[0]?.consistency).toEqual({ read: 'LOCAL_ONE' });
    expect(tableLevels(config.tables[0] as TableRotation, { consistency: 'EACH_QUORUM' })).toEqual({ read: 'LOCAL_ONE', write: 'EACH_QUORUM' });
    expect(tableLevels(parse(minimal()).tables[0] as TableRotation, { consistency: 'ALL' })).toEqual({ read: 'ALL', write: 'ALL' });
  });
});

describe('parseRotationConfig: cassette additions', () => {
  it('takes repo, key_version_column, cluster.username and password_file (relative to the config folder)', () => {
    const config = parse(`cluster: {keyspace: ks, username: rotator, password_file: secrets/cass.pw}
repo: s3://backups/prod
key_version_column: kv
provider: {type: fernet, old_key_env: OLD, new_key_env: NEW}
tables: [{name: t, encrypted_columns: [c]}]
execution: {rate: 2500.5}
`);
    expect(config.cluster).toEqual({ contactPoints: [], port: 9042, keyspace: 'ks', username: 'rotator', passwordFile: '/etc/cassette/secrets/cass.pw' });
    expect(config.repo).toBe('s3://backups/prod');
    expect(config.keyVersionColumn).toBe('kv');
    expect(config.execution).toEqual({ workers: 4, rate: 2500.5, pauseOnBackpressure: false });
  });

  it('resolves a repo directory against the config folder and keeps URLs and absolute paths', () => {
    expect(parse(minimal({ extra: 'repo: ../repo' })).repo).toBe('/etc/repo');
    expect(parse(minimal({ extra: 'repo: /var/backups' })).repo).toBe('/var/backups');
    expect(parse(minimal({ extra: 'repo: file:///var/backups' })).repo).toBe('file:///var/backups');
  });

  it('reads key_version_column: null as "the tables have none"', () => {
    expect(parse(minimal({ extra: 'key_version_column: null' })).keyVersionColumn).toBeNull();
    expect(parse(minimal({ extra: 'key_version_column: ~' })).keyVersionColumn).toBeNull();
  });

  it('takes key files (resolved), versions (numbers as written) and ids', () => {
    const config = parse(minimal({
      provider: `provider:
  type: aes-gcm
  old_key_file: keys/old.key
  old_key_version: 1
  old_key_id: 7
  new_key_file: /abs/new.key
  new_key_version: "2024-06"
  new_key_id: 0x10`,
    }));
    expect(config.provider).toEqual({
      type: 'aes-gcm',
      newKey: { source: { file: '/abs/new.key' }, version: '2024-06', id: 16 },
      oldKeys: [{ source: { file: '/etc/cassette/keys/old.key' }, version: '1', id: 7 }],
      options: {},
    });
  });

  it('puts the single old key before the old_keys list, and takes the new_key mapping form', () => {
    const config = parse(minimal({
      provider: `provider:
  type: fernet
  old_key_env: OLD_2
  old_key_version: 2
  old_keys:
    - {env: OLD_1, version: 1}
    - {file: k0.key, version: "0", id: 3}
  new_key: {env: NEW, version: 3}`,
    }));
    expect(config.provider.newKey).toEqual({ source: { env: 'NEW' }, version: '3' });
    expect(config.provider.oldKeys).toEqual([
      { source: { env: 'OLD_2' }, version: '2' },
      { source: { env: 'OLD_1' }, version: '1' },
      { source: { file: '/etc/cassette/k0.key' }, version: '0', id: 3 },
    ]);
  });

  it('resolves a module provider path and passes its options through as written', () => {
    const config = parse(minimal({ provider: 'provider: {type: module, module: ./kms.mjs, options: {region: eu-west-1, retries: 3, nested: {a: [1]}}}' }), 'conf/rekey.yaml');
    expect(config.provider).toEqual({ type: 'module', oldKeys: [], module: join(process.cwd(), 'conf/kms.mjs'), options: { region: 'eu-west-1', retries: 3, nested: { a: [1] } } });
  });

  it('moves aes-gcm associated_data and key_id_prefix written under provider into options', () => {
    const config = parse(minimal({
      provider: 'provider: {type: aes-gcm, old_key_env: OLD, new_key_env: NEW, associated_data: "{table}.{column}", key_id_prefix: true}',
    }));
    expect(config.provider.options).toEqual({ associated_data: '{table}.{column}', key_id_prefix: true });
  });
});

describe('parseRotationConfig: errors name file:line:col, the path, what was expected', () => {
  it('a string where a list belongs', () => {
    const err = failure(REKEY_EXAMPLE.replace('encrypted_columns: [ssn, email]', 'encrypted_columns: ssn'));
    expect(err.message).toBe('rekey.yaml:8:24: tables[0].encrypted_columns: expected a non-empty list of column names, got a string');
    expect(err.hint).toContain('docs/config.md');
  });

  it('an empty list, a missing setting, a wrong element', () => {
    expect(failure(minimal({ tables: 'tables: [{name: t, encrypted_columns: []}]' })).message)
      .toBe('rekey.yaml:3:39: tables[0].encrypted_columns: expected a non-empty list of column names, got an empty list');
    expect(failure(minimal({ tables: 'tables:\n  - name: t\n    partition_key: [id]' })).message)
      .toBe('rekey.yaml:4:5: tables[0].encrypted_columns: missing; expected a non-empty list of column names');
    expect(failure(minimal({ tables: 'tables: [{name: t, encrypted_columns: [a, 7]}]' })).message)
      .toBe('rekey.yaml:3:43: tables[0].encrypted_columns[1]: expected a column name, got 7');
    expect(failure('provider: {type: fernet}\ntables: []\n').message)
      .toBe('rekey.yaml:1:1: cluster: missing; expected a mapping such as {contact_points: [HOST, …], keyspace: NAME}; rekey.yaml:2:9: tables: expected a non-empty list of tables, got an empty list');
  });

  it('numbers out of range, booleans that are not', () => {
    expect(failure(minimal({ extra: 'execution: {workers: 0}' })).message).toBe('rekey.yaml:4:22: execution.workers: expected an integer from 1 to 256, got 0');
    expect(failure(minimal({ extra: 'execution: {workers: 257}' })).message).toContain('execution.workers: expected an integer from 1 to 256, got 257');
    expect(failure(minimal({ extra: 'execution: {rate: -5}' })).message).toContain('execution.rate: expected a positive number of rows per second, got -5');
    expect(failure(minimal({ tables: 'tables: [{name: t, encrypted_columns: [c], chunks: 2.5}]' })).message).toContain('tables[0].chunks: expected a positive integer, got 2.5');
    expect(failure('cluster: {keyspace: ks, port: 70000}\n').message).toContain('rekey.yaml:1:31: cluster.port: expected a port number from 1 to 65535, got 70000');
    expect(failure(minimal({ tables: 'tables: [{name: t, encrypted_columns: [c], preserve_ttl: yes}]' })).message)
      .toBe('rekey.yaml:3:58: tables[0].preserve_ttl: expected true or false, got "yes" (YAML 1.2 reads it as text)');
  });

  it('an unknown consistency level, with a suggestion', () => {
    expect(failure(minimal({ tables: 'tables: [{name: t, encrypted_columns: [c], consistency: {write: LOCAL_QUROUM}}]' })).message)
      .toBe('rekey.yaml:3:65: tables[0].consistency.write: expected a consistency level (ANY, ONE, TWO, THREE, QUORUM, ALL, LOCAL_QUORUM, EACH_QUORUM, LOCAL_ONE), got "LOCAL_QUROUM" (did you mean LOCAL_QUORUM?)');
  });

  it('an unsupported provider type, such as a GCP KMS, lists the supported ones and the module route', () => {
    // Settings of the unsupported provider (key_name here) are not reported as typos.
    const err = failure(minimal({ provider: 'provider: {type: gcp_kms, key_name: x}' }));
    expect(err.message).toBe('rekey.yaml:2:18: provider.type: expected the provider type fernet, aes-gcm, aws-kms or module, got "gcp_kms"; another KMS is used through a module provider (type: module, module: ./my-kms.mjs)');
    expect(err.hint).toContain('module');
  });

  it('YAML syntax errors carry the parser\'s position and message', () => {
    expect(failure('cluster: {keyspace: ks\nprovider: x\n').message).toMatch(/^rekey\.yaml:\d+:\d+: invalid YAML: /);
    expect(failure('cluster: {keyspace: ks}\ncluster: {keyspace: ks}\n').message).toBe('rekey.yaml:2:1: invalid YAML: Map keys must be unique');
    expect(failure('tables:\n  - name: a\n   encrypted_columns: [x]\n').message).toMatch(/^rekey\.yaml:3:\d+: invalid YAML: /);
  });

  it('an empty file, and a document that is not a mapping', () => {
    expect(failure('').message).toBe('rekey.yaml:1:1: the file is empty; expected the settings cluster, provider and tables');
    expect(failure('# only a comment\n').message).toContain('the file is empty');
    expect(failure('- a\n- b\n').message).toBe('rekey.yaml:1:1: expected a mapping of settings (cluster, provider, tables, …), got a list');
  });

  it('reports at most five problems, in document order, and counts the rest', () => {
    const err = failure('cluster: {keyspace: 1, port: x, local_dc: 2, username: 3, password_file: 4}\nprovider: {type: fernet}\ntables: []\n');
    const parts = err.message.split('; ');
    expect(parts).toHaveLength(6);
    expect(parts[0]).toBe('rekey.yaml:1:21: cluster.keyspace: expected the keyspace name, got 1');
    expect(parts[1]).toMatch(/^rekey\.yaml:1:30: cluster\.port: /);
    expect(parts[5]).toBe('and 1 more');
  });
});

describe('parseRotationConfig: unknown settings', () => {
  it('names a typo and its nearest known setting, at the key', () => {
    expect(failure(REKEY_EXAMPLE.replace('encrypted_columns: [ssn, email]', 'encrypted_colums: [ssn, email]')).message)
      .toContain('rekey.yaml:8:5: tables[0].encrypted_colums: unknown setting (did you mean encrypted_columns?)');
    expect(failure(minimal({ extra: 'execution: {worker: 3}' })).message).toBe('rekey.yaml:4:13: execution.worker: unknown setting (did you mean workers?)');
    expect(failure(minimal({ provider: 'provider: {type: fernet, old_key_env: OLD, new_key_envv: NEW}' })).message)
      .toContain('provider.new_key_envv: unknown setting (did you mean new_key_env?)');
  });

  it('lists the known settings when nothing is close', () => {
    expect(failure(minimal({ extra: 'state: {keyspace: m, replication: 3}' })).message)
      .toBe('rekey.yaml:4:22: state.replication: unknown setting (known here: keyspace)');
    expect(failure(minimal({ extra: 'jobs: 3' })).message).toMatch(/^rekey\.yaml:4:1: jobs: unknown setting \(known here: cluster, state, provider, tables, execution, repo, key_version_column\)$/);
  });
});

describe('parseRotationConfig: secrets stay out of the file', () => {
  it('refuses a password anywhere', () => {
    const err = failure('cluster: {keyspace: ks, password: hunter2}\n' + minimal().split('\n').slice(1).join('\n'));
    expect(err.message).toBe('rekey.yaml:1:25: cluster.password: secrets never go in config files; set CASSETTE_PASSWORD, or name a file whose first line is the password with cluster.password_file or --password-file');
    expect(err.message).not.toContain('hunter2');
    expect(failure(minimal({ extra: 'password: x' })).message).toContain('rekey.yaml:4:1: password: secrets never go in config files');
    expect(failure(minimal({ provider: 'provider: {type: module, module: m.mjs, options: {password: x}}' })).message)
      .toContain('provider.options.password: secrets never go in config files');
  });

  it('refuses literal key values under provider', () => {
    const key = 'ZmVybmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY=';
    for (const [provider, path] of [
      [`provider: {type: fernet, old_key_env: OLD, new_key: "${key}"}`, 'provider.new_key'],
      [`provider: {type: fernet, new_key_env: NEW, old_key: ${key}}`, 'provider.old_key'],
      [`provider: {type: fernet, new_key_env: NEW, old_keys: [{key: ${key}}]}`, 'provider.old_keys[0].key'],
      [`provider: {type: module, module: m.mjs, options: {key: ${key}}}`, 'provider.options.key'],
    ] as const) {
      const err = failure(minimal({ provider }));
      expect(err.message).toContain(`${path}: key values never go in config files; keys come only from environment variables`);
      expect(err.message).not.toContain(key);
    }
  });

  it('never repeats a string value that is in the wrong place', () => {
    const key = 'ZmVybmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY=';
    const err = failure(minimal({ provider: `provider: {type: fernet, old_key_env: OLD, new_key_env: "${key}"}` }));
    expect(err.message).toBe('rekey.yaml:2:57: provider.new_key_env: expected the name of an environment variable (letters, digits and _), got a string');
    expect(failure(minimal({ provider: `provider: {type: fernet, old_key_env: OLD, new_key_env: NEW, old_keys: ["${key}"]}` })).message).not.toContain(key);
  });
});

describe('parseRotationConfig: checks across settings', () => {
  const provider = (body: string): string => failure(minimal({ provider: `provider: {${body}}` })).message;

  it('fernet and aes-gcm need a new key and an old key; module needs module', () => {
    expect(provider('type: fernet, old_key_env: OLD')).toBe('rekey.yaml:2:11: provider: fernet needs the new key: set new_key_env or new_key_file (or new_key: {env | file})');
    expect(provider('type: aes-gcm, new_key_env: NEW')).toBe('rekey.yaml:2:11: provider: aes-gcm needs at least one old key: set old_key_env, old_key_file or old_keys');
    expect(provider('type: module')).toBe('rekey.yaml:2:11: provider: type module needs module: the path of your ES module, such as ./my-provider.mjs');
    expect(provider('type: fernet, old_key_env: OLD, new_key_env: NEW, module: m.mjs')).toContain('provider.module: applies only to type: module');
  });

  it('aws-kms (or cassandra-rekey\'s aws_kms) takes CMKs, never key env/file settings', () => {
    const arn = (n: string): string => `arn:aws:kms:eu-west-2:111122223333:key/${n}`;
    expect(parse(minimal({ provider: `provider: {type: aws_kms, old_cmk_arn: ${arn('a')}, new_cmk_arn: ${arn('b')}, aws_region: eu-west-2}` })).provider)
      .toEqual({ type: 'aws-kms', oldKeys: [], options: {}, kms: { newCmk: { cmk: arn('b'), version: 'v2' }, oldCmks: [{ cmk: arn('a'), version: 'v1' }], region: 'eu-west-2' } });
    expect(parse(minimal({ provider: 'provider: {type: aws-kms, old_cmk_arn: [alias/a, alias/c], new_cmk_arn: alias/b, old_key_version: "3", new_key_version: "4", data_key_reuse: 1}' })).provider)
      .toEqual({ type: 'aws-kms', oldKeys: [], options: { data_key_reuse: 1 }, kms: { newCmk: { cmk: 'alias/b', version: '4' }, oldCmks: [{ cmk: 'alias/a', version: '3' }, { cmk: 'alias/c', version: '3' }] } });
    expect(provider('type: aws-kms, old_cmk_arn: alias/a')).toContain('provider: aws-kms needs new_cmk_arn');
    expect(provider('type: aws-kms, new_cmk_arn: alias/a')).toContain('provider: aws-kms needs old_cmk_arn');
    expect(provider('type: aws-kms, old_cmk_arn: alias/a, new_cmk_arn: alias/a')).toContain('provider.old_cmk_arn: the same CMK as new_cmk_arn');
    expect(provider('type: aws-kms, old_cmk_arn: alias/a, new_cmk_arn: alias/b, new_key_version: v1')).toContain('provider.new_key_version: the same key version as old_key_version');
    expect(provider('type: aws-kms, old_cmk_arn: alias/a, new_cmk_arn: alias/b, new_key_env: NEW')).toContain('provider.new_key_env: does not apply to type: aws-kms');
    expect(provider('type: fernet, old_key_env: OLD, new_key_env: NEW, new_cmk_arn: alias/b')).toContain('provider.new_cmk_arn: applies only to type: aws-kms');
    expect(provider('type: aws-kms, old_cmk_arn: alias/a, new_cmk_arn: alias/b, data_key_reuse: 5, options: {data_key_reuse: 6}')).toContain('provider.data_key_reuse: also given under provider.options');
  });

  it('one way to give each key', () => {
    expect(provider('type: fernet, old_key_env: OLD, new_key_env: NEW, new_key: {env: NEW2}'))
      .toContain('provider.new_key: give the new key one way, new_key: {env | file, version, id} or new_key_env / new_key_file, not both');
    expect(provider('type: fernet, old_key_env: OLD, old_key_file: o.key, new_key_env: NEW')).toContain('provider.old_key_file: give old_key_env or old_key_file, not both');
    expect(provider('type: fernet, old_keys: [{env: A, file: a.key}], new_key_env: NEW')).toContain('provider.old_keys[0].file: give env or file, not both');
    expect(provider('type: fernet, old_keys: [{version: "1"}], new_key_env: NEW')).toContain('provider.old_keys[0]: missing env or file; expected {env: VARIABLE} or {file: PATH}');
    expect(parse(minimal({ provider: 'provider: {type: fernet, old_key_env: OLD, new_key_env: NEW, old_key_version: "1", new_key_id: 3, old_keys: [{env: X}]}' })).provider)
      .toMatchObject({ newKey: { source: { env: 'NEW' }, id: 3 }, oldKeys: [{ source: { env: 'OLD' }, version: '1' }, { source: { env: 'X' } }] });
    expect(provider('type: fernet, old_keys: [{env: A}], old_key_version: "1", new_key_env: NEW')).toContain('provider.old_key_version: needs old_key_env or old_key_file');
  });

  it('keys must be distinct', () => {
    expect(provider('type: fernet, old_key_env: K, new_key_env: K'))
      .toBe('rekey.yaml:2:39: provider.old_key_env: the same environment variable K as provider.new_key_env; every key must be distinct');
    expect(provider('type: aes-gcm, new_key: {env: N, version: "2", id: 1}, old_keys: [{env: A, version: "1", id: 1}, {env: B, version: "1"}]'))
      .toBe('rekey.yaml:2:78: provider.old_keys[0]: the same key id 1 as provider.new_key; every key must be distinct; rekey.yaml:2:109: provider.old_keys[1]: the same key version "1" as provider.old_keys[0]; every key must be distinct');
  });

  it('a key version written as a number YAML would change must be quoted', () => {
    expect(provider('type: fernet, old_key_env: OLD, old_key_version: 1.10, new_key_env: NEW'))
      .toBe('rekey.yaml:2:61: provider.old_key_version: expected a key version; YAML reads 1.10 as the number 1.1, so quote it: "1.10"');
    expect(provider('type: fernet, old_key_env: OLD, old_key_version: 007, new_key_env: NEW')).toContain('quote it: "007"');
  });

  it('aes-gcm settings under provider: only for aes-gcm, and only once', () => {
    expect(provider('type: fernet, old_key_env: OLD, new_key_env: NEW, associated_data: x')).toContain('provider.associated_data: applies only to type: aes-gcm');
    expect(provider('type: aes-gcm, old_key_env: OLD, new_key_env: NEW, key_id_prefix: true, options: {key_id_prefix: false}'))
      .toContain('provider.key_id_prefix: also given under provider.options; give it once');
  });

  it('tables: at least one, distinct names, encrypted columns distinct and not key columns or the key-version column', () => {
    expect(failure(minimal({ tables: 'tables: []' })).message).toBe('rekey.yaml:3:9: tables: expected a non-empty list of tables, got an empty list');
    expect(failure(minimal({ tables: 'tables: [{name: t, encrypted_columns: [a]}, {name: t, encrypted_columns: [b]}]' })).message)
      .toBe('rekey.yaml:3:52: tables[1].name: table t is already listed at tables[0]');
    expect(failure(minimal({ tables: 'tables: [{name: t, encrypted_columns: [a, b, a]}]' })).message)
      .toBe('rekey.yaml:3:46: tables[0].encrypted_columns[2]: a is listed twice');
    expect(failure(REKEY_EXAMPLE.replace('encrypted_columns: [ssn, email]', 'encrypted_columns: [ssn, user_id]')).message)
      .toBe('rekey.yaml:8:30: tables[0].encrypted_columns[1]: user_id is in partition_key: rotating a key column needs copy-and-swap, which is out of scope');
    expect(failure(REKEY_EXAMPLE.replace('encrypted_columns: [ssn, email]', 'encrypted_columns: [event_time]')).message)
      .toContain('tables[0].encrypted_columns[0]: event_time is in clustering_key: rotating a key column needs copy-and-swap');
    expect(failure(minimal({ tables: 'tables: [{name: t, encrypted_columns: [c, key_version]}]' })).message)
      .toBe('rekey.yaml:3:43: tables[0].encrypted_columns[1]: key_version is the key-version column (key_version_column); it holds key versions and cannot be encrypted');
    expect(failure(minimal({ tables: 'tables: [{name: t, partition_key: [a, b], clustering_key: [b], encrypted_columns: [c]}]' })).message)
      .toBe('rekey.yaml:3:60: tables[0].clustering_key[0]: b is already in partition_key');
    expect(failure(minimal({ tables: 'tables: [{name: t, partition_key: [kv], encrypted_columns: [c]}]', extra: 'key_version_column: kv' })).message)
      .toContain('tables[0].partition_key[0]: kv is the key-version column (key_version_column): rotation writes it, so it cannot be a key column');
    expect(failure(minimal({ tables: 'tables: [{name: t, encrypted_columns: [c], use_lwt_guard: true}]', extra: 'key_version_column: null' })).message)
      .toContain('tables[0].use_lwt_guard: the guard compares the key-version column, but key_version_column is null');
  });
});

describe('loadRotationConfig', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'cassette-rotation-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('reads the file and resolves its relative paths against its folder', async () => {
    const file = join(dir, 'rekey.yaml');
    await writeFile(file, minimal({ provider: 'provider: {type: fernet, old_key_file: old.key, new_key_env: NEW}' }));
    const config = await loadRotationConfig(file);
    expect(config.file).toBe(file);
    expect(config.provider.oldKeys).toEqual([{ source: { file: join(dir, 'old.key') } }]);
  });

  it('names the path of a file it cannot read', async () => {
    const missing = join(dir, 'nope.yaml');
    const err = await loadRotationConfig(missing).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CassetteError);
    expect((err as CassetteError).code).toBe('INVALID_INPUT');
    expect((err as CassetteError).message).toBe(`cannot read the rotation config ${missing}: no such file`);
    const asDir = await loadRotationConfig(dir).then(() => undefined, (e: unknown) => e);
    expect((asDir as CassetteError).message).toBe(`cannot read the rotation config ${dir}: it is a directory`);
  });
});

describe('resolveRotationConnection: flag > environment > config file > default', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cassette-rotation-'));
    await writeFile(join(dir, 'config.pw'), 'from-config\n');
    await writeFile(join(dir, 'flag.pw'), 'from-flag\n');
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  const config = (): RotationConfig =>
    parse(`cluster: {contact_points: [cass-1, "cass-2:9142"], port: 9043, local_dc: dc1, keyspace: ks, username: rotator, password_file: config.pw}
${minimal().split('\n').slice(1).join('\n')}`, join(dir, 'rekey.yaml'));

  it('takes the config file when neither flags nor environment say otherwise', () => {
    expect(resolveRotationConnection(config(), {}, {})).toEqual({
      hosts: ['cass-1', 'cass-2:9142'], port: 9043, dc: 'dc1', username: 'rotator', password: 'from-config', consistency: 'LOCAL_QUORUM', serialConsistency: 'LOCAL_SERIAL', requestTimeoutMs: 30_000,
    });
  });

  it('lets the environment override the config file', () => {
    const env = { CASSETTE_HOSTS: 'env-1,env-2', CASSETTE_PORT: '9050', CASSETTE_DC: 'dc2', CASSETTE_USERNAME: 'ops', CASSETTE_PASSWORD: 'from-env', CASSETTE_CONSISTENCY: 'quorum', CASSETTE_SERIAL_CONSISTENCY: 'serial' };
    expect(resolveRotationConnection(config(), {}, env)).toEqual({
      hosts: ['env-1', 'env-2'], port: 9050, dc: 'dc2', username: 'ops', password: 'from-env', consistency: 'QUORUM', serialConsistency: 'SERIAL', requestTimeoutMs: 30_000,
    });
  });

  it('lets flags override the environment', () => {
    const env = { CASSETTE_HOSTS: 'env-1', CASSETTE_PORT: '9050', CASSETTE_DC: 'dc2', CASSETTE_USERNAME: 'ops', CASSETTE_PASSWORD: 'from-env', CASSETTE_SERIAL_CONSISTENCY: 'SERIAL' };
    const flags = { hosts: 'flag-1', port: '9060', dc: 'dc3', username: 'admin', passwordFile: join(dir, 'flag.pw'), consistency: 'one', serialConsistency: 'local_serial' };
    expect(resolveRotationConnection(config(), flags, env)).toEqual({
      hosts: ['flag-1'], port: 9060, dc: 'dc3', username: 'admin', password: 'from-flag', consistency: 'ONE', serialConsistency: 'LOCAL_SERIAL', requestTimeoutMs: 30_000,
    });
  });

  it('falls back to the defaults when the config has no cluster settings', () => {
    expect(resolveRotationConnection(parse(minimal()), {}, {})).toEqual({ hosts: ['127.0.0.1'], port: 9042, consistency: 'LOCAL_QUORUM', serialConsistency: 'LOCAL_SERIAL', requestTimeoutMs: 30_000 });
  });

  it('names the config file when its password file cannot be read', () => {
    const broken = parse(`cluster: {keyspace: ks, password_file: missing.pw}\n${minimal().split('\n').slice(1).join('\n')}`, join(dir, 'rekey.yaml'));
    expect(() => resolveRotationConnection(broken, {}, {})).toThrow(`cannot read the password file ${join(dir, 'missing.pw')} (named in ${join(dir, 'rekey.yaml')})`);
    expect(resolveRotationConnection(broken, {}, { CASSETTE_PASSWORD: 'from-env' }).password).toBe('from-env');
  });
});

describe('resolveRotationRepository: --repo > CASSETTE_REPO > config repo > ./cassette-repo', () => {
  const withRepo = parse(minimal({ extra: 'repo: s3://from-config/prefix' }));
  it.each([
    ['the flag', { repo: 's3://from-flag' }, { CASSETTE_REPO: 's3://from-env' }, 's3://from-flag'],
    ['the environment', {}, { CASSETTE_REPO: 's3://from-env' }, 's3://from-env'],
    ['the config file', {}, {}, 's3://from-config/prefix'],
  ])('takes %s', (_name, flags, env, url) => {
    expect(resolveRotationRepository(withRepo, flags, env).url).toBe(url);
  });

  it('defaults to ./cassette-repo and keeps the S3 settings', () => {
    expect(resolveRotationRepository(parse(minimal()), {}, {})).toEqual({ url: './cassette-repo', s3Region: 'us-east-1', retryForMs: 300_000, sealing: {} });
    expect(resolveRotationRepository(withRepo, { s3Endpoint: 'http://minio:9000' }, { AWS_REGION: 'eu-west-1' }))
      .toEqual({ url: 's3://from-config/prefix', s3Endpoint: 'http://minio:9000', s3Region: 'eu-west-1', retryForMs: 300_000, sealing: {} });
  });
});

describe('docs/config.md', () => {
  it('its annotated rotation config example parses', async () => {
    const doc = await readFile(new URL('../../docs/config.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Rotation config (`--config`)'));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(yaml).toBeDefined();
    const config = parse(yaml as string);
    expect(config.provider).toEqual({
      type: 'aes-gcm',
      newKey: { source: { env: 'KEY_2024' }, version: '2024', id: 24 },
      oldKeys: [
        { source: { env: 'KEY_2023' }, version: '2023', id: 23 },
        { source: { file: '/etc/cassette/keys/2022.key' }, version: '2022', id: 22 },
      ],
      options: { associated_data: '{keyspace}.{table}.{column}', key_id_prefix: true },
    });
    expect(config.cluster.passwordFile).toBe('/etc/cassette/secrets/cassandra.pw');
    expect(config.execution).toEqual({ workers: 16, rate: 5000, readP99ThresholdMs: 50, pauseOnBackpressure: true });
  });
});
