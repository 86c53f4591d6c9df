import { ConnectionError, typeError } from '../errors.js';
import { type Deadline, untilDeadline } from '../time-limit.js';
import { backendKeyOf, sendCancelRequest } from './cancel.js';
import { explainConnectionError } from './connection-errors.js';
import { type Database, type Row, withPreparedFallback } from './database.js';
import { createOwnedPgPool, loadPg, type OwnedPoolSettings, type PgQueryConfig, queryConfig } from './pg.js';

interface PipelinedClient {
  connect(): Promise<unknown>;
  query(config: PgQueryConfig): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  readonly processID?: number;
  /** pg's socket, destroyed to abandon a pipeline stuck behind a statement out of time (as pg does). */
  readonly connection?: { readonly stream?: { destroy(): void } };
}

const ignore = () => {};

type PgWithClient = { Client: new (config: Record<string, unknown>) => PipelinedClient };

/**
 * `pipeline: true`: the store's quick statements (a row by primary key: get, set, touch, destroy)
 * go over one connection in pg's pipeline mode, so that statements of concurrent requests are
 * sent without waiting for each other's answers; PostgreSQL then serves them from one backend,
 * with far fewer wake-ups than one connection per statement. Everything else (pruning, counting,
 * table checks) goes over a pool of one connection beside it, so that a long statement never
 * holds up the quick ones.
 *
 * A lost connection is replaced on the next statement. A statement out of time ends its
 * connection (see `expired`); the next statement opens a new one.
 */
export function createPipelinedPg(settings: OwnedPoolSettings): Database {
  const pg = loadPg<PgWithClient>();
  if (!hasPipelineMode(pg)) {
    throw typeError(
      'ERR_INVALID_OPTION',
      'connect-pg-simple: option "pipeline" needs pg 8.23 or later (its pipeline mode): npm install pg@latest',
    );
  }
  const side = createOwnedPgPool({ ...settings, config: { ...settings.config, max: 1 } });
  let closing: Promise<void> | undefined;
  /** The pipelined connection, once asked for: replaced when it is lost or abandoned. */
  let current: Connection | undefined;
  /** The end, on the server, of the last abandoned connection: the next one waits for it. */
  let terminating: Promise<void> = Promise.resolve();

  const connect = (): Promise<PipelinedClient> => {
    if (current !== undefined) return current.ready;
    const client = new pg.Client({
      connectionTimeoutMillis: settings.connectTimeoutMs,
      application_name: 'connect-pg-simple pipeline',
      ...settings.config,
      pipeline: true,
    });
    const entry: Connection = { client, ready: Promise.resolve(client), open: false, abandoned: false };
    const forget = () => {
      if (current === entry) current = undefined;
    };
    client.on('error', (error) => {
      forget();
      if (!entry.abandoned) settings.onError(error);
    });
    client.on('end', forget);
    entry.ready = terminating
      .then(() => client.connect())
      .then(() => identify(client))
      .then(
        (backend) => {
          entry.backend = backend;
          entry.open = true;
          return client;
        },
        (error: unknown) => {
          forget();
          entry.abandoned = true;
          client.connection?.stream?.destroy();
          throw explainConnectionError(error, client);
        },
      );
    current = entry;
    return entry.ready;
  };

  /**
   * A statement out of time ends its connection, on the server too: the statements pipelined
   * behind it are in the server's socket buffer already, and closing our end alone could let
   * them run later (after their callers were told they failed). A cancel request stops the
   * statement that runs; the backend itself is terminated from a connection of its own, found by
   * its process id and start time (so that no other backend can be hit), and the next
   * connection is opened only once that is done (or `graceMs` has passed). The statements queued
   * on the abandoned connection fail with it.
   */
  const expired = (entry: Connection) => {
    if (entry.abandoned) return;
    entry.abandoned = true;
    if (current === entry) current = undefined;
    const key = backendKeyOf(entry.client);
    if (key !== undefined) void sendCancelRequest(key, settings.graceMs);
    entry.client.connection?.stream?.destroy();
    if (entry.backend !== undefined) {
      const done = terminate(pg, settings, entry.backend);
      terminating = Promise.race([done, delay(settings.graceMs)]);
    }
  };

  /** Sends a statement, its config made once the connection is at hand (see `valuesNow`). */
  const send = (entry: Connection, config: () => PgQueryConfig, deadline: Deadline | undefined) => {
    const running = entry.client.query(config());
    return deadline === undefined ? running : untilDeadline(running, deadline, () => expired(entry));
  };

  const pipelined = withPreparedFallback(
    settings.prepare,
    (statement, values, named, deadline) => {
      const config = () => queryConfig(statement, values, named);
      if (current?.open === true) return send(current, config, deadline);
      return untilDeadline(connect(), deadline).then(() =>
        current?.open === true
          ? send(current, config, deadline)
          : Promise.reject(new ConnectionError(LOST, undefined, 'ERR_CONNECTION_LOST')),
      );
    },
    settings.onFallback,
  );

  return {
    query: (statement, values, deadline): Promise<Row[]> =>
      statement.quick === true ? pipelined(statement, values, deadline) : side.query(statement, values, deadline),
    close: () => {
      closing ??= (async () => {
        const entry = current;
        current = undefined;
        if (entry !== undefined) {
          entry.abandoned = true;
          // A connection still being opened is not waited for: it may never answer.
          if (entry.open) await entry.client.end().catch(ignore);
          else entry.client.connection?.stream?.destroy();
        }
        await side.close();
      })();
      return closing;
    },
  };
}

const LOST = 'the pipelined connection was lost before the statement could be sent';

interface Connection {
  readonly client: PipelinedClient;
  ready: Promise<PipelinedClient>;
  open: boolean;
  /** Ended by the store (out of time, or closing): its errors are expected, not logged. */
  abandoned: boolean;
  /** Its backend, when it can be told apart from any other (not behind a pooler). */
  backend?: Backend;
}

interface Backend {
  readonly pid: number;
  readonly started: string;
}

/** pg before 8.23 ignores the setting and would queue the statements one at a time. */
function hasPipelineMode(pg: PgWithClient): boolean {
  try {
    return (new pg.Client({ pipeline: true }) as { pipeline?: unknown }).pipeline === true;
  } catch {
    // The probe reads the PG* environment, which may be wrong; the real connection will say so.
    return true;
  }
}

/**
 * The backend behind a new connection. Behind a pooler, the process id the connection was given
 * is not the backend's: then there is nothing this store may safely terminate.
 */
async function identify(client: PipelinedClient): Promise<Backend | undefined> {
  let row: { pid?: unknown; started?: unknown } | undefined;
  try {
    const result = (await client.query({
      text: 'SELECT pg_backend_pid() AS pid, backend_start::text AS started FROM pg_stat_activity WHERE pid = pg_backend_pid()',
      values: [],
    })) as { rows?: { pid?: unknown; started?: unknown }[] };
    row = result.rows?.[0];
  } catch {
    // Without it, the store cannot terminate the backend: cancelling and closing still work.
    return undefined;
  }
  const key = backendKeyOf(client);
  if (row === undefined || key === undefined || row.pid !== key.processID || typeof row.started !== 'string') {
    return undefined;
  }
  return { pid: key.processID, started: row.started };
}

/** Terminates one backend from a connection of its own; never rejects. */
async function terminate(pg: PgWithClient, settings: OwnedPoolSettings, backend: Backend): Promise<void> {
  const client = new pg.Client({
    ...settings.config,
    connectionTimeoutMillis: settings.graceMs,
    application_name: 'connect-pg-simple terminate',
  });
  client.on('error', ignore);
  try {
    await client.connect();
    await client.query({
      text: 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1::int AND backend_start = $2::timestamptz',
      values: [backend.pid, backend.started],
    });
  } catch {
    // Best effort: the cancel request and the closed socket have been sent already.
  } finally {
    client.connection?.stream?.destroy();
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
