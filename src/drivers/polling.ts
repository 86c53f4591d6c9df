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

type Rows = readonly Record<string, unknown>[];

/** How a driver opens, queries and ends one polling connection `C`. */
export interface PollingDriver<C> {
  /** Opens a connection and checks that it reaches the server itself (else PollingUnusable). */
  open(): Promise<C>;
  query(connection: C, text: string, values: readonly unknown[]): Promise<Rows>;
  end(connection: C): Promise<unknown>;
}

/**
 * A PollConnection over one driver's connections: opened on the first query, and ended after a
 * failed one, so that the next query opens another (a connection whose `open` failed is the
 * driver's to end, in `open`).
 */
export function reopeningConnection<C>(driver: PollingDriver<C>): PollConnection {
  let connection: Promise<C> | undefined;
  const reset = async () => {
    const current = connection;
    connection = undefined;
    const opened = await current?.catch(() => undefined);
    if (opened !== undefined) await driver.end(opened).catch(() => {});
  };
  return {
    async query(text, values) {
      connection ??= driver.open();
      try {
        return await driver.query(await connection, text, values);
      } catch (error) {
        await reset();
        throw error;
      }
    },
    reset,
  };
}
