import { S3Client, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { readFileSync } from 'node:fs';
const c = JSON.parse(readFileSync('/tmp/outage-svc/minio/credentials.json', 'utf8'));
const s3 = new S3Client({ endpoint: 'http://127.0.0.1:11300', region: 'us-east-1', forcePathStyle: true, credentials: c });
let token, n = 0, m = 0, prefixes = new Map();
do {
  const r = await s3.send(new ListObjectsV2Command({ Bucket: 'cassette-test', ContinuationToken: token }));
  for (const o of r.Contents ?? []) { if (o.Key.includes('cassandra-backup')) { n++; if (/\/ranges\/.*\.json$/.test(o.Key)) m++; if (o.Key.endsWith('manifest.json')) console.log('manifest', o.Key); const p = o.Key.split('/')[0]; prefixes.set(p, (prefixes.get(p)??0)+1);} }
  token = r.NextContinuationToken;
} while (token);
console.log('objects', n, 'markers', m, [...prefixes]);
