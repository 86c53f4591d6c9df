import type { DriverChoice } from './open.js';
import { pgPollConnection } from './poll-connection-pg.js';
import { pglitePollConnection } from './poll-connection-pglite.js';
import { postgresJsPollConnection } from './poll-connection-postgres-js.js';
import type { PollConnection } from './polling.js';

export { type PollConnection, PollingUnusable } from './polling.js';

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
