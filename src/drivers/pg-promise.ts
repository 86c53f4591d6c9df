import { type Leasing, runOnLease } from './cancel.js';
import { explainConnectionError, explainWaitForConnection } from './connection-errors.js';
import { type Database, type PreparedFallbackListener, withPreparedFallback } from './database.js';
import { type PgCallback, type PgQueryConfig, queryConfig } from './pg.js';

/** What the store uses of a pg-promise database object: `db.connect()`. */
export interface PgPromiseDatabaseLike {
  connect(...args: never[]): Promise<unknown>;
}

/** pg-promise's shared connection object (`db.connect()`): its pg client, and `done(kill)`. */
interface PgPromiseConnection {
  readonly client: { query(config: PgQueryConfig, callback: PgCallback): void };
  done(kill?: boolean): unknown;
}

/** `any` tells it from a pg.Pool, which has a `connect` too. */
export function isPgPromiseDatabase(value: unknown): value is PgPromiseDatabaseLike {
  const db = value as { any?: unknown; connect?: unknown } | null;
  return typeof db === 'object' && db !== null && typeof db.any === 'function' && typeof db.connect === 'function';
}

/**
 * Each statement runs on a connection of its own from `db.connect()`, so that pg-promise sets the
 * connection up as the application asked (its `schema` option, its `connect` event) and a
 * statement out of time can be cancelled (see runOnLease). It is sent on the connection's pg
 * client, not through pg-promise's query methods: pg-promise's query hooks neither see the store's
 * statements nor change their rows (a `receive` hook that renames columns to camelCase would hide
 * `user_id`, and the table check's catalog columns with it).
 */
export function fromPgPromise(
  db: PgPromiseDatabaseLike,
  { prepare, graceMs, onFallback }: { prepare: boolean; graceMs: number; onFallback?: PreparedFallbackListener },
): Database {
  const connect = db.connect.bind(db) as unknown as () => Promise<PgPromiseConnection>;
  /** pg-promise's pg.Pool, for what connection-phase errors say. */
  const pool = (db as { $pool?: unknown }).$pool;
  const leasing: Leasing<PgPromiseConnection> = {
    acquire(done) {
      connect().then(
        (connection) => done(undefined, connection),
        (error: unknown) => done(explainConnectionError(error, pool)),
      );
    },
    release: (connection, destroy) => void connection.done(destroy),
    clientOf: (connection) => connection.client,
    graceMs,
    expiredWaiting: (expired) => explainWaitForConnection(expired, pool),
  };
  const query = withPreparedFallback(
    prepare,
    (statement, values, named, deadline) =>
      runOnLease<PgPromiseConnection, unknown>(
        leasing,
        // Made once the connection is at hand (see valuesNow).
        (connection, done) => connection.client.query(queryConfig(statement, values, named), done),
        deadline,
      ),
    onFallback,
  );
  return { query, close: async () => {} };
}
