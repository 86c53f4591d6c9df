import type { Database } from '../drivers/database.js';
import { SchemaError, typeError } from '../errors.js';
import { parseKeyedForm, parseRekeyingForm, type RekeyableForm, type SessionIdForm } from '../session-id.js';
import { DESCRIBED_COLUMNS, type StoreStatements, saysTrue, type TableNames } from '../sql.js';
import type { Deadline } from '../time-limit.js';
import {
  createTableIfMissingStatement,
  parseIdFormComment,
  parseVersionComment,
  recordPepperStatement,
  SCHEMA_VERSION,
} from './ddl.js';
import { ONE_DAY_SECONDS, type Partitioning, parsePartitioningComment, partitioningComment } from './partitions.js';

/**
 * ` in database "app" (as user "alice")`, for the message of a missing table: a store that
 * connected with pg's defaults reaches a database named after the OS user. Empty when the
 * question fails: the message stands without it.
 */
async function whereConnected(db: Database, deadline: Deadline | undefined): Promise<string> {
  try {
    const [row] = await db.query(
      { name: '', text: 'SELECT current_database() AS database, current_user AS "user"' },
      [],
      deadline,
    );
    return row === undefined ? '' : ` in database "${String(row.database)}" (as user "${String(row.user)}")`;
  } catch {
    return '';
  }
}

export interface TableState {
  readonly exists: boolean;
  /** 0 for a table without a version mark, such as one made by 10.x's table.sql. */
  readonly version: number;
  /** Why the table cannot hold sessions (a column missing or of another type); undefined when it can. */
  readonly columnProblem: ColumnProblem | undefined;
  /** How the table stores ids, as its `sid` column's comment says (schema 2); undefined before. */
  readonly idForm: string | undefined;
  /** For a table of `hmac-sha256` ids: the id of the pepper it records (`pepperIdOf`); undefined when it records none. */
  readonly pepperId: string | undefined;
  /** Is it partitioned (pg_class.relkind `p`)? */
  readonly partitioned: boolean;
  /** How it is partitioned, as its `created` column's comment says; undefined when it says nothing. */
  readonly partitioning: Partitioning | undefined;
  /**
   * The schema the table is in: without `schemaName`, the one the search_path of the connection
   * that looked found it in. Undefined when it does not exist.
   */
  readonly schema: string | undefined;
}

export interface ColumnProblem {
  /** SQLSTATE: 42703 for a missing column, 42804 for one of another type. */
  readonly code: string;
  /** Such as `its "sess" column is integer, not json or jsonb`. */
  readonly text: string;
}

/** The column types the store works with; `character varying` and `timestamp` are 10.x's. */
const ACCEPTED_TYPES: Readonly<Record<string, readonly string[]>> = {
  sid: ['text', 'character varying'],
  sess: ['json', 'jsonb'],
  expire: ['timestamp with time zone', 'timestamp without time zone'],
};

function columnProblem(row: Record<string, unknown>): ColumnProblem | undefined {
  for (const [column, accepted] of Object.entries(ACCEPTED_TYPES)) {
    const type = row[`${column}_type`];
    if (typeof type !== 'string') return { code: '42703', text: `it has no "${column}" column` };
    if (!accepted.includes(type)) {
      return { code: '42804', text: `its "${column}" column is ${type}, not ${accepted.join(' or ')}` };
    }
  }
  return undefined;
}

/**
 * The table check is the first statement a store sends: when its answer lacks a column it asked
 * for, something between renames the columns of results (a query function given as `pool` that
 * maps them to camelCase, as Kysely's CamelCasePlugin does), and every later answer would be
 * misread. Said plainly, rather than as a table that is not a session table.
 */
function checkColumnsAsNamed(row: Record<string, unknown>): void {
  const missing = DESCRIBED_COLUMNS.filter((column) => !(column in row));
  if (missing.length === 0) return;
  throw typeError(
    'ERR_INVALID_RETURN_VALUE',
    `connect-pg-simple: the database's answer to the table check lacks the columns it asked for (${missing.join(', ')}; it has ${Object.keys(row).join(', ') || 'none'}): the driver or the query function the store was given renames the columns of results (as a camelCase mapping does). Give the store a query function that returns each row with its columns as PostgreSQL names them`,
  );
}

/** The error for a table that exists but is not a session table; `fix` says what to check. */
export function notSessionTableMessage(names: TableNames, problem: ColumnProblem, fix: string): string {
  return `table ${names.qualified} is not a session table: ${problem.text} (a session table has the columns sid text, sess json and expire timestamptz): ${fix}`;
}

export async function readTableState(
  db: Database,
  statements: Pick<StoreStatements, 'describe'>,
  names: TableNames,
  deadline?: Deadline,
): Promise<TableState> {
  if (deadline?.expired !== undefined) throw deadline.expired;
  const [row] = await db.query(statements.describe, [names.qualified], deadline);
  if (row !== undefined) checkColumnsAsNamed(row);
  const exists = saysTrue(row?.exists);
  const version = parseVersionComment(row?.comment as string | null | undefined);
  // A newer version's columns are its own business: such a table is refused as newer instead.
  const checkColumns = exists && row !== undefined && version <= SCHEMA_VERSION;
  const idForm = parseIdFormComment(row?.sid_comment as string | null | undefined);
  const pepperId = parseKeyedForm(idForm);
  return {
    exists,
    version,
    columnProblem: checkColumns ? columnProblem(row) : undefined,
    idForm: pepperId === undefined ? idForm : 'hmac-sha256',
    pepperId,
    partitioned: row?.kind === 'p',
    partitioning: parsePartitioningComment(row?.created_comment as string | null | undefined),
    schema: typeof row?.schema === 'string' ? row.schema : undefined,
  };
}

/**
 * Makes sure the table can be used: creates it when asked to, and refuses one that is not a
 * session table or was made by a newer version of this package. Resolves once; a failure is not
 * remembered, so the next call retries.
 */
export async function ensureTable(
  db: Database,
  statements: Pick<StoreStatements, 'describe'>,
  names: TableNames,
  createIfMissing: boolean,
  ids: StoreIds,
  deadline?: Deadline,
  partitioning?: Partitioning,
): Promise<TableState> {
  const idForm = ids.form;
  let state = await readTableState(db, statements, names, deadline);
  if (!state.exists && createIfMissing) {
    try {
      if (deadline?.expired !== undefined) throw deadline.expired;
      await db.query({ name: '', text: createTableIfMissingStatement(names, idForm, partitioning) }, [], deadline);
    } catch (error) {
      // Another process may have won a race the lock could not settle; its table will do.
      if (deadline?.expired !== undefined || !(await readTableState(db, statements, names, deadline)).exists)
        throw error;
    }
    state = await readTableState(db, statements, names, deadline);
  }
  if (!state.exists) {
    const where = await whereConnected(db, deadline);
    throw new SchemaError(
      `connect-pg-simple: table ${names.qualified} does not exist${where}: create it with table.sql (or \`npx connect-pg-simple migrate\`), or set createTableIfMissing: true; if that is the wrong database, check the connection settings (DATABASE_URL, conString)`,
      '42P01',
    );
  }
  if (state.columnProblem !== undefined) {
    throw new SchemaError(
      `connect-pg-simple: ${notSessionTableMessage(names, state.columnProblem, 'check tableName and schemaName')}`,
      state.columnProblem.code,
    );
  }
  if (state.version > SCHEMA_VERSION) {
    throw new SchemaError(
      `connect-pg-simple: table ${names.qualified} has schema version ${state.version}, newer than this package understands (${SCHEMA_VERSION}): upgrade connect-pg-simple`,
      '0A000',
    );
  }
  if (needsPepperRecorded(state, ids)) {
    if (deadline?.expired !== undefined) throw deadline.expired;
    await recordPepper(db, names, ids.pepperId!, deadline);
    state = await readTableState(db, statements, names, deadline);
  }
  const use = idUseFor(names, state, ids);
  const problem = use.kind === 'refused' ? use.problem : partitioningProblem(names, state);
  if (problem !== undefined) throw new SchemaError(`connect-pg-simple: ${problem}`, '55000');
  return state;
}

async function recordPepper(db: Database, names: TableNames, pepperId: string, deadline?: Deadline): Promise<void> {
  try {
    await db.query({ name: '', text: recordPepperStatement(names, pepperId) }, [], deadline);
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code !== '42501') throw error;
    throw new SchemaError(
      `connect-pg-simple: table ${names.qualified} stores hmac-sha256 ids but records no sessionIdPepper fingerprint yet, and this store's role may not record it (only the table's owner may): start one store with sessionIdPepper as the table's owner once (see "Which pepper" in docs/security.md)`,
      '42501',
    );
  }
}

/** A table of `hmac-sha256` ids that records no pepper, used by a store with one: it records the store's. */
function needsPepperRecorded(state: TableState, ids: StoreIds): boolean {
  return state.idForm === 'hmac-sha256' && state.pepperId === undefined && ids.pepperId !== undefined;
}

/** Why a partitioned table cannot be used: the store must know how it is cut to prune it. */
export function partitioningProblem(names: TableNames, state: TableState): string | undefined {
  if (!state.partitioned || state.partitioning !== undefined) return undefined;
  const example = partitioningComment({ widthSeconds: ONE_DAY_SECONDS, lifetimeSeconds: 30 * ONE_DAY_SECONDS });
  return `table ${names.qualified} is partitioned, but its "created" column's comment does not say how (a partitioned session table is partitioned by range of created, and its sessions end at most a fixed time after creation): record it, such as COMMENT ON COLUMN ${names.qualified}."created" IS '${example}'`;
}

/** How a store makes ids: its form (from its options) and, with a pepper, `pepperIdOf` it. */
export interface StoreIds {
  readonly form: SessionIdForm;
  readonly pepperId?: string | undefined;
}

/**
 * How a store uses the table's ids:
 * - `own`: they are of the store's form (or, before schema 2, as given: see core.ts);
 * - `candidates`: a store with a pepper on a table not (yet) of hmac-sha256 ids, plain or sha256
 *   ones (`from`), or being re-keyed from them: it finds a row by either form, and writes the form
 *   the table names (the `id candidates` sets of statements/transitional.ts), so it serves the table before, while and
 *   after `connect-pg-simple rekey` moves its rows;
 * - `refused`: it would miss sessions; `problem` says why and what to do.
 */
export type IdUse =
  | { readonly kind: 'own' }
  | { readonly kind: 'candidates'; readonly from: RekeyableForm }
  | { readonly kind: 'refused'; readonly problem: string };

export function idUseFor(names: TableNames, state: TableState, ids: StoreIds): IdUse {
  const peppered = ids.form === 'hmac-sha256';
  if (state.version < 2) return peppered ? { kind: 'candidates', from: 'plain' } : { kind: 'own' };
  if (state.idForm === ids.form) {
    if (!peppered || state.pepperId === undefined || state.pepperId === ids.pepperId) return { kind: 'own' };
    return {
      kind: 'refused',
      problem: `table ${names.qualified} stores session ids keyed with another sessionIdPepper (pepper id ${state.pepperId}; this store's sessionIdPepper has id ${ids.pepperId}): it would miss every session, and write rows no other store finds. Give every store that uses the table the same sessionIdPepper (a table's pepper cannot be changed: see "The pepper cannot be rotated" in docs/security.md)`,
    };
  }
  if (peppered && (state.idForm === 'sha256' || state.idForm === 'plain')) {
    return { kind: 'candidates', from: state.idForm };
  }
  const rekeying = parseRekeyingForm(state.idForm);
  if (rekeying === undefined) return { kind: 'refused', problem: idFormProblem(names, state, ids.form) };
  if (!peppered) {
    return {
      kind: 'refused',
      problem: `table ${names.qualified} is being re-keyed from ${rekeying.from} to hmac-sha256 ids (\`connect-pg-simple rekey\`), and this store has no sessionIdPepper: it would miss every session already moved. Give it the pepper the re-keying uses (sessionIdPepper, as CPS_SESSION_ID_PEPPER for rekey), as every store that uses the table`,
    };
  }
  if (rekeying.pepperId !== ids.pepperId) {
    return {
      kind: 'refused',
      problem: `table ${names.qualified} is being re-keyed to hmac-sha256 ids with another pepper (pepper id ${rekeying.pepperId}; this store's sessionIdPepper has id ${ids.pepperId}): it would miss every session already moved. Give every store the pepper the re-keying uses`,
    };
  }
  return { kind: 'candidates', from: rekeying.from };
}

/** What the options say about ids, for a message. */
const ID_FORM_OPTIONS: Readonly<Record<SessionIdForm, string>> = {
  plain: 'hashSessionIds: false',
  sha256: 'hashSessionIds: true (the default) without sessionIdPepper',
  'hmac-sha256': 'sessionIdPepper',
};

/**
 * Why a store whose options make ids of `wanted` form cannot use a table (schema 2 or later) of
 * another form: its ids are of one form, and a store hashing otherwise would miss every session
 * (and write sessions the others miss). `idUseFor` asks only for such a table.
 */
function idFormProblem(names: TableNames, state: TableState, wanted: SessionIdForm): string {
  const stored = state.idForm ?? 'an unrecorded form (its sid column has no connect-pg-simple comment)';
  const fix =
    state.idForm === 'hmac-sha256'
      ? 'set sessionIdPepper to the pepper the table was keyed with, as the other stores that use it have it (a table of hmac-sha256 ids cannot go back: its ids are keyed hashes)'
      : state.idForm !== undefined && state.idForm in ID_FORM_OPTIONS
        ? `configure the store as the others that use it (${ID_FORM_OPTIONS[state.idForm as SessionIdForm]})`
        : 'check tableName and schemaName';
  return `table ${names.qualified} stores session ids as ${stored}, but this store's options (${ID_FORM_OPTIONS[wanted]}) make them ${wanted}: it would miss every session. ${fix[0]?.toUpperCase()}${fix.slice(1)}`;
}
