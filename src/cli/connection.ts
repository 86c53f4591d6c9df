import { connectionStringProblem } from '../connection-string.js';
import { explainConnectionError, namesNoDatabase } from '../drivers/connection-errors.js';
import type { Database } from '../drivers/database.js';
import { fromPgPool, type PgPoolLike } from '../drivers/pg.js';
import { describeError, OperationalError } from './errors.js';

export interface Connection {
  readonly db: Database;
  close(): Promise<void>;
}

interface PgClient extends PgPoolLike {
  connect(): Promise<void>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): void;
}

type PgModule = { Client: new (config: Record<string, unknown>) => PgClient };

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** libpq's PGCONNECT_TIMEOUT (seconds), else 10 s. */
function connectTimeoutMs(env: NodeJS.ProcessEnv): number {
  const seconds = Number(env.PGCONNECT_TIMEOUT);
  return Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds * 1000) : DEFAULT_CONNECT_TIMEOUT_MS;
}

/** The passwords a connection URL and the environment hold: never to be printed. */
export function secretsOf(url: string | undefined, env: NodeJS.ProcessEnv): string[] {
  const secrets = [env.PGPASSWORD ?? ''];
  // Up to the last @ before the host: pg reads an unencoded @ in a password as part of it.
  const password = url?.match(/^[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:([^/?#\s]*)@[^@/?#\s]*(?:[/?#]|$)/i)?.[1];
  if (password) {
    secrets.push(password);
    try {
      secrets.push(decodeURIComponent(password));
    } catch {}
  }
  return secrets.filter((s) => s.length > 0);
}

function loadPg(): PgModule {
  try {
    return require('pg') as PgModule;
  } catch {
    throw new OperationalError('the CLI needs the "pg" package, an optional peer dependency: npm install pg');
  }
}

/** A postgres:// URL, or a Unix socket directory (`/var/run/postgresql dbname`), as pg takes them. */
function checkUrl(url: string): void {
  if (!/^postgres(ql)?:\/\//i.test(url) && !url.startsWith('/')) {
    throw new OperationalError('the connection string is not a postgres:// or postgresql:// URL');
  }
  const problem = connectionStringProblem(url);
  if (problem !== undefined) throw new OperationalError(problem);
}

/** One connection (pg's Client) for one command. Without a URL, pg reads the PG* variables. */
export async function connect(url: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Connection> {
  const pg = loadPg();
  if (url !== undefined) checkUrl(url);
  let client: PgClient;
  try {
    client = new pg.Client({
      ...(url === undefined ? {} : { connectionString: url }),
      application_name: 'connect-pg-simple',
      connectionTimeoutMillis: connectTimeoutMs(env),
    });
  } catch {
    // pg parses the URL here; its error may quote the URL, so it is not passed on.
    throw new OperationalError('the connection URL is not valid');
  }
  // A connection that breaks later surfaces through the query in flight.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    // Without a URL, pg falls back to the PG* variables and then to its defaults (localhost, the OS user).
    const unnamed = url === undefined && namesNoDatabase({}, env);
    const explained = explainConnectionError(error, client, unnamed);
    // An explanation that does not say so already (a refused connection, say) gets the hint.
    const hint =
      unnamed && !String((explained as { message?: unknown }).message).includes('DATABASE_URL')
        ? ' (no database was named: give --url postgres://user@host:port/database, or set DATABASE_URL)'
        : '';
    throw new OperationalError(`cannot connect to the database: ${describeError(explained, [])}${hint}`);
  }
  return { db: fromPgPool(client, { prepare: false }), close: () => client.end() };
}
