import { untilDeadline } from '../time-limit.js';
import { explainConnectionError } from './connection-errors.js';
import type { Database } from './database.js';
import { type PreparedFallbackListener, valuesNow, withPreparedFallback } from './database.js';

/** What the store uses of a postgres.js `sql` instance. */
export interface PostgresJsSqlLike {
  unsafe(...args: never[]): PromiseLike<unknown>;
  readonly options?: { readonly prepare?: boolean };
}

/** A postgres.js query: a promise that can be cancelled on the server. */
interface PendingQuery extends PromiseLike<unknown> {
  cancel?(): unknown;
  /** postgres.js keeps the function behind cancel() here; called directly, its promise can be handled. */
  canceller?: ((query: PendingQuery) => unknown) | null;
}

export function isPostgresJsSql(value: unknown): value is PostgresJsSqlLike {
  return typeof value === 'function' && typeof (value as { unsafe?: unknown }).unsafe === 'function';
}

const ignore = () => {};

/** Cancels a postgres.js query, without letting a failed cancel request become an unhandled rejection. */
function cancelQuery(query: PendingQuery): void {
  try {
    const canceller = query.canceller;
    if (typeof canceller === 'function') {
      query.canceller = null;
      Promise.resolve(canceller(query)).catch(ignore);
    } else {
      query.cancel?.();
    }
  } catch {
    // Cancelling is best effort; the store has stopped waiting already.
  }
}

/**
 * postgres.js prepares and pipelines on its own. `preparedStatements` (the store's option) wins,
 * else the sql's own `prepare: false` (PgBouncer) is obeyed; behind a pooler that loses prepared
 * statements, the first "does not exist" / "exists already" turns them off for good (see
 * withPreparedFallback).
 */
export function fromPostgresJs(
  sql: PostgresJsSqlLike,
  { prepare, onFallback }: { prepare?: boolean; onFallback?: PreparedFallbackListener } = {},
): Database {
  const unsafe = sql.unsafe.bind(sql) as unknown as (
    text: string,
    values: unknown[],
    options: { prepare: boolean },
  ) => PendingQuery;
  return {
    query: withPreparedFallback(
      prepare ?? sql.options?.prepare !== false,
      (statement, values, named, deadline) => {
        // postgres.js waits for a connection inside: the time it waits there is not taken off (see ElapsingSeconds).
        const pending = unsafe(statement.text, valuesNow(values), { prepare: named });
        return untilDeadline(pending, deadline, () => cancelQuery(pending)).catch((error: unknown) => {
          throw explainConnectionError(error, sql);
        });
      },
      onFallback,
    ),
    close: async () => {},
  };
}
