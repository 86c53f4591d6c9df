import { didYouMean, type Suggestion, suggest } from './did-you-mean.js';
import { connectionStringProblem } from './drivers/connection-errors.js';
import { isQueryable, type PgPoolLike } from './drivers/pg.js';
import { isPgPromiseDatabase, type PgPromiseDatabaseLike } from './drivers/pg-promise.js';
import { isPGlite, type PGliteLike } from './drivers/pglite.js';
import { isPostgresJsSql, type PostgresJsSqlLike } from './drivers/postgres-js.js';
import { MAX_TIMER_MS } from './time-limit.js';

/** The session object as the store sees it: whatever the framework hands over. */
export type SessionObject = Record<string, unknown> & { cookie?: unknown };

export type ErrorLog = (...args: unknown[]) => void;

export interface PGStoreOptions {
  /** A `pg.Pool` (recommended), a `pg.Client`, or any object whose `query(text, values)` resolves with `{ rows }` or rows. Never ended by the store. */
  pool?: PgPoolLike;
  /** A pg-promise database object. Never ended by the store. */
  pgPromise?: PgPromiseDatabaseLike;
  /** A postgres.js `sql` instance. Never ended by the store. */
  postgres?: PostgresJsSqlLike;
  /** A PGlite instance: PostgreSQL in-process. Never closed by the store. */
  pglite?: PGliteLike;
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
   * Milliseconds for which `get` may answer from what this process read from the database,
   * without a query: the bound on how long a change made elsewhere (another app instance, a
   * manual DELETE) can stay unseen here. This process's own writes and destroys are seen at once.
   * Default: `false` (every `get` reads the table). At most 300000.
   */
  readCache?: number | false;
  /**
   * With `conString`/`conObject`/`DATABASE_URL` only: send the quick statements (get, set, touch,
   * destroy) over one connection in pg's pipeline mode (needs pg ≥ 8.23), beside a one-connection
   * pool for the rest. Default: `false`.
   */
  pipeline?: boolean;
  /** Receives errors that have no callback or promise to go to. Default: `console.error`. */
  errorLog?: ErrorLog;
}

export type DriverChoice =
  | { readonly kind: 'pool'; readonly pool: PgPoolLike }
  | { readonly kind: 'pgPromise'; readonly db: PgPromiseDatabaseLike }
  | { readonly kind: 'postgres'; readonly sql: PostgresJsSqlLike }
  | { readonly kind: 'pglite'; readonly db: PGliteLike }
  | { readonly kind: 'owned'; readonly config: Readonly<Record<string, unknown>> };

export interface ResolvedOptions {
  readonly driver: DriverChoice;
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
  readonly pipeline: boolean;
  readonly errorLog: ErrorLog;
}

const ONE_DAY_SECONDS = 86_400;
const DEFAULT_PRUNE_INTERVAL_SECONDS = 60;
const DEFAULT_TOUCH_AFTER_SECONDS = 60;
const DEFAULT_PRUNE_BATCH_SIZE = 1000;
const DEFAULT_OPERATION_TIMEOUT_MS = 10_000;
/** The longest prune interval, in seconds: what a Node.js timer can wait. */
const MAX_PRUNE_INTERVAL_SECONDS = Math.floor(MAX_TIMER_MS / 1000);
/** The largest batch PostgreSQL's LIMIT takes as the integer parameter the prune statement binds. */
const MAX_PRUNE_BATCH_SIZE = 2_147_483_647;

export const DEFAULTS = Object.freeze({
  tableName: 'session',
  ttlSeconds: ONE_DAY_SECONDS,
  pruneIntervalSeconds: DEFAULT_PRUNE_INTERVAL_SECONDS,
  touchAfterSeconds: DEFAULT_TOUCH_AFTER_SECONDS,
  pruneBatchSize: DEFAULT_PRUNE_BATCH_SIZE,
  operationTimeoutMs: DEFAULT_OPERATION_TIMEOUT_MS,
});

const KNOWN_OPTIONS: ReadonlySet<string> = new Set<keyof PGStoreOptions>([
  'pool',
  'pgPromise',
  'postgres',
  'pglite',
  'conString',
  'conObject',
  'ttl',
  'schemaName',
  'tableName',
  'createTableIfMissing',
  'disableTouch',
  'touchAfter',
  'pruneSessionInterval',
  'pruneSessionRandomizedInterval',
  'pruneBatchSize',
  'pruneLock',
  'preparedStatements',
  'synchronousCommit',
  'operationTimeout',
  'maxSessionSize',
  'readCache',
  'pipeline',
  'errorLog',
]);

/** 50–150 % of the interval, so that instances started together do not prune together. */
const randomizeDelay = (delayMs: number): number => Math.ceil(delayMs / 2 + delayMs * Math.random());

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') {
    if (looksLikeConnectionString(value)) return 'a connection string';
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  }
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

const looksLikeConnectionString = (text: string) => /^[a-z][a-z0-9+.-]*:\/\/|@|password=/i.test(text);

/** Options that may hold a password: an error names their type, never their content. */
const SECRET_OPTIONS: ReadonlySet<string> = new Set([
  'conString',
  'conObject',
  'pool',
  'pgPromise',
  'postgres',
  'pglite',
]);

function fail(option: string, expected: string, value: unknown): never {
  let got = SECRET_OPTIONS.has(option) && value !== null ? `a ${typeof value}` : describe(value);
  if (option !== 'conString' && SECRET_OPTIONS.has(option) && typeof value === 'string') {
    got += ' (a connection string? give it as "conString")';
  }
  throw new TypeError(`connect-pg-simple: option "${option}" must be ${expected}, got ${got}`);
}

const CONNECTION_STRING_NOTE = 'a connection string (or DATABASE_URL) for a pool the store creates';
const POOL_NOTE = 'a pg.Pool, a connected pg.Client, or any object with query(text, values)';

/** Names other libraries (or 10.x's README, or a guess) use for an option: each with what it is called here. */
const OPTION_ALIASES: Readonly<Record<string, Suggestion>> = {
  connectionString: { name: 'conString', note: CONNECTION_STRING_NOTE },
  connectionUrl: { name: 'conString', note: CONNECTION_STRING_NOTE },
  url: { name: 'conString', note: CONNECTION_STRING_NOTE },
  uri: { name: 'conString', note: CONNECTION_STRING_NOTE },
  databaseUrl: { name: 'conString', note: CONNECTION_STRING_NOTE },
  database_url: { name: 'conString', note: CONNECTION_STRING_NOTE },
  connection: { name: 'conObject', note: 'a pg.Pool config for a pool the store creates' },
  poolConfig: { name: 'conObject', note: 'a pg.Pool config for a pool the store creates' },
  client: { name: 'pool', note: POOL_NOTE },
  pgPool: { name: 'pool', note: POOL_NOTE },
  pgClient: { name: 'pool', note: POOL_NOTE },
  pgNativePool: { name: 'pool' },
  db: { name: 'pool', note: `${POOL_NOTE}; or "pgPromise", "postgres", "pglite" for other drivers` },
  pgp: { name: 'pgPromise' },
  sql: { name: 'postgres', note: 'a postgres.js sql instance' },
  maxAge: { name: 'ttl', note: "ttl is in seconds; by default the store uses the session cookie's maxAge" },
  expires: { name: 'ttl', note: "ttl is in seconds; by default the store uses the session cookie's maxAge" },
  expiration: { name: 'ttl', note: "ttl is in seconds; by default the store uses the session cookie's maxAge" },
  schema: { name: 'schemaName' },
  table: { name: 'tableName' },
  createTable: { name: 'createTableIfMissing' },
  autoCreate: { name: 'createTableIfMissing' },
  prune: { name: 'pruneSessionInterval', note: 'seconds between prunes, or false for none' },
  pruneInterval: { name: 'pruneSessionInterval', note: 'seconds between prunes, or false for none' },
  pruneSessions: { name: 'pruneSessionInterval', note: 'seconds between prunes, or false for none' },
  jitter: { name: 'pruneSessionRandomizedInterval' },
  timeout: { name: 'operationTimeout', note: 'milliseconds' },
  queryTimeout: { name: 'operationTimeout', note: 'milliseconds' },
  statementTimeout: { name: 'operationTimeout', note: 'milliseconds' },
  logger: { name: 'errorLog' },
  log: { name: 'errorLog' },
  onError: { name: 'errorLog' },
  cache: { name: 'readCache', note: 'milliseconds' },
  maxSize: { name: 'maxSessionSize', note: 'bytes' },
};

function optionalString(options: PGStoreOptions, key: 'conString' | 'schemaName' | 'tableName'): string | undefined {
  const value = options[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) fail(key, 'a non-empty string', value);
  if (value.includes('\0')) fail(key, 'a string without NUL characters', value);
  return value;
}

function optionalBoolean(options: PGStoreOptions, key: keyof PGStoreOptions, fallback: boolean): boolean {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(key, 'a boolean', value);
  return value;
}

function positiveNumber(key: string, value: unknown, { integer = false, zeroAllowed = false } = {}): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (zeroAllowed ? value >= 0 : value > 0) &&
    (!integer || Number.isInteger(value));
  if (!ok) fail(key, `a ${integer ? 'whole ' : ''}number ${zeroAllowed ? '≥ 0' : '> 0'}`, value);
  return value as number;
}

/**
 * Browsers keep a cookie at most 400 days (RFC 6265bis; Chrome caps Max-Age there): a longer
 * session lifetime outlives its cookie, and is almost always milliseconds given as seconds.
 */
const MAX_TTL_SECONDS = 400 * 86_400;

function checkTtlSeconds(seconds: number): void {
  if (seconds <= MAX_TTL_SECONDS) return;
  const days = Math.round(seconds / 86_400).toLocaleString('en-US');
  throw new TypeError(
    `connect-pg-simple: option "ttl" is in seconds: ${seconds} seconds is ${days} days, longer than a browser keeps a cookie (400 days); given milliseconds? divide by 1000 (ttl: ${Math.round(seconds / 1000)})`,
  );
}

function operationTimeout(options: PGStoreOptions): number | false {
  const value = options.operationTimeout;
  if (value === undefined) return DEFAULT_OPERATION_TIMEOUT_MS;
  if (value === false || value === 0) return false;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    fail('operationTimeout', `a number of milliseconds from 0 to ${MAX_TIMER_MS}, or false`, value);
  }
  return value;
}

function pruneBatchSize(options: PGStoreOptions): number {
  const value = options.pruneBatchSize;
  if (value === undefined) return DEFAULT_PRUNE_BATCH_SIZE;
  if (typeof value === 'number' && value > MAX_PRUNE_BATCH_SIZE) {
    fail('pruneBatchSize', `a whole number from 1 to ${MAX_PRUNE_BATCH_SIZE}`, value);
  }
  return positiveNumber('pruneBatchSize', value, { integer: true });
}

/** The longest `readCache`: no longer than the store trusts what it remembers of a session. */
export const MAX_READ_CACHE_MS = 300_000;

function readCache(options: PGStoreOptions): number | false {
  const value = options.readCache;
  if (value === undefined || value === false || value === 0) return false;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_READ_CACHE_MS) {
    fail('readCache', `a number of milliseconds from 0 to ${MAX_READ_CACHE_MS}, or false`, value);
  }
  return value;
}

function objectOption(
  options: PGStoreOptions,
  key: keyof PGStoreOptions,
  check: (value: unknown) => boolean,
  expected: string,
) {
  const value = options[key];
  if (value === undefined) return undefined;
  if (!check(value)) fail(key, expected, value);
  return value;
}

/** `conString`, else DATABASE_URL, refused when it cannot work. */
function connectionString(option: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const value = option ?? (env.DATABASE_URL || undefined);
  const problem = value === undefined ? undefined : connectionStringProblem(value);
  if (problem !== undefined) {
    const source = option === undefined ? 'the DATABASE_URL environment variable' : 'option "conString"';
    throw new TypeError(`connect-pg-simple: ${source} cannot be used: ${problem}`);
  }
  return value;
}

function resolveDriver(options: PGStoreOptions, env: NodeJS.ProcessEnv): DriverChoice {
  const pool = objectOption(options, 'pool', isQueryable, 'a pg.Pool or an object with a query(text, values) method') as
    | PgPoolLike
    | undefined;
  const pgPromise = objectOption(
    options,
    'pgPromise',
    isPgPromiseDatabase,
    'a pg-promise database object (the result of pgp(connection))',
  ) as PgPromiseDatabaseLike | undefined;
  const postgres = objectOption(
    options,
    'postgres',
    isPostgresJsSql,
    'a postgres.js sql instance (the result of postgres(url))',
  ) as PostgresJsSqlLike | undefined;
  const pglite = objectOption(options, 'pglite', isPGlite, 'a PGlite instance') as PGliteLike | undefined;

  const conStringOption = optionalString(options, 'conString');
  const conObject = objectOption(
    options,
    'conObject',
    (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
    'a pg.Pool config object',
  ) as Record<string, unknown> | undefined;
  const given = (['pool', 'pgPromise', 'postgres', 'pglite'] as const).filter((k) => options[k] !== undefined);
  if (given.length > 1) {
    throw new TypeError(
      `connect-pg-simple: options ${given.map((k) => `"${k}"`).join(' and ')} each name a database; give only one`,
    );
  }
  const connectionOption = (['conString', 'conObject'] as const).find((k) => options[k] !== undefined);
  if (given.length === 1 && connectionOption !== undefined) {
    throw new TypeError(
      `connect-pg-simple: options "${given[0]}" and "${connectionOption}" both say which database to use, and only "${given[0]}" would be used (10.x ignored "${connectionOption}" silently): give one of them`,
    );
  }
  if (pool) return { kind: 'pool', pool };
  if (pgPromise) return { kind: 'pgPromise', db: pgPromise };
  if (postgres) return { kind: 'postgres', sql: postgres };
  if (pglite) return { kind: 'pglite', db: pglite };

  // As in 10.x: conObject wins over conString; without either, pg reads the PG* variables.
  const conString = conObject === undefined ? connectionString(conStringOption, env) : undefined;
  const config = conObject ?? (conString === undefined ? {} : { connectionString: conString });
  return { kind: 'owned', config: Object.freeze({ ...config }) };
}

export function resolveOptions(input: unknown, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  if (input === undefined || input === null) input = {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new TypeError(`connect-pg-simple: options must be an object, got ${describe(input)}`);
  }
  const options = input as PGStoreOptions;
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new TypeError(
        `connect-pg-simple: unknown option "${key}"${didYouMean(suggest(key, KNOWN_OPTIONS, OPTION_ALIASES))}`,
      );
    }
  }

  const ttl = options.ttl;
  if (ttl !== undefined && typeof ttl !== 'function') checkTtlSeconds(positiveNumber('ttl', ttl));

  const errorLog = options.errorLog ?? console.error.bind(console);
  if (typeof errorLog !== 'function') fail('errorLog', 'a function', errorLog);

  const interval = options.pruneSessionInterval;
  let pruneIntervalMs: number | false;
  if (interval === false) pruneIntervalMs = false;
  else if (interval === undefined) pruneIntervalMs = DEFAULT_PRUNE_INTERVAL_SECONDS * 1000;
  else if (typeof interval === 'number' && interval > MAX_PRUNE_INTERVAL_SECONDS) {
    fail(
      'pruneSessionInterval',
      `a number > 0 and at most ${MAX_PRUNE_INTERVAL_SECONDS} (seconds: the longest a Node.js timer waits), or false`,
      interval,
    );
  } else pruneIntervalMs = positiveNumber('pruneSessionInterval', interval) * 1000;

  const randomized = options.pruneSessionRandomizedInterval;
  let pruneDelay: (delayMs: number) => number;
  if (randomized === false) pruneDelay = (delayMs) => delayMs;
  else if (randomized === undefined) pruneDelay = randomizeDelay;
  else if (typeof randomized === 'function') pruneDelay = randomized;
  else fail('pruneSessionRandomizedInterval', 'false or a function (delayMs) => delayMs', randomized);

  const touchAfter = options.touchAfter;
  const touchAfterSeconds =
    touchAfter === undefined
      ? DEFAULT_TOUCH_AFTER_SECONDS
      : touchAfter === false
        ? 0
        : positiveNumber('touchAfter', touchAfter, { zeroAllowed: true });

  const preparedStatements = options.preparedStatements;
  if (preparedStatements !== undefined && typeof preparedStatements !== 'boolean') {
    fail('preparedStatements', 'a boolean', preparedStatements);
  }

  const tableName = optionalString(options, 'tableName') ?? DEFAULTS.tableName;
  const schemaName = optionalString(options, 'schemaName');
  if (schemaName === undefined && tableName.includes('"."')) {
    // 10.x accepted 'schema"."table' with a deprecation warning; now a name is only ever a name.
    fail('tableName', 'a table name only (put the schema in "schemaName")', tableName);
  }

  const driver = resolveDriver(options, env);
  const pipeline = optionalBoolean(options, 'pipeline', false);
  if (pipeline && driver.kind !== 'owned') {
    throw new TypeError(
      `connect-pg-simple: option "pipeline" works only with a database the store connects to itself (conString, conObject or DATABASE_URL), not with "${driver.kind}"`,
    );
  }

  const operationTimeoutMs = operationTimeout(options);
  if (pipeline && operationTimeoutMs === false) {
    // One statement that never ends would hold up every session of the process, for good.
    throw new TypeError(
      'connect-pg-simple: option "pipeline" needs a time limit: "operationTimeout" must not be 0 or false',
    );
  }

  return Object.freeze({
    driver,
    ttl,
    schemaName,
    tableName,
    createTableIfMissing: optionalBoolean(options, 'createTableIfMissing', false),
    disableTouch: optionalBoolean(options, 'disableTouch', false),
    touchAfterSeconds,
    pruneIntervalMs,
    pruneDelay,
    pruneBatchSize: pruneBatchSize(options),
    pruneLock: optionalBoolean(options, 'pruneLock', true),
    preparedStatements,
    synchronousCommit: optionalBoolean(options, 'synchronousCommit', true),
    operationTimeoutMs,
    maxSessionSize:
      options.maxSessionSize === undefined
        ? undefined
        : positiveNumber('maxSessionSize', options.maxSessionSize, { integer: true }),
    readCacheMs: readCache(options),
    pipeline,
    errorLog,
  });
}
