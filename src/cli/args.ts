import { parseArgs } from 'node:util';
import { closestName } from '../did-you-mean.js';
import { DEFAULTS } from '../options.js';
import { ONE_DAY_SECONDS, type Partitioning } from '../schema/partitions.js';
import { isSessionIdForm, SESSION_ID_FORMS, type SessionIdForm } from '../session-id.js';
import { UsageError } from './errors.js';
import { count } from './format.js';
import { COMMANDS, CONNECTION_OPTIONS, GENERAL_OPTIONS, type OptionSpec } from './spec.js';

export interface CommandLine {
  /** `undefined` when none was given. */
  readonly command: string | undefined;
  readonly help: boolean;
  readonly version: boolean;
  readonly url: string | undefined;
  readonly schema: string | undefined;
  readonly table: string;
  /** The command's own options. */
  readonly options: Readonly<Record<string, string | boolean | undefined>>;
}

const ALL_OPTIONS: Record<string, OptionSpec> = Object.assign(
  {},
  GENERAL_OPTIONS,
  CONNECTION_OPTIONS,
  ...Object.values(COMMANDS).map((c) => c.options),
);

/** ` (did you mean --batch-size?)` for an unknown option, when one is close. */
function optionHint(given: string): string {
  const name = given.replace(/^-+/, '');
  const match = closestName(name, Object.keys(ALL_OPTIONS));
  return match === undefined ? '' : ` (did you mean --${match}?)`;
}

/** A short option's long name, for messages. */
const longName = (option: string) =>
  Object.entries(ALL_OPTIONS).find(([, spec]) => option === `-${spec.short}`)?.[0] ?? option.replace(/^-+/, '');

/** parseArgs' messages, as one plain line that never repeats an option's value. */
function usageMessage(error: { code?: unknown; message: string }): string {
  const unknown = /^Unknown option '([^']+)'/.exec(error.message);
  if (unknown) return `unknown option ${unknown[1]}${optionHint(unknown[1]!)}`;
  const needsValue = /^Option '(-\w, )?--([^' ]+)[^']*' argument (missing|is ambiguous)/.exec(error.message);
  if (needsValue) {
    const name = needsValue[2]!;
    const value = ALL_OPTIONS[name]?.value ?? 'VALUE';
    return `--${name} needs a value: --${name} ${value} (a value that starts with "-" goes as --${name}=-…)`;
  }
  const takesNone = /^Option '(-\w, )?--([^' ]+)' does not take an argument/.exec(error.message);
  if (takesNone) return `--${longName(`--${takesNone[2]}`)} takes no value`;
  const first = error.message.split(/\.?\n|\. /)[0] ?? error.message;
  return first.charAt(0).toLowerCase() + first.slice(1);
}

/**
 * `--batch-size -5` as `--batch-size=-5`: a negative number is a value (to be refused as such), not an option.
 * An option with an optional value (`--watch`) given without one (last, or before an option) gets its default.
 */
function normalizedArgs(args: readonly string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    const optional = name === undefined ? undefined : ALL_OPTIONS[name]?.optionalValue;
    if (optional !== undefined && (next === undefined || /^-[^\d]/.test(next))) {
      joined.push(`${arg}=${optional}`);
    } else if (name !== undefined && ALL_OPTIONS[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

function nameOption(value: string | boolean | undefined, option: string, command: string | undefined) {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.includes('\0')) {
    throw new UsageError(`--${option} must be a non-empty name`, command);
  }
  return value;
}

/** Reads the command line; throws UsageError on anything it does not understand. */
export function parseCommandLine(args: readonly string[]): CommandLine {
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: normalizedArgs(args),
      options: ALL_OPTIONS,
      allowPositionals: true,
      strict: true,
    }) as typeof parsed;
  } catch (error) {
    const command = args.find((a) => Object.hasOwn(COMMANDS, a));
    throw new UsageError(usageMessage(error as Error), command);
  }
  const { values, positionals } = parsed;
  let [command, ...rest] = positionals;
  let help = values.help === true;
  if (command === 'help') {
    help = true;
    [command, ...rest] = rest;
  }
  if (command !== undefined && !Object.hasOwn(COMMANDS, command)) {
    const match = closestName(command, [...Object.keys(COMMANDS), 'help']);
    throw new UsageError(
      `unknown command ${JSON.stringify(command)}${match === undefined ? '' : ` (did you mean ${match}?)`}`,
    );
  }
  if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`, command);
  const schema = nameOption(values.schema, 'schema', command);
  const table = nameOption(values.table, 'table', command) ?? DEFAULTS.tableName;
  if (schema === undefined && table.includes('.')) {
    // As the store's tableName: almost always a schema by mistake, which would name a table "a.b".
    const [schemaPart, ...tablePart] = table.split('.');
    throw new UsageError(
      `--table must be a table name only, got ${JSON.stringify(table)}: a dot does not separate a schema there. Use --schema ${schemaPart} --table ${tablePart.join('.')}; for a table whose name really contains a dot, give --schema as well (such as --schema public)`,
      command,
    );
  }

  const allowed = new Set([
    ...Object.keys(GENERAL_OPTIONS),
    ...Object.keys(CONNECTION_OPTIONS),
    ...Object.keys(command === undefined ? {} : COMMANDS[command]!.options),
  ]);
  for (const name of Object.keys(values)) {
    if (!allowed.has(name)) {
      throw new UsageError(
        command === undefined ? `--${name} needs a command` : `--${name} is not an option of ${command}`,
        command,
      );
    }
  }
  const options: Record<string, string | boolean | undefined> = {};
  for (const name of Object.keys(command === undefined ? {} : COMMANDS[command]!.options)) options[name] = values[name];
  return {
    command,
    help,
    version: values.version === true,
    url: values.url as string | undefined,
    schema,
    table,
    options,
  };
}

/** A whole number option within bounds, or its default. */
export function integerOption(
  line: CommandLine,
  name: string,
  { fallback, min, max }: { fallback: number; min: number; max: number },
): number {
  const raw = line.options[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== 'string' || !/^\s*\d+\s*$/.test(raw) || value < min || value > max) {
    throw new UsageError(`--${name} must be a whole number from ${count(min)} to ${count(max)}`, line.command);
  }
  return value;
}

/** A number of seconds ≥ 0, or its default. */
export function secondsOption(line: CommandLine, name: string, fallback: number): number {
  const raw = line.options[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(value) || value < 0) {
    throw new UsageError(`--${name} must be a number of seconds, 0 or more`, line.command);
  }
  return value;
}

/** `--session-ids`: how the table stores session ids, as the stores that use it are configured. */
export function sessionIdsOption(line: CommandLine): SessionIdForm {
  const form = line.options['session-ids'] ?? 'sha256';
  if (!isSessionIdForm(form)) {
    throw new UsageError(`--session-ids must be one of ${SESSION_ID_FORMS.join(', ')}`, line.command);
  }
  return form;
}

/** The longest absolute timeout the store accepts (400 days, as a browser keeps a cookie), in seconds. */
const MAX_LIFETIME_SECONDS = 400 * 86_400;

/**
 * `--partition-days N --absolute-timeout SECONDS`: the partitioned layout for a new table, as
 * the store's `partitionBy` and `absoluteTimeout`; undefined without `--partition-days`.
 */
export function partitioningOption(line: CommandLine): Partitioning | undefined {
  const given = line.options['partition-days'] !== undefined;
  if (!given) {
    if (line.options['absolute-timeout'] !== undefined) {
      throw new UsageError(
        '--absolute-timeout goes with --partition-days (it says when a partition may be dropped)',
        line.command,
      );
    }
    return undefined;
  }
  const days = integerOption(line, 'partition-days', { fallback: 1, min: 1, max: 366 });
  if (line.options['absolute-timeout'] === undefined) {
    throw new UsageError(
      '--partition-days needs --absolute-timeout SECONDS, as the stores that use the table have absoluteTimeout: a partition is dropped once every session in it is older than that',
      line.command,
    );
  }
  const lifetime = integerOption(line, 'absolute-timeout', { fallback: 0, min: 1, max: MAX_LIFETIME_SECONDS });
  return { widthSeconds: days * ONE_DAY_SECONDS, lifetimeSeconds: lifetime };
}
