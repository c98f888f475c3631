/**
 * Connection settings of the real test services, as scripts/services prints them
 * (CASSETTE_TEST_* variables). Shared by the global setup and the tests.
 */
export interface CassandraSettings {
  readonly host: string;
  readonly port: number;
  readonly dc: string;
}

export interface SecureCassandraSettings extends CassandraSettings {
  readonly username: string;
  readonly passwordFile: string;
  readonly ca: string;
}

export interface S3Settings {
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** local-kms: the AWS KMS API on loopback, with three seeded symmetric CMKs (any credentials work). */
export interface KmsSettings {
  /** `http://127.0.0.1:<port>`, plain HTTP. */
  readonly endpoint: string;
  readonly region: string;
  /** Full key ARNs (`arn:aws:kms:<region>:111122223333:key/<id>`) of `alias/cassette-old`, `-new` and `-other`. */
  readonly oldArn: string;
  readonly newArn: string;
  readonly otherArn: string;
}

/** The 4-node, two-datacenter cluster of `scripts/services up --cluster` (nodes 1-3 in dc1, 4 in dc2). */
export interface ClusterSettings {
  /** Node addresses, node 1 first; `scripts/services stop-node N` stops hosts[N-1]. */
  readonly hosts: readonly string[];
  readonly port: number;
  /** The datacenter of nodes 1-3. */
  readonly dc: string;
  /** Every datacenter, the local one first. */
  readonly dcs: readonly string[];
}

export interface ServiceSettings {
  readonly cassandra: CassandraSettings;
  readonly secure: SecureCassandraSettings;
  /** An independent cluster (other name, other ports), for migration tests. */
  readonly second: CassandraSettings;
  readonly cluster: ClusterSettings;
  /** A single node of Cassandra 4.1 (`scripts/services up --version 4.1`), a cluster of its own. */
  readonly c41: CassandraSettings;
  readonly s3: S3Settings;
  readonly kms: KmsSettings;
}

/** The names every setting needs; if any is missing the services are started instead. */
export const REQUIRED_VARIABLES = [
  'CASSETTE_TEST_CASSANDRA_HOST', 'CASSETTE_TEST_CASSANDRA_PORT', 'CASSETTE_TEST_CASSANDRA_DC',
  'CASSETTE_TEST_SECURE_CASSANDRA_HOST', 'CASSETTE_TEST_SECURE_CASSANDRA_PORT', 'CASSETTE_TEST_SECURE_CASSANDRA_DC',
  'CASSETTE_TEST_SECURE_CASSANDRA_USERNAME', 'CASSETTE_TEST_SECURE_CASSANDRA_PASSWORD_FILE', 'CASSETTE_TEST_SECURE_CASSANDRA_CA',
  'CASSETTE_TEST_SECOND_CASSANDRA_HOST', 'CASSETTE_TEST_SECOND_CASSANDRA_PORT', 'CASSETTE_TEST_SECOND_CASSANDRA_DC',
  'CASSETTE_TEST_CLUSTER_HOSTS', 'CASSETTE_TEST_CLUSTER_PORT', 'CASSETTE_TEST_CLUSTER_DC', 'CASSETTE_TEST_CLUSTER_DCS',
  'CASSETTE_TEST_C41_CASSANDRA_HOST', 'CASSETTE_TEST_C41_CASSANDRA_PORT', 'CASSETTE_TEST_C41_CASSANDRA_DC',
  'CASSETTE_TEST_S3_ENDPOINT', 'CASSETTE_TEST_S3_BUCKET', 'CASSETTE_TEST_S3_REGION',
  'CASSETTE_TEST_S3_ACCESS_KEY_ID', 'CASSETTE_TEST_S3_SECRET_ACCESS_KEY',
  'CASSETTE_TEST_KMS_ENDPOINT', 'CASSETTE_TEST_KMS_REGION',
  'CASSETTE_TEST_KMS_OLD_ARN', 'CASSETTE_TEST_KMS_NEW_ARN', 'CASSETTE_TEST_KMS_OTHER_ARN',
] as const;

type Env = Readonly<Record<string, string | undefined>>;

/** Settings from an environment, or undefined when any variable is missing. */
export function settingsFromEnv(env: Env): ServiceSettings | undefined {
  if (REQUIRED_VARIABLES.some((name) => !env[name])) return undefined;
  const get = (name: (typeof REQUIRED_VARIABLES)[number]): string => env[name] as string;
  return {
    cassandra: {
      host: get('CASSETTE_TEST_CASSANDRA_HOST'),
      port: Number(get('CASSETTE_TEST_CASSANDRA_PORT')),
      dc: get('CASSETTE_TEST_CASSANDRA_DC'),
    },
    secure: {
      host: get('CASSETTE_TEST_SECURE_CASSANDRA_HOST'),
      port: Number(get('CASSETTE_TEST_SECURE_CASSANDRA_PORT')),
      dc: get('CASSETTE_TEST_SECURE_CASSANDRA_DC'),
      username: get('CASSETTE_TEST_SECURE_CASSANDRA_USERNAME'),
      passwordFile: get('CASSETTE_TEST_SECURE_CASSANDRA_PASSWORD_FILE'),
      ca: get('CASSETTE_TEST_SECURE_CASSANDRA_CA'),
    },
    second: {
      host: get('CASSETTE_TEST_SECOND_CASSANDRA_HOST'),
      port: Number(get('CASSETTE_TEST_SECOND_CASSANDRA_PORT')),
      dc: get('CASSETTE_TEST_SECOND_CASSANDRA_DC'),
    },
    cluster: {
      hosts: get('CASSETTE_TEST_CLUSTER_HOSTS').split(','),
      port: Number(get('CASSETTE_TEST_CLUSTER_PORT')),
      dc: get('CASSETTE_TEST_CLUSTER_DC'),
      dcs: get('CASSETTE_TEST_CLUSTER_DCS').split(','),
    },
    c41: {
      host: get('CASSETTE_TEST_C41_CASSANDRA_HOST'),
      port: Number(get('CASSETTE_TEST_C41_CASSANDRA_PORT')),
      dc: get('CASSETTE_TEST_C41_CASSANDRA_DC'),
    },
    s3: {
      endpoint: get('CASSETTE_TEST_S3_ENDPOINT'),
      bucket: get('CASSETTE_TEST_S3_BUCKET'),
      region: get('CASSETTE_TEST_S3_REGION'),
      accessKeyId: get('CASSETTE_TEST_S3_ACCESS_KEY_ID'),
      secretAccessKey: get('CASSETTE_TEST_S3_SECRET_ACCESS_KEY'),
    },
    kms: {
      endpoint: get('CASSETTE_TEST_KMS_ENDPOINT'),
      region: get('CASSETTE_TEST_KMS_REGION'),
      oldArn: get('CASSETTE_TEST_KMS_OLD_ARN'),
      newArn: get('CASSETTE_TEST_KMS_NEW_ARN'),
      otherArn: get('CASSETTE_TEST_KMS_OTHER_ARN'),
    },
  };
}
