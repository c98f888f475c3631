/**
 * The rotation config's `tables` (cassandra-rekey's table settings): each table's schema, its
 * consistency levels (any case, with did-you-mean), and its normalization into a
 * {@link TableRotation} with the checks that span columns — no table listed twice, no column
 * repeated, encrypted columns neither key columns nor the key-version column, the LWT guard only
 * with a key-version column.
 */
import { z } from 'zod';
import { CONSISTENCY_NAMES, type ConsistencyLevels } from '../cassandra/connection/options.js';
import { echo, nearest, type Path, type Problem } from './config-problems.js';
import type { TableRotation } from './rotation-types.js';
import { flag, integer, nameList, section, text } from './setting-parts.js';

const CONSISTENCY_EXPECTED = `expected a consistency level (${CONSISTENCY_NAMES.join(', ')})`;
const consistency = z
  .string({ error: CONSISTENCY_EXPECTED })
  .refine((level) => (CONSISTENCY_NAMES as readonly string[]).includes(level.toUpperCase()), {
    error: (issue) => {
      const near = typeof issue.input === 'string' ? nearest(issue.input.toUpperCase(), CONSISTENCY_NAMES) : undefined;
      return `${CONSISTENCY_EXPECTED}, got ${echo(issue.input)}${near === undefined ? '' : ` (did you mean ${near}?)`}`;
    },
  })
  .transform((level) => level.toUpperCase());

/** One entry of `tables`, as written. */
export const tableSchema = section(
  {
    name: text('expected the table name'),
    partition_key: nameList('expected a non-empty list of column names', 1).optional(),
    clustering_key: nameList('expected a list of column names', 0).optional(),
    encrypted_columns: nameList('expected a non-empty list of column names', 1),
    chunks: integer('expected a positive integer', 1, Number.MAX_SAFE_INTEGER).optional(),
    preserve_ttl: flag.default(true),
    preserve_writetime: flag.default(true),
    use_lwt_guard: flag.default(false),
    consistency: section({ read: consistency.optional(), write: consistency.optional() }, 'expected {read: LEVEL, write: LEVEL}').optional(),
  },
  'expected a table: {name: NAME, encrypted_columns: [COLUMN, …]}',
);

type RawTable = z.output<typeof tableSchema>;

/** The tables, normalized; problems that span columns or tables go to `problems`. */
export function normalizeTables(tables: readonly RawTable[], keyVersionColumn: string | null, problems: Problem[]): TableRotation[] {
  const firstByName = new Map<string, number>();
  return tables.map((t, i) => {
    const at: Path = ['tables', i];
    const problem = (path: Path, message: string): void => void problems.push({ path, message });
    const earlier = firstByName.get(t.name);
    if (earlier !== undefined) problem([...at, 'name'], `table ${t.name} is already listed at tables[${earlier}]`);
    else firstByName.set(t.name, i);

    const keyColumns = new Map<string, string>();
    for (const part of ['partition_key', 'clustering_key'] as const) {
      (t[part] ?? []).forEach((column, j) => {
        const already = keyColumns.get(column);
        if (already !== undefined) problem([...at, part, j], `${column} is already in ${already}`);
        else keyColumns.set(column, part);
        if (column === keyVersionColumn) problem([...at, part, j], `${column} is the key-version column (key_version_column): rotation writes it, so it cannot be a key column`);
      });
    }
    const encrypted = new Set<string>();
    t.encrypted_columns.forEach((column, j) => {
      const path = [...at, 'encrypted_columns', j];
      const inKey = keyColumns.get(column);
      if (encrypted.has(column)) problem(path, `${column} is listed twice`);
      else if (inKey !== undefined) problem(path, `${column} is in ${inKey}: rotating a key column needs copy-and-swap, which is out of scope`);
      else if (column === keyVersionColumn) problem(path, `${column} is the key-version column (key_version_column); it holds key versions and cannot be encrypted`);
      encrypted.add(column);
    });
    if (t.use_lwt_guard && keyVersionColumn === null) {
      problem([...at, 'use_lwt_guard'], 'the guard compares the key-version column, but key_version_column is null');
    }
    return {
      name: t.name,
      ...(t.partition_key === undefined ? {} : { partitionKey: t.partition_key }),
      ...(t.clustering_key === undefined ? {} : { clusteringKey: t.clustering_key }),
      encryptedColumns: t.encrypted_columns,
      ...(t.chunks === undefined ? {} : { chunks: t.chunks }),
      preserveTtl: t.preserve_ttl,
      preserveWritetime: t.preserve_writetime,
      useLwtGuard: t.use_lwt_guard,
      consistency: {
        ...(t.consistency?.read === undefined ? {} : { read: t.consistency.read }),
        ...(t.consistency?.write === undefined ? {} : { write: t.consistency.write }),
      },
    };
  });
}

/**
 * The levels a table is read and written at: its `consistency` in the config, else the
 * connection's (--consistency, CASSETTE_CONSISTENCY, LOCAL_QUORUM) — docs/config.md.
 */
export function tableLevels(table: Pick<TableRotation, 'consistency'>, levels: Pick<ConsistencyLevels, 'consistency'>): { read: string; write: string } {
  return { read: table.consistency.read ?? levels.consistency, write: table.consistency.write ?? levels.consistency };
}
