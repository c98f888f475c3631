import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('the README demo command', () => {
  it('backs up a sample keyspace into MinIO, restores it into a new keyspace, and finds them equal', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const r = spawnSync('scripts/demo', [], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Cassandra: cluster "cassette-test", Apache Cassandra 5\.0\.\d+/);
    expect(r.stdout).toMatch(/S3: +bucket "cassette-test"/);
    expect(r.stdout).toMatch(/backup \S+: 2500 rows in \d+ chunks/);
    expect(r.stdout).toMatch(/complete +cassette_demo +accounts,sessions/);
    expect(r.stdout).toMatch(/restore r\S+ of backup \S+ into cassette_demo_restored_\w+ .*complete: 2,500 of 2,500 rows written/);
    expect(r.stdout).toMatch(/The restored keyspace matches the original: \d+ values, WRITETIMEs and TTLs compared, no difference\./);
  });
});
