import { createHash } from 'node:crypto';
import {
  derivedName,
  doBlock,
  quoteIdentifier,
  quoteLiteral,
  type Statement,
  siblingName,
  type TableNames,
  yesOrNo,
} from '../sql.js';

/**
 * The change log (schema 4): triggers on the session table that log, in a table next to it, the
 * keys of the rows a transaction destroyed or whose session changed, with the transaction's id, so
 * that every store's trusted read cache can poll it and drop what it remembers of them (see
 * cache-trust.ts). Every writer passes through them: the stores, the CLI, a person's plain SQL.
 *
 * - A DELETE: statement-level, with a transition table: one call per statement, however many
 *   rows; a row that had already expired is left out (so a prune's batch logs nothing).
 * - An UPDATE: row-level, with a WHEN condition that PostgreSQL checks without calling the
 *   function, so a touch (only `expire` moved later, and `touched`) costs next to nothing; a
 *   change of a live row's id, session, user, details, creation, or an earlier expiry, logs.
 * - An INSERT logs nothing: a cache holds only rows it read.
 * - A statement that changes more than `MAX_KEYED_ROWS` live rows, or a TRUNCATE, logs `*`:
 *   forget everything.
 * - The log's rows are ordinary inserts: no lock is shared between writers (NOTIFY's queue lock
 *   made notifying commits wait in line), so the triggers are on from the start, `ENABLE
 *   ALWAYS`: they fire also in sessions with `session_replication_role = replica` (a logical
 *   replication subscriber, a restore), which skip ordinary triggers.
 * - The log is UNLOGGED (its rows cost no WAL): a crash empties it, but a crash also ends every
 *   poller's connection, and a poller starts a new epoch, with an emptied cache, on a new one.
 * - `xid8` and `pg_current_xact_id()` are PostgreSQL 13's: on an older server the log and its
 *   triggers are not made (the table is still created or migrated), and the cache stays off.
 */

/** The triggers, one per event (a trigger with transition tables serves one event only). */
export const CHANGE_TRIGGERS = ['cps_changed_delete', 'cps_changed_update', 'cps_changed_truncate'] as const;

/** Hex digits of a key: 128 bits of the stored id's SHA-256. */
const KEY_HEX_DIGITS = 32;
const MAX_KEYED_ROWS = 1000;

/** The key that says: forget every session. */
export const FORGET_ALL = '*';
/** A key that starts with this is a clean-up's mark, `-<xid>`: rows logged below that transaction id are gone. */
export const CLEANED_MARK = '-';

/** The first PostgreSQL version with `xid8` (server_version_num). */
export const CHANGE_LOG_SERVER_VERSION = 130000;

/** The schema version that adds the change log: a table below it has none. */
export const CHANGE_LOG_SCHEMA_VERSION = 4;

/** A row's key in the log: the first 128 bits of its stored id's SHA-256, in hex (any id, any length). */
export function changeKeyOf(storedId: string): string {
  return createHash('sha256').update(storedId, 'utf8').digest('hex').slice(0, KEY_HEX_DIGITS);
}

/** The log table, next to the session table. */
export function changeLogName(names: TableNames): string {
  return siblingName(names, 'changes');
}

/** The trigger function, named after the table, in the table's schema. */
export function changeFunctionName(names: TableNames): string {
  return siblingName(names, 'changed');
}

/** SQL of a key: the first 128 bits of the stored id's SHA-256 in hex, as `changeKeyOf`. */
const keySql = (id: string) => `left(encode(sha256(convert_to(${id}, 'UTF8')), 'hex'), ${KEY_HEX_DIGITS})`;

/** The UPDATE trigger's WHEN: a live row whose session a cache may hold changed (not a touch). */
const CHANGED_LIVE_ROW = `OLD."expire" > now() AND (OLD."sid" IS DISTINCT FROM NEW."sid" OR OLD."sess"::text IS DISTINCT FROM NEW."sess"::text OR OLD."user_id" IS DISTINCT FROM NEW."user_id" OR OLD."details"::text IS DISTINCT FROM NEW."details"::text OR OLD."created" IS DISTINCT FROM NEW."created" OR NEW."expire" < OLD."expire")`;

/**
 * The function, made by EXECUTE: its search_path names the table's schema (found when it runs, so
 * an unqualified table works too) after pg_catalog, and pg_temp last, so that a writer's own
 * search_path or temporary table cannot divert what it logs. SECURITY DEFINER: it logs as the
 * log's owner, so a role that may write the session table needs no grant on the log.
 */
function functionStatement(names: TableNames): string {
  const log = quoteIdentifier(derivedName(names.tableName, 'changes'));
  const body = `BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    INSERT INTO ${log} ("key") VALUES ('${FORGET_ALL}');
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO ${log} ("key") VALUES (${keySql('OLD."sid"')});
  ELSIF (SELECT count(*) FROM (SELECT FROM old_rows o WHERE o."expire" > now() LIMIT ${MAX_KEYED_ROWS + 1}) live) > ${MAX_KEYED_ROWS} THEN
    INSERT INTO ${log} ("key") VALUES ('${FORGET_ALL}');
  ELSE
    INSERT INTO ${log} ("key") SELECT DISTINCT ${keySql('o."sid"')} FROM old_rows o WHERE o."expire" > now();
  END IF;
  RETURN NULL;
END`;
  const create = `CREATE OR REPLACE FUNCTION ${changeFunctionName(names)}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, %I, pg_temp AS $cps_log$${body}$cps_log$`;
  return `EXECUTE format(${quoteLiteral(create)}, (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ${quoteLiteral(names.qualified)}::regclass))`;
}

/** The statement that turns the triggers on (`enabled`, as they are made) or off. */
export function switchChangeLogStatement(names: TableNames, enabled: boolean): string {
  const action = enabled ? 'ENABLE ALWAYS TRIGGER' : 'DISABLE TRIGGER';
  return `ALTER TABLE ${names.qualified} ${CHANGE_TRIGGERS.map((name) => `${action} ${quoteIdentifier(name)}`).join(', ')}`;
}

/**
 * The change log and its triggers, as one PL/pgSQL statement (for a DO block): made only on
 * PostgreSQL 13 or later; an existing trigger of the same name (the NOTIFY triggers of an earlier
 * build of schema 4, or a creation that raced another) is replaced.
 */
export function changeLogStatement(names: TableNames): string {
  const t = names.qualified;
  const log = changeLogName(names);
  const fn = changeFunctionName(names);
  const [onDelete, onUpdate, onTruncate] = CHANGE_TRIGGERS.map(quoteIdentifier);
  const trigger = (name: string | undefined, event: string, how: string) =>
    `CREATE TRIGGER ${name} AFTER ${event} ON ${t} ${how} EXECUTE FUNCTION ${fn}()`;
  const statements = [
    `CREATE UNLOGGED TABLE IF NOT EXISTS ${log} ("xid" xid8 NOT NULL DEFAULT pg_current_xact_id(), "key" text COLLATE "C" NOT NULL)`,
    `CREATE INDEX IF NOT EXISTS ${quoteIdentifier(derivedName(names.tableName, 'changes_xid_idx'))} ON ${log} ("xid")`,
    functionStatement(names),
    ...CHANGE_TRIGGERS.map(
      (
        name,
      ) => `IF EXISTS (SELECT FROM pg_trigger WHERE tgrelid = ${quoteLiteral(t)}::regclass AND tgname = ${quoteLiteral(name)}) THEN
  DROP TRIGGER ${quoteIdentifier(name)} ON ${t};
END IF`,
    ),
    trigger(onDelete, 'DELETE', 'REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT'),
    trigger(onUpdate, 'UPDATE', `FOR EACH ROW WHEN (${CHANGED_LIVE_ROW})`),
    trigger(onTruncate, 'TRUNCATE', 'FOR EACH STATEMENT'),
    switchChangeLogStatement(names, true),
  ];
  return `IF current_setting('server_version_num')::int >= ${CHANGE_LOG_SERVER_VERSION} THEN
${statements.map((s) => `  ${s.replaceAll('\n', '\n  ')};`).join('\n')}
END IF`;
}

/** The change log as a statement of its own (a DO block). */
export function changeLogBlock(names: TableNames): string {
  return doBlock(`  ${changeLogStatement(names).replaceAll('\n', '\n  ')};`);
}

const TRIGGER_NAMES = `ARRAY[${CHANGE_TRIGGERS.map((n) => quoteLiteral(n)).join(', ')}]::name[]`;

/** SQL, true or false: are all the triggers there and on (enabled always)? */
const triggersOn = (names: TableNames) =>
  `(SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass(${quoteLiteral(names.qualified)}) AND tgname = ANY (${TRIGGER_NAMES}) AND tgenabled = 'A') = ${CHANGE_TRIGGERS.length}`;

/** → `version` (server_version_num), `log` (does the change log exist?), `on` (are its triggers on?). */
export function changeLogCheckStatement(names: TableNames): Statement {
  return {
    name: '',
    text: `SELECT current_setting('server_version_num')::int AS version, ${yesOrNo(`to_regclass(${quoteLiteral(changeLogName(names))}) IS NOT NULL`)} AS log, ${yesOrNo(triggersOn(names))} AS "on"`,
  };
}

/**
 * One poll: $1 the previous poll's snapshot's xmax, $2 its in-progress ids (comma-separated), or
 * both null for the first poll of an epoch. → `changes`: `<key>:<xid>`, each key logged by a
 * transaction that the previous snapshot did not see and this statement's does, with that
 * transaction's id (space-separated, or null; see `parseChanges`), and this
 * snapshot: `xmin`, `xmax`, `xip`; `on`: are the triggers all on; `connection`: the server
 * process and its start, which change when the connection does. pg_current_snapshot() is the
 * statement's own snapshot, the one its subquery reads the log with.
 */
export function pollStatement(names: TableNames): Statement {
  const log = changeLogName(names);
  return {
    name: '',
    text: `SELECT pg_snapshot_xmin(s)::text AS xmin, pg_snapshot_xmax(s)::text AS xmax, array_to_string(array(SELECT pg_snapshot_xip(s)), ',') AS xip, (SELECT string_agg(l."key" || ':' || l."xid"::text, ' ') FROM ${log} l WHERE l."xid" >= $1::xid8 OR l."xid" = ANY (('{' || $2::text || '}')::xid8[])) AS changes, ${yesOrNo(triggersOn(names))} AS "on", pg_backend_pid() || ' ' || (SELECT a.backend_start FROM pg_stat_get_activity(pg_backend_pid()) a)::text AS connection FROM pg_current_snapshot() AS s`,
  };
}

/** One entry of a poll's `changes`: a key (or a mark) and the transaction that logged it. */
export interface LoggedChange {
  readonly key: string;
  readonly xid: string;
}

/** A poll's `changes` column, taken apart. */
export function parseChanges(changes: unknown): LoggedChange[] {
  if (typeof changes !== 'string' || changes === '') return [];
  return changes.split(' ').map((entry) => {
    const colon = entry.lastIndexOf(':');
    return { key: entry.slice(0, colon), xid: entry.slice(colon + 1) };
  });
}

/**
 * $1 an xmin of this poller's, old enough: deletes the rows logged by transactions below it (every
 * snapshot taken since sees them, so no poller that has polled since needs them), and logs a mark
 * `-<xmin>` that tells a poller whose last snapshot is older that it may have missed some.
 */
export function cleanUpStatement(names: TableNames): Statement {
  const log = changeLogName(names);
  return {
    name: '',
    text: `WITH gone AS (DELETE FROM ${log} WHERE "xid" < $1::xid8) INSERT INTO ${log} ("key") VALUES ('${CLEANED_MARK}' || $1::text)`,
  };
}

/**
 * The prune's trim of the log, for when no store polls it (nobody else deletes its rows then): $1
 * the xmin the store's previous prune returned (null the first time), as old as the prune
 * interval: deletes the rows below it and logs its mark, as a poller's clean-up does. → `xmin`,
 * for the next prune.
 */
export function trimChangeLogStatement(names: TableNames): Statement {
  const log = changeLogName(names);
  return {
    name: '',
    text: `WITH gone AS (DELETE FROM ${log} WHERE "xid" < $1::xid8), marked AS (INSERT INTO ${log} ("key") SELECT '${CLEANED_MARK}' || $1::text WHERE $1::text IS NOT NULL) SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin`,
  };
}
