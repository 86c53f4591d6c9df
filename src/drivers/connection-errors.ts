import { ConnectionError, ConnectTimeoutError, OperationTimeoutError } from '../errors.js';

/**
 * Errors of the connection phase, told as what went wrong and what to do. An explained error
 * keeps the driver's error as its `cause`, and its `code`.
 */

/** Where a connection goes and as whom, for messages: never the password. */
export interface ConnectionTarget {
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

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : '';
}

/**
 * Where a pg pool or client, or a postgres.js `sql`, connects, as the driver resolves it
 * (connection string, options, PG* variables); undefined for anything else. Called on the error
 * path only.
 */
export function connectionTargetOf(
  poolOrClient: unknown,
  env: NodeJS.ProcessEnv = process.env,
): ConnectionTarget | undefined {
  if (typeof poolOrClient === 'function') return postgresJsTargetOf(poolOrClient);
  const p = poolOrClient as {
    connectionParameters?: PgParameters;
    options?: Record<string, unknown>;
    Client?: new (options: unknown) => { connectionParameters?: PgParameters };
  } | null;
  let parameters = p?.connectionParameters;
  let connectionString: unknown = p?.options?.connectionString;
  if (parameters === undefined && typeof p?.Client === 'function' && p.options !== undefined) {
    try {
      parameters = new p.Client(p.options).connectionParameters;
    } catch {
      return undefined;
    }
  }
  if (parameters === undefined) return undefined;
  connectionString ??= (poolOrClient as { connectionString?: unknown }).connectionString;
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  return {
    host: text(parameters.host) ?? 'localhost',
    port: Number(parameters.port ?? 5432),
    user: text(parameters.user),
    database: text(parameters.database),
    connectionString: text(connectionString),
    unnamed: p?.options !== undefined && namesNoDatabase(p.options, env),
  };
}

/** A postgres.js `sql` keeps what it resolved in `options`: hosts and ports as lists, the password as `pass`. */
function postgresJsTargetOf(sql: unknown): ConnectionTarget | undefined {
  const options = (sql as { options?: Record<string, unknown> }).options;
  if (options === undefined || !Array.isArray(options.host)) return undefined;
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
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

/** `user "alice", database "app" at db.example.com:5432`: what a connection tried, never its password. */
export function triedConnection(target: ConnectionTarget | undefined): string {
  if (target === undefined) return 'the database server';
  const as = target.user === undefined ? '' : `user "${target.user}", `;
  const to = target.database === undefined ? '' : `database "${target.database}" `;
  return `${as}${to}at ${target.host}:${target.port}`;
}

/** What to do when nothing named the database. */
export const NAME_THE_DATABASE =
  "no connection settings were given, so pg used its defaults (localhost, your operating system user name, and a database of that name): name it with a connection string, postgres://user@host:port/database (the password after the user name, user:password@, when the server asks for one): in DATABASE_URL for a store or CLI that connects by itself, else in the pool's connectionString";

const PERCENT_ENCODE = 'percent-encode it (encodeURIComponent: "#" as %23, "/" as %2F, "?" as %3F, "@" as %40)';

/**
 * A mistake in a postgres:// connection string that is sure to fail, told before any connect:
 * an unencoded `#` in the password (the rest of the URL becomes a fragment), or a URL that
 * cannot be read at all. The message never repeats the string.
 */
export function connectionStringProblem(text: string): string | undefined {
  if (!/^postgres(ql)?:\/\//i.test(text)) return undefined;
  const hash = text.indexOf('#');
  if (hash !== -1 && text.includes('@', hash)) {
    return `the password (or user name) in the connection string holds a "#": ${PERCENT_ENCODE}`;
  }
  // pg reads connection strings with the URL parser, after encoding spaces and stray % signs.
  const fixed = / |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(text) ? encodeURI(text).replace(/%25(\d\d)/g, '%$1') : text;
  try {
    new URL(fixed.replace('@/', '@dummy/'));
  } catch {
    return `the connection string is not a valid URL; if the password holds "/", "?", "#" or ":", ${PERCENT_ENCODE}`;
  }
  return undefined;
}

/** A password with `/` or `?` cuts the URL short: the user name becomes the host, the rest a path or query. */
function looksCutShort(connectionString: string | undefined): boolean {
  if (connectionString === undefined) return false;
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)(.*)$/is.exec(connectionString);
  return authority !== null && !authority[1]!.includes('@') && authority[2]!.includes('@');
}

const SSL_UNSUPPORTED = 'The server does not support SSL connections';
/** pg's SCRAM exchange, when the server asks for a password and none was given. */
const NO_PASSWORD = /client password must be a string/;
/** SQLSTATEs of a login the server refused: no such role (or no user name), wrong password, no such database. */
const INVALID_AUTHORIZATION = '28000';
const INVALID_PASSWORD = '28P01';
const INVALID_CATALOG_NAME = '3D000';
/** The server's pg_hba.conf matched no line for this host, user and database (28000). */
const NO_HBA_ENTRY = /no pg_hba\.conf entry/;
/** pg's own connect timeout; pg-pool's, around it; pg-pool's wait for a free connection. */
const CONNECT_TIMEOUTS = ['timeout expired', 'Connection terminated due to connection timeout'];
const POOL_WAIT_TIMEOUT = 'timeout exceeded when trying to connect';

/** The connect time limit of a pg pool or client, if it has one. */
function connectTimeoutOf(poolOrClient: unknown): number | undefined {
  const p = poolOrClient as { options?: { connectionTimeoutMillis?: unknown }; _connectionTimeoutMillis?: unknown };
  const ms = p?.options?.connectionTimeoutMillis ?? p?._connectionTimeoutMillis;
  return typeof ms === 'number' && ms > 0 ? ms : undefined;
}

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
  const message = messageOf(error);
  const code = codeOf(error);
  if (
    message !== SSL_UNSUPPORTED &&
    !CONNECT_TIMEOUTS.includes(message) &&
    message !== POOL_WAIT_TIMEOUT &&
    !NO_PASSWORD.test(message) &&
    !EXPLAINED_CODES.has(code ?? '')
  ) {
    return error;
  }
  const found = connectionTargetOf(poolOrClient);
  const target = found === undefined || unnamed === undefined ? found : { ...found, unnamed };
  return explained(error, target, connectTimeoutOf(poolOrClient)) ?? refusedLogin(error, target) ?? error;
}

const EXPLAINED_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  INVALID_AUTHORIZATION,
  INVALID_PASSWORD,
  INVALID_CATALOG_NAME,
]);

function explained(
  error: unknown,
  target: ConnectionTarget | undefined,
  connectTimeoutMs: number | undefined,
): ConnectionError | undefined {
  const message = messageOf(error);
  const code = codeOf(error);
  const at = target === undefined ? 'the database server' : `${target.host}:${target.port}`;
  const within = connectTimeoutMs === undefined ? '' : ` within ${connectTimeoutMs} ms`;
  if (message === SSL_UNSUPPORTED) {
    return new ConnectionError(
      `${at} does not accept SSL connections: connect without SSL (remove "ssl" or "sslmode" from the connection settings), or turn SSL on in the server`,
      error,
      'ERR_SSL_UNSUPPORTED',
    );
  }
  const orName = target?.unnamed ? `; ${NAME_THE_DATABASE}` : '';
  if (CONNECT_TIMEOUTS.includes(message)) {
    return new ConnectTimeoutError(
      `could not connect to ${at}${within}: is the server up, and is that its address? (a firewall that drops packets looks the same)${orName}`,
      error,
    );
  }
  if (message === POOL_WAIT_TIMEOUT) {
    return new ConnectTimeoutError(
      `no connection of the pool was free${within}: the server did not answer, or all of the pool's connections stayed busy (raise "max", or look for connections never released)`,
      error,
    );
  }
  if (code === 'ECONNREFUSED') {
    return new ConnectionError(
      `could not connect to ${at}: connection refused (ECONNREFUSED); is PostgreSQL running there?${orName}`,
      error,
      code,
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    const hint = looksCutShort(target?.connectionString)
      ? `the connection string seems cut short by a character of its password: ${PERCENT_ENCODE}`
      : 'check the host name';
    return new ConnectionError(`could not find the host "${target?.host ?? '?'}" (${code}): ${hint}`, error, code);
  }
  return undefined;
}

/**
 * The server answered and refused the login: each error says what was tried (never the
 * password) and what to do. With nothing named, the way out is to name the database.
 */
function refusedLogin(error: unknown, target: ConnectionTarget | undefined): ConnectionError | undefined {
  const message = messageOf(error);
  const code = codeOf(error);
  const tried = triedConnection(target);
  const user = target?.user ?? '?';
  const orName = target?.unnamed ? `; ${NAME_THE_DATABASE}` : '';
  if (NO_PASSWORD.test(message) || (code === INVALID_PASSWORD && target?.noPassword === true)) {
    return new ConnectionError(
      `the server asks for a password and none was given (${tried}): put it in the connection string (postgres://${user}:PASSWORD@host:port/database, percent-encoded), in conObject's "password", or in PGPASSWORD${orName}`,
      error,
      INVALID_PASSWORD,
    );
  }
  if (code === INVALID_PASSWORD) {
    return new ConnectionError(
      `the server refused the password (${tried}): check the password, and that the user exists${orName}`,
      error,
      INVALID_PASSWORD,
    );
  }
  if (code === INVALID_CATALOG_NAME) {
    const database = target?.database ?? '?';
    const fix = target?.unnamed
      ? NAME_THE_DATABASE
      : `create it (createdb ${database}, or CREATE DATABASE "${database}"), or name another one in the connection settings`;
    return new ConnectionError(
      `the database "${database}" does not exist (${tried}): ${fix}`,
      error,
      INVALID_CATALOG_NAME,
    );
  }
  if (code === INVALID_AUTHORIZATION && NO_HBA_ENTRY.test(message)) {
    const ssl = /no encryption/.test(message)
      ? ' (if its lines for this server are "hostssl", connect with SSL: sslmode=require)'
      : '';
    return new ConnectionError(
      `the server's pg_hba.conf has no line that lets this connection in (${tried}, from this machine's address): add one for this user, database and address to pg_hba.conf on the server and reload it (SELECT pg_reload_conf()), or connect as a user and to a database it lets in${ssl}`,
      error,
      INVALID_AUTHORIZATION,
    );
  }
  if (code === INVALID_AUTHORIZATION && /does not exist|no PostgreSQL user name/.test(message)) {
    const fix = target?.unnamed
      ? NAME_THE_DATABASE
      : `connect as a user that exists (the user name in the connection settings), or create it: CREATE ROLE "${user}" LOGIN PASSWORD '...'`;
    const what = target?.user === undefined ? 'no user name was given' : `the user "${user}" does not exist`;
    return new ConnectionError(`${what} (${tried}): ${fix}`, error, INVALID_AUTHORIZATION);
  }
  return undefined;
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

/** A pg.Client never connected: its statements would wait for a connect that never comes. */
export function isUnconnectedPgClient(value: unknown): boolean {
  const client = value as { _connected?: unknown; _connecting?: unknown; _ending?: unknown } | null;
  return client?._connected === false && client._connecting === false && client._ending === false;
}

export const unconnectedClientError = () =>
  new ConnectionError(
    'the pg.Client given as "pool" is not connected: call client.connect() first, or pass a pg.Pool (which connects by itself)',
    undefined,
    'ENOTCONN',
  );
