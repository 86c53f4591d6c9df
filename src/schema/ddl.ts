import { ID_FORM_MARK, idFormComment, keyedForm, type SessionIdForm } from '../session-id.js';
import { doBlock, quoteLiteral, SCHEMA_LOCK_NAMESPACE, sidCommentSql, type TableNames } from '../sql.js';
import { changeLogBlock, changeLogStatement } from './change-log.js';
import { initialPartitionStatements, type Partitioning, partitioningComment } from './partitions.js';

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
 * - the change log (schema 4): triggers that log the rows whose session changed or ended in a
 *   table next to it (see change-log.ts), for the read caches of every store (PostgreSQL 13+).
 * - `fillfactor = 90`: leaves room on each page for updates that stay on the page (HOT).
 * - opt-in, partitioned by range of `created` (see partitions.ts): the same columns, the primary
 *   key `(sid, created)`, and the layout recorded in the `created` column's comment.
 */
export const SCHEMA_VERSION = 4;

/** The version that added the columns of sessions per user. */
export const USER_COLUMNS_VERSION = 3;

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

/** The statement that records how the table stores ids (`hmac-sha256` ones with their pepper's id). */
export function idFormStatement(names: TableNames, form: SessionIdForm, pepperId?: string): string {
  const comment =
    form === 'hmac-sha256' && pepperId !== undefined ? `${ID_FORM_MARK}${keyedForm(pepperId)}` : idFormComment(form);
  return `COMMENT ON COLUMN ${names.qualified}."sid" IS ${quoteLiteral(comment)}`;
}

/**
 * Records the pepper's id on a table of `hmac-sha256` ids that records none (made before the
 * fingerprint existed, or by `createTableIfMissing` just now), under the schema lock: the first
 * store to get there records its pepper, and every store with another is refused from then on.
 */
export function recordPepperStatement(names: TableNames, pepperId: string): string {
  return doBlock(`  PERFORM pg_advisory_xact_lock(${SCHEMA_LOCK_NAMESPACE}, hashtext(${quoteLiteral(names.qualified)}));
  IF ${sidCommentSql(names)} = ${quoteLiteral(idFormComment('hmac-sha256'))} THEN
    ${idFormStatement(names, 'hmac-sha256', pepperId)};
  END IF;`);
}

/** The partial index on `user_id`: only sessions that belong to a user have an entry. */
export function userIndexStatement(names: TableNames, guard = ''): string {
  return `CREATE INDEX ${guard}${names.userIndex} ON ${names.qualified} ("user_id") WHERE "user_id" IS NOT NULL`;
}

export interface CreateTableSettings {
  readonly ifNotExists?: boolean;
  /** How the new table stores ids. Default: `sha256`. */
  readonly idForm?: SessionIdForm;
  /** The opt-in partitioned layout (see partitions.ts); default: one plain table. */
  readonly partitioning?: Partitioning | undefined;
  /** For the partitioned layout: the clock (seconds since the epoch) its first partitions are cut from. Default: now. */
  readonly now?: number;
}

/** The table's columns, in order: the one list both layouts are made of. */
const COLUMNS: readonly string[] = [
  '"sid" text COLLATE "C" NOT NULL',
  '"sess" json NOT NULL',
  '"expire" timestamptz(6) NOT NULL',
  '"created" timestamptz(6) NOT NULL DEFAULT now()',
  '"user_id" text COLLATE "C"',
  '"details" json',
  '"touched" timestamptz(6) NOT NULL DEFAULT now()',
];

/**
 * The `CREATE TABLE` statement. Partitioned by `created`, the primary key must hold the partition
 * key: `(sid, created)`, so no index keeps `sid` alone unique there (see statements/partitioned.ts's upsert).
 */
function createTableStatement(names: TableNames, guard: string, partitioning: Partitioning | undefined): string {
  const key = partitioning === undefined ? '"sid"' : '"sid", "created"';
  const columns = [...COLUMNS, `CONSTRAINT ${names.primaryKey} PRIMARY KEY (${key})`].map((c) => `  ${c}`).join(',\n');
  // Storage parameters belong to the partitions, not to a partitioned table.
  const tail = partitioning === undefined ? 'WITH (fillfactor = 90)' : 'PARTITION BY RANGE ("created")';
  return `CREATE TABLE ${guard}${names.qualified} (\n${columns}\n) ${tail}`;
}

/** The statements that create the current version of the table, in order. */
export function createTableStatements(
  names: TableNames,
  { ifNotExists = false, idForm = 'sha256', partitioning, now = Date.now() / 1000 }: CreateTableSettings = {},
): string[] {
  const t = names.qualified;
  const guard = ifNotExists ? 'IF NOT EXISTS ' : '';
  const statements = [
    createTableStatement(names, guard, partitioning),
    `CREATE INDEX ${guard}${names.expireIndex} ON ${t} ("expire")`,
    userIndexStatement(names, guard),
    idFormStatement(names, idForm),
  ];
  if (partitioning !== undefined) {
    statements.push(
      `COMMENT ON COLUMN ${t}."created" IS ${quoteLiteral(partitioningComment(partitioning))}`,
      ...initialPartitionStatements(names, partitioning, now),
    );
  }
  statements.push(
    // In a DO block (ifNotExists) a PL/pgSQL statement; else a DO block of its own.
    ifNotExists ? changeLogStatement(names) : changeLogBlock(names),
    `COMMENT ON TABLE ${t} IS ${quoteLiteral(versionComment())}`,
  );
  return statements;
}

/**
 * What `table.sql` holds (the default layout): one statement for psql or any SQL tool that creates
 * the table when it is missing, and says so when it is not (a second run changes nothing: a table
 * of an older version keeps its version mark, for `migrate` to upgrade).
 */
export function tableSqlScript(
  names: TableNames,
  idForm: SessionIdForm = 'sha256',
  partitioning?: Partitioning,
): string {
  const exists = `RAISE NOTICE 'table % exists already: nothing was changed (an older version is upgraded with npx connect-pg-simple migrate)', ${quoteLiteral(names.qualified)};`;
  return `${createTableIfMissingStatement(names, idForm, partitioning, { otherwise: exists })};\n`;
}

/**
 * One statement that creates the table if it is missing. Two processes running it at once
 * serialize on an advisory lock, so neither fails on the other's half-made table. (The lock does
 * not refresh the catalog cache that to_regclass reads, hence IF NOT EXISTS as well.)
 */
export function createTableIfMissingStatement(
  names: TableNames,
  idForm: SessionIdForm,
  partitioning?: Partitioning,
  {
    otherwise,
  }: {
    /** PL/pgSQL run when the table exists already. */
    readonly otherwise?: string;
  } = {},
): string {
  const lockKey = quoteLiteral(names.qualified);
  return doBlock(`  PERFORM pg_advisory_xact_lock(${SCHEMA_LOCK_NAMESPACE}, hashtext(${lockKey}));
  IF to_regclass(${lockKey}) IS NULL THEN
${createTableStatements(names, { ifNotExists: true, idForm, partitioning })
  .map((s) => `    ${s.replaceAll('\n', '\n    ')};`)
  .join('\n')}${otherwise === undefined ? '' : `\n  ELSE\n    ${otherwise}`}
  END IF;`);
}
