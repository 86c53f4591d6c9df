import { connectionStringProblem } from './connection-string.js';
import type { DriverChoice } from './drivers/open.js';
import type { PgPoolLike } from './drivers/pg.js';
import { isPostgresJsSql, type PostgresJsSqlLike } from './drivers/postgres-js.js';
import { typeError } from './errors.js';
import { describe, fail } from './option-checks.js';
import { type CheckedOptions, checkEach, ONE_DAY_SECONDS } from './option-table.js';
import type { ResolvedOptions } from './option-types.js';
import { idFormFor } from './session-id.js';
import { userIdFunction } from './user-id.js';

/**
 * Options resolved once, at construction: each checked by the option table (option-table.ts),
 * then checked together, and frozen into what the store uses (`ResolvedOptions`).
 */

export { DEFAULTS, MIN_PEPPER_BYTES } from './option-table.js';
export type { PGStoreOptions, ResolvedOptions } from './option-types.js';

/** `conString`, else DATABASE_URL, refused when it cannot work. */
function connectionString(option: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const value = option ?? (env.DATABASE_URL || undefined);
  const problem = value === undefined ? undefined : connectionStringProblem(value);
  if (problem !== undefined) {
    const source = option === undefined ? 'the DATABASE_URL environment variable' : 'option "conString"';
    throw typeError('ERR_INVALID_OPTION', `connect-pg-simple: ${source} cannot be used: ${problem}`);
  }
  return value;
}

const DATABASE_OPTIONS = ['pool', 'pgPromise', 'postgres', 'pglite'] as const;

function resolveDriver(checked: CheckedOptions, env: NodeJS.ProcessEnv): DriverChoice {
  const given = DATABASE_OPTIONS.filter((k) => checked[k] !== undefined);
  if (given.length > 1) {
    throw typeError(
      'ERR_INVALID_OPTION',
      `connect-pg-simple: options ${given.map((k) => `"${k}"`).join(' and ')} each name a database; give only one`,
    );
  }
  const connectionOption = (['conString', 'conObject'] as const).find((k) => checked[k] !== undefined);
  if (given.length === 1 && connectionOption !== undefined) {
    throw typeError(
      'ERR_INVALID_OPTION',
      `connect-pg-simple: options "${given[0]}" and "${connectionOption}" both say which database to use, and only "${given[0]}" would be used (10.x ignored "${connectionOption}" silently): give one of them`,
    );
  }
  if (checked.pool) return { kind: 'pool', pool: checked.pool };
  if (checked.pgPromise) return { kind: 'pgPromise', db: checked.pgPromise };
  if (checked.postgres) return { kind: 'postgres', sql: checked.postgres };
  if (checked.pglite) return { kind: 'pglite', db: checked.pglite };

  // As in 10.x: conObject wins over conString; without either, pg reads the PG* variables.
  const conString = checked.conObject === undefined ? connectionString(checked.conString, env) : undefined;
  const config = checked.conObject ?? (conString === undefined ? {} : { connectionString: conString });
  return { kind: 'owned', config: Object.freeze({ ...config }) };
}

function resolveReadDriver(
  readPool: PgPoolLike | PostgresJsSqlLike | undefined,
  driver: DriverChoice,
): ResolvedOptions['readDriver'] {
  if (readPool === undefined) return undefined;
  if (driver.kind === 'pglite') {
    throw typeError(
      'ERR_INVALID_OPTION',
      'connect-pg-simple: option "readPool" needs a PostgreSQL server with replicas; PGlite has none',
    );
  }
  const primary = { pool: 'pool' in driver && driver.pool, postgres: 'sql' in driver && driver.sql };
  const same = Object.entries(primary).find(([, given]) => given === readPool);
  if (same !== undefined) {
    throw typeError(
      'ERR_INVALID_OPTION',
      `connect-pg-simple: option "readPool" is the same object as "${same[0]}": give it a pool connected to a replica, or leave it out`,
    );
  }
  return isPostgresJsSql(readPool)
    ? { kind: 'postgres', sql: readPool }
    : { kind: 'pool', pool: readPool as PgPoolLike };
}

export function resolveOptions(input: unknown, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  if (input === undefined || input === null) input = {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw typeError('ERR_INVALID_OPTION', `connect-pg-simple: options must be an object, got ${describe(input)}`);
  }
  const checked = checkEach(input as Record<string, unknown>);

  if (checked.schemaName === undefined && checked.tableName.includes('"."')) {
    // 10.x accepted 'schema"."table' with a deprecation warning; now a name is only ever a name.
    fail('tableName', 'a table name only (put the schema in "schemaName")', checked.tableName);
  }
  if (checked.schemaName === undefined && checked.tableName.includes('.')) {
    // Almost always a schema by mistake: PostgreSQL would take it as one name, in the search_path's schema.
    const [schema, ...table] = checked.tableName.split('.');
    throw typeError(
      'ERR_INVALID_OPTION',
      `connect-pg-simple: option "tableName" must be a table name only, got ${JSON.stringify(checked.tableName)}: a dot does not separate a schema there (it would name a table "${checked.tableName}"). Use schemaName: ${JSON.stringify(schema)}, tableName: ${JSON.stringify(table.join('.'))}; for a table whose name really contains a dot, give schemaName as well (such as "public")`,
    );
  }
  const driver = resolveDriver(checked, env);
  if (checked.pipeline && driver.kind !== 'owned') {
    throw typeError(
      'ERR_INVALID_OPTION',
      `connect-pg-simple: option "pipeline" works only with a database the store connects to itself (conString, conObject or DATABASE_URL), not with "${driver.kind}"`,
    );
  }
  if (checked.pipeline && checked.operationTimeout === false) {
    // One statement that never ends would hold up every session of the process, for good.
    throw typeError(
      'ERR_INVALID_OPTION',
      'connect-pg-simple: option "pipeline" needs a time limit: "operationTimeout" must not be 0 or false',
    );
  }

  if (checked.readCache === true && checked.readPool !== undefined) {
    // A replica's row may be older than a change the change log already showed: it would be remembered as current.
    throw typeError(
      'ERR_INVALID_OPTION',
      'connect-pg-simple: option "readCache: true" cannot be used with "readPool" (a replica may answer with a session older than a change already seen in the change log): use one of them, or readCache in milliseconds',
    );
  }

  if (checked.sessionIdPepper !== undefined && !checked.hashSessionIds) {
    throw typeError(
      'ERR_INVALID_OPTION',
      'connect-pg-simple: option "sessionIdPepper" keys the hash of session ids, and "hashSessionIds" is false: remove one of them',
    );
  }

  if (checked.partitionBy !== undefined && checked.absoluteTimeout === undefined) {
    throw typeError(
      'ERR_INVALID_OPTION',
      'connect-pg-simple: option "partitionBy" needs "absoluteTimeout": a partition is dropped once every session in it is older than the absolute timeout, and without one a session may live on for ever',
    );
  }

  return Object.freeze({
    driver,
    readDriver: resolveReadDriver(checked.readPool, driver),
    ttl: checked.ttl,
    schemaName: checked.schemaName,
    tableName: checked.tableName,
    createTableIfMissing: checked.createTableIfMissing,
    disableTouch: checked.disableTouch,
    touchAfterSeconds: checked.touchAfter,
    pruneIntervalMs: checked.pruneSessionInterval,
    pruneDelay: checked.pruneSessionRandomizedInterval,
    pruneBatchSize: checked.pruneBatchSize,
    pruneLock: checked.pruneLock,
    preparedStatements: checked.preparedStatements,
    synchronousCommit: checked.synchronousCommit,
    operationTimeoutMs: checked.operationTimeout,
    maxSessionSize: checked.maxSessionSize,
    readCacheMs: typeof checked.readCache === 'number' ? checked.readCache : false,
    // Not given: trusted where the table has the change log and the driver can poll (never beside readPool).
    readCacheListens: checked.readCache === true || (checked.readCache === undefined && checked.readPool === undefined),
    readCacheAsked: checked.readCache === true,
    pipeline: checked.pipeline,
    errorLog: checked.errorLog,
    idForm: idFormFor(checked.hashSessionIds, checked.sessionIdPepper),
    sessionIdPepper: checked.sessionIdPepper,
    absoluteTimeoutSeconds: checked.absoluteTimeout,
    encryptionKeys: checked.encryptionKeys,
    partitioning:
      checked.partitionBy === undefined || checked.absoluteTimeout === undefined
        ? undefined
        : { widthSeconds: checked.partitionBy.days * ONE_DAY_SECONDS, lifetimeSeconds: checked.absoluteTimeout },
    userIdOf: userIdFunction(checked.userId),
    describe: checked.describe,
    connectionEvents: checked.connectionEvents,
  });
}
