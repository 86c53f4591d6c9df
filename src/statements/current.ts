import { SHORTENING_SLACK_SECONDS } from '../expiry.js';
import {
  describeTableStatement,
  pruneBatchStatement,
  type StoreStatements,
  statement,
  type TableNames,
  type UserSessionStatements,
} from '../sql.js';

/**
 * The current mode: a table at the current schema (its columns since schema 3), of the store's
 * own id form, in one plain table. Every statement the store sends to such a table is here.
 *
 * What differs from one store to another is written into the texts as values, never as other SQL:
 * - `lifetime`: the absolute timeout, `make_interval(secs => NULL::float8)` without one. A NULL
 *   bound is no bound: `least()` skips it, and an aliveness test falls back to `-infinity`.
 * - `commit_wait`: each session write sets `synchronous_commit` for its own transaction, to
 *   `off` or to what it already is (works through any pooler: nothing outlives the transaction).
 */
export interface ModeSettings {
  /** Seconds a session lives after its creation, however active; undefined: no such limit. */
  readonly absoluteTimeoutSeconds?: number | undefined;
  /** `false`: the store's session writes commit without waiting for the WAL flush. */
  readonly synchronousCommit?: boolean;
  /**
   * Whether a row's stored id is its session's handle (hashed ids); with plain ids a handle is the
   * id's SHA-256, so that a listing never shows an id that works as a cookie.
   */
  readonly storedIdIsHandle?: boolean;
}

/**
 * How a statement finds the session's row from `$1`: by its stored id. (The transitional mode's
 * sets of the current schema send these statements with `$1` as the session's id candidates.)
 */
export const BY_STORED_ID = 'sid = $1::text';

/**
 * A row's session with the keys in `$2` (a JSON object's text) changed and those in `$3` (a JSON
 * array's text) taken out first. The row's other keys stay as they are now, in their order; the
 * changed ones follow. `json` rather than `jsonb`: values keep their exact text (`\u0000` in
 * strings included).
 */
export const SESS_WITH_KEYS_CHANGED = `(
  SELECT coalesce(json_object_agg(kv.key, kv.value ORDER BY kv.position), '{}'::json) FROM (
    SELECT key, value, position FROM json_each(target.sess) WITH ORDINALITY AS kept(key, value, position)
    WHERE key NOT IN (SELECT json_array_elements_text($3::text::json))
    UNION ALL
    SELECT key, value, 1e9 + position FROM json_each($2::text::json) WITH ORDINALITY AS changed(key, value, position)
  ) kv
)`;

/**
 * What the compare-and-swap returns: `xid`, the transaction that left the row holding exactly `$2`,
 * for this process's trusted cache (see read-path.ts `swapped`); null when the row holds another
 * text (a jsonb column normalises it; a trigger of the user's may rewrite it).
 */
const SWAPPED_BY = 'CASE WHEN sess::text = $2::text THEN txid_current()::text END AS xid';

/** The SQL fragments every mode of the current schema writes its statements with. */
export function currentFragments(settings: ModeSettings) {
  const { absoluteTimeoutSeconds, synchronousCommit = true, storedIdIsHandle = true } = settings;
  const seconds = absoluteTimeoutSeconds === undefined ? 'NULL' : String(Number(absoluteTimeoutSeconds));
  const lifetime = `make_interval(secs => ${seconds}::float8)`;
  const commitLevel = synchronousCommit ? "current_setting('synchronous_commit')" : "'off'";
  return {
    lifetime,
    /**
     * Which rows are alive. `created` is compared with a stable expression, so that on a
     * partitioned table each statement skips the partitions of dead sessions when it starts.
     */
    alive: (row = '') => `${row}expire > now() AND ${row}created > coalesce(now() - ${lifetime}, '-infinity')`,
    /** When a row's session ends: idle or absolute, whichever comes first. */
    endsAt: `least(expire, created + ${lifetime})`,
    /** The expiry a write gives a row, `$n` seconds from now: never past its absolute end. */
    expiryIn: (param: string, created = 'created') =>
      `least(now() + make_interval(secs => ${param}::float8), ${created} + ${lifetime})`,
    /** Joined to the row a write writes (`FROM …`), so that it runs before the write's commit. */
    commitWait: `(SELECT set_config('synchronous_commit', ${commitLevel}, true)) AS commit_wait`,
    /** A session's handle, from its row's stored id. */
    handle: storedIdIsHandle ? 'sid' : "encode(sha256(convert_to(sid, 'UTF8')), 'hex')",
  };
}

/**
 * The rows a touch writes, by the mode's `expiryIn`: less than `$2` seconds left (the lazy touch),
 * or more than the lifetime `$3` by over SHORTENING_SLACK_SECONDS (the application shortened it).
 */
export function dueForTouch(expiryIn: (param: string) => string): string {
  return `(expire < ${expiryIn('$2')} OR expire > ${expiryIn('$3')} + make_interval(secs => ${SHORTENING_SLACK_SECONDS}))`;
}

/** `sessionRow`: how each statement finds the session's row; `BY_STORED_ID` in this mode. */
export function currentStatements(
  names: TableNames,
  settings: ModeSettings = {},
  sessionRow: string = BY_STORED_ID,
): StoreStatements {
  const t = names.qualified;
  const { alive, endsAt, expiryIn, commitWait, lifetime } = currentFragments(settings);
  // A write to a live row keeps the row's creation time: only a new session id starts a new
  // lifetime. A row that has ended (not yet pruned) counts as gone.
  const keptCreated = `CASE WHEN ${alive('target.')} THEN target.created ELSE excluded.created END`;
  return {
    get: statement(
      'get',
      `SELECT sess::text AS sess, date_part('epoch', ${endsAt} - now()) AS remaining, user_id FROM ${t} WHERE ${sessionRow} AND ${alive()}`,
      true,
    ),
    upsert: statement(
      'upsert',
      `INSERT INTO ${t} AS target (sid, sess, expire, created, touched, user_id, details)
SELECT $1::text, $2::text::json, ${expiryIn('$3', 'now()')}, now(), now(), $4::text, $5::text::json FROM ${commitWait}
ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = least(excluded.expire, ${keptCreated} + ${lifetime}),
  created = ${keptCreated}, touched = excluded.touched, user_id = excluded.user_id, details = excluded.details`,
      true,
    ),
    update: statement(
      'update',
      `UPDATE ${t} SET sess = $2::text::json, expire = ${expiryIn('$3')}, touched = now() FROM ${commitWait} WHERE ${sessionRow} AND ${alive()}`,
      true,
    ),
    updateIfUnchanged: statement(
      'update_if_unchanged',
      `UPDATE ${t} SET sess = $2::text::json, expire = ${expiryIn('$3')}, touched = now() FROM ${commitWait} WHERE ${sessionRow} AND ${alive()} AND sess::text = $4::text RETURNING ${SWAPPED_BY}`,
      true,
    ),
    updateKeys: statement(
      'update_keys',
      `UPDATE ${t} AS target SET sess = ${SESS_WITH_KEYS_CHANGED}, expire = ${expiryIn('$4')}, touched = now() FROM ${commitWait} WHERE ${sessionRow} AND ${alive()}`,
      true,
    ),
    // A row clamped at the end of its absolute lifetime has all the time it will get: no write.
    touch: statement(
      'touch',
      `UPDATE ${t} SET expire = ${expiryIn('$3')}, touched = now() FROM ${commitWait} WHERE ${sessionRow} AND ${alive()} AND ${dueForTouch(expiryIn)}`,
      true,
    ),
    setUser: statement(
      'set_user',
      `UPDATE ${t} SET user_id = $2::text, details = $3::text::json, touched = now() WHERE ${sessionRow} AND ${alive()}`,
      true,
    ),
    destroy: statement('destroy', `DELETE FROM ${t} WHERE ${sessionRow}`, true),
    // The same result type (and collation) as a migrated 10.x table's, whose column was varchar.
    all: statement('all', `SELECT sid::text COLLATE "C" AS sid, sess::text AS sess FROM ${t} WHERE ${alive()}`),
    length: statement('length', `SELECT count(*)::float8 AS n FROM ${t} WHERE ${alive()}`),
    clear: statement('clear', `DELETE FROM ${t}`),
    pruneBatch: pruneBatchStatement(t),
    describe: describeTableStatement,
  };
}

/** Sessions per user (see user-sessions.ts), on a table of the current schema, either layout. */
export function currentUserStatements(names: TableNames, settings: ModeSettings = {}): UserSessionStatements {
  const t = names.qualified;
  const { alive, endsAt, handle } = currentFragments(settings);
  const epochMs = (column: string) => `(extract(epoch FROM ${column}) * 1000)::float8`;
  // Deletes, and counts the sessions that were still alive.
  const counted = (where: string) =>
    `WITH gone AS (DELETE FROM ${t} WHERE ${where} RETURNING ${alive()} AS live)
SELECT count(*) FILTER (WHERE live)::float8 AS n FROM gone`;
  return {
    list: statement(
      'user_list',
      `SELECT ${handle} AS handle, ${epochMs('created')} AS created_ms, ${epochMs('touched')} AS touched_ms,
  ${epochMs(endsAt)} AS expires_ms, details::text AS details
FROM ${t} WHERE user_id = $1::text AND ${alive()} ORDER BY touched DESC, created DESC`,
    ),
    destroyAll: statement('user_destroy', counted('user_id = $1::text')),
    destroyAllBut: statement(
      'user_destroy_but',
      counted(`user_id = $1::text AND sid <> $2::text AND ${handle} <> $3::text`),
    ),
    destroyHandle: statement('handle_destroy', counted(`${handle} = $1::text`)),
    destroyUserHandle: statement('user_handle_destroy', counted(`${handle} = $1::text AND user_id = $2::text`)),
  };
}
