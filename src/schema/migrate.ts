import type { Database } from '../drivers/database.js';
import { SchemaError } from '../errors.js';
import type { SessionIdForm } from '../session-id.js';
import {
  describeTableStatement,
  doBlock,
  quoteLiteral,
  SCHEMA_LOCK_NAMESPACE,
  saysTrue,
  type TableNames,
} from '../sql.js';
import { CHANGE_LOG_SERVER_VERSION, changeLogCheckStatement, changeLogStatement } from './change-log.js';
import { createTableStatements, SCHEMA_VERSION, VERSION_MARK, versionComment } from './ddl.js';
import { notSessionTableMessage, readTableState } from './ensure.js';
import { MIGRATIONS, type MigrationSettings } from './migrations.js';
import { ONE_DAY_SECONDS, type Partitioning } from './partitions.js';

export interface MigrateOptions {
  /** Build the statement and return it, without running it. */
  readonly dryRun?: boolean;
  /** The TimeZone 10.x's connections used. Default: this connection's TimeZone. */
  readonly legacyTimeZone?: string;
  /** Give up (error 55P03) when other sessions keep the table locked this many seconds. Default: wait. */
  readonly lockTimeoutSeconds?: number;
  /**
   * How the table stores session ids from schema 2 on. Default `sha256` (the store's default,
   * `hashSessionIds: true` without a pepper). `plain` for stores with `hashSessionIds: false`.
   * `hmac-sha256` (stores with `sessionIdPepper`) only for a new table: upgrading would need the
   * pepper in SQL (`connect-pg-simple rekey` re-keys a table in JavaScript instead).
   */
  readonly idForm?: SessionIdForm;
  /**
   * Only for a new table: create it partitioned by creation time (see partitions.ts). An existing
   * table keeps its layout: asking to partition one that is not is an error.
   */
  readonly partitioning?: Partitioning | undefined;
}

export interface MigrateResult {
  /** The version found; `undefined` when there was no table. */
  readonly from: number | undefined;
  readonly to: number;
  /** What each step does, for the operator; empty when the table is current. */
  readonly steps: readonly string[];
  /** The one statement that was (or, in a dry run, would be) run; empty when there was nothing to do. */
  readonly sql: string;
  readonly applied: boolean;
}

const indent = (text: string, prefix: string) => text.replace(/^(?=.)/gm, prefix);

/**
 * The table's version as PL/pgSQL sees it: -1 when there is no table, 0 when it has no mark.
 * (The same reading as parseVersionComment.)
 */
function versionExpression(names: TableNames): string {
  const table = quoteLiteral(names.qualified);
  const mark = quoteLiteral(`^${VERSION_MARK.trim()}\\s*([0-9]+)\\s*$`);
  return `CASE WHEN to_regclass(${table}) IS NULL THEN -1 ELSE coalesce(substring(obj_description(to_regclass(${table}), 'pg_class') from ${mark})::integer, 0) END`;
}

function pendingSteps(
  names: TableNames,
  from: number | undefined,
  settings: MigrationSettings,
  idForm: SessionIdForm = settings.idForm,
  partitioning?: Partitioning,
) {
  if (from === undefined) {
    const layout =
      partitioning === undefined
        ? ''
        : `, partitioned by creation time, ${partitioning.widthSeconds / ONE_DAY_SECONDS} day(s) per partition, sessions ending ${partitioning.lifetimeSeconds} s after creation`;
    return [
      {
        summary: `create the table at schema version ${SCHEMA_VERSION} (session ids stored as ${idForm}${layout})`,
        statements: createTableStatements(names, { ifNotExists: true, idForm, partitioning }).map((s) => `${s};`),
      },
    ];
  }
  return MIGRATIONS.filter((m) => m.version > from).map((m) => ({
    summary: `schema ${m.version}: ${m.summary}`,
    statements: [
      ...m.statements(names, settings),
      `COMMENT ON TABLE ${names.qualified} IS ${quoteLiteral(versionComment(m.version))};`,
    ],
  }));
}

/**
 * The one statement that takes the table from version `from` to the current one. It takes the
 * schema lock, then reads the version again: when another process migrated meanwhile it does
 * nothing, and it never applies steps to a table in a state they were not planned for.
 */
export function migrationStatement(
  names: TableNames,
  from: number | undefined,
  settings: MigrationSettings,
  lockTimeoutSeconds?: number,
  newTableIdForm?: SessionIdForm,
  partitioning?: Partitioning,
): { sql: string; steps: string[] } {
  const steps = pendingSteps(names, from, settings, newTableIdForm, partitioning);
  const table = quoteLiteral(names.qualified);
  // Set before the lock is taken: waiting for an advisory lock honours lock_timeout too.
  const lockTimeout =
    lockTimeoutSeconds === undefined
      ? ''
      : `PERFORM set_config('lock_timeout', ${quoteLiteral(`${Math.max(1, Math.round(lockTimeoutSeconds * 1000))}ms`)}, true);\n    `;
  const body = steps
    .map((step) => `      -- ${step.summary}\n${step.statements.map((s) => indent(s, '      ')).join('\n')}`)
    .join('\n');
  const sql = doBlock(`  DECLARE
    table_version integer;
  BEGIN
    ${lockTimeout}PERFORM pg_advisory_xact_lock(${SCHEMA_LOCK_NAMESPACE}, hashtext(${table}));
    table_version := ${versionExpression(names)};
    IF table_version = ${from ?? -1} THEN
${body}
    ELSIF table_version > ${SCHEMA_VERSION} THEN
      RAISE EXCEPTION 'connect-pg-simple: table % has schema version %, newer than this package understands (${SCHEMA_VERSION}): upgrade connect-pg-simple', ${table}, table_version USING ERRCODE = '0A000';
    ELSIF table_version <> ${SCHEMA_VERSION} THEN
      RAISE EXCEPTION 'connect-pg-simple: table % changed while it was being migrated: run migrate again', ${table} USING ERRCODE = '40001';
    END IF;
  END;`);
  return { sql, steps: steps.map((s) => s.summary) };
}

/** Is this a schema 4 table without its change log, on a server that could have one? */
async function lacksChangeLog(db: Database, names: TableNames): Promise<boolean> {
  const [row] = await db.query(changeLogCheckStatement(names), []);
  return Number(row?.version) >= CHANGE_LOG_SERVER_VERSION && !saysTrue(row?.log);
}

/** The zone given, once PostgreSQL has said it knows it; else this connection's TimeZone. */
async function legacyTimeZone(db: Database, given: string | undefined): Promise<string> {
  const [row] = await db.query(
    {
      name: '',
      text: `SELECT coalesce($1::text, current_setting('TimeZone')) AS zone, now() AT TIME ZONE coalesce($1::text, 'UTC') AS valid`,
    },
    [given ?? null],
  );
  return String(row?.zone);
}

/**
 * Creates the table, or upgrades it to the current version, in one statement (a DO block, so it
 * works through any driver and through PgBouncer in transaction mode).
 */
export async function migrate(db: Database, names: TableNames, options: MigrateOptions = {}): Promise<MigrateResult> {
  const state = await readTableState(db, { describe: describeTableStatement }, names);
  const from = state.exists ? state.version : undefined;
  if (state.columnProblem !== undefined) {
    throw new SchemaError(
      `connect-pg-simple: ${notSessionTableMessage(names, state.columnProblem, 'check the schema and table names')}`,
      state.columnProblem.code,
    );
  }
  if (from !== undefined && from > SCHEMA_VERSION) {
    throw new SchemaError(
      `connect-pg-simple: table ${names.qualified} has schema version ${from}, newer than this package understands (${SCHEMA_VERSION}): upgrade connect-pg-simple`,
      '0A000',
    );
  }
  if (options.partitioning !== undefined && state.exists && !state.partitioned) {
    throw new SchemaError(
      `connect-pg-simple: table ${names.qualified} exists and is not partitioned: migrate partitions only a table it creates (see docs/scaling.md, "Very large tables", to move sessions to a partitioned table)`,
      '0A000',
    );
  }
  if (from === SCHEMA_VERSION) {
    if (!(await lacksChangeLog(db, names))) return { from, to: SCHEMA_VERSION, steps: [], sql: '', applied: false };
    // Made by a development build of schema 4 (NOTIFY triggers, no log): its step again replaces them.
    const sql =
      doBlock(`  PERFORM pg_advisory_xact_lock(${SCHEMA_LOCK_NAMESPACE}, hashtext(${quoteLiteral(names.qualified)}));
${indent(`${changeLogStatement(names)};`, '  ')}`);
    if (!options.dryRun) await db.query({ name: '', text: sql }, []);
    const step = `schema ${SCHEMA_VERSION} again: ${MIGRATIONS.at(-1)?.summary}`;
    return { from, to: SCHEMA_VERSION, steps: [step], sql, applied: !options.dryRun };
  }
  const idForm = options.idForm ?? 'sha256';
  // From schema 2 on, ids are in their final form already: only an older table would be re-hashed.
  if (from !== undefined && from < 2 && idForm === 'hmac-sha256') {
    throw new SchemaError(
      `connect-pg-simple: table ${names.qualified} cannot be upgraded to peppered ids (hmac-sha256) in SQL: that would need the pepper in a statement. Upgrade it with sha256 ids (the default) or plain ones, then re-key it with \`npx connect-pg-simple rekey\` (the pepper from CPS_SESSION_ID_PEPPER); stores with sessionIdPepper serve it meanwhile`,
      '0A000',
    );
  }
  const settings: MigrationSettings = {
    legacyTimeZone: from === undefined ? 'UTC' : await legacyTimeZone(db, options.legacyTimeZone),
    idForm: idForm === 'hmac-sha256' ? 'sha256' : idForm,
  };
  const { sql, steps } = migrationStatement(
    names,
    from,
    settings,
    options.lockTimeoutSeconds,
    idForm,
    options.partitioning,
  );
  if (!options.dryRun) await db.query({ name: '', text: sql }, []);
  return { from, to: SCHEMA_VERSION, steps, sql, applied: !options.dryRun };
}
