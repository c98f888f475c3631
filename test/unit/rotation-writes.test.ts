import { describe, expect, it } from 'vitest';
import { rotationWriterFor, type RotatedRow } from '../../src/cassandra/writes/rotation-writes.js';
import { tableSchema } from '../support/synthetic-backup.js';
import { withFreshTtls, type WriteStatement } from '../../src/cassandra/writes/statement.js';

const table = tableSchema('users', [['tenant', 'text', 'partition_key'], ['id', 'int', 'partition_key'], ['at', 'int', 'clustering'],
  ['email', 'text', 'regular'], ['key_version', 'text', 'regular'], ['ssn', 'blob', 'regular']]);
const conditionColumns = ['ssn', 'email', 'key_version'];
const NOW = 1_000_000;

const row: RotatedRow & { p: Record<string, string> } = {
  k: ['t', 1, 5],
  c: {
    ssn: { v: Buffer.from('new-ssn').toString('base64'), t: 101, e: NOW + 50 },
    email: { v: 'new-mail', t: 201 },
    key_version: { v: '2', t: 201 },
  },
  p: { ssn: Buffer.from('old-ssn').toString('base64'), email: 'old-mail', key_version: '1' },
};

describe('rotationWriterFor', () => {
  it('timestamp guard: one UPDATE per (writetime, expiry) group with the stored timestamp and remaining TTL, never an INSERT', () => {
    const writer = rotationWriterFor('ks', table, [], { guard: 'timestamp', preserveTtl: true, preserveWritetime: true, conditionColumns });
    const plan = writer.planRow(row, NOW);
    // Cells in the table's column order, grouped by (writetime, expiry).
    expect(plan.statements.map((s) => s.cql)).toEqual([
      'UPDATE "ks"."users" USING TIMESTAMP ? AND TTL ? SET "email" = ?, "key_version" = ? WHERE "tenant" = ? AND "id" = ? AND "at" = ?',
      'UPDATE "ks"."users" USING TIMESTAMP ? AND TTL ? SET "ssn" = ? WHERE "tenant" = ? AND "id" = ? AND "at" = ?',
    ]);
    expect(plan.statements[0]?.params).toEqual([201n, 0, 'new-mail', '2', 't', 1, 5]);
    expect(plan.statements[1]?.params).toEqual([101n, 50, Buffer.from('new-ssn'), 't', 1, 5]);
    expect(plan.statements.every((s) => s.idempotent && !s.conditional)).toBe(true);
    // Sent 20 s later, the TTL is what is left then; TTL 0 (no expiry) stays 0.
    expect(withFreshTtls(plan.statements[1] as WriteStatement, NOW + 20).params).toEqual([101n, 30, Buffer.from('new-ssn'), 't', 1, 5]);
    expect(withFreshTtls(plan.statements[0] as WriteStatement, NOW + 20).params[1]).toBe(0);
    const lwt = rotationWriterFor('ks', table, [], { guard: 'lwt', preserveTtl: true, preserveWritetime: true, conditionColumns }).planRow(row, NOW);
    expect(withFreshTtls(lwt.statements[1] as WriteStatement, NOW + 20).params[0]).toBe(30);
  });

  it('preserve_ttl / preserve_writetime false leave USING TTL / TIMESTAMP out', () => {
    const writer = rotationWriterFor('ks', table, [], { guard: 'timestamp', preserveTtl: false, preserveWritetime: false, conditionColumns });
    const [first] = writer.planRow(row, NOW).statements;
    expect(first?.cql).toBe('UPDATE "ks"."users" SET "email" = ?, "key_version" = ? WHERE "tenant" = ? AND "id" = ? AND "at" = ?');
  });

  it('lwt guard: conditions on the exported key version and ciphertexts, one statement per expiry, the IF on the first', () => {
    const writer = rotationWriterFor('ks', table, [], { guard: 'lwt', preserveTtl: true, preserveWritetime: true, conditionColumns });
    const plan = writer.planRow(row, NOW);
    expect(plan.statements.map((s) => s.cql)).toEqual([
      'UPDATE "ks"."users" USING TTL ? SET "email" = ?, "key_version" = ? WHERE "tenant" = ? AND "id" = ? AND "at" = ? IF "ssn" = ? AND "email" = ? AND "key_version" = ?',
      'UPDATE "ks"."users" USING TTL ? SET "ssn" = ? WHERE "tenant" = ? AND "id" = ? AND "at" = ?',
    ]);
    expect(plan.statements[0]?.params).toEqual([0, 'new-mail', '2', 't', 1, 5, Buffer.from('old-ssn'), 'old-mail', '1']);
    expect(plan.statements.every((s) => s.conditional)).toBe(true);
  });

  it('lwt guard: an exported null is a null condition; expired cells are skipped and counted', () => {
    const writer = rotationWriterFor('ks', table, [], { guard: 'lwt', preserveTtl: true, preserveWritetime: true, conditionColumns });
    const nulls: RotatedRow = { ...row, p: { ssn: row.p.ssn ?? null, email: null, key_version: null } };
    const plan = writer.planRow(nulls, NOW + 60);
    expect(plan.expiredCells).toBe(1);
    expect(plan.statements).toHaveLength(1);
    expect(plan.statements[0]?.params.slice(-3)).toEqual([Buffer.from('old-ssn'), null, null]);
  });

  it('binds the primary key for reading a raced row back', () => {
    const writer = rotationWriterFor('ks', table, [], { guard: 'lwt', preserveTtl: true, preserveWritetime: true, conditionColumns });
    expect(writer.readBackCql).toBe('SELECT "ssn", "email", "key_version" FROM "ks"."users" WHERE "tenant" = ? AND "id" = ? AND "at" = ?');
    expect(writer.keyParams(row)).toEqual(['t', 1, 5]);
  });
});
