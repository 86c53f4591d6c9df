import { didYouMean, suggest } from './did-you-mean.js';
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
import type { PGStoreOptions } from './option-types.js';
import { MAX_TIMER_MS } from './time-limit.js';
import type { DescribeSession, ErrorLog, SessionObject, UserIdOf } from './types.js';

export const ONE_DAY_SECONDS = 86_400;
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
  // No default: not given means the trusted cache where it can be had, silently off elsewhere (options.ts).
  readCache: { check: trueOrMillisecondsOrFalse(MAX_READ_CACHE_MS) },
  pipeline: { check: boolean },
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
export type CheckedOptions = {
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

/** Each option given, checked, or its default: unknown names refused with a suggestion. */
export function checkEach(options: Readonly<Record<string, unknown>>): CheckedOptions {
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
