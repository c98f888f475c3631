/**
 * Who may import whom under src/ — the rules docs/architecture.md states in prose, checked by
 * test/unit/layout.test.ts on every run and by `npm run layout` by hand. Type-only imports count:
 * a cycle through a type is still a cycle for the reader.
 *
 * Layers, top to bottom: cli → commands → pipeline → { config, manifest → storage, cassandra, crypto } → errors.
 * Inside src/cassandra/: { reads, writes } → { schema, ring } → connection → values.
 */

/** A rule forbidding `from` to import anything under src/ except `allowed` (and itself). */
function onlyImports(name, from, allowed, comment) {
  return {
    name,
    comment,
    severity: 'error',
    from: { path: from },
    to: { path: '^src/', pathNot: [from, ...allowed] },
  };
}

/** A rule allowing the npm package `pkg` to be imported only from files matching `pathNot`. */
function packageOnlyIn(pkg, paths, comment) {
  return {
    name: `${pkg.replace(/[^a-z0-9]+/gi, '-')}-only-in-adapters`,
    comment,
    severity: 'error',
    from: { path: '^src/', pathNot: paths },
    to: { path: `^node_modules/${pkg}/` },
  };
}

const ERRORS = '^src/errors\\.ts$';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import circles between files under src/, type-only imports included.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    onlyImports('errors-import-nothing', ERRORS, [], 'src/errors.ts is the bottom layer.'),
    onlyImports('storage-is-low', '^src/storage/', [ERRORS], 'The storage port and its adapters know nothing of backups.'),
    onlyImports('crypto-is-low', '^src/crypto/', [ERRORS], 'Column ciphers know nothing of Cassandra or repositories.'),
    onlyImports('manifest-over-storage', '^src/manifest/', ['^src/storage/', ERRORS], 'The backup format reads and writes through the storage port only.'),
    onlyImports('config-over-crypto', '^src/config/', ['^src/crypto/', '^src/cassandra/connection/options\\.ts$', ERRORS], 'The rotation config names ciphers and connection options, nothing else.'),
    onlyImports('cassandra-values-at-bottom', '^src/cassandra/values/', [ERRORS], 'CQL types, identifiers and the value/cell codecs import nothing else of cassandra/.'),
    onlyImports('cassandra-connection', '^src/cassandra/connection/', ['^src/cassandra/values/', ERRORS], 'The session port and the driver adapter sit on the codecs only.'),
    onlyImports('cassandra-schema', '^src/cassandra/schema/', ['^src/cassandra/(connection|values)/', ERRORS], 'Schema capture, planning and apply.'),
    onlyImports('cassandra-ring', '^src/cassandra/ring/', ['^src/cassandra/(connection|values)/', ERRORS], 'Ring tokens, ranges and routing.'),
    onlyImports('cassandra-reads', '^src/cassandra/reads/', ['^src/cassandra/(connection|values|schema)/', ERRORS], 'Range SELECTs and row encoders.'),
    onlyImports('cassandra-writes', '^src/cassandra/writes/', ['^src/cassandra/(connection|values|schema)/', ERRORS], 'Row write planners, guards, list protocol, write errors.'),
    onlyImports('pipeline-below-commands', '^src/pipeline/', ['^src/(cassandra|storage|manifest|crypto)/', ERRORS], 'Pipeline stages know no command, CLI or config file.'),
    onlyImports('commands-below-cli', '^src/commands/', ['^src/(pipeline|cassandra|storage|manifest|crypto|config)/', ERRORS], 'Commands are plain functions: no commander, no process.'),
    packageOnlyIn('cassandra-driver', [
      '^src/cassandra/connection/connect\\.ts$',
      '^src/cassandra/values/driver-values\\.ts$',
      '^src/cassandra/values/driver-list-decoding\\.ts$',
      '^src/cassandra/writes/write-errors\\.ts$',
      '^src/cassandra/reads/read-errors\\.ts$',
    ], 'Only the driver adapters import cassandra-driver; everything else uses the CqlSession port.'),
    packageOnlyIn('@aws-sdk', ['^src/storage/s3-', '^src/crypto/kms/aws-kms-client\\.ts$'], 'Only the S3 and KMS adapters import the AWS SDK.'),
    packageOnlyIn('age-encryption', ['^src/storage/age-codec\\.ts$'], 'Only the age adapter imports age-encryption.'),
    packageOnlyIn('piscina', ['^src/pipeline/transform/worker-pool\\.ts$'], 'Worker threads are one adapter.'),
    packageOnlyIn('yaml', ['^src/config/'], 'Only the rotation config reads YAML.'),
    packageOnlyIn('commander', ['^src/cli/'], 'Flags and subcommands are the CLI\'s business.'),
    packageOnlyIn('cli-progress', ['^src/cli/'], 'Progress bars are the CLI\'s business.'),
    packageOnlyIn('prom-client', ['^src/cli/observe/metrics\\.ts$'], 'Only the metrics adapter imports prom-client; commands count through the ProgressSink port.'),
    packageOnlyIn('pino', ['^src/cli/observe/json-log\\.ts$'], 'Only the JSON log adapter imports pino.'),
    packageOnlyIn('zod', ['^src/(manifest|config)/'], 'Document schemas live with the format and the config.'),
  ],
  options: {
    tsPreCompilationDeps: true,
    doNotFollow: { path: '^node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
