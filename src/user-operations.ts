import { SchemaError, typeError } from './errors.js';
import type { ReadPath } from './read-path.js';
import { USER_COLUMNS_VERSION } from './schema/ddl.js';
import { checkSid } from './session-arguments.js';
import type { TableNames } from './sql.js';
import type { TableIds } from './table-ids.js';
import type { TableWatch } from './table-watch.js';
import type { Deadline } from './time-limit.js';
import {
  destroyHandle,
  destroyUserSessions,
  listUserSessions,
  textArgument,
  type UserSession,
  type UserSessionsContext,
  userIdArgument,
} from './user-sessions.js';

export interface UserOperationsSettings {
  /** The table as the last check found it, read once by each operation. */
  readonly watch: TableWatch;
  /** Every statement goes through it, and each revocation keeps its caches honest. */
  readonly reads: ReadPath;
  readonly names: TableNames;
  readonly log: (...args: unknown[]) => void;
}

/**
 * The core's operations that find sessions by something other than a cookie's id: a user's
 * sessions listed and revoked, one session revoked by its handle or by the id its row stores.
 * Each runs inside the core's operation (its time limit, once the table is checked): see
 * `SessionCore` for what each promises.
 */
export class UserOperations {
  readonly #watch: TableWatch;
  readonly #reads: ReadPath;
  readonly #names: TableNames;
  readonly #log: (...args: unknown[]) => void;

  constructor({ watch, reads, names, log }: UserOperationsSettings) {
    this.#watch = watch;
    this.#reads = reads;
    this.#names = names;
    this.#log = log;
  }

  sessionHandle(sid: string): string {
    checkSid(sid);
    return this.#watch.table.handles.of(sid);
  }

  async userSessions(userId: string | number, deadline: Deadline | undefined): Promise<UserSession[]> {
    const user = userIdArgument(userId, 'userSessions()');
    return listUserSessions(await this.#userContext(deadline), user);
  }

  async destroyUserSessions(
    userId: string | number,
    except: string | undefined,
    deadline: Deadline | undefined,
  ): Promise<number> {
    const user = userIdArgument(userId, 'destroyUserSessions()');
    const kept =
      except === undefined
        ? undefined
        : textArgument(except, 'destroyUserSessions()', 'as "except" a session id or a handle');
    const context = await this.#userContext(deadline);
    return this.#reads.revoking(() => destroyUserSessions(context, user, kept && context.ids.parameter(kept), kept));
  }

  async destroySession(
    handle: string,
    options: { readonly userId?: unknown },
    deadline: Deadline | undefined,
  ): Promise<boolean> {
    const named = textArgument(handle, 'destroySession()', 'a handle (as userSessions() lists it)');
    // `{ userId: req.user?.id }` without a signed-in user must not revoke anybody's session.
    if ('userId' in options && (options.userId === undefined || options.userId === null)) {
      throw typeError(
        'ERR_INVALID_ARG',
        'connect-pg-simple: destroySession() was given userId undefined: pass the user whose session it must be, or leave the option out to revoke any session',
      );
    }
    const user = options.userId === undefined ? undefined : userIdArgument(options.userId, 'destroySession()');
    const context = await this.#userContext(deadline);
    return this.#reads.revoking(() => destroyHandle(context, named, user));
  }

  async destroyStoredId(storedId: string, deadline: Deadline | undefined): Promise<void> {
    checkSid(storedId);
    const { statements, ids } = this.#watch.table;
    await this.#reads.revoking(() => this.#reads.query(statements.destroy, [ids.storedParameter(storedId)], deadline));
  }

  /**
   * The per-user queries, once the table has schema 3. A store that saw an older table looks
   * again first: it may have been migrated while the store ran.
   */
  async #userContext(deadline: Deadline | undefined): Promise<UserSessionsContext & { readonly ids: TableIds }> {
    if (this.#watch.table.userStatements === undefined) await this.#watch.check();
    const table = this.#watch.table;
    const statements = table.userStatements;
    if (statements === undefined && table.userStatementsRefusal !== undefined) {
      throw new SchemaError(table.userStatementsRefusal, '55000');
    }
    if (statements === undefined) {
      throw new SchemaError(
        `connect-pg-simple: sessions per user need schema version ${USER_COLUMNS_VERSION} of the session table, and ${this.#names.qualified} is at version ${table.version}: migrate it with \`npx connect-pg-simple migrate\``,
        '0A000',
      );
    }
    return {
      statements,
      handles: table.handles,
      ids: table.ids,
      query: (statement, values) => this.#reads.query(statement, values, deadline),
      log: (...args) => this.#log(...args),
    };
  }
}
