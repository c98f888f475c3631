// The issue-12 dataset: a typical encrypted-column table. Composite partition key (uuid, bigint), a
// timestamp clustering key, two blob columns holding ~120-byte Fernet tokens, a 60-character text, a
// double and a text key_version; every cell written with its own WRITETIME, 10% of rows with a TTL
// (7 days: it outlives any run). Written with cassandra-driver: prepared statements, one unlogged
// single-partition batch per ROWS_PER_PARTITION rows, many batches in flight.
import { createHash, randomBytes } from 'node:crypto';

export const TABLE = 'events';
export const ROWS_PER_PARTITION = 5;
export const TTL_SECONDS = 7 * 24 * 3600;
export const ENCRYPTED_COLUMNS = ['secret', 'card'];
const IN_FLIGHT = 48;
const BASE_TS = 1_760_000_000_000_000n; // µs
const BASE_AT = 1_760_000_000_000; // ms

export const tableCql = (keyspace) => `CREATE TABLE IF NOT EXISTS ${keyspace}.${TABLE} (id uuid, shard bigint, at timestamp, secret blob, card blob, ` +
  `note text, amount double, key_version text, PRIMARY KEY ((id, shard), at))`;

/** Creates `keyspace` (SimpleStrategy RF 1) and the table; waits for schema agreement. */
export async function createTable(client, keyspace) {
  await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
  await client.execute(tableCql(keyspace));
}

/** A fresh pair of Fernet keys (url-safe base64 of 32 bytes, padded, as Python's Fernet wants). */
export const newFernetKey = () => `${randomBytes(32).toString('base64url')}=`;

/** Writes `rows` rows into `keyspace.events`, values encrypted with `oldKey` (key_version 'v1'). */
export async function generateRows(client, keyspace, rows, oldKey, { fernetKey, sealFernetToken }, onProgress = () => {}) {
  const key = fernetKey(Buffer.from(oldKey, 'base64url'), 'v1');
  const seconds = Math.floor(Date.now() / 1000);
  const token = (text) => sealFernetToken(key, Buffer.from(text), seconds, randomBytes(16)); // the token's ASCII bytes
  const where = 'WHERE id = ? AND shard = ? AND at = ?';
  const using = 'USING TIMESTAMP ? AND TTL ?';
  const [insert, setCard, setNote, setAmount] = [
    `INSERT INTO ${keyspace}.${TABLE} (id, shard, at, secret, key_version) VALUES (?, ?, ?, ?, ?) ${using}`,
    `UPDATE ${keyspace}.${TABLE} ${using} SET card = ? ${where}`,
    `UPDATE ${keyspace}.${TABLE} ${using} SET note = ? ${where}`,
    `UPDATE ${keyspace}.${TABLE} ${using} SET amount = ? ${where}`,
  ];
  const partitions = Math.ceil(rows / ROWS_PER_PARTITION);
  let next = 0;
  let written = 0;
  const worker = async () => {
    while (next < partitions) {
      const p = next++;
      const h = createHash('md5').update(`benchp-${p}`).digest('hex');
      const id = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
      const shard = BigInt(p % 1024);
      const queries = [];
      for (let j = 0; j < ROWS_PER_PARTITION; j++) {
        const i = p * ROWS_PER_PARTITION + j;
        if (i >= rows) break;
        const at = new Date(BASE_AT + j * 60_000);
        const ttl = i % 10 === 0 ? TTL_SECONDS : 0;
        const t = BASE_TS + BigInt(i) * 10n;
        const keyParams = [id, shard, at];
        queries.push(
          { query: insert, params: [id, shard, at, token(`acct-${String(i).padStart(12, '0')}`), 'v1', t, ttl] },
          { query: setCard, params: [t + 1n, ttl, token(`4111-${String(i % 10000).padStart(4, '0')}-${String(i).padStart(10, '0')}`), ...keyParams] },
          { query: setNote, params: [t + 2n, ttl, `note ${String(i).padStart(10, '0')} ${'x'.repeat(44)}`, ...keyParams] },
          { query: setAmount, params: [t + 3n, ttl, i * 1.25, ...keyParams] },
        );
      }
      await client.batch(queries, { prepare: true, logged: false });
      written += queries.length / 4;
      if (p % 2000 === 0) onProgress(written);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return written;
}

/** Rows of `keyspace.events` whose key_version is not `version`, and all rows (a full scan). */
export async function countKeyVersions(client, keyspace, version) {
  let rows = 0;
  let other = 0;
  for await (const row of client.stream(`SELECT key_version FROM ${keyspace}.${TABLE}`, [], { prepare: true, fetchSize: 5000 })) {
    rows++;
    if (row.key_version !== version) other++;
  }
  return { rows, other };
}
