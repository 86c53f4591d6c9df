import { parseArgs } from 'node:util';
import { DEFAULTS } from '../options.js';
import { UsageError } from './errors.js';
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

/** parseArgs' messages, shortened to one line that never repeats an option's value. */
function usageMessage(error: { code?: unknown; message: string }): string {
  const unknown = /^Unknown option '([^']+)'/.exec(error.message);
  if (unknown) return `unknown option ${unknown[1]}`;
  const first = error.message.split(/\.?\n|\. /)[0] ?? error.message;
  return first.charAt(0).toLowerCase() + first.slice(1);
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
      args: [...args],
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
    throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
  if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`, command);

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
    schema: nameOption(values.schema, 'schema', command),
    table: nameOption(values.table, 'table', command) ?? DEFAULTS.tableName,
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
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`, line.command);
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
