import { typeError } from '../errors.js';
import { untilDeadline } from '../time-limit.js';
import { explainConnectionError } from './connection-errors.js';
import { type Database, type PreparedFallbackListener, type Row, valuesNow, withPreparedFallback } from './database.js';
import { type PollConnection, reopeningConnection } from './polling.js';

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
  /** postgres.js 3.x: set once the query is on a connection; what it runs, and whether it was cancelled. */
  state?: unknown;
  /** postgres.js 3.x: set once the query is the one its connection runs (the rest of the pipeline waits behind it). */
  active?: boolean;
  strings?: unknown;
  args?: unknown;
  options?: Record<string, unknown>;
  cancelled?: unknown;
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
      const onConnection = query.state !== undefined && query.state !== null;
      if (onConnection && query.active === false) {
        cancelWhenRunning(query, canceller);
        return;
      }
      Promise.resolve(canceller(query)).catch(ignore);
      if (!onConnection) emptyOut(query);
    } else {
      query.cancel?.();
    }
  } catch {
    // Cancelling is best effort; the store has stopped waiting already.
  }
}

/**
 * A query pipelined behind another on its connection (sent, not yet running) is cancelled once
 * it runs, and not before. postgres.js 3.x, told to cancel such queries, waits for the one before
 * them to end and then sends the cancel requests of all of them at once; PostgreSQL cancels the
 * statement running as each request arrives, so one is cancelled and the others run when the
 * stall ends (a write told TimeoutError lands), their answers going to the wrong queries. Here
 * each is cancelled in its turn: when postgres.js makes it the query its connection runs (it sets
 * `active`), once the server has ended the one before it. The server starts it a little sooner
 * than that: a statement stalled too is cancelled; a quick one may finish first (docs/reliability.md).
 */
function cancelWhenRunning(query: PendingQuery, canceller: (query: PendingQuery) => unknown): void {
  Object.defineProperty(query, 'active', {
    configurable: true,
    enumerable: true,
    get: () => false,
    set(running: boolean) {
      Object.defineProperty(query, 'active', { value: running, writable: true, configurable: true, enumerable: true });
      if (!running) return;
      try {
        Promise.resolve(canceller(query)).catch(ignore);
      } catch {
        // Called from inside postgres.js's handling of the server's answer: nothing may escape.
      }
    },
  });
}

/**
 * postgres.js 3.x (3.4.10 too; 4.x is not affected) loses a connection for good when a query is
 * cancelled while the connection it is to run on is opening: once open, the connection skips the
 * cancelled query and is never given another one, so the instance has one connection fewer each
 * time (with `max: 1`, every later query waits forever). A failover, a restart or a blink of the
 * network makes exactly that: statements that time out while connections open again.
 *
 * So a query not yet on a connection is cancelled, which takes it out of the queue if it waits
 * there, and then emptied: the connection that opens for it, if one does, runs `SELECT 1` instead
 * and goes back to the pool. Its rows go nowhere: the store's promise was settled by the timeout.
 */
function emptyOut(query: PendingQuery): void {
  if (!Array.isArray(query.strings) || !Array.isArray(query.args) || typeof query.options !== 'object') return;
  query.strings = ['SELECT 1'];
  query.args = [];
  query.options = { ...query.options, simple: true };
  query.cancelled = null;
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
  const columnsAsNamed = columnsRenamedBack(sql);
  const query = withPreparedFallback(
    prepare ?? sql.options?.prepare !== false,
    (statement, values, named, deadline) => {
      // postgres.js waits for a connection inside: the time it waits there is not taken off (see ElapsingSeconds).
      const pending = unsafe(statement.text, valuesNow(values), { prepare: named });
      return untilDeadline(pending, deadline, () => cancelQuery(pending)).catch((error: unknown) => {
        throw explainConnectionError(error, sql);
      });
    },
    onFallback,
  );
  return {
    query: columnsAsNamed === undefined ? query : (...args) => query(...args).then(columnsAsNamed),
    close: async () => {},
  };
}

/**
 * An `sql` made with a column transform (`transform: postgres.camel`, `pascal` or `kebab`) renames
 * the columns of every result, the store's too (`user_id` as `userId`, and the catalog's columns
 * of the table check): the store's rows get their names back by the transform's own inverse
 * (`column.to`). Its value transforms touch only json columns, which the store never reads.
 */
function columnsRenamedBack(sql: PostgresJsSqlLike): ((rows: Row[]) => Row[]) | undefined {
  const column = (sql.options as { transform?: { column?: { from?: unknown; to?: unknown } } } | undefined)?.transform
    ?.column;
  if (typeof column?.from !== 'function') return undefined;
  const back = column.to;
  if (typeof back !== 'function') {
    throw typeError(
      'ERR_INVALID_OPTION',
      "connect-pg-simple: the postgres.js sql instance renames result columns (its transform.column) and has no way to name them back (transform.column.to): give the store an sql instance made without a column transform, or with one of postgres.js's own (postgres.camel, postgres.pascal, postgres.kebab)",
    );
  }
  const named = new Map<string, string>();
  const nameOf = (renamed: string) => {
    let name = named.get(renamed);
    if (name === undefined) {
      name = String(back(renamed));
      named.set(renamed, name);
    }
    return name;
  };
  return (rows) =>
    rows.map((row) => {
      const renamed: Row = {};
      for (const key of Object.keys(row)) renamed[nameOf(key)] = row[key];
      return renamed;
    });
}

/**
 * No transform, as postgres.js keeps one once it has read its options (which it takes as they
 * are): the polls read the change log's columns by their names, whatever the application's `sql` renames.
 */
const NO_TRANSFORM = { undefined: undefined, column: {}, value: {}, row: {} };

type PolledRows = Record<string, unknown>[] & { state?: { pid?: number } };

/** What the cache's poller uses of the `sql` instance it makes. */
interface PostgresJsPollingInstance {
  unsafe(text: string, values: readonly unknown[]): Promise<PolledRows>;
  end(options?: { timeout?: number }): Promise<void>;
}

/**
 * postgres.js's polls: an `sql` instance of one connection, made from the store's instance's own
 * options (never one of its connections: the application counts on them). postgres.js connects
 * again on its own after a loss: each poll names its server process, so the poller sees that.
 */
export function postgresJsPollConnection(sql: PostgresJsSqlLike): PollConnection | string {
  const options = (sql as { options?: Record<string, unknown> }).options;
  if (options === undefined) return 'the postgres.js instance shows no options to open a polling connection like';
  let postgres: (options: Record<string, unknown>) => PostgresJsPollingInstance;
  try {
    postgres = require('postgres');
  } catch (error) {
    return `cannot load postgres.js to open a polling connection: ${(error as Error).message}`;
  }
  return reopeningConnection({
    // postgres.js connects on the first query.
    open: async () =>
      postgres({
        ...options,
        max: 1,
        transform: NO_TRANSFORM,
        onnotice: ignore,
        onnotify: undefined,
        onclose: undefined,
      }),
    query: (own, text, values) => own.unsafe(text, values),
    givenProcessId: (_, rows) => (rows as PolledRows).state?.pid,
    end: (own) => own.end({ timeout: 0 }),
  });
}
