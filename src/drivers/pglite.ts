import { untilDeadline } from '../time-limit.js';
import type { Database } from './database.js';
import { rowsOf, valuesNow } from './database.js';
import type { PollConnection } from './polling.js';

/** What the store uses of a PGlite instance (PostgreSQL in WebAssembly, in-process). */
export interface PGliteLike {
  query(...args: never[]): Promise<unknown>;
  exec(...args: never[]): Promise<unknown>;
}

export function isPGlite(value: unknown): value is PGliteLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { query?: unknown }).query === 'function' &&
    typeof (value as { exec?: unknown }).exec === 'function'
  );
}

export function fromPGlite(db: PGliteLike): Database {
  const query = db.query.bind(db) as unknown as (text: string, values: unknown[]) => Promise<unknown>;
  return {
    // PGlite runs in-process and cannot be cancelled: the store only stops waiting.
    query: (statement, values, deadline) =>
      untilDeadline(query(statement.text, valuesNow(values)), deadline).then(rowsOf),
    close: async () => {},
  };
}

/** PGlite's polls: the one in-process instance, whose only connection is never lost. */
export function pglitePollConnection(db: PGliteLike): PollConnection {
  const query = db.query.bind(db) as unknown as (
    text: string,
    values: readonly unknown[],
  ) => Promise<{ rows: Record<string, unknown>[] }>;
  return {
    query: async (text, values) => (await query(text, values)).rows,
    reset: async () => {},
  };
}
