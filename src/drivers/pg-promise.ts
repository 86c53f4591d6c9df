import { untilDeadline } from '../time-limit.js';
import { type Database, type PreparedFallbackListener, withPreparedFallback } from './database.js';
import { fromPgPool, isQueryable, looksLikePg, queryConfig } from './pg.js';

/** What the store uses of a pg-promise database object. */
export interface PgPromiseDatabaseLike {
  any(...args: never[]): Promise<unknown>;
}

export function isPgPromiseDatabase(value: unknown): value is PgPromiseDatabaseLike {
  return typeof value === 'object' && value !== null && typeof (value as { any?: unknown }).any === 'function';
}

/**
 * The store's statements go to the database object's pg.Pool (`db.$pool`), as to a pool the
 * application passed, and not through pg-promise's query methods: its hooks neither see them nor
 * change their rows (a `receive` hook that renames columns to camelCase would hide `user_id`, and
 * the table check's catalog columns with it). Time limits, cancellation and the connection errors
 * are then pg's. An object of another make, with `any` but no pg.Pool, is only waited for.
 */
export function fromPgPromise(
  db: PgPromiseDatabaseLike,
  options: { prepare: boolean; graceMs: number; onFallback?: PreparedFallbackListener },
): Database {
  const pool = (db as { $pool?: unknown }).$pool;
  if (isQueryable(pool) && looksLikePg(pool)) return fromPgPool(pool, options);
  const any = db.any.bind(db) as unknown as (query: object) => Promise<unknown>;
  const query = withPreparedFallback(
    options.prepare,
    // As {text, values}, pg-promise sends the values as parameters rather than formatting them in.
    (statement, values, named, deadline) => untilDeadline(any(queryConfig(statement, values, named)), deadline),
    options.onFallback,
  );
  return { query, close: async () => {} };
}
