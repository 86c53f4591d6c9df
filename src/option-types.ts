import type { DriverChoice } from './drivers/open.js';
import type { PgPoolLike } from './drivers/pg.js';
import type { PgPromiseDatabaseLike } from './drivers/pg-promise.js';
import type { PGliteLike } from './drivers/pglite.js';
import type { PostgresJsSqlLike } from './drivers/postgres-js.js';
import type { Partitioning } from './schema/partitions.js';
import type { SessionIdForm } from './session-id.js';
import type { DescribeSession, ErrorLog, SessionObject, UserIdOf } from './types.js';

/**
 * The store's options as a user gives them (`PGStoreOptions`, public: each documented with its
 * unit and default), and as the store uses them once resolved (`ResolvedOptions`, see options.ts).
 */

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
   * `true`: `get` answers from what this process read, kept current by polls of the table's
   * change log (schema 4, PostgreSQL 13+): a session destroyed, revoked or changed anywhere
   * (another instance, the CLI, plain SQL) is seen so within 50 ms, and whenever the store cannot
   * be sure of that (its polling connection down, a pooler in transaction mode, a table without
   * the log) it reads the table. Needs a pg.Pool, a connection string, pg-promise, postgres.js
   * or PGlite; one more connection per store (the poller). Not with `readPool`.
   *
   * A number: milliseconds for which `get` may answer from what this process read, without a
   * query and without the change log: the bound on how long a change made elsewhere can stay unseen
   * here. At most 300000.
   *
   * Either way this process's own writes and destroys are seen at once, and at most 32 MB of
   * session text is held. `false`: every `get` reads the table. Not given (the default): as
   * `true` where the table has the change log with its triggers on, the server is PostgreSQL 13+
   * and the driver can open a polling connection (and not beside `readPool`); otherwise as
   * `false`, silently (`true` says why in `errorLog`).
   */
  readCache?: boolean | number;
  /**
   * With `conString`/`conObject`/`DATABASE_URL` only: send the quick statements (get, set, touch,
   * destroy) over connections in pg's pipeline mode (needs pg ≥ 8.23), beside a one-connection
   * pool for the rest. Default: on where it can be (pg ≥ 8.23 and an `operationTimeout`), else off;
   * `true` insists (an error where it cannot be), `false` uses a pool.
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
  /** The cache kept current by polls of the change log (see cache-trust.ts): `readCache: true`, or not given. */
  readonly readCacheListens: boolean;
  /** `readCache: true` was given: the store says why whenever it cannot trust the cache (not given: silently). */
  readonly readCacheAsked: boolean;
  /** Undefined: pipelined where that is safe (see drivers/open.ts). */
  readonly pipeline: boolean | undefined;
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
