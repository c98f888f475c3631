// The demo: a small sample keyspace in the local Cassandra whose accounts hold two Fernet-encrypted
// columns, backed up by `cassette backup` into MinIO, re-encrypted under a new key by `cassette
// rekey` into a new backup, restored from that one into a new keyspace with `cassette restore
// --verify`, and then checked cell by cell against the original: the rotated values open under the
// new key (and no longer under the old one) to the same plaintexts, one microsecond later; every
// other value, WRITETIME and TTL is as it was. The keys are throwaway ones made for this run; they
// are handed to cassette through the environment and never printed.
import { execFileSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cassandra from 'cassandra-driver';

const env = process.env;
const ks = 'cassette_demo';
const host = env.CASSETTE_TEST_CASSANDRA_HOST;
const port = env.CASSETTE_TEST_CASSANDRA_PORT;
const dc = env.CASSETTE_TEST_CASSANDRA_DC;

// Fernet as the sample application uses it (https://github.com/fernet/spec): a key is url-safe
// base64 of 32 bytes (16 to sign, 16 to encrypt); a token is 0x80, 8 bytes of time, a 16-byte IV,
// the AES-128-CBC ciphertext and an HMAC-SHA256 over all of that, in url-safe base64.
const newFernetKey = () => `${randomBytes(32).toString('base64url')}=`;
function fernetEncrypt(key, plaintext) {
  const raw = Buffer.from(key, 'base64url');
  const header = Buffer.alloc(25);
  header[0] = 0x80;
  header.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000)), 1);
  randomBytes(16).copy(header, 9);
  const cipher = createCipheriv('aes-128-cbc', raw.subarray(16), header.subarray(9));
  const signed = Buffer.concat([header, cipher.update(plaintext), cipher.final()]);
  const token = Buffer.concat([signed, createHmac('sha256', raw.subarray(0, 16)).update(signed).digest()]).toString('base64url');
  return token.padEnd(Math.ceil(token.length / 4) * 4, '=');
}
/** The plaintext, or undefined when the key does not open the token. */
function fernetDecrypt(key, token) {
  const raw = Buffer.from(key, 'base64url');
  const data = Buffer.from(token, 'base64url');
  if (data.length < 73 || data[0] !== 0x80) return undefined;
  const signedEnd = data.length - 32;
  const mac = createHmac('sha256', raw.subarray(0, 16)).update(data.subarray(0, signedEnd)).digest();
  if (!timingSafeEqual(mac, data.subarray(signedEnd))) return undefined;
  const decipher = createDecipheriv('aes-128-cbc', raw.subarray(16), data.subarray(9, 25));
  return Buffer.concat([decipher.update(data.subarray(25, signedEnd)), decipher.final()]);
}

const client = new cassandra.Client({ contactPoints: [`${host}:${port}`], localDataCenter: dc });
await client.connect();
const local = (await client.execute('SELECT cluster_name, release_version FROM system.local')).first();
console.log(`Cassandra: cluster "${local.get('cluster_name')}", Apache Cassandra ${local.get('release_version')}, datacenter ${dc}, at ${host}:${port}`);
console.log(`S3:        bucket "${env.CASSETTE_TEST_S3_BUCKET}" at ${env.CASSETTE_TEST_S3_ENDPOINT} (MinIO)`);

// Throwaway keys for this run. The sample keyspace is made afresh with values sealed under the
// old key, so each run starts from data that the old key opens.
const oldKey = newFernetKey();
const newKey = newFernetKey();
await client.execute(`DROP KEYSPACE IF EXISTS ${ks}`);
await client.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
await client.execute(`CREATE TABLE ${ks}.accounts (id uuid PRIMARY KEY, email text, ssn text, secret blob, key_version int, tags set<text>)`);
await client.execute(`CREATE TABLE ${ks}.sessions (account uuid, started timestamp, ip inet, PRIMARY KEY (account, started)) WITH default_time_to_live = 86400`);
const accounts = Array.from({ length: 2000 }, (_, i) => {
  const ssn = `9${String(i % 100).padStart(2, '0')}-${String((i * 7) % 100).padStart(2, '0')}-${String((i * 37) % 10_000).padStart(4, '0')}`; // fake: 9xx is never issued
  return [randomUUID(), `user${i}@example.com`, fernetEncrypt(oldKey, Buffer.from(ssn)), Buffer.from(fernetEncrypt(oldKey, randomBytes(32)), 'latin1'), 1, [`tier${i % 3}`]];
});
await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${ks}.accounts (id, email, ssn, secret, key_version, tags) VALUES (?, ?, ?, ?, ?, ?)`, accounts, { concurrencyLevel: 32 });
const sessions = accounts.slice(0, 500).map(([id], i) => [id, new Date(Date.now() - i * 1000), `10.0.0.${i % 250}`]);
await cassandra.concurrent.executeConcurrent(client, `INSERT INTO ${ks}.sessions (account, started, ip) VALUES (?, ?, ?)`, sessions, { concurrencyLevel: 32 });
await client.shutdown();
console.log(`\nSample keyspace ${ks}: accounts (uuid key, Fernet-encrypted ssn text and secret blob under a throwaway old key, key_version 1, a set), sessions (clustered, default TTL)\n`);

const repo = `s3://${env.CASSETTE_TEST_S3_BUCKET}/demo`;
const work = mkdtempSync(join(tmpdir(), 'cassette-demo-'));
// The rotation config names the keys' environment variables, never the keys.
const config = join(work, 'rekey.yaml');
writeFileSync(config, [
  `cluster: {contact_points: ["${host}:${port}"], local_dc: ${dc}, keyspace: ${ks}}`,
  'provider: {type: fernet, old_key_env: DEMO_OLD_KEY, new_key_env: DEMO_NEW_KEY, old_key_version: "1", new_key_version: "2"}',
  'tables:',
  '  - name: accounts',
  '    encrypted_columns: [ssn, secret]',
  '',
].join('\n'));
const cliEnv = {
  ...env,
  AWS_ACCESS_KEY_ID: env.CASSETTE_TEST_S3_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY: env.CASSETTE_TEST_S3_SECRET_ACCESS_KEY,
  AWS_REGION: env.CASSETTE_TEST_S3_REGION,
  DEMO_OLD_KEY: oldKey,
  DEMO_NEW_KEY: newKey,
};
const common = ['--repo', repo, '--s3-endpoint', env.CASSETTE_TEST_S3_ENDPOINT];
const run = (args) => {
  console.log(`$ cassette ${args.join(' ')}`);
  const out = execFileSync('bin/cassette.js', args, { env: cliEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (!args.includes('--json')) process.stdout.write(`${out}\n`);
  return out;
};
const connection = ['--hosts', host, '--port', port, '--dc', dc];
const backup = JSON.parse(run(['backup', ...common, '--keyspace', ks, ...connection, '--json']));
console.log(`backup ${backup.backupId}: ${backup.rows} rows in ${backup.chunks} chunks\n`);
const rekeyOut = run(['rekey', backup.backupId, '--config', config, ...common]);
rmSync(work, { recursive: true, force: true });
const rotatedId = /new backup (\S+)/.exec(rekeyOut)?.[1];
if (rotatedId === undefined) throw new Error('demo: the rekey did not name its new backup');
run(['list', ...common]);
const target = `${ks}_restored_${Date.now().toString(36)}`;
run(['restore', rotatedId, ...common, '--target-keyspace', target, ...connection, '--verify']);

// Compare the restored keyspace with the original, cell by cell: values, WRITETIME and TTL. The
// encrypted columns are compared by what they decrypt to: under the old key in the original, under
// the new key (and not the old) in the restored keyspace, written 1 µs after the original.
const check = new cassandra.Client({ contactPoints: [`${host}:${port}`], localDataCenter: dc });
await check.connect();
const read = async (keyspace, table, columns) => {
  const select = columns.flatMap((c) => [c, `WRITETIME(${c})`, `TTL(${c})`]).join(', ');
  const key = table === 'accounts' ? 'id' : 'account, started';
  const rows = (await check.execute(`SELECT ${key}, ${select} FROM ${keyspace}.${table}`, [], { fetchSize: 10000 })).rows;
  return new Map(rows.map((r) => {
    const values = r.values();
    const keys = key.split(',').length;
    return [values.slice(0, keys).map(String).join('/'), columns.map((_, i) => values.slice(keys + 3 * i, keys + 3 * i + 3))];
  }));
};
const text = (value) => (Buffer.isBuffer(value) ? value.toString('latin1') : String(value));
const sameTtl = (a, b) => (a === null ? b === null : b !== null && Math.abs(a - b) <= 2);
let cells = 0;
let rotated = 0;
let differences = 0;
const shown = [];
const encrypted = ['ssn', 'secret'];
for (const [table, columns] of [['accounts', ['email', 'ssn', 'secret', 'key_version', 'tags']], ['sessions', ['ip']]]) {
  const [a, b] = [await read(ks, table, columns), await read(target, table, columns)];
  if (a.size !== b.size) differences++;
  for (const [k, row] of a) {
    const other = b.get(k);
    row.forEach(([value, writetime, ttl], i) => {
      const column = columns[i];
      const [value2, writetime2, ttl2] = other?.[i] ?? [];
      cells++;
      let same;
      if (encrypted.includes(column)) {
        rotated++;
        const plaintext = fernetDecrypt(oldKey, text(value));
        const opened = fernetDecrypt(newKey, text(value2));
        const stillOld = fernetDecrypt(oldKey, text(value2)) !== undefined;
        same = plaintext !== undefined && opened !== undefined && !stillOld && opened.equals(plaintext) && BigInt(String(writetime2)) === BigInt(String(writetime)) + 1n;
        if (shown.length < 3 && column === 'ssn') {
          const mark = (ok) => (ok ? '✓' : '✗');
          shown.push(`ssn of account ${k}: decrypts under the new key ${mark(opened !== undefined && plaintext !== undefined && opened.equals(plaintext))}, ` +
            `no longer under the old key ${mark(!stillOld)}, WRITETIME +1 µs ${mark(BigInt(String(writetime2)) - BigInt(String(writetime)) === 1n)}`);
        }
      } else if (column === 'key_version') {
        same = value === 1 && value2 === 2;
      } else {
        same = JSON.stringify(value) === JSON.stringify(value2) && String(writetime) === String(writetime2);
      }
      if (!same || !sameTtl(ttl, ttl2)) differences++;
    });
  }
}
await check.execute(`DROP KEYSPACE ${target}`);
await check.shutdown();
console.log(shown.join('\n'));
console.log(differences === 0
  ? `The restored keyspace matches the original: ${cells.toLocaleString('en-US')} values compared; the ${rotated.toLocaleString('en-US')} encrypted values open under the new key only, to the same plaintexts, 1 µs later, key_version 1 → 2; every other value, WRITETIME and TTL is unchanged.`
  : `The restored keyspace DIFFERS from the original in ${differences} of ${cells.toLocaleString('en-US')} comparisons.`);
console.log('The services keep running; `scripts/services down` stops them.');
if (differences !== 0) process.exit(1);
