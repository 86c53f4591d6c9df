import type { Database } from '../drivers/database.js';
import type { StoreStatements, TableNames } from '../sql.js';
import type { Deadline } from '../time-limit.js';
import { createTableIfMissingStatement, parseVersionComment, SCHEMA_VERSION } from './ddl.js';

export class SchemaError extends Error {
  override readonly name = 'SchemaError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export interface TableState {
  readonly exists: boolean;
  /** 0 for a table without a version mark, such as one made by 10.x's table.sql. */
  readonly version: number;
}

export async function readTableState(
  db: Database,
  statements: StoreStatements,
  names: TableNames,
  deadline?: Deadline,
): Promise<TableState> {
  if (deadline?.expired !== undefined) throw deadline.expired;
  const [row] = await db.query(statements.describe, [names.qualified], deadline);
  return { exists: row?.exists === true, version: parseVersionComment(row?.comment as string | null | undefined) };
}

/**
 * Makes sure the table can be used: creates it when asked to, and refuses one made by a newer
 * version of this package. Resolves once; a failure is not remembered, so the next call retries.
 */
export async function ensureTable(
  db: Database,
  statements: StoreStatements,
  names: TableNames,
  createIfMissing: boolean,
  deadline?: Deadline,
): Promise<TableState> {
  let state = await readTableState(db, statements, names, deadline);
  if (!state.exists && createIfMissing) {
    try {
      if (deadline?.expired !== undefined) throw deadline.expired;
      await db.query({ name: '', text: createTableIfMissingStatement(names) }, [], deadline);
    } catch (error) {
      // Another process may have won a race the lock could not settle; its table will do.
      if (deadline?.expired !== undefined || !(await readTableState(db, statements, names, deadline)).exists)
        throw error;
    }
    state = await readTableState(db, statements, names, deadline);
  }
  if (!state.exists) {
    throw new SchemaError(
      `connect-pg-simple: table ${names.qualified} does not exist: create it with table.sql (or \`npx connect-pg-simple migrate\`), or set createTableIfMissing: true`,
      '42P01',
    );
  }
  if (state.version > SCHEMA_VERSION) {
    throw new SchemaError(
      `connect-pg-simple: table ${names.qualified} has schema version ${state.version}, newer than this package understands (${SCHEMA_VERSION}): upgrade connect-pg-simple`,
      '0A000',
    );
  }
  return state;
}
