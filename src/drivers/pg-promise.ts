import type { Database } from './database.js';
import { withPreparedFallback } from './database.js';

/** What the store uses of a pg-promise database object. */
export interface PgPromiseDatabaseLike {
  any(...args: never[]): Promise<unknown>;
}

export function isPgPromiseDatabase(value: unknown): value is PgPromiseDatabaseLike {
  return typeof value === 'object' && value !== null && typeof (value as { any?: unknown }).any === 'function';
}

export function fromPgPromise(db: PgPromiseDatabaseLike, { prepare }: { prepare: boolean }): Database {
  const any = db.any.bind(db) as unknown as (query: object) => Promise<unknown>;
  // Passed as {text, values} (or with a name), pg-promise sends the values to the server as
  // parameters instead of formatting them into the text itself.
  const query = withPreparedFallback(prepare, (statement, values, named) =>
    any(
      named
        ? { name: statement.name, text: statement.text, values: [...values] }
        : { text: statement.text, values: [...values] },
    ),
  );
  return { query, close: async () => {} };
}
