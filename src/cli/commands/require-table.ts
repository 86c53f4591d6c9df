import type { Database } from '../../drivers/database.js';
import { SCHEMA_VERSION } from '../../schema/ddl.js';
import { notSessionTableMessage, readTableState, type TableState } from '../../schema/ensure.js';
import { describeTableStatement, type TableNames } from '../../sql.js';
import { OperationalError } from '../errors.js';

export const missingTable = (names: TableNames) =>
  new OperationalError(
    `table ${names.qualified} does not exist (check --schema and --table, or create it with \`connect-pg-simple migrate\`)`,
  );

/** What the table is (its version, id form, layout), after making sure it exists, is a session table and is not newer than this package. */
export async function requireTable(db: Database, names: TableNames, { allowNewer = false } = {}): Promise<TableState> {
  const state = await readTableState(db, { describe: describeTableStatement }, names);
  if (!state.exists) throw missingTable(names);
  if (state.columnProblem !== undefined) {
    throw new OperationalError(notSessionTableMessage(names, state.columnProblem, 'check --schema and --table'));
  }
  if (!allowNewer && state.version > SCHEMA_VERSION) {
    throw new OperationalError(
      `table ${names.qualified} has schema version ${state.version}, newer than this package understands (${SCHEMA_VERSION}): upgrade connect-pg-simple`,
    );
  }
  return state;
}
