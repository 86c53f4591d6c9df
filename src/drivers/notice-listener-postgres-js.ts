import type { ListenSettings, NoticeListener } from './notice-listening.js';
import { sendMarkerWith, THROUGH_POOLER } from './notice-listening.js';
import type { PostgresJsSqlLike } from './postgres-js.js';

/** What the listener uses of a postgres.js `sql`. */
interface PostgresJsListening {
  listen(
    channel: string,
    onNotify: (payload: string) => void,
    onListen: () => void,
  ): Promise<{ unlisten(): Promise<unknown> }>;
  unsafe(text: string, values: unknown[]): Promise<Record<string, unknown>[] & { state?: { pid?: number } }>;
}

/**
 * The change-notice listener for postgres.js: `sql.listen`, which keeps one connection of its own
 * for every channel of the `sql` instance and LISTENs again after a loss (each time a new epoch,
 * told by `onlisten`). It does not say when its connection is lost: the markers, sent on the
 * store's connections, stop arriving then, which is enough (see cache-trust.ts). A pooler
 * between (found on the store's connections: postgres.js's listening connection is made alike)
 * makes it unusable.
 */
export function postgresJsNoticeListener(sql: PostgresJsSqlLike, settings: ListenSettings): NoticeListener {
  const postgres = sql as unknown as PostgresJsListening;
  const { channel, events } = settings;
  let closed = false;
  let listening = false;

  /** Does the server's process id match the one the connection was given at start? */
  const direct = async () => {
    const rows = await postgres.unsafe('SELECT pg_backend_pid() AS pid', []);
    return rows.state?.pid === undefined || Number(rows[0]?.pid) === rows.state.pid;
  };

  const onListen = () => {
    if (closed) return;
    // Notices may have been missed between the loss and now: the owner starts a new epoch.
    if (listening) events.onLost('the listening connection was lost and listens again');
    listening = false;
    direct().then(
      (isDirect) => {
        if (closed) return;
        if (!isDirect) {
          closed = true;
          events.onUnusable(THROUGH_POOLER);
          return;
        }
        listening = true;
        events.onListening();
      },
      (error: unknown) => events.onLost(`cannot check the listening connection: ${(error as Error).message}`),
    );
  };

  const subscription = postgres.listen(channel, (payload) => events.onNotice(payload), onListen);
  subscription.catch((error: unknown) => {
    if (!closed) events.onUnusable(`cannot listen: ${(error as Error).message}`);
  });
  return {
    sendMarker: (payload) => {
      if (!listening) return Promise.reject(new Error('not listening'));
      return sendMarkerWith((text, values) => postgres.unsafe(text, values), settings, payload);
    },
    close: async () => {
      closed = true;
      listening = false;
      await subscription.then((s) => s.unlisten()).catch(() => {});
    },
  };
}
