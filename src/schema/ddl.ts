import { doBlock, quoteLiteral, SCHEMA_LOCK_NAMESPACE, type TableNames } from '../sql.js';

/**
 * The table's shape. `table.sql` and `createTableIfMissing` are both generated from here.
 *
 * - `sid text COLLATE "C"`: ids are opaque; byte order makes the primary key cheaper to compare.
 * - `sess json`: the exact text the store wrote comes back (key order, `\u0000` in strings),
 *   writes skip jsonb's conversion, and a 10.x table (also `json`) needs no rewrite to upgrade.
 * - `expire timestamptz`: an instant, the same whatever TimeZone a connection uses.
 * - `fillfactor = 90`: leaves room on each page for updates that stay on the page (HOT).
 */
export const SCHEMA_VERSION = 1;

export const VERSION_MARK = 'connect-pg-simple schema ';

export function versionComment(version: number = SCHEMA_VERSION): string {
  return `${VERSION_MARK}${version}`;
}

/** The schema version recorded on a table; 0 for a table without one (such as one from 10.x). */
export function parseVersionComment(comment: string | null | undefined): number {
  if (!comment?.startsWith(VERSION_MARK)) return 0;
  const version = Number(comment.slice(VERSION_MARK.length));
  return Number.isInteger(version) && version > 0 ? version : 0;
}

/** The statements that create the current version of the table, in order. */
export function createTableStatements(names: TableNames, { ifNotExists = false } = {}): string[] {
  const t = names.qualified;
  const guard = ifNotExists ? 'IF NOT EXISTS ' : '';
  return [
    `CREATE TABLE ${guard}${t} (
  "sid" text COLLATE "C" NOT NULL,
  "sess" json NOT NULL,
  "expire" timestamptz(6) NOT NULL,
  CONSTRAINT ${names.primaryKey} PRIMARY KEY ("sid")
) WITH (fillfactor = 90)`,
    `CREATE INDEX ${guard}${names.expireIndex} ON ${t} ("expire")`,
    `COMMENT ON TABLE ${t} IS ${quoteLiteral(versionComment())}`,
  ];
}

/** What `table.sql` holds: plain statements for psql or any SQL tool. */
export function tableSqlScript(names: TableNames): string {
  return `${createTableStatements(names)
    .map((s) => `${s};`)
    .join('\n\n')}\n`;
}

/**
 * One statement that creates the table if it is missing. Two processes running it at once
 * serialize on an advisory lock, so neither fails on the other's half-made table. (The lock does
 * not refresh the catalog cache that to_regclass reads, hence IF NOT EXISTS as well.)
 */
export function createTableIfMissingStatement(names: TableNames): string {
  const lockKey = quoteLiteral(names.qualified);
  return doBlock(`  PERFORM pg_advisory_xact_lock(${SCHEMA_LOCK_NAMESPACE}, hashtext(${lockKey}));
  IF to_regclass(${lockKey}) IS NULL THEN
${createTableStatements(names, { ifNotExists: true })
  .map((s) => `    ${s.replaceAll('\n', '\n    ')};`)
  .join('\n')}
  END IF;`);
}
