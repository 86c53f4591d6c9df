import type { Database } from '../drivers/database.js';
import { quoteIdentifier, type TableNames } from '../sql.js';

/** The CLI's own questions to the database: each a statement sent once, never prepared. */

/**
 * The schema an unqualified table name means on this connection: the schema of the table the
 * search_path finds, else the one a CREATE TABLE would use; `undefined` when the search_path
 * names no schema that exists.
 */
export async function resolvedSchema(db: Database, table: string): Promise<string | undefined> {
  const [row] = await db.query(
    {
      name: '',
      text: `SELECT coalesce(
  (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1::text)),
  current_schema()) AS schema`,
    },
    [quoteIdentifier(table)],
  );
  return typeof row?.schema === 'string' ? row.schema : undefined;
}

/** This connection's TimeZone setting. */
export async function connectionTimeZone(db: Database): Promise<string> {
  const [row] = await db.query({ name: '', text: `SELECT current_setting('TimeZone') AS zone` }, []);
  return String(row?.zone);
}

/** Does PostgreSQL know this time zone? */
export async function isKnownTimeZone(db: Database, zone: string): Promise<boolean> {
  try {
    await db.query({ name: '', text: 'SELECT now() AT TIME ZONE $1::text' }, [zone]);
    return true;
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === '22023') return false;
    throw error;
  }
}

/** Sessions a prune would delete now (the prune's own condition), for its progress line. */
export async function expiredSessionCount(db: Database, names: TableNames): Promise<number> {
  const [row] = await db.query(
    { name: '', text: `SELECT count(*)::float8 AS n FROM ${names.qualified} WHERE expire < now()` },
    [],
  );
  return Number(row?.n ?? 0);
}
