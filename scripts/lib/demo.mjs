// The demo: a small sample keyspace in the local Cassandra, backed up by `cassette backup` into
// MinIO, then `cassette list`. Later issues grow this into backup → rekey → verify → restore.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import cassandra from 'cassandra-driver';

const env = process.env;
const ks = 'cassette_demo';
const host = env.CASSETTE_TEST_CASSANDRA_HOST;
const port = env.CASSETTE_TEST_CASSANDRA_PORT;
const dc = env.CASSETTE_TEST_CASSANDRA_DC;

const client = new cassandra.Client({ contactPoints: [`${host}:${port}`], localDataCenter: dc });
await client.connect();
const local = (await client.execute('SELECT cluster_name, release_version FROM system.local')).first();
console.log(`Cassandra: cluster "${local.get('cluster_name')}", Apache Cassandra ${local.get('release_version')}, datacenter ${dc}, at ${host}:${port}`);
console.log(`S3:        bucket "${env.CASSETTE_TEST_S3_BUCKET}" at ${env.CASSETTE_TEST_S3_ENDPOINT} (MinIO)`);

// A sample keyspace: accounts with an encrypted column, as applications keep them.
await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
await client.execute(`CREATE TABLE IF NOT EXISTS ${ks}.accounts (id uuid PRIMARY KEY, email text, secret blob, key_version int, tags set<text>)`);
await client.execute(`CREATE TABLE IF NOT EXISTS ${ks}.sessions (account uuid, started timestamp, ip inet, PRIMARY KEY (account, started)) WITH default_time_to_live = 86400`);
const existing = (await client.execute(`SELECT count(*) FROM ${ks}.accounts`)).first().get('count');
if (Number(existing) === 0) {
  const accounts = Array.from({ length: 2000 }, (_, i) => [randomUUID(), `user${i}@example.com`, randomBytes(64), 1, [`tier${i % 3}`]]);
  await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${ks}.accounts (id, email, secret, key_version, tags) VALUES (?, ?, ?, ?, ?)`, accounts, { concurrencyLevel: 32 });
  const sessions = accounts.slice(0, 500).map(([id], i) => [id, new Date(Date.now() - i * 1000), '10.0.0.' + (i % 250)]);
  await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${ks}.sessions (account, started, ip) VALUES (?, ?, ?)`, sessions, { concurrencyLevel: 32 });
}
await client.shutdown();
console.log(`\nSample keyspace ${ks}: accounts (uuid key, encrypted blob, set), sessions (clustered, default TTL)\n`);

const repo = `s3://${env.CASSETTE_TEST_S3_BUCKET}/demo`;
const cliEnv = {
  ...env,
  AWS_ACCESS_KEY_ID: env.CASSETTE_TEST_S3_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY: env.CASSETTE_TEST_S3_SECRET_ACCESS_KEY,
  AWS_REGION: env.CASSETTE_TEST_S3_REGION,
};
const common = ['--repo', repo, '--s3-endpoint', env.CASSETTE_TEST_S3_ENDPOINT];
const run = (args) => {
  console.log(`$ cassette ${args.join(' ')}`);
  process.stdout.write(execFileSync(process.execPath, ['bin/cassette.js', ...args], { env: cliEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
  console.log('');
};
run(['backup', ...common, '--keyspace', ks, '--hosts', host, '--port', port, '--dc', dc]);
run(['list', ...common]);
console.log('The services keep running; `scripts/services down` stops them.');
