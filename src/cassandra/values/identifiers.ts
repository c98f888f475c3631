/** Spelling names and strings as CQL. The one place that knows CQL's quoting rules. */

/**
 * Reserved words that must be quoted to be identifiers: Cassandra 5.0's reserved_keywords.txt plus
 * words reserved in 4.x or trunk (DEFAULT, MBEAN(S), REPLACE, UNSET, CHECK, CONSTRAINT, LENGTH).
 * Quoting a word needlessly is always valid CQL, so the union is safe for any target version.
 */
const RESERVED_WORDS: ReadonlySet<string> = new Set(
  ('ADD ALLOW ALTER AND APPLY ASC AUTHORIZE BATCH BEGIN BY CHECK COLUMNFAMILY CONSTRAINT CREATE DEFAULT '
    + 'DELETE DESC DESCRIBE DROP ENTRIES EXECUTE FROM FULL GRANT IF IN INDEX INFINITY INSERT INTO IS '
    + 'KEYSPACE LENGTH LIMIT MATERIALIZED MBEAN MBEANS MODIFY NAN NORECURSIVE NOT NULL OF ON OR ORDER '
    + 'PRIMARY RENAME REPLACE REVOKE SCHEMA SELECT SET TABLE TO TOKEN TRUNCATE UNLOGGED UNSET UPDATE USE '
    + 'USING VIEW WHERE WITH').split(' '),
);

/** A name as a CQL identifier, always double-quoted (`"Name"`, inner quotes doubled): safe for any name. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * A keyspace, table, column, type, field or index name as CQL spells it: bare when it is lowercase
 * letters, digits and underscores starting with a letter and not a reserved word, otherwise
 * quoted. The inverse of how Cassandra reads identifiers; used where people read the CQL.
 */
export function formatIdentifier(name: string): string {
  return /^[a-z][a-z0-9_]*$/.test(name) && !RESERVED_WORDS.has(name.toUpperCase()) ? name : quoteIdentifier(name);
}

/** A CQL string literal: single quotes, `'` doubled. */
export function quoteString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
