import { randomUUID } from 'node:crypto';
import type { Statement } from '../sql.js';
import { type Deadline, untilDeadline } from '../time-limit.js';
import { backendKeyOf, sendCancelRequest } from './cancel.js';
import { type Database, type Row, withPreparedFallback } from './database.js';
import { createOwnedPgPool, loadPg, type OwnedPoolSettings } from './pg.js';

interface PipelinedClient {
  connect(): Promise<unknown>;
  query(config: { name?: string; text: string; values: unknown[] }): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  /** The unique application_name this store gave the connection. */
  readonly applicationName?: string;
  /** pg's socket, destroyed to abandon a pipeline stuck behind a statement out of time (as pg does). */
  readonly connection?: { readonly stream?: { destroy(): void } };
}

const ignore = () => {};

const terminateStatement: Statement = {
  name: '',
  text: 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1::int AND application_name = $2::text',
};

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
  // pg before 8.23 ignores the setting and would queue the statements one at a time.
  if ((new pg.Client({ pipeline: true }) as { pipeline?: unknown }).pipeline !== true) {
    throw new TypeError(
      'connect-pg-simple: option "pipeline" needs pg 8.23 or later (its pipeline mode): npm install pg@latest',
    );
  }
  const side = createOwnedPgPool({ ...settings, config: { ...settings.config, max: 1 } });
  let closing: Promise<void> | undefined;
  /** The pipelined connection, once asked for: replaced when it is lost or abandoned. */
  let current: { client: PipelinedClient; ready: Promise<PipelinedClient>; open: boolean } | undefined;

  const connect = (): Promise<PipelinedClient> => {
    if (current !== undefined) return current.ready;
    const applicationName = `connect-pg-simple pipeline ${randomUUID()}`;
    const client = Object.assign(
      new pg.Client({
        connectionTimeoutMillis: settings.connectTimeoutMs,
        ...settings.config,
        application_name: applicationName,
        pipeline: true,
      }),
      { applicationName },
    );
    const entry = { client, ready: Promise.resolve(client), open: false };
    const forget = () => {
      if (current === entry) current = undefined;
    };
    client.on('error', (error) => {
      forget();
      settings.onError(error);
    });
    client.on('end', forget);
    entry.ready = client.connect().then(
      () => {
        entry.open = true;
        return client;
      },
      (error: unknown) => {
        forget();
        throw error;
      },
    );
    current = entry;
    return entry.ready;
  };

  /**
   * A statement out of time ends its connection, on the server too: the statements pipelined
   * behind it are in the server's socket buffer already, and closing our end alone would let
   * them run later (after their callers were told they failed). The backend is terminated
   * through the side pool, found by the connection's own application_name so that no other
   * backend can be hit (behind a pooler the name does not match and nothing is terminated);
   * a cancel request stops its statement meanwhile. The statements queued on it fail with it.
   */
  const expired = (client: PipelinedClient, name: string) => {
    if (current?.client === client) current = undefined;
    const key = backendKeyOf(client);
    if (key !== undefined) {
      void sendCancelRequest(key, settings.graceMs);
      side.query(terminateStatement, [key.processID, name]).catch(ignore);
    }
    client.connection?.stream?.destroy();
  };

  type Config = { name?: string; text: string; values: unknown[] };
  const send = (client: PipelinedClient, config: Config, deadline: Deadline | undefined) => {
    const running = client.query(config);
    return deadline === undefined
      ? running
      : untilDeadline(running, deadline, () => expired(client, client.applicationName ?? ''));
  };

  const pipelined = withPreparedFallback(settings.prepare, (statement: Statement, values, named, deadline) => {
    const config: Config = named
      ? { name: statement.name, text: statement.text, values: values as unknown[] }
      : { text: statement.text, values: values as unknown[] };
    if (current?.open === true) return send(current.client, config, deadline);
    return untilDeadline(connect(), deadline).then((client) => send(client, config, deadline));
  });

  return {
    query: (statement, values, deadline): Promise<Row[]> =>
      statement.quick === true ? pipelined(statement, values, deadline) : side.query(statement, values, deadline),
    close: () => {
      closing ??= (async () => {
        const entry = current;
        current = undefined;
        const client = await entry?.ready.catch(() => undefined);
        await Promise.all([client?.end().catch(() => {}), side.close()]);
      })();
      return closing;
    },
  };
}
