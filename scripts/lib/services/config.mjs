// Versions, ports and paths of the test services. One place to change a pin.
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const CASSANDRA_VERSION = '5.0.8';
/** The `--version 4.1` profile's release (a test profile: Java 17 is not supported by 4.1 officially). */
export const CASSANDRA_41_VERSION = '4.1.10';
/** MinIO publishes no semver tags; this pseudo-version is master HEAD of 2026-02-12 (7aac2a2c5b7c). */
export const MINIO_VERSION = 'v0.0.0-20260212201848-7aac2a2c5b7c';
/** local-kms (AWS KMS on loopback) has no version `go list -m -versions` accepts; this pseudo-version is its commit 2a5e92d09ab6 of 2026-02-28. */
export const LOCAL_KMS_VERSION = 'v0.0.0-20260228092603-2a5e92d09ab6';
/** The age CLI (filippo.io/age), which the encrypted-backup tests decrypt chunks with. */
export const AGE_VERSION = 'v1.3.2';
/** kubeconform, which validates deploy/kubernetes/ against the schemas in deploy/schemas/ (offline). */
export const KUBECONFORM_VERSION = 'v0.7.0';
export const MAVEN_DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.10.0';

export const cacheDir = process.env.CASSETTE_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'cassette');
export const runDir = process.env.CASSETTE_SERVICES_DIR ?? join(tmpdir(), 'cassette-services');

/** Shifts every port, so a second set of services (e.g. the lifecycle test's) can run beside the first. */
const offset = Number(process.env.CASSETTE_SERVICES_PORT_OFFSET ?? 0);
if (!Number.isInteger(offset) || offset < 0 || offset > 50000) {
  throw new Error(`CASSETTE_SERVICES_PORT_OFFSET must be an integer between 0 and 50000, not "${process.env.CASSETTE_SERVICES_PORT_OFFSET}"`);
}
const port = (n) => n + offset;

/** Where a Cassandra release's jars are cached, one folder per release. */
export const cassandraLibDirFor = (version) => join(cacheDir, `cassandra-${version}`, 'lib');
export const cassandraLibDir = cassandraLibDirFor(CASSANDRA_VERSION);
export const minioBinDir = join(cacheDir, `minio-${MINIO_VERSION}`);
export const minioBinary = join(minioBinDir, 'minio');
export const localKmsBinDir = join(cacheDir, `local-kms-${LOCAL_KMS_VERSION}`);
export const localKmsBinary = join(localKmsBinDir, 'local-kms');
export const ageBinary = join(cacheDir, `age-${AGE_VERSION}`, 'age');
export const kubeconformBinary = join(cacheDir, `kubeconform-${KUBECONFORM_VERSION}`, 'kubeconform');

/**
 * Cassandra profiles. `main` is the plain test cluster; `secure` adds PasswordAuthenticator and
 * client TLS; `second` is an independent cluster (other name, other ports) for migration tests;
 * `c41` (`up --version 4.1`) a single node of Cassandra 4.1 (`release`; the others run
 * CASSANDRA_VERSION).
 */
export const CASSANDRA_PROFILES = Object.freeze({
  main: { name: 'cassandra', cluster: 'cassette-test', native: port(9042), storage: port(7000), jmx: port(7199), heap: '2G', secure: false },
  secure: { name: 'cassandra-secure', cluster: 'cassette-secure', native: port(9142), storage: port(7100), jmx: port(7299), heap: '768M', secure: true },
  second: { name: 'cassandra-second', cluster: 'cassette-second', native: port(9242), storage: port(7200), jmx: port(7399), heap: '1G', secure: false },
  c41: { name: 'cassandra-41', cluster: 'cassette-41', native: port(9342), storage: port(7300), jmx: port(7499), heap: '768M', secure: false, release: CASSANDRA_41_VERSION },
});

/**
 * The cluster profile: four nodes of one cluster on loopback addresses of their own, in two
 * datacenters (node 1–3 in dc1, node 4 in dc2), GossipingPropertyFileSnitch, 16 vnodes each.
 * Every node listens on the same CQL and storage ports, as in a real cluster; JMX binds 127.0.0.1,
 * so each node has its own JMX port. Node 1 is the seed.
 */
export const CLUSTER_NODES = Object.freeze(
  [
    { n: 1, dc: 'dc1' },
    { n: 2, dc: 'dc1' },
    { n: 3, dc: 'dc1' },
    { n: 4, dc: 'dc2' },
  ].map(({ n, dc }) => Object.freeze({
    name: `cluster-node${n}`,
    node: n,
    cluster: 'cassette-cluster',
    address: `127.0.0.${n + 1}`,
    native: port(9042),
    storage: port(7000),
    jmx: port(7500 + n),
    heap: '640M',
    secure: false,
    dc,
    rack: 'rack1',
    seeds: `127.0.0.2:${port(7000)}`,
  })),
);

export const MINIO = Object.freeze({ name: 'minio', api: port(9000), console: port(9001), bucket: 'cassette-test', region: 'us-east-1' });

/**
 * local-kms: the KMS JSON API (TrentService) over plain HTTP. Three symmetric AES CMKs with fixed ids
 * and an alias each, seeded at start; their key material is random, made when the service's folder
 * is first created and kept there (never in the repository). ARNs are
 * `arn:aws:kms:${region}:${accountId}:key/${id}`.
 */
export const KMS = Object.freeze({
  name: 'local-kms',
  port: port(4599),
  region: 'eu-west-2',
  accountId: '111122223333',
  keys: Object.freeze({
    old: Object.freeze({ id: '9458693b-5ac2-4b57-8763-ad9b557bec70', alias: 'alias/cassette-old' }),
    new: Object.freeze({ id: '870dfeb0-420d-4ea9-aeee-ad9d09a19e30', alias: 'alias/cassette-new' }),
    other: Object.freeze({ id: '209b3738-6fbc-43d9-86c7-80361124faab', alias: 'alias/cassette-other' }),
  }),
});

export const DATACENTER = 'datacenter1';
