/**
 * The flags of the commands that take a rotation config (doctor, rekey, rotate): `--config`, plus
 * the shared connection and repository flags, and how they combine with the config file. Per
 * setting: flag > environment variable > config file > default (docs/config.md).
 */
import type { Command } from 'commander';
import type { ConnectionOptions } from '../cassandra/connection/options.js';
import type { RotationConfig } from '../config/rotation-types.js';
import {
  addConnectionFlags,
  addRepositoryFlags,
  resolveConnection,
  resolveRepository,
  stringFlag,
  type ParsedFlags,
  type RepositoryLocation,
} from './shared-flags.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Adds `--config <file>` (required) and the connection and repository flags. Returns `command`. */
export function addRotationFlags(command: Command): Command {
  command.requiredOption('--config <file>', "rotation config (YAML; cassandra-rekey's config.yaml works as is), see docs/config.md");
  addConnectionFlags(command);
  addRepositoryFlags(command);
  return command;
}

/**
 * The connection for a rotation: each of hosts, port, datacenter, user and password comes from its
 * flag, else its environment variable, else the config's `cluster` section, else the default.
 * `contact_points` are the hosts (`cluster.port` for those without their own port); the password
 * comes from --password-file, else CASSETTE_PASSWORD, else `cluster.password_file`. The levels are
 * the connection's (--consistency, CASSETTE_CONSISTENCY, LOCAL_QUORUM; --serial-consistency,
 * CASSETTE_SERIAL_CONSISTENCY, LOCAL_SERIAL); a table's own `consistency` in the config wins for
 * its reads and write-backs (config/table-settings.ts tableLevels). Throws like resolveConnection.
 */
export function resolveRotationConnection(config: RotationConfig, flags: ParsedFlags, env: Env): ConnectionOptions {
  const { cluster } = config;
  return resolveConnection(flags, env, {
    hosts: cluster.contactPoints,
    ...(cluster.port === undefined ? {} : { port: cluster.port }),
    ...(cluster.localDc === undefined ? {} : { dc: cluster.localDc }),
    ...(cluster.username === undefined ? {} : { username: cluster.username }),
    ...(cluster.passwordFile === undefined ? {} : { passwordFile: cluster.passwordFile }),
    origin: config.file,
  });
}

/** The repository for a rotation: --repo, else CASSETTE_REPO, else the config's `repo`, else ./cassette-repo. */
export function resolveRotationRepository(config: RotationConfig, flags: ParsedFlags, env: Env): RepositoryLocation {
  const repo = stringFlag(flags, 'repo') ?? env.CASSETTE_REPO ?? config.repo;
  return resolveRepository(repo === undefined ? flags : { ...flags, repo }, env);
}
