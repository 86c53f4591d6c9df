import type { Database } from './database.js';
import { rowsOf } from './database.js';

/** What the store uses of a postgres.js `sql` instance. */
export interface PostgresJsSqlLike {
  unsafe(...args: never[]): PromiseLike<unknown>;
  readonly options?: { readonly prepare?: boolean };
}

export function isPostgresJsSql(value: unknown): value is PostgresJsSqlLike {
  return typeof value === 'function' && typeof (value as { unsafe?: unknown }).unsafe === 'function';
}

export function fromPostgresJs(sql: PostgresJsSqlLike): Database {
  const unsafe = sql.unsafe.bind(sql) as unknown as (
    text: string,
    values: unknown[],
    options: { prepare: boolean },
  ) => PromiseLike<unknown>;
  // postgres.js prepares and pipelines on its own; a user who set `prepare: false` (PgBouncer) is obeyed.
  const prepare = sql.options?.prepare !== false;
  return {
    query: async (statement, values) => rowsOf(await unsafe(statement.text, [...values], { prepare })),
    close: async () => {},
  };
}
