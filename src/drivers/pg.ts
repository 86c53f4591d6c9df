import type { Deadline } from '../time-limit.js';
import { runLeased } from './cancel.js';
import type { Database } from './database.js';
import { withPreparedFallback } from './database.js';

/** What the store uses of a `pg.Pool` (or `pg.Client`, or any pool with the same `query`). */
export interface PgPoolLike {
  query(...args: never[]): Promise<unknown>;
}

interface PgQueryConfig {
  text: string;
  values: unknown[];
  name?: string;
}

interface PgQueryable {
  query(config: PgQueryConfig): Promise<unknown>;
  query(text: string, values: unknown[]): Promise<unknown>;
}

interface PgPoolClient extends PgQueryable {
  release(destroy?: boolean): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
}

interface PgPool extends PgQueryable {
  connect(): Promise<PgPoolClient>;
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
  return looksLikePg(pool) && 'totalCount' in pool && 'idleCount' in pool;
}

const ignore = () => {};

/**
 * One statement on a connection of its own from the pool, so that a statement that runs out of
 * time can be cancelled on the server and its connection closed (see runLeased).
 */
function leasedQuery(pool: PgPool, config: PgQueryConfig, deadline: Deadline, graceMs: number): Promise<unknown> {
  return pool.connect().then((client) => {
    // A checked-out client reports a broken connection as an 'error' event as well as to its
    // query: without a listener, that event would crash the process.
    client.on('error', ignore);
    const lease = {
      client,
      release: (destroy: boolean) => {
        client.removeListener('error', ignore);
        client.release(destroy || undefined);
      },
    };
    return runLeased(lease, () => client.query(config), deadline, graceMs);
  });
}

/** How long to wait for a cancelled statement's connection to settle, when no time limit says. */
const DEFAULT_GRACE_MS = 1000;

export function fromPgPool(
  pool: PgPoolLike,
  { prepare, end, graceMs = DEFAULT_GRACE_MS }: { prepare: boolean; end?: () => Promise<void>; graceMs?: number },
): Database {
  const db = pool as unknown as PgQueryable;
  const leasing = isPgPool(pool);
  const query = withPreparedFallback(prepare, (statement, values, named, deadline) => {
    const config: PgQueryConfig = named
      ? { name: statement.name, text: statement.text, values: [...values] }
      : { text: statement.text, values: [...values] };
    if (leasing && deadline !== undefined) return leasedQuery(pool, config, deadline, graceMs);
    // A single client (or a pool of unknown make) cannot be cancelled safely: the store only
    // stops waiting when time is up.
    return named ? db.query(config) : db.query(config.text, config.values);
  });
  return { query, close: end ?? (async () => {}) };
}

export interface OwnedPoolSettings {
  readonly config: Readonly<Record<string, unknown>>;
  readonly prepare: boolean;
  readonly graceMs: number;
  /** The pool's `connectionTimeoutMillis` unless the config sets one: no connect outlives the store's patience. */
  readonly connectTimeoutMs: number | undefined;
  readonly onError: (error: Error) => void;
}

/** The pool the store creates from `conString`/`conObject`/`DATABASE_URL`: `pg` is loaded only then. */
export function createOwnedPgPool({
  config,
  prepare,
  graceMs,
  connectTimeoutMs,
  onError,
}: OwnedPoolSettings): Database {
  let pg: { Pool: new (config: Record<string, unknown>) => PgPoolLike & OwnedPool };
  // Loaded on demand, so that users of other drivers need not install pg.
  try {
    pg = require('pg');
  } catch (error) {
    throw new Error('connect-pg-simple: conString, conObject and DATABASE_URL need the "pg" package: npm install pg', {
      cause: error,
    });
  }
  const pool = new pg.Pool({ connectionTimeoutMillis: connectTimeoutMs, ...config });
  pool.on('error', onError);
  let ended: Promise<void> | undefined;
  return fromPgPool(pool, {
    prepare,
    graceMs,
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
