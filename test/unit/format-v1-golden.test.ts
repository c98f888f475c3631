/**
 * The format-version-1 golden fixture (test/fixtures/format-v1, made by make-fixture.mjs from a
 * real Cassandra 5.0) must stay readable by every later build: documents validate, chunks match
 * their checksums, every cell decodes, and re-encoding a decoded value gives the stored JSON back.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeCell } from '../../src/cassandra/values/cell-codec.js';
import { parseCqlType } from '../../src/cassandra/values/cql-type.js';
import { encodeValue, type JsonValue } from '../../src/cassandra/values/value-codec.js';
import { FORMAT_VERSION, Manifest, parseDocument } from '../../src/manifest/format.js';
import { chunkKey, schemaCqlKey } from '../../src/manifest/keys.js';
import { listBackups, readHeader, readManifest } from '../../src/manifest/repository.js';
import { readChunkRows, verifyChunk } from '../../src/pipeline/chunks/read-chunk.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { CassetteError } from '../../src/errors.js';

const root = fileURLToPath(new URL('../fixtures/format-v1/repo', import.meta.url));
const store = new FsStore(root);
const backupId = readdirSync(`${root}/backups`)[0] as string;

interface Row { k: JsonValue[]; c: Record<string, { v: JsonValue; t: JsonValue; e?: JsonValue }> }

async function allRows(): Promise<Map<string, Row[]>> {
  const manifest = await readManifest(store, backupId);
  const rows = new Map<string, Row[]>();
  for (const table of manifest?.tables ?? []) {
    const list: Row[] = [];
    for (const range of table.ranges) {
      for (const chunk of range.chunks) {
        for await (const batch of readChunkRows(store, chunkKey(backupId, chunk.key), chunk, chunk.key)) list.push(...(batch as Row[]));
      }
    }
    rows.set(table.name, list);
  }
  return rows;
}

describe('format version 1 golden fixture', () => {
  it('is a complete backup whose documents validate', async () => {
    expect(FORMAT_VERSION).toBe(1);
    const header = await readHeader(store, backupId);
    const manifest = await readManifest(store, backupId);
    expect(header?.formatVersion).toBe(1);
    expect(manifest?.totals).toMatchObject({ tables: 3, rows: 6 });
    expect(manifest?.keyspace.name).toBe('golden_v1');
    const [summary] = await listBackups(store);
    expect(summary).toMatchObject({ backupId, status: 'complete', rows: 6, tables: ['MixedCase', 'all_types', 'hits'] });
    const schemaCql = readFileSync(`${root}/${schemaCqlKey(backupId)}`, 'utf8');
    expect(schemaCql).toMatch(/^CREATE KEYSPACE golden_v1 /);
    expect(schemaCql).toContain('CREATE TABLE golden_v1."MixedCase"');
  });

  it('has chunks that match their checksums', async () => {
    const manifest = await readManifest(store, backupId);
    for (const table of manifest?.tables ?? []) {
      for (const range of table.ranges) {
        for (const chunk of range.chunks) await verifyChunk(store, chunkKey(backupId, chunk.key), chunk, chunk.key);
      }
    }
  });

  it('decodes every cell, and re-encoding each value gives the stored JSON', async () => {
    const manifest = (await readManifest(store, backupId)) as Manifest;
    const types = manifest.keyspace.types;
    let cells = 0;
    for (const [tableName, rows] of await allRows()) {
      const table = manifest.keyspace.tables.find((t) => t.name === tableName);
      const columnType = new Map(table?.columns.map((c) => [c.name, parseCqlType(c.type, types)]));
      for (const row of rows) {
        for (const [name, cell] of Object.entries(row.c)) {
          const type = columnType.get(name);
          expect(type, `${tableName}.${name}`).toBeDefined();
          const decoded = decodeCell({ type: type as NonNullable<typeof type> }, cell as JsonValue);
          expect(encodeValue(type as NonNullable<typeof type>, decoded.value), `${tableName}.${name}`).toEqual(cell.v);
          cells++;
        }
      }
    }
    expect(cells).toBeGreaterThan(50);
  });

  it('pins the spelling of values', async () => {
    const rows = await allRows();
    const byKey = new Map((rows.get('all_types') ?? []).map((r) => [JSON.stringify(r.k), r]));
    const r1 = byKey.get('[1,1]') as Row;
    expect(r1.c.bi).toEqual({ v: '9223372036854775807', t: 1700000000000000 });
    expect(r1.c.de?.v).toBe('150E-2');
    expect(r1.c.du?.v).toBe('-1mo2d3ns');
    expect(r1.c.fl?.v).toBe('-0');
    expect(r1.c.bl?.v).toBe('yv4A/w==');
    expect(r1.c.md?.v).toEqual([['-0', 1], [0, 2]]);
    expect(r1.c.m).toMatchObject({ v: [[1, 'one'], [2, 'two'], [3, 'three']], t: [1700000000000000, 1700000000000000, 1700000000000005] });
    expect(r1.c.u?.t).toEqual([1700000000000006, 1700000000000000, 1700000000000000]);
    expect(r1.c.tm?.v).toBe(86399999999999);
    expect(r1.c.da?.v).toBe(2147483647);
    expect(byKey.get('[1,2]')?.c.ts?.v).toBe(-2147483647999);
    expect(byKey.get('[2,null]')?.c).toEqual({ st: { v: 'static only', t: 1700000000000007 } });
    expect(byKey.get('[3,1]')?.c).toEqual({});
    expect(rows.get('MixedCase')).toEqual([{ k: ['00000000-0000-0000-0000-000000000001'], c: { Value: { v: 'quoted names', t: 1700000000000009 } } }]);
    expect(rows.get('hits')?.[0]?.c.views?.v).toBe('42');
  });

  it('refuses a document from a newer format version with BACKUP_INVALID', async () => {
    const manifest = await readManifest(store, backupId);
    const future = { ...manifest, formatVersion: FORMAT_VERSION + 1 };
    expect(() => parseDocument(Manifest, future, 'manifest')).toThrow(CassetteError);
    expect(() => parseDocument(Manifest, future, 'manifest')).toThrow(/format version 2; this build of cassette reads up to version 1/);
  });
});
