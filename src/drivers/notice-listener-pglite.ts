import type { ListenSettings, NoticeListener } from './notice-listening.js';
import { sendMarkerWith } from './notice-listening.js';
import type { PGliteLike } from './pglite.js';

interface PGliteListening {
  listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>;
  query(text: string, values: unknown[]): Promise<{ rows: unknown[] }>;
}

/** The change-notice listener for PGlite: `listen()` within the one in-process instance, never lost. */
export function pgliteNoticeListener(db: PGliteLike, settings: ListenSettings): NoticeListener {
  const pglite = db as unknown as PGliteListening;
  const { channel, events } = settings;
  let listening = false;
  const subscription = pglite.listen(channel, (payload) => events.onNotice(payload));
  subscription.then(
    () => {
      listening = true;
      events.onListening();
    },
    (error: unknown) => events.onUnusable(`cannot listen: ${(error as Error).message}`),
  );
  return {
    sendMarker: (payload) => {
      if (!listening) return Promise.reject(new Error('not listening'));
      return sendMarkerWith(async (text, values) => (await pglite.query(text, values)).rows, settings, payload);
    },
    close: async () => {
      listening = false;
      await subscription.then((unlisten) => unlisten()).catch(() => {});
    },
  };
}
