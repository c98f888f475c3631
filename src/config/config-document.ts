/**
 * The rotation config document as a whole: the schema of its top-level settings — cassandra-rekey's
 * `cluster`, `state` and `execution` sections (with cassette's `cluster.username`,
 * `cluster.password_file` and `execution.rate`), and cassette's `repo` and `key_version_column` —
 * and its normalization into a {@link RotationConfig}, applying the defaults and resolving relative
 * paths against the config file's folder. `provider` and `tables` are provider-settings.ts's and
 * table-settings.ts's.
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { normalizeProvider, providerSchema } from './provider-settings.js';
import type { RotationConfig } from './rotation-types.js';
import { filePath, flag, integer, positive, section, text, type NormalizeContext } from './setting-parts.js';
import { normalizeTables, tableSchema } from './table-settings.js';

/** The key-version column when the config does not name one. */
export const DEFAULT_KEY_VERSION_COLUMN = 'key_version';

/** The whole document as written (snake_case). */
export const configSchema = section(
  {
    cluster: section(
      {
        contact_points: z
          .array(text('expected a host name or address'), { error: 'expected a non-empty list of hosts' })
          .min(1, { error: 'expected a non-empty list of hosts' })
          .optional(),
        port: integer('expected a port number from 1 to 65535', 1, 65535).default(9042),
        local_dc: text('expected the local datacenter name').optional(),
        keyspace: text('expected the keyspace name'),
        username: text('expected a user name').optional(),
        password_file: filePath.optional(),
      },
      'expected a mapping such as {contact_points: [HOST, …], keyspace: NAME}',
    ),
    state: section({ keyspace: text('expected a keyspace name').optional() }, 'expected {keyspace: NAME}').optional(),
    provider: providerSchema,
    tables: z.array(tableSchema, { error: 'expected a non-empty list of tables' }).min(1, { error: 'expected a non-empty list of tables' }),
    execution: section(
      {
        workers: integer('expected an integer from 1 to 256', 1, 256).default(4),
        rate: positive('expected a positive number of rows per second').optional(),
        read_p99_threshold_ms: positive('expected a positive number of milliseconds').optional(),
        pause_on_backpressure: flag.default(false),
      },
      'expected a mapping such as {workers: 16}',
    ).optional(),
    repo: text('expected a repository URL or directory').optional(),
    key_version_column: text('expected a column name, or null when the tables have none').nullable().optional(),
  },
  'expected a mapping of settings (cluster, provider, tables, …)',
);

type RawConfig = z.output<typeof configSchema>;

/** The validated document as a {@link RotationConfig}; problems that span settings go to `ctx.problems`. */
export function normalize(raw: RawConfig, ctx: NormalizeContext): RotationConfig {
  const keyVersionColumn = raw.key_version_column === undefined ? DEFAULT_KEY_VERSION_COLUMN : raw.key_version_column;
  const { cluster, execution } = raw;
  return {
    file: ctx.file,
    cluster: {
      contactPoints: cluster.contact_points ?? [],
      port: cluster.port,
      ...(cluster.local_dc === undefined ? {} : { localDc: cluster.local_dc }),
      keyspace: cluster.keyspace,
      ...(cluster.username === undefined ? {} : { username: cluster.username }),
      ...(cluster.password_file === undefined ? {} : { passwordFile: resolve(ctx.base, cluster.password_file) }),
    },
    ...(raw.repo === undefined ? {} : { repo: repositoryUrl(raw.repo, ctx.base) }),
    ...(raw.state?.keyspace === undefined ? {} : { stateKeyspace: raw.state.keyspace }),
    provider: normalizeProvider(raw.provider, ctx),
    keyVersionColumn,
    tables: normalizeTables(raw.tables, keyVersionColumn, ctx.problems),
    execution: {
      workers: execution?.workers ?? 4,
      ...(execution?.rate === undefined ? {} : { rate: execution.rate }),
      ...(execution?.read_p99_threshold_ms === undefined ? {} : { readP99ThresholdMs: execution.read_p99_threshold_ms }),
      pauseOnBackpressure: execution?.pause_on_backpressure ?? false,
    },
  };
}

/** A directory path is resolved against the config's folder; URLs (s3://, file://) are kept. */
function repositoryUrl(url: string, base: string): string {
  const hasScheme = /^[A-Za-z][A-Za-z0-9+.-]+:/.test(url);
  return hasScheme || isAbsolute(url) ? url : resolve(base, url);
}
