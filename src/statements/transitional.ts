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
import {
  BY_STORED_ID,
  currentFragments,
  currentStatements,
  currentUserStatements,
  dueForTouch,
  type ModeSettings,
  SESS_WITH_KEYS_CHANGED,
} from './current.js';

/**
 * The transitional mode: a table the current mode cannot serve yet, for as long as it takes to
 * migrate it (`npx connect-pg-simple migrate`) or re-key it (`npx connect-pg-simple rekey`). One
 * set of statements serves it, named after the table's shape as the last check found it; the store
 * looks at the table again until it can use the current mode (table-setup.ts picks the set). Each
 * set is pinned, under its name, in test/snapshots/transitional.sql.
 *
 * What a set's name says:
 * - `10.x table`: before schema 2 (10.x's table, or one migrated to schema 1 only): no `created`
 *   (the absolute timeout waits for the migration), ids as given; `schema 2`: `created`, no columns
 *   of sessions per user; `current schema`: both (schema 3, and 4 whose triggers change no statement).
 * - `ids as given`: `$1` is the id as the store makes it, as in the current mode.
 * - `plain or hashed ids`: a store that hashes ids, on a 10.x table that may be migrated under it:
 *   `$1` is the plain id, and each statement finds the row by it or by its SHA-256 (PostgreSQL's
 *   `sha256()`); a new row's id is hashed once the `sid` column says the table holds hashed ids.
 *   So no session is missed between a migration and the store's next look at the table.
 * - `id candidates`: a store with `sessionIdPepper` on a table not (yet) of its `hmac-sha256` ids,
 *   before and while `rekey` re-keys it: `$1` is the session's `IdCandidates` (session-id.ts), a
 *   text array, and each statement finds the row by any of them. A new row takes the form the
 *   `sid` column names when the statement runs (so a store that has not looked at the table since
 *   `rekey` began still writes the new form), and replaces a row of the session in another form.
 * - `partitioned`: the table is partitioned by `created` (see schema/partitions.ts), as in the
 *   partitioned mode: a new session's write deletes any row of the session and inserts, in one
 *   statement; `get` reads the newest row of the session; prune deletes from the DEFAULT partition.
 *
 * A write to a live row keeps the row's creation time, whatever path it took: only a new session
 * id starts a new lifetime. The absolute timeout and synchronous commit are written as in the
 * current mode (values in one text).
 */
export type TransitionalSet =
  | '10.x table, ids as given'
  | '10.x table, plain or hashed ids'
  | '10.x table, id candidates'
  | 'schema 2'
  | 'schema 2, id candidates'
  | 'schema 2, partitioned'
  | 'schema 2, partitioned, id candidates'
  | 'current schema, id candidates'
  | 'current schema, partitioned, id candidates';

/** The session's row when `$1` is a plain id: as given, or hashed by a migration meanwhile. */
const PLAIN_OR_HASHED = `sid = ANY(ARRAY[$1::text, encode(sha256(convert_to($1::text, 'UTF8')), 'hex')])`;

/** The session's row when `$1` is its `IdCandidates`. */
const ANY_CANDIDATE = 'sid = ANY($1::text[])';

/**
 * The first step of a new session's write by candidates: the id its row takes, by the `sid`
 * column's comment when the statement runs: the hmac-sha256 candidate once the table is re-keying
 * or re-keyed, else the table's own form (plain for a table before schema 2, whose comment is empty).
 */
function newIdStep(names: TableNames): string {
  const comment = sidCommentSql(names);
  const hmac = quoteLiteral(`${idFormComment('hmac-sha256')}%`);
  const rekeying = quoteLiteral(`${ID_FORM_MARK}re-keying %`);
  const sha256 = quoteLiteral(idFormComment('sha256'));
  return `new_id AS (SELECT CASE WHEN ${comment} LIKE ${hmac} OR ${comment} LIKE ${rekeying} THEN ($1::text[])[1] WHEN ${comment} = ${sha256} THEN ($1::text[])[2] ELSE coalesce(($1::text[])[3], ($1::text[])[2]) END AS sid)`;
}

/** How a table before schema 3 speaks of a row's lifetime: by its expiry and, from schema 2, its creation time. */
type Lifetimes = Pick<ReturnType<typeof currentFragments>, 'alive' | 'endsAt' | 'expiryIn' | 'commitWait'>;

/** A 10.x table has no creation times: a row lives until its expiry. */
function withoutCreated(settings: ModeSettings): Lifetimes {
  return {
    alive: () => 'expire > now()',
    endsAt: 'expire',
    expiryIn: (param) => `now() + make_interval(secs => ${param}::float8)`,
    commitWait: currentFragments(settings).commitWait,
  };
}

/**
 * The statements of a table before schema 3 (no columns of sessions per user): each finds the
 * session's row by `sessionRow`; the upsert is the set's own.
 */
function beforeSchema3(
  names: TableNames,
  { alive, endsAt, expiryIn, commitWait }: Lifetimes,
  sessionRow: string,
  upsert: string,
): StoreStatements {
  const t = names.qualified;
  return {
    get: statement(
      'get',
      `SELECT sess::text AS sess, date_part('epoch', ${endsAt} - now()) AS remaining FROM ${t} WHERE ${sessionRow} AND ${alive()}`,
      true,
    ),
    upsert: statement('upsert', upsert, true),
    update: statement(
      'update',
      `UPDATE ${t} SET sess = $2::text::json, expire = ${expiryIn('$3')} FROM ${commitWait} WHERE ${sessionRow} AND ${alive()}`,
      true,
    ),
    updateIfUnchanged: statement(
      'update_if_unchanged',
      `UPDATE ${t} SET sess = $2::text::json, expire = ${expiryIn('$3')} FROM ${commitWait} WHERE ${sessionRow} AND ${alive()} AND sess::text = $4::text RETURNING true AS updated`,
      true,
    ),
    updateKeys: statement(
      'update_keys',
      `UPDATE ${t} AS target SET sess = ${SESS_WITH_KEYS_CHANGED}, expire = ${expiryIn('$4')} FROM ${commitWait} WHERE ${sessionRow} AND ${alive()}`,
      true,
    ),
    // A row clamped at the end of its absolute lifetime has all the time it will get: no write.
    touch: statement(
      'touch',
      `UPDATE ${t} SET expire = ${expiryIn('$3')} FROM ${commitWait} WHERE ${sessionRow} AND ${alive()} AND ${dueForTouch(expiryIn)}`,
      true,
    ),
    setUser: undefined,
    destroy: statement('destroy', `DELETE FROM ${t} WHERE ${sessionRow}`, true),
    // The same result type (and collation) before and after migrate turns a 10.x varchar column to
    // text COLLATE "C": otherwise a statement prepared before fails once after ("cached plan must
    // not change result type").
    all: statement('all', `SELECT sid::text COLLATE "C" AS sid, sess::text AS sess FROM ${t} WHERE ${alive()}`),
    length: statement('length', `SELECT count(*)::float8 AS n FROM ${t} WHERE ${alive()}`),
    clear: statement('clear', `DELETE FROM ${t}`),
    pruneBatch: pruneBatchStatement(t),
    describe: describeTableStatement,
  };
}

/** What the upserts of the sets with creation times (schema 2 and later) are written with. */
function upsertParts(names: TableNames, settings: ModeSettings) {
  const { alive, lifetime, expiryIn, commitWait } = currentFragments(settings);
  // A live row's creation time is kept: on conflict, or from the step `replaced AS (DELETE …)`.
  const kept = `CASE WHEN ${alive('target.')} THEN target.created ELSE excluded.created END`;
  return {
    t: names.qualified,
    expiryIn,
    commitWait,
    newId: newIdStep(names),
    returningCreated: `RETURNING CASE WHEN ${alive()} THEN created END AS created`,
    replacedCreated: 'coalesce((SELECT min(created) FROM replaced), now())',
    keptOnConflict: `sess = excluded.sess, expire = least(excluded.expire, ${kept} + ${lifetime}), created = ${kept}`,
  };
}

function tenXAsGiven(names: TableNames, settings: ModeSettings): StoreStatements {
  const t = names.qualified;
  const lifetimes = withoutCreated(settings);
  const { expiryIn, commitWait } = lifetimes;
  return beforeSchema3(
    names,
    lifetimes,
    BY_STORED_ID,
    `INSERT INTO ${t} AS target (sid, sess, expire)
SELECT $1::text, $2::text::json, ${expiryIn('$3')} FROM ${commitWait}
ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire`,
  );
}

function tenXPlainOrHashed(names: TableNames, settings: ModeSettings): StoreStatements {
  const t = names.qualified;
  const lifetimes = withoutCreated(settings);
  const { expiryIn, commitWait } = lifetimes;
  const hashed = quoteLiteral(idFormComment('sha256'));
  return beforeSchema3(
    names,
    lifetimes,
    PLAIN_OR_HASHED,
    `INSERT INTO ${t} AS target (sid, sess, expire)
SELECT CASE WHEN ${sidCommentSql(names)} = ${hashed} THEN encode(sha256(convert_to($1::text, 'UTF8')), 'hex') ELSE $1::text END,
  $2::text::json, ${expiryIn('$3')} FROM ${commitWait}
ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire`,
  );
}

function tenXCandidates(names: TableNames, settings: ModeSettings): StoreStatements {
  const t = names.qualified;
  const lifetimes = withoutCreated(settings);
  const { expiryIn, commitWait } = lifetimes;
  return beforeSchema3(
    names,
    lifetimes,
    ANY_CANDIDATE,
    `WITH ${newIdStep(names)},
replaced AS (DELETE FROM ${t} WHERE sid = ANY($1::text[]) AND sid <> (SELECT sid FROM new_id))
INSERT INTO ${t} AS target (sid, sess, expire)
SELECT (SELECT sid FROM new_id), $2::text::json, ${expiryIn('$3')} FROM ${commitWait}
ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire`,
  );
}

function schema2(names: TableNames, settings: ModeSettings): StoreStatements {
  const { t, expiryIn, commitWait, keptOnConflict } = upsertParts(names, settings);
  return beforeSchema3(
    names,
    currentFragments(settings),
    BY_STORED_ID,
    `INSERT INTO ${t} AS target (sid, sess, expire, created)
SELECT $1::text, $2::text::json, ${expiryIn('$3', 'now()')}, now() FROM ${commitWait}
ON CONFLICT (sid) DO UPDATE SET ${keptOnConflict}`,
  );
}

function schema2Candidates(names: TableNames, settings: ModeSettings): StoreStatements {
  const { t, expiryIn, commitWait, newId, returningCreated, replacedCreated, keptOnConflict } = upsertParts(
    names,
    settings,
  );
  return beforeSchema3(
    names,
    currentFragments(settings),
    ANY_CANDIDATE,
    `WITH ${newId},
replaced AS (DELETE FROM ${t} WHERE sid = ANY($1::text[]) AND sid <> (SELECT sid FROM new_id) ${returningCreated})
INSERT INTO ${t} AS target (sid, sess, expire, created)
SELECT (SELECT sid FROM new_id), $2::text::json, ${expiryIn('$3', replacedCreated)}, ${replacedCreated} FROM ${commitWait}
ON CONFLICT (sid) DO UPDATE SET ${keptOnConflict}`,
  );
}

function schema2Partitioned(names: TableNames, settings: ModeSettings): StoreStatements {
  const { t, expiryIn, commitWait, returningCreated, replacedCreated } = upsertParts(names, settings);
  const { alive, endsAt } = currentFragments(settings);
  return {
    ...beforeSchema3(
      names,
      currentFragments(settings),
      BY_STORED_ID,
      `WITH replaced AS (DELETE FROM ${t} WHERE sid = $1::text ${returningCreated})
INSERT INTO ${t} (sid, sess, expire, created)
SELECT $1::text, $2::text::json, ${expiryIn('$3', replacedCreated)}, ${replacedCreated} FROM ${commitWait}`,
    ),
    get: statement(
      'get',
      `SELECT sess::text AS sess, date_part('epoch', ${endsAt} - now()) AS remaining FROM ${t} WHERE sid = $1::text AND ${alive()} ORDER BY created DESC LIMIT 1`,
      true,
    ),
    pruneBatch: pruneBatchStatement(names.defaultPartition),
  };
}

function schema2PartitionedCandidates(names: TableNames, settings: ModeSettings): StoreStatements {
  const { t, expiryIn, commitWait, newId, returningCreated, replacedCreated } = upsertParts(names, settings);
  const { alive, endsAt } = currentFragments(settings);
  return {
    ...beforeSchema3(
      names,
      currentFragments(settings),
      ANY_CANDIDATE,
      `WITH ${newId},
replaced AS (DELETE FROM ${t} WHERE sid = ANY($1::text[]) ${returningCreated})
INSERT INTO ${t} (sid, sess, expire, created)
SELECT (SELECT sid FROM new_id), $2::text::json, ${expiryIn('$3', replacedCreated)}, ${replacedCreated} FROM ${commitWait}`,
    ),
    get: statement(
      'get',
      `SELECT sess::text AS sess, date_part('epoch', ${endsAt} - now()) AS remaining FROM ${t} WHERE sid = ANY($1::text[]) AND ${alive()} ORDER BY created DESC LIMIT 1`,
      true,
    ),
    pruneBatch: pruneBatchStatement(names.defaultPartition),
  };
}

/** The current mode's statements, each finding the row by any candidate, but for the upsert. */
function currentSchemaCandidates(names: TableNames, settings: ModeSettings): StoreStatements {
  const { t, expiryIn, commitWait, newId, returningCreated, replacedCreated, keptOnConflict } = upsertParts(
    names,
    settings,
  );
  return {
    ...currentStatements(names, settings, ANY_CANDIDATE),
    upsert: statement(
      'upsert',
      `WITH ${newId},
replaced AS (DELETE FROM ${t} WHERE sid = ANY($1::text[]) AND sid <> (SELECT sid FROM new_id) ${returningCreated})
INSERT INTO ${t} AS target (sid, sess, expire, created, touched, user_id, details)
SELECT (SELECT sid FROM new_id), $2::text::json, ${expiryIn('$3', replacedCreated)}, ${replacedCreated}, now(), $4::text, $5::text::json
FROM ${commitWait}
ON CONFLICT (sid) DO UPDATE SET ${keptOnConflict}, touched = excluded.touched, user_id = excluded.user_id, details = excluded.details`,
      true,
    ),
  };
}

/** The partitioned mode's statements (statements/partitioned.ts), each finding the row by any candidate. */
function currentSchemaPartitionedCandidates(names: TableNames, settings: ModeSettings): StoreStatements {
  const { t, expiryIn, commitWait, newId, returningCreated, replacedCreated } = upsertParts(names, settings);
  const { alive, endsAt } = currentFragments(settings);
  return {
    ...currentStatements(names, settings, ANY_CANDIDATE),
    get: statement(
      'get',
      `SELECT sess::text AS sess, date_part('epoch', ${endsAt} - now()) AS remaining, user_id FROM ${t} WHERE sid = ANY($1::text[]) AND ${alive()} ORDER BY created DESC LIMIT 1`,
      true,
    ),
    upsert: statement(
      'upsert',
      `WITH ${newId},
replaced AS (DELETE FROM ${t} WHERE sid = ANY($1::text[]) ${returningCreated})
INSERT INTO ${t} (sid, sess, expire, created, touched, user_id, details)
SELECT (SELECT sid FROM new_id), $2::text::json, ${expiryIn('$3', replacedCreated)}, ${replacedCreated}, now(), $4::text, $5::text::json
FROM ${commitWait}`,
      true,
    ),
    pruneBatch: pruneBatchStatement(names.defaultPartition),
  };
}

/**
 * Sessions per user on a table of the current schema served by candidates: the current mode's, but
 * a session named by its candidates is spared by any of them. Candidates hold a null for a form
 * the table cannot hold: `<> ALL` of a null is never true, so it is taken out.
 */
function candidatesUserStatements(names: TableNames, settings: ModeSettings): UserSessionStatements {
  const { alive, handle } = currentFragments(settings);
  return {
    ...currentUserStatements(names, settings),
    destroyAllBut: statement(
      'user_destroy_but',
      `WITH gone AS (DELETE FROM ${names.qualified} WHERE user_id = $1::text AND sid <> ALL(array_remove($2::text[], NULL)) AND ${handle} <> $3::text RETURNING ${alive()} AS live)
SELECT count(*) FILTER (WHERE live)::float8 AS n FROM gone`,
    ),
  };
}

interface SetStatements {
  readonly statements: (names: TableNames, settings: ModeSettings) => StoreStatements;
  /** Schema 3's statements of sessions per user; none before. */
  readonly userStatements?: (names: TableNames, settings: ModeSettings) => UserSessionStatements;
}

const SETS: Readonly<Record<TransitionalSet, SetStatements>> = {
  '10.x table, ids as given': { statements: tenXAsGiven },
  '10.x table, plain or hashed ids': { statements: tenXPlainOrHashed },
  '10.x table, id candidates': { statements: tenXCandidates },
  'schema 2': { statements: schema2 },
  'schema 2, id candidates': { statements: schema2Candidates },
  'schema 2, partitioned': { statements: schema2Partitioned },
  'schema 2, partitioned, id candidates': { statements: schema2PartitionedCandidates },
  'current schema, id candidates': { statements: currentSchemaCandidates, userStatements: candidatesUserStatements },
  'current schema, partitioned, id candidates': {
    statements: currentSchemaPartitionedCandidates,
    userStatements: candidatesUserStatements,
  },
};

export function transitionalStatements(
  names: TableNames,
  set: TransitionalSet,
  settings: ModeSettings = {},
): StoreStatements {
  return SETS[set].statements(names, settings);
}

/** Undefined for a set before schema 3, whose table has no columns of sessions per user. */
export function transitionalUserStatements(
  names: TableNames,
  set: TransitionalSet,
  settings: ModeSettings = {},
): UserSessionStatements | undefined {
  return SETS[set].userStatements?.(names, settings);
}
