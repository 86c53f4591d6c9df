import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TableNames, tableNames } from '../sql.js';
import { type CommandLine, parseCommandLine } from './args.js';
import { migrateCommand } from './commands/migrate.js';
import { pruneCommand } from './commands/prune.js';
import { reencryptCommand } from './commands/reencrypt.js';
import { rekeyCommand } from './commands/rekey.js';
import { revokeCommand } from './commands/revoke.js';
import { schemaCommand } from './commands/schema.js';
import { sessionsCommand } from './commands/sessions.js';
import { statsCommand } from './commands/stats.js';
import { connect, secretsOf } from './connection.js';
import { describeError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './errors.js';
import { commandHelp, mainHelp } from './help.js';
import type { Io, Runner } from './io.js';
import { resolvedSchema } from './queries.js';
import { COMMANDS } from './spec.js';

const COMMAND_RUNNERS: Readonly<
  Record<string, (line: CommandLine, names: TableNames, env: NodeJS.ProcessEnv) => Runner>
> = {
  schema: schemaCommand,
  migrate: migrateCommand,
  prune: pruneCommand,
  reencrypt: reencryptCommand,
  rekey: rekeyCommand,
  sessions: sessionsCommand,
  revoke: revokeCommand,
  stats: statsCommand,
};

/** The table's names; a name PostgreSQL cannot take as it is (too long) is a usage error. */
function namesOf(line: CommandLine): TableNames {
  try {
    return tableNames(line.table, line.schema, { table: '--table', schema: '--schema' });
  } catch (error) {
    throw new UsageError(describeError(error, []), line.command);
  }
}

function packageVersion(): string {
  // dist/cli/main.js and src/cli/main.ts both sit two levels below package.json.
  return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

function usageFailure(io: Io, error: UsageError): number {
  const help = error.command === undefined ? 'connect-pg-simple --help' : `connect-pg-simple ${error.command} --help`;
  io.err(`connect-pg-simple: ${error.message} (see \`${help}\`)\n`);
  return EXIT_USAGE;
}

/** Runs one command line; resolves with the exit code. Never throws. */
export async function main(args: readonly string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let line: CommandLine;
  let run: Runner;
  try {
    line = parseCommandLine(args);
    if (line.version) {
      io.out(`${packageVersion()}\n`);
      return EXIT_OK;
    }
    if (line.help) {
      io.out(line.command === undefined ? mainHelp(packageVersion()) : commandHelp(line.command));
      return EXIT_OK;
    }
    if (line.command === undefined) {
      throw new UsageError(`say what to do: ${Object.keys(COMMANDS).join(', ')}`);
    }
    run = COMMAND_RUNNERS[line.command]!(line, namesOf(line), env);
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(io, error);
    io.err(`connect-pg-simple: ${describeError(error, [])}\n`);
    return EXIT_FAILURE;
  }

  const url = line.url ?? (env.DATABASE_URL || undefined);
  const secrets = secretsOf(url, env);
  try {
    if (!COMMANDS[line.command]!.connects) return await run(undefined, io);
    const connection = await connect(url, env);
    try {
      if (line.schema === undefined) {
        // Name the table the search_path finds, so that every message says which one it is.
        const schema = await resolvedSchema(connection.db, line.table);
        if (schema !== undefined) run = COMMAND_RUNNERS[line.command]!(line, tableNames(line.table, schema), env);
      }
      return await run(connection.db, io);
    } finally {
      await connection.close().catch(() => {});
    }
  } catch (error) {
    // A value only the database can check, such as --time-zone.
    if (error instanceof UsageError) return usageFailure(io, error);
    io.err(`connect-pg-simple: ${describeError(error, secrets)}\n`);
    return EXIT_FAILURE;
  }
}

/** Runs `process.argv` and sets the exit code: what the `connect-pg-simple` binary does. */
export function runFromProcess(): void {
  // A reader that goes away (`| head`) is not an error of ours.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
  const io: Io = {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    errIsTTY: process.stderr.isTTY === true,
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    () => {
      process.exitCode = EXIT_FAILURE;
    },
  );
}

if (require.main === module) runFromProcess();
