import type { Suggestion } from './did-you-mean.js';

const CONNECTION_STRING_NOTE = 'a connection string (or DATABASE_URL) for a pool the store creates';
const POOL_NOTE = 'a pg.Pool, a connected pg.Client, or any object with query(text, values)';

/** Names other libraries (or 10.x's README, or a guess) use for an option: each with what it is called here. */
export const OPTION_ALIASES: Readonly<Record<string, Suggestion>> = {
  connectionString: { name: 'conString', note: CONNECTION_STRING_NOTE },
  connectionUrl: { name: 'conString', note: CONNECTION_STRING_NOTE },
  url: { name: 'conString', note: CONNECTION_STRING_NOTE },
  uri: { name: 'conString', note: CONNECTION_STRING_NOTE },
  databaseUrl: { name: 'conString', note: CONNECTION_STRING_NOTE },
  database_url: { name: 'conString', note: CONNECTION_STRING_NOTE },
  connection: { name: 'conObject', note: 'a pg.Pool config for a pool the store creates' },
  poolConfig: { name: 'conObject', note: 'a pg.Pool config for a pool the store creates' },
  client: { name: 'pool', note: POOL_NOTE },
  pgPool: { name: 'pool', note: POOL_NOTE },
  pgClient: { name: 'pool', note: POOL_NOTE },
  pgNativePool: { name: 'pool' },
  db: { name: 'pool', note: `${POOL_NOTE}; or "pgPromise", "postgres", "pglite" for other drivers` },
  pgp: { name: 'pgPromise' },
  sql: { name: 'postgres', note: 'a postgres.js sql instance' },
  maxAge: { name: 'ttl', note: "ttl is in seconds; by default the store uses the session cookie's maxAge" },
  expires: { name: 'ttl', note: "ttl is in seconds; by default the store uses the session cookie's maxAge" },
  expiration: { name: 'ttl', note: "ttl is in seconds; by default the store uses the session cookie's maxAge" },
  schema: { name: 'schemaName' },
  table: { name: 'tableName' },
  createTable: { name: 'createTableIfMissing' },
  autoCreate: { name: 'createTableIfMissing' },
  prune: { name: 'pruneSessionInterval', note: 'seconds between prunes, or false for none' },
  pruneInterval: { name: 'pruneSessionInterval', note: 'seconds between prunes, or false for none' },
  pruneSessions: { name: 'pruneSessionInterval', note: 'seconds between prunes, or false for none' },
  jitter: { name: 'pruneSessionRandomizedInterval' },
  timeout: { name: 'operationTimeout', note: 'milliseconds' },
  queryTimeout: { name: 'operationTimeout', note: 'milliseconds' },
  statementTimeout: { name: 'operationTimeout', note: 'milliseconds' },
  logger: { name: 'errorLog' },
  log: { name: 'errorLog' },
  onError: { name: 'errorLog' },
  cache: { name: 'readCache', note: 'milliseconds' },
  maxSize: { name: 'maxSessionSize', note: 'bytes' },
};
