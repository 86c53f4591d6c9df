import { quoteIdentifier } from '../sql.js';
import type { ListenSettings, NoticeListener } from './notice-listening.js';
import { sendMarkerWith, THROUGH_POOLER } from './notice-listening.js';
import { loadPg } from './pg.js';

/** What the listener uses of a `pg.Client`. */
interface PgClientLike {
  readonly processID: number | null;
  connect(): Promise<unknown>;
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<unknown>;
  on(event: 'notification', listener: (message: { channel: string; payload?: string }) => void): unknown;
  on(event: 'error' | 'end', listener: (error?: Error) => void): unknown;
  removeAllListeners(): unknown;
}

type PgClientClass = new (config: Record<string, unknown>) => PgClientLike;

/** After a lost connection, the next attempt waits this long, doubling up to the most. */
const FIRST_RETRY_MS = 100;
const MOST_RETRY_MS = 5_000;

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
 * The change-notice listener for pg: a `Client` of its own, made like the pool's connections
 * (never one of the pool's: a pool closes idle connections, and the store must not take a
 * connection the application counts on). It connects again after a loss, each time a new epoch.
 * A pooler or proxy between it and the server (the backend's pid is not the one the connection
 * was given at start) makes it unusable: LISTEN cannot be trusted through one.
 */
export function pgNoticeListener(source: unknown, settings: ListenSettings): NoticeListener | string {
  const found = clientSource(source);
  if (found === undefined) {
    return 'the store was given a single pg.Client or a pool of unknown make, not a pg.Pool it can open a listening connection like';
  }
  const { Client, config } = found;
  const { channel, events } = settings;
  let client: PgClientLike | undefined;
  let listening = false;
  let closed = false;
  let retryMs = FIRST_RETRY_MS;
  let retryTimer: NodeJS.Timeout | undefined;

  const lose = (current: PgClientLike, why: string) => {
    if (client !== current) return;
    client = undefined;
    current.removeAllListeners();
    current.on('error', () => {});
    current.end().catch(() => {});
    listening = false;
    if (closed) return;
    // Also when it never listened: the owner says why once (a connection that cannot be made).
    events.onLost(why);
    retryTimer = setTimeout(connect, retryMs);
    retryTimer.unref();
    retryMs = Math.min(retryMs * 2, MOST_RETRY_MS);
  };

  async function connect(): Promise<void> {
    if (closed) return;
    const current = new Client({ keepAlive: true, ...config });
    client = current;
    current.on('notification', (message) => {
      if (message.channel === channel) events.onNotice(message.payload ?? '');
    });
    current.on('error', (error) => lose(current, `the listening connection failed: ${error?.message ?? 'error'}`));
    current.on('end', () => lose(current, 'the listening connection ended'));
    try {
      await current.connect();
      await current.query(`LISTEN ${quoteIdentifier(channel)}`);
      const { rows } = await current.query('SELECT pg_backend_pid() AS pid');
      if (Number(rows[0]?.pid) !== current.processID) {
        // Something between (PgBouncer, a proxy) gave the connection its own process id.
        closed = true;
        lose(current, 'unusable');
        events.onUnusable(THROUGH_POOLER);
        return;
      }
    } catch (error) {
      lose(current, `cannot listen: ${(error as Error).message}`);
      return;
    }
    if (client !== current) return;
    retryMs = FIRST_RETRY_MS;
    listening = true;
    events.onListening();
  }

  void connect();
  return {
    sendMarker: (payload) => {
      const current = client;
      if (current === undefined || !listening) return Promise.reject(new Error('not listening'));
      return sendMarkerWith(async (text, values) => (await current.query(text, values)).rows, settings, payload);
    },
    close: async () => {
      closed = true;
      clearTimeout(retryTimer);
      const current = client;
      if (current === undefined) return;
      client = undefined;
      listening = false;
      current.removeAllListeners();
      current.on('error', () => {});
      await current.end().catch(() => {});
    },
  };
}
