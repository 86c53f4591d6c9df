import { didYouMean, suggest } from './did-you-mean.js';
import { connectionStringProblem } from './drivers/connection-errors.js';
import type { DriverChoice } from './drivers/open.js';
import { isQueryable, type PgPoolLike } from './drivers/pg.js';
import { isPgPromiseDatabase, type PgPromiseDatabaseLike } from './drivers/pg-promise.js';
import { isPGlite, type PGliteLike } from './drivers/pglite.js';
import { isPostgresJsSql, type PostgresJsSqlLike } from './drivers/postgres-js.js';
import { ENCRYPTION_KEY_BYTES, sessionKeyFrom } from './encryption.js';
import { typeError } from './errors.js';
import { OPTION_ALIASES } from './option-aliases.js';
import {
  boolean,
  type Check,
  describe,
  driverObject,
  fail,
  fn,
  millisecondsOrFalse,
  nonEmptyString,
  positiveNumber,
  secretObject,
  trueOrMillisecondsOrFalse,
  wholeNumber,
} from './option-checks.js';
import type { Partitioning } from './schema/partitions.js';
import { idFormFor, type SessionIdForm } from './session-id.js';
import { MAX_TIMER_MS } from './time-limit.js';
import type { DescribeSession, ErrorLog, SessionObject, UserIdOf } from './types.js';
import { userIdFunction } from './user-id.js';

export interface PGStoreOptions {
  /** A `pg.Pool` (recommended), a `pg.Client`, or any object whose `query(text, values)` resolves with `{ rows }` or rows. Never ended by the store. */
  pool?: PgPoolLike;
  /** A pg-promise database object. Never ended by the store. */
  pgPromise?: PgPromiseDatabaseLike;
  /** A postgres.js `sql` instance. Never ended by the store. */
  postgres?: PostgresJsSqlLike;
  /** A PGlite instance: PostgreSQL in-process. Never closed by the store. */
  pglite?: PGliteLike;
  /**
   * A `pg.Pool` (or a postgres.js `sql` instance) connected to a streaming replica of the primary:
   * `get` reads there when the replica has replayed every write this process made to that
   * session, and reads the primary on a miss, an error or any doubt. Everything else goes to the
   * primary. See docs/scaling.md for what holds across app instances. Never ended by the store.
   * Default: none (every read goes to the primary).
   */
  readPool?: PgPoolLike | PostgresJsSqlLike;
  /** A connection string for a pool the store creates (needs `pg`). Default: `DATABASE_URL`, then pg's PG* variables. */
  conString?: string;
  /** A `pg.Pool` config for a pool the store creates (needs `pg`). */
  conObject?: Record<string, unknown>;
  /** Session lifetime in seconds, or a function of the session giving it. Default: the cookie's maxAge, else one day. */
  ttl?: number | ((session: SessionObject) => number);
  /** Schema of the session table. Default: the connection's search_path. */
  schemaName?: string;
  /** Name of the session table. Default: `"session"`. */
  tableName?: string;
  /** Create the table on first use when it does not exist. Default: `false`. */
  createTableIfMissing?: boolean;
  /** Never extend a session's expiry on `touch`. Default: `false`. */
  disableTouch?: boolean;
  /**
   * Seconds within which a `touch` (or an unchanged `set`) skips its write, because the stored
   * expiry already covers the session. Default: 60 (and at most a tenth of the session's lifetime).
   * `0` or `false` writes on every touch, as 10.x did.
   */
  touchAfter?: number | false;
  /** Seconds between automatic prunes of expired sessions, or `false` for none. Default: 60. */
  pruneSessionInterval?: number | false;
  /** Turns the prune interval (ms) into the actual delay (ms), or `false` for none. Default: a random 50–150 %. */
  pruneSessionRandomizedInterval?: false | ((delayMs: number) => number);
  /** Rows deleted per prune statement. Default: 1000. */
  pruneBatchSize?: number;
  /** Let only one store instance at a time prune a table (PostgreSQL advisory lock). Default: `true`. */
  pruneLock?: boolean;
  /** Use named prepared statements with pg and pg-promise (falls back by itself behind PgBouncer). Default: `true` for pg pools and clients. */
  preparedStatements?: boolean;
  /**
   * `false` lets session writes (`set`, `touch`) commit without waiting for the WAL flush: about
   * twice the write throughput, and a crash of the database server can lose the last fraction of a
   * second of those writes (never corrupts the table; `destroy` always waits). Default: `true`.
   */
  synchronousCommit?: boolean;
  /**
   * Milliseconds an operation may take (waiting for a connection included) before it fails with a
   * `TimeoutError` (code `ETIMEDOUT`); with pg and pg-promise pools and postgres.js the statement is
   * then cancelled on the server. Default: 10000. `0` or `false`: no limit.
   */
  operationTimeout?: number | false;
  /** Largest serialized session, in bytes, that `set` accepts. Default: no limit. */
  maxSessionSize?: number;
  /**
   * `true`: `get` answers from what this process read, kept current by the table's change
   * notices (schema 4): a session destroyed, revoked or changed anywhere (another instance, the
   * CLI, plain SQL) is seen so within 50 ms, and whenever the store cannot be sure of that (its
   * listening connection down, a pooler in transaction mode, a table without the notices) it
   * reads the table. Needs a pg.Pool, a connection string, pg-promise, postgres.js or PGlite; one
   * more connection per store (the listener). Not with `readPool`.
   *
   * A number: milliseconds for which `get` may answer from what this process read, without a
   * query and without notices: the bound on how long a change made elsewhere can stay unseen
   * here. At most 300000.
   *
   * Either way this process's own writes and destroys are seen at once, and at most 32 MB of
   * session text is held. Default: `false` (every `get` reads the table).
   */
  readCache?: boolean | number;
  /**
   * With `conString`/`conObject`/`DATABASE_URL` only: send the quick statements (get, set, touch,
   * destroy) over one connection in pg's pipeline mode (needs pg ≥ 8.23), beside a one-connection
   * pool for the rest. Default: `false`.
   */
  pipeline?: boolean;
  /** Receives errors that have no callback or promise to go to. Default: `console.error`. */
  errorLog?: ErrorLog;
  /**
   * Store SHA-256 hashes of session ids, never the ids (schema 2 tables): whoever reads the table
   * (a backup, a replica, a statement log) cannot present a stored id as a cookie. Default: `true`.
   * `false` stores ids as they are, as 10.x did. Every store on one table must agree.
   */
  hashSessionIds?: boolean;
  /**
   * A secret (at least 16 bytes: a string or Buffer) that keys the id hash (HMAC-SHA-256), so
   * that even guessable ids cannot be checked against a stolen table without it. A table created
   * with it stores such ids; on a table of plain or SHA-256 ids the store finds sessions in either
   * form until `npx connect-pg-simple rekey` re-keys the table. It cannot change once a table is
   * keyed with it. Default: none (plain SHA-256).
   */
  sessionIdPepper?: string | Uint8Array;
  /**
   * Seconds a session may live after it was created, however active it stays (OWASP's absolute
   * timeout); a new session (login with `regenerate`) starts again. Enforced by the database's
   * clock; needs a schema 2 table. Default: none.
   */
  absoluteTimeout?: number;
  /**
   * Encrypt stored sessions with AES-256-GCM: one or more 32-byte keys (Buffers, or base64
   * strings). The first encrypts; all decrypt, so keys rotate without logging anybody out.
   * Default: none (sessions are stored as JSON).
   */
  encryptionKeys?: string | Uint8Array | readonly (string | Uint8Array)[];
  /**
   * With `createTableIfMissing`: create the table partitioned by creation time, one partition per
   * `days` days, for tables of tens of millions of sessions: pruning drops whole partitions of
   * dead sessions instead of deleting rows. Needs `absoluteTimeout` (a partition is dropped once
   * every session in it is past that). A store finds the layout of an existing table by itself,
   * whatever this option says. See docs/scaling.md. Default: none (one plain table).
   */
  partitionBy?: { days: number };
  /**
   * Which user a session belongs to, for `userSessions`, `destroyUserSessions` and
   * `destroySession` (schema 3 tables). A number is stored as its decimal string; `null` or
   * `undefined` for none. Read when a session is loaded and when it is written; the row's user
   * is written only when it changes (a new session, login, logout). Default: `session.userId`,
   * else `session.passport.user` (Passport), else none.
   */
  userId?: UserIdOf;
  /**
   * Small metadata about the device, stored with the session's row when the row is created or
   * its user changes, and listed by `userSessions` (such as the user agent, IP address, device
   * name): flat, string/number/boolean/null values, at most 1 kB of JSON; never the session's
   * data. `req` is the framework's request when the store can know it (express-session's
   * sessions carry it), else undefined. Encrypted like the session with `encryptionKeys`.
   * Default: none.
   */
  describe?: DescribeSession;
  /**
   * Emit `disconnect` when the database cannot be reached and `connect` when it answers (first,
   * and again after a `disconnect`). express-session then lets requests through without a
   * session while disconnected; `false` keeps it using the store, so that requests fail with the
   * store's error instead. See docs/observability.md. Default: `true`.
   */
  connectionEvents?: boolean;
}

export interface ResolvedOptions {
  readonly driver: DriverChoice;
  /** `readPool`, when given. */
  readonly readDriver: Extract<DriverChoice, { kind: 'pool' | 'postgres' }> | undefined;
  readonly ttl: number | ((session: SessionObject) => number) | undefined;
  readonly schemaName: string | undefined;
  readonly tableName: string;
  readonly createTableIfMissing: boolean;
  readonly disableTouch: boolean;
  readonly touchAfterSeconds: number;
  readonly pruneIntervalMs: number | false;
  readonly pruneDelay: (delayMs: number) => number;
  readonly pruneBatchSize: number;
  readonly pruneLock: boolean;
  readonly preparedStatements: boolean | undefined;
  readonly synchronousCommit: boolean;
  readonly operationTimeoutMs: number | false;
  readonly maxSessionSize: number | undefined;
  readonly readCacheMs: number | false;
  /** `readCache: true`: the cache kept current by change notices (see cache-trust.ts). */
  readonly readCacheListens: boolean;
  readonly pipeline: boolean;
  readonly errorLog: ErrorLog;
  /** How this store wants ids stored (schema 2). */
  readonly idForm: SessionIdForm;
  readonly sessionIdPepper: Buffer | undefined;
  readonly absoluteTimeoutSeconds: number | undefined;
  /** The encryption keys, the current one first; undefined without encryption. */
  readonly encryptionKeys: readonly Buffer[] | undefined;
  /** How a table this store creates is partitioned (`partitionBy`); undefined for one plain table. */
  readonly partitioning: Partitioning | undefined;
  /** The session's user id as stored: a non-empty string, or null for none (see user-id.ts). */
  readonly userIdOf: (session: SessionObject) => string | null;
  readonly describe: DescribeSession | undefined;
  readonly connectionEvents: boolean;
}

const ONE_DAY_SECONDS = 86_400;
/** The longest prune interval, in seconds: what a Node.js timer can wait. */
const MAX_PRUNE_INTERVAL_SECONDS = Math.floor(MAX_TIMER_MS / 1000);
/** The largest batch PostgreSQL's LIMIT takes as the integer parameter the prune statement binds. */
const MAX_PRUNE_BATCH_SIZE = 2_147_483_647;
/** The longest `readCache`: no longer than the store trusts what it remembers of a session. */
export const MAX_READ_CACHE_MS = 300_000;
/**
 * Browsers keep a cookie at most 400 days (RFC 6265bis; Chrome caps Max-Age there): a longer
 * session lifetime outlives its cookie, and is almost always milliseconds given as seconds.
 */
const MAX_TTL_SECONDS = 400 * ONE_DAY_SECONDS;

/** 50–150 % of the interval, so that instances started together do not prune together. */
const randomizeDelay = (delayMs: number): number => Math.ceil(delayMs / 2 + delayMs * Math.random());

const ttl: Check<number | ((session: SessionObject) => number)> = (value, name) => {
  if (typeof value === 'function') return value as (session: SessionObject) => number;
  return ttlSeconds(value, name);
};

/** Seconds, at most what a browser keeps a cookie; a likely count of milliseconds gets a warning. */
const ttlSeconds: Check<number> = (value, name) => {
  const seconds = positiveNumber(name, value);
  if (seconds > MAX_TTL_SECONDS) {
    const days = Math.round(seconds / ONE_DAY_SECONDS).toLocaleString('en-US');
    throw typeError(
      'ERR_INVALID_OPTION',
      `connect-pg-simple: option "${name}" is in seconds: ${seconds} seconds is ${days} days, longer than a browser keeps a cookie (400 days); given milliseconds? divide by 1000 (${name}: ${Math.round(seconds / 1000)})`,
    );
  }
  if (looksLikeMilliseconds(seconds)) {
    const days = (seconds / ONE_DAY_SECONDS).toFixed(1);
    process.emitWarning(
      `option "${name}" is in seconds: ${seconds} seconds is ${days} days; if ${seconds} was meant as milliseconds (${seconds / 60_000} minutes), give ${name}: ${seconds / 1000}`,
      { type: 'connect-pg-simple', code: 'CPS_TTL_IN_MILLISECONDS' },
    );
  }
  return seconds;
};

/**
 * A lifetime above a day that is a whole number of minutes when read as milliseconds (3_600_000:
 * an hour in milliseconds, 41.7 days in seconds), and not a whole number of days in seconds: the
 * common mistake, told apart from lifetimes people mean (2_592_000, 30 days, is 43.2 minutes in
 * milliseconds; 8_640_000 is 100 days).
 */
export function looksLikeMilliseconds(seconds: number): boolean {
  return (
    Number.isInteger(seconds) && seconds > ONE_DAY_SECONDS && seconds % 60_000 === 0 && seconds % ONE_DAY_SECONDS !== 0
  );
}

const pruneIntervalMs: Check<number | false> = (value, name) => {
  if (value === false) return false;
  if (typeof value === 'number' && value > MAX_PRUNE_INTERVAL_SECONDS) {
    fail(
      name,
      `a number > 0 and at most ${MAX_PRUNE_INTERVAL_SECONDS} (seconds: the longest a Node.js timer waits), or false`,
      value,
    );
  }
  return positiveNumber(name, value) * 1000;
};

const pruneDelay: Check<(delayMs: number) => number> = (value, name) => {
  if (value === false) return (delayMs) => delayMs;
  if (typeof value === 'function') return value as (delayMs: number) => number;
  return fail(name, 'false or a function (delayMs) => delayMs', value);
};

/** The shortest pepper accepted: a secret shorter than this can be guessed. */
export const MIN_PEPPER_BYTES = 16;

const pepper: Check<Buffer> = (value, name) => {
  const bytes =
    typeof value === 'string'
      ? Buffer.from(value, 'utf8')
      : value instanceof Uint8Array
        ? Buffer.from(value)
        : undefined;
  if (bytes === undefined || bytes.length < MIN_PEPPER_BYTES) {
    const got =
      bytes === undefined ? (value === null ? 'null' : `a ${typeof value}`) : `a secret of ${bytes.length} bytes`;
    fail(name, `a string or Buffer of at least ${MIN_PEPPER_BYTES} bytes (such as 32 random bytes)`, value, got);
  }
  return bytes;
};

const encryptionKeys: Check<readonly Buffer[]> = (value, name) => {
  const given = Array.isArray(value) ? (value as unknown[]) : [value];
  if (given.length === 0) fail(name, 'one or more 32-byte keys', value, 'an empty array');
  return Object.freeze(
    given.map((item, index) => {
      const key = sessionKeyFrom(item);
      if (typeof key === 'string') {
        const which = Array.isArray(value) ? ` (key ${index + 1})` : '';
        fail(
          name,
          `one or more ${ENCRYPTION_KEY_BYTES}-byte keys, each a Buffer or its base64 text (make one with: node -e "console.log(crypto.randomBytes(32).toString('base64'))")`,
          item,
          `${key}${which}`,
        );
      }
      return key;
    }),
  );
};

/** The widest partition: a year of sessions in one. */
const MAX_PARTITION_DAYS = 366;

const partitionBy: Check<{ days: number }> = (value, name) => {
  const expected = `an object { days: N }, N a whole number of days from 1 to ${MAX_PARTITION_DAYS}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(name, expected, value);
  const unknown = Object.keys(value).find((key) => key !== 'days');
  if (unknown !== undefined) fail(name, expected, value, `an object with "${unknown}"`);
  const days = (value as { days?: unknown }).days;
  if (!Number.isInteger(days) || (days as number) < 1 || (days as number) > MAX_PARTITION_DAYS) {
    fail(name, expected, value, `days: ${describe(days)}`);
  }
  return { days: days as number };
};

const touchAfterSeconds: Check<number> = (value, name) =>
  value === false ? 0 : positiveNumber(name, value, { zeroAllowed: true });

/**
 * Every option, once: its default (as a user would write it; none means left out) and the check
 * that turns a given value into what the store uses. The known names are this table's keys.
 */
const OPTION_TABLE = {
  pool: {
    check: driverObject<PgPoolLike>(isQueryable, 'a pg.Pool or an object with a query(text, values) method'),
  },
  pgPromise: {
    check: driverObject<PgPromiseDatabaseLike>(
      isPgPromiseDatabase,
      'a pg-promise database object (the result of pgp(connection))',
    ),
  },
  postgres: {
    check: driverObject<PostgresJsSqlLike>(isPostgresJsSql, 'a postgres.js sql instance (the result of postgres(url))'),
  },
  pglite: { check: driverObject<PGliteLike>(isPGlite, 'a PGlite instance') },
  readPool: {
    check: driverObject<PgPoolLike | PostgresJsSqlLike>(
      (value) => isPostgresJsSql(value) || isQueryable(value),
      'a pg.Pool (or a postgres.js sql instance) connected to a read replica',
    ),
  },
  conString: { check: nonEmptyString({ secret: true }) },
  conObject: { check: secretObject('a pg.Pool config object') },
  ttl: { check: ttl },
  schemaName: { check: nonEmptyString() },
  tableName: { default: 'session', check: nonEmptyString() },
  createTableIfMissing: { default: false, check: boolean },
  disableTouch: { default: false, check: boolean },
  touchAfter: { default: 60, check: touchAfterSeconds },
  pruneSessionInterval: { default: 60, check: pruneIntervalMs },
  pruneSessionRandomizedInterval: { default: randomizeDelay, check: pruneDelay },
  pruneBatchSize: { default: 1000, check: wholeNumber(MAX_PRUNE_BATCH_SIZE) },
  pruneLock: { default: true, check: boolean },
  preparedStatements: { check: boolean },
  synchronousCommit: { default: true, check: boolean },
  operationTimeout: { default: 10_000, check: millisecondsOrFalse(MAX_TIMER_MS) },
  maxSessionSize: { check: wholeNumber() },
  readCache: { default: false, check: trueOrMillisecondsOrFalse(MAX_READ_CACHE_MS) },
  pipeline: { default: false, check: boolean },
  // Looked up when called: a console.error replaced later (by a test runner, a logger) is the one used.
  errorLog: { default: (...args: unknown[]) => console.error(...args), check: fn<ErrorLog> },
  hashSessionIds: { default: true, check: boolean },
  sessionIdPepper: { check: pepper },
  absoluteTimeout: { check: ttlSeconds },
  encryptionKeys: { check: encryptionKeys },
  partitionBy: { check: partitionBy },
  userId: { check: fn<UserIdOf> },
  describe: { check: fn<DescribeSession> },
  connectionEvents: { default: true, check: boolean },
} as const satisfies Record<keyof PGStoreOptions, { readonly default?: unknown; readonly check: Check<unknown> }>;

type OptionTable = typeof OPTION_TABLE;

/** Each option, checked: `undefined` only for an option without a default, left out. */
type CheckedOptions = {
  readonly [K in keyof OptionTable]:
    | ReturnType<OptionTable[K]['check']>
    | (OptionTable[K] extends { readonly default: unknown } ? never : undefined);
};

const KNOWN_OPTIONS: readonly string[] = Object.keys(OPTION_TABLE);

export const DEFAULTS = Object.freeze({
  tableName: OPTION_TABLE.tableName.default,
  /** Not an option's default: the lifetime of a session whose cookie has no maxAge, when no ttl is given. */
  ttlSeconds: ONE_DAY_SECONDS,
  pruneIntervalSeconds: OPTION_TABLE.pruneSessionInterval.default,
  touchAfterSeconds: OPTION_TABLE.touchAfter.default,
  pruneBatchSize: OPTION_TABLE.pruneBatchSize.default,
  operationTimeoutMs: OPTION_TABLE.operationTimeout.default,
});

function checkEach(options: Readonly<Record<string, unknown>>): CheckedOptions {
  for (const name of Object.keys(options)) {
    if (!Object.hasOwn(OPTION_TABLE, name)) {
      throw typeError(
        'ERR_INVALID_OPTION',
        `connect-pg-simple: unknown option "${name}"${didYouMean(suggest(name, KNOWN_OPTIONS, OPTION_ALIASES))}`,
      );
    }
  }
  const checked: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(OPTION_TABLE)) {
    const value = options[name] === undefined ? (entry as { default?: unknown }).default : options[name];
    checked[name] = value === undefined ? undefined : entry.check(value, name);
  }
  return checked as CheckedOptions;
}

/** `conString`, else DATABASE_URL, refused when it cannot work. */
function connectionString(option: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const value = option ?? (env.DATABASE_URL || undefined);
  const problem = value === undefined ? undefined : connectionStringProblem(value);
  if (problem !== undefined) {
    const source = option === undefined ? 'the DATABASE_URL environment variable' : 'option "conString"';
    throw typeError('ERR_INVALID_OPTION', `connect-pg-simple: ${source} cannot be used: ${problem}`);
  }
  return value;
}

const DATABASE_OPTIONS = ['pool', 'pgPromise', 'postgres', 'pglite'] as const;

function resolveDriver(checked: CheckedOptions, env: NodeJS.ProcessEnv): DriverChoice {
  const given = DATABASE_OPTIONS.filter((k) => checked[k] !== undefined);
  if (given.length > 1) {
    throw typeError(
      'ERR_INVALID_OPTION',
      `connect-pg-simple: options ${given.map((k) => `"${k}"`).join(' and ')} each name a database; give only one`,
    );
  }
  const connectionOption = (['conString', 'conObject'] as const).find((k) => checked[k] !== undefined);
  if (given.length === 1 && connectionOption !== undefined) {
    throw typeError(
      'ERR_INVALID_OPTION',
      `connect-pg-simple: options "${given[0]}" and "${connectionOption}" both say which database to use, and only "${given[0]}" would be used (10.x ignored "${connectionOption}" silently): give one of them`,
    );
  }
  if (checked.pool) return { kind: 'pool', pool: checked.pool };
  if (checked.pgPromise) return { kind: 'pgPromise', db: checked.pgPromise };
  if (checked.postgres) return { kind: 'postgres', sql: checked.postgres };
  if (checked.pglite) return { kind: 'pglite', db: checked.pglite };

  // As in 10.x: conObject wins over conString; without either, pg reads the PG* variables.
  const conString = checked.conObject === undefined ? connectionString(checked.conString, env) : undefined;
  const config = checked.conObject ?? (conString === undefined ? {} : { connectionString: conString });
  return { kind: 'owned', config: Object.freeze({ ...config }) };
}

function resolveReadDriver(
  readPool: PgPoolLike | PostgresJsSqlLike | undefined,
  driver: DriverChoice,
): ResolvedOptions['readDriver'] {
  if (readPool === undefined) return undefined;
  if (driver.kind === 'pglite') {
    throw typeError(
      'ERR_INVALID_OPTION',
      'connect-pg-simple: option "readPool" needs a PostgreSQL server with replicas; PGlite has none',
    );
  }
  const primary = { pool: 'pool' in driver && driver.pool, postgres: 'sql' in driver && driver.sql };
  const same = Object.entries(primary).find(([, given]) => given === readPool);
  if (same !== undefined) {
    throw typeError(
      'ERR_INVALID_OPTION',
      `connect-pg-simple: option "readPool" is the same object as "${same[0]}": give it a pool connected to a replica, or leave it out`,
    );
  }
  return isPostgresJsSql(readPool)
    ? { kind: 'postgres', sql: readPool }
    : { kind: 'pool', pool: readPool as PgPoolLike };
}

export function resolveOptions(input: unknown, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  if (input === undefined || input === null) input = {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw typeError('ERR_INVALID_OPTION', `connect-pg-simple: options must be an object, got ${describe(input)}`);
  }
  const checked = checkEach(input as Record<string, unknown>);

  if (checked.schemaName === undefined && checked.tableName.includes('"."')) {
    // 10.x accepted 'schema"."table' with a deprecation warning; now a name is only ever a name.
    fail('tableName', 'a table name only (put the schema in "schemaName")', checked.tableName);
  }
  if (checked.schemaName === undefined && checked.tableName.includes('.')) {
    // Almost always a schema by mistake: PostgreSQL would take it as one name, in the search_path's schema.
    const [schema, ...table] = checked.tableName.split('.');
    throw typeError(
      'ERR_INVALID_OPTION',
      `connect-pg-simple: option "tableName" must be a table name only, got ${JSON.stringify(checked.tableName)}: a dot does not separate a schema there (it would name a table "${checked.tableName}"). Use schemaName: ${JSON.stringify(schema)}, tableName: ${JSON.stringify(table.join('.'))}; for a table whose name really contains a dot, give schemaName as well (such as "public")`,
    );
  }
  const driver = resolveDriver(checked, env);
  if (checked.pipeline && driver.kind !== 'owned') {
    throw typeError(
      'ERR_INVALID_OPTION',
      `connect-pg-simple: option "pipeline" works only with a database the store connects to itself (conString, conObject or DATABASE_URL), not with "${driver.kind}"`,
    );
  }
  if (checked.pipeline && checked.operationTimeout === false) {
    // One statement that never ends would hold up every session of the process, for good.
    throw typeError(
      'ERR_INVALID_OPTION',
      'connect-pg-simple: option "pipeline" needs a time limit: "operationTimeout" must not be 0 or false',
    );
  }

  if (checked.readCache === true && checked.readPool !== undefined) {
    // A replica's row may be older than a change notice already seen: it would be remembered as current.
    throw typeError(
      'ERR_INVALID_OPTION',
      'connect-pg-simple: option "readCache: true" cannot be used with "readPool" (a replica may answer with a session older than a change already noticed): use one of them, or readCache in milliseconds',
    );
  }

  if (checked.sessionIdPepper !== undefined && !checked.hashSessionIds) {
    throw typeError(
      'ERR_INVALID_OPTION',
      'connect-pg-simple: option "sessionIdPepper" keys the hash of session ids, and "hashSessionIds" is false: remove one of them',
    );
  }

  if (checked.partitionBy !== undefined && checked.absoluteTimeout === undefined) {
    throw typeError(
      'ERR_INVALID_OPTION',
      'connect-pg-simple: option "partitionBy" needs "absoluteTimeout": a partition is dropped once every session in it is older than the absolute timeout, and without one a session may live on for ever',
    );
  }

  return Object.freeze({
    driver,
    readDriver: resolveReadDriver(checked.readPool, driver),
    ttl: checked.ttl,
    schemaName: checked.schemaName,
    tableName: checked.tableName,
    createTableIfMissing: checked.createTableIfMissing,
    disableTouch: checked.disableTouch,
    touchAfterSeconds: checked.touchAfter,
    pruneIntervalMs: checked.pruneSessionInterval,
    pruneDelay: checked.pruneSessionRandomizedInterval,
    pruneBatchSize: checked.pruneBatchSize,
    pruneLock: checked.pruneLock,
    preparedStatements: checked.preparedStatements,
    synchronousCommit: checked.synchronousCommit,
    operationTimeoutMs: checked.operationTimeout,
    maxSessionSize: checked.maxSessionSize,
    readCacheMs: checked.readCache === true ? false : checked.readCache,
    readCacheListens: checked.readCache === true,
    pipeline: checked.pipeline,
    errorLog: checked.errorLog,
    idForm: idFormFor(checked.hashSessionIds, checked.sessionIdPepper),
    sessionIdPepper: checked.sessionIdPepper,
    absoluteTimeoutSeconds: checked.absoluteTimeout,
    encryptionKeys: checked.encryptionKeys,
    partitioning:
      checked.partitionBy === undefined || checked.absoluteTimeout === undefined
        ? undefined
        : { widthSeconds: checked.partitionBy.days * ONE_DAY_SECONDS, lifetimeSeconds: checked.absoluteTimeout },
    userIdOf: userIdFunction(checked.userId),
    describe: checked.describe,
    connectionEvents: checked.connectionEvents,
  });
}
