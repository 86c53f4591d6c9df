/**
 * A connection of the trusted read cache's own, straight to the server, for its polls of the
 * change log (see cache-trust.ts). It is opened on the first query, and opened anew on the next
 * query after one failed: the poller starts a new epoch then, and by the server process each poll
 * names, also when a driver reconnected on its own.
 */
export interface PollConnection {
  /** One statement's rows; rejects when the connection fails (then it is closed). */
  query(text: string, values: readonly unknown[]): Promise<readonly Record<string, unknown>[]>;
  /** Ends the connection; the next query opens another. */
  reset(): Promise<void>;
}

/** A connection that cannot be used to poll (and no other like it could). */
export class PollingUnusable extends Error {}

export const THROUGH_POOLER =
  'the polling connection goes through a pooler or proxy (its server process is not the one it was given at start): a server restart would not end it, and the change log (unlogged) may have been emptied meanwhile';
