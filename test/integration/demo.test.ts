import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('the README demo command', () => {
  it('backs up a sample keyspace into MinIO and lists it', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const r = spawnSync('scripts/demo', [], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Cassandra: cluster "cassette-test", Apache Cassandra 5\.0\.\d+/);
    expect(r.stdout).toMatch(/S3: +bucket "cassette-test"/);
    expect(r.stdout).toMatch(/backup \S+ complete: keyspace cassette_demo, 2 tables/);
    expect(r.stdout).toMatch(/complete +cassette_demo +accounts,sessions/);
  });
});
