import { untilDeadline } from '../time-limit.js';
import { type Leasing, runOnLease } from './cancel.js';
import { explainConnectionError, explainWaitForConnection } from './connection-errors.js';
import { type Database, type PreparedFallbackListener, withPreparedFallback } from './database.js';
import { queryConfig } from './pg.js';

/** What the store uses of a pg-promise database object. */
export interface PgPromiseDatabaseLike {
  any(...args: never[]): Promise<unknown>;
}

/** pg-promise's shared connection object (`db.connect()`): its pg client, and `done(kill)`. */
interface PgPromiseConnection {
  readonly client: unknown;
  any(query: object): Promise<unknown>;
  done(kill?: boolean): unknown;
}

export function isPgPromiseDatabase(value: unknown): value is PgPromiseDatabaseLike {
  return typeof value === 'object' && value !== null && typeof (value as { any?: unknown }).any === 'function';
}

export function fromPgPromise(
  db: PgPromiseDatabaseLike,
  { prepare, graceMs, onFallback }: { prepare: boolean; graceMs: number; onFallback?: PreparedFallbackListener },
): Database {
  const any = db.any.bind(db) as unknown as (query: object) => Promise<unknown>;
  const connect = (db as { connect?: unknown }).connect;
  /** pg-promise's pg.Pool, for what connection-phase errors say. */
  const pool = (db as { $pool?: unknown }).$pool;
  /** Without `connect` (an object of another make), statements are only waited for. */
  const leasing: Leasing<PgPromiseConnection> | undefined =
    typeof connect !== 'function'
      ? undefined
      : {
          acquire(done) {
            (connect as () => Promise<PgPromiseConnection>).call(db).then(
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
    (statement, values, named, deadline) => {
      // Passed as {text, values} (or with a name), pg-promise sends the values to the server as
      // parameters instead of formatting them into the text itself; made once a connection is at hand.
      const config = () => queryConfig(statement, values, named);
      if (leasing === undefined || deadline === undefined) return untilDeadline(any(config()), deadline);
      // A connection of its own, so that a statement out of time can be cancelled (see runOnLease).
      return runOnLease<PgPromiseConnection, unknown>(
        leasing,
        (connection, done) => {
          connection.any(config()).then((rows) => done(undefined, rows), done);
        },
        deadline,
      );
    },
    onFallback,
  );
  return { query, close: async () => {} };
}
