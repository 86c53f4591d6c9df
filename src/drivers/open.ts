import { noteStatement } from '../diagnostics.js';
import type { Database, PreparedFallbackListener } from './database.js';
import { createOwnedPgPool, fromPgPool, looksLikePg, type PgPoolLike, pgPollConnection } from './pg.js';
import { createPipelinedPg } from './pg-pipeline.js';
import { fromPgPromise, type PgPromiseDatabaseLike } from './pg-promise.js';
import { fromPGlite, type PGliteLike, pglitePollConnection } from './pglite.js';
import type { PollConnection } from './polling.js';
import { fromPostgresJs, type PostgresJsSqlLike, postgresJsPollConnection } from './postgres-js.js';

/** Which driver the options chose, and its object (or, for `owned`, the settings of the pool the store creates). */
export type DriverChoice =
  | { readonly kind: 'pool'; readonly pool: PgPoolLike }
  | { readonly kind: 'pgPromise'; readonly db: PgPromiseDatabaseLike }
  | { readonly kind: 'postgres'; readonly sql: PostgresJsSqlLike }
  | { readonly kind: 'pglite'; readonly db: PGliteLike }
  | { readonly kind: 'owned'; readonly config: Readonly<Record<string, unknown>> };

export interface OpenSettings {
  /**
   * Quick statements over pipelined connections (owned connections only): undefined for the
   * default, which pipelines when there is a time limit and pg has a pipeline mode.
   */
  readonly pipeline: boolean | undefined;
  readonly preparedStatements: boolean | undefined;
  /**
   * The operation time limit, if any. A statement cancelled at it may take as long again to end
   * before its connection is closed anyway (without one, nothing is cancelled).
   */
  readonly timeoutMs: number | false;
  /** The connections' name in the errorLog line of one that failed while idle: `database`, `readPool`. */
  readonly name: string;
  /** Where the store logs (errorLog): told once when named statements are turned off. */
  readonly log: (...args: unknown[]) => void;
}

/**
 * A connection attempt is abandoned a little after the operation waiting for it has failed with
 * its own TimeoutError: the two timers must not race.
 */
const CONNECT_TIMEOUT_MARGIN_MS = 100;

/** The adapter for the database the options named; its statements are counted for tracing (diagnostics.ts). */
export function openDatabase(choice: DriverChoice, settings: OpenSettings): Database {
  return countingStatements(adapterFor(choice, settings, onceSaidFallback(settings.log)));
}

/**
 * The one errorLog line when the connection path turns out to lose named statements (a pooler in
 * transaction mode): once per database, though an owned pipeline has two fallbacks.
 */
function onceSaidFallback(log: OpenSettings['log']): PreparedFallbackListener {
  let said = false;
  return (error) => {
    if (said) return;
    said = true;
    const code = (error as { code?: unknown } | null)?.code;
    log(
      `connect-pg-simple: a prepared statement failed on the server (${String(code)}: ${(error as Error)?.message}), as happens behind a pooler in transaction mode: the store switched to unnamed statements and sent it again. Set \`preparedStatements: false\` to start that way and skip the failed first statements.`,
    );
  };
}

/** The driver's statement boundary: each statement sent counts on the traced operation it serves. */
function countingStatements(db: Database): Database {
  return {
    query(statement, values, deadline) {
      noteStatement();
      return db.query(statement, values, deadline);
    },
    close: () => db.close(),
  };
}

function adapterFor(choice: DriverChoice, settings: OpenSettings, onFallback: PreparedFallbackListener): Database {
  const graceMs = settings.timeoutMs === false ? 0 : settings.timeoutMs;
  switch (choice.kind) {
    case 'pool':
      return fromPgPool(choice.pool, {
        prepare: settings.preparedStatements ?? looksLikePg(choice.pool),
        graceMs,
        onFallback,
      });
    case 'pgPromise':
      return fromPgPromise(choice.db, {
        prepare: settings.preparedStatements ?? true,
        graceMs,
        onFallback,
      });
    case 'postgres':
      return fromPostgresJs(choice.sql, { prepare: settings.preparedStatements, onFallback });
    case 'pglite':
      return fromPGlite(choice.db);
    case 'owned': {
      const owned = {
        config: choice.config,
        prepare: settings.preparedStatements ?? true,
        graceMs,
        connectTimeoutMs: settings.timeoutMs === false ? undefined : settings.timeoutMs + CONNECT_TIMEOUT_MARGIN_MS,
        onError: (error: Error) => settings.log(`connect-pg-simple: idle ${settings.name} connection failed:`, error),
        onFallback,
      };
      // A pipeline needs a time limit: a statement that never ends would hold up those behind it for good.
      const pipelined =
        (settings.pipeline ?? settings.timeoutMs !== false) && createPipelinedPg(owned, settings.pipeline === true);
      return pipelined || createOwnedPgPool(owned);
    }
  }
}

/**
 * The trusted read cache's polling connection for the driver the options named, or why there can
 * be none: a single `pg.Client` or a queryable of unknown make gives the store no way to open a
 * connection of its own.
 */
export function openPollConnection(choice: DriverChoice): PollConnection | string {
  switch (choice.kind) {
    case 'pool':
      return pgPollConnection(choice.pool);
    case 'pgPromise':
      return pgPollConnection((choice.db as { $pool?: unknown }).$pool);
    case 'owned':
      return pgPollConnection({ config: choice.config });
    case 'postgres':
      return postgresJsPollConnection(choice.sql);
    case 'pglite':
      return pglitePollConnection(choice.db);
  }
}
