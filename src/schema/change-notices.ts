import { createHash } from 'node:crypto';
import { quoteIdentifier, quoteLiteral, type Statement, siblingName, type TableNames } from '../sql.js';

/**
 * Change notices (schema 4): triggers on the session table that NOTIFY the rows a statement
 * destroyed or whose session changed, so that every store's `readCache: true` can drop what it
 * remembers of them. Every writer passes through them: the stores, the CLI, a person's plain SQL.
 *
 * - A DELETE: statement-level, with a transition table: one call per statement, however many
 *   rows; a row that had already expired is left out (so a prune's batch notifies nothing).
 * - An UPDATE: row-level, with a WHEN condition that PostgreSQL checks without calling the
 *   function, so a touch (only `expire` moved later, and `touched`) costs next to nothing; a
 *   change of a live row's id, session, user, details, creation, or an earlier expiry, notifies.
 * - An INSERT notifies nothing: a cache holds only rows it read.
 * - A notice's payload is the rows' keys (see `noticeKeyOf`), space-separated, at most
 *   `KEYS_PER_NOTICE` per notice (a payload is at most 8000 bytes); a statement that changes more
 *   than `MAX_KEYED_ROWS` live rows, or a TRUNCATE, sends `*`: forget everything.
 * - Off until turned on (`enableChangeNoticesStatement`), or made on by a store with
 *   `readCache: true` that creates the table: a committing transaction that notified holds a
 *   cluster-wide lock until its commit is flushed, so notifying writes commit one at a time
 *   (docs/performance.md measures it). Who does not use `readCache: true` pays nothing.
 * - On means `ENABLE ALWAYS`: they fire also in sessions with `session_replication_role =
 *   replica` (a logical replication subscriber, a restore), which skip ordinary triggers.
 */

/** The triggers, one per event (a trigger with transition tables serves one event only). */
export const NOTICE_TRIGGERS = ['cps_changed_delete', 'cps_changed_update', 'cps_changed_truncate'] as const;

/** Hex digits of a notice key: 128 bits of the stored id's SHA-256. */
const KEY_HEX_DIGITS = 32;
const KEYS_PER_NOTICE = 200;
const MAX_KEYED_ROWS = 1000;

/** The payload that says: forget every session. */
export const FORGET_ALL = '*';

/** A row's key in notices: the first 128 bits of its stored id's SHA-256, in hex (any id, any length). */
export function noticeKeyOf(storedId: string): string {
  return createHash('sha256').update(storedId, 'utf8').digest('hex').slice(0, KEY_HEX_DIGITS);
}

/**
 * The channel a new trigger notifies (a store reads the channel from the trigger itself: a
 * table renamed later keeps its channel). Lower case and short: a channel is an identifier.
 */
export function noticeChannelFor(names: TableNames): string {
  return `cps_${createHash('sha256').update(names.qualified).digest('hex').slice(0, 24)}`;
}

/** The trigger function, named after the table, in the table's schema. */
export function noticeFunctionName(names: TableNames): string {
  return siblingName(names, 'changed');
}

/** SQL of a key: the first 128 bits of the stored id's SHA-256 in hex, as `noticeKeyOf`. */
const keySql = (id: string) => `left(encode(sha256(convert_to(${id}, 'UTF8')), 'hex'), ${KEY_HEX_DIGITS})`;

/** The UPDATE trigger's WHEN: a live row whose session a cache may hold changed (not a touch). */
const CHANGED_LIVE_ROW = `OLD."expire" > now() AND (OLD."sid" IS DISTINCT FROM NEW."sid" OR OLD."sess"::text IS DISTINCT FROM NEW."sess"::text OR OLD."user_id" IS DISTINCT FROM NEW."user_id" OR OLD."details"::text IS DISTINCT FROM NEW."details"::text OR OLD."created" IS DISTINCT FROM NEW."created" OR NEW."expire" < OLD."expire")`;

function functionStatement(names: TableNames): string {
  const body = `DECLARE
  ids text[];
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify(TG_ARGV[0], '${FORGET_ALL}');
    RETURN NULL;
  ELSIF TG_OP = 'UPDATE' THEN
    PERFORM pg_notify(TG_ARGV[0], ${keySql('OLD."sid"')});
    RETURN NULL;
  END IF;
  SELECT array_agg(DISTINCT o."sid") INTO ids FROM old_rows o WHERE o."expire" > now();
  IF ids IS NULL THEN
    RETURN NULL;
  ELSIF cardinality(ids) > ${MAX_KEYED_ROWS} THEN
    PERFORM pg_notify(TG_ARGV[0], '${FORGET_ALL}');
    RETURN NULL;
  END IF;
  PERFORM pg_notify(TG_ARGV[0], string_agg(k, ' '))
  FROM (
    SELECT ${keySql('id')} AS k,
           (row_number() OVER () - 1) / ${KEYS_PER_NOTICE} AS part
    FROM unnest(ids) AS id
  ) keyed
  GROUP BY part;
  RETURN NULL;
END`;
  // Its own search_path: a writer's cannot swap a function the body calls for one that notifies nothing.
  return `CREATE OR REPLACE FUNCTION ${noticeFunctionName(names)}() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $cps_notice$${body}$cps_notice$`;
}

/** The statement that turns the change notices on (`enabled`) or off. */
export function switchChangeNoticesStatement(names: TableNames, enabled: boolean): string {
  const action = enabled ? 'ENABLE ALWAYS TRIGGER' : 'DISABLE TRIGGER';
  return `ALTER TABLE ${names.qualified} ${NOTICE_TRIGGERS.map((name) => `${action} ${quoteIdentifier(name)}`).join(', ')}`;
}

/**
 * The statements that install the change notices on a new table, or with `replace` on a table
 * that may have some of them already (a migration, a creation that races another): then they are
 * PL/pgSQL, for a DO block, and drop an existing trigger without a notice. Off unless `enabled`.
 */
export function changeNoticeStatements(names: TableNames, { replace = false, enabled = false } = {}): string[] {
  const t = names.qualified;
  const fn = noticeFunctionName(names);
  const channel = quoteLiteral(noticeChannelFor(names));
  const [onDelete, onUpdate, onTruncate] = NOTICE_TRIGGERS.map(quoteIdentifier);
  const trigger = (name: string | undefined, event: string, how: string) =>
    `CREATE TRIGGER ${name} AFTER ${event} ON ${t} ${how} EXECUTE FUNCTION ${fn}(${channel})`;
  return [
    functionStatement(names),
    ...(replace
      ? NOTICE_TRIGGERS.map(
          (name) =>
            `IF EXISTS (SELECT FROM pg_trigger WHERE tgrelid = ${quoteLiteral(t)}::regclass AND tgname = ${quoteLiteral(name)}) THEN
  DROP TRIGGER ${quoteIdentifier(name)} ON ${t};
END IF`,
        )
      : []),
    trigger(onDelete, 'DELETE', 'REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT'),
    trigger(onUpdate, 'UPDATE', `FOR EACH ROW WHEN (${CHANGED_LIVE_ROW})`),
    trigger(onTruncate, 'TRUNCATE', 'FOR EACH STATEMENT'),
    switchChangeNoticesStatement(names, enabled),
  ];
}

const TRIGGER_NAMES = `ARRAY[${NOTICE_TRIGGERS.map((n) => quoteLiteral(n)).join(', ')}]::name[]`;

/** Are all the triggers there and on (enabled always)? SQL, true or false, for the table named by `$table`. */
const noticesOn = (table: string) =>
  `(SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass(${table}) AND tgname = ANY (${TRIGGER_NAMES}) AND tgenabled = 'A') = ${NOTICE_TRIGGERS.length}`;

/**
 * $1 the qualified table name → `channel`: the channel the table's triggers notify, and `on`:
 * whether every trigger is there and on; no row when the table has none of them.
 */
export const noticeChannelStatement: Statement = {
  name: '',
  text: `SELECT convert_from(substring(tgargs FROM 1 FOR position(decode('00', 'hex') IN tgargs) - 1), 'UTF8') AS channel, ${noticesOn('$1')} AS "on" FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = ${quoteLiteral(NOTICE_TRIGGERS[0])}`,
};

/**
 * $1 channel, $2 payload, $3 the qualified table name: a marker notice, sent only while the
 * table has every trigger, enabled always (so a marker that arrives also says they still fire).
 * Its commit does not wait for the WAL flush: a notifying commit holds a cluster-wide lock until
 * it has committed, and a marker is worth nothing after a crash.
 */
export const markerStatement: Statement = {
  name: 'cps_notice_marker',
  text: `SELECT pg_notify($1, $2) WHERE set_config('synchronous_commit', 'off', true) IS NOT NULL AND ${noticesOn('$3')}`,
};
