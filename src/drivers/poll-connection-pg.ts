import { loadPg } from './pg.js';
import type { PollConnection } from './polling.js';
import { PollingUnusable, THROUGH_POOLER } from './polling.js';

/** What the poller uses of a `pg.Client`. */
interface PgClientLike {
  readonly processID: number | null;
  connect(): Promise<unknown>;
  query(text: string, values?: readonly unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<unknown>;
  on(event: 'error', listener: (error?: Error) => void): unknown;
}

type PgClientClass = new (config: Record<string, unknown>) => PgClientLike;

/** The `Client` class and connection settings of a pg.Pool (pg-pool keeps both), or of the store's own config. */
function clientSource(source: unknown): { Client: PgClientClass; config: Record<string, unknown> } | undefined {
  const pool = source as { Client?: unknown; options?: unknown; config?: unknown } | null | undefined;
  if (pool === null || typeof pool !== 'object') return undefined;
  if (pool.config !== undefined && pool.Client === undefined) {
    return { Client: loadPg<{ Client: PgClientClass }>().Client, config: { ...(pool.config as object) } };
  }
  if (typeof pool.Client !== 'function' || typeof pool.options !== 'object' || pool.options === null) return undefined;
  return { Client: pool.Client as PgClientClass, config: { ...(pool.options as object) } };
}

/**
 * pg's polls: a `Client` of its own, made like the pool's connections (never one of the pool's: a
 * pool closes idle connections, and the store must not take a connection the application counts
 * on). A pooler or proxy between it and the server (the backend's pid is not the one the
 * connection was given at start) makes it unusable.
 */
export function pgPollConnection(source: unknown): PollConnection | string {
  const found = clientSource(source);
  if (found === undefined) {
    return 'the store was given a single pg.Client or a pool of unknown make, not a pg.Pool it can open a polling connection like';
  }
  const { Client, config } = found;
  let client: Promise<PgClientLike> | undefined;

  const connect = async () => {
    const current = new Client({ keepAlive: true, ...config });
    // A failure while idle shows as the next query's rejection.
    current.on('error', () => {});
    try {
      await current.connect();
      const { rows } = await current.query('SELECT pg_backend_pid() AS pid');
      // Something between (PgBouncer, a proxy) gave the connection its own process id.
      if (Number(rows[0]?.pid) !== current.processID) throw new PollingUnusable(THROUGH_POOLER);
    } catch (error) {
      current.end().catch(() => {});
      throw error;
    }
    return current;
  };
  const reset = async () => {
    const current = client;
    client = undefined;
    await (await current?.catch(() => undefined))?.end().catch(() => {});
  };

  return {
    query: async (text, values) => {
      client ??= connect();
      try {
        return (await (await client).query(text, values)).rows;
      } catch (error) {
        await reset();
        throw error;
      }
    },
    reset,
  };
}
