/** A PostgreSQL server of our own, for tests (see embedded-postgres.mjs). */
export interface EmbeddedPostgres {
  /** A connection string for its database (loopback only; with the password, when one was given). */
  readonly url: string;
  /** Starts it again after `stop()`, with its data. */
  start(): Promise<void>;
  /** Fast shutdown (SIGINT): sessions are terminated, as in a restart or failover. Keeps the data. */
  stop(): Promise<void>;
  /** Stops it for good and deletes its files. */
  destroy(): Promise<void>;
}

export function freePort(): Promise<number>;
/** `password`: SCRAM password authentication for the user `postgres` (and every other), instead of trust. */
export function startEmbeddedPostgres(options?: { database?: string; password?: string }): Promise<EmbeddedPostgres>;
