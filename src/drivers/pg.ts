import { poolWait } from '../diagnostics.js';
import { ConnectionError, PGStoreError } from '../errors.js';
import type { Statement } from '../sql.js';
import { untilDeadline } from '../time-limit.js';
import { type Leasing, runOnLease } from './cancel.js';
import { explainConnectionError, explainWaitForConnection } from './connection-errors.js';
import {
  type Database,
  type PreparedFallbackListener,
  type RunStatement,
  valuesNow,
  withPreparedFallback,
} from './database.js';
import { type PollConnection, reopeningConnection } from './polling.js';

/** What the store uses of a `pg.Pool` (or `pg.Client`, or any pool with the same `query`). */
export interface PgPoolLike {
  query(...args: never[]): Promise<unknown>;
}

export interface PgQueryConfig {
  text: string;
  values: unknown[];
  name?: string;
}

export type PgCallback = (error: Error | null | undefined, result?: unknown) => void;

interface PgQueryable {
  query(config: PgQueryConfig): Promise<unknown>;
  query(text: string, values: unknown[]): Promise<unknown>;
}

interface PgPoolClient {
  query(query: object): void;
  release(destroy?: boolean): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
}

interface PgPool extends PgQueryable {
  connect(callback: (error: Error | null | undefined, client?: PgPoolClient) => void): unknown;
  /** pg-pool's client class, and its query class. */
  readonly Client: { readonly Query: PgQueryClass };
}

/** pg's Query class (`pg.Query`, a pool's `Client.Query`). */
export type PgQueryClass = new (text: string, values: unknown[], callback: PgCallback) => { name?: string };

/**
 * One statement as pg's Query, its values as they are now (see `valuesNow`). Every statement
 * passes here: a Query made from the text, named afterwards, is one object fewer than a query
 * config, and pg does not copy it property by property as it copies a config.
 */
export function pgQuery(
  Query: PgQueryClass,
  statement: Statement,
  values: readonly unknown[],
  named: boolean,
  callback: PgCallback,
): object {
  const query = new Query(statement.text, valuesNow(values), callback);
  if (named) query.name = statement.name;
  return query;
}

export function isQueryable(value: unknown): value is PgPoolLike {
  return typeof value === 'object' && value !== null && typeof (value as { query?: unknown }).query === 'function';
}

/** pg's own pools and clients take a query config with a statement name; plain queryables may not. */
export function looksLikePg(pool: object): boolean {
  return typeof (pool as { connect?: unknown }).connect === 'function';
}

/** A `pg.Pool` (pg-pool), as opposed to a single `pg.Client` or some other queryable. */
function isPgPool(pool: object): pool is PgPool {
  return (
    looksLikePg(pool) &&
    'totalCount' in pool &&
    'idleCount' in pool &&
    typeof (pool as { Client?: { Query?: unknown } }).Client?.Query === 'function'
  );
}

const ignore = () => {};

/**
 * A statement as pg's query config (pg-promise takes the same): values sent as parameters, never
 * formatted in. Made once the connection is at hand (see `valuesNow`), where the driver knows when.
 */
export function queryConfig(statement: Statement, values: readonly unknown[], named: boolean): PgQueryConfig {
  return named
    ? { name: statement.name, text: statement.text, values: valuesNow(values) }
    : { text: statement.text, values: valuesNow(values) };
}

/** How long to wait for a cancelled statement's connection to settle, when no time limit says. */
const DEFAULT_GRACE_MS = 1000;

/** A pg.Pool's connections, taken for one statement each (see runOnLease). */
function pgPoolLeasing(pool: PgPool, graceMs: number): Leasing<PgPoolClient> {
  return {
    acquire(done) {
      const waited = poolWait();
      pool.connect((error, client) => {
        waited?.end();
        if (error || client === undefined) {
          const none = new ConnectionError('the pool gave no connection', undefined, 'ERR_NO_CONNECTION');
          done(error ? explainConnectionError(error, pool) : none);
          return;
        }
        // A checked-out client reports a broken connection as an 'error' event as well as to its
        // query: without a listener, that event would crash the process.
        client.on('error', ignore);
        done(undefined, client);
      });
    },
    release(client, destroy) {
      client.removeListener('error', ignore);
      client.release(destroy || undefined);
    },
    clientOf: (client) => client,
    graceMs,
    expiredWaiting: (expired) => explainWaitForConnection(expired, pool),
  };
}

/**
 * A statement on a `pg.Pool`: on a connection of its own from the pool, so that a statement that
 * runs out of time can be cancelled on the server and its connection closed (see runOnLease).
 */
function leasingRun(pool: PgPool, graceMs: number): RunStatement {
  const leasing = pgPoolLeasing(pool, graceMs);
  const Query = pool.Client.Query;
  return (statement, values, named, deadline) =>
    runOnLease(leasing, (client, done) => client.query(pgQuery(Query, statement, values, named, done)), deadline);
}

/** A pg.Client never connected: its statements would wait for a connect that never comes. */
function isUnconnectedPgClient(value: unknown): boolean {
  const client = value as { _connected?: unknown; _connecting?: unknown; _ending?: unknown } | null;
  return client?._connected === false && client._connecting === false && client._ending === false;
}

const unconnectedClientError = () =>
  new ConnectionError(
    'the pg.Client given as "pool" is not connected: call client.connect() first, or pass a pg.Pool (which connects by itself)',
    undefined,
    'ENOTCONN',
  );

/**
 * A statement on a single client (or a pool of unknown make): it cannot be cancelled safely, so
 * the store only stops waiting when time is up.
 */
function waitingRun(db: PgQueryable): RunStatement {
  return (statement, values, named, deadline) => {
    // pg.Client queues statements until connected: without a connect() they would wait forever.
    if (isUnconnectedPgClient(db)) return Promise.reject(unconnectedClientError());
    return untilDeadline(
      named ? db.query(queryConfig(statement, values, true)) : db.query(statement.text, valuesNow(values)),
      deadline,
    );
  };
}

export function fromPgPool(
  pool: PgPoolLike,
  {
    prepare,
    end,
    graceMs = DEFAULT_GRACE_MS,
    onFallback,
  }: { prepare: boolean; end?: () => Promise<void>; graceMs?: number; onFallback?: PreparedFallbackListener },
): Database {
  const run = isPgPool(pool) ? leasingRun(pool, graceMs) : waitingRun(pool as unknown as PgQueryable);
  return { query: withPreparedFallback(prepare, run, onFallback), close: end ?? (async () => {}) };
}

export interface OwnedPoolSettings {
  readonly config: Readonly<Record<string, unknown>>;
  readonly prepare: boolean;
  readonly graceMs: number;
  /** The pool's `connectionTimeoutMillis` unless the config sets one: no connect outlives the store's patience. */
  readonly connectTimeoutMs: number | undefined;
  readonly onError: (error: Error) => void;
  readonly onFallback?: PreparedFallbackListener;
}

/** `pg`, loaded on demand, so that users of other drivers need not install it. */
export function loadPg<T>(): T {
  try {
    return require('pg') as T;
  } catch (error) {
    throw new PGStoreError(
      'ERR_MISSING_DEPENDENCY',
      'connect-pg-simple: conString, conObject and DATABASE_URL need the "pg" package: npm install pg',
      { cause: error },
    );
  }
}

/** The pool the store creates from `conString`/`conObject`/`DATABASE_URL`: `pg` is loaded only then. */
export function createOwnedPgPool({
  config,
  prepare,
  graceMs,
  connectTimeoutMs,
  onError,
  onFallback,
}: OwnedPoolSettings): Database {
  const pg = loadPg<{ Pool: new (config: Record<string, unknown>) => PgPoolLike & OwnedPool }>();
  const pool = new pg.Pool({ connectionTimeoutMillis: connectTimeoutMs, ...config });
  pool.on('error', onError);
  let ended: Promise<void> | undefined;
  return fromPgPool(pool, {
    prepare,
    graceMs,
    onFallback,
    end: () => {
      ended ??= pool.end();
      return ended;
    },
  });
}

interface OwnedPool {
  on(event: 'error', listener: (error: Error) => void): void;
  end(): Promise<void>;
}

/** What the cache's poller uses of a `pg.Client`. */
interface PgPollingClient {
  readonly processID: number | null;
  connect(): Promise<unknown>;
  query(text: string, values?: readonly unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<unknown>;
  on(event: 'error', listener: (error?: Error) => void): unknown;
}

type PgClientClass = new (config: Record<string, unknown>) => PgPollingClient;

/** The `Client` class and connection settings of a pg.Pool (pg-pool keeps both), or of the store's own config. */
function clientSource(source: unknown): { Client: PgClientClass; config: Record<string, unknown> } | undefined {
  const pool = source as { Client?: unknown; options?: unknown; config?: unknown } | null | undefined;
  if (pool === null || typeof pool !== 'object') return undefined;
  if (pool.config !== undefined && pool.Client === undefined) {
    return { Client: loadPg<{ Client: PgClientClass }>().Client, config: { ...(pool.config as object) } };
  }
  if (typeof pool.Client !== 'function' || typeof pool.options !== 'object' || pool.options === null) return undefined;
  return { Client: pool.Client as PgClientClass, config: { ...(pool.options as object) } };
}

/**
 * pg's polls: a `Client` of its own, made like the pool's connections (never one of the pool's: a
 * pool closes idle connections, and the store must not take a connection the application counts
 * on).
 */
export function pgPollConnection(source: unknown): PollConnection | string {
  const found = clientSource(source);
  if (found === undefined) {
    return 'the store was given a single pg.Client or a pool of unknown make, not a pg.Pool it can open a polling connection like';
  }
  const { Client, config } = found;
  return reopeningConnection({
    async open() {
      const client = new Client({ keepAlive: true, ...config });
      // A failure while idle shows as the next query's rejection.
      client.on('error', ignore);
      await client.connect().catch((error: unknown) => {
        client.end().catch(ignore);
        throw error;
      });
      return client;
    },
    query: async (client, text, values) => (await client.query(text, values)).rows,
    givenProcessId: (client) => client.processID,
    end: (client) => client.end(),
  });
}
