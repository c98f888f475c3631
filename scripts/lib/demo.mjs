// What the demo shows for now: the cluster and the bucket it found. Later issues grow this into
// backup → rekey → verify → restore.
import { HeadBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import cassandra from 'cassandra-driver';

const env = process.env;
const client = new cassandra.Client({
  contactPoints: [`${env.CASSETTE_TEST_CASSANDRA_HOST}:${env.CASSETTE_TEST_CASSANDRA_PORT}`],
  localDataCenter: env.CASSETTE_TEST_CASSANDRA_DC,
});
await client.connect();
const local = (await client.execute('SELECT cluster_name, release_version, data_center, tokens FROM system.local')).first();
const keyspaces = (await client.execute('SELECT keyspace_name FROM system_schema.keyspaces')).rows.map((r) => r.get('keyspace_name'));
await client.shutdown();

const s3 = new S3Client({
  endpoint: env.CASSETTE_TEST_S3_ENDPOINT,
  region: env.CASSETTE_TEST_S3_REGION,
  forcePathStyle: true,
  credentials: { accessKeyId: env.CASSETTE_TEST_S3_ACCESS_KEY_ID, secretAccessKey: env.CASSETTE_TEST_S3_SECRET_ACCESS_KEY },
});
await s3.send(new HeadBucketCommand({ Bucket: env.CASSETTE_TEST_S3_BUCKET }));
const objects = await s3.send(new ListObjectsV2Command({ Bucket: env.CASSETTE_TEST_S3_BUCKET, MaxKeys: 1000 }));
s3.destroy();

console.log(`Cassandra: cluster "${local.get('cluster_name')}", Apache Cassandra ${local.get('release_version')}, ` +
  `datacenter ${local.get('data_center')}, ${local.get('tokens').length} vnode tokens, ` +
  `at ${env.CASSETTE_TEST_CASSANDRA_HOST}:${env.CASSETTE_TEST_CASSANDRA_PORT}`);
console.log(`           keyspaces: ${keyspaces.sort().join(', ')}`);
console.log(`S3:        bucket "${env.CASSETTE_TEST_S3_BUCKET}" at ${env.CASSETTE_TEST_S3_ENDPOINT} (MinIO), ${objects.KeyCount ?? 0} objects`);
console.log('The services keep running; `scripts/services down` stops them.');
