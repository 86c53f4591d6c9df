import { PERCENT_ENCODE } from '../connection-string.js';
import { ConnectionError, ConnectTimeoutError, OperationTimeoutError } from '../errors.js';

/**
 * Errors of the connection phase, told as what went wrong and what to do: a table of the driver
 * errors the store explains (EXPLAINED). An explained error keeps the driver's error as its
 * `cause`, and its `code`.
 */

/** Where a connection goes and as whom, for messages: never the password. */
interface ConnectionTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string | undefined;
  readonly database: string | undefined;
  readonly connectionString: string | undefined;
  /** Nothing named the database (no settings, no PG* variables): pg used its defaults. */
  readonly unnamed: boolean;
  /** Known to have been given no password (postgres.js then sends an empty one, which the server refuses). */
  readonly noPassword?: boolean;
}

const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * Where a pg pool or client, or a postgres.js `sql`, connects, as the driver resolves it
 * (connection string, options, PG* variables); undefined for anything else.
 */
function connectionTargetOf(poolOrClient: unknown): ConnectionTarget | undefined {
  if (typeof poolOrClient === 'function') return postgresJsTargetOf(poolOrClient);
  const p = poolOrClient as {
    connectionParameters?: PgParameters;
    connectionString?: unknown;
    options?: Record<string, unknown>;
    Client?: new (options: unknown) => { connectionParameters?: PgParameters };
  } | null;
  let parameters = p?.connectionParameters;
  if (parameters === undefined && typeof p?.Client === 'function' && p.options !== undefined) {
    try {
      parameters = new p.Client(p.options).connectionParameters;
    } catch {
      return undefined;
    }
  }
  if (parameters === undefined) return undefined;
  return {
    host: text(parameters.host) ?? 'localhost',
    port: Number(parameters.port ?? 5432),
    user: text(parameters.user),
    database: text(parameters.database),
    connectionString: text(p?.options?.connectionString ?? p?.connectionString),
    unnamed: p?.options !== undefined && namesNoDatabase(p.options, process.env),
  };
}

/** A postgres.js `sql` keeps what it resolved in `options`: hosts and ports as lists, the password as `pass`. */
function postgresJsTargetOf(sql: unknown): ConnectionTarget | undefined {
  const options = (sql as { options?: Record<string, unknown> }).options;
  if (options === undefined || !Array.isArray(options.host)) return undefined;
  const port = Array.isArray(options.port) ? options.port[0] : options.port;
  return {
    host: text(options.host[0]) ?? 'localhost',
    port: Number(port ?? 5432),
    user: text(options.user),
    database: text(options.database),
    connectionString: undefined,
    unnamed: false,
    noPassword: options.pass === undefined || options.pass === null || options.pass === '',
  };
}

interface PgParameters {
  host?: unknown;
  port?: unknown;
  user?: unknown;
  database?: unknown;
}

const PG_VARIABLES = ['PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE', 'PGSERVICE'];
const CONNECTION_SETTINGS = ['connectionString', 'host', 'port', 'user', 'database'];

/**
 * Settings that name no server, user or database, and no PG* variable either: pg falls back to
 * localhost, the operating system's user name, and a database of that name.
 */
export function namesNoDatabase(settings: Record<string, unknown>, env: NodeJS.ProcessEnv): boolean {
  return !CONNECTION_SETTINGS.some((name) => settings[name] !== undefined) && !PG_VARIABLES.some((name) => env[name]);
}

/** What to do when nothing named the database. */
const NAME_THE_DATABASE =
  "no connection settings were given, so pg used its defaults (localhost, your operating system user name, and a database of that name): name it with a connection string, postgres://user@host:port/database (the password after the user name, user:password@, when the server asks for one): in DATABASE_URL for a store or CLI that connects by itself, else in the pool's connectionString";

/** A password with `/` or `?` cuts the URL short: the user name becomes the host, the rest a path or query. */
function looksCutShort(connectionString: string | undefined): boolean {
  if (connectionString === undefined) return false;
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)(.*)$/is.exec(connectionString);
  return authority !== null && !authority[1]!.includes('@') && authority[2]!.includes('@');
}

/** `user "alice", database "app" at db.example.com:5432`: what a connection tried, never its password. */
function triedConnection(target: ConnectionTarget | undefined): string {
  if (target === undefined) return 'the database server';
  const as = target.user === undefined ? '' : `user "${target.user}", `;
  const to = target.database === undefined ? '' : `database "${target.database}" `;
  return `${as}${to}at ${target.host}:${target.port}`;
}

/** The connect time limit of a pg pool or client, if it has one. */
function connectTimeoutOf(poolOrClient: unknown): number | undefined {
  const p = poolOrClient as {
    options?: { connectionTimeoutMillis?: unknown; connect_timeout?: unknown };
    _connectionTimeoutMillis?: unknown;
  };
  const seconds = p?.options?.connect_timeout; // postgres.js
  const ms =
    p?.options?.connectionTimeoutMillis ??
    p?._connectionTimeoutMillis ??
    (typeof seconds === 'number' ? seconds * 1000 : undefined);
  return typeof ms === 'number' && ms > 0 ? ms : undefined;
}

/** What an explanation is told of the failed connection. */
interface Failure {
  readonly message: string;
  readonly code: string | undefined;
  readonly target: ConnectionTarget | undefined;
  /** `db.example.com:5432`, or "the database server". */
  readonly at: string;
  /** See triedConnection. */
  readonly tried: string;
  /** ` within 3000 ms` when a connect time limit is known, else empty. */
  readonly within: string;
  /** `; ` and NAME_THE_DATABASE when nothing named the database, else empty. */
  readonly orName: string;
}

/** One driver error the store explains: which (by its message or SQLSTATE), and what it says instead. */
interface Explained {
  readonly matches: (message: string, code: string | undefined) => boolean;
  /** The explained error's code; undefined: the driver error's own. */
  readonly code?: string;
  /** A connect that took too long: a ConnectTimeoutError rather than a ConnectionError. */
  readonly timeout?: true;
  readonly say: (failure: Failure) => string;
}

/** pg's connect timeout and pg-pool's around it; pg-pool's wait for a free connection. */
const CONNECT_TIMEOUTS = ['timeout expired', 'Connection terminated due to connection timeout'];
/** pg's SCRAM exchange, when the server asks for a password and none was given. */
const NO_PASSWORD = /client password must be a string/;
/** SQLSTATEs of a login the server refused: no such role (or no user name), wrong password, no such database. */
const INVALID_AUTHORIZATION = '28000';
const INVALID_PASSWORD = '28P01';
const INVALID_CATALOG_NAME = '3D000';

/** The driver errors of the connection phase, first match wins. */
const EXPLAINED: readonly Explained[] = [
  {
    matches: (message) => message === 'The server does not support SSL connections',
    code: 'ERR_SSL_UNSUPPORTED',
    say: ({ at }) =>
      `${at} does not accept SSL connections: connect without SSL (remove "ssl" or "sslmode" from the connection settings), or turn SSL on in the server`,
  },
  {
    matches: (message) => CONNECT_TIMEOUTS.includes(message),
    timeout: true,
    say: ({ at, within, orName }) =>
      `could not connect to ${at}${within}: is the server up, and is that its address? (a firewall that drops packets looks the same)${orName}`,
  },
  {
    // postgres.js: its connect_timeout passed before the server answered the login.
    matches: (_, code) => code === 'CONNECT_TIMEOUT',
    timeout: true,
    say: ({ message, at, within }) =>
      `could not connect to ${/CONNECT_TIMEOUT (\S+)$/.exec(message)?.[1] ?? at}${within}: is the server up, and is that its address? (a firewall that drops packets looks the same) If this keeps coming after a restart or a failover while the server lets other connections in, postgres.js 3.x may hold a connection that no longer sends its login: end the sql instance and make a new one (see "Failover" in docs/scaling.md)`,
  },
  {
    matches: (message) => message === 'timeout exceeded when trying to connect',
    timeout: true,
    say: ({ within }) =>
      `no connection of the pool was free${within}: the server did not answer, or all of the pool's connections stayed busy (raise "max", or look for connections never released)`,
  },
  {
    matches: (_, code) => code === 'ECONNREFUSED',
    say: ({ at, orName }) =>
      `could not connect to ${at}: connection refused (ECONNREFUSED); is PostgreSQL running there?${orName}`,
  },
  {
    matches: (_, code) => code === 'ENOTFOUND' || code === 'EAI_AGAIN',
    say: ({ target, code }) =>
      `could not find the host "${target?.host ?? '?'}" (${code}): ${
        looksCutShort(target?.connectionString)
          ? `the connection string seems cut short by a character of its password: ${PERCENT_ENCODE}`
          : 'check the host name'
      }`,
  },
  {
    matches: (message, code) => NO_PASSWORD.test(message) || code === INVALID_PASSWORD,
    code: INVALID_PASSWORD,
    say: ({ message, target, tried, orName }) =>
      NO_PASSWORD.test(message) || target?.noPassword === true
        ? `the server asks for a password and none was given (${tried}): put it in the connection string (postgres://${target?.user ?? '?'}:PASSWORD@host:port/database, percent-encoded), in conObject's "password", or in PGPASSWORD${orName}`
        : `the server refused the password (${tried}): check the password, and that the user exists${orName}`,
  },
  {
    matches: (_, code) => code === INVALID_CATALOG_NAME,
    say: ({ target, tried }) => {
      const database = target?.database ?? '?';
      const fix = target?.unnamed
        ? NAME_THE_DATABASE
        : `create it (createdb ${database}, or CREATE DATABASE "${database}"), or name another one in the connection settings`;
      return `the database "${database}" does not exist (${tried}): ${fix}`;
    },
  },
  {
    // The server's pg_hba.conf matched no line for this host, user and database.
    matches: (message, code) => code === INVALID_AUTHORIZATION && /no pg_hba\.conf entry/.test(message),
    say: ({ message, tried }) =>
      `the server's pg_hba.conf has no line that lets this connection in (${tried}, from this machine's address): add one for this user, database and address to pg_hba.conf on the server and reload it (SELECT pg_reload_conf()), or connect as a user and to a database it lets in${
        /no encryption/.test(message)
          ? ' (if its lines for this server are "hostssl", connect with SSL: sslmode=require)'
          : ''
      }`,
  },
  {
    matches: (message, code) =>
      code === INVALID_AUTHORIZATION && /does not exist|no PostgreSQL user name/.test(message),
    say: ({ target, tried }) => {
      const fix = target?.unnamed
        ? NAME_THE_DATABASE
        : `connect as a user that exists (the user name in the connection settings), or create it: CREATE ROLE "${target?.user ?? '?'}" LOGIN PASSWORD '...'`;
      const what = target?.user === undefined ? 'no user name was given' : `the user "${target.user}" does not exist`;
      return `${what} (${tried}): ${fix}`;
    },
  },
];

/**
 * The error of a statement sent through a pg pool or client (or a postgres.js `sql`), explained
 * when it is one of the connection phase's; any other error as it was. For the error path only:
 * it reads the pool's settings each time.
 */
export function explainConnectionError(
  error: unknown,
  poolOrClient: unknown,
  /** For a pg.Client, which keeps no settings: whether they named nothing (see namesNoDatabase). */
  unnamed?: boolean,
): unknown {
  if (error instanceof ConnectionError) return error;
  const raw = error as { message?: unknown; code?: unknown } | null;
  const message = typeof raw?.message === 'string' ? raw.message : '';
  const code = typeof raw?.code === 'string' ? raw.code : undefined;
  const explanation = EXPLAINED.find((each) => each.matches(message, code));
  if (explanation === undefined) return error;
  const found = connectionTargetOf(poolOrClient);
  const target = found === undefined || unnamed === undefined ? found : { ...found, unnamed };
  const connectTimeoutMs = connectTimeoutOf(poolOrClient);
  const said = explanation.say({
    message,
    code,
    target,
    at: target === undefined ? 'the database server' : `${target.host}:${target.port}`,
    tried: triedConnection(target),
    within: connectTimeoutMs === undefined ? '' : ` within ${connectTimeoutMs} ms`,
    orName: target?.unnamed ? `; ${NAME_THE_DATABASE}` : '',
  });
  return explanation.timeout
    ? new ConnectTimeoutError(said, error)
    : // An explanation without a code of its own matches on the driver's.
      new ConnectionError(said, error, (explanation.code ?? code)!);
}

/**
 * An operation out of time while it waited for a connection from a pg.Pool: when it was not
 * queued behind busy connections (the pool had room, so it was opening one), the server did not
 * answer, and the error says so: the same TimeoutError, with the reason.
 */
export function explainWaitForConnection(expired: OperationTimeoutError, pool: unknown): OperationTimeoutError {
  const waiting = (pool as { waitingCount?: unknown } | null)?.waitingCount;
  if (waiting !== 0) return expired;
  const target = connectionTargetOf(pool);
  const at = target === undefined ? 'the database server' : `${target.host}:${target.port}`;
  return new OperationTimeoutError(
    expired.what,
    expired.timeoutMs,
    `could not connect to ${at} in that time; is the server up, and is that its address?`,
  );
}
