import { ID_FORM_MARK, idFormComment, type SessionIdForm } from '../session-id.js';
import { doBlock, quoteLiteral, SCHEMA_LOCK_NAMESPACE, type TableNames } from '../sql.js';

/**
 * The table's shape. `table.sql` and `createTableIfMissing` are both generated from here.
 *
 * - `sid text COLLATE "C"`: ids are opaque; byte order makes the primary key cheaper to compare.
 * - `sess json`: the exact text the store wrote comes back (key order, `\u0000` in strings),
 *   writes skip jsonb's conversion, and a 10.x table (also `json`) needs no rewrite to upgrade.
 * - `expire timestamptz`: an instant, the same whatever TimeZone a connection uses.
 * - `created timestamptz` (schema 2): when the session began, for `absoluteTimeout`.
 * - the `sid` column's comment (schema 2) says how ids are stored (see session-id.ts), so that
 *   a store configured otherwise refuses the table instead of missing every session.
 * - `user_id text COLLATE "C"` (schema 3): which user the session belongs to (the `userId`
 *   option), written only when it changes; a partial index finds a user's sessions, and holds
 *   no entry for the many sessions that belong to nobody.
 * - `details json` (schema 3): what `describe` recorded about the device (encrypted like `sess`).
 * - `touched timestamptz` (schema 3): when the row was last written or touched: last activity,
 *   exact to within the lazy-touch window.
 * - `fillfactor = 90`: leaves room on each page for updates that stay on the page (HOT).
 */
export const SCHEMA_VERSION = 3;

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

/** The id form a `sid` column's comment records; undefined when it records none. */
export function parseIdFormComment(comment: string | null | undefined): string | undefined {
  return comment?.startsWith(ID_FORM_MARK) ? comment.slice(ID_FORM_MARK.length).trim() : undefined;
}

/** The statement that records how the table stores ids. */
export function idFormStatement(names: TableNames, form: SessionIdForm): string {
  return `COMMENT ON COLUMN ${names.qualified}."sid" IS ${quoteLiteral(idFormComment(form))}`;
}

/** The partial index on `user_id`: only sessions that belong to a user have an entry. */
export function userIndexStatement(names: TableNames, guard = ''): string {
  return `CREATE INDEX ${guard}${names.userIndex} ON ${names.qualified} ("user_id") WHERE "user_id" IS NOT NULL`;
}

export interface CreateTableSettings {
  readonly ifNotExists?: boolean;
  /** How the new table stores ids. Default: `sha256`. */
  readonly idForm?: SessionIdForm;
}

/** The statements that create the current version of the table, in order. */
export function createTableStatements(
  names: TableNames,
  { ifNotExists = false, idForm = 'sha256' }: CreateTableSettings = {},
): string[] {
  const t = names.qualified;
  const guard = ifNotExists ? 'IF NOT EXISTS ' : '';
  return [
    `CREATE TABLE ${guard}${t} (
  "sid" text COLLATE "C" NOT NULL,
  "sess" json NOT NULL,
  "expire" timestamptz(6) NOT NULL,
  "created" timestamptz(6) NOT NULL DEFAULT now(),
  "user_id" text COLLATE "C",
  "details" json,
  "touched" timestamptz(6) NOT NULL DEFAULT now(),
  CONSTRAINT ${names.primaryKey} PRIMARY KEY ("sid")
) WITH (fillfactor = 90)`,
    `CREATE INDEX ${guard}${names.expireIndex} ON ${t} ("expire")`,
    userIndexStatement(names, guard),
    idFormStatement(names, idForm),
    `COMMENT ON TABLE ${t} IS ${quoteLiteral(versionComment())}`,
  ];
}

/** What `table.sql` holds: plain statements for psql or any SQL tool. */
export function tableSqlScript(names: TableNames, idForm: SessionIdForm = 'sha256'): string {
  return `${createTableStatements(names, { idForm })
    .map((s) => `${s};`)
    .join('\n\n')}\n`;
}

/**
 * One statement that creates the table if it is missing. Two processes running it at once
 * serialize on an advisory lock, so neither fails on the other's half-made table. (The lock does
 * not refresh the catalog cache that to_regclass reads, hence IF NOT EXISTS as well.)
 */
export function createTableIfMissingStatement(names: TableNames, idForm: SessionIdForm): string {
  const lockKey = quoteLiteral(names.qualified);
  return doBlock(`  PERFORM pg_advisory_xact_lock(${SCHEMA_LOCK_NAMESPACE}, hashtext(${lockKey}));
  IF to_regclass(${lockKey}) IS NULL THEN
${createTableStatements(names, { ifNotExists: true, idForm })
  .map((s) => `    ${s.replaceAll('\n', '\n    ')};`)
  .join('\n')}
  END IF;`);
}
