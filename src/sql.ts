import { createHash } from 'node:crypto';
import { ENVELOPE_START } from './encryption.js';
import { typeError } from './errors.js';

/**
 * Identifiers and literals are quoted here and nowhere else; the statements every mode shares
 * (the table check, prune) and the CLI's are built here too. The store's statements for a table
 * are in src/statements/, one file per mode, chosen by table-setup.ts.
 */

/** PostgreSQL truncates identifiers longer than this many bytes (NAMEDATALEN - 1). */
const MAX_IDENTIFIER_BYTES = 63;

/** First keys of the advisory locks this package takes ("cps", "cpt" in ASCII); the second is the table's. */
export const PRUNE_LOCK_NAMESPACE = 0x637073;
export const SCHEMA_LOCK_NAMESPACE = 0x637074;

/** The pruning cursor's first value: before every expiry. */
export const PRUNE_FROM_START = '-infinity';

export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * A string literal that stays one whatever `standard_conforming_strings` says. With the setting
 * off, a backslash in a plain `'…'` literal escapes the next character, so the literal would end
 * somewhere else than it should: a value with a backslash is written in the `E'…'` form instead,
 * backslashes doubled, as PostgreSQL's own quote_literal does.
 */
export function quoteLiteral(value: string): string {
  const quoted = value.replaceAll("'", "''");
  return value.includes('\\') ? `E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
}

/**
 * A name derived from the table's name (`session_pkey`, `session_expire_idx`), kept within
 * PostgreSQL's identifier limit: a long table name is shortened and given a hash of the full
 * name, so that two long table names in one schema never yield the same derived name.
 */
export function derivedName(tableName: string, suffix: string): string {
  const plain = `${tableName}_${suffix}`;
  if (Buffer.byteLength(plain) <= MAX_IDENTIFIER_BYTES) return plain;
  const hash = createHash('sha256').update(tableName).digest('hex').slice(0, 8);
  const tail = `_${hash}_${suffix}`;
  // Shortened by whole characters: cutting between the halves of a surrogate pair would leave an invalid name.
  const characters = [...tableName];
  while (Buffer.byteLength(characters.join('') + tail) > MAX_IDENTIFIER_BYTES) characters.pop();
  return characters.join('') + tail;
}

export interface TableNames {
  readonly schemaName: string | undefined;
  readonly tableName: string;
  /** `"schema"`, when a schema was named. */
  readonly quotedSchema: string | undefined;
  /** `"schema"."table"` or `"table"`: what goes after FROM. */
  readonly qualified: string;
  readonly primaryKey: string;
  readonly expireIndex: string;
  /** `"schema"."table_default"`: the DEFAULT partition of a partitioned table. */
  readonly defaultPartition: string;
  /** The partial index on `user_id` (schema 3). */
  readonly userIndex: string;
}

/** What an error calls the two names: the store's option names, or the CLI's flags. */
export interface NameLabels {
  readonly table: string;
  readonly schema: string;
}

const OPTION_LABELS: NameLabels = { table: 'tableName', schema: 'schemaName' };

/** PostgreSQL would silently shorten a longer name: two stores could then share one table. */
function checkIdentifierLength(name: string, label: string): void {
  const bytes = Buffer.byteLength(name);
  if (bytes > MAX_IDENTIFIER_BYTES) {
    throw typeError(
      'ERR_INVALID_OPTION',
      `connect-pg-simple: ${label} is ${bytes} bytes long in UTF-8, more than PostgreSQL's limit of ${MAX_IDENTIFIER_BYTES} bytes for a name (it would silently cut it short): choose a shorter name`,
    );
  }
}

export function tableNames(tableName: string, schemaName?: string, labels: NameLabels = OPTION_LABELS): TableNames {
  checkIdentifierLength(tableName, labels.table);
  if (schemaName !== undefined) checkIdentifierLength(schemaName, labels.schema);
  const table = quoteIdentifier(tableName);
  const quotedSchema = schemaName === undefined ? undefined : quoteIdentifier(schemaName);
  return {
    schemaName,
    tableName,
    quotedSchema,
    qualified: quotedSchema === undefined ? table : `${quotedSchema}.${table}`,
    primaryKey: quoteIdentifier(derivedName(tableName, 'pkey')),
    expireIndex: quoteIdentifier(derivedName(tableName, 'expire_idx')),
    defaultPartition: siblingName({ tableName, quotedSchema }, 'default'),
    userIndex: quoteIdentifier(derivedName(tableName, 'user_idx')),
  };
}

/** `"schema"."table_suffix"`: a relation named after the table, in the table's schema. */
export function siblingName(names: Pick<TableNames, 'tableName' | 'quotedSchema'>, suffix: string): string {
  const name = quoteIdentifier(derivedName(names.tableName, suffix));
  return names.quotedSchema === undefined ? name : `${names.quotedSchema}.${name}`;
}

/** A statement with a stable name, so drivers that prepare statements can reuse the plan. */
export interface Statement {
  /** Empty for a statement sent once, never prepared. */
  readonly name: string;
  readonly text: string;
  /** One row by primary key: quick, so it may wait in line behind others on a pipelined connection. */
  readonly quick?: boolean;
}

export function statement(purpose: string, text: string, quick = false): Statement {
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 12);
  return quick ? { name: `cps_${purpose}_${hash}`, text, quick } : { name: `cps_${purpose}_${hash}`, text };
}

export interface StoreStatements {
  /** $1 sid → sess (text), remaining (float8, seconds), and from schema 3 user_id (text or null) */
  readonly get: Statement;
  /**
   * $1 sid, $2 sess, $3 seconds to live (and from schema 3: $4 user id, $5 details) →
   * inserts or replaces; a live row of the session keeps its creation time (and so its absolute
   * end), else the creation time is now
   */
  readonly upsert: Statement;
  /** $1 sid, $2 sess, $3 seconds to live → replaces a live row only, never creates one */
  readonly update: Statement;
  /**
   * $1 sid, $2 sess, $3 seconds to live, $4 the stored text the writer's change is based on →
   * replaces a live row only if it still holds that text; a row `updated` (true) when it did.
   * A loaded session's change when no other request changed the row meanwhile, and the
   * compare-and-swap of encrypted sessions, whose keys the database cannot merge.
   */
  readonly updateIfUnchanged: Statement;
  /**
   * $1 sid, $2 changed keys (a JSON object's text), $3 keys to take out first (a JSON array's
   * text), $4 seconds to live → changes those keys of a live row only, never creates one
   */
  readonly updateKeys: Statement;
  /**
   * $1 sid, $2 seconds wanted, $3 seconds to write → moves a live row's expiry only when it falls
   * short of $2, or lies more than SHORTENING_SLACK_SECONDS beyond $3 (the lifetime was shortened)
   */
  readonly touch: Statement;
  /**
   * Schema 3 only: $1 sid, $2 user id (text or null), $3 details (stored text or null) →
   * records a live row's new user (login, logout) and its device's details; never creates a row
   */
  readonly setUser: Statement | undefined;
  readonly destroy: Statement;
  readonly all: Statement;
  readonly length: Statement;
  readonly clear: Statement;
  /** $1 batch size, $2 qualified table name (the lock is the table's), $3 take the lock (bool), $4 start at this expiry (text; PRUNE_FROM_START first) → held (bool), deleted (int), upto (text: where to start next) */
  readonly pruneBatch: Statement;
  /** $1 qualified table name → exists (bool), comment (text), kind (pg_class.relkind: `p` when partitioned), sid_type, sess_type, expire_type, created_type (text; null for a missing column), sid_comment, created_comment (text) */
  readonly describe: Statement;
}

/** The statements of sessions per user (schema 3): see user-sessions.ts. */
export interface UserSessionStatements {
  /**
   * $1 user id → handle, created_ms, touched_ms, expires_ms (float8, ms since the epoch), details
   * (stored text or null): the user's live sessions, latest activity first
   */
  readonly list: Statement;
  /** $1 user id → n (float8): deletes every session of the user; n counts the live ones */
  readonly destroyAll: Statement;
  /** $1 user id, $2 the stored id of a session id (or its candidates), $3 a handle → n: all but the session either names */
  readonly destroyAllBut: Statement;
  /** $1 handle → n (0 or 1) */
  readonly destroyHandle: Statement;
  /** $1 handle, $2 user id → n (0 or 1): only when the session belongs to that user */
  readonly destroyUserHandle: Statement;
}

/**
 * SQL: the `sid` column's comment (how the table stores ids: see session-id.ts), read when the
 * statement runs. The one place it is read in SQL: statements, migrations and `rekey` use it.
 */
export function sidCommentSql(names: TableNames): string {
  const relation = `${quoteLiteral(names.qualified)}::regclass`;
  return `col_description(${relation}, (SELECT attnum FROM pg_attribute WHERE attrelid = ${relation} AND attname = 'sid' AND NOT attisdropped)::int)`;
}

// Keyset: each batch starts at the expiry where the last one stopped ($4), so it does not
// wade again through the index entries of the rows the earlier batches deleted. Rows are
// deleted by ctid, found by the same scan: no second lookup through the primary key.
// The lock's key is the table's oid: one key per table, however its name is spelled.
// Partitioned, only the DEFAULT partition's rows are deleted (a ctid is a row's address in
// one partition); the others are dropped whole (see schema/partitions.ts).
export function pruneBatchStatement(relation: string): Statement {
  return statement(
    'prune',
    `WITH lock AS (
  SELECT CASE WHEN $3::bool THEN pg_try_advisory_xact_lock(${PRUNE_LOCK_NAMESPACE}, to_regclass($2::text)::oid::int) ELSE true END AS held
), doomed AS (
  SELECT ctid, expire FROM ${relation}
  WHERE (SELECT held FROM lock) AND expire < now() AND expire >= $4::text::timestamptz
  ORDER BY expire LIMIT $1::int FOR UPDATE SKIP LOCKED
), gone AS (
  DELETE FROM ${relation} WHERE ctid = ANY(ARRAY(SELECT ctid FROM doomed)) RETURNING 1
)
SELECT ${yesOrNo('SELECT held FROM lock')} AS held, (SELECT count(*) FROM gone)::float8 AS deleted,
  (SELECT max(expire)::timestamptz::text FROM doomed) AS upto`,
  );
}

/** The statements of the CLI's `reencrypt`: one batch read, one batch written, each its own transaction. */
export interface ReencryptStatements {
  /** $1 start after this id ('' first), $2 batch size → sid, value (the column's text) of live rows, in id order */
  readonly readBatch: Statement;
  /**
   * $1 ids, $2 new stored texts, $3 the texts they replace (text arrays) → updated (count): a row
   * a store changed since it was read keeps the store's write (and is re-encrypted by it).
   */
  readonly writeBatch: Statement;
}

/** The encrypted columns: the session, and (schema 3) what `describe` recorded. */
export type EncryptedColumn = 'sess' | 'details';

export function reencryptStatements(names: TableNames, column: EncryptedColumn = 'sess'): ReencryptStatements {
  const t = names.qualified;
  const c = quoteIdentifier(column);
  return {
    readBatch: statement(
      `reencrypt_read_${column}`,
      `SELECT sid, ${c}::text AS value FROM ${t} WHERE sid > $1::text AND expire > now() AND ${c} IS NOT NULL ORDER BY sid LIMIT $2::int`,
    ),
    writeBatch: statement(
      `reencrypt_write_${column}`,
      `WITH written AS (
  UPDATE ${t} AS target SET ${c} = v.value::json
  FROM unnest($1::text[], $2::text[], $3::text[]) AS v(sid, value, old)
  WHERE target.sid = v.sid AND target.${c}::text = v.old
  RETURNING 1
)
SELECT count(*)::float8 AS updated FROM written`,
    ),
  };
}

/**
 * The column `rekey` adds to a table while it re-keys it, and drops at the end: null on every row
 * that was there when it began (ids of the old form), true on every row moved since and on every
 * row written since (its default: stores write the new form from then on). It tells the rows to
 * move from the rest, which no id's shape could: SHA-256 and HMAC ids are both 64 hex digits.
 */
export const REKEYED_COLUMN = quoteIdentifier('cps_rekeyed');

/** The statements of the CLI's `rekey`: one batch read, one batch moved, each its own transaction. */
export interface RekeyStatements {
  /**
   * $1 start after this id ('' first), $2 batch size → sid, sess (text), and with `details` details
   * (text or null), of rows still to move, in id order
   */
  readonly readBatch: Statement;
  /**
   * $1 old ids, $2 new ids, $3 new stored texts (null: keep the row's), $4 the texts they replace
   * (null with a null $3), and with `details` $5 and $6 the same for the details → moved, dropped
   * (counts). A row whose text a store changed since it was read stays to move (the next sweep
   * reads it again); a row whose new id a store already wrote (the same session written anew) is
   * dropped, the store's row being the newer. The row's other columns (user, times) move with it.
   */
  readonly moveBatch: Statement;
  /** → rows (to move), encrypted (of them, with a session or details stored as an encryption envelope) */
  readonly countLeft: Statement;
  /** → rows, encrypted: every row, for a table not yet re-keying */
  readonly countAll: Statement;
}

/** `details`: the table has schema 3's details column, re-encrypted with the session (bound to its handle). */
export function rekeyStatements(names: TableNames, { details = false }: { details?: boolean } = {}): RekeyStatements {
  const t = names.qualified;
  const left = `${REKEYED_COLUMN} IS NULL`;
  const taken = `EXISTS (SELECT FROM ${t} AS other WHERE other.sid = v.new)`;
  const envelope = (column: string) =>
    `left(${column}::text, ${ENVELOPE_START.length}) = ${quoteLiteral(ENVELOPE_START)}`;
  const encrypted = details ? `${envelope('sess')} OR ${envelope('details')}` : envelope('sess');
  const counts = (where: string) =>
    `SELECT count(*)::float8 AS rows, count(*) FILTER (WHERE ${encrypted})::float8 AS encrypted FROM ${t}${where}`;
  const columns = details ? 'old, new, sess, base, details, details_base' : 'old, new, sess, base';
  const arrays = details
    ? '$1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]'
    : '$1::text[], $2::text[], $3::text[], $4::text[]';
  // A re-encrypted value replaces the row's only while the row still holds the value it was made from.
  const resealed = details ? 'v.sess IS NOT NULL OR v.details IS NOT NULL' : 'v.sess IS NOT NULL';
  const setResealed = details
    ? 'sess = coalesce(v.sess::json, target.sess), details = CASE WHEN v.details IS NULL THEN target.details ELSE v.details::json END'
    : 'sess = v.sess::json';
  const unchanged = details
    ? '(v.sess IS NULL OR target.sess::text = v.base) AND (v.details IS NULL OR target.details::text = v.details_base)'
    : 'target.sess::text = v.base';
  return {
    readBatch: statement(
      'rekey_read',
      `SELECT sid, sess::text AS sess${details ? ', details::text AS details' : ''} FROM ${t} WHERE ${left} AND sid > $1::text ORDER BY sid LIMIT $2::int`,
    ),
    moveBatch: statement(
      'rekey_move',
      `WITH v AS (
  SELECT * FROM unnest(${arrays}) AS v(${columns})
), dropped AS (
  DELETE FROM ${t} AS target USING v
  WHERE target.sid = v.old AND target.${left} AND ${taken}
  RETURNING 1
), kept AS (
  UPDATE ${t} AS target SET sid = v.new, ${REKEYED_COLUMN} = true FROM v
  WHERE NOT (${resealed}) AND target.sid = v.old AND target.${left} AND NOT ${taken}
  RETURNING 1
), sealed AS (
  UPDATE ${t} AS target SET sid = v.new, ${setResealed}, ${REKEYED_COLUMN} = true FROM v
  WHERE (${resealed}) AND target.sid = v.old AND target.${left} AND ${unchanged} AND NOT ${taken}
  RETURNING 1
)
SELECT ((SELECT count(*) FROM kept) + (SELECT count(*) FROM sealed))::float8 AS moved, (SELECT count(*) FROM dropped)::float8 AS dropped`,
    ),
    countLeft: statement('rekey_count_left', counts(` WHERE ${left}`)),
    countAll: statement('rekey_count_all', counts('')),
  };
}

/** The columns whose types the table check reads. */
const TYPED_COLUMNS = ['sid', 'sess', 'expire', 'created'];
/** The columns whose comments the table check reads (the id form, the partitioning). */
const COMMENTED_COLUMNS = ['sid', 'created'];

/**
 * The columns of `describeTableStatement`'s answer the table check requires (ensure.ts checks
 * for them first). The columns' comments are not among them: the check reads a missing one as none.
 */
export const DESCRIBED_COLUMNS: readonly string[] = [
  'exists',
  'comment',
  'kind',
  'schema',
  ...TYPED_COLUMNS.map((column) => `${column}_type`),
];

const columnType = (column: string) =>
  `(SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = r.oid AND attname = ${quoteLiteral(column)} AND attnum > 0 AND NOT attisdropped) AS ${column}_type`;

const columnComment = (column: string) =>
  `col_description(r.oid, (SELECT attnum FROM pg_attribute WHERE attrelid = r.oid AND attname = ${quoteLiteral(column)} AND NOT attisdropped)::int) AS ${column}_comment`;

/**
 * A yes-or-no the store reads back, sent as text ('true' or 'false'): the application may have
 * given its driver another parser for booleans (`pg.types.setTypeParser(16, …)`, a pool's
 * `types`, PGlite's `parsers`), and the store reads its own answers the same whatever it chose.
 * `saysTrue` reads it.
 */
export const yesOrNo = (condition: string) => `(${condition})::text`;

/** A column made by `yesOrNo`: true when it says 'true'. */
export const saysTrue = (value: unknown): boolean => value === 'true';

/** The table's version mark, layout and the types of the columns the store uses, in one round trip: the same for every mode. */
export const describeTableStatement: Statement = statement(
  'describe',
  `SELECT ${yesOrNo('r.oid IS NOT NULL')} AS exists, obj_description(r.oid, 'pg_class') AS comment,
  (SELECT relkind::text FROM pg_class WHERE oid = r.oid) AS kind,
  (SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = r.oid) AS schema,
  ${TYPED_COLUMNS.map(columnType).join(',\n  ')},
  ${COMMENTED_COLUMNS.map(columnComment).join(',\n  ')}
FROM (SELECT to_regclass($1::text) AS oid) r`,
);

/** A `DO` block runs several statements as one, in one transaction, through any driver or pooler. */
export function doBlock(body: string): string {
  let tag = '$cps$';
  for (let i = 0; body.includes(tag); i++) tag = `$cps${i}$`;
  return `DO ${tag}\nBEGIN\n${body}\nEND\n${tag}`;
}

/** `$tag$body$tag$`, with a tag the body does not contain. */
export function dollarQuote(body: string): string {
  let tag = '$cps$';
  for (let i = 0; body.includes(tag); i++) tag = `$cps${i}$`;
  return `${tag}\n${body}\n${tag}`;
}

/** The statements of `readPool` (see replica-reads.ts). */
export interface ReplicaStatements {
  /**
   * The primary's `get`, with its parameters, sent to a replica → one row always: the columns
   * of `get` (null on a miss), replayed (the WAL position the server had replayed, as text;
   * null on a server not in recovery), server (who answered: address, port, start time)
   */
  readonly get: Statement;
  /** → lsn (text): the primary's WAL insert position now */
  readonly walPosition: Statement;
}

/**
 * Built around the primary's `get`, so that whatever `get` becomes, the replica reads the same.
 * The outer join keeps a row on a miss: its `replayed` is still worth knowing.
 */
export function replicaStatements(get: Statement): ReplicaStatements {
  return {
    get: statement(
      'replica_get',
      `SELECT found.*, pg_last_wal_replay_lsn()::text AS replayed,
  concat_ws(' ', inet_server_addr(), inet_server_port(), pg_postmaster_start_time()) AS server
FROM (SELECT) AS probe LEFT JOIN (${get.text}) AS found ON true`,
      true,
    ),
    walPosition: statement('wal_position', 'SELECT pg_current_wal_insert_lsn()::text AS lsn'),
  };
}
