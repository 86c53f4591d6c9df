/** What a notice listener tells its owner. */
export interface NoticeEvents {
  /**
   * LISTEN is in effect on a (new) connection of the listener's own, straight to the server:
   * every notice committed from now on will arrive, in commit order, until `onLost`.
   */
  readonly onListening: () => void;
  /** The connection is lost: notices may be missed until the next `onListening`. */
  readonly onLost: (why: string) => void;
  /** The listener cannot work here, and has stopped trying. */
  readonly onUnusable: (why: string) => void;
  readonly onNotice: (payload: string) => void;
}

/** A connection that LISTENs to the table's change notices (see change-notices.ts). */
export interface NoticeListener {
  /**
   * Sends a marker notice on the channel: whether it was sent (false when the table has not every
   * change-notice trigger, enabled always). Rejects while the listener is not listening.
   */
  sendMarker(payload: string): Promise<boolean>;
  /** Stops listening and ends the connection the listener opened. */
  close(): Promise<void>;
}

export interface ListenSettings {
  readonly channel: string;
  /** The session table, qualified, for the marker's check of its triggers. */
  readonly table: string;
  /** $1 channel, $2 payload, $3 the table: sends a marker notice while the table's triggers fire (change-notices.ts). */
  readonly markerText: string;
  readonly events: NoticeEvents;
}

export const THROUGH_POOLER =
  'the listening connection goes through a pooler or proxy (its server process is not the one it was given at start): LISTEN cannot be trusted through one (PgBouncer in transaction mode loses notices)';

/** Runs the marker statement through a driver's query function: whether it sent the notice. */
export async function sendMarkerWith(
  query: (text: string, values: unknown[]) => Promise<readonly unknown[]>,
  { channel, table, markerText }: ListenSettings,
  payload: string,
): Promise<boolean> {
  return (await query(markerText, [channel, payload, table])).length > 0;
}
