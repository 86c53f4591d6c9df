import { idFormComment, type SessionIdForm } from '../session-id.js';
import { quoteLiteral, sidCommentSql, type TableNames } from '../sql.js';
import { changeLogStatement } from './change-log.js';
import { idFormStatement, userIndexStatement } from './ddl.js';

/** What a migration may need besides the table's names. */
export interface MigrationSettings {
  /**
   * The TimeZone in which 10.x's connections wrote `expire` (a `timestamp`, local time): a
   * name PostgreSQL knows, such as `Etc/UTC` or `Europe/Berlin`.
   */
  readonly legacyTimeZone: string;
  /**
   * How the upgraded table stores ids: `sha256` hashes the stored ids in place (in SQL, with
   * PostgreSQL's `sha256()`: no secret in the statement); `plain` keeps them as they are.
   */
  readonly idForm: Exclude<SessionIdForm, 'hmac-sha256'>;
}

/**
 * One step of the table's history: the PL/pgSQL statements that take a table at version
 * `version - 1` to `version`. They run inside the migration's single DO block, after its lock,
 * so they may use IF; they must be safe on a table that already has some of the changes (made
 * by hand), and must not set the version comment (migrate() does, once, at the end).
 *
 * A later change to the table is one more entry here, plus the same change in ddl.ts.
 */
export interface Migration {
  readonly version: number;
  /** One line, for the operator: what changes, and what it costs. */
  readonly summary: string;
  readonly statements: (names: TableNames, settings: MigrationSettings) => string[];
}

/** `'"schema"."table"'::regclass`: the table's oid, in PL/pgSQL. */
const relation = (names: TableNames) => `${quoteLiteral(names.qualified)}::regclass`;

/** Is the column named `column` already of this type (and collation)? SQL, true or false. */
function columnIs(names: TableNames, column: string, type: string, collation?: string): string {
  const sameCollation =
    collation === undefined
      ? ''
      : ` AND attcollation = (SELECT oid FROM pg_collation WHERE collname = ${quoteLiteral(collation)} AND collnamespace = 'pg_catalog'::regnamespace)`;
  return `EXISTS (SELECT FROM pg_attribute WHERE attrelid = ${relation(names)} AND attname = ${quoteLiteral(column)} AND NOT attisdropped AND atttypid = ${quoteLiteral(type)}::regtype${sameCollation})`;
}

/** From the table 10.x's table.sql made (varchar ids, local-time `timestamp` expiry). */
const toVersion1: Migration = {
  version: 1,
  summary:
    'ids become text COLLATE "C" (rebuilds the primary key index), expire becomes timestamptz (rewrites the table unless the legacy TimeZone is UTC), an index on expire is added if there is none, fillfactor 90',
  statements: (names, { legacyTimeZone }) => {
    const t = names.qualified;
    return [
      `IF (SELECT count(*) FROM pg_attribute WHERE attrelid = ${relation(names)} AND attname IN ('sid', 'sess', 'expire') AND NOT attisdropped) <> 3 THEN
  RAISE EXCEPTION 'connect-pg-simple: table % has no sid, sess and expire columns: not a session table', ${quoteLiteral(t)} USING ERRCODE = '42703';
END IF;`,
      // Ids compared byte by byte: cheaper, and immune to the C library's collation changes.
      `IF NOT ${columnIs(names, 'sid', 'text', 'C')} THEN
  ALTER TABLE ${t} ALTER COLUMN "sid" TYPE text COLLATE "C" USING "sid"::text;
END IF;`,
      // 10.x wrote instants into a timestamp column: the local time of its connection's TimeZone.
      // The cast reads them in that zone; PostgreSQL skips the table rewrite when the zone is UTC.
      `IF ${columnIs(names, 'expire', 'timestamp')} THEN
  DECLARE
    own_time_zone text := current_setting('TimeZone');
  BEGIN
    PERFORM set_config('TimeZone', ${quoteLiteral(legacyTimeZone)}, true);
    ALTER TABLE ${t} ALTER COLUMN "expire" TYPE timestamptz(6) USING "expire"::timestamptz;
    PERFORM set_config('TimeZone', own_time_zone, true);
  END;
END IF;`,
      `IF NOT EXISTS (
  SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
  WHERE i.indrelid = ${relation(names)} AND a.attname = 'expire' AND i.indpred IS NULL
) THEN
  CREATE INDEX ${names.expireIndex} ON ${t} ("expire");
END IF;`,
      `ALTER TABLE ${t} SET (fillfactor = 90);`,
    ];
  },
};

/** Adds each session's creation time, and hashes the stored ids (unless kept plain). */
const toVersion2: Migration = {
  version: 2,
  summary:
    'adds the column created (existing sessions count as created now: no rewrite), and with hashed ids (the default) replaces every stored id by its SHA-256 in place (rewrites every row and the primary key index; cookies keep working)',
  statements: (names, { idForm }) => {
    const t = names.qualified;
    const statements = [
      `IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = ${relation(names)} AND attname = 'created' AND NOT attisdropped) THEN
  ALTER TABLE ${t} ADD COLUMN "created" timestamptz(6) NOT NULL DEFAULT now();
END IF;`,
    ];
    if (idForm === 'sha256') {
      // Hashing is deterministic: the cookie's id, hashed by the store, finds its row again.
      statements.push(`IF ${sidCommentSql(names)} IS DISTINCT FROM ${quoteLiteral(idFormComment('sha256'))} THEN
  UPDATE ${t} SET "sid" = encode(sha256(convert_to("sid", 'UTF8')), 'hex');
END IF;`);
    } else {
      statements.push(`IF ${sidCommentSql(names)} IS NOT NULL AND ${sidCommentSql(names)} <> ${quoteLiteral(idFormComment('plain'))} THEN
  RAISE EXCEPTION 'connect-pg-simple: table % already stores hashed ids: they cannot be turned back into plain ones', ${quoteLiteral(t)} USING ERRCODE = '0A000';
END IF;`);
    }
    statements.push(`${idFormStatement(names, idForm)};`);
    return statements;
  },
};

/** SQL: does the table have a column of this name? */
const hasColumn = (names: TableNames, column: string) =>
  `EXISTS (SELECT FROM pg_attribute WHERE attrelid = ${relation(names)} AND attname = ${quoteLiteral(column)} AND NOT attisdropped)`;

/** Sessions per user: the user column and its index, the device's details, the last activity. */
const toVersion3: Migration = {
  version: 3,
  summary:
    'adds the columns user_id, details and touched (nullable or with a constant default: no rewrite; existing sessions count as last active now) and a partial index on user_id (CREATE INDEX reads the whole table once, blocking writes meanwhile; to avoid that on a large table, first run CREATE INDEX CONCURRENTLY "<table>_user_idx" ON <table> ("user_id") WHERE "user_id" IS NOT NULL by hand: then this step skips it)',
  statements: (names) => {
    const t = names.qualified;
    return [
      `IF NOT ${hasColumn(names, 'user_id')} THEN
  ALTER TABLE ${t} ADD COLUMN "user_id" text COLLATE "C";
END IF;`,
      `IF NOT ${hasColumn(names, 'details')} THEN
  ALTER TABLE ${t} ADD COLUMN "details" json;
END IF;`,
      `IF NOT ${hasColumn(names, 'touched')} THEN
  ALTER TABLE ${t} ADD COLUMN "touched" timestamptz(6) NOT NULL DEFAULT now();
END IF;`,
      // Any index led by user_id will do (one made by hand, CONCURRENTLY, included).
      `IF NOT EXISTS (
  SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
  WHERE i.indrelid = ${relation(names)} AND a.attname = 'user_id' AND i.indisvalid
) THEN
  ${userIndexStatement(names)};
END IF;`,
    ];
  },
};

/** The change log for the stores' read caches (see change-log.ts). */
const toVersion4: Migration = {
  version: 4,
  summary:
    'adds the change log: an unlogged table <table>_changes and triggers, on, that log the key of every live session deleted or changed, for the trusted read cache (touches, inserts and expired rows log nothing); no rewrite; PostgreSQL 13 or later (on an older server this step adds nothing, and the cache stays off)',
  statements: (names) => [`${changeLogStatement(names)};`],
};

/** Every migration, oldest first; the last one's version is SCHEMA_VERSION. */
export const MIGRATIONS: readonly Migration[] = [toVersion1, toVersion2, toVersion3, toVersion4];
