import type { Database } from './database.js';
import { withPreparedFallback } from './database.js';

/** What the store uses of a `pg.Pool` (or `pg.Client`, or any pool with the same `query`). */
export interface PgPoolLike {
  query(...args: never[]): Promise<unknown>;
}

interface PgQueryable {
  query(config: { text: string; values: unknown[]; name?: string }): Promise<unknown>;
  query(text: string, values: unknown[]): Promise<unknown>;
}

export function isQueryable(value: unknown): value is PgPoolLike {
  return typeof value === 'object' && value !== null && typeof (value as { query?: unknown }).query === 'function';
}

/** pg's own pools and clients take a query config with a statement name; plain queryables may not. */
export function looksLikePg(pool: object): boolean {
  return typeof (pool as { connect?: unknown }).connect === 'function';
}

export function fromPgPool(
  pool: PgPoolLike,
  { prepare, end }: { prepare: boolean; end?: () => Promise<void> },
): Database {
  const db = pool as unknown as PgQueryable;
  const query = withPreparedFallback(prepare, (statement, values, named) =>
    named
      ? db.query({ name: statement.name, text: statement.text, values: [...values] })
      : db.query(statement.text, [...values]),
  );
  return { query, close: end ?? (async () => {}) };
}

export interface OwnedPoolSettings {
  readonly config: Readonly<Record<string, unknown>>;
  readonly prepare: boolean;
  readonly onError: (error: Error) => void;
}

/** The pool the store creates from `conString`/`conObject`/`DATABASE_URL`: `pg` is loaded only then. */
export function createOwnedPgPool({ config, prepare, onError }: OwnedPoolSettings): Database {
  let pg: { Pool: new (config: Record<string, unknown>) => PgPoolLike & OwnedPool };
  // Loaded on demand, so that users of other drivers need not install pg.
  try {
    pg = require('pg');
  } catch (error) {
    throw new Error('connect-pg-simple: conString, conObject and DATABASE_URL need the "pg" package: npm install pg', {
      cause: error,
    });
  }
  const pool = new pg.Pool({ ...config });
  pool.on('error', onError);
  let ended: Promise<void> | undefined;
  return fromPgPool(pool, {
    prepare,
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
