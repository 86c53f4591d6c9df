import type { DriverChoice } from '../options.js';
import type { Database } from './database.js';
import { createOwnedPgPool, fromPgPool, looksLikePg } from './pg.js';
import { fromPgPromise } from './pg-promise.js';
import { fromPGlite } from './pglite.js';
import { fromPostgresJs } from './postgres-js.js';

export interface OpenSettings {
  readonly preparedStatements: boolean | undefined;
  readonly onPoolError: (error: Error) => void;
}

/** The adapter for the database the options named. */
export function openDatabase(choice: DriverChoice, settings: OpenSettings): Database {
  switch (choice.kind) {
    case 'pool':
      return fromPgPool(choice.pool, { prepare: settings.preparedStatements ?? looksLikePg(choice.pool) });
    case 'pgPromise':
      return fromPgPromise(choice.db, { prepare: settings.preparedStatements ?? true });
    case 'postgres':
      return fromPostgresJs(choice.sql);
    case 'pglite':
      return fromPGlite(choice.db);
    case 'owned':
      return createOwnedPgPool({
        config: choice.config,
        prepare: settings.preparedStatements ?? true,
        onError: settings.onPoolError,
      });
  }
}
