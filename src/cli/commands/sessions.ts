import type { TableNames } from '../../sql.js';
import { listUserSessions, type UserSession } from '../../user-sessions.js';
import type { CommandLine } from '../args.js';
import { KEYS_VARIABLE } from '../env-secrets.js';
import { EXIT_OK } from '../errors.js';
import type { Runner } from '../io.js';
import { textOption, userSessionsContext } from './user-tables.js';

const iso = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

function asText(user: string, names: TableNames, sessions: readonly UserSession[]): string {
  if (sessions.length === 0) return `user ${JSON.stringify(user)} has no live sessions in ${names.qualified}\n`;
  const header = ['handle', 'created', 'last active', 'expires', 'details'];
  const rows = sessions.map((s) => [
    s.handle,
    iso(s.createdAt),
    iso(s.lastActiveAt),
    iso(s.expiresAt),
    s.details === null ? '' : JSON.stringify(s.details),
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** `sessions --user ID`: the user's live sessions, as a table or JSON. */
export function sessionsCommand(line: CommandLine, names: TableNames, env: NodeJS.ProcessEnv): Runner {
  const user = textOption(line, 'user', true)!;
  const json = line.options.json === true;
  return async (maybeDb, io) => {
    let unreadable = 0;
    const context = await userSessionsContext(maybeDb!, names, line, env, () => unreadable++);
    const sessions = await listUserSessions(context, user);
    io.out(json ? `${JSON.stringify(sessions, null, 2)}\n` : asText(user, names, sessions));
    if (unreadable > 0) {
      io.err(
        `the details of ${unreadable} sessions are encrypted, under keys ${KEYS_VARIABLE} does not hold: set it to show them\n`,
      );
    }
    return EXIT_OK;
  };
}
