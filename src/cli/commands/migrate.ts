import { migrate } from '../../schema/migrate.js';
import type { TableNames } from '../../sql.js';
import { type CommandLine, partitioningOption, secondsOption, sessionIdsOption } from '../args.js';
import { EXIT_OK, UsageError } from '../errors.js';
import type { Runner } from '../io.js';
import { connectionTimeZone, isKnownTimeZone } from '../queries.js';

const DEFAULT_LOCK_TIMEOUT_SECONDS = 10;

export function migrateCommand(line: CommandLine, names: TableNames): Runner {
  const dryRun = line.options['dry-run'] === true;
  const lockTimeout = secondsOption(line, 'lock-timeout', DEFAULT_LOCK_TIMEOUT_SECONDS);
  const timeZone = line.options['time-zone'];
  if (timeZone !== undefined && (typeof timeZone !== 'string' || timeZone.trim() === '')) {
    throw new UsageError('--time-zone must name a time zone, such as Europe/Berlin', line.command);
  }
  const idForm = sessionIdsOption(line);
  const partitioning = partitioningOption(line);
  return async (maybeDb, io) => {
    const db = maybeDb!;
    if (typeof timeZone === 'string' && !(await isKnownTimeZone(db, timeZone))) {
      throw new UsageError(
        `--time-zone: PostgreSQL knows no time zone ${JSON.stringify(timeZone)} (see pg_timezone_names: such as Europe/Berlin, or UTC)`,
        line.command,
      );
    }
    const result = await migrate(db, names, {
      dryRun,
      legacyTimeZone: timeZone as string | undefined,
      lockTimeoutSeconds: lockTimeout === 0 ? undefined : lockTimeout,
      idForm,
      partitioning,
    });
    const table = names.qualified;
    // Only a 10.x table (version 0) holds times without a zone, read in the TimeZone its writers used.
    const zoneNote =
      result.from === 0 && result.sql !== ''
        ? [
            typeof timeZone === 'string'
              ? `10.x expiry times read in TimeZone ${timeZone} (--time-zone)`
              : `10.x expiry times read in TimeZone ${await connectionTimeZone(db)}, this connection's (if the 10.x app's connections used another, give --time-zone)`,
          ]
        : [];
    const from = result.from === undefined ? 'no table' : `schema version ${result.from}`;
    if (result.sql === '') {
      io.out(`${dryRun ? '-- ' : ''}${table} is at schema version ${result.to}: nothing to do\n`);
    } else if (dryRun) {
      const steps = [...result.steps, ...zoneNote].map((s) => `--   ${s}\n`).join('');
      io.out(
        `-- ${table}: ${from} -> schema version ${result.to} (dry run: nothing was changed)\n${steps}${result.sql};\n`,
      );
    } else if (result.from === undefined) {
      io.out(`created ${table} at schema version ${result.to}\n`);
    } else {
      const steps = [...result.steps, ...zoneNote].map((s) => `  ${s}\n`).join('');
      io.out(`migrated ${table} from ${from} to ${result.to}\n${steps}`);
    }
    return EXIT_OK;
  };
}
