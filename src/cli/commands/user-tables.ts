import type { Database } from '../../drivers/database.js';
import { SessionCipher } from '../../encryption.js';
import { isSessionIdForm, parseRekeyingForm } from '../../session-id.js';
import type { TableNames } from '../../sql.js';
import { currentUserStatements } from '../../statements/current.js';
import { SessionHandles, type UserSessionsContext } from '../../user-sessions.js';
import type { CommandLine } from '../args.js';
import { KEYS_VARIABLE, keysFrom } from '../env-secrets.js';
import { OperationalError, UsageError } from '../errors.js';
import { requireTable } from './require-table.js';

/** A required text option's value: a usage error when it is missing or empty. */
export function textOption(line: CommandLine, name: string, required: boolean): string | undefined {
  const value = line.options[name];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    throw new UsageError(`--${name} needs a value: --${name} ${name === 'user' ? 'ID' : 'HANDLE'}`, line.command);
  }
  return value;
}

/**
 * What the per-user queries need, for a table at schema 3: its handles (from the id form its
 * `sid` column records) and, with CPS_ENCRYPTION_KEYS set, the keys its details may be under.
 */
export async function userSessionsContext(
  db: Database,
  names: TableNames,
  line: CommandLine,
  env: NodeJS.ProcessEnv,
  log: (...args: unknown[]) => void,
): Promise<UserSessionsContext> {
  const { version, idForm, partitioning } = await requireTable(db, names);
  if (version < 3) {
    throw new OperationalError(
      `table ${names.qualified} is at schema version ${version}: sessions per user need version 3 (run \`connect-pg-simple migrate\`)`,
    );
  }
  const rekeying = parseRekeyingForm(idForm);
  if (rekeying?.from === 'plain') {
    throw new OperationalError(
      `table ${names.qualified} is being re-keyed from plain ids: a session's handle is known once its row has moved. Run \`connect-pg-simple rekey\` to the end first`,
    );
  }
  const cipher = env[KEYS_VARIABLE]?.trim() ? new SessionCipher(keysFrom(env, line.command!)) : undefined;
  // Mid re-keying from sha256 ids, every row's id is a hash: its handle.
  const form = idForm !== undefined && isSessionIdForm(idForm) ? idForm : 'sha256';
  return {
    // A partitioned table's sessions end at its lifetime, as its stores enforce (the CLI knows no store's own).
    statements: currentUserStatements(names, {
      storedIdIsHandle: form !== 'plain',
      absoluteTimeoutSeconds: partitioning?.lifetimeSeconds,
    }),
    // Handles come from the table here; no session id is ever turned into one.
    handles: new SessionHandles((id) => id, cipher),
    query: (statement, values) => db.query(statement, values),
    log,
  };
}
