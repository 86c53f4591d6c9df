import { ID_FORM_MARK, idFormComment } from '../session-id.js';
import {
  describeTableStatement,
  pruneBatchStatement,
  quoteLiteral,
  type StoreStatements,
  sidCommentSql,
  statement,
  type TableNames,
  type UserSessionStatements,
} from '../sql.js';
import { currentFragments, currentUserStatements, type ModeSettings } from './current.js';

/**
 * The transitional mode: a table the current mode cannot serve yet, for as long as it takes to
 * migrate it (`npx connect-pg-simple migrate`) or re-key it (`npx connect-pg-simple rekey`):
 * - a table before schema 3: a 10.x table (no `created`, ids as given, see `LegacyIds`), or one
 *   of schema 2 (no columns of sessions per user);
 * - a table of another id form than the store's, for a store with `sessionIdPepper`, before and
 *   while it is re-keyed (see `idCandidates`), in either layout.
 * Its statements are built from the table's shape as the last check found it; the store looks at
 * the table again until it can use the current mode (table-setup.ts).
 */

/** `now() + ttl seconds`, the one way an expiry is computed: on the database's clock. */
const expiryIn = (param: string) => `now() + make_interval(secs => ${param}::float8)`;

/**
 * How a table from before schema 2 (no `created`, ids as given) is used until it is migrated:
 * - `plain`: ids as they are;
 * - `plain-or-hashed`: for a store that hashes ids, while the table may be migrated under it:
 *   each statement finds a row by the id or by its SHA-256 (PostgreSQL's `sha256()`), and a new
 *   row's id is hashed when the table's `sid` column says it holds hashed ids. So no session
 *   is missed between a migration and the store's next look at the table.
 */
export type LegacyIds = 'plain' | 'plain-or-hashed';

/**
 * The table's shape, as the last check found it; the absolute timeout and synchronous commit are
 * written as in the current mode (values in one text). A table before schema 2 has no creation
 * times: its absolute timeout waits for the migration.
 */
export interface TransitionalSettings extends Omit<ModeSettings, 'storedIdIsHandle'> {
  /** Set for a table before schema 2; see `LegacyIds`. */
  readonly legacyIds?: LegacyIds | undefined;
  /**
   * The table is partitioned by `created` (see schema/partitions.ts); `absoluteTimeoutSeconds` is
   * then always set. No index keeps `sid` unique there: a new session's write deletes any row of
   * its id and inserts, in one statement; `get` reads the newest row of an id.
   */
  readonly partitioned?: boolean;
  /**
   * For a store with `sessionIdPepper` on a table not (yet) of `hmac-sha256` ids: `$1` is the
   * text array `IdCandidates` (session-id.ts) instead of one id, and each statement finds the row
   * by any of them. A new row takes the form the table's `sid` column names at that moment (so a
   * store that has not looked at the table since `rekey` began still writes the new form), and
   * replaces a row of the same session in another form.
   */
  readonly idCandidates?: boolean | undefined;
  /** The table has schema 3's columns (user_id, details, touched): writes keep them. */
  readonly userColumns?: boolean;
}

/**
 * SQL: which of the `IdCandidates` in `$1` a new row takes, by the `sid` comment (`comment`, SQL)
 * when the statement runs: hmac-sha256 once the table is re-keying or re-keyed, else the
 * table's own form (plain for a table before schema 2, whose comment is empty).
 */
function candidateForTable(comment: string): string {
  const hmac = quoteLiteral(`${idFormComment('hmac-sha256')}%`);
  const rekeying = quoteLiteral(`${ID_FORM_MARK}re-keying %`);
  return `CASE WHEN ${comment} LIKE ${hmac} OR ${comment} LIKE ${rekeying} THEN ($1::text[])[1] WHEN ${comment} = ${quoteLiteral(idFormComment('sha256'))} THEN ($1::text[])[2] ELSE coalesce(($1::text[])[3], ($1::text[])[2]) END`;
}

/** SQL: the SHA-256 hex of a text's UTF-8 bytes, as session-id.ts computes it. */
const sha256Hex = (param: string) => `encode(sha256(convert_to(${param}, 'UTF8')), 'hex')`;

export function transitionalStatements(
  names: TableNames,
  {
    synchronousCommit = true,
    absoluteTimeoutSeconds,
    legacyIds,
    userColumns = false,
    partitioned = false,
    idCandidates = false,
  }: TransitionalSettings = {},
): StoreStatements {
  const t = names.qualified;
  const current = currentFragments({ absoluteTimeoutSeconds, synchronousCommit });
  const fromCommitWait = ` FROM ${current.commitWait}`;
  const hashing = legacyIds === 'plain-or-hashed';
  const isSid = idCandidates
    ? 'sid = ANY($1::text[])'
    : hashing
      ? `sid = ANY(ARRAY[$1::text, ${sha256Hex('$1::text')}])`
      : 'sid = $1::text';
  // A table before schema 2 has no creation times: the absolute timeout waits for the migration.
  const hasCreated = legacyIds === undefined;
  const aliveIn = (row: string) => (hasCreated ? current.alive(row) : `${row}expire > now()`);
  const alive = aliveIn('');
  const endsAt = hasCreated ? current.endsAt : 'expire';
  /** The expiry a write gives a live row: never past the end of its absolute lifetime. */
  const expiryOf = (param: string, created = 'created') =>
    hasCreated ? current.expiryIn(param, created) : expiryIn(param);
  const sidComment = sidCommentSql(names);
  const newSid = idCandidates
    ? candidateForTable(sidComment)
    : hashing
      ? `CASE WHEN ${sidComment} = ${quoteLiteral(idFormComment('sha256'))} THEN ${sha256Hex('$1::text')} ELSE $1::text END`
      : '$1::text';
  // A write to a live row keeps the row's creation time, whatever path it took (with a load
  // receipt or not): only a new session id starts a new lifetime. A row that has ended (not yet
  // pruned) counts as gone.
  const keptCreated = hasCreated ? ` RETURNING CASE WHEN ${alive} THEN created END AS created` : '';
  // What a new session's write does first, in the same statement: with candidates, pick the id
  // its row takes and delete the session's row in another form; partitioned (no unique index on
  // sid), delete any row of the session.
  const replacedStep = partitioned
    ? `replaced AS (DELETE FROM ${t} WHERE ${isSid}${keptCreated})`
    : idCandidates
      ? `replaced AS (DELETE FROM ${t} WHERE sid = ANY($1::text[]) AND sid <> (SELECT sid FROM new_id)${keptCreated})`
      : undefined;
  const firstSteps = [
    ...(idCandidates ? [`new_id AS (SELECT ${newSid} AS sid)`] : []),
    ...(replacedStep === undefined ? [] : [replacedStep]),
  ];
  const before = firstSteps.length === 0 ? '' : `WITH ${firstSteps.join(', ')} `;
  const created =
    hasCreated && replacedStep !== undefined ? 'coalesce((SELECT min(created) FROM replaced), now())' : 'now()';
  const insertedSid = idCandidates ? '(SELECT sid FROM new_id)' : newSid;
  // Schema 3: every write and touch records when it happened (last activity).
  const touched = userColumns ? ', touched = now()' : '';
  const columns = userColumns
    ? 'sid, sess, expire, created, touched, user_id, details'
    : legacyIds === undefined
      ? 'sid, sess, expire, created'
      : 'sid, sess, expire';
  const values = userColumns
    ? `${insertedSid}, $2::text::json, ${expiryOf('$3', created)}, ${created}, now(), $4::text, $5::text::json`
    : legacyIds === undefined
      ? `${insertedSid}, $2::text::json, ${expiryOf('$3', created)}, ${created}`
      : `${insertedSid}, $2::text::json, ${expiryIn('$3')}`;
  const targetCreated = `CASE WHEN ${aliveIn('target.')} THEN target.created ELSE excluded.created END`;
  const onConflict = (column: string) =>
    column === 'created'
      ? `created = ${targetCreated}`
      : column === 'expire' && hasCreated
        ? `expire = least(excluded.expire, ${targetCreated} + ${current.lifetime})`
        : `${column} = excluded.${column}`;
  const replacedByConflict = columns
    .split(', ')
    .filter((column) => column !== 'sid')
    .map(onConflict)
    .join(', ');
  const upsert = `${before}INSERT INTO ${t}${partitioned ? '' : ' AS target'} (${columns}) SELECT ${values}${fromCommitWait}${partitioned ? '' : ` ON CONFLICT (sid) DO UPDATE SET ${replacedByConflict}`}`;
  return {
    get: statement(
      'get',
      `SELECT sess::text AS sess, date_part('epoch', ${endsAt} - now()) AS remaining${userColumns ? ', user_id' : ''} FROM ${t} WHERE ${isSid} AND ${alive}${partitioned ? ' ORDER BY created DESC LIMIT 1' : ''}`,
      true,
    ),
    upsert: statement('upsert', upsert, true),
    update: statement(
      'update',
      `UPDATE ${t} SET sess = $2::text::json, expire = ${expiryOf('$3')}${touched}${fromCommitWait} WHERE ${isSid} AND ${alive}`,
      true,
    ),
    updateIfUnchanged: statement(
      'update_if_unchanged',
      `UPDATE ${t} SET sess = $2::text::json, expire = ${expiryOf('$3')}${touched}${fromCommitWait} WHERE ${isSid} AND ${alive} AND sess::text = $4::text RETURNING true AS updated`,
      true,
    ),
    // The row's other keys stay as they are now, in their order; the changed ones follow. `json`
    // rather than `jsonb`: values keep their exact text (`\u0000` in strings included).
    updateKeys: statement(
      'update_keys',
      `UPDATE ${t} AS target SET sess = (
  SELECT coalesce(json_object_agg(kv.key, kv.value ORDER BY kv.position), '{}'::json) FROM (
    SELECT key, value, position FROM json_each(target.sess) WITH ORDINALITY AS kept(key, value, position)
    WHERE key NOT IN (SELECT json_array_elements_text($3::text::json))
    UNION ALL
    SELECT key, value, 1e9 + position FROM json_each($2::text::json) WITH ORDINALITY AS changed(key, value, position)
  ) kv
), expire = ${expiryOf('$4')}${touched}${fromCommitWait} WHERE ${isSid} AND ${alive}`,
      true,
    ),
    // A row clamped at the end of its absolute lifetime has all the time it will get: no write.
    touch: statement(
      'touch',
      `UPDATE ${t} SET expire = ${expiryOf('$3')}${touched}${fromCommitWait} WHERE ${isSid} AND ${alive} AND expire < ${expiryOf('$2')}`,
      true,
    ),
    setUser: userColumns
      ? statement(
          'set_user',
          `UPDATE ${t} SET user_id = $2::text, details = $3::text::json, touched = now() WHERE ${isSid} AND ${alive}`,
          true,
        )
      : undefined,
    destroy: statement('destroy', `DELETE FROM ${t} WHERE ${isSid}`, true),
    // The same result type (and collation) before and after migrate turns a 10.x varchar column to
    // text COLLATE "C": otherwise a statement prepared before fails once after ("cached plan must
    // not change result type").
    all: statement('all', `SELECT sid::text COLLATE "C" AS sid, sess::text AS sess FROM ${t} WHERE ${alive}`),
    length: statement('length', `SELECT count(*)::float8 AS n FROM ${t} WHERE ${alive}`),
    clear: statement('clear', `DELETE FROM ${t}`),
    pruneBatch: pruneBatchStatement(partitioned ? names.defaultPartition : t),
    describe: describeTableStatement,
  };
}

/**
 * Sessions per user on a table of schema 3 served by candidates: the current mode's, but a
 * session named by its candidates is spared by any of them.
 */
export function transitionalUserStatements(
  names: TableNames,
  settings: ModeSettings & { readonly idCandidates?: boolean | undefined },
): UserSessionStatements {
  const statements = currentUserStatements(names, settings);
  if (settings.idCandidates !== true) return statements;
  const { alive, handle } = currentFragments(settings);
  // Candidates hold a null for a form the table cannot hold: `<> ALL` of a null is never true.
  return {
    ...statements,
    destroyAllBut: statement(
      'user_destroy_but',
      `WITH gone AS (DELETE FROM ${names.qualified} WHERE user_id = $1::text AND sid <> ALL(array_remove($2::text[], NULL)) AND ${handle} <> $3::text RETURNING ${alive()} AS live)
SELECT count(*) FILTER (WHERE live)::float8 AS n FROM gone`,
    ),
  };
}
