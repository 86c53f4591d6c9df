import { ConnectionError, typeError } from '../errors.js';
import type { Statement } from '../sql.js';
import { type Deadline, untilDeadline } from '../time-limit.js';
import { backendKeyOf, sendCancelRequest } from './cancel.js';
import { explainConnectionError } from './connection-errors.js';
import { type Database, type Row, withPreparedFallback } from './database.js';
import {
  createOwnedPgPool,
  loadPg,
  type OwnedPoolSettings,
  type PgCallback,
  type PgQueryClass,
  pgQuery,
} from './pg.js';

interface PipelinedClient {
  connect(): Promise<unknown>;
  query(query: object): unknown;
  query(config: { text: string; values: unknown[] }): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  /** pg's socket, destroyed to abandon a pipeline stuck behind a statement out of time (as pg does). */
  readonly connection?: { readonly stream?: { destroy(): void } };
}

type PgWithClient = {
  Client: new (config: Record<string, unknown>) => PipelinedClient;
  Query: PgQueryClass;
};

const ignore = () => {};

/**
 * A pipelined connection whose oldest statement has gone this long without an answer is held up
 * (a lock, a slow commit): new statements go to another connection. Bounds what queues behind a
 * slow statement to what the process sends in this time.
 */
const HELD_UP_MS = 50;

/** Pipelined connections at most, unless `conObject.max` says otherwise. */
const DEFAULT_MAX_PIPELINED = 4;

/**
 * The store's own connections, quick statements pipelined (the default with `conString`,
 * `conObject`, `DATABASE_URL` and a time limit): a row by primary key (get, set, touch, destroy)
 * goes over a connection in pg's pipeline mode, so that statements of concurrent requests are sent
 * without waiting for each other's answers, and PostgreSQL serves them from one backend with far
 * fewer wake-ups than one connection per statement. Everything else (pruning, counting, table
 * checks) goes over a pool of one connection beside it, so that a long statement never holds up
 * the quick ones.
 *
 * Head of line: statements go to the first connection that is not held up (see HELD_UP_MS); when
 * every open one is, another is opened, up to `conObject.max` (default 4), and past that the one
 * with the fewest statements in flight takes it. A lost connection is forgotten; a statement out of
 * time ends its connection (see `expired`).
 *
 * Unless `required` (`pipeline: true`): undefined when pg has no pipeline mode (the caller opens a
 * pool instead), and behind a pooler, where the store could not end its own backend, a pool of
 * its own takes the quick statements from the first connection on.
 */
export function createPipelinedPg(settings: OwnedPoolSettings, required: boolean): Database | undefined {
  const pg = loadPg<PgWithClient>();
  if (!hasPipelineMode(pg)) {
    if (!required) return undefined;
    throw typeError(
      'ERR_INVALID_OPTION',
      'connect-pg-simple: option "pipeline" needs pg 8.23 or later (its pipeline mode): npm install pg@latest',
    );
  }
  const side = createOwnedPgPool({ ...settings, config: { ...settings.config, max: 1 } });
  const limit = maxPipelined(settings.config);
  /** The pipelined connections, open or opening, in the order statements prefer them. */
  const connections: Connection[] = [];
  let closing: Promise<void> | undefined;
  /** The end, on the server, of the last abandoned connection: a new one waits for it. */
  let terminating: Promise<void> = Promise.resolve();
  /** By default, behind a pooler (where the store cannot end its own backend): a pool in place of pipelines. */
  let pooled: Database | undefined;

  const forget = (entry: Connection) => {
    const index = connections.indexOf(entry);
    if (index !== -1) connections.splice(index, 1);
  };

  const open = (): Connection => {
    const client = new pg.Client({
      connectionTimeoutMillis: settings.connectTimeoutMs,
      application_name: 'connect-pg-simple pipeline',
      ...settings.config,
      pipeline: true,
    });
    const entry: Connection = {
      client,
      ready: Promise.resolve(),
      open: false,
      abandoned: false,
      inFlight: 0,
      since: 0,
    };
    client.on('error', (error) => {
      forget(entry);
      if (!entry.abandoned) settings.onError(error);
    });
    client.on('end', () => forget(entry));
    entry.ready = terminating
      .then(() => client.connect())
      .then(() => identify(client))
      .then(
        (backend) => {
          if (entry.abandoned) return; // closed meanwhile
          if (backend === undefined && !required) {
            // Behind a pooler: a statement out of time could not be stopped from letting those
            // queued behind it run later. By default, then, a pool instead.
            entry.abandoned = true;
            forget(entry);
            pooled ??= createOwnedPgPool(settings);
            void client.end().catch(ignore);
            return;
          }
          entry.backend = backend;
          entry.open = true;
        },
        (error: unknown) => {
          forget(entry);
          entry.abandoned = true;
          client.connection?.stream?.destroy();
          throw explainConnectionError(error, client);
        },
      );
    connections.push(entry);
    return entry;
  };

  /** The first connection not held up; else a new one, while there is room; else the least busy. */
  const choose = (): Connection => {
    const now = performance.now();
    let leastBusy: Connection | undefined;
    for (const entry of connections) {
      if (entry.inFlight === 0 || now - entry.since < HELD_UP_MS) return entry;
      if (leastBusy === undefined || entry.inFlight < leastBusy.inFlight) leastBusy = entry;
    }
    return leastBusy === undefined || connections.length < limit ? open() : leastBusy;
  };

  /**
   * A statement out of time ends its connection, on the server too: the statements pipelined
   * behind it are in the server's socket buffer already, and closing our end alone could let
   * them run later (after their callers were told they failed). A cancel request stops the
   * statement that runs; the backend itself is terminated from a connection of its own, found by
   * its process id and start time (so that no other backend can be hit), and a new connection is
   * opened only once that is done (or `graceMs` has passed). The statements queued on the
   * abandoned connection fail with it.
   */
  const expired = (entry: Connection) => {
    if (entry.abandoned) return;
    entry.abandoned = true;
    forget(entry);
    const key = backendKeyOf(entry.client);
    if (key !== undefined) void sendCancelRequest(key, settings.graceMs);
    entry.client.connection?.stream?.destroy();
    if (entry.backend !== undefined) {
      const done = terminate(pg, settings, entry.backend);
      terminating = Promise.race([done, delay(settings.graceMs)]);
    }
  };

  /** Sends a statement on an open connection; out of time, it ends the connection (see `expired`). */
  const send = (
    entry: Connection,
    statement: Statement,
    values: readonly unknown[],
    named: boolean,
    deadline?: Deadline,
  ) =>
    new Promise<unknown>((resolve, reject) => {
      if (deadline !== undefined) {
        if (deadline.expired !== undefined) {
          reject(deadline.expired);
          return;
        }
        deadline.onExpire = () => {
          reject(deadline.expired);
          expired(entry);
        };
      }
      if (entry.inFlight++ === 0) entry.since = performance.now();
      const answered: PgCallback = (error, result) => {
        if (deadline !== undefined) deadline.onExpire = undefined;
        entry.inFlight -= 1;
        entry.since = performance.now();
        if (error) reject(error);
        else resolve(result);
      };
      entry.client.query(pgQuery(pg.Query, statement, values, named, answered));
    });

  const pipelined = withPreparedFallback(
    settings.prepare,
    (statement, values, named, deadline) => {
      const entry = choose();
      if (entry.open) return send(entry, statement, values, named, deadline);
      return untilDeadline(entry.ready, deadline).then(() => {
        if (pooled !== undefined) return pooled.query(statement, values, deadline);
        return entry.abandoned
          ? Promise.reject(new ConnectionError(LOST, undefined, 'ERR_CONNECTION_LOST'))
          : send(entry, statement, values, named, deadline);
      });
    },
    settings.onFallback,
  );

  return {
    query: (statement, values, deadline): Promise<Row[]> =>
      statement.quick !== true
        ? side.query(statement, values, deadline)
        : pooled !== undefined
          ? pooled.query(statement, values, deadline)
          : pipelined(statement, values, deadline),
    close: () => {
      closing ??= (async () => {
        const all = connections.splice(0);
        await Promise.all(
          all.map(async (entry) => {
            entry.abandoned = true;
            // A connection still being opened is not waited for: it may never answer.
            if (entry.open) await entry.client.end().catch(ignore);
            else entry.client.connection?.stream?.destroy();
          }),
        );
        await Promise.all([side.close(), pooled?.close()]);
      })();
      return closing;
    },
  };
}

const LOST = 'the pipelined connection was lost before the statement could be sent';

interface Connection {
  readonly client: PipelinedClient;
  ready: Promise<void>;
  open: boolean;
  /** Ended by the store (out of time, or closing): its errors are expected, not logged. */
  abandoned: boolean;
  /** Statements sent and not yet answered. */
  inFlight: number;
  /** When it last answered, or was sent a statement while it had none in flight (performance.now()). */
  since: number;
  /** Its backend, when it can be told apart from any other (not behind a pooler). */
  backend?: Backend;
}

interface Backend {
  readonly pid: number;
  readonly started: string;
}

function maxPipelined(config: Readonly<Record<string, unknown>>): number {
  const max = config.max;
  return typeof max === 'number' && Number.isInteger(max) && max >= 1 ? max : DEFAULT_MAX_PIPELINED;
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
