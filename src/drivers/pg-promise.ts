import { untilDeadline } from '../time-limit.js';
import { type Done, type Lease, runOnLease } from './cancel.js';
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

interface PgPromiseLease extends Lease {
  readonly connection: PgPromiseConnection;
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
  const leasing = typeof connect === 'function';
  /** pg-promise's pg.Pool, for what connection-phase errors say. */
  const pool = (db as { $pool?: unknown }).$pool;
  const acquire = (done: Done<Lease>) => {
    (connect as () => Promise<PgPromiseConnection>).call(db).then(
      (connection) =>
        done(undefined, {
          client: connection.client,
          connection,
          release: (destroy: boolean) => void connection.done(destroy),
        } as PgPromiseLease),
      (error: unknown) => done(explainConnectionError(error, pool)),
    );
  };
  const query = withPreparedFallback(
    prepare,
    (statement, values, named, deadline) => {
      // Passed as {text, values} (or with a name), pg-promise sends the values to the server as
      // parameters instead of formatting them into the text itself; made once a connection is at hand.
      const config = () => queryConfig(statement, values, named);
      if (!leasing || deadline === undefined) return untilDeadline(any(config()), deadline);
      // A connection of its own, so that a statement out of time can be cancelled (see runOnLease).
      return runOnLease<unknown>(
        acquire,
        (lease, done) => {
          (lease as PgPromiseLease).connection.any(config()).then((rows) => done(undefined, rows), done);
        },
        deadline,
        graceMs,
        (expired) => explainWaitForConnection(expired, pool),
      );
    },
    onFallback,
  );
  return { query, close: async () => {} };
}
