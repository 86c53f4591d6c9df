import type { PollConnection } from './polling.js';
import { PollingUnusable, THROUGH_POOLER } from './polling.js';
import type { PostgresJsSqlLike } from './postgres-js.js';

type Rows = Record<string, unknown>[] & { state?: { pid?: number } };

interface PostgresJsInstance {
  unsafe(text: string, values: readonly unknown[]): Promise<Rows>;
  end(options?: { timeout?: number }): Promise<void>;
}

type PostgresJsFactory = (options: Record<string, unknown>) => PostgresJsInstance;

/**
 * postgres.js's polls: an `sql` instance of one connection, made from the store's instance's own
 * options (never one of its connections: the application counts on them). postgres.js connects
 * again on its own after a loss: each poll names its server process, so the poller sees that. A
 * pooler between (the server's process is not the one the connection was given at start) makes
 * it unusable.
 */
export function postgresJsPollConnection(sql: PostgresJsSqlLike): PollConnection | string {
  const options = (sql as { options?: Record<string, unknown> }).options;
  if (options === undefined) return 'the postgres.js instance shows no options to open a polling connection like';
  let factory: PostgresJsFactory;
  try {
    factory = require('postgres') as PostgresJsFactory;
  } catch (error) {
    return `cannot load postgres.js to open a polling connection: ${(error as Error).message}`;
  }
  let instance: Promise<PostgresJsInstance> | undefined;

  const open = async () => {
    const own = factory({ ...options, max: 1, onnotice: () => {}, onnotify: undefined, onclose: undefined });
    try {
      const rows = await own.unsafe('SELECT pg_backend_pid() AS pid', []);
      if (rows.state?.pid !== undefined && Number(rows[0]?.pid) !== rows.state.pid)
        throw new PollingUnusable(THROUGH_POOLER);
    } catch (error) {
      own.end({ timeout: 0 }).catch(() => {});
      throw error;
    }
    return own;
  };
  const reset = async () => {
    const current = instance;
    instance = undefined;
    await (await current?.catch(() => undefined))?.end({ timeout: 0 }).catch(() => {});
  };

  return {
    query: async (text, values) => {
      instance ??= open();
      try {
        return await (await instance).unsafe(text, values);
      } catch (error) {
        await reset();
        throw error;
      }
    },
    reset,
  };
}
