import type { TableNames } from '../../sql.js';
import { destroyHandle, destroyUserSessions } from '../../user-sessions.js';
import type { CommandLine } from '../args.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { countOf } from '../format.js';
import type { Runner } from '../io.js';
import { textOption, userSessionsContext } from './user-tables.js';

/** `revoke --user ID [--except HANDLE]` or `revoke --handle HANDLE [--user ID]`. */
export function revokeCommand(line: CommandLine, names: TableNames, env: NodeJS.ProcessEnv): Runner {
  if (line.options.user === undefined && line.options.handle === undefined) {
    throw new UsageError(
      'revoke needs --user ID (every session of that user, or all but one with --except HANDLE) or --handle HANDLE (one session; `connect-pg-simple sessions --user ID` lists the handles)',
      line.command,
    );
  }
  const handle = textOption(line, 'handle', false);
  const user = textOption(line, 'user', handle === undefined);
  const except = textOption(line, 'except', false);
  if (handle !== undefined && except !== undefined) {
    throw new UsageError('give --handle (one session) or --except (all but one), not both', line.command);
  }
  const json = line.options.json === true;
  return async (maybeDb, io) => {
    const context = await userSessionsContext(maybeDb!, names, line, env, () => {});
    const revoked =
      handle === undefined
        ? await destroyUserSessions(context, user!, except, except)
        : Number(await destroyHandle(context, handle, user));
    const whose = user === undefined ? '' : ` of user ${JSON.stringify(user)}`;
    const which = handle === undefined ? (except === undefined ? '' : ' (all but one)') : ' with that handle';
    if (json) io.out(`${JSON.stringify({ table: names.qualified, revoked })}\n`);
    else io.out(`revoked ${countOf(revoked, 'session')}${whose}${which} in ${names.qualified}\n`);
    return EXIT_OK;
  };
}
