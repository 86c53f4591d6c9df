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

const THROUGH_POOLER =
  'the polling connection goes through a pooler or proxy (its server process is not the one it was given at start): a server restart would not end it, and the change log (unlogged) may have been emptied meanwhile';

type Rows = readonly Record<string, unknown>[];

/** How a driver opens, queries and ends one polling connection `C`. */
export interface PollingDriver<C> {
  /** Opens a connection (one whose open failed is the driver's to end). */
  open(): Promise<C>;
  query(connection: C, text: string, values: readonly unknown[]): Promise<Rows>;
  /**
   * The server process id the connection was given at start, as the driver read it (with `rows`,
   * a query's answer): null when it was given none (it cannot be told to reach the server itself),
   * undefined when the driver does not say.
   */
  givenProcessId(connection: C, rows: Rows): number | null | undefined;
  end(connection: C): Promise<unknown>;
}

/**
 * A PollConnection over one driver's connections: opened on the first query, and ended after a
 * failed one, so that the next query opens another. A connection must reach the server itself:
 * behind a pooler or proxy (the server's process is not the one the connection was given at
 * start), it is ended and the poller told PollingUnusable.
 */
export function reopeningConnection<C>(driver: PollingDriver<C>): PollConnection {
  let connection: Promise<C> | undefined;
  const openChecked = async () => {
    const opened = await driver.open();
    try {
      const rows = await driver.query(opened, 'SELECT pg_backend_pid() AS pid', []);
      const given = driver.givenProcessId(opened, rows);
      if (given !== undefined && Number(rows[0]?.pid) !== given) throw new PollingUnusable(THROUGH_POOLER);
    } catch (error) {
      driver.end(opened).catch(() => {});
      throw error;
    }
    return opened;
  };
  const reset = async () => {
    const current = connection;
    connection = undefined;
    const opened = await current?.catch(() => undefined);
    if (opened !== undefined) await driver.end(opened).catch(() => {});
  };
  return {
    async query(text, values) {
      connection ??= openChecked();
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
